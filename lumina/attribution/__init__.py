"""Attribution: cosine scores, kernel-regression credit, null models, the confidence gate,
influence shares and the chunk timeline (DESIGN §1, steps 5-8).

numpy only. Everything a library channel needs per query is prepared once by
:func:`build_channel_index`; a query then costs one pass over the library matrix (O(N·D)),
so the same code serves a demo catalog of 24 songs and a catalog of millions.

Two null models turn a score into a z value (every result records which one was used):

``"analytic"``
    The paper: ``z = s / σ`` with ``s`` the raw cosine and ``σ = 1/√D``, the spread of the
    cosine between two independent random directions. It models the projection noise only.
``"empirical"`` (the default)
    Calibrated on the library itself (DESIGN §1 step 7): fingerprints are centred on the
    library mean and unit-normalised, and each centred cosine is normalised against a cohort
    of library songs from the query's side and from the song's side (adaptive S-norm: only the
    ``top_k`` highest cohort scores, by default the upper half — see :data:`TOP_K_FRACTION`).
    The two normalised scores are averaged into ``z``. Real gradient fingerprints share a
    common direction (measured: unrelated pairs at cosine +0.04…+0.24), which the analytic
    null mistakes for influence.

Confidence is ``Φ(z)`` and a song qualifies when ``z ≥ Φ⁻¹(gate)``; see :func:`gate_z` for
why the gate is applied on ``z`` rather than on the rounded confidence.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, getcontext, localcontext
from functools import lru_cache
from statistics import NormalDist

import numpy as np

from lumina.errors import LuminaError

__all__ = [
    "DEFAULT_COHORT_SIZE",
    "DEFAULT_LAMBDA",
    "DEFAULT_NULL",
    "DEFAULT_TOP_K",
    "GATE",
    "TOP_K_FRACTION",
    "NULLS",
    "Attribution",
    "ChannelAttribution",
    "ChannelIndex",
    "ChunkScores",
    "Influence",
    "KernelRegression",
    "TimelineEntry",
    "attribute",
    "attribute_channel",
    "build_channel_index",
    "channel_scores",
    "cohort_indices",
    "confidence_from_z",
    "small_cohort_z",
    "null_cohort_count",
    "cosine_scores",
    "gate_z",
    "influence_shares",
    "kernel_regression_weights_dual",
    "noise_floor",
    "resolve_top_k",
    "song_null_stats",
    "timeline",
    "timeline_with_scores",
    "unit_rows",
]

GATE = 0.95
DEFAULT_LAMBDA = 0.01
DEFAULT_COHORT_SIZE = 2000
#: Adaptive S-norm normalises each score against the ``top_k`` highest cohort scores, so a
#: song must stand out from the query's (and its own) nearest neighbours, not from the
#: average song. Measured on the demo library (32 songs, 512 unrelated query–song pairs from
#: held-out compositions in held-out timbres, ``lumina validate`` row 4): unrelated pairs
#: passing the 95 % gate — all cohort scores 4.5 % / 11.1 % (composition / production),
#: upper half 3.9 % / 4.1 %, upper quarter 2.1 % / 2.3 %, upper eighth 1.2 % / 0.8 %. The
#: upper half is the least conservative choice that keeps both channels under 5 %.
TOP_K_FRACTION = 0.5
#: ``top_k="auto"``: :data:`TOP_K_FRACTION` of the cohort (``None``: plain S-norm).
DEFAULT_TOP_K = "auto"
DEFAULT_NULL = "empirical"
NULLS = ("empirical", "analytic")

# Rows per block when a whole library matrix is converted or multiplied: keeps float64
# temporaries at ~64 MB at D=512 however large the library is.
_BLOCK_ROWS = 16384
# Cohort score matrices (rows × cohort) are processed in blocks of about this many entries.
_BLOCK_ENTRIES = 1 << 22
_INV_SQRT2 = 1.0 / math.sqrt(2.0)
# math.erfc is correctly behaved in both tails; frompyfunc maps it over arrays without scipy.
_erfc_ufunc = np.frompyfunc(math.erfc, 1, 1)


# --------------------------------------------------------------------------- basics


def noise_floor(d: int) -> float:
    """The paper's noise floor ``σ = 1/√D`` (0.0442 at D=512).

    It is the standard deviation of the cosine between two independent isotropic random
    vectors in D dimensions; the empirical null also uses it as a floor for its spreads.
    """
    if d < 1:
        raise LuminaError(f"fingerprint dimension must be at least 1, got {d}")
    return 1.0 / math.sqrt(d)


def _float_dtype(dtype: np.dtype) -> np.dtype:
    # float32 libraries stay float32 (a 10⁶-song channel is 2 GB instead of 4); integer or
    # half input is promoted.
    return np.result_type(dtype, np.float32)


def _unit_block(block: np.ndarray) -> np.ndarray:
    """Unit rows of a float64 block; zero rows stay zero."""
    sq = np.einsum("ij,ij->i", block, block)
    norms = np.sqrt(sq)
    # Squares can overflow (|x| > 1e154) or underflow (|x| < 1e-162) while the row is a
    # perfectly good direction: rescale just those rows by their largest entry first.
    bad = ~np.isfinite(norms) | ((norms == 0) & np.any(block != 0, axis=1))
    if np.any(bad):
        scale = np.max(np.abs(block[bad]), axis=1)
        scaled = block[bad] / scale[:, None]
        block = block.copy()
        block[bad] = scaled
        norms = norms.copy()
        norms[bad] = np.sqrt(np.einsum("ij,ij->i", scaled, scaled))
    norms = np.where(norms == 0, 1.0, norms)
    return block / norms[:, None]


def unit_rows(x: np.ndarray) -> np.ndarray:
    """L2-normalise each row.

    Parameters
    ----------
    x : (N, D) or (D,) array_like

    Returns
    -------
    (N, D) or (D,) ndarray
        Same shape; float32 input stays float32, everything else becomes float64. Rows of
        zero norm stay zero (never NaN). Norms are computed in float64 whatever the dtype.
    """
    arr = np.asarray(x)
    if arr.ndim == 1:
        return unit_rows(arr[None, :])[0]
    if arr.ndim != 2:
        raise LuminaError(f"expected a vector or a matrix of fingerprints, got shape {arr.shape}")
    out = np.empty(arr.shape, dtype=_float_dtype(arr.dtype))
    for start in range(0, arr.shape[0], _BLOCK_ROWS):
        stop = start + _BLOCK_ROWS
        out[start:stop] = _unit_block(arr[start:stop].astype(np.float64))
    return out


def _matvec(matrix: np.ndarray, vec: np.ndarray) -> np.ndarray:
    # The product runs in the library's dtype: a float32 library gives scores accurate to
    # ~1e-7, far below the 0.044 noise floor, at half the memory traffic of float64.
    return (matrix @ vec.astype(matrix.dtype, copy=False)).astype(np.float64, copy=False)


def _check_vector(query: np.ndarray, d: int, what: str = "query fingerprint") -> np.ndarray:
    q = np.asarray(query)
    if q.ndim != 1:
        raise LuminaError(f"{what} must be a 1-D vector, got shape {q.shape}")
    if q.shape[0] != d:
        raise LuminaError(f"{what} has dimension {q.shape[0]}, the library channel has {d}")
    q = q.astype(np.float64)
    if not np.all(np.isfinite(q)):
        raise LuminaError(f"{what} contains NaN or Inf")
    if not np.any(q):
        raise LuminaError(f"{what} is all zeros (no gradient signal to attribute)")
    return q


def cosine_scores(query: np.ndarray, library: np.ndarray) -> np.ndarray:
    """Cosine between one query and every library row (DESIGN §1 step 5).

    Parameters
    ----------
    query : (D,) array_like
    library : (N, D) array_like

    Returns
    -------
    (N,) float64 ndarray
        ``cos(query, library[i])``; rows of zero norm score 0.
    """
    lib = np.asarray(library)
    if lib.ndim != 2:
        raise LuminaError(f"library must be an (N, D) matrix, got shape {lib.shape}")
    q = _check_vector(query, lib.shape[1])
    return _matvec(unit_rows(lib), unit_rows(q))


# --------------------------------------------------------------------------- kernel regression


def _check_lam(lam: float) -> float:
    lam = float(lam)
    if not (math.isfinite(lam) and lam > 0):
        raise LuminaError(f"kernel-regression λ must be a positive number, got {lam}")
    return lam


def _gram(k: np.ndarray) -> np.ndarray:
    """``Kᵀ K`` in float64, accumulated block by block (K may be a 2 GB float32 matrix)."""
    d = k.shape[1]
    gram = np.zeros((d, d), dtype=np.float64)
    for start in range(0, k.shape[0], _BLOCK_ROWS):
        block = k[start : start + _BLOCK_ROWS].astype(np.float64, copy=False)
        gram += block.T @ block
    return gram


class KernelRegression:
    """Kernel-regression credit ``α = (K Kᵀ + λ I_N)⁻¹ K q̂`` in the primal form.

    By the push-through identity ``α = K (Kᵀ K + λ I_D)⁻¹ q̂``. The D×D matrix is factored
    once here (float64); each query then costs O(N·D) instead of an N×N solve.

    numpy has no triangular solve, so instead of keeping the Cholesky factor ``L`` and doing
    two O(D²) substitutions per query we keep ``(KᵀK + λI)⁻¹ = L⁻ᵀ L⁻¹``: at D=512 it is
    2 MB, one matrix-vector product per query, and with λ > 0 its condition number is at
    most ``1 + N/λ``, so forming the inverse loses nothing that matters next to the O(N·D)
    product with K.

    Parameters
    ----------
    k : (N, D) array_like
        The library rows, expected unit-normalised (as in DESIGN §1 step 6). Not copied.
    lam : float
        The ridge λ > 0 (the paper's 0.01).
    """

    __slots__ = ("_inverse", "_k", "_lam")

    def __init__(self, k: np.ndarray, lam: float = DEFAULT_LAMBDA) -> None:
        k = np.asarray(k)
        if k.ndim != 2 or k.shape[0] < 1 or k.shape[1] < 1:
            raise LuminaError(f"kernel regression needs an (N, D) matrix, got shape {k.shape}")
        lam = _check_lam(lam)
        a = _gram(k)
        a[np.diag_indices_from(a)] += lam
        try:
            chol = np.linalg.cholesky(a)
        except np.linalg.LinAlgError as exc:
            raise LuminaError(
                f"kernel-regression matrix is not positive definite (λ={lam})"
            ) from exc
        chol_inv = np.linalg.solve(chol, np.eye(a.shape[0]))
        inverse = chol_inv.T @ chol_inv
        # Symmetrise: rounding in the product leaves a ~1e-16 asymmetry that would make
        # weights depend on which triangle a later routine happens to read.
        inverse = 0.5 * (inverse + inverse.T)
        inverse.setflags(write=False)
        self._k = k
        self._lam = lam
        self._inverse = inverse

    @property
    def k(self) -> np.ndarray:
        """(N, D) library matrix the weights are computed against."""
        return self._k

    @property
    def lam(self) -> float:
        return self._lam

    @property
    def n(self) -> int:
        return self._k.shape[0]

    @property
    def d(self) -> int:
        return self._k.shape[1]

    @property
    def inverse(self) -> np.ndarray:
        """(D, D) read-only ``(KᵀK + λI)⁻¹`` (float64)."""
        return self._inverse

    def weights(self, q: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """α for one query.

        Parameters
        ----------
        q : (D,) array_like
            The query in the same representation as the rows of K (it is unit-normalised
            here; centring, if any, is the caller's job).
        rows : (R,) int array_like, optional
            Only compute α for these library rows (O(R·D) instead of O(N·D)).

        Returns
        -------
        (N,) or (R,) float64 ndarray
        """
        q = np.asarray(q, dtype=np.float64)
        if q.shape != (self.d,):
            raise LuminaError(f"query has shape {q.shape}, kernel regression expects ({self.d},)")
        u = self._inverse @ unit_rows(q)
        k = self._k if rows is None else self._k[np.asarray(rows, dtype=np.intp)]
        return _matvec(k, u)

    def weights_batch(self, qs: np.ndarray) -> np.ndarray:
        """α for many queries.

        Parameters
        ----------
        qs : (M, D) array_like

        Returns
        -------
        (M, N) float64 ndarray
        """
        qs = np.asarray(qs, dtype=np.float64)
        if qs.ndim != 2 or qs.shape[1] != self.d:
            raise LuminaError(f"queries have shape {qs.shape}, expected (M, {self.d})")
        u = unit_rows(qs) @ self._inverse  # (M, D); the inverse is symmetric
        return (u.astype(self._k.dtype) @ self._k.T).astype(np.float64, copy=False)


def kernel_regression_weights_dual(
    k: np.ndarray, q: np.ndarray, lam: float = DEFAULT_LAMBDA
) -> np.ndarray:
    """α in the dual form ``(K Kᵀ + λ I_N)⁻¹ K q̂`` — an N×N solve, for tests and small N.

    Parameters
    ----------
    k : (N, D) array_like
        Library rows, expected unit-normalised (not normalised here, as in the primal).
    q : (D,) array_like
        Query; unit-normalised here.
    lam : float

    Returns
    -------
    (N,) float64 ndarray
    """
    k = np.asarray(k, dtype=np.float64)
    if k.ndim != 2:
        raise LuminaError(f"kernel regression needs an (N, D) matrix, got shape {k.shape}")
    lam = _check_lam(lam)
    q = np.asarray(q, dtype=np.float64)
    if q.shape != (k.shape[1],):
        raise LuminaError(f"query has shape {q.shape}, kernel regression expects ({k.shape[1]},)")
    a = k @ k.T
    a[np.diag_indices_from(a)] += lam
    return np.linalg.solve(a, k @ unit_rows(q))


# --------------------------------------------------------------------------- confidence


def confidence_from_z(z: float | np.ndarray) -> float | np.ndarray:
    """``Φ(z) = ½(1 + erf(z/√2))``, the standard normal CDF, vectorised.

    Evaluated as ``½ erfc(-z/√2)`` (the same function; no cancellation in the lower tail).

    Parameters
    ----------
    z : float or array_like

    Returns
    -------
    float or ndarray (same shape as ``z``)
    """
    arr = np.asarray(z, dtype=np.float64)
    out = 0.5 * np.asarray(_erfc_ufunc(-arr * _INV_SQRT2), dtype=np.float64)
    return float(out) if arr.ndim == 0 else out


def _decimal_pi() -> Decimal:
    # The series from the decimal module's documentation, at the context's precision.
    with localcontext() as ctx:
        ctx.prec += 2
        three = Decimal(3)
        lasts, t, s, n, na, d, da = Decimal(0), three, three, 1, 0, 0, 24
        while s != lasts:
            lasts = s
            n, na = n + na, na + 8
            d, da = d + da, da + 32
            t = (t * n) / d
            s += t
    return +s


def _decimal_erf(x: Decimal, sqrt_pi: Decimal) -> Decimal:
    # erf(x) = 2/√π · e^{-x²} · Σ x (2x²)^n / (2n+1)!!: every term is positive for x ≥ 0,
    # so the sum loses no digits to cancellation whatever x is.
    two_x2 = 2 * x * x
    term = x
    total = x
    n = 0
    eps = Decimal(10) ** (-(getcontext().prec + 2))
    while term > total * eps:
        n += 1
        term = term * two_x2 / (2 * n + 1)
        total += term
    return 2 / sqrt_pi * (-(x * x)).exp() * total


@lru_cache(maxsize=64)
def _normal_quantile(p: float) -> float:
    """Φ⁻¹(p) correctly rounded to float64, by Newton's method in decimal arithmetic."""
    if p == 0.5:
        return 0.0
    # Work in the smaller tail: for p ≥ 0.5, 1 - p is exact in binary (Sterbenz).
    tail = min(p, 1.0 - p)
    with localcontext() as ctx:
        # The tail is 1 - erf(x): keep 40 digits after the cancellation.
        ctx.prec = 40 + max(0, -math.floor(math.log10(tail)))
        sqrt_pi = _decimal_pi().sqrt()
        sqrt2 = Decimal(2).sqrt()
        target = Decimal(tail)
        t = Decimal(abs(NormalDist().inv_cdf(p)))  # ~1e-15 accurate: 3 steps reach 1e-40+
        for _ in range(4):
            upper = (1 - _decimal_erf(t / sqrt2, sqrt_pi)) / 2
            density = (-(t * t) / 2).exp() / (sqrt2 * sqrt_pi)
            t += (upper - target) / density
        result = float(t)  # float(Decimal) rounds to nearest
    return result if p > 0.5 else -result


def gate_z(gate: float = GATE) -> float:
    """The z threshold of a confidence gate: ``Φ⁻¹(gate)``, rounded to the nearest double.

    ``gate_z(0.95) == 1.6448536269514722``. A song qualifies when ``z ≥ gate_z(gate)``.

    The gate is applied on z, not on the float64 confidence, because ``Φ`` is flat at
    double resolution: near 0.95 one step of the confidence is about five steps of z, so
    ``Φ(z) ≥ 0.95`` in floating point already holds a few ulps below Φ⁻¹(0.95). Computing
    Φ⁻¹ exactly (decimal arithmetic, once per gate value) makes the switch land precisely
    on the quantile, and qualifying songs still have ``confidence_from_z(z) ≥ gate`` to
    within one rounding of ``gate``.
    """
    g = float(gate)
    if not (0.0 < g < 1.0):
        raise LuminaError(f"confidence gate must be strictly between 0 and 1, got {gate}")
    return _normal_quantile(g)


# --------------------------------------------------------------------------- null statistics


def cohort_indices(n: int, cohort_size: int = DEFAULT_COHORT_SIZE, seed: int = 0) -> np.ndarray:
    """The cohort of the empirical null: all N rows, or a fixed seeded sample of them.

    Returns
    -------
    (C,) intp ndarray, sorted, ``C = min(n, cohort_size)``
    """
    if cohort_size < 1:
        raise LuminaError(f"cohort size must be at least 1, got {cohort_size}")
    if n <= cohort_size:
        return np.arange(n, dtype=np.intp)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=cohort_size, replace=False)).astype(np.intp)


def _cohort_stats(
    scores: np.ndarray, exclude: np.ndarray, top_k: int | None, floor: float
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (floored) std of each row of cohort scores, leaving one entry out per row.

    scores (B, C) float64; exclude (B,) column to leave out, -1 for none.
    """
    rows = np.nonzero(exclude >= 0)[0]
    valid = np.ones(scores.shape, dtype=bool)
    valid[rows, exclude[rows]] = False
    if top_k is not None and top_k < scores.shape[1]:
        masked = np.where(valid, scores, -np.inf)
        # top_k < C and at most one entry per row is masked, so the k largest are all valid.
        kth = masked.shape[1] - top_k
        scores = np.partition(masked, kth, axis=1)[:, kth:]
        valid = np.isfinite(scores)
    count = valid.sum(axis=1)
    denom = np.maximum(count, 1)
    mean = np.where(valid, scores, 0.0).sum(axis=1) / denom
    dev = np.where(valid, scores - mean[:, None], 0.0)
    std = np.sqrt((dev * dev).sum(axis=1) / denom)
    # A cohort of 0 or 1 scores has no spread to speak of; the floor is then the estimate.
    return mean, np.maximum(std, floor)


def song_null_stats(
    k_centred_unit: np.ndarray,
    cohort_idx: np.ndarray,
    *,
    top_k: int | None = None,
    floor: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Song-side statistics of the empirical null, computed once per library channel.

    Song i is scored against every cohort song except itself; the mean and standard
    deviation of those scores are what an unrelated query would score against song i.

    Parameters
    ----------
    k_centred_unit : (N, D) array_like
        Library fingerprints, centred on the library mean and unit-normalised.
    cohort_idx : (C,) int array_like
        Cohort rows (see :func:`cohort_indices`).
    top_k : int, optional
        Adaptive S-norm: only the ``top_k`` highest cohort scores of each song.
    floor : float, optional
        Lower bound of the standard deviations; default ``1/√D``.

    Returns
    -------
    mu : (N,) float64 ndarray
    sigma : (N,) float64 ndarray, ≥ floor
    """
    k = np.asarray(k_centred_unit)
    if k.ndim != 2:
        raise LuminaError(f"library must be an (N, D) matrix, got shape {k.shape}")
    n, d = k.shape
    cohort = np.asarray(cohort_idx, dtype=np.intp)
    if (
        cohort.ndim != 1
        or (cohort.size and (cohort.min() < 0 or cohort.max() >= n))
        or np.unique(cohort).size != cohort.size
    ):
        raise LuminaError("cohort indices must be a 1-D array of distinct library rows")
    if top_k is not None and top_k < 1:
        raise LuminaError(f"top_k must be at least 1, got {top_k}")
    floor = noise_floor(d) if floor is None else float(floor)
    position = np.full(n, -1, dtype=np.intp)
    position[cohort] = np.arange(cohort.size, dtype=np.intp)
    cohort_t = np.ascontiguousarray(k[cohort].T)
    mu = np.empty(n, dtype=np.float64)
    sigma = np.empty(n, dtype=np.float64)
    block = max(1, _BLOCK_ENTRIES // max(cohort.size, 1))
    for start in range(0, n, block):
        stop = min(n, start + block)
        scores = (k[start:stop] @ cohort_t).astype(np.float64, copy=False)
        mu[start:stop], sigma[start:stop] = _cohort_stats(
            scores, position[start:stop], top_k, floor
        )
    return mu, sigma


# --------------------------------------------------------------------------- small cohorts

#: Above this many degrees of freedom :func:`small_cohort_z` uses Wallace's closed form
#: (|Δz| < 0.004 for |z| < 7, shrinking with df); at or below it the exact CDF.
_T_EXACT_MAX_DF = 30
# A z beyond any gate, for scores whose t tail underflows double precision.
_Z_CAP = 38.0
_inv_cdf_ufunc = np.frompyfunc(NormalDist().inv_cdf, 1, 1)


def _beta_continued_fraction(a: float, b: float, x: np.ndarray) -> np.ndarray:
    """Lentz's continued fraction of the incomplete beta function (converges fast for
    x < (a + 1)/(a + b + 2)), vectorised with a fixed iteration budget."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = np.ones_like(x)
    d = 1.0 - qab * x / qap
    d = 1.0 / np.where(np.abs(d) < tiny, tiny, d)
    h = d.copy()
    for m in range(1, 301):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)),
                   -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1.0 + aa * d
            d = 1.0 / np.where(np.abs(d) < tiny, tiny, d)
            c = 1.0 + aa / c
            c = np.where(np.abs(c) < tiny, tiny, c)
            step = d * c
            h = h * step
        if np.all(np.abs(step - 1.0) < 1e-15):
            break
    return h


def _t_upper_tail(t: np.ndarray, df: int) -> np.ndarray:
    """P(T > t) of Student's t for t ≥ 0: ½ I_x(df/2, ½) with x = df/(df + t²), the
    regularised incomplete beta evaluated without cancellation in the far tail."""
    a, b = df / 2.0, 0.5
    x = df / (df + t * t)
    out = np.empty_like(x)
    log_norm = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    with np.errstate(divide="ignore"):
        front = np.exp(log_norm + a * np.log(x) + b * np.log1p(-x))
    direct = x < (a + 1.0) / (a + b + 2.0)
    if np.any(direct):
        out[direct] = front[direct] * _beta_continued_fraction(a, b, x[direct]) / a
    if np.any(~direct):
        rest = ~direct
        out[rest] = 1.0 - front[rest] * _beta_continued_fraction(b, a, 1.0 - x[rest]) / b
    return 0.5 * out


def small_cohort_z(z: np.ndarray, k: int) -> np.ndarray:
    """The Gaussian-equivalent of S-normalised scores whose mean and σ came from ``k``
    cohort scores.

    A z computed with a mean and σ estimated from k samples is Student-t distributed
    (df = k − 1, scale √(1 + 1/k)) under the null, not Gaussian: with a library of 4 songs
    the 95 % gate passed 43 % / 89 % of unrelated pairs (composition / production,
    ``bench/small_library.py``). This maps z to ``Φ⁻¹(F_t(z / √(1 + 1/k)))``, so the
    gate, confidences and the audit's Šidák gate keep their meaning at every library size;
    measured after it: 0.3 % / 0 % at 4 songs, 4.9 % / 4.5 % at 6, 4.3 % / 5.3 % at 8.
    The map is monotone, so rankings do not change; for large k it tends to the identity.

    Parameters
    ----------
    z : (...,) array_like, float
    k : number of cohort scores behind each mean and σ (≥ 1; k ≤ 2 is treated as 2).

    Returns
    -------
    (...,) float64 ndarray, same shape.
    """
    z = np.asarray(z, dtype=np.float64)
    k = max(int(k), 2)
    df = k - 1
    t = np.abs(z) / math.sqrt(1.0 + 1.0 / k)
    if df > _T_EXACT_MAX_DF:
        # Wallace (1959): √(df·ln(1 + t²/df)) · (8 df + 1)/(8 df + 3).
        out = np.sqrt(df * np.log1p(t * t / df)) * ((8.0 * df + 1.0) / (8.0 * df + 3.0))
    else:
        upper = _t_upper_tail(t, df)  # in [0, 0.5]
        out = np.full(t.shape, _Z_CAP)
        ok = upper > 0.0
        if np.any(ok):
            out[ok] = -np.asarray(_inv_cdf_ufunc(np.minimum(upper[ok], 0.5)), dtype=np.float64)
    return np.copysign(out, z)


def null_cohort_count(index: ChannelIndex) -> int:
    """How many cohort scores the empirical null's mean and σ come from (per side)."""
    return int(index.top_k) if index.top_k is not None else max(1, index.cohort.size - 1)


# --------------------------------------------------------------------------- the channel index


def _check_null(null: str) -> str:
    if null not in NULLS:
        raise LuminaError(f"unknown null model {null!r}; choose one of {', '.join(NULLS)}")
    return null


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
        return self.unit if _check_null(null) == "analytic" else self.centred

    def regression(self, null: str) -> KernelRegression:
        """The kernel regression matching the given null's representation."""
        return self.raw_regression if _check_null(null) == "analytic" else self.centred_regression


def _readonly(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


def resolve_top_k(top_k: int | str | None, cohort: int) -> int | None:
    """The adaptive S-norm's ``top_k`` for a cohort of ``cohort`` songs.

    ``"auto"`` → ``max(1, round(TOP_K_FRACTION · cohort))``; ``None`` → plain S-norm (every
    cohort score); an int is checked and kept.
    """
    if top_k == DEFAULT_TOP_K:
        return max(1, int(round(TOP_K_FRACTION * max(1, int(cohort)))))
    if top_k is None:
        return None
    if isinstance(top_k, bool) or not isinstance(top_k, int | np.integer) or top_k < 1:
        raise LuminaError(f"top_k must be a positive integer, \"auto\" or None, got {top_k!r}")
    return int(top_k)


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
    lam = _check_lam(lam)
    top_k = resolve_top_k(top_k, min(x.shape[0], int(cohort_size)))
    n, d = x.shape
    dtype = _float_dtype(x.dtype)
    unit = np.empty((n, d), dtype=dtype)
    total = np.zeros(d, dtype=np.float64)
    for start in range(0, n, _BLOCK_ROWS):
        block = x[start : start + _BLOCK_ROWS].astype(np.float64)
        if not np.all(np.isfinite(block)):
            raise LuminaError("library fingerprints contain NaN or Inf")
        block = _unit_block(block)
        unit[start : start + _BLOCK_ROWS] = block
        total += block.sum(axis=0)
    # The mean of unit rows, not of raw fingerprints: gradient norms vary by orders of
    # magnitude between songs, and the shared direction should not be the loudest song's.
    mean = total / n
    centred = np.empty((n, d), dtype=dtype)
    for start in range(0, n, _BLOCK_ROWS):
        block = unit[start : start + _BLOCK_ROWS].astype(np.float64) - mean
        centred[start : start + _BLOCK_ROWS] = _unit_block(block)
    cohort = cohort_indices(n, cohort_size, seed)
    song_mu, song_sigma = song_null_stats(centred, cohort, top_k=top_k)
    for a in (unit, mean, centred, song_mu, song_sigma, cohort):
        _readonly(a)
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


# --------------------------------------------------------------------------- scoring


def _prepared_query(q: np.ndarray, index: ChannelIndex, null: str) -> np.ndarray:
    """The unit query in the representation of ``null`` (q already validated)."""
    u = unit_rows(q)
    if null == "analytic":
        return u
    # A query pointing exactly along the library mean has no centred direction; it becomes
    # the zero vector and scores 0 everywhere rather than NaN.
    return unit_rows(u - index.mean)


def _scores_and_z(
    qhat: np.ndarray, index: ChannelIndex, null: str
) -> tuple[np.ndarray, np.ndarray]:
    s = _matvec(index.matrix(null), qhat)
    if null == "analytic":
        return s, s / index.floor
    q_mu, q_sigma = _cohort_stats(
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
    _check_null(null)
    q = _check_vector(query, index.d)
    return _scores_and_z(_prepared_query(q, index, null), index, null)


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


# --------------------------------------------------------------------------- results


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


def _check_top(top: int | None) -> None:
    if top is not None and (
        isinstance(top, bool) or not isinstance(top, int | np.integer) or top < 0
    ):
        raise LuminaError(f"top must be a non-negative integer, got {top!r}")


def attribute_channel(
    query: np.ndarray,
    index: ChannelIndex,
    *,
    channel: str,
    null: str = DEFAULT_NULL,
    gate: float = GATE,
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
    gate : float
        Confidence a song needs to qualify (0.95).
    top : int, optional
        Report at most this many songs beyond the qualifying ones (None: all N).

    Returns
    -------
    ChannelAttribution
    """
    _check_null(null)
    _check_top(top)
    z_gate = gate_z(gate)
    q = _check_vector(query, index.d)
    qhat = _prepared_query(q, index, null)
    scores, z = _scores_and_z(qhat, index, null)
    qualifies = z >= z_gate
    n_qualifying = int(np.count_nonzero(qualifies))
    keep = index.n if top is None else max(int(top), n_qualifying)
    rows = _ranked(z, keep)
    # Credit and raw cosines only for the reported songs: every qualifying song is among
    # them, so shares are exact, and the per-query cost stays one pass over the library.
    weights = index.regression(null).weights(qhat, rows=rows)
    raw = scores[rows] if null == "analytic" else _matvec(index.unit[rows], unit_rows(q))
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
        gate=float(gate),
        z_gate=z_gate,
        n_library=index.n,
        n_qualifying=n_qualifying,
        influences=influences,
        cohort_size=int(index.cohort.size),
        top_k=index.top_k,
    )


def timeline(
    chunk_fps: np.ndarray,
    index: ChannelIndex,
    null: str = DEFAULT_NULL,
    *,
    gate: float = GATE,
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
    gate: float = GATE,
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
    gate : float
    rows : (R,) int array_like, optional
        Library rows whose per-chunk z to keep (duplicates are dropped); none by default.

    Returns
    -------
    entries : list[TimelineEntry]
        One per chunk, in chunk order.
    scores : ChunkScores
        ``z`` of shape (C, R') with R' the distinct rows, ascending.
    """
    _check_null(null)
    z_gate = gate_z(gate)
    chunks = np.asarray(chunk_fps)
    if chunks.ndim != 2:
        raise LuminaError(f"chunk fingerprints must be a (C, D) matrix, got shape {chunks.shape}")
    keep = np.unique(np.asarray([] if rows is None else rows, dtype=np.intp).ravel())
    if keep.size and (keep[0] < 0 or keep[-1] >= index.n):
        raise LuminaError(f"rows must be library rows in 0…{index.n - 1}")
    kept = np.empty((chunks.shape[0], keep.size), dtype=np.float64)
    entries = []
    for c in range(chunks.shape[0]):
        q = _check_vector(chunks[c], index.d, what=f"fingerprint of chunk {c}")
        _, z = _scores_and_z(_prepared_query(q, index, null), index, null)
        kept[c] = z[keep]
        best = int(np.argmax(z))
        zb = float(z[best])
        entries.append(
            TimelineEntry(
                chunk=c,
                index=best,
                confidence=float(confidence_from_z(zb)),
                z=zb,
                qualifies=zb >= z_gate,
            )
        )
    return entries, ChunkScores(rows=_readonly(keep), z=_readonly(kept))


def attribute(
    queries: Mapping[str, np.ndarray],
    indexes: Mapping[str, ChannelIndex],
    *,
    chunks: Mapping[str, np.ndarray] | None = None,
    null: str = DEFAULT_NULL,
    gate: float = GATE,
    top: int | None = None,
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
    null, gate, top
        As in :func:`attribute_channel`.

    Returns
    -------
    Attribution
    """
    _check_null(null)
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
