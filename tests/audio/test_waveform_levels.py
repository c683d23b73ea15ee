"""The min/max pyramid behind the zoomable waveform: exact against brute force, bounded."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lumina.audio import WaveformLevels, waveform_levels


def brute(x: np.ndarray, spb: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-bin min/max by slicing each bin separately (channels flattened into the bin)."""
    n = math.ceil(len(x) / spb)
    mins = np.array([x[i * spb:(i + 1) * spb].min() for i in range(n)], np.float32)
    maxs = np.array([x[i * spb:(i + 1) * spb].max() for i in range(n)], np.float32)
    return mins, maxs


@pytest.mark.parametrize(("frames", "spb"), [(1, 4), (7, 4), (64, 4), (1000, 16), (12345, 64),
                                              (4097, 1), (999, 1000)])
def test_every_level_matches_brute_force(frames, spb):
    x = np.random.default_rng(frames).standard_normal(frames).astype(np.float32)
    lv = waveform_levels(x, 8000, samples_per_bin=spb)
    assert lv.frames == frames and lv.rate == 8000 and lv.duration == frames / 8000
    assert len(lv.levels[-1][1]) == 1  # pyramid ends in one bin
    for k, (size, mins, maxs) in enumerate(lv.levels):
        assert size == spb * 2**k
        want_min, want_max = brute(x, size)
        np.testing.assert_array_equal(mins, want_min)
        np.testing.assert_array_equal(maxs, want_max)
        assert mins.dtype == np.float32 and not mins.flags.writeable


def test_multichannel_and_other_dtypes_take_min_max_over_channels():
    rng = np.random.default_rng(1)
    x = rng.integers(-30000, 30000, size=(5000, 3)).astype(np.int16)
    lv = waveform_levels(x, 16000, samples_per_bin=32)
    flat = x.astype(np.float32)
    for size, mins, maxs in lv.levels:
        want_min, want_max = brute(flat, size)
        np.testing.assert_array_equal(mins, want_min)
        np.testing.assert_array_equal(maxs, want_max)


def test_blocks_do_not_change_the_result():
    # Longer than one decode block (64 Ki frames) with a bin size that does not divide it.
    x = np.random.default_rng(2).standard_normal(200_003).astype(np.float32)
    lv = waveform_levels(x, 32000, samples_per_bin=48)
    mins, maxs = brute(x, 48)
    np.testing.assert_array_equal(lv.levels[0][1], mins)
    np.testing.assert_array_equal(lv.levels[0][2], maxs)


def test_empty_and_short_input():
    empty = waveform_levels(np.zeros(0, np.float32), 32000)
    assert empty.frames == 0 and empty.duration == 0.0 and len(empty.levels) == 1
    t, mins, maxs = empty.window(0.0, 10.0, 100)
    assert len(t) == len(mins) == len(maxs) == 0

    short = waveform_levels(np.array([0.5, -0.25, 0.1], np.float32), 32000)
    assert len(short.levels) == 1
    t, mins, maxs = short.window(0.0, 1.0, 100)
    assert mins.tolist() == [-0.25] and maxs.tolist() == [0.5]
    assert t[0] == pytest.approx(1.5 / 32000)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        waveform_levels(np.zeros((4, 2, 2)), 100)
    with pytest.raises(ValueError):
        waveform_levels(np.zeros((4, 0)), 100)
    with pytest.raises(ValueError):
        waveform_levels(np.zeros(4), 0)
    with pytest.raises(ValueError):
        waveform_levels(np.zeros(4), 100, samples_per_bin=0)
    with pytest.raises(ValueError):
        waveform_levels(np.zeros(4), 100).window(0, 1, 0)


@pytest.fixture(scope="module")
def ten_minutes() -> tuple[np.ndarray, WaveformLevels]:
    rate = 32000
    x = np.random.default_rng(3).uniform(-1, 1, rate * 600).astype(np.float32)
    return x, waveform_levels(x, rate)


def test_ten_minute_pyramid_is_a_few_megabytes(ten_minutes):
    x, lv = ten_minutes
    assert lv.nbytes < 6e6 < x.nbytes  # 4.8 MB against 77 MB of audio
    assert lv.duration == 600.0


@pytest.mark.parametrize(("t0", "t1", "max_points"), [(0, 600, 2000), (0, 600, 3), (0, 600, 1),
                                                     (100.0, 101.0, 2000), (12.3, 12.31, 500),
                                                     (599.99, 600, 50), (-5, 700, 1000)])
def test_window_covers_the_span_within_the_point_budget(ten_minutes, t0, t1, max_points):
    x, lv = ten_minutes
    t, mins, maxs = lv.window(t0, t1, max_points)
    assert 1 <= len(t) <= max_points and len(t) == len(mins) == len(maxs)
    level = next(lvl for lvl in lv.levels if mins.base is lvl[1])
    spb = level[0]
    # The bins are consecutive, cover the clipped span, and the level is the finest that fits.
    first = int(t[0] * lv.rate // spb) * spb  # a bin's centre lies inside the bin
    assert np.allclose(t * lv.rate // spb, np.arange(len(t)) + first // spb)
    lo, hi = max(t0, 0.0) * lv.rate, min(t1, 600.0) * lv.rate
    assert first <= lo and first + len(t) * spb >= min(hi, lv.frames)
    assert np.allclose(np.diff(t[:-1]), spb / lv.rate)  # the track's last bin may be short
    if spb > lv.levels[0][0]:
        finer = spb // 2
        assert math.ceil(hi / finer) - int(lo // finer) > max_points
    # The values are the true extremes of those samples.
    seg = x[first:first + len(t) * spb]
    assert float(mins.min()) == float(seg.min()) and float(maxs.max()) == float(seg.max())


def test_window_at_full_view_picks_a_level_near_the_budget(ten_minutes):
    _, lv = ten_minutes
    for width in (300, 800, 1920, 3840):
        t, _, _ = lv.window(0, 600, 2 * width)
        assert width < len(t) <= 2 * width  # halving levels: always within a factor of two
        assert t[0] > 0 and t[-1] < 600


def test_window_accepts_reversed_and_zero_spans(ten_minutes):
    _, lv = ten_minutes
    a = lv.window(20.0, 10.0, 400)
    b = lv.window(10.0, 20.0, 400)
    np.testing.assert_array_equal(a[0], b[0])
    t, mins, _ = lv.window(600.0, 600.0, 10)
    assert len(t) == 1 and len(mins) == 1
    t, _, _ = lv.window(250.0, 250.0, 10)
    assert len(t) == 1 and abs(t[0] - 250.0) < 0.01
