"""The linear datamodeling score's arithmetic (lumina.validation.lds) on data whose answer
is known."""

from __future__ import annotations

import numpy as np
import pytest

from lumina.validation.lds import (
    bootstrap_mean,
    lds,
    lds_per_query,
    rankdata,
    sample_subsets,
    spearman,
    subset_predictions,
)


def test_rankdata_averages_ties():
    x = np.array([3.0, 1.0, 2.0, 2.0, 5.0, 1.0, 2.0])
    # 1, 1 share ranks 1-2; 2, 2, 2 share ranks 3-5; then 3 and 5.
    np.testing.assert_allclose(rankdata(x), [6.0, 1.5, 4.0, 4.0, 7.0, 1.5, 4.0])


def test_spearman_known_values():
    x = np.arange(10.0)
    assert spearman(x, x ** 3) == pytest.approx(1.0)
    assert spearman(x, -np.exp(x)) == pytest.approx(-1.0)
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=50), rng.normal(size=50)
    b[:10] = b[0]  # ties
    # Spearman's rho is Pearson's r of the average ranks.
    assert spearman(a, b) == pytest.approx(np.corrcoef(rankdata(a), rankdata(b))[0, 1])
    assert np.isnan(spearman(np.ones(5), x[:5]))
    with pytest.raises(ValueError):
        spearman(x, x[:5])


def test_subsets_are_deterministic_halves_and_prefix_stable():
    a = sample_subsets(32, 8, 0.5, seed=3)
    b = sample_subsets(32, 16, 0.5, seed=3)
    assert a.shape == (8, 32) and a.dtype == bool
    assert (a.sum(axis=1) == 16).all()
    np.testing.assert_array_equal(a, b[:8])  # more subsets never change the first ones
    assert not np.array_equal(a, sample_subsets(32, 8, 0.5, seed=4))
    assert len({row.tobytes() for row in b}) == 16
    with pytest.raises(ValueError):
        sample_subsets(32, 4, 1.0)


def test_subset_predictions_are_sums_over_members():
    scores = np.array([[1.0, 2.0, 4.0], [0.0, -1.0, 1.0]])
    masks = np.array([[True, False, True], [False, True, True]])
    np.testing.assert_allclose(subset_predictions(scores, masks), [[5.0, 6.0], [1.0, 0.0]])


def test_lds_is_one_for_an_exact_linear_datamodel_and_zero_for_noise():
    rng = np.random.default_rng(1)
    n, m, q = 20, 64, 6
    masks = sample_subsets(n, m, 0.5, seed=0)
    tau = rng.normal(size=(q, n))
    # the true outcome: the loss falls by tau_i when song i is in the subset
    losses = 3.0 - subset_predictions(tau, masks)
    r = lds(tau, masks, losses, n_boot=200)
    assert r["mean"] == pytest.approx(1.0)
    assert r["n_queries"] == q
    assert r["low"] <= r["mean"] <= r["high"]
    np.testing.assert_allclose(lds_per_query(subset_predictions(-tau, masks), -losses), -1.0)
    # scores unrelated to the outcome: LDS near zero, interval covering zero
    noise = lds(rng.normal(size=(200, n)), masks, np.tile(losses[:1], (200, 1)), n_boot=500)
    assert abs(noise["mean"]) < 0.05
    assert noise["low"] < 0.0 < noise["high"]


def test_lds_recovers_a_known_correlation_under_noise():
    rng = np.random.default_rng(2)
    n, m, q = 32, 400, 40
    masks = sample_subsets(n, m, 0.5, seed=1)
    tau = rng.normal(size=(q, n))
    signal = subset_predictions(tau, masks)
    noisy = signal + rng.normal(size=signal.shape) * signal.std(axis=1, keepdims=True)
    # Gaussian: Spearman = (6/π)·asin(ρ/2) with ρ = 1/√2
    expected = 6 / np.pi * np.arcsin(1 / np.sqrt(2) / 2)
    assert lds(tau, masks, -noisy, n_boot=200)["mean"] == pytest.approx(expected, abs=0.03)


def test_bootstrap_interval_and_nans():
    v = np.array([0.1, 0.2, np.nan, 0.3, 0.4])
    mean, low, high = bootstrap_mean(v, n_boot=500, seed=0)
    assert mean == pytest.approx(0.25)
    assert 0.1 <= low < mean < high <= 0.4
    assert bootstrap_mean(v, n_boot=500, seed=0) == (mean, low, high)
    assert all(np.isnan(bootstrap_mean(np.array([np.nan]))))
    r = lds(np.zeros((1, 4)), sample_subsets(4, 6, 0.5, 0), np.ones((1, 6)))
    assert r["n_queries"] == 0 and r["per_query"] == [None]
