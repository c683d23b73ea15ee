"""Long work off the UI thread: a worker ``QObject`` moved to its own ``QThread``.

The pattern of napari's ``thread_worker`` and superqt: the work is a plain function
``work(progress, cancel) -> result`` that knows nothing of Qt; :class:`Task` runs it on a
thread and turns its progress calls, its result, a cancellation and any error into signals
that arrive on the UI thread. An error becomes one plain sentence — never a traceback in the
user's face (the traceback still goes to the log for whoever debugs it).

Shutdown has one path, :func:`shutdown`: every started Task is registered here until its
thread has ended, so a window (or a test) that drops its last reference to a running Task
never destroys a running ``QThread`` (Qt aborts the process when that happens). On close the
app cancels every running Task and waits for each within a bounded time; a thread that cannot
stop in time (an import of torch cannot be interrupted) stays registered, and :func:`finish`
(called by ``main`` with the window hidden, and by an exit hook) waits for it to end before
the interpreter tears the objects down, so the process exits normally once the work has
stopped.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from lumina.errors import Cancelled, LuminaError
from lumina.progress import ProgressClock, ProgressState

__all__ = ["Task", "Work", "finish", "live_tasks", "plain_error", "shutdown"]

log = logging.getLogger("lumina_app")

#: ``work(progress, cancel)``: call ``progress(done, total)`` as steps finish and stop soon
#: after ``cancel`` is set (raising :class:`lumina.fingerprint.Cancelled` or returning).
Work = Callable[[Callable[[int, int], None], threading.Event], object]


#: Seconds :func:`shutdown` waits for each cancelled Task before leaving it to the exit hook.
GRACE_SECONDS = 3.0
#: Seconds the exit hook waits for threads still running before it ends the process anyway.
LINGER_SECONDS = 300.0

#: Every started Task whose thread has not ended yet (strong references: see the module doc).
_LIVE: set[Task] = set()
_LIVE_LOCK = threading.Lock()


def live_tasks() -> list[Task]:
    """The Tasks started and not yet ended (their threads may still be running)."""
    with _LIVE_LOCK:
        return [t for t in _LIVE if not t.is_finished()]


def _prune() -> None:
    with _LIVE_LOCK:
        for task in [t for t in _LIVE if t.is_finished()]:
            _LIVE.discard(task)


def shutdown(grace: float | None = None) -> list[str]:
    """Cancel every running Task and wait up to ``grace`` seconds (default
    :data:`GRACE_SECONDS`) for each to end.

    The one shutdown path of the app (the window's close and ``main`` both call it; tests
    too). Returns the labels of the Tasks still running after their grace: they stay
    registered, so their ``QThread`` is not destroyed, and the exit hook waits for them.
    """
    grace = GRACE_SECONDS if grace is None else grace
    tasks = live_tasks()
    for task in tasks:
        task.cancel()
    stuck: list[str] = []
    for task in tasks:
        if not task.wait(int(grace * 1000)):
            stuck.append(task.label)
    _prune()
    if stuck:
        log.warning("still finishing after cancel: %s (the app exits when they end)",
                    ", ".join(stuck))
    return stuck


def finish(timeout: float = LINGER_SECONDS) -> bool:
    """Cancel what still runs and wait, up to ``timeout`` seconds in all, until every Task's
    thread has ended (after :func:`shutdown`, with the window already hidden). Returns
    whether all ended."""
    tasks = live_tasks()
    for task in tasks:
        task.cancel()
    deadline = time.monotonic() + timeout
    for task in tasks:
        if not task.wait(int(max(0.0, deadline - time.monotonic()) * 1000)):
            return False
    _prune()
    return True


def _wait_at_exit() -> None:
    """Before the interpreter tears anything down: let cancelled threads end (bounded).

    Registered to run before the ``atexit`` handlers of libraries imported later (torch's
    would otherwise run while a worker is still importing it)."""
    if not finish():
        # A thread that ignores its cancel for minutes: end the process without destroying
        # the QThread under it (that would abort with a core dump).
        log.error("tasks %s did not stop; exiting anyway",
                  ", ".join(t.label for t in live_tasks()))
        logging.shutdown()
        os._exit(0)


try:  # runs in threading's shutdown, before every atexit handler
    threading._register_atexit(_wait_at_exit)  # type: ignore[attr-defined]
except (AttributeError, RuntimeError):  # pragma: no cover - other Pythons
    atexit.register(_wait_at_exit)


def plain_error(exc: BaseException) -> str:
    """One sentence for a dialog: the engine's own message when it has one."""
    if isinstance(exc, LuminaError):
        text = str(exc)
    elif isinstance(exc, MemoryError):
        text = "Not enough memory for this task."
    elif isinstance(exc, OSError) and exc.strerror:
        where = f" ({exc.filename})" if exc.filename else ""
        text = f"{exc.strerror}{where}."
    else:
        text = f"Unexpected {type(exc).__name__}: {exc}" if str(exc) else (
            f"Unexpected {type(exc).__name__}.")
    return " ".join(text.split()) or "The task failed."


class _Worker(QObject):
    """The half of a :class:`Task` that lives on the worker thread."""

    progressed = Signal(object)
    succeeded = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    done = Signal()

    def __init__(self, work: Work, label: str, cancel_event: threading.Event) -> None:
        super().__init__()
        self.work = work
        self.label = label
        self.cancel_event = cancel_event
        self._last_emit = -1.0
        self._clock: ProgressClock | None = None

    def _progress(self, done: int, total: int) -> None:
        assert self._clock is not None
        state: ProgressState = self._clock.reading(done, total)
        # Coalesce: a queued signal per chunk of a fast step would flood the event loop.
        if done < total and state.elapsed - self._last_emit < 0.05:
            return
        self._last_emit = state.elapsed
        self.progressed.emit(state)

    @Slot()
    def run(self) -> None:
        self._clock = ProgressClock()
        try:
            result = self.work(self._progress, self.cancel_event)
        except Cancelled:
            self.cancelled.emit()
        except Exception as exc:  # every error reaches the user as a sentence
            if not isinstance(exc, LuminaError):
                log.exception("task %s failed", self.label)
            self.failed.emit(plain_error(exc))
        else:
            if self.cancel_event.is_set():
                self.cancelled.emit()
            else:
                self.succeeded.emit(result)
        finally:
            self.done.emit()


class Task(QObject):
    """Runs one :data:`Work` function on a new thread.

    The Task itself stays on the thread that made it (the UI thread) and re-emits what its
    worker reports, so any slot — a bound method, a lambda, a partial — runs on the UI
    thread. (PySide6 calls a plain callable connected to a signal on the emitting thread.)

    Signals:

    - ``progressed(ProgressState)`` — at most every 50 ms, and always on the last step;
    - ``succeeded(object)`` — the function's return value;
    - ``failed(str)`` — one plain sentence;
    - ``cancelled()`` — the user cancelled and the function stopped;
    - ``done()`` — always last, whatever happened.
    """

    progressed = Signal(object)
    succeeded = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    done = Signal()

    def __init__(self, work: Work, label: str = "", parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.label = label
        self.cancel_event = threading.Event()
        self._worker = _Worker(work, label, self.cancel_event)
        for name in ("progressed", "succeeded", "failed", "cancelled", "done"):
            getattr(self._worker, name).connect(getattr(self, name))
        self._thread: QThread | None = None

    def start(self) -> None:
        """Move the worker to a fresh thread and run it there. A Task runs once."""
        if self._thread is not None:
            raise RuntimeError("a Task runs only once")
        thread = QThread()
        thread.setObjectName(f"lumina-{self.label or 'task'}")
        self._worker.moveToThread(thread)
        thread.started.connect(self._worker.run)
        # Direct: QThread.quit is thread-safe, and a queued quit would wait for the UI thread,
        # which may itself be waiting for this thread to end (shutdown, tests).
        self._worker.done.connect(thread.quit, Qt.ConnectionType.DirectConnection)
        self._thread = thread  # owned here: the thread lives as long as its Task
        # … and the Task lives (registered) as long as its thread runs.
        thread.finished.connect(self._thread_finished)
        with _LIVE_LOCK:
            _LIVE.add(self)
        thread.start()

    @Slot()
    def _thread_finished(self) -> None:
        # On the UI thread, queued after ``finished``: the thread is ending; wait for it.
        if self._thread is not None and self._thread.wait(5_000):
            with _LIVE_LOCK:
                _LIVE.discard(self)

    def cancel(self) -> None:
        """Ask the work to stop; ``cancelled`` follows once it has."""
        self.cancel_event.set()

    def is_running(self) -> bool:
        return self._thread is not None and self._thread.isRunning()

    def is_finished(self) -> bool:
        """Whether the thread ran and ended (False before :meth:`start`)."""
        return self._thread is not None and self._thread.isFinished()

    def wait(self, msecs: int = 30_000) -> bool:
        """Block until the thread ends (for shutdown and tests)."""
        return self._thread is None or self._thread.wait(msecs)
