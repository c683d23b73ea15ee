"""The command line's progress: a bar on a terminal, a plain line a minute elsewhere, with
time left from the measured rate (a fake clock, no sleeping)."""

from __future__ import annotations

import io

from lumina.cli.output import LOG_INTERVAL, ProgressBar, StatusLine, print_line


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_not_a_terminal_prints_a_line_at_start_about_once_a_minute_and_at_the_end():
    clock, out = FakeClock(), io.StringIO()
    bar = ProgressBar("index", out, clock=clock)
    assert not bar.interactive  # StringIO is not a terminal
    bar(0, 10)
    for step in range(1, 4):  # 20 s a step: no line until a minute has passed
        clock.now += 20.0
        bar(step, 10)
    clock.now += 20.0
    bar(4, 10)  # 80 s in, 60 s after the first line
    clock.now += 120.0
    bar(10, 10)
    bar(10, 10)  # a repeated final call prints nothing more
    assert out.getvalue().splitlines() == [
        "index: 0/10 · 0 s elapsed · estimating time left…",
        "index: 3/10 · 1 min 00 s elapsed · about 2 min 20 s left",
        "index: 10/10 · 3 min 20 s elapsed",
    ]
    assert "\r" not in out.getvalue() and "#" not in out.getvalue()


def test_time_left_follows_the_measured_rate_not_a_promise():
    clock, out = FakeClock(), io.StringIO()
    bar = ProgressBar("audit", out, clock=clock)
    clock.now += 30.0
    bar(1, 5)  # 30 s a track so far: 2 min for the 4 left
    clock.now += LOG_INTERVAL
    bar(2, 5)  # 45 s a track now: 2 min 15 s for 3
    assert out.getvalue().splitlines() == [
        "audit: 1/5 · 30 s elapsed · about 2 min 00 s left",
        "audit: 2/5 · 1 min 30 s elapsed · about 2 min 15 s left",
    ]


def test_on_a_terminal_the_bar_is_redrawn_in_place_and_messages_do_not_garble_it():
    clock, out = FakeClock(), io.StringIO()
    bar = ProgressBar("fingerprint", out, interactive=True, clock=clock)
    bar(1, 4)
    clock.now += 0.01
    bar(2, 4)  # within the redraw interval: skipped
    clock.now += 1.0
    bar(2, 4)
    print_line(bar, "warning: clipping", out)
    clock.now += 1.0
    bar(4, 4)
    text = out.getvalue()
    assert text.count("\r\033[K") == 4 and text.endswith("4/4 · 2 s elapsed\n")
    assert "fingerprint [#######---------------------] 1/4" in text
    assert "\r\033[Kwarning: clipping\n" in text
    assert text.count("\n") == 2


def test_a_status_line_shows_any_text_on_the_same_schedule():
    clock, out = FakeClock(), io.StringIO()
    line = StatusLine(out, clock=clock)
    line.show("ray: 1/3")
    clock.now += 10.0
    line.show("ray: 2/3")
    line.line("failed: x.wav")
    line.show("ray: 3/3", finished=True)
    line.end()
    assert out.getvalue().splitlines() == ["ray: 1/3", "failed: x.wav", "ray: 3/3"]


def test_a_zero_total_prints_nothing():
    out = io.StringIO()
    ProgressBar("x", out, clock=FakeClock())(0, 0)
    assert out.getvalue() == ""
