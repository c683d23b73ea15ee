"""Rate and ETA of long work (shared by the CLI bars and the app)."""

from __future__ import annotations

import pytest

from lumina.progress import ProgressClock, format_seconds


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_eta_is_linear_in_steps_done():
    clock = FakeClock()
    progress = ProgressClock(clock)
    first = progress.reading(0, 10)
    assert first.eta is None and first.fraction == 0.0
    assert "estimating" in first.describe("chunks")
    clock.now += 6.0
    state = progress.reading(3, 10)
    assert state.elapsed == pytest.approx(6.0) and state.eta == pytest.approx(14.0)
    assert state.describe("chunks") == "3/10 chunks · 6 s elapsed · about 14 s left"
    clock.now += 14.0
    done = progress.reading(10, 10)
    assert done.eta == 0.0 and done.fraction == 1.0
    assert done.describe() == "10/10 · 20 s elapsed"


def test_zero_total_is_not_a_division_by_zero():
    state = ProgressClock(FakeClock()).reading(0, 0)
    assert state.fraction == 0.0 and state.eta is None


@pytest.mark.parametrize("seconds, text", [(0, "0 s"), (7.4, "7 s"), (59.6, "1 min 00 s"),
                                           (125, "2 min 05 s"), (3780, "1 h 03 min"),
                                           (-3, "0 s")])
def test_format_seconds(seconds, text):
    assert format_seconds(seconds) == text
