"""Tests of lumina.attribution: kernel regression, null models, gate, shares, timeline."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from lumina.attribution import (
    GATE,
    NULLS,
    Attribution,
    AttributionParams,
    KernelRegression,
    attribute,
    attribute_channel,
    build_channel_index,
    channel_scores,
    cohort_indices,
    confidence_from_z,
    cosine_scores,
    gate_z,
    influence_shares,
    kernel_regression_weights_dual,
    noise_floor,
    song_null_stats,
    timeline,
    timeline_with_scores,
    unit_rows,
)
from lumina.errors import LuminaError

Z95 = 1.6448536269514722  # Φ⁻¹(0.95), correctly rounded (scipy.special.ndtri(0.95))


def _offset_library(rng: np.random.Generator, m: int, d: int, direction: np.ndarray) -> np.ndarray:
    # Shared direction of weight 0.5 plus isotropic noise of norm ≈ 1: unrelated pairs have
    # cosine ≈ 0.25 / 1.25 = +0.2, the kind of offset measured on real fingerprints.
    return 0.5 * direction + rng.standard_normal((m, d)) / math.sqrt(d)


# --------------------------------------------------------------------------- basics


def test_unit_rows_keeps_zero_rows_zero_and_dtype() -> None:
    x = np.array([[3.0, 4.0], [0.0, 0.0], [1e-200, 0.0], [1e200, 1e200]])
    u = unit_rows(x)
    assert np.all(np.isfinite(u))
    np.testing.assert_allclose(u[0], [0.6, 0.8])
    assert np.array_equal(u[1], [0.0, 0.0])
    np.testing.assert_allclose(u[2], [1.0, 0.0])
    np.testing.assert_allclose(u[3], [math.sqrt(0.5)] * 2)
    assert unit_rows(np.ones((2, 3), dtype=np.float32)).dtype == np.float32
    assert unit_rows(np.ones(3, dtype=np.int64)).shape == (3,)


def test_cosine_scores_match_definition() -> None:
    rng = np.random.default_rng(1)
    lib = rng.standard_normal((7, 12))
    q = rng.standard_normal(12)
    expected = lib @ q / (np.linalg.norm(lib, axis=1) * np.linalg.norm(q))
    np.testing.assert_allclose(cosine_scores(q, lib), expected, atol=1e-14)


def test_noise_floor_value() -> None:
    assert noise_floor(512) == pytest.approx(0.0442, abs=5e-5)


def test_random_gaussian_cosine_spread_matches_noise_floor() -> None:
    rng = np.random.default_rng(2)
    a = rng.standard_normal((20000, 512))
    b = rng.standard_normal((20000, 512))
    cos = np.einsum("ij,ij->i", unit_rows(a), unit_rows(b))
    assert abs(cos.std() / noise_floor(512) - 1.0) < 0.05
    assert abs(cos.mean()) < 3 * noise_floor(512) / math.sqrt(20000) * 2


# --------------------------------------------------------------------------- kernel regression


def test_primal_and_dual_kernel_regression_agree() -> None:
    rng = np.random.default_rng(3)
    k = unit_rows(rng.standard_normal((50, 16)))
    q = rng.standard_normal(16)
    kr = KernelRegression(k, 0.01)
    dual = kernel_regression_weights_dual(k, q, 0.01)
    np.testing.assert_allclose(kr.weights(q), dual, rtol=0, atol=1e-9)
    np.testing.assert_allclose(kr.weights(q, rows=[3, 7]), dual[[3, 7]], rtol=0, atol=1e-9)
    qs = rng.standard_normal((4, 16))
    batch = kr.weights_batch(qs)
    assert batch.shape == (4, 50)
    for row, qq in zip(batch, qs, strict=True):
        np.testing.assert_allclose(row, kernel_regression_weights_dual(k, qq, 0.01), atol=1e-9)


def test_duplicate_rows_split_the_credit() -> None:
    lam = 0.01
    rng = np.random.default_rng(4)
    # In isolation the relation is exact: one row gets x·q̂/(1+λ), each duplicate x·q̂/(2+λ).
    x = unit_rows(rng.standard_normal(32))
    q = x + 0.3 * rng.standard_normal(32) / math.sqrt(32)
    proj = float(x @ unit_rows(q))
    single = KernelRegression(x[None, :], lam).weights(q)
    double = KernelRegression(np.vstack([x, x]), lam).weights(q)
    assert single[0] == pytest.approx(proj / (1 + lam), rel=1e-12)
    np.testing.assert_allclose(double, proj / (2 + lam), rtol=1e-12)

    # Inside a library: the duplicates share equally and together get what one row got.
    lib = unit_rows(rng.standard_normal((30, 64)))
    q = lib[0] + 0.5 * rng.standard_normal(64) / 8
    alone = KernelRegression(lib, lam).weights(q)
    dup = KernelRegression(np.vstack([lib, lib[:1]]), lam).weights(q)
    assert dup[0] == pytest.approx(dup[-1], rel=1e-10)
    assert dup[0] == pytest.approx(alone[0] / 2, rel=0.02)
    assert dup[0] + dup[-1] == pytest.approx(alone[0], rel=0.02)
    # Songs not involved in the duplication keep their credit, up to O(λ).
    np.testing.assert_allclose(dup[1:-1], alone[1:], atol=0.5 * lam)


# --------------------------------------------------------------------------- confidence gate


def test_confidence_is_the_normal_cdf() -> None:
    zs = np.linspace(-9.0, 9.0, 721)
    ref = np.array([0.5 * (1.0 + math.erf(z / math.sqrt(2.0))) for z in zs])
    np.testing.assert_allclose(confidence_from_z(zs), ref, rtol=0, atol=1e-12)
    assert isinstance(confidence_from_z(1.0), float)
    assert confidence_from_z(0.0) == 0.5


def test_gate_z_is_the_exact_quantile() -> None:
    assert gate_z(0.95) == Z95
    assert gate_z(GATE) == Z95
    # Correctly rounded (mpmath); scipy's ndtri(0.975) is one ulp above, 1.959963984540054.
    assert gate_z(0.975) == 1.9599639845400538
    assert gate_z(0.5) == 0.0
    assert gate_z(0.05) == -Z95 or abs(gate_z(0.05) + Z95) < 1e-15
    # Confidence agrees with the gate on either side of the quantile.
    assert confidence_from_z(Z95) >= 0.95
    assert confidence_from_z(Z95 - 1e-9) < 0.95
    assert confidence_from_z(Z95 + 1e-9) >= 0.95


def _query_with_cosine(s: float, d: int, free_dim: int) -> np.ndarray:
    """A unit query (exactly, in float64) with component ``s`` on axis 0."""
    q = np.zeros(d)
    q[0] = s
    t = math.sqrt(1.0 - s * s)
    for _ in range(8):
        q[free_dim] = t
        if np.array_equal(unit_rows(q), q):
            return q
        t = float(np.nextafter(t, 2.0 if np.linalg.norm(q) < 1 else 0.0))
    raise AssertionError("could not build an exactly unit query")


def test_gate_switches_exactly_at_the_quantile() -> None:
    d = 16  # √D = 4: z = 4·s is exact, so z can be placed on any double
    library = np.eye(d)[:4]
    index = build_channel_index(library)
    below = float(np.nextafter(Z95, 0.0))
    above = float(np.nextafter(Z95, 10.0))
    for z_target, expected in ((below, False), (Z95, True), (above, True)):
        q = _query_with_cosine(z_target / 4.0, d, free_dim=8)
        res = attribute_channel(q, index, channel="c", null="analytic")
        best = res.influences[0]
        assert best.index == 0
        assert best.z == z_target
        assert best.qualifies is expected
        assert res.n_qualifying == int(expected)
        assert (best.share == 1.0) is expected


# --------------------------------------------------------------------------- shares


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(2, 40),
    d=st.sampled_from([16, 32, 64]),
    null=st.sampled_from(NULLS),
    n_sources=st.integers(1, 3),
    top=st.one_of(st.none(), st.integers(0, 5)),
)
def test_shares_of_a_channel_sum_to_one(
    seed: int, n: int, d: int, null: str, n_sources: int, top: int | None
) -> None:
    rng = np.random.default_rng(seed)
    lib = rng.standard_normal((n, d))
    sources = rng.choice(n, size=min(n_sources, n), replace=False)
    q = lib[sources].sum(axis=0) + 0.2 * rng.standard_normal(d)
    res = attribute_channel(q, build_channel_index(lib), channel="c", null=null, top=top)
    assume(any(i.qualifies and i.weight > 0 for i in res.influences))
    shares = np.array([i.share for i in res.influences])
    assert np.all(np.isfinite(shares)) and np.all(shares >= 0)
    assert math.fsum(shares) == pytest.approx(1.0, abs=1e-12)
    assert math.fsum(res.shares.values()) == pytest.approx(1.0, abs=1e-12)
    assert all(i.share == 0 for i in res.influences if not i.qualifies)
    # Every qualifying song is reported, whatever `top` is; ranking is by z.
    assert sum(i.qualifies for i in res.influences) == res.n_qualifying
    zs = [i.z for i in res.influences]
    assert zs == sorted(zs, reverse=True)
    assert len(res.influences) == (n if top is None else min(n, max(top, res.n_qualifying)))


def test_no_qualifying_song_gives_empty_shares() -> None:
    rng = np.random.default_rng(5)
    lib = np.zeros((20, 64))
    lib[:, :32] = rng.standard_normal((20, 32))
    q = np.zeros(64)
    q[32:] = rng.standard_normal(32)  # orthogonal to every library song
    index = build_channel_index(lib)
    res = attribute_channel(q, index, channel="c", null="analytic")
    assert res.n_qualifying == 0
    assert res.shares == {}
    assert all(i.share == 0.0 and not i.qualifies for i in res.influences)
    for inf in res.influences:
        assert all(math.isfinite(v) for v in (inf.cosine, inf.z, inf.confidence, inf.weight))
    strict = attribute_channel(q, index, channel="c", gate=1 - 1e-15)
    assert strict.n_qualifying == 0 and strict.shares == {}


def test_influence_shares_with_only_negative_weights_is_empty() -> None:
    shares = influence_shares(np.array([-0.1, -0.2, 0.3]), np.array([True, True, False]))
    assert np.array_equal(shares, np.zeros(3))
    shares = influence_shares(np.array([0.1, -0.2, 0.3]), np.array([True, True, True]))
    np.testing.assert_allclose(shares, [0.25, 0.0, 0.75])


# --------------------------------------------------------------------------- null models


def test_empirical_null_calibrates_a_shared_offset() -> None:
    rng = np.random.default_rng(6)
    d, n, m = 512, 400, 50
    direction = unit_rows(rng.standard_normal(d))
    lib = _offset_library(rng, n, d, direction)
    queries = _offset_library(rng, m, d, direction)
    index = build_channel_index(lib)
    raw = np.array([cosine_scores(q, lib).mean() for q in queries[:5]])
    assert np.all(np.abs(raw - 0.2) < 0.03)  # the offset is what the test claims

    analytic = sum(
        attribute_channel(q, index, channel="c", null="analytic", top=0).n_qualifying
        for q in queries
    )
    empirical = sum(attribute_channel(q, index, channel="c", top=0).n_qualifying for q in queries)
    assert analytic / (n * m) > 0.5
    assert empirical / (n * m) <= 0.065

    # A planted source (source + noise of the same size) still qualifies, and ranks first.
    for src in (3, 17, 250):
        q = lib[src] + rng.standard_normal(d) / math.sqrt(d)
        res = attribute_channel(q, index, channel="c", top=5)
        assert res.null == "empirical"
        assert res.influences[0].index == src
        assert res.influences[0].qualifies
        assert res.influences[0].share > 0
        assert res.influences[0].raw_cosine == pytest.approx(cosine_scores(q, lib)[src])


def test_song_null_stats_leave_the_song_out() -> None:
    rng = np.random.default_rng(7)
    k = unit_rows(rng.standard_normal((12, 8)))
    cohort = np.array([0, 2, 3, 5, 8, 11])
    mu, sigma = song_null_stats(k, cohort, floor=0.0)
    for i in range(12):
        others = [j for j in cohort if j != i]
        s = k[others] @ k[i]
        assert mu[i] == pytest.approx(s.mean(), abs=1e-14)
        assert sigma[i] == pytest.approx(s.std(), abs=1e-14)
    mu_k, sigma_k = song_null_stats(k, cohort, top_k=2, floor=0.0)
    for i in range(12):
        s = np.sort(k[[j for j in cohort if j != i]] @ k[i])[-2:]
        assert mu_k[i] == pytest.approx(s.mean(), abs=1e-14)
        assert sigma_k[i] == pytest.approx(s.std(), abs=1e-14)
    _, floored = song_null_stats(k, cohort)
    assert np.all(floored >= noise_floor(8))


def test_cohort_is_a_seeded_sample() -> None:
    assert np.array_equal(cohort_indices(10, 2000), np.arange(10))
    a = cohort_indices(5000, 100, seed=3)
    assert a.size == 100 and np.all(np.diff(a) > 0)
    assert np.array_equal(a, cohort_indices(5000, 100, seed=3))
    assert not np.array_equal(a, cohort_indices(5000, 100, seed=4))


def test_degenerate_libraries_give_finite_results() -> None:
    rng = np.random.default_rng(8)
    for n in (1, 2):
        lib = rng.standard_normal((n, 16))
        index = build_channel_index(lib, cohort_size=1)
        for null in NULLS:
            res = attribute_channel(lib[0], index, channel="c", null=null)
            for inf in res.influences:
                assert all(math.isfinite(v) for v in (inf.cosine, inf.z, inf.weight, inf.share))
    # A one-song library under the empirical null has no centred direction: nothing qualifies.
    one = attribute_channel(rng.standard_normal(16), build_channel_index(lib[:1]), channel="c")
    assert one.n_qualifying == 0


def test_float32_library_and_adaptive_snorm() -> None:
    rng = np.random.default_rng(9)
    lib = rng.standard_normal((300, 64)).astype(np.float32)
    index = build_channel_index(lib, cohort_size=100, top_k=20)
    assert index.unit.dtype == np.float32 and index.cohort.size == 100
    assert not index.unit.flags.writeable
    q = lib[10] + 0.5 * rng.standard_normal(64).astype(np.float32)
    res = attribute_channel(q, index, channel="production", top=3)
    assert res.top_k == 20 and res.cohort_size == 100
    assert res.influences[0].index == 10 and res.influences[0].qualifies
    s, z = channel_scores(q, index)
    assert s.shape == z.shape == (300,) and s.dtype == np.float64


# --------------------------------------------------------------------------- timeline, API


def test_attribute_two_channels_with_timeline() -> None:
    rng = np.random.default_rng(10)
    comp = rng.standard_normal((40, 32))
    prod = rng.standard_normal((40, 32))
    indexes = {"composition": build_channel_index(comp), "production": build_channel_index(prod)}
    chunks = np.stack([comp[4], comp[9], comp[4]]) + 0.3 * rng.standard_normal((3, 32))
    queries = {"composition": chunks.mean(axis=0), "production": prod[21]}
    result = attribute(queries, indexes, chunks={"composition": chunks},
                       params=AttributionParams(top=3))
    assert isinstance(result, Attribution)
    assert set(result.channels) == {"composition", "production"}
    assert result.channels["production"].influences[0].index == 21
    assert result.channels["composition"].channel == "composition"
    line = result.timeline["composition"]
    assert [e.chunk for e in line] == [0, 1, 2]
    assert [e.index for e in line] == [4, 9, 4]
    assert all(e.qualifies and e.confidence >= GATE for e in line)
    assert timeline(chunks, indexes["composition"], "analytic")[1].index == 9


def test_errors_are_lumina_errors() -> None:
    rng = np.random.default_rng(11)
    index = build_channel_index(rng.standard_normal((5, 8)))
    q = rng.standard_normal(8)
    cases = [
        lambda: attribute_channel(q, index, channel="c", null="bayesian"),
        lambda: attribute_channel(q[:7], index, channel="c"),
        lambda: attribute_channel(np.where(np.arange(8) == 2, np.nan, q), index, channel="c"),
        lambda: attribute_channel(np.full(8, np.inf), index, channel="c"),
        lambda: attribute_channel(np.zeros(8), index, channel="c"),
        lambda: attribute_channel(q[None, :], index, channel="c"),
        lambda: attribute_channel(q, index, channel="c", gate=1.0),
        lambda: attribute_channel(q, index, channel="c", top=-1),
        lambda: attribute_channel(q, index, channel="c", top="3"),
        lambda: song_null_stats(index.centred, [0, 0]),
        lambda: attribute({"melody": q}, {"composition": index}),
        lambda: timeline(np.ones((2, 7)), index),
        lambda: build_channel_index(np.full((3, 4), np.nan)),
        lambda: build_channel_index(np.ones((0, 4))),
        lambda: build_channel_index(np.ones((3, 4)), lam=0.0),
        lambda: KernelRegression(np.ones((3, 4)), lam=-1.0),
    ]
    for case in cases:
        with pytest.raises(LuminaError) as err:
            case()
        assert "\n" not in str(err.value) and str(err.value)


# --------------------------------------------------------------------------- per-chunk z


def test_chunk_z_keeps_reported_rows_of_every_channel_in_the_timeline_pass() -> None:
    rng = np.random.default_rng(12)
    comp = rng.standard_normal((40, 32))
    prod = rng.standard_normal((40, 32))
    indexes = {"composition": build_channel_index(comp), "production": build_channel_index(prod)}
    chunks = np.stack([comp[4], comp[9], comp[4]]) + 0.3 * rng.standard_normal((3, 32))
    queries = {"composition": chunks.mean(axis=0), "production": prod[21]}
    for null in NULLS:
        result = attribute(queries, indexes, chunks={"composition": chunks},
                           params=AttributionParams(null=null, top=3))
        reported = {i.index for ch in result.channels.values() for i in ch.influences}
        scores = result.chunk_z["composition"]
        # O(C·R): only the songs some channel reports, ascending, one column each.
        assert scores.z.shape == (3, len(reported)) and scores.n_chunks == 3
        assert scores.rows.tolist() == sorted(reported) and 21 in scores
        assert not scores.z.flags.writeable and not scores.rows.flags.writeable
        for row in reported:
            want = [channel_scores(chunks[c], indexes["composition"], null=null)[1][row]
                    for c in range(3)]
            assert scores[row].tolist() == want  # the same math, bit for bit
            np.testing.assert_array_equal(scores.confidence(row), confidence_from_z(scores[row]))
        # The timeline's best songs are reported here, and agree with it.
        for e in result.timeline["composition"]:
            assert scores[e.index][e.chunk] == e.z
        unreported = next(r for r in range(40) if r not in reported)
        assert unreported not in scores and "4" not in scores
        with pytest.raises(KeyError):
            scores[unreported]
    assert "production" not in result.chunk_z
    assert attribute(queries, indexes).chunk_z == {}


def test_chunk_scores_compare_by_value_and_timeline_is_unchanged() -> None:
    rng = np.random.default_rng(13)
    lib = rng.standard_normal((20, 16))
    index = build_channel_index(lib)
    chunks = lib[[3, 7]] + 0.2 * rng.standard_normal((2, 16))
    entries, scores = timeline_with_scores(chunks, index, rows=[7, 3, 3])
    assert entries == timeline(chunks, index)
    assert scores.rows.tolist() == [3, 7] and scores.z.shape == (2, 2)
    again = timeline_with_scores(chunks, index, rows=[3, 7])[1]
    assert again == scores and again != timeline_with_scores(chunks[::-1], index, rows=[3, 7])[1]
    assert timeline_with_scores(chunks, index)[1].z.shape == (2, 0)
    empty_entries, empty = timeline_with_scores(np.empty((0, 16)), index, rows=[3])
    assert empty_entries == [] and empty.z.shape == (0, 1) and empty[3].shape == (0,)
    with pytest.raises(LuminaError, match="library rows"):
        timeline_with_scores(chunks, index, rows=[20])
    with pytest.raises(TypeError):
        hash(scores)


def test_adaptive_snorm_top_k_defaults_to_half_the_cohort():
    from lumina.attribution import TOP_K_FRACTION, build_channel_index, resolve_top_k

    assert TOP_K_FRACTION == 0.5
    assert resolve_top_k("auto", 32) == 16 and resolve_top_k("auto", 2000) == 1000
    assert resolve_top_k("auto", 1) == 1 and resolve_top_k(None, 32) is None
    assert resolve_top_k(7, 32) == 7
    for bad in (0, -3, 2.5, True, "half"):
        with pytest.raises(LuminaError, match="top_k"):
            resolve_top_k(bad, 32)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((32, 64))
    assert build_channel_index(x).top_k == 16
    assert build_channel_index(x, cohort_size=10).top_k == 5
    assert build_channel_index(x, top_k=None).top_k is None


# --------------------------------------------------------------------------- small cohorts


def _t_upper_tail_by_quadrature(t: float, df: int) -> float:
    """P(T > t) by Simpson's rule on Student's density (independent of the series)."""
    from math import gamma, pi, sqrt

    c = gamma((df + 1) / 2) / (sqrt(df * pi) * gamma(df / 2))
    # Substitute x = tan(u) on [atan(t), π/2) so the heavy tail is a finite interval.
    u = np.linspace(np.arctan(t), np.pi / 2, 20001)
    x = np.tan(u[:-1])
    f = np.empty_like(u)
    f[:-1] = c * (1 + x * x / df) ** (-(df + 1) / 2) / np.cos(u[:-1]) ** 2
    f[-1] = c if df == 1 else 0.0  # the limit at u = π/2
    h = u[1] - u[0]
    return float(h / 3 * (f[0] + 4 * f[1:-1:2].sum() + 2 * f[2:-1:2].sum() + f[-1]))


@pytest.mark.parametrize("k", [2, 3, 4, 8, 16, 31, 41, 200])
def test_small_cohort_z_is_the_gaussian_equivalent_of_student_t(k):
    from statistics import NormalDist

    from lumina.attribution import small_cohort_z

    z = np.array([0.5, 1.0, 1.6448536269514722, 2.5, 3.4, 4.5])
    got = small_cohort_z(z, k)
    scale = np.sqrt(1 + 1 / k)
    want = np.array([-NormalDist().inv_cdf(_t_upper_tail_by_quadrature(v / scale, k - 1))
                     for v in z])
    tolerance = 1e-6 if k - 1 <= 30 else 4e-3  # exact series, then Wallace's closed form
    np.testing.assert_allclose(got, want, atol=tolerance)
    assert np.all(got < z)  # a t tail is heavier: the same score is less surprising
    np.testing.assert_array_equal(small_cohort_z(-z, k), -got)  # odd
    assert small_cohort_z(0.0, k) == 0.0


def test_small_cohort_z_is_monotone_and_tends_to_identity():
    from lumina.attribution import small_cohort_z

    z = np.linspace(-10, 40, 5001)
    for k in (2, 5, 31, 32, 1000):
        out = small_cohort_z(z, k)
        assert np.all(np.isfinite(out)) and np.all(np.diff(out) >= -1e-12), k
    near = np.linspace(-4, 4, 81)
    np.testing.assert_allclose(small_cohort_z(near, 5000), near, atol=5e-3)


def test_empirical_gate_is_calibrated_on_a_four_song_library():
    """Unrelated fingerprints sharing an offset, against libraries of 4 songs: the 95 %
    gate must pass about 5 % of pairs, not the 40-90 % an uncorrected z passes."""
    rng = np.random.default_rng(3)
    d = 64
    offset = rng.standard_normal(d) * 0.6
    passing = pairs = 0
    for _ in range(60):
        library = rng.standard_normal((4, d)) + offset
        index = build_channel_index(library)
        for q in rng.standard_normal((20, d)) + offset:
            _, z = channel_scores(q, index)
            passing += int(np.sum(z >= gate_z(0.95)))
            pairs += z.size
    assert passing / pairs <= 0.08
