"""Segment matches: which chunk of the query draws on which chunk of one listed song.

For one query and one library song in one channel, every pair (query chunk ``i``, song
chunk ``j``) gets a cosine and a calibrated z, and the strongest pairs are reported —
"0:20–0:30 of the track ↔ 1:10–1:20 of the song, z 4.1". Cost O(C_q · C_s · D) per song
plus O((C_q + C_s) · K · D) for the null, with K the cohort's chunks: never a pass over the
library's chunks. numpy only; arrays in, arrays (or frozen rows) out.

How z is calibrated (``null="empirical"``, the default), and why not with the song-level
statistics of :mod:`lumina.attribution.null`: those are of *track* fingerprints (the mean of
a song's chunks), centred on the library mean of unit track rows. A single chunk is noisier,
so its unit rows share a shorter common direction and spread more; reusing the track-level
mean and per-song σ would centre chunks wrongly and overstate z. So the same *method* runs
one level down, on a bounded cohort of chunks:

1. **Cohort**: the chunks of a fixed, seeded sample of library songs
   (:func:`lumina.attribution.null.cohort_indices`, chosen by the caller), at most a few
   dozen songs, so its cost does not grow with the library.
2. **Centring**: every chunk is unit-normalised, the mean of the cohort's unit chunks is
   subtracted and the result unit-normalised again (what the song-level null does with the
   library mean).
3. **Adaptive S-norm**: each query chunk is scored against the cohort's chunks, and each song
   chunk too; the mean and σ of the upper half of each row's cohort scores
   (:data:`~lumina.attribution.params.TOP_K_FRACTION`,
   :func:`~lumina.attribution.null.cohort_stats`, σ floored at ``1/√D``) normalise the pair's
   centred cosine from both sides, averaged: ``z = ½((s − μ_q)/σ_q + (s − μ_s)/σ_s)``.
   The scored song's own chunks are left out of the cohort (leave-one-out), as on the song
   level.
4. **Small cohorts**: :func:`~lumina.attribution.null.small_cohort_z` with k = the number of
   cohort *songs* behind the statistics (not chunks: chunks of one song are not independent
   draws), so a tiny library does not pass chance pairs.

The z of one pair is calibrated for that pair; the best of ``C_q · C_s`` pairs is a maximum
and is expected to be higher by chance (no multiple-comparison correction here: the song's
own z and the gate already say *whether* the song matters, segments say *where*).

``null="analytic"`` is the paper's: raw cosine over ``1/√D``, no cohort.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lumina.attribution.null import cohort_stats, small_cohort_z
from lumina.attribution.params import TOP_K_FRACTION, check_null
from lumina.attribution.vectors import noise_floor, unit_rows
from lumina.errors import LuminaError

__all__ = [
    "DEFAULT_SEGMENT_COHORT",
    "DEFAULT_SEGMENT_PAIRS",
    "SegmentMatch",
    "SegmentNull",
    "best_pairs",
    "pair_scores",
    "segment_matches",
    "segment_null",
]

#: Pairs reported per listed song and channel.
DEFAULT_SEGMENT_PAIRS = 3
#: Songs whose chunks form the cohort of the chunk-level null.
DEFAULT_SEGMENT_COHORT = 32


@dataclass(frozen=True)
class SegmentMatch:
    """One pair: a chunk of the query and a chunk of a library song.

    Times are in seconds of each file. ``cosine`` is the score the null used (centred cosine
    for the empirical null, raw cosine for the analytic one).
    """

    query_chunk: int
    song_chunk: int
    query_start: float
    query_end: float
    song_start: float
    song_end: float
    cosine: float
    z: float

    def to_json(self) -> dict[str, object]:
        return {"query_chunk": self.query_chunk, "song_chunk": self.song_chunk,
                "query_start": self.query_start, "query_end": self.query_end,
                "song_start": self.song_start, "song_end": self.song_end,
                "cosine": self.cosine, "z": self.z}


@dataclass(frozen=True, eq=False)
class SegmentNull:
    """The chunk-level null of one channel, prepared once per query from the cohort.

    Attributes
    ----------
    null : {"empirical", "analytic"}
    d : int
        Fingerprint dimension.
    mean : (D,) float64 ndarray
        Mean of the cohort's unit chunks (zeros for the analytic null).
    chunks : (K, D) float64 ndarray
        The cohort's chunks, centred and unit-normalised (K = 0 for the analytic null).
    owners : (K,) int64 ndarray
        The song each cohort chunk belongs to (any id; compared with ``exclude``).
    top_fraction : float
        Share of each row's cohort scores the adaptive S-norm keeps.
    """

    null: str
    d: int
    mean: np.ndarray
    chunks: np.ndarray
    owners: np.ndarray
    top_fraction: float = TOP_K_FRACTION

    def represent(self, chunks: np.ndarray) -> np.ndarray:
        """(C, D) chunks in the null's representation: unit rows, centred for the
        empirical null (a chunk along the mean becomes zero and scores 0)."""
        u = unit_rows(np.asarray(chunks, dtype=np.float64))
        return u if self.null == "analytic" else unit_rows(u - self.mean)


def _check_chunks(chunks: np.ndarray, d: int | None, what: str) -> np.ndarray:
    arr = np.asarray(chunks, dtype=np.float64)
    if arr.ndim != 2 or (d is not None and arr.shape[1] != d):
        want = f"(C, {d})" if d is not None else "(C, D)"
        raise LuminaError(f"{what} must be a {want} matrix, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise LuminaError(f"{what} contain NaN or Inf")
    return arr


def segment_null(cohort_chunks: np.ndarray, owners: np.ndarray, *, null: str = "empirical",
                 top_fraction: float = TOP_K_FRACTION) -> SegmentNull:
    """Prepare the chunk-level null of one channel from a cohort's chunks.

    Parameters
    ----------
    cohort_chunks : (K, D) array_like
        Chunk fingerprints of the cohort songs (any scale; rows are unit-normalised here).
    owners : (K,) int array_like
        Song of each row (used to leave a scored song's own chunks out).
    null : {"empirical", "analytic"}
    top_fraction : float in (0, 1]

    Returns
    -------
    SegmentNull
    """
    check_null(null)
    x = _check_chunks(cohort_chunks, None, "cohort chunk fingerprints")
    own = np.asarray(owners, dtype=np.int64).ravel()
    if own.shape[0] != x.shape[0]:
        raise LuminaError(f"{x.shape[0]} cohort chunks but {own.shape[0]} owners")
    if not 0.0 < float(top_fraction) <= 1.0:
        raise LuminaError(f"top_fraction must be in (0, 1], got {top_fraction}")
    d = x.shape[1]
    if null == "analytic":
        return SegmentNull(null, d, np.zeros(d), np.empty((0, d)), np.empty(0, np.int64),
                           float(top_fraction))
    u = unit_rows(x)
    mean = u.mean(axis=0) if u.shape[0] else np.zeros(d)
    return SegmentNull(null, d, mean, unit_rows(u - mean), own, float(top_fraction))


def _side_stats(scores: np.ndarray, null: SegmentNull, floor: float
                ) -> tuple[np.ndarray, np.ndarray]:
    """Mean and σ of each row's upper cohort scores (scores: (R, K') kept columns)."""
    k = scores.shape[1]
    top_k = max(1, int(round(null.top_fraction * k))) if k else None
    return cohort_stats(scores, np.full(scores.shape[0], -1, dtype=np.intp), top_k, floor)


def pair_scores(query_chunks: np.ndarray, song_chunks: np.ndarray, null: SegmentNull, *,
                exclude: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Cosine and calibrated z of every (query chunk, song chunk) pair.

    Parameters
    ----------
    query_chunks : (Cq, D) array_like
    song_chunks : (Cs, D) array_like
    null : SegmentNull
    exclude : int, optional
        The scored song's id in ``null.owners``: its chunks are left out of the cohort.

    Returns
    -------
    cosine : (Cq, Cs) float64 ndarray
        Centred cosine (empirical) or raw cosine (analytic).
    z : (Cq, Cs) float64 ndarray
    """
    q = null.represent(_check_chunks(query_chunks, null.d, "query chunk fingerprints"))
    s = null.represent(_check_chunks(song_chunks, null.d, "song chunk fingerprints"))
    cos = q @ s.T
    floor = noise_floor(null.d)
    if null.null == "analytic":
        return cos, cos / floor
    keep = null.owners != exclude if exclude is not None else np.ones(null.owners.size, bool)
    cohort = null.chunks[keep]
    if cohort.shape[0] == 0:
        # No other song to calibrate against: the noise floor is all we know.
        return cos, small_cohort_z(cos / floor, 2)
    q_mu, q_sigma = _side_stats(q @ cohort.T, null, floor)
    s_mu, s_sigma = _side_stats(s @ cohort.T, null, floor)
    z = 0.5 * ((cos - q_mu[:, None]) / q_sigma[:, None]
               + (cos - s_mu[None, :]) / s_sigma[None, :])
    songs = int(np.unique(null.owners[keep]).size)
    return cos, small_cohort_z(z, max(2, int(round(null.top_fraction * songs))))


def best_pairs(cosine: np.ndarray, z: np.ndarray, query_times: np.ndarray,
               song_times: np.ndarray, pairs: int = DEFAULT_SEGMENT_PAIRS
               ) -> tuple[SegmentMatch, ...]:
    """The ``pairs`` pairs of highest z, descending; ties by query chunk, then song chunk.

    Parameters
    ----------
    cosine, z : (Cq, Cs) array_like
    query_times : (Cq, 2) array_like, start and end seconds of each query chunk
    song_times : (Cs, 2) array_like, likewise for the song (extra columns are ignored)
    pairs : int ≥ 0

    Returns
    -------
    tuple[SegmentMatch, ...], at most ``min(pairs, Cq · Cs)`` long
    """
    z = np.asarray(z, dtype=np.float64)
    cosine = np.asarray(cosine, dtype=np.float64)
    qt = np.asarray(query_times, dtype=np.float64)
    st = np.asarray(song_times, dtype=np.float64)
    if z.ndim != 2 or cosine.shape != z.shape:
        raise LuminaError(f"cosine {cosine.shape} and z {z.shape} must be matching matrices")
    if qt.shape[0] != z.shape[0] or st.shape[0] != z.shape[1] or qt.ndim != 2 or st.ndim != 2:
        raise LuminaError(f"times {qt.shape} and {st.shape} do not fit a {z.shape} matrix")
    if pairs < 0:
        raise LuminaError(f"pairs must be at least 0, got {pairs}")
    flat = z.ravel()
    # Stable sort of -z: equal z keep row-major order (query chunk, then song chunk).
    order = np.argsort(-flat, kind="stable")[:pairs]
    out = []
    for k in order.tolist():
        i, j = divmod(k, z.shape[1])
        out.append(SegmentMatch(
            query_chunk=i, song_chunk=j,
            query_start=float(qt[i, 0]), query_end=float(qt[i, 1]),
            song_start=float(st[j, 0]), song_end=float(st[j, 1]),
            cosine=float(cosine[i, j]), z=float(z[i, j])))
    return tuple(out)


def segment_matches(query_chunks: np.ndarray, query_times: np.ndarray,
                    song_chunks: np.ndarray, song_times: np.ndarray, null: SegmentNull, *,
                    exclude: int | None = None, pairs: int = DEFAULT_SEGMENT_PAIRS
                    ) -> tuple[SegmentMatch, ...]:
    """The strongest pairs of one query against one song in one channel.

    Parameters
    ----------
    query_chunks : (Cq, D) array_like;  query_times : (Cq, 2) array_like
    song_chunks : (Cs, D) array_like;  song_times : (Cs, 2) array_like
    null : SegmentNull of the channel (:func:`segment_null`)
    exclude : the song's id among the cohort's owners (leave-one-out), if it may be there
    pairs : how many pairs to report

    Returns
    -------
    tuple[SegmentMatch, ...]
        By z, descending (see :func:`best_pairs`); empty when either side has no chunks.
    """
    cos, z = pair_scores(query_chunks, song_chunks, null, exclude=exclude)
    return best_pairs(cos, z, query_times, song_times, pairs)
