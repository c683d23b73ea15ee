"""Work on a QThread: progress, result, cancel and errors arrive as signals."""

from __future__ import annotations

import threading
import time

from PySide6.QtCore import QObject, QThread

from lumina.errors import AudioError
from lumina.fingerprint.fingerprinter import Cancelled
from lumina_app.tasks import Task, plain_error


class Receiver(QObject):
    """Receivers live on the UI thread, like the main window's slots."""

    def __init__(self) -> None:
        super().__init__()
        self.states, self.results, self.errors, self.cancels = [], [], [], 0
        self.threads: list[QThread] = []

    def on_progress(self, state) -> None:
        self.states.append(state)
        self.threads.append(QThread.currentThread())

    def on_result(self, value) -> None:
        self.results.append(value)

    def on_error(self, message: str) -> None:
        self.errors.append(message)

    def on_cancel(self) -> None:
        self.cancels += 1


def _run(qtbot, work) -> tuple[Task, Receiver]:
    task, rec = Task(work, label="test"), Receiver()
    task.progressed.connect(rec.on_progress)
    task.succeeded.connect(rec.on_result)
    task.failed.connect(rec.on_error)
    task.cancelled.connect(rec.on_cancel)
    with qtbot.waitSignal(task.done, timeout=10_000):
        task.start()
    assert task.wait(5_000)
    return task, rec


def test_result_and_progress_arrive_on_the_ui_thread(qtbot):
    worker_threads = []

    def work(progress, cancel):
        worker_threads.append(threading.current_thread())
        for i in range(1, 6):
            time.sleep(0.06)
            progress(i, 5)
        return "done"

    _, rec = _run(qtbot, work)
    assert rec.results == ["done"] and not rec.errors and rec.cancels == 0
    assert worker_threads[0] is not threading.main_thread()
    assert rec.states[-1].done == 5 and rec.states[-1].eta == 0.0
    assert all(t is QThread.currentThread() for t in rec.threads)


def test_engine_error_is_one_plain_sentence(qtbot):
    def work(progress, cancel):
        raise AudioError("broken.wav: not an audio file (it looks like a PDF document)")

    _, rec = _run(qtbot, work)
    assert rec.errors == ["broken.wav: not an audio file (it looks like a PDF document)"]
    assert not rec.results


def test_unexpected_error_has_no_traceback(qtbot):
    def work(progress, cancel):
        raise KeyError("x")

    _, rec = _run(qtbot, work)
    assert len(rec.errors) == 1 and "\n" not in rec.errors[0]
    assert "Traceback" not in rec.errors[0] and "KeyError" in rec.errors[0]


def test_cancel_stops_the_work(qtbot):
    started = threading.Event()

    def work(progress, cancel):
        started.set()
        for i in range(1000):
            if cancel.is_set():
                raise Cancelled("cancelled")
            time.sleep(0.01)
            progress(i, 1000)
        return "finished"

    task, rec = Task(work, label="cancel"), Receiver()
    task.succeeded.connect(rec.on_result)
    task.cancelled.connect(rec.on_cancel)
    task.start()
    assert started.wait(5)
    with qtbot.waitSignal(task.done, timeout=10_000):
        task.cancel()
    assert rec.cancels == 1 and not rec.results


def test_plain_error_messages():
    assert plain_error(FileNotFoundError(2, "No such file or directory", "/x/a.wav")) == (
        "No such file or directory (/x/a.wav).")
    assert plain_error(MemoryError()) == "Not enough memory for this task."
    assert plain_error(ValueError("bad\nvalue")) == "Unexpected ValueError: bad value"
