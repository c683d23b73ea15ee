"""Work one item ahead of the consumer on a background thread.

Indexing and auditing both decode the next file while the model fingerprints the current
one (decoding — soundfile, PyAV, soxr, numpy — releases the GIL). :class:`ReadAhead` is that
one mechanism: bounded memory (``depth`` results waiting), results in input order, stoppable.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Generic, TypeVar

__all__ = ["ReadAhead"]

T = TypeVar("T")
R = TypeVar("R")


class ReadAhead(Generic[T, R]):
    """Iterates ``work(item)`` for each of ``items``, computed ahead on a thread.

    ``work`` should not raise: an escaped exception is handed to ``on_error(item, exc)``,
    whose return value takes the result's place, so the consumer never waits forever.
    """

    def __init__(self, items: Sequence[T], work: Callable[[T], R],
                 on_error: Callable[[T, Exception], R], *, depth: int = 1,
                 name: str = "lumina-read-ahead") -> None:
        self._items = items
        self._work = work
        self._on_error = on_error
        self._queue: queue.Queue[R] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for item in self._items:
            if self._stop.is_set():
                return
            try:
                result = self._work(item)
            except Exception as exc:  # a bug must not leave the consumer waiting forever
                result = self._on_error(item, exc)
            while not self._stop.is_set():
                try:
                    self._queue.put(result, timeout=0.1)
                    break
                except queue.Full:
                    continue

    def __iter__(self) -> Iterator[R]:
        for _ in self._items:
            yield self._queue.get()

    def stop(self) -> None:
        """Stop after the item in hand; the thread ends within ~0.1 s of the next put."""
        self._stop.set()
