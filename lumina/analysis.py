"""The façade the command line and the desktop app share (DESIGN §2).

``analyze(track, library, …)`` runs the whole path — fingerprint the track, check it against
the library's manifest, attribute it per channel, and join the ranked rows and the chunk
timeline with the catalog's titles — and returns one :class:`AnalysisResult`. The GUI adds
nothing to the numbers: it shows this object; ``lumina attribute`` prints it; the report
module will sign its :meth:`AnalysisResult.to_json`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lumina import __version__
from lumina.attribution import (
    DEFAULT_TOP,
    Attribution,
    AttributionParams,
    Gate,
    confidence_from_z,
)
from lumina.attribution.segments import (
    DEFAULT_SEGMENT_COHORT,
    DEFAULT_SEGMENT_PAIRS,
    SegmentMatch,
)
from lumina.calibration import read_calibration
from lumina.library import Library
from lumina.library.song_segments import library_segments
from lumina.library.song_source import relink_song, song_source
from lumina.typicality import best_matches, unusual_input, unusual_warning
from lumina.workspace import Workspace

if TYPE_CHECKING:
    from lumina.fingerprint.fingerprinter import Fingerprint, Fingerprinter

__all__ = [
    "DEFAULT_TOP",
    "SCHEMA",
    "AnalysisResult",
    "AttributionResult",
    "ChannelResult",
    "LibraryRef",
    "RankedInfluence",
    "SongRow",
    "TimelineRow",
    "analyze",
    "analyze_fingerprint",
    "relink_song",
    "song_source",
]

#: Identifies the JSON layout of :meth:`AnalysisResult.to_json`.
SCHEMA = "lumina.analysis/1"

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class RankedInfluence:
    """One library song in one channel's ranking, joined with its catalog row.

    ``cosine`` is the score the null used (centred cosine for the empirical null, raw
    cosine for the analytic one); ``raw_cosine`` is always the plain cosine. ``weight`` is
    the kernel-regression α and ``share`` the influence share (0 unless it qualifies).
    """

    rank: int
    song_id: int
    title: str
    artist: str
    isrc: str
    cosine: float
    raw_cosine: float
    z: float
    confidence: float
    weight: float
    share: float
    qualifies: bool

    def to_json(self) -> dict[str, object]:
        return {
            "rank": self.rank, "song_id": self.song_id, "title": self.title,
            "artist": self.artist, "isrc": self.isrc, "cosine": self.cosine,
            "raw_cosine": self.raw_cosine, "z": self.z, "confidence": self.confidence,
            "weight": self.weight, "share": self.share, "qualifies": self.qualifies,
        }


@dataclass(frozen=True)
class ChannelResult:
    """The ranked influences of one channel (all qualifying songs, then up to ``top``)."""

    channel: str
    null: str
    gate: float
    z_gate: float
    n_library: int
    n_qualifying: int
    influences: tuple[RankedInfluence, ...]
    #: The rule that named the qualifying songs, and its level (lumina.attribution.gate).
    rule: str = "per-song"
    level: float = 0.05
    #: Per listed song id, its strongest (query chunk, song chunk) pairs, by z; empty when
    #: segments were not computed (lumina.attribution.segments).
    segments: dict[int, tuple[SegmentMatch, ...]] = field(default_factory=dict)

    @property
    def qualifying(self) -> tuple[RankedInfluence, ...]:
        return tuple(i for i in self.influences if i.qualifies)

    @property
    def gate_description(self) -> str:
        """The rule in words, e.g. ``false-discovery rate ≤ 5 % (Benjamini–Hochberg)``."""
        return Gate(self.rule, self.level).describe()

    def to_json(self) -> dict[str, object]:
        return {
            "null": self.null, "rule": self.rule, "level": self.level, "gate": self.gate,
            "z_gate": self.z_gate, "n_library": self.n_library,
            "n_qualifying": self.n_qualifying,
            "influences": [i.to_json() for i in self.influences],
            # Only when computed: reports made before segments existed have no such key.
            **({"segments": [{"song_id": sid, "pairs": [p.to_json() for p in pairs]}
                             for sid, pairs in self.segments.items()]}
               if self.segments else {}),
        }


@dataclass(frozen=True)
class SongRow:
    """One library song across channels: what each channel reported about it.

    Built by :meth:`AnalysisResult.songs`; a song appears when at least one channel reports
    it.

    Attributes
    ----------
    song_id : int
    title, artist, isrc : str
    channels : dict[str, RankedInfluence | None]
        Every channel of the result, in the result's order; None where that channel did not
        report the song (it ranked below ``top`` there and does not qualify).
    """

    song_id: int
    title: str
    artist: str
    isrc: str
    channels: dict[str, RankedInfluence | None]

    def share(self, channel: str) -> float:
        """Influence share in ``channel`` (0 when not reported there or not qualifying)."""
        inf = self.channels.get(channel)
        return 0.0 if inf is None else inf.share

    @property
    def best_channel(self) -> str:
        """The channel with the highest confidence; ties (Φ saturates at 1) by higher z,
        then by channel order."""
        reported = [(name, inf) for name, inf in self.channels.items() if inf is not None]
        best = max(reported, key=lambda item: (item[1].confidence, item[1].z))
        return best[0]

    @property
    def best(self) -> RankedInfluence:
        """The influence of :attr:`best_channel`."""
        inf = self.channels[self.best_channel]
        assert inf is not None  # best_channel only picks reported channels
        return inf

    @property
    def confidence(self) -> float:
        """Highest confidence over the channels that report the song."""
        return self.best.confidence

    @property
    def z(self) -> float:
        """z of :attr:`best_channel`."""
        return self.best.z

    @property
    def cosine(self) -> float:
        """Score (the null's cosine) of :attr:`best_channel`."""
        return self.best.cosine

    @property
    def max_share(self) -> float:
        return max(self.share(name) for name in self.channels)

    @property
    def qualifies(self) -> bool:
        """True when the song passes the gate in at least one channel."""
        return any(inf is not None and inf.qualifies for inf in self.channels.values())


@dataclass(frozen=True)
class TimelineRow:
    """The best-matching library song of one chunk of the query."""

    chunk: int
    start: float
    end: float
    song_id: int
    title: str
    artist: str
    z: float
    confidence: float
    qualifies: bool

    def to_json(self) -> dict[str, object]:
        return {
            "chunk": self.chunk, "start": self.start, "end": self.end,
            "song_id": self.song_id, "title": self.title, "artist": self.artist,
            "z": self.z, "confidence": self.confidence, "qualifies": self.qualifies,
        }


@dataclass(frozen=True)
class LibraryRef:
    """Which library (and which state of it) a result was computed against."""

    name: str
    path: str
    library_id: str
    digest: str
    songs: int
    rows_version: int
    #: The library's own calibration (:mod:`lumina.calibration`) when it was made on these
    #: songs: its JSON plus a ``summary`` sentence; None when absent or stale.
    calibration: dict[str, object] | None = None

    def to_json(self) -> dict[str, object]:
        # No local path: a report travels to third parties.
        return {"name": self.name, "library_id": self.library_id, "digest": self.digest,
                "songs": self.songs, "rows_version": self.rows_version,
                **({"calibration": self.calibration} if self.calibration else {})}


@dataclass(frozen=True)
class AnalysisResult:
    """Everything one attribution produced, ready to show, print or sign.

    Attributes
    ----------
    fingerprint : lumina.fingerprint.Fingerprint
        The query's fingerprints (both channels, per chunk).
    attribution : lumina.attribution.Attribution
        The raw result; its influence ``index`` is a row of the prepared library.
    channels : dict[str, ChannelResult]
        Per channel, the ranked influences joined with titles and artists.
    timeline : dict[str, tuple[TimelineRow, ...]]
        Per channel, one row per chunk of the query.
    library : LibraryRef
    parameters : dict
        Fingerprint parameters (model, projection, D, chunking) and attribution
        parameters (null, gate, λ, cohort, top).
    created : str
        UTC time of the analysis.
    """

    fingerprint: Fingerprint
    attribution: Attribution
    channels: dict[str, ChannelResult]
    timeline: dict[str, tuple[TimelineRow, ...]]
    library: LibraryRef
    parameters: dict[str, object]
    created: str
    software_version: str = __version__
    warnings: tuple[str, ...] = field(default_factory=tuple)
    #: ``{channel: note}`` for channels measured not to capture what their name says on
    #: this model (:func:`lumina.models.channel_notes`); shown wherever the channel is.
    channel_notes: dict[str, str] = field(default_factory=dict)
    #: What this model's answers are evidence of, when its maker says it is limited
    #: (:func:`lumina.models.model_scope`); shown first wherever the result is.
    model_scope: str | None = None

    @property
    def null(self) -> str:
        return str(self.parameters["null"])

    @property
    def unusual_input(self) -> str | None:
        """The warning that the track is unlike every song of the library
        (:mod:`lumina.typicality`), when it got one."""
        return unusual_warning(self.warnings)

    @property
    def gate_description(self) -> str:
        """The gate rule in words; every channel of one analysis uses the same rule."""
        return next(iter(self.channels.values())).gate_description

    def songs(self) -> tuple[SongRow, ...]:
        """Every song reported in any channel, merged across channels.

        Returns
        -------
        tuple[SongRow, ...]
            Ordered by highest confidence, then highest share, then z (all descending),
            then song id.
        """
        names = list(self.channels)
        merged: dict[int, dict[str, RankedInfluence | None]] = {}
        labels: dict[int, RankedInfluence] = {}
        for name, ch in self.channels.items():
            for inf in ch.influences:
                merged.setdefault(inf.song_id, dict.fromkeys(names))[name] = inf
                labels.setdefault(inf.song_id, inf)
        rows = [SongRow(song_id=sid, title=labels[sid].title, artist=labels[sid].artist,
                        isrc=labels[sid].isrc, channels=per)
                for sid, per in merged.items()]
        rows.sort(key=lambda r: (-r.confidence, -r.max_share, -r.z, r.song_id))
        return tuple(rows)

    def _row_of(self, song_id: int) -> int:
        """The prepared-library row of a reported song."""
        for name, ch in self.channels.items():
            raw = self.attribution.channels[name].influences
            for ranked, inf in zip(ch.influences, raw, strict=True):
                if ranked.song_id == song_id:
                    return inf.index
        raise KeyError(f"song {song_id} is not reported in any channel")

    def chunk_z(self, song_id: int, channel: str) -> np.ndarray:
        """z of one reported song against each chunk of the query, in one channel.

        Parameters
        ----------
        song_id : int
            A song reported in any channel (see :meth:`songs`).
        channel : str

        Returns
        -------
        (C,) float64 ndarray
            One value per chunk of the timeline; length 0 when the result has no chunks in
            ``channel``.

        Raises
        ------
        KeyError
            Unknown channel, or a song no channel reports.
        """
        if channel not in self.channels:
            raise KeyError(f"no channel {channel!r}")
        row = self._row_of(song_id)
        scores = self.attribution.chunk_z.get(channel)
        if scores is None or scores.n_chunks == 0:
            return np.empty(0, dtype=np.float64)
        return np.array(scores[row], dtype=np.float64)

    def chunk_confidence(self, song_id: int, channel: str) -> np.ndarray:
        """``Φ(z)`` of :meth:`chunk_z`: where in the track the song matters.

        Returns
        -------
        (C,) float64 ndarray
            Confidence per chunk, length 0 when there are no chunks.
        """
        z = self.chunk_z(song_id, channel)
        return np.atleast_1d(confidence_from_z(z)).astype(np.float64, copy=False)

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict (schema :data:`SCHEMA`), unsigned (``"signature": null``)."""
        fp = self.fingerprint
        chunks = [
            {"start": float(a), "end": float(b), "loss": float(lo)}
            for (a, b), lo in zip(fp.chunk_times, fp.loss, strict=True)
        ]
        return {
            "schema": SCHEMA,
            "software_version": self.software_version,
            "created": self.created,
            "track": {
                "source": fp.source,
                "audio_sha256": fp.audio_sha256,
                "duration": float(fp.duration),
                "chunks": chunks,
                "warnings": list(self.warnings),
                **({"span": list(fp.span)}
                   if getattr(fp, "span", None) else {}),
            },
            "model": {"name": fp.model_name,
                      "weights_sha256": fp.model_sha256,
                      **({"channel_notes": dict(self.channel_notes)}
                         if self.channel_notes else {}),
                      **({"scope": self.model_scope} if self.model_scope else {})},
            "parameters": dict(self.parameters),
            "library": self.library.to_json(),
            "channels": {name: ch.to_json() for name, ch in self.channels.items()},
            "timeline": {name: [row.to_json() for row in rows]
                         for name, rows in self.timeline.items()},
            "signature": None,
        }


#: The name DESIGN §2 uses for the same object.
AttributionResult = AnalysisResult


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _open(library: Library | str | os.PathLike[str]) -> tuple[Library, bool]:
    if isinstance(library, Library):
        return library, False
    return Library.open(library), True


def analyze_fingerprint(fingerprint: Fingerprint, library: Library | str | os.PathLike[str], *,
                        params: AttributionParams | None = None,
                        channel_notes: dict[str, str] | None = None,
                        model_scope: str | None = None,
                        segments: int = DEFAULT_SEGMENT_PAIRS,
                        **options: object) -> AnalysisResult:
    """Attribute an already computed fingerprint (e.g. to switch the null without
    fingerprinting the track again). ``channel_notes`` and ``model_scope`` come from
    :func:`lumina.models.channel_notes` and :func:`lumina.models.model_scope` of the model
    that made the fingerprint.

    Parameters
    ----------
    fingerprint : lumina.fingerprint.fingerprinter.Fingerprint
    library : Library or path
    params, segments, options
        See :func:`analyze`.

    Raises
    ------
    LibraryError
        Empty library, or a fingerprint made with another model or projection.
    """
    options_ = AttributionParams.of(params, **options)
    lib, owned = _open(library)
    try:
        fp = fingerprint
        identity = dict(fp.parameters())
        identity["channels"] = list(fp.channels)
        lib.manifest.check_compatible(identity, "the track's fingerprints",
                                      f"library {lib.name}")
        chunks = {c: np.asarray(v) for c, v in fp.chunk_vectors.items()}
        result = lib.attribute(fp.channels, chunks=chunks, options=options_)
        prepared = result.prepared
        attribution = result.attribution
        ids = prepared.song_ids
        wanted: set[int] = set()
        for ch in attribution.channels.values():
            wanted.update(int(ids[i.index]) for i in ch.influences)
        for entries in attribution.timeline.values():
            wanted.update(int(ids[e.index]) for e in entries)
        labels = lib.song_labels(wanted)
        gone = ("", "", "")
        # Where in each listed song the query matches: O(C_query · C_song) per listed song.
        pairs_of = library_segments(
            lib, prepared, chunks, fp.chunk_times,
            {name: [int(ids[i.index]) for i in ch.influences]
             for name, ch in attribution.channels.items() if name in chunks},
            null=options_.null, pairs=segments) if segments > 0 else {}

        channels: dict[str, ChannelResult] = {}
        for name, ch in attribution.channels.items():
            rows = []
            for rank, inf in enumerate(ch.influences, start=1):
                sid = int(ids[inf.index])
                title, artist, isrc = labels.get(sid, gone)
                rows.append(RankedInfluence(
                    rank=rank, song_id=sid,
                    title=title or f"(song {sid} no longer in the library)",
                    artist=artist, isrc=isrc,
                    cosine=inf.cosine, raw_cosine=inf.raw_cosine, z=inf.z,
                    confidence=inf.confidence, weight=inf.weight, share=inf.share,
                    qualifies=inf.qualifies))
            channels[name] = ChannelResult(
                channel=name, null=ch.null, gate=ch.gate, z_gate=ch.z_gate, rule=ch.rule,
                level=ch.level,
                n_library=ch.n_library, n_qualifying=ch.n_qualifying, influences=tuple(rows),
                segments=pairs_of.get(name, {}))
        times = np.asarray(fp.chunk_times, dtype=np.float64)
        timeline: dict[str, tuple[TimelineRow, ...]] = {}
        for name, entries in attribution.timeline.items():
            lines = []
            for e in entries:
                sid = int(ids[e.index])
                title, artist, _ = labels.get(sid, gone)
                lines.append(TimelineRow(
                    chunk=e.chunk, start=float(times[e.chunk, 0]), end=float(times[e.chunk, 1]),
                    song_id=sid, title=title or f"(song {sid})", artist=artist, z=e.z,
                    confidence=e.confidence,
                    qualifies=e.qualifies))
            timeline[name] = tuple(lines)
        parameters = {
            **fp.parameters(),
            "channels": list(fp.channels),
            "null": options_.null,
            "gate": options_.gate,
            "level": float(options_.level),
            "lambda": float(prepared.lam),
            "cohort_size": int(prepared.cohort_size),
            "cohort_seed": int(prepared.seed),
            "top_k": prepared.top_k,
            "top": options_.top,
            **({"segment_pairs": int(segments), "segment_cohort": DEFAULT_SEGMENT_COHORT}
               if segments > 0 else {}),
        }
        # Only a calibration of these very songs is cited or used.
        calibration = read_calibration(lib.path, prepared.digest)
        if calibration is not None and not calibration.current:
            calibration = None
        ref = LibraryRef(name=lib.name, path=str(lib.path), library_id=lib.manifest.library_id,
                         digest=prepared.digest, songs=prepared.n,
                         rows_version=prepared.rows_version,
                         calibration=({**calibration.to_json(), "summary": calibration.summary()}
                                      if calibration is not None else None))
        warnings = list(fp.warnings or ())
        if calibration is not None and calibration.typicality:
            best = best_matches(fp.channels,
                                {ch: ix.unit for ch, ix in prepared.indexes.items()})
            unusual = unusual_input(best, calibration.typicality)
            if unusual:
                warnings.append(unusual)
        return AnalysisResult(
            fingerprint=fp, attribution=attribution, channels=channels, timeline=timeline,
            library=ref, parameters=parameters, created=_now(),
            warnings=tuple(warnings),
            channel_notes=dict(channel_notes or {}),
            model_scope=model_scope,
        )
    finally:
        if owned:
            lib.close()


def analyze(track: str | os.PathLike[str], library: Library | str | os.PathLike[str],
            fingerprinter: Fingerprinter | None = None, *,
            params: AttributionParams | None = None,
            model: str | os.PathLike[str] | None = None,
            device: str | None = None, batch_size: int = 4,
            progress: ProgressCallback | None = None,
            cancel: object | None = None,
            span: tuple[float, float] | None = None,
            segments: int = DEFAULT_SEGMENT_PAIRS,
            **options: object) -> AnalysisResult:
    """Which library songs influenced ``track``, how much, and how sure we are.

    Parameters
    ----------
    track : audio file.
    library : Library or path of a library folder.
    fingerprinter : lumina.fingerprint.fingerprinter.Fingerprinter, optional
        Reused across calls by the app; by default one is built from ``model`` (else the
        model the library was built with) and the library's projection settings.
    params : AttributionParams, optional
        How to attribute (null, gate, songs listed, λ, cohort); recorded in the result.
    model, device, batch_size
        Only used when ``fingerprinter`` is None.
    progress : callable(done, total), optional
        Chunks fingerprinted so far.
    cancel : threading.Event or callable, optional
        Stops fingerprinting (raises :class:`lumina.errors.Cancelled`).
    span : (start, end) seconds, optional
        Attribute only this part of the track (recorded in the result as ``track.span``).
    segments : int
        Strongest (query chunk, song chunk) pairs kept per listed song and channel
        (:mod:`lumina.attribution.segments`); 0 computes none.
    **options
        Fields of :class:`AttributionParams` to change from ``params`` (``top=3``,
        ``null="analytic"`` …); an unknown name is an error.

    Raises
    ------
    LibraryError
        Library missing, empty, or built with another model or projection — checked before
        the track is fingerprinted.
    AudioError
        The track cannot be used.
    """
    from lumina.models import channel_notes, model_scope

    options_ = AttributionParams.of(params, **options)
    with Workspace.open(library, fingerprinter=fingerprinter, model=model, device=device,
                        batch_size=batch_size) as ws:
        fp = ws.fingerprinter.fingerprint_file(Path(track), progress=progress, cancel=cancel,
                                               span=span)
        notes = channel_notes(ws.fingerprinter.model, ws.fingerprinter.composition_rendering,
                              ws.fingerprinter.output_function)
        return analyze_fingerprint(fp, ws.library, params=options_, channel_notes=notes,
                                   model_scope=model_scope(ws.fingerprinter.model),
                                   segments=segments)
