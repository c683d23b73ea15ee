"""Rate and time-to-finish of long work, shared by the command line's bars and the app.

Every long engine call takes a ``progress(done, total)`` callback; :class:`ProgressClock`
turns those calls into what a person waits on — how far, how fast, how long still.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["ProgressClock", "ProgressState", "format_clock", "format_seconds"]


@dataclass(frozen=True)
class ProgressState:
    """One reading: ``done`` of ``total`` steps after ``elapsed`` seconds.

    ``eta`` is None until the first step is done (no rate to extrapolate from yet).
    """

    done: int
    total: int
    elapsed: float
    eta: float | None

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total > 0 else 0.0

    def describe(self, unit: str = "") -> str:
        """E.g. ``"3/12 chunks · 4 s elapsed · about 12 s left"``."""
        unit = f" {unit}" if unit else ""
        text = f"{self.done}/{self.total}{unit} · {format_seconds(self.elapsed)} elapsed"
        if self.done >= self.total > 0:
            return text
        if self.eta is None:
            return f"{text} · estimating time left…"
        return f"{text} · about {format_seconds(self.eta)} left"


@dataclass
class ProgressClock:
    """Measures progress against a monotonic clock started at construction.

    The estimate is linear in steps done (elapsed / done × remaining): chunks and songs
    cost about the same each, and a first step that includes warm-up only overestimates.
    """

    clock: Callable[[], float] = time.monotonic
    start: float = field(default=float("nan"))

    def __post_init__(self) -> None:
        if self.start != self.start:  # NaN: not given
            self.start = self.clock()

    def reading(self, done: int, total: int) -> ProgressState:
        elapsed = max(0.0, self.clock() - self.start)
        eta = None
        if done > 0 and total > 0:
            eta = max(0.0, elapsed / done * (total - done))
        return ProgressState(done=done, total=total, elapsed=elapsed, eta=eta)


def format_seconds(seconds: float) -> str:
    """``"7 s"``, ``"2 min 05 s"``, ``"1 h 03 min"``."""
    s = int(round(max(0.0, seconds)))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def format_clock(seconds: float, tenths: bool = True) -> str:
    """A play position, ``m:ss.s`` (``"1:05.3"``); ``tenths=False``: ``m:ss`` rounded to the
    second (``"1:05"``)."""
    seconds = max(0.0, float(seconds))
    if not tenths:
        total = int(round(seconds))
        return f"{total // 60}:{total % 60:02d}"
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"
