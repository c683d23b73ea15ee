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
