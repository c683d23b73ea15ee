"""What a cluster run reports: one reading per worker and per run, and the run's summary."""

from __future__ import annotations

from dataclasses import dataclass

from lumina.indexing.local import IndexSummary
from lumina.progress import format_seconds

__all__ = ["ClusterStatus", "ClusterSummary", "WorkerInfo"]


@dataclass(frozen=True)
class WorkerInfo:
    """One actor as the driver sees it: ``state`` is ``starting``, ``ready`` or ``gone``."""

    number: int
    state: str
    pid: int
    host: str
    device: str
    busy: int
    songs: int


@dataclass(frozen=True)
class ClusterStatus:
    """One reading of a cluster run, given to the ``progress`` callback.

    ``done`` counts files settled and committed in order (indexed, skipped or failed) out of
    ``total``; ``songs_per_hour`` is the rate of songs fingerprinted and committed, ``eta``
    the time left at that rate (None until the first song).
    """

    done: int
    total: int
    indexed: int
    skipped: int
    failed: int
    retries: int
    in_flight: int
    workers: tuple[WorkerInfo, ...]
    workers_lost: int
    elapsed: float
    songs_per_hour: float | None
    eta: float | None

    @property
    def ready_workers(self) -> int:
        return sum(1 for w in self.workers if w.state == "ready")

    def describe(self) -> str:
        """E.g. ``"120/1000 songs · 2 workers · 5012 songs/h · 1 failed · 1 min 26 s
        elapsed · about 10 min 32 s left"``."""
        parts = [f"{self.done}/{self.total} songs", f"{self.ready_workers} worker(s)"]
        if self.songs_per_hour is not None:
            parts.append(f"{self.songs_per_hour:.0f} songs/h")
        parts.append(f"{self.failed} failed")
        if self.retries:
            parts.append(f"{self.retries} retried")
        if self.workers_lost:
            parts.append(f"{self.workers_lost} worker(s) lost")
        parts.append(f"{format_seconds(self.elapsed)} elapsed")
        if self.done < self.total:
            parts.append("estimating time left…" if self.eta is None
                         else f"about {format_seconds(self.eta)} left")
        return " · ".join(parts)


@dataclass
class ClusterSummary(IndexSummary):
    """:class:`~lumina.indexing.IndexSummary` plus what the cluster did."""

    retries: int = 0
    workers: int = 0
    workers_lost: int = 0
    songs_per_hour: float = 0.0
    library_songs: int = 0

