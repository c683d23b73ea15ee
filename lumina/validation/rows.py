"""One line of the study's table (:class:`Row`) and the arithmetic every row shares.

Each row is one number with what it should be read against: chance, the issue's goal, and
where the LUMINA paper claims something, the paper's figure.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

__all__ = ["Row", "fraction", "rank_desc"]


@dataclass
class Row:
    """One number of the table; ``goal`` reads ``">= 0.95"`` or ``"<= 0.0005%"``, and
    ``goal_met`` follows from it unless given."""

    id: str
    row: int
    measure: str
    channel: str
    value: float | None
    unit: str = "fraction"
    chance: float | None = None
    goal: str | None = None
    goal_met: bool | None = None
    paper: str | None = None
    n: int | None = None
    note: str | None = None

    def __post_init__(self) -> None:
        if self.goal_met is None:
            self.goal_met = _meets(self.value, self.goal)


def _meets(value: float | None, goal: str | None) -> bool | None:
    # No verdict for a number that was not measured (None, NaN) or has no goal.
    if value is None or goal is None or not math.isfinite(value):
        return None
    op, _, threshold = goal.partition(" ")
    limit = float(threshold.rstrip("%"))
    return value >= limit if op == ">=" else value <= limit


def rank_desc(scores: np.ndarray) -> np.ndarray:
    """Indices from the highest score down; ties keep their order (stable sort)."""
    return np.argsort(-np.asarray(scores), kind="stable")


def fraction(flags: Iterable[bool]) -> float:
    """The fraction of true flags; NaN for none (a row with nothing measured)."""
    flags = list(flags)
    return float(np.mean(flags)) if flags else float("nan")
