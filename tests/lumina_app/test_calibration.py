"""Library calibration from the library panel: the Calibration row in its three states,
Calibrate running :func:`lumina.calibration.calibrate_library` on a worker with progress,
Cancel storing nothing, an error as one line, and closing the window mid-run.

Every wait is on a signal, an event or a condition; a run is held at its first step by a
progress callback that waits for the cancel, so a cancel never races the end of the run.
"""

from __future__ import annotations

import shutil
import threading
from types import SimpleNamespace

import pytest

from lumina.calibration import CALIBRATION_FILE, CalibrationPlan
from lumina.errors import LuminaError
from lumina_app import jobs, tasks
from lumina_app.library_panel import LibraryPanel
from lumina_app.main import MainWindow
from lumina_app.settings import AppSettings

SLOW = 120_000  # ms: a model load plus a few fingerprints on a busy machine
#: Two held-out songs and two MP3 copies: a few seconds with the tiny model.
FAST_PLAN = CalibrationPlan(sample=2, transforms=("mp3_128k",))


@pytest.fixture
def settings(tmp_path):
    return AppSettings(tmp_path / "app.ini")


@pytest.fixture
def library(catalog, tmp_path):
    """A private copy of the session catalog (calibrating writes into the library)."""
    lib = tmp_path / "lib"
    shutil.copytree(catalog[0], lib, ignore=shutil.ignore_patterns("cache", "writer.lock"))
    return lib


@pytest.fixture
def window(qtbot, settings, library):
    win = MainWindow(settings, library=library, dialogs=False)
    qtbot.addWidget(win)
    win.calibration_plan = FAST_PLAN
    qtbot.waitUntil(lambda: win.library is not None, timeout=SLOW)
    yield win
    win.close()


def _held_at_first_step(monkeypatch) -> threading.Event:
    """Make the calibration job wait, after its first step, until it is cancelled; returns
    the event set when it is waiting there."""
    waiting = threading.Event()
    real = jobs.calibrate_library

    def held(library_path, progress, cancel, **kwargs):
        def report(done, total):
            progress(done, total)
            if not waiting.is_set():
                waiting.set()
                assert cancel.wait(SLOW / 1000)

        return real(library_path, report, cancel, **kwargs)

    monkeypatch.setattr(jobs, "calibrate_library", held)
    return waiting


def _calibration(current: bool) -> SimpleNamespace:
    """What the panel reads of a :class:`lumina.calibration.LibraryCalibration`."""
    sentence = ("On this library (16 held-out and 16 copied songs, fdr gate): timbre: "
                "held-out songs named a song 6 %, MP3 copies ranked first 100 %")
    return SimpleNamespace(current=current, songs=40, seconds=75.0,
                           created="2026-12-03T20:00:00Z",
                           summary=lambda: sentence + ("" if current else " (stale)"))


def test_the_calibration_row_in_each_state(qtbot):
    panel = LibraryPanel()
    qtbot.addWidget(panel)
    assert not panel.calibrate_button.isEnabled()  # no library

    library = dict(name="label", songs=40, model_name="tiny", model_sha256="a" * 64, dim=64,
                   size_bytes=1, path="/x", is_demo=False)
    panel.set_library(SimpleNamespace(**library, calibration=None))
    assert panel.calibration.text() == "not calibrated"
    assert panel.calibrate_button.text() == "Calibrate…" and panel.calibrate_button.isEnabled()

    current = _calibration(current=True)
    panel.set_library(SimpleNamespace(**library, calibration=current))
    shown = panel.calibration.text()
    assert shown.replace("\u00a0", " ") == current.summary()
    assert "100\u00a0%" in shown  # a figure and its unit are never wrapped apart
    assert panel.calibration.wordWrap()
    assert current.summary() in panel.calibration.toolTip()
    assert panel.calibrate_button.text() == "Calibrate again"

    stale = _calibration(current=False)
    panel.set_library(SimpleNamespace(**library, calibration=stale))
    assert panel.calibration.text() == "stale: songs changed since"
    assert stale.summary() in panel.calibration.toolTip()
    assert panel.calibrate_button.text() == "Calibrate…"

    panel.show_progress("Calibrating label")
    assert not panel.calibrate_button.isEnabled()
    panel.show_idle("")
    assert panel.calibrate_button.isEnabled()

    panel.set_library(SimpleNamespace(**{**library, "songs": 1}, calibration=None))
    assert not panel.calibrate_button.isEnabled()


def test_calibrate_shows_the_summary_and_stores_it(qtbot, window, library):
    panel = window.library_panel
    assert panel.calibration.text() == "not calibrated"
    assert panel.calibrate_button.isEnabled() and window.calibrate_action.isEnabled()
    seen = []
    window.calibrate_action.trigger()  # Library ▸ Calibrate…, the same as the panel's button
    assert window.library_task is not None and not panel.calibrate_button.isEnabled()
    assert not window.calibrate_action.isEnabled()
    window.library_task.progressed.connect(seen.append)
    with qtbot.waitSignal(window.library_task.done, timeout=SLOW):
        pass
    assert (library / CALIBRATION_FILE).is_file()
    calibration = window.library.calibration
    assert calibration is not None and calibration.current
    assert calibration.null_sample + calibration.null_skipped == 2
    assert panel.calibration.text().replace("\u00a0", " ") == calibration.summary()
    assert panel.calibrate_button.text() == "Calibrate again"
    assert panel.status.text().startswith("Calibrated in")
    # 2 held out + 2 copies + the unusual-input reference
    assert seen and seen[-1].done == seen[-1].total == 5
    qtbot.waitUntil(lambda: window.library_task is None, timeout=SLOW)
    assert panel.calibrate_button.isEnabled() and window.calibrate_action.isEnabled()


def test_cancel_stores_nothing(qtbot, window, library, monkeypatch):
    waiting = _held_at_first_step(monkeypatch)
    cancelled = []
    window.calibrate_library()
    window.library_task.cancelled.connect(lambda: cancelled.append(True))
    qtbot.waitUntil(waiting.is_set, timeout=SLOW)
    assert not window.library_panel.cancel_button.isHidden()
    with qtbot.waitSignal(window.library_task.done, timeout=SLOW):
        window.library_panel.cancel_button.click()
    assert cancelled
    assert not (library / CALIBRATION_FILE).exists()
    assert window.library_panel.status.text() == "Calibration cancelled; nothing was stored."
    assert window.library_panel.calibration.text() == "not calibrated"


def test_an_error_is_one_line(qtbot, window, monkeypatch):
    def broken(*args, **kwargs):
        raise LuminaError("the library is\nread-only")

    monkeypatch.setattr(jobs, "calibrate_library", broken)
    with qtbot.waitSignal(window.errorShown, timeout=SLOW) as blocker:
        window.calibrate_library()
    assert blocker.args == ["the library is read-only"]
    assert window.library_panel.status.text() == "⚠ the library is read-only"
    qtbot.waitUntil(lambda: window.library_task is None, timeout=SLOW)


def test_close_during_calibration(qtbot, settings, library, monkeypatch):
    waiting = _held_at_first_step(monkeypatch)
    win = MainWindow(settings, library=library, dialogs=False)
    qtbot.addWidget(win)
    win.calibration_plan = FAST_PLAN
    qtbot.waitUntil(lambda: win.library is not None, timeout=SLOW)
    win.library_panel.calibrate_button.click()
    qtbot.waitUntil(waiting.is_set, timeout=SLOW)
    win.close()
    assert not win.isVisible()
    qtbot.waitUntil(lambda: not tasks.live_tasks(), timeout=SLOW)
    assert AppSettings(settings.path).geometry is not None
    assert not (library / CALIBRATION_FILE).exists()
