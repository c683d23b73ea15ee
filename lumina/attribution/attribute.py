"""Attributing a query: ranked influences with shares per channel, and the per-chunk
timeline (DESIGN §1 steps 5-8)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from lumina.attribution.channel_index import (
    ChannelIndex,
    prepared_query,
    readonly,
    scores_and_z,
)
from lumina.attribution.gate import Gate
from lumina.attribution.null import confidence_from_z
from lumina.attribution.params import (
    DEFAULT_NULL,
    GATE,
    AttributionParams,
    check_null,
    check_top,
)
from lumina.attribution.vectors import check_vector, matvec, unit_rows
from lumina.errors import LuminaError


def influence_shares(weights: np.ndarray, qualifies: np.ndarray) -> np.ndarray:
    """Influence shares of one channel (DESIGN §1 step 8).

    ``share_i = max(α_i, 0) / Σ_j max(α_j, 0)`` over qualifying songs; 0 elsewhere.

    Parameters
    ----------
    weights : (N,) array_like
        Kernel-regression weights α.
    qualifies : (N,) bool array_like

    Returns
    -------
    (N,) float64 ndarray
        Sums to 1 when any qualifying α is positive, else all zeros (never NaN).
    """
    w = np.asarray(weights, dtype=np.float64)
    mask = np.asarray(qualifies, dtype=bool)
    if w.shape != mask.shape or w.ndim != 1:
        raise LuminaError(f"weights {w.shape} and qualifies {mask.shape} must be matching vectors")
    positive = np.where(mask & (w > 0), w, 0.0)
    total = positive.sum()
    if not total > 0:
        return np.zeros_like(positive)
    return positive / total


def _ranked(z: np.ndarray, keep: int) -> np.ndarray:
    """Indices of the ``keep`` highest z, descending; ties by ascending index."""
    n = z.shape[0]
    if keep >= n:
        return np.argsort(-z, kind="stable")
    if keep <= 0:
        return np.empty(0, dtype=np.intp)
    kth = np.partition(z, n - keep)[n - keep]
    candidates = np.nonzero(z >= kth)[0]  # every tie of the k-th value, so ties stay stable
    order = candidates[np.argsort(-z[candidates], kind="stable")]
    return order[:keep]



@dataclass(frozen=True)
class Influence:
    """One library song's influence on the query in one channel.

    Attributes
    ----------
    index : int
        Row of the song in the library channel.
    cosine : float
        The score the null used: raw cosine (analytic) or centred cosine (empirical).
    raw_cosine : float
        The plain cosine of the two fingerprints, whatever the null.
    z : float
    confidence : float
        ``Φ(z)``.
    weight : float
        Kernel-regression α (in the null's representation).
    share : float
        Influence share in [0, 1]; 0 unless the song qualifies.
    qualifies : bool
        ``z ≥ Φ⁻¹(gate)``.
    """

    index: int
    cosine: float
    raw_cosine: float
    z: float
    confidence: float
    weight: float
    share: float
    qualifies: bool


@dataclass(frozen=True)
class ChannelAttribution:
    """The attribution of one query in one channel.

    ``influences`` are ranked by z, descending; they are truncated to the requested ``top``
    but always contain every qualifying song.
    """

    channel: str
    null: str
    d: int
    lam: float
    gate: float
    z_gate: float
    n_library: int
    n_qualifying: int
    influences: tuple[Influence, ...]
    cohort_size: int
    top_k: int | None
    #: The gate rule that named the qualifying songs and its level (see lumina.attribution.gate).
    rule: str = "per-song"
    level: float = 0.05

    @property
    def qualifying(self) -> tuple[Influence, ...]:
        return tuple(i for i in self.influences if i.qualifies)

    @property
    def shares(self) -> dict[int, float]:
        """Library index → share, for songs with a positive share (empty when none)."""
        return {i.index: i.share for i in self.influences if i.share > 0}


@dataclass(frozen=True)
class TimelineEntry:
    """The best-matching library song of one chunk of the query."""

    chunk: int
    index: int
    confidence: float
    z: float
    qualifies: bool


@dataclass(frozen=True, eq=False)
class ChunkScores:
    """Per-chunk z of a chosen set of library rows in one channel.

    Only the rows the attribution reports are kept, so memory is O(C·R) however large the
    library is; a row not kept has no per-chunk score (``KeyError``).

    Attributes
    ----------
    rows : (R,) intp ndarray
        Library rows, ascending and distinct. Read-only.
    z : (C, R) float64 ndarray
        ``z[c, j]`` is the z of library row ``rows[j]`` against chunk ``c`` of the query,
        under the same null as the attribution. Read-only.
    """

    rows: np.ndarray
    z: np.ndarray

    @property
    def n_chunks(self) -> int:
        return int(self.z.shape[0])

    def _column(self, row: int) -> int:
        j = int(np.searchsorted(self.rows, row))
        if j >= self.rows.size or int(self.rows[j]) != int(row):
            raise KeyError(row)
        return j

    def __contains__(self, row: object) -> bool:
        if not isinstance(row, int | np.integer):
            return False
        try:
            self._column(int(row))
        except KeyError:
            return False
        return True

    def __getitem__(self, row: int) -> np.ndarray:
        """(C,) z of one library row per chunk (a read-only view)."""
        return self.z[:, self._column(row)]

    def confidence(self, row: int) -> np.ndarray:
        """(C,) ``Φ(z)`` of one library row per chunk."""
        return np.atleast_1d(confidence_from_z(self[row])).astype(np.float64, copy=False)

    def __eq__(self, other: object) -> bool:
        # Arrays compare element-wise; two results are equal when every score is bit-equal.
        if not isinstance(other, ChunkScores):
            return NotImplemented
        return np.array_equal(self.rows, other.rows) and np.array_equal(self.z, other.z)

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True)
class Attribution:
    """Attribution of one query over several channels, with an optional chunk timeline.

    Attributes
    ----------
    channels : dict[str, ChannelAttribution]
        E.g. ``"composition"``, ``"production"``.
    timeline : dict[str, tuple[TimelineEntry, ...]]
        Per channel, one entry per chunk; empty when no chunks were given.
    chunk_z : dict[str, ChunkScores]
        Per channel of the timeline, the per-chunk z of every library row reported in any
        channel's ``influences`` (channels of one library share their rows), computed in
        the same pass as the timeline. Empty when no chunks were given.
    """

    channels: dict[str, ChannelAttribution]
    timeline: dict[str, tuple[TimelineEntry, ...]] = field(default_factory=dict)
    chunk_z: dict[str, ChunkScores] = field(default_factory=dict)


def attribute_channel(
    query: np.ndarray,
    index: ChannelIndex,
    *,
    channel: str,
    null: str = DEFAULT_NULL,
    gate: Gate | float = GATE,
    top: int | None = None,
) -> ChannelAttribution:
    """Attribute one query fingerprint against one library channel.

    Cost: one O(N·D) product for the scores, O(N) for the null and the gate, and O(R·D)
    for the kernel weights and raw cosines of the R songs reported.

    Parameters
    ----------
    query : (D,) array_like
        The query's fingerprint in this channel.
    index : ChannelIndex
    channel : str
        Name recorded in the result.
    null : {"empirical", "analytic"}
    gate : Gate or float
        The rule that names songs (:class:`~lumina.attribution.gate.Gate`); a float is the
        paper's per-song confidence gate (0.95).
    top : int, optional
        Report at most this many songs beyond the qualifying ones (None: all N).

    Returns
    -------
    ChannelAttribution
    """
    check_null(null)
    check_top(top)
    rule = as_gate(gate)
    q = check_vector(query, index.d)
    qhat = prepared_query(q, index, null)
    scores, z = scores_and_z(qhat, index, null)
    decision = rule.apply(z)
    qualifies, z_gate = decision.named, decision.z_threshold
    n_qualifying = int(np.count_nonzero(qualifies))
    keep = index.n if top is None else max(int(top), n_qualifying)
    rows = _ranked(z, keep)
    # Credit and raw cosines only for the reported songs: every qualifying song is among
    # them, so shares are exact, and the per-query cost stays one pass over the library.
    weights = index.regression(null).weights(qhat, rows=rows)
    raw = scores[rows] if null == "analytic" else matvec(index.unit[rows], unit_rows(q))
    kept_qualifies = qualifies[rows]
    shares = influence_shares(weights, kept_qualifies)
    confidence = np.atleast_1d(confidence_from_z(z[rows]))
    influences = tuple(
        Influence(
            index=int(r),
            cosine=float(c),
            raw_cosine=float(rc),
            z=float(zz),
            confidence=float(cf),
            weight=float(w),
            share=float(sh),
            qualifies=bool(ok),
        )
        for r, c, rc, zz, cf, w, sh, ok in zip(
            rows.tolist(),
            scores[rows].tolist(),
            raw.tolist(),
            z[rows].tolist(),
            confidence.tolist(),
            weights.tolist(),
            shares.tolist(),
            kept_qualifies.tolist(),
            strict=True,
        )
    )
    return ChannelAttribution(
        channel=channel,
        null=null,
        d=index.d,
        lam=index.lam,
        gate=decision.confidence,
        z_gate=z_gate,
        n_library=index.n,
        n_qualifying=n_qualifying,
        influences=influences,
        cohort_size=int(index.cohort.size),
        top_k=index.top_k,
        rule=rule.rule,
        level=float(rule.level),
    )


def as_gate(gate: Gate | float) -> Gate:
    """A :class:`Gate`; a float is the paper's per-song confidence gate."""
    return gate if isinstance(gate, Gate) else Gate.per_song(gate)


def timeline(
    chunk_fps: np.ndarray,
    index: ChannelIndex,
    null: str = DEFAULT_NULL,
    *,
    gate: Gate | float = GATE,
) -> list[TimelineEntry]:
    """Per chunk of the query, the library song with the highest z and its confidence.

    Parameters
    ----------
    chunk_fps : (C, D) array_like
        Per-chunk fingerprints of the query in one channel.
    index : ChannelIndex
    null : {"empirical", "analytic"}
    gate : float

    Returns
    -------
    list[TimelineEntry]
        One entry per chunk, in chunk order.
    """
    entries, _ = timeline_with_scores(chunk_fps, index, null, gate=gate)
    return entries


def timeline_with_scores(
    chunk_fps: np.ndarray,
    index: ChannelIndex,
    null: str = DEFAULT_NULL,
    *,
    gate: Gate | float = GATE,
    rows: np.ndarray | None = None,
) -> tuple[list[TimelineEntry], ChunkScores]:
    """The timeline of :func:`timeline` plus the per-chunk z of chosen library rows.

    One pass over the library per chunk, as for the timeline alone: the z of every song is
    computed anyway to find the best one, and only the ``rows`` columns are kept.

    Parameters
    ----------
    chunk_fps : (C, D) array_like
    index : ChannelIndex
    null : {"empirical", "analytic"}
    gate : Gate or float
        Applied to each chunk's z over the whole library: the chunk's best song qualifies
        when the rule names it.
    rows : (R,) int array_like, optional
        Library rows whose per-chunk z to keep (duplicates are dropped); none by default.

    Returns
    -------
    entries : list[TimelineEntry]
        One per chunk, in chunk order.
    scores : ChunkScores
        ``z`` of shape (C, R') with R' the distinct rows, ascending.
    """
    check_null(null)
    rule = as_gate(gate)
    chunks = np.asarray(chunk_fps)
    if chunks.ndim != 2:
        raise LuminaError(f"chunk fingerprints must be a (C, D) matrix, got shape {chunks.shape}")
    keep = np.unique(np.asarray([] if rows is None else rows, dtype=np.intp).ravel())
    if keep.size and (keep[0] < 0 or keep[-1] >= index.n):
        raise LuminaError(f"rows must be library rows in 0…{index.n - 1}")
    kept = np.empty((chunks.shape[0], keep.size), dtype=np.float64)
    entries = []
    for c in range(chunks.shape[0]):
        q = check_vector(chunks[c], index.d, what=f"fingerprint of chunk {c}")
        _, z = scores_and_z(prepared_query(q, index, null), index, null)
        kept[c] = z[keep]
        best = int(np.argmax(z))
        zb = float(z[best])
        named = rule.apply(z).named
        entries.append(
            TimelineEntry(
                chunk=c,
                index=best,
                confidence=float(confidence_from_z(zb)),
                z=zb,
                qualifies=bool(named[best]),
            )
        )
    return entries, ChunkScores(rows=readonly(keep), z=readonly(kept))


def attribute(
    queries: Mapping[str, np.ndarray],
    indexes: Mapping[str, ChannelIndex],
    *,
    chunks: Mapping[str, np.ndarray] | None = None,
    params: AttributionParams | None = None,
) -> Attribution:
    """Attribute a query over several channels.

    Parameters
    ----------
    queries : mapping channel → (D,) array_like
        The query's track fingerprint per channel.
    indexes : mapping channel → ChannelIndex
        Must hold every channel of ``queries``.
    chunks : mapping channel → (C, D) array_like, optional
        Per-chunk fingerprints, for the timeline and the per-chunk z of the reported songs
        (``Attribution.chunk_z``).
    params : AttributionParams, optional
        ``null``, ``gate`` and ``top`` are used here (see :func:`attribute_channel`); the
        indexes were prepared with the rest. Default: the defaults with ``top=None``.

    Returns
    -------
    Attribution
    """
    params = params if params is not None else AttributionParams(top=None)
    null, gate, top = params.null, params.gating, params.top
    channels = {}
    for name, query in queries.items():
        if name not in indexes:
            raise LuminaError(f"the library has no channel {name!r}")
        channels[name] = attribute_channel(
            query, indexes[name], channel=name, null=null, gate=gate, top=top
        )
    # Per-chunk z of every song reported in any channel, so a song ranked in one channel
    # can still be followed through the track in the other: O(C·R) values, never O(C·N).
    reported = np.unique(
        np.fromiter((i.index for ch in channels.values() for i in ch.influences), dtype=np.intp)
    )
    lines = {}
    chunk_z = {}
    for name, fps in (chunks or {}).items():
        if name not in indexes:
            raise LuminaError(f"the library has no channel {name!r}")
        index = indexes[name]
        entries, scores = timeline_with_scores(
            fps, index, null, gate=gate, rows=reported[reported < index.n]
        )
        lines[name] = tuple(entries)
        chunk_z[name] = scores
    return Attribution(channels=channels, timeline=lines, chunk_z=chunk_z)
