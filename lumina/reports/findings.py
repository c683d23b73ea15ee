"""The signed findings of a report in words: per channel, the rule that names songs and the
songs it named with their shares. The PDF draws them and ``lumina verify`` prints them from
the *signed* JSON, so a reader can compare the page with what was signed.

Kept apart from :mod:`lumina.reports.pdf` so that verifying a JSON report never imports
reportlab.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def percent(x: float) -> str:
    """A probability or share as the reports print it."""
    # Φ(z) rounds to 100.0 % long before it is certain; say so instead of overstating.
    return "> 99.9 %" if 0.999 < x < 1.0 else f"{100 * x:.1f} %"


def gate_words(section: dict[str, Any]) -> str:
    """The gate rule of a report's parameters or channel in words; reports made before the
    rule existed carry only the per-song confidence ``gate``."""
    from lumina.attribution.gate import Gate

    rule = section.get("rule") if "rule" in section else section.get("gate")
    if isinstance(rule, str):
        return Gate(rule, float(section.get("level", 0.05))).describe()
    return Gate.per_song(float(section["gate"])).describe()


@dataclass(frozen=True)
class NamedSong:
    title: str
    artist: str
    share: float
    confidence: float


@dataclass(frozen=True)
class ChannelFindings:
    channel: str
    gate: str  # the rule in words, e.g. "false-discovery rate ≤ 5 % (Benjamini–Hochberg)"
    named: tuple[NamedSong, ...]  # largest share first; only those the report lists
    n_named: int  # how many songs the gate named (a report lists its top songs only)
    library_songs: int


def signed_findings(predicate: dict[str, Any]) -> list[ChannelFindings]:
    """Per channel of an attribution report's predicate: its gate and the songs it named."""
    out = []
    for name, ch in predicate["channels"].items():
        named = sorted((NamedSong(str(i["title"]), str(i["artist"]), float(i["share"]),
                                  float(i["confidence"]))
                        for i in ch["influences"] if i["qualifies"]),
                       key=lambda s: -s.share)
        out.append(ChannelFindings(channel=name, gate=gate_words(ch), named=tuple(named),
                                   n_named=int(ch.get("n_qualifying", len(named))),
                                   library_songs=int(ch.get("n_library", 0))))
    return out


def answer_sentence(findings: ChannelFindings) -> str:
    """The answer of one channel in one sentence, the first thing every view shows.

    "Composition: Quiet Engines (Organ) by LUMINA Demo — 64.0 % of the composition credit
    (confidence > 99.9 %)", or "Composition: no catalog song stands out from unrelated
    songs (false-discovery rate ≤ 5 % …)".
    """
    label = findings.channel.capitalize()
    if not findings.named:
        return (f"{label}: no catalog song stands out from unrelated songs "
                f"({findings.gate}) — no influence is attributed.")
    top = findings.named[0]
    text = (f"{label}: {top.title} by {top.artist} — {percent(top.share)} of the "
            f"{findings.channel} credit (confidence {percent(top.confidence)})")
    others = findings.n_named - 1
    if others > 0:
        text += f"; {others} more song{'s' if others > 1 else ''} named"
    return text + "."


def answer_lines(result: Any) -> list[str]:
    """:func:`answer_sentence` of every channel of an analysis result (anything with the
    report's ``to_json()``), in channel order."""
    return [answer_sentence(f) for f in signed_findings({"channels": result.to_json()["channels"]})]
