"""The channel index: everything one library channel needs per query, prepared once, and
scoring a query against it (O(N·D) per query)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lumina.attribution.null import cohort_indices, cohort_stats, small_cohort_z, song_null_stats
from lumina.attribution.params import (
    DEFAULT_COHORT_SIZE,
    DEFAULT_LAMBDA,
    DEFAULT_NULL,
    DEFAULT_TOP_K,
    check_lam,
    check_null,
    resolve_top_k,
)
from lumina.attribution.regression import KernelRegression
from lumina.attribution.vectors import (
    BLOCK_ROWS,
    check_vector,
    float_dtype,
    matvec,
    noise_floor,
    unit_block,
    unit_rows,
)
from lumina.errors import LuminaError


@dataclass(frozen=True, eq=False)
class ChannelIndex:
    """Everything prepared once per library channel for fast queries.

    Built by :func:`build_channel_index`; arrays are read-only.

    Attributes
    ----------
    unit : (N, D) ndarray
        Library fingerprints, unit-normalised (float32 stays float32).
    mean : (D,) float64 ndarray
        Mean of the unit rows: the direction shared by the whole library.
    centred : (N, D) ndarray
        ``unit_rows(unit - mean)``: the representation of the empirical null.
    song_mu, song_sigma : (N,) float64 ndarray
        Song-side null statistics (see :func:`song_null_stats`).
    cohort : (C,) intp ndarray
        Cohort rows of the empirical null.
    raw_regression, centred_regression : KernelRegression
        Kernel regression on ``unit`` (analytic null) and on ``centred`` (empirical null):
        credit is shared in the same representation as the scores that gate it.
    lam : float
    top_k : int or None
        Adaptive S-norm cohort size (None: plain S-norm).
    seed : int
        Seed of the cohort sample.
    """

    unit: np.ndarray
    mean: np.ndarray
    centred: np.ndarray
    song_mu: np.ndarray
    song_sigma: np.ndarray
    cohort: np.ndarray
    raw_regression: KernelRegression
    centred_regression: KernelRegression
    lam: float
    top_k: int | None
    seed: int

    @property
    def n(self) -> int:
        return self.unit.shape[0]

    @property
    def d(self) -> int:
        return self.unit.shape[1]

    @property
    def floor(self) -> float:
        return noise_floor(self.d)

    def matrix(self, null: str) -> np.ndarray:
        """The (N, D) representation the given null scores against."""
        return self.unit if check_null(null) == "analytic" else self.centred

    def regression(self, null: str) -> KernelRegression:
        """The kernel regression matching the given null's representation."""
        return self.raw_regression if check_null(null) == "analytic" else self.centred_regression


def readonly(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


def build_channel_index(
    fingerprints: np.ndarray,
    lam: float = DEFAULT_LAMBDA,
    cohort_size: int = DEFAULT_COHORT_SIZE,
    seed: int = 0,
    *,
    top_k: int | str | None = DEFAULT_TOP_K,
) -> ChannelIndex:
    """Prepare one library channel for attribution.

    Cost O(N·D² + N·C·D) once (two D×D Gram matrices, song statistics against a cohort of
    C = min(N, cohort_size) songs); never O(N²).

    Parameters
    ----------
    fingerprints : (N, D) array_like
        One fingerprint per library song (float32 is kept as float32).
    lam : float
        Kernel-regression λ.
    cohort_size : int
        Cohort of the empirical null: the whole library up to this size, else a seeded
        sample of this many songs.
    seed : int
        Seed of the cohort sample.
    top_k : int, "auto" or None
        Adaptive S-norm: normalise with the ``top_k`` highest cohort scores only ("auto":
        :data:`TOP_K_FRACTION` of the cohort; None: all of them).

    Returns
    -------
    ChannelIndex
    """
    x = np.asarray(fingerprints)
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise LuminaError(f"library fingerprints must be a non-empty (N, D) matrix, got {x.shape}")
    lam = check_lam(lam)
    top_k = resolve_top_k(top_k, min(x.shape[0], int(cohort_size)))
    n, d = x.shape
    dtype = float_dtype(x.dtype)
    unit = np.empty((n, d), dtype=dtype)
    total = np.zeros(d, dtype=np.float64)
    for start in range(0, n, BLOCK_ROWS):
        block = x[start : start + BLOCK_ROWS].astype(np.float64)
        if not np.all(np.isfinite(block)):
            raise LuminaError("library fingerprints contain NaN or Inf")
        block = unit_block(block)
        unit[start : start + BLOCK_ROWS] = block
        total += block.sum(axis=0)
    # The mean of unit rows, not of raw fingerprints: gradient norms vary by orders of
    # magnitude between songs, and the shared direction should not be the loudest song's.
    mean = total / n
    centred = np.empty((n, d), dtype=dtype)
    for start in range(0, n, BLOCK_ROWS):
        block = unit[start : start + BLOCK_ROWS].astype(np.float64) - mean
        centred[start : start + BLOCK_ROWS] = unit_block(block)
    cohort = cohort_indices(n, cohort_size, seed)
    song_mu, song_sigma = song_null_stats(centred, cohort, top_k=top_k)
    for a in (unit, mean, centred, song_mu, song_sigma, cohort):
        readonly(a)
    return ChannelIndex(
        unit=unit,
        mean=mean,
        centred=centred,
        song_mu=song_mu,
        song_sigma=song_sigma,
        cohort=cohort,
        raw_regression=KernelRegression(unit, lam),
        centred_regression=KernelRegression(centred, lam),
        lam=lam,
        top_k=top_k,
        seed=int(seed),
    )


def null_cohort_count(index: ChannelIndex) -> int:
    """How many cohort scores the empirical null's mean and σ come from (per side)."""
    return int(index.top_k) if index.top_k is not None else max(1, index.cohort.size - 1)


def prepared_query(q: np.ndarray, index: ChannelIndex, null: str) -> np.ndarray:
    """The unit query in the representation of ``null`` (q already validated)."""
    u = unit_rows(q)
    if null == "analytic":
        return u
    # A query pointing exactly along the library mean has no centred direction; it becomes
    # the zero vector and scores 0 everywhere rather than NaN.
    return unit_rows(u - index.mean)


def scores_and_z(
    qhat: np.ndarray, index: ChannelIndex, null: str
) -> tuple[np.ndarray, np.ndarray]:
    s = matvec(index.matrix(null), qhat)
    if null == "analytic":
        return s, s / index.floor
    q_mu, q_sigma = cohort_stats(
        s[index.cohort][None, :], np.array([-1], dtype=np.intp), index.top_k, index.floor
    )
    z = 0.5 * ((s - q_mu[0]) / q_sigma[0] + (s - index.song_mu) / index.song_sigma)
    return s, small_cohort_z(z, null_cohort_count(index))


def channel_scores(
    query: np.ndarray, index: ChannelIndex, *, null: str = DEFAULT_NULL
) -> tuple[np.ndarray, np.ndarray]:
    """Scores and z values of one query against a whole library channel.

    Parameters
    ----------
    query : (D,) array_like
    index : ChannelIndex
    null : {"empirical", "analytic"}

    Returns
    -------
    scores : (N,) float64 ndarray
        Raw cosine (analytic) or centred cosine (empirical).
    z : (N,) float64 ndarray
    """
    check_null(null)
    q = check_vector(query, index.d)
    return scores_and_z(prepared_query(q, index, null), index, null)
