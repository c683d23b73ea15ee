"""The arithmetic of the linear datamodeling score (LDS), shared by ``bench/lds.py`` and tests.

The LDS (Park et al., TRAK, 2023) asks whether an attribution method predicts what *retraining*
does. Train M models, each on a random subset ``S_m`` of the N training songs. For a query q,
a method's scores ``τ(q) ∈ R^N`` predict the effect of subset ``S_m`` as ``Σ_{i ∈ S_m} τ_i(q)``;
the actual outcome is the negated teacher-forced loss of q under model m. The LDS of the query
is the Spearman rank correlation of the two across the M subsets; the method's LDS is its mean
over queries, with a bootstrap interval over queries.

Pure numpy; nothing here trains or loads a model.
"""

from __future__ import annotations

import numpy as np


def rankdata(x: np.ndarray) -> np.ndarray:
    """Ranks 1…n of a 1-D array, ties given their average rank (like ``scipy.stats.rankdata``)."""
    a = np.asarray(x, dtype=np.float64).reshape(-1)
    order = np.argsort(a, kind="mergesort")
    ranks = np.empty(a.size, dtype=np.float64)
    sorted_a = a[order]
    i = 0
    while i < a.size:
        j = i
        while j + 1 < a.size and sorted_a[j + 1] == sorted_a[i]:
            j += 1
        ranks[order[i:j + 1]] = 0.5 * (i + j) + 1.0
        i = j + 1
    return ranks


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation of two equal-length vectors; NaN if either is constant."""
    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1 or a.size < 2:
        raise ValueError(f"need two 1-D vectors of equal length ≥ 2, got {a.shape}, {b.shape}")
    ra, rb = rankdata(a), rankdata(b)
    ra -= ra.mean()
    rb -= rb.mean()
    den = float(np.sqrt((ra @ ra) * (rb @ rb)))
    if den == 0.0:
        return float("nan")
    return float(ra @ rb) / den


def sample_subsets(n: int, m: int, fraction: float = 0.5, seed: int = 0) -> np.ndarray:
    """M random subsets of ``round(fraction · n)`` of n items, as a bool matrix (M, n).

    Subset j depends only on (seed, j), so adding subsets never changes the earlier ones.
    """
    if n < 2 or m < 1 or not 0.0 < fraction < 1.0:
        raise ValueError(f"bad subset spec n={n}, m={m}, fraction={fraction}")
    size = max(1, min(n - 1, int(round(fraction * n))))
    out = np.zeros((m, n), dtype=bool)
    for j in range(m):
        rng = np.random.default_rng([int(seed), j])
        out[j, rng.choice(n, size=size, replace=False)] = True
    return out


def subset_predictions(scores: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Predicted effect of every subset for every query: (Q, N) scores × (M, N) masks → (Q, M)."""
    s = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    return s @ np.asarray(masks, dtype=np.float64).T


def lds_per_query(predicted: np.ndarray, actual: np.ndarray) -> np.ndarray:
    """Spearman(predicted[q], actual[q]) across subsets, for every query: (Q, M) → (Q,).

    ``actual`` is the outcome where larger means "helped" (the negated loss).
    """
    p, a = np.atleast_2d(predicted), np.atleast_2d(actual)
    if p.shape != a.shape:
        raise ValueError(f"shape mismatch {p.shape} vs {a.shape}")
    return np.array([spearman(p[q], a[q]) for q in range(p.shape[0])])


def bootstrap_mean(values: np.ndarray, n_boot: int = 2000, seed: int = 0,
                   level: float = 0.95) -> tuple[float, float, float]:
    """Mean of the finite values and its percentile bootstrap interval (resampling values).

    Returns (mean, low, high); NaNs if no value is finite.
    """
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, v.size, size=(int(n_boot), v.size))
    means = v[idx].mean(axis=1)
    tail = (1.0 - level) / 2.0
    return (float(v.mean()), float(np.quantile(means, tail)),
            float(np.quantile(means, 1.0 - tail)))


def lds(scores: np.ndarray, masks: np.ndarray, losses: np.ndarray, n_boot: int = 2000,
        seed: int = 0) -> dict[str, object]:
    """LDS of one method: scores (Q, N), subset masks (M, N), losses (Q, M) of the subset
    models → ``{"mean", "low", "high", "per_query", "n_queries"}`` (NaN queries, whose
    prediction is constant, are left out of the mean and counted out of ``n_queries``)."""
    per_query = lds_per_query(subset_predictions(scores, masks), -np.asarray(losses))
    mean, low, high = bootstrap_mean(per_query, n_boot, seed)
    return {"mean": mean, "low": low, "high": high,
            "per_query": [None if not np.isfinite(v) else float(v) for v in per_query],
            "n_queries": int(np.isfinite(per_query).sum())}
