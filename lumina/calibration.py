"""Library calibration: how the gate and copy detection behave on the user's own library.

The channel notes (``channels.json``) and the published study measure lumina-tiny on the demo
catalog. A label that indexes its own catalog with its own checkpoint needs the same two
questions answered on *its* data, which is what :func:`calibrate_library` does:

**The null (false names).** A sample of library songs is held out one at a time *together
with every song related to it* — the same artist, or the same title once version qualifiers
such as "(Live)" or "[Remix]" are stripped — and queried against the rest of the library,
prepared exactly as a library of that size is prepared. A held-out song is then an unrelated
track by every sign the catalog gives, and the rate at which it names any song under each
gate is the library's false-alarm rate. A catalog whose tags miss a relation (a cover with a
new title) counts that relation as a false name: the rate is an upper bound.

**Copy detection.** A sample of songs is read from its source file again, changed (MP3
128 kbit/s, 20 dB white noise, a 10 s excerpt, ±1 semitone, ±5 % tempo — the transforms of
the study's row 5) and attributed against the full library: how often the original is
ranked first, and how often the default gate names it.

The result is stored beside the library as ``calibration.json`` with the library's digest,
so adding or removing a song makes it stale (:func:`read_calibration` then returns it
marked ``current=False``). Reports cite it; ``lumina library info`` and the app show it.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from lumina import __version__
from lumina.attribution import AttributionParams, build_channel_index, channel_scores
from lumina.attribution.gate import GATE_RULES, Gate
from lumina.errors import LuminaError
from lumina.typicality import TYPICALITY_SAMPLE, typicality_reference

__all__ = [
    "CALIBRATION_FILE",
    "CALIBRATION_VERSION",
    "CalibrationPlan",
    "LibraryCalibration",
    "calibrate_library",
    "read_calibration",
    "related_groups",
    "title_stem",
]

CALIBRATION_FILE = "calibration.json"
CALIBRATION_VERSION = 1
# Version qualifiers at the end of a title: "(Live)", "[2019 Remaster]", "- Radio Edit".
_QUALIFIER = re.compile(r"\s*(\([^()]*\)|\[[^\[\]]*\]|\s-\s[^-]*)\s*$")


def title_stem(title: str) -> str:
    """A title without trailing version qualifiers, case-folded: what versions of one work
    share ("Quiet Engines (Organ)" and "Quiet Engines [Live]" → "quiet engines")."""
    stem = title.strip()
    while True:
        shorter = _QUALIFIER.sub("", stem)
        if shorter == stem or not shorter:
            break
        stem = shorter
    return " ".join(stem.casefold().split())


def related_groups(titles: Sequence[str], artists: Sequence[str]) -> list[np.ndarray]:
    """For each song, the rows of every song related to it (itself included): the same
    artist or the same :func:`title_stem` (empty artists and titles relate nothing).

    Returns
    -------
    list of (k_i,) intp arrays, one per song, sorted
    """
    n = len(titles)
    if len(artists) != n:
        raise LuminaError("titles and artists must have the same length")
    by_key: dict[tuple[str, str], list[int]] = {}
    for i, (title, artist) in enumerate(zip(titles, artists, strict=True)):
        for kind, key in (("artist", " ".join(artist.casefold().split())),
                          ("title", title_stem(title))):
            if key:
                by_key.setdefault((kind, key), []).append(i)
    groups = []
    for i, (title, artist) in enumerate(zip(titles, artists, strict=True)):
        rows = {i}
        rows.update(by_key.get(("artist", " ".join(artist.casefold().split())), ()))
        rows.update(by_key.get(("title", title_stem(title)), ()))
        groups.append(np.array(sorted(rows), dtype=np.intp))
    return groups


@dataclass(frozen=True)
class CalibrationPlan:
    """What a calibration measures.

    Attributes
    ----------
    sample : songs held out for the null, and songs copied for copy detection (each at most
        the library's size); the result states the numbers used.
    seed : seed of both samples and of the noise.
    transforms : names of :data:`lumina.validation.transforms.TRANSFORMS`.
    level : the level of every gate measured (q, α, 1 − confidence).
    """

    sample: int = 16
    seed: int = 0
    transforms: tuple[str, ...] = ("mp3_128k", "noise_20db", "excerpt_10s", "pitch_up_1",
                                   "pitch_down_1", "tempo_up_5", "tempo_down_5")
    level: float = 0.05

    def __post_init__(self) -> None:
        from lumina.validation.transforms import TRANSFORMS

        if isinstance(self.sample, bool) or int(self.sample) < 1:
            raise LuminaError(f"calibration sample must be at least 1 song, got {self.sample}")
        unknown = sorted(set(self.transforms) - set(TRANSFORMS))
        if unknown:
            raise LuminaError(f"unknown transform(s): {', '.join(unknown)}; "
                              f"choose from {', '.join(TRANSFORMS)}")


@dataclass(frozen=True)
class LibraryCalibration:
    """One calibration of one library (the JSON stored as ``calibration.json``).

    ``null[channel][rule]`` is the fraction of held-out songs that named any song;
    ``separation[channel]`` the fraction of songs (queried without only themselves) whose
    top match in that channel shares their ``title`` stem / their ``artist``, against
    ``separation_chance`` (a random other song doing so); ``copies[transform][channel]``
    holds ``first`` (the original ranked first) and ``named`` (the original named by the
    default gate) fractions; ``None`` where nothing was measured.
    """

    library_digest: str
    songs: int
    null_sample: int
    null_skipped: int
    copy_sample: int
    copy_missing: int
    level: float
    default_gate: str
    null: dict[str, dict[str, float | None]]
    separation: dict[str, dict[str, float | None]]
    separation_chance: dict[str, float | None]
    copies: dict[str, dict[str, dict[str, float | None]]]
    seed: int
    seconds: float
    created: str
    #: The unusual-input reference (:mod:`lumina.typicality`); empty in calibrations made
    #: before it existed, which then cannot flag unusual input.
    typicality: dict[str, dict[str, float | int]] = field(default_factory=dict)
    software_version: str = __version__
    version: int = CALIBRATION_VERSION
    current: bool = field(default=True, compare=False)

    def to_json(self) -> dict:
        out = asdict(self)
        out.pop("current")
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, object], *, current: bool = True
                  ) -> LibraryCalibration:
        if data.get("version") != CALIBRATION_VERSION:
            raise LuminaError(f"calibration version {data.get('version')!r} is not "
                              f"{CALIBRATION_VERSION}; calibrate the library again")
        names = {f.name for f in fields(cls) if f.name != "current"}
        required = {f.name for f in fields(cls) if f.name != "current"
                    and f.default is MISSING and f.default_factory is MISSING}
        missing = sorted(required - set(data))
        if missing:
            raise LuminaError(f"calibration lacks {', '.join(missing)}")
        return cls(**{k: data[k] for k in names if k in data},  # type: ignore[arg-type]
                   current=current)

    def summary(self, channel: str | None = None) -> str:
        """One sentence for reports and ``library info``: the default gate's false-alarm
        rate and how often MP3 copies and excerpts are found first, per channel."""
        channels = [channel] if channel else list(self.null)
        parts = []
        for ch in channels:
            rate = self.null.get(ch, {}).get(self.default_gate)
            bits = [f"{ch}: held-out songs named a song {_pct(rate)}"]
            for name, label in (("mp3_128k", "MP3 copies"), ("excerpt_10s", "10 s excerpts")):
                first = self.copies.get(name, {}).get(ch, {}).get("first")
                if first is not None:
                    bits.append(f"{label} ranked first {_pct(first)}")
            # What each rights channel should follow: the work (title) or the act (artist).
            kind = {"composition": "title", "production": "artist"}.get(ch)
            top = self.separation.get(ch, {}).get(kind) if kind else None
            base = self.separation_chance.get(kind) if kind else None
            if top is not None and base:
                bits.append(f"top match of the same {kind} {_pct(top)} (chance {_pct(base)})")
            parts.append(", ".join(bits))
        stale = "" if self.current else " (stale: songs changed since; calibrate again)"
        return (f"On this library ({self.null_sample} held-out and {self.copy_sample} copied "
                f"songs, {self.default_gate} gate): " + "; ".join(parts) + stale)


def _pct(value: float | None) -> str:
    return "not measured" if value is None else f"{100 * value:.0f} %"


def _sample(n: int, k: int, seed: int, stream: int) -> np.ndarray:
    rng = np.random.default_rng([seed, stream])
    return np.sort(rng.choice(n, size=min(n, k), replace=False)).astype(np.intp)


@dataclass(frozen=True)
class HeldOutResult:
    """What :func:`held_out_null` measured (fractions of the songs used; None: none used)."""

    null: dict[str, dict[str, float | None]]
    separation: dict[str, dict[str, float | None]]
    chance: dict[str, float | None]
    used: int
    skipped: int


def held_out_null(units: Mapping[str, np.ndarray], titles: Sequence[str],
                  artists: Sequence[str], rows: np.ndarray, params: AttributionParams,
                  level: float, step: Callable[[], None], cancelled: Callable[[], bool]
                  ) -> HeldOutResult:
    """Per sampled song, two queries against the rest of the library, prepared as a library
    of that size.

    - Without the song and its relatives (:func:`related_groups`): does it name any song,
      per channel and gate rule (the null; songs with fewer than 2 unrelated songs left
      are skipped).
    - Without the song only: does each channel's top match share its title stem or its
      artist (the channel separation the tags can show), against the chance that a random
      other song does.

    units : channel → (N, D) unit fingerprints; titles, artists : (N,) tags;
    rows : (S,) sampled rows.
    """
    n = len(titles)
    groups = related_groups(titles, artists)
    stems = [title_stem(t) for t in titles]
    names = [" ".join(a.casefold().split()) for a in artists]
    named = {ch: dict.fromkeys(GATE_RULES, 0) for ch in units}
    shares = {ch: {"title": 0, "artist": 0} for ch in units}
    chance = {"title": 0.0, "artist": 0.0}
    used = skipped = compared = 0
    gates = {rule: Gate(rule, level) for rule in GATE_RULES}

    def prepared(unit: np.ndarray, keep: np.ndarray):
        return build_channel_index(unit[keep], params.lam, params.cohort_size,
                                   params.cohort_seed, top_k=params.snorm_top_k)

    for j in (int(r) for r in rows):
        if cancelled():
            raise _Cancelled()
        others = np.setdiff1d(np.arange(n, dtype=np.intp), [j], assume_unique=True)
        if others.size >= 2:
            compared += 1
            same = {"title": np.array([bool(stems[j]) and stems[k] == stems[j] for k in others]),
                    "artist": np.array([bool(names[j]) and names[k] == names[j]
                                        for k in others])}
            for kind, mask in same.items():
                chance[kind] += float(mask.mean())
            for ch, unit in units.items():
                _, z = channel_scores(unit[j], prepared(unit, others), null=params.null)
                top = int(np.argmax(z))
                for kind, mask in same.items():
                    shares[ch][kind] += int(mask[top])
        keep = np.setdiff1d(np.arange(n, dtype=np.intp), groups[j], assume_unique=True)
        if keep.size < 2:
            skipped += 1
            step()
            continue
        used += 1
        for ch, unit in units.items():
            _, z = channel_scores(unit[j], prepared(unit, keep), null=params.null)
            for rule, gate in gates.items():
                named[ch][rule] += int(gate.apply(z).named.any())
        step()

    def rate(count: float, of: int) -> float | None:
        return count / of if of else None

    return HeldOutResult(
        null={ch: {rule: rate(c, used) for rule, c in per.items()} for ch, per in named.items()},
        separation={ch: {k: rate(c, compared) for k, c in per.items()}
                    for ch, per in shares.items()},
        chance={k: rate(c, compared) for k, c in chance.items()},
        used=used, skipped=skipped)


class _Cancelled(Exception):
    pass


def calibrate_library(workspace: object, plan: CalibrationPlan | None = None, *,
                      params: AttributionParams | None = None,
                      progress: Callable[[int, int], None] | None = None,
                      cancel: threading.Event | Callable[[], bool] | None = None,
                      write: bool = True) -> LibraryCalibration:
    """Measure the null and copy detection on ``workspace``'s library with its model.

    Parameters
    ----------
    workspace : lumina.workspace.Workspace
        The library and a fingerprinter it accepts (copies are fingerprinted again).
    plan : what to measure (default :class:`CalibrationPlan`).
    params : how queries are attributed (default: the defaults) — the gate measured as the
        default is ``params.gate``.
    progress : callable(done, total), after each held-out song and each copy.
    cancel : a set Event (or a callable returning True) stops the run; nothing is written.
    write : store the result as ``calibration.json`` in the library folder.

    Raises
    ------
    lumina.fingerprint.fingerprinter.Cancelled
        When cancelled.
    LuminaError
        An empty library.
    """
    from lumina.audio import load_audio
    from lumina.errors import AudioError
    from lumina.fingerprint.fingerprinter import Cancelled, is_cancelled
    from lumina.library.catalog import utc_now
    from lumina.validation.config import ValidationConfig
    from lumina.validation.transforms import apply_transform

    plan = plan if plan is not None else CalibrationPlan()
    params = params if params is not None else AttributionParams()
    lib = workspace.library  # type: ignore[attr-defined]
    fingerprinter = workspace.fingerprinter  # type: ignore[attr-defined]
    start = time.monotonic()
    prepared = lib.prepare(params)
    ids = [int(i) for i in np.asarray(prepared.song_ids)]
    n = len(ids)
    songs = lib.songs_by_id(ids)
    ordered = [songs[i] for i in ids]
    units = {ch: np.asarray(ix.unit, dtype=np.float64) for ch, ix in prepared.indexes.items()}
    null_rows = _sample(n, plan.sample, plan.seed, 0)
    copy_rows = _sample(n, plan.sample, plan.seed, 1)
    typical_rows = _sample(n, TYPICALITY_SAMPLE, plan.seed, 2)
    total = null_rows.size + copy_rows.size * len(plan.transforms) + 1
    done = 0

    def step() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    def cancelled() -> bool:
        return is_cancelled(cancel)

    titles, artists = [s.title for s in ordered], [s.artist for s in ordered]
    try:
        held = held_out_null(units, titles, artists, null_rows, params, plan.level, step,
                             cancelled)
        typical = typicality_reference(units, related_groups(titles, artists), typical_rows,
                                       cancelled)
    except (_Cancelled, InterruptedError):
        raise Cancelled("cancelled") from None
    step()
    # The study's transform settings, with this plan's seed for the noise.
    config = ValidationConfig(noise_seed=plan.seed)
    rate = fingerprinter.model.sample_rate
    first = {t: {ch: 0 for ch in units} for t in plan.transforms}
    named = {t: {ch: 0 for ch in units} for t in plan.transforms}
    counted = dict.fromkeys(plan.transforms, 0)
    missing = 0
    default_gate = params.gating
    for j in copy_rows:
        song = ordered[int(j)]
        try:
            audio = load_audio(song.source_path, rate).samples
        except AudioError:
            missing += 1
            for _ in plan.transforms:
                step()
            continue
        # Row 5's excerpt is centred in the song; the plan's copies use the song's length.
        seconds = audio.size / rate
        song_config = ValidationConfig(noise_seed=plan.seed, seconds=seconds,
                                       excerpt_seconds=config.excerpt_seconds)
        for name in plan.transforms:
            if cancelled():
                raise Cancelled("cancelled")
            changed = apply_transform(name, audio, rate, song_config, int(j))
            fp = fingerprinter.fingerprint_audio(changed, cancel=cancel)
            counted[name] += 1
            for ch, index in prepared.indexes.items():
                _, z = channel_scores(fp.channels[ch], index, null=params.null)
                first[name][ch] += int(int(np.argmax(z)) == int(j))
                named[name][ch] += int(default_gate.apply(z).named[int(j)])
            step()
    copies = {t: {ch: {"first": (first[t][ch] / counted[t] if counted[t] else None),
                       "named": (named[t][ch] / counted[t] if counted[t] else None)}
                  for ch in units} for t in plan.transforms}
    result = LibraryCalibration(
        library_digest=prepared.digest, songs=n, null_sample=held.used,
        null_skipped=held.skipped, copy_sample=int(copy_rows.size) - missing,
        copy_missing=missing, level=float(plan.level), default_gate=params.gate,
        null=held.null, separation=held.separation, separation_chance=held.chance,
        copies=copies,
        seed=int(plan.seed), seconds=round(time.monotonic() - start, 1), created=utc_now(),
        typicality=typical)
    if write:
        write_calibration(Path(lib.path), result)
    return result


def write_calibration(folder: Path, calibration: LibraryCalibration) -> Path:
    """Store ``calibration`` as ``folder/calibration.json`` (atomically)."""
    from lumina.library.storage import atomic_write_text

    path = Path(folder) / CALIBRATION_FILE
    try:
        atomic_write_text(path, json.dumps(calibration.to_json(), indent=2) + "\n")
    except OSError as exc:
        raise LuminaError(f"cannot store the calibration in {folder}: {exc.strerror or exc}"
                          ) from None
    return path


def read_calibration(folder: str | Path, digest: str) -> LibraryCalibration | None:
    """The calibration stored in library ``folder``, marked ``current`` when it was made
    on the library with ``digest`` (its live songs now); None when there is none or it is
    unreadable (an unreadable file is never an error for the reader of a report)."""
    path = Path(folder) / CALIBRATION_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return LibraryCalibration.from_json(data, current=data.get("library_digest") == digest)
    except (OSError, ValueError, TypeError, LuminaError):
        return None
