"""Segment matches (lumina.attribution.segments): a planted pair is found at its offsets,
shapes, leave-one-out, determinism, and the analytic null."""

from __future__ import annotations

import numpy as np
import pytest

from lumina.attribution.segments import (
    SegmentMatch,
    best_pairs,
    pair_scores,
    segment_matches,
    segment_null,
)
from lumina.errors import LuminaError

D = 64


def _times(c: int, hop: float = 10.0) -> np.ndarray:
    return np.stack([np.arange(c) * hop, np.arange(c) * hop + 10.0], axis=1)


def _world(seed: int = 0, cq: int = 6, cs: int = 9, cohort: int = 32, per: int = 3):
    """Random chunks sharing a common direction (as real fingerprints do), a cohort of
    ``cohort`` songs × ``per`` chunks, and the query's chunk 2 planted in song chunk 7."""
    rng = np.random.default_rng(seed)
    common = rng.standard_normal(D) * 3.0

    def chunks(n: int) -> np.ndarray:
        return (common + rng.standard_normal((n, D))).astype(np.float32)

    query, song, pool = chunks(cq), chunks(cs), chunks(cohort * per)
    if cq > 2 and cs > 7:
        song[7] = query[2] + 0.3 * rng.standard_normal(D).astype(np.float32)
    owners = np.repeat(np.arange(100, 100 + cohort), per)
    return query, song, pool, owners


def test_planted_pair_is_found_at_its_offsets():
    query, song, pool, owners = _world()
    null = segment_null(pool, owners)
    pairs = segment_matches(query, _times(6), song, _times(9, hop=5.0), null, pairs=3)
    assert len(pairs) == 3
    best = pairs[0]
    assert (best.query_chunk, best.song_chunk) == (2, 7)
    assert (best.query_start, best.query_end) == (20.0, 30.0)
    assert (best.song_start, best.song_end) == (35.0, 45.0)
    assert best.z > 4.0 > pairs[1].z
    assert [p.z for p in pairs] == sorted((p.z for p in pairs), reverse=True)


def test_unrelated_pairs_score_near_zero():
    query, song, pool, owners = _world(seed=3)
    cos, z = pair_scores(query, song, segment_null(pool, owners))
    mask = np.ones(z.shape, dtype=bool)
    mask[2, 7] = False
    # The common direction is centred away: unrelated pairs are not inflated.
    assert abs(float(np.median(z[mask]))) < 1.0
    assert float(np.max(np.abs(cos[mask]))) < 0.6


def test_shapes_and_dtypes():
    query, song, pool, owners = _world(cq=4, cs=3)
    null = segment_null(pool, owners)
    cos, z = pair_scores(query, song, null)
    assert cos.shape == z.shape == (4, 3)
    assert cos.dtype == z.dtype == np.float64
    assert null.chunks.shape == pool.shape and null.mean.shape == (D,)
    assert segment_matches(query, _times(4), song, _times(3), null, pairs=100).__len__() == 12
    assert segment_matches(query, _times(4), song, _times(3), null, pairs=0) == ()
    empty = np.empty((0, D), dtype=np.float32)
    assert segment_matches(query, _times(4), empty, _times(0), null) == ()


def test_deterministic_and_ties_by_chunk_order():
    query, song, pool, owners = _world(seed=5)
    null = segment_null(pool, owners)
    a = segment_matches(query, _times(6), song, _times(9), null, pairs=5)
    b = segment_matches(query.copy(), _times(6), song.copy(), _times(9),
                        segment_null(pool.copy(), owners.copy()), pairs=5)
    assert a == b
    tied = best_pairs(np.zeros((2, 2)), np.ones((2, 2)), _times(2), _times(2), pairs=4)
    assert [(p.query_chunk, p.song_chunk) for p in tied] == [(0, 0), (0, 1), (1, 0), (1, 1)]


def test_the_scored_song_is_left_out_of_its_cohort():
    query, song, pool, owners = _world(seed=7)
    # The song itself in the cohort: its planted chunk would raise its own null.
    pool = np.concatenate([pool, song])
    owners = np.concatenate([owners, np.full(song.shape[0], 7)])
    null = segment_null(pool, owners)
    _, z_in = pair_scores(query, song, null)
    _, z_out = pair_scores(query, song, null, exclude=7)
    _, z_ref = pair_scores(query, song, segment_null(pool[:-song.shape[0]],
                                                     owners[:-song.shape[0]]))
    assert z_out[2, 7] > z_in[2, 7]
    # Leaving it out equals never having it, up to the centring mean.
    assert abs(z_out[2, 7] - z_ref[2, 7]) < 0.5


def test_analytic_null_is_raw_cosine_over_the_noise_floor():
    query, song, pool, owners = _world(seed=2)
    cos, z = pair_scores(query, song, segment_null(pool, owners, null="analytic"))
    u = query / np.linalg.norm(query, axis=1, keepdims=True)
    v = song / np.linalg.norm(song, axis=1, keepdims=True)
    np.testing.assert_allclose(cos, u @ v.T, atol=1e-6)
    np.testing.assert_allclose(z, cos * np.sqrt(D))


def test_no_cohort_falls_back_to_the_noise_floor():
    query, song, _, _ = _world(seed=4)
    null = segment_null(np.empty((0, D)), np.empty(0, dtype=np.int64))
    cos, z = pair_scores(query, song, null)
    assert np.all(np.isfinite(z)) and z.shape == (6, 9)


def test_bad_input_is_an_error():
    query, song, pool, owners = _world()
    null = segment_null(pool, owners)
    with pytest.raises(LuminaError):
        pair_scores(query[:, :10], song, null)
    with pytest.raises(LuminaError):
        segment_null(pool, owners[:-1])
    bad = song.copy()
    bad[0, 0] = np.nan
    with pytest.raises(LuminaError):
        pair_scores(query, bad, null)
    with pytest.raises(LuminaError):
        best_pairs(np.zeros((2, 2)), np.zeros((2, 2)), _times(3), _times(2))


def test_match_json_has_every_field():
    m = SegmentMatch(1, 2, 10.0, 20.0, 5.0, 15.0, 0.5, 3.0)
    assert m.to_json() == {"query_chunk": 1, "song_chunk": 2, "query_start": 10.0,
                           "query_end": 20.0, "song_start": 5.0, "song_end": 15.0,
                           "cosine": 0.5, "z": 3.0}
