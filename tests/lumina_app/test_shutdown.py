"""Closing the window in every state ends cleanly: the running work is cancelled, waited
for within a bounded time, the settings are saved, and no ``QThread`` is destroyed while it
runs (Qt aborts the process when that happens: exit −6).

Every wait here is on an event or a signal, with timeouts generous enough for a loaded
two-core machine; nothing sleeps for a fixed time.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading

import numpy as np
import pytest

from lumina_app import jobs, tasks
from lumina_app.main import MainWindow
from lumina_app.settings import AppSettings

SLOW = 120_000  # ms: a model load plus a first chunk on a busy machine


def write_song(path, seconds: float, seed: int, rate: int = 32000):
    import soundfile as sf

    from lumina.demo.synth import random_music

    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, random_music(seconds, rate, seed), rate)
    return path


@pytest.fixture
def settings(tmp_path):
    return AppSettings(tmp_path / "app.ini")


def _window(qtbot, settings, library=None, **kwargs) -> MainWindow:
    win = MainWindow(settings, library=library, dialogs=False, **kwargs)
    qtbot.addWidget(win)
    return win


def _close_and_check(qtbot, win, settings) -> None:
    """Close, then: nothing left running, the settings written."""
    win.close()
    assert not win.isVisible()
    qtbot.waitUntil(lambda: not tasks.live_tasks(), timeout=SLOW)
    assert AppSettings(settings.path).geometry is not None


def _library_copy(catalog, tmp_path):
    lib = tmp_path / "lib"
    shutil.copytree(catalog[0], lib, ignore=shutil.ignore_patterns("cache", "writer.lock"))
    return lib


def test_close_during_an_uninterruptible_device_probe(qtbot, settings, monkeypatch):
    """The probe imports torch, which cannot be interrupted: the window closes at once, the
    thread is kept alive (not destroyed while it runs) and ends on its own."""
    started, release = threading.Event(), threading.Event()

    def probe(choice, progress, cancel):
        started.set()
        release.wait(60)  # ignores cancel, like an import
        return "CPU"

    monkeypatch.setattr(jobs, "probe_device", probe)
    monkeypatch.setattr(tasks, "GRACE_SECONDS", 0.2)
    win = _window(qtbot, settings, build_demo_when_empty=False)
    assert started.wait(30)
    win.close()
    assert not win.isVisible() and AppSettings(settings.path).geometry is not None
    assert [t.label for t in tasks.live_tasks()] == ["device"]  # kept, not destroyed
    del win
    release.set()
    qtbot.waitUntil(lambda: not tasks.live_tasks(), timeout=SLOW)


def test_close_during_the_first_start_demo_build(qtbot, settings):
    win = _window(qtbot, settings)
    assert win.library_task is not None
    with qtbot.waitSignal(win.library_task.progressed, timeout=SLOW):
        pass
    _close_and_check(qtbot, win, settings)
    assert win.library is None


def test_close_during_an_analysis(qtbot, settings, catalog, tmp_path):
    track = write_song(tmp_path / "long.wav", 90.0, 5)
    win = _window(qtbot, settings, library=catalog[0])
    qtbot.waitUntil(lambda: win.library is not None, timeout=SLOW)
    with qtbot.waitSignal(win.trackShown, timeout=SLOW):
        win.open_track(track)
    win.analyze()
    with qtbot.waitSignal(win.analysis_task.progressed, timeout=SLOW):
        pass
    _close_and_check(qtbot, win, settings)
    assert win.result is None


def test_close_during_indexing_then_the_index_resumes(qtbot, settings, catalog, tmp_path):
    from lumina.library import Library, verify

    lib = _library_copy(catalog, tmp_path)
    folder = tmp_path / "more"
    for i in range(4):
        write_song(folder / f"More {i}.wav", 3.0, 700 + i)
    win = _window(qtbot, settings, library=lib)
    qtbot.waitUntil(lambda: win.library is not None, timeout=SLOW)
    win.index_folder(folder)
    with qtbot.waitSignal(win.library_task.progressed, timeout=SLOW):
        pass
    _close_and_check(qtbot, win, settings)
    assert verify(lib).ok

    again = _window(qtbot, AppSettings(settings.path))
    qtbot.waitUntil(lambda: again.library is not None, timeout=SLOW)
    outcomes = []
    again._on_indexed = outcomes.append  # the slot the task reports to
    again.index_folder(folder)
    qtbot.waitUntil(lambda: again.library_task is None, timeout=SLOW)
    assert outcomes and outcomes[0].indexed + outcomes[0].skipped == 4
    assert outcomes[0].failed == 0 and not outcomes[0].cancelled
    with Library.open(lib) as opened:
        assert len(opened) == 9
    again.close()


def test_close_during_an_export(qtbot, settings, catalog, tmp_path):
    from lumina.reports.verify import verify_report

    win = _window(qtbot, settings, library=catalog[0])
    qtbot.waitUntil(lambda: win.library is not None, timeout=SLOW)
    with qtbot.waitSignal(win.trackShown, timeout=SLOW):
        win.open_track(catalog[1][0])
    with qtbot.waitSignal(win.analysisShown, timeout=SLOW):
        win.analyze()
    out = tmp_path / "out" / "report.pdf"
    win.export_report(out)
    assert any(t.label == "export" for t in tasks.live_tasks())
    _close_and_check(qtbot, win, settings)
    for path in (out, out.with_suffix(".json")):  # written whole, or not at all
        if path.exists():
            verify_report(path)


def test_close_during_an_audit(qtbot, settings, catalog, tmp_path):
    win = _window(qtbot, settings, library=catalog[0])
    qtbot.waitUntil(lambda: win.library is not None, timeout=SLOW)
    win.audit(list(catalog[1]), out=tmp_path / "audit")
    assert win.audit_task is not None
    with qtbot.waitSignal(win.audit_task.progressed, timeout=SLOW):
        pass
    _close_and_check(qtbot, win, settings)


class _PullingStream:
    """A fake output stream whose own thread pulls blocks through the player's callback, as
    PortAudio's thread does."""

    def __init__(self, *, samplerate, channels, dtype, callback) -> None:
        self.channels, self.callback = channels, callback
        self.pulled, self.halt = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._pull, name="fake-portaudio")

    def _pull(self) -> None:
        while not self.halt.wait(0.005):
            self.callback(np.zeros((256, self.channels), np.float32), 256, None, None)
            self.pulled.set()

    def start(self) -> None:
        self.thread.start()

    def abort(self) -> None:
        self.halt.set()
        if self.thread.is_alive():
            self.thread.join(10)

    def close(self) -> None:
        self.abort()


def test_close_during_playback(qtbot, settings, catalog, monkeypatch):
    import functools

    from lumina_app import window as window_module
    from lumina_app.player import Player

    streams: list[_PullingStream] = []

    def factory(**kwargs):
        streams.append(_PullingStream(**kwargs))
        return streams[-1]

    monkeypatch.setattr(window_module, "Player",
                        functools.partial(Player, stream_factory=factory, device_rate=8000))
    win = _window(qtbot, settings, library=catalog[0])
    with qtbot.waitSignal(win.trackShown, timeout=SLOW):
        win.open_track(catalog[1][-1])
    win.toggle_play()
    assert win.player.state() == "playing" and streams[0].pulled.wait(30)
    _close_and_check(qtbot, win, settings)
    assert not streams[0].thread.is_alive()


#: ``lumina-app`` as a user runs it, quitting when ``WHEN`` holds (polled on the UI thread).
APP = """
import sys, threading
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from lumina_app import jobs
from lumina_app.main import MainWindow, main

app = QApplication(sys.argv)
mode = sys.argv[1]
started = threading.Event()
if mode == "probe":
    def probe(choice, progress, cancel):
        started.set()
        threading.Event().wait(6)  # an import of torch: deaf to cancel
        return "CPU"
    jobs.probe_device = probe

def ready():
    wins = [w for w in app.topLevelWidgets() if isinstance(w, MainWindow)]
    if not wins:
        return False
    if mode == "probe":
        return started.is_set()
    if mode == "first-start":
        return wins[0].library_task is not None
    return wins[0].track is not None

def poll():
    if ready():
        app.quit()
    else:
        QTimer.singleShot(20, poll)

QTimer.singleShot(0, poll)
sys.exit(main(["lumina-app", *sys.argv[2:]]))
"""


@pytest.mark.parametrize("mode", ["probe", "first-start", "track"])
def test_the_app_process_exits_0_when_closed_early(tmp_path, catalog, mode):
    env = {"QT_QPA_PLATFORM": "offscreen", "LUMINA_HOME": str(tmp_path),
           "LUMINA_CACHE": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"}
    args = []
    if mode != "first-start":
        (tmp_path / "lumina-app.ini").write_text(f"[engine]\nlast_library={catalog[0]}\n")
        args = [str(catalog[1][0])]
    out = subprocess.run([sys.executable, "-c", APP, mode, *args], capture_output=True,
                         text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Traceback" not in out.stderr and "QThread: Destroyed" not in out.stderr
    assert "geometry" in (tmp_path / "lumina-app.ini").read_text()
