"""The channel index: everything one library channel needs per query, prepared once, and
scoring a query against it (O(N·D) per query)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

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

#: Reads rows ``start … stop - 1`` of a channel's fingerprints as a (rows, D) array.
BlockReader = Callable[[int, int], np.ndarray]


class MatrixSink(Protocol):
    """Where one prepared (N, D) matrix goes, block by block, in row order."""

    def write(self, block: np.ndarray) -> None: ...

    def finish(self) -> np.ndarray:
        """Every block written: the whole matrix (an array, or a memory map of a file)."""
        ...


class MatrixStore(Protocol):
    """Where :func:`build_channel_statistics` puts the ``unit`` and ``centred`` matrices:
    arrays in memory (:func:`build_channel_index`) or ``.npy`` files (the library's cache)."""

    def sink(self, name: str, shape: tuple[int, int], dtype: np.dtype) -> MatrixSink: ...

    def release(self, matrix: np.ndarray) -> None:
        """The builder is done reading ``matrix`` (a file store unmaps it to bound memory)."""
        ...


@dataclass(frozen=True, eq=False)
class ChannelStatistics:
    """What :func:`build_channel_statistics` computes besides the two matrices it stores."""

    mean: np.ndarray
    song_mu: np.ndarray
    song_sigma: np.ndarray
    cohort: np.ndarray
    centred_regression: KernelRegression
    top_k: int | None


def not_finite_error() -> LuminaError:
    return LuminaError("library fingerprints contain NaN or Inf")


def build_channel_statistics(
    read_block: BlockReader,
    n: int,
    d: int,
    store: MatrixStore,
    *,
    dtype: np.dtype,
    lam: float = DEFAULT_LAMBDA,
    cohort_size: int = DEFAULT_COHORT_SIZE,
    seed: int = 0,
    top_k: int | None = None,
    not_finite: Callable[[], Exception] = not_finite_error,
    step: Callable[[], None] | None = None,
) -> ChannelStatistics:
    """Prepare one channel from its fingerprints, streamed block by block: the one builder
    behind :func:`build_channel_index` (in memory) and the library's prepared cache (files).

    The passes: unit rows (stored as ``"unit"``) and their float64 mean; centred rows
    ``unit_rows(unit - mean)`` (stored as ``"centred"``); the kernel regression on
    ``centred``; the song-side null statistics against the cohort. Blocks are always
    :data:`BLOCK_ROWS` rows, so the float64 mean (a sum over blocks) is the same bits
    wherever the rows come from. The raw (analytic) regression is left to the caller:
    the library defers it to the first analytic query.

    Parameters
    ----------
    read_block : callable(start, stop) -> (rows, D) array
    n, d : rows and columns of the channel (n ≥ 1).
    store : where the two (N, D) matrices go.
    dtype : the stored matrices' dtype.
    lam, cohort_size, seed : as in :func:`build_channel_index`.
    top_k : an already resolved cohort size (see :func:`resolve_top_k`).
    not_finite : makes the error raised when a row holds NaN or Inf.
    step : called after each of the four passes (progress).
    """
    tick = step if step is not None else (lambda: None)
    total = np.zeros(d, dtype=np.float64)
    sink = store.sink("unit", (n, d), dtype)
    for start in range(0, n, BLOCK_ROWS):
        block = np.asarray(read_block(start, start + BLOCK_ROWS)).astype(np.float64)
        if not np.all(np.isfinite(block)):
            raise not_finite()
        block = unit_block(block)
        sink.write(block.astype(dtype))
        # The mean of unit rows (in float64, before rounding to ``dtype``), not of raw
        # fingerprints: gradient norms vary by orders of magnitude between songs, and the
        # shared direction should not be the loudest song's.
        total += block.sum(axis=0)
    unit = sink.finish()
    mean = total / n
    tick()
    sink = store.sink("centred", (n, d), dtype)
    for start in range(0, n, BLOCK_ROWS):
        block = np.asarray(unit[start : start + BLOCK_ROWS], dtype=np.float64) - mean
        sink.write(unit_block(block).astype(dtype))
    store.release(unit)  # before the next passes: bounded memory for file stores
    del unit
    centred = sink.finish()
    tick()
    centred_regression = KernelRegression(centred, lam)
    tick()
    cohort = cohort_indices(n, cohort_size, seed)
    song_mu, song_sigma = song_null_stats(centred, cohort, top_k=top_k)
    store.release(centred)
    return ChannelStatistics(mean=mean, song_mu=song_mu, song_sigma=song_sigma, cohort=cohort,
                             centred_regression=centred_regression, top_k=top_k)


class _ArraySink:
    def __init__(self, shape: tuple[int, int], dtype: np.dtype) -> None:
        self.array = np.empty(shape, dtype=dtype)
        self.rows = 0

    def write(self, block: np.ndarray) -> None:
        self.array[self.rows : self.rows + block.shape[0]] = block
        self.rows += block.shape[0]

    def finish(self) -> np.ndarray:
        return self.array


class _ArrayStore:
    """The in-memory :class:`MatrixStore`: keeps every matrix as an array."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def sink(self, name: str, shape: tuple[int, int], dtype: np.dtype) -> MatrixSink:
        sink = _ArraySink(shape, dtype)
        self.arrays[name] = sink.array
        return sink

    def release(self, matrix: np.ndarray) -> None:
        pass  # the ChannelIndex keeps both matrices


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
    store = _ArrayStore()
    stats = build_channel_statistics(lambda start, stop: x[start:stop], n, d, store,
                                     dtype=float_dtype(x.dtype), lam=lam,
                                     cohort_size=cohort_size, seed=seed, top_k=top_k)
    unit, centred = store.arrays["unit"], store.arrays["centred"]
    mean, song_mu, song_sigma, cohort = stats.mean, stats.song_mu, stats.song_sigma, stats.cohort
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
        centred_regression=stats.centred_regression,
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
