"""The gate that names songs (lumina.attribution.gate): Benjamini–Hochberg against a direct
implementation, Šidák's threshold, the paper's per-song gate, and each rule on a library
with one planted match and on a million unrelated songs."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest

from lumina.attribution import AttributionParams, Gate, build_channel_index, gate_z
from lumina.attribution.attribute import attribute_channel
from lumina.attribution.gate import upper_tail, z_for_tail
from lumina.errors import LuminaError


def _bh_reference(p: np.ndarray, q: float) -> np.ndarray:
    """Benjamini–Hochberg as the textbook states it: sort, compare p_(k) with k q / N."""
    n = p.size
    order = np.argsort(p, kind="stable")
    passing = [k for k in range(1, n + 1) if p[order[k - 1]] <= k * q / n]
    named = np.zeros(n, dtype=bool)
    if passing:
        named[order[: max(passing)]] = True
    return named


@pytest.mark.parametrize("seed", range(20))
def test_fdr_names_what_textbook_benjamini_hochberg_names(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    z = rng.standard_normal(n)
    planted = rng.choice(n, size=int(rng.integers(0, min(n, 8) + 1)), replace=False)
    z[planted] += rng.uniform(2.0, 6.0, planted.size)
    q = float(rng.choice([0.01, 0.05, 0.2]))
    decision = Gate("fdr", q).apply(z)
    assert np.array_equal(decision.named, _bh_reference(upper_tail(z), q))
    if decision.named.any():
        assert z[decision.named].min() >= decision.z_threshold - 1e-12
        assert decision.p_threshold == pytest.approx(decision.named.sum() * q / n)


def test_fwer_is_sidak_and_per_song_is_the_papers_gate():
    n = 32
    fwer = Gate("fwer", 0.01)
    assert 1 - fwer.apply(np.zeros(n)).p_threshold == pytest.approx(0.99 ** (1 / n))
    assert fwer.apply(np.zeros(n)).z_threshold == pytest.approx(3.4192, abs=1e-4)
    per_song = Gate.per_song(0.95)
    assert per_song.rule == "per-song" and per_song.level == pytest.approx(0.05)
    decision = per_song.apply(np.array([gate_z(0.95), np.nextafter(gate_z(0.95), 0.0)]))
    assert decision.named.tolist() == [True, False]  # exactly the paper's z threshold
    assert decision.confidence == 0.95


def test_tail_z_is_accurate_far_out():
    for p in (0.3, 0.05, 1e-6, 1e-12, 1e-30):
        z = z_for_tail(p)
        assert upper_tail(np.array([z]))[0] == pytest.approx(p, rel=1e-9)
    assert z_for_tail(0.5) == pytest.approx(0.0, abs=1e-12)
    assert math.isclose(-NormalDist().inv_cdf(1e-8), z_for_tail(1e-8), rel_tol=1e-12)


def test_bad_rules_and_levels_are_one_line_errors():
    for rule, level in (("bonferroni", 0.05), ("fdr", 0.0), ("fwer", 1.0), ("fdr", True)):
        with pytest.raises(LuminaError):
            Gate(rule, level)
    with pytest.raises(LuminaError, match="unknown gate"):
        AttributionParams(gate="holm")


def test_a_million_unrelated_songs_name_nothing_under_fdr_and_fwer():
    z = np.random.default_rng(7).standard_normal(1_000_000)
    assert not Gate("fdr", 0.05).apply(z).named.any()
    assert not Gate("fwer", 0.05).apply(z).named.any()
    per_song = int(Gate("per-song", 0.05).apply(z).named.sum())
    assert 49_000 < per_song < 51_000  # 5 % of the library by construction


@pytest.mark.parametrize("rule", ["fdr", "fwer", "per-song"])
def test_each_gate_names_a_planted_copy_and_shares_among_named_songs(rule):
    rng = np.random.default_rng(3)
    library = rng.standard_normal((200, 64))
    query = library[17] + 0.05 * rng.standard_normal(64)  # a near copy of song 17
    index = build_channel_index(library)
    result = attribute_channel(query, index, channel="c", gate=Gate(rule, 0.05), top=5)
    assert result.influences[0].index == 17 and result.influences[0].qualifies
    assert (result.rule, result.level) == (rule, 0.05)
    named = [i for i in result.influences if i.qualifies]
    assert sum(i.share for i in named) == pytest.approx(1.0)
    assert all(i.share == 0.0 for i in result.influences if not i.qualifies)
    if rule != "per-song":
        assert [i.index for i in named] == [17]
