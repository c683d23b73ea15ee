"""App tests leave nothing running: a test that ends with a worker ``QThread`` (a
:class:`lumina_app.tasks.Task`) or a non-daemon Python thread still alive fails, after a
bounded wait that lets a thread which is merely finishing end."""

from __future__ import annotations

import threading

import pytest

#: Seconds a thread left by a test may take to end before the test fails.
JOIN_SECONDS = 15.0


@pytest.fixture(autouse=True)
def no_thread_left_running():
    from lumina_app import tasks

    before = set(threading.enumerate())
    yield
    # A Task that emitted ``done`` may still be ending its thread on a loaded machine: wait
    # for it (not cancelling it) before calling it left running.
    left = [t for t in tasks.live_tasks() if not t.wait(int(JOIN_SECONDS * 1000))]
    stuck = tasks.shutdown(grace=JOIN_SECONDS) if left else []
    # Task threads are QThreads (not in threading.enumerate); the rest are Python threads.
    threads = [t for t in threading.enumerate()
               if t not in before and not t.daemon and t is not threading.main_thread()]
    for thread in threads:
        thread.join(JOIN_SECONDS)
    alive = [t.name for t in threads if t.is_alive()]
    assert not left, (f"test left worker task(s) running: {[t.label for t in left]}"
                      + (f" (still running after {JOIN_SECONDS:g} s: {stuck})" if stuck
                         else ""))
    assert not alive, f"test left non-daemon thread(s) running: {alive}"
