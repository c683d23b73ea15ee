"""The main window end to end, offscreen, with the tiny model and no sound device."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf

from lumina_app.main import MainWindow
from lumina_app.settings import AppSettings


@pytest.fixture
def settings(tmp_path):
    return AppSettings(tmp_path / "app.ini")


@pytest.fixture
def window(qtbot, settings, catalog):
    lib_path, _ = catalog
    win = MainWindow(settings, library=lib_path, dialogs=False)
    qtbot.addWidget(win)
    qtbot.waitUntil(lambda: win.library is not None, timeout=20_000)
    yield win
    win.close()


def _open(qtbot, win, path) -> None:
    with qtbot.waitSignal(win.trackShown, timeout=20_000):
        win.open_track(path)


def _analyze(qtbot, win, timeout=120_000):
    with qtbot.waitSignal(win.analysisShown, timeout=timeout) as blocker:
        win.analyze()
    return blocker.args[0]


def test_open_track_draws_waveform_and_remembers_it(qtbot, window, tmp_path, settings):
    rate = 44100
    t = np.arange(rate * 3) / rate
    sf.write(tmp_path / "tone.wav", 0.5 * np.sin(2 * np.pi * 220 * t), rate)
    _open(qtbot, window, tmp_path / "tone.wav")
    assert abs(window.track.duration - 3.0) < 0.01
    assert window.waveform.drawn_points() > 0
    assert "tone.wav" in window.file_label.text() and "0:03.0" in window.file_label.text()
    assert settings.recent_files[0].name == "tone.wav"
    assert window.analyze_button.isEnabled()


def test_bad_file_is_one_line_not_a_crash(qtbot, window, tmp_path):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"%PDF-1.4 not audio at all" * 20)
    with qtbot.waitSignal(window.errorShown, timeout=10_000) as blocker:
        window.open_track(bad)
    message = blocker.args[0]
    assert "broken.wav" in message and "\n" not in message and "Traceback" not in message
    assert window.track is None and not window.analyze_button.isEnabled()


def test_analyze_fills_table_bars_confidence_and_strip(qtbot, window, catalog):
    _, songs = catalog
    _open(qtbot, window, songs[-1])  # the 16 s song: two chunks
    result = _analyze(qtbot, window)
    model = window.table.model()
    assert model.rowCount() >= 1
    assert window.table.song_ids()[0] == result.channels["production"].influences[0].song_id
    assert "Long" in model.index(0, 0).data()
    assert len(window.bars.bars) > 0 and not window.confidence.is_empty()
    assert len(window.waveform.chunk_items) == 2
    assert "Done" in window.progress_label.text()
    assert window.channel_note.isHidden()  # this test model has no measured notes
    import dataclasses

    window._set_result(dataclasses.replace(result, channel_notes={
        "composition": "on this model this channel follows timbre"}))
    assert not window.channel_note.isHidden()
    # One line on screen, the measured note in full in the tooltip.
    assert window.channel_note.text() == (
        "⚠ limits measured on this model: composition (hover for details)")
    assert ("Composition: on this model this channel follows timbre"
            in window.channel_note.toolTip())
    window._set_result(result)
    # The strip shows the channel that named songs until the user picks one.
    only = {c: int(c == "production") for c in result.channels}
    window._set_result(dataclasses.replace(result, channels={
        c: dataclasses.replace(ch, n_qualifying=only[c]) for c, ch in result.channels.items()}))
    assert window._timeline_channel() == "production"
    window._set_result(dataclasses.replace(result, channels={  # none named: the first channel
        c: dataclasses.replace(ch, n_qualifying=0) for c, ch in result.channels.items()}))
    assert window._timeline_channel() == "composition"
    window.strip_channel.setCurrentIndex(window.strip_channel.findData("production"))
    window.strip_channel.activated.emit(1)  # the user's choice is kept
    window._set_result(result)
    assert window._timeline_channel() == "production"
    # Selecting the song lights up where it matters in the strip.
    window.table.select_song(window.table.song_ids()[0])
    assert window.waveform.highlight_items
    assert window.export_action.isEnabled()


def test_analyze_a_selection_only(qtbot, window, catalog):
    _, songs = catalog
    _open(qtbot, window, songs[-1])
    window.waveform.set_selection(2.0, 14.0)
    assert window.analyze_button.text().startswith("Analyze 0:02.0")
    result = _analyze(qtbot, window)
    assert result.to_json()["track"]["span"] == pytest.approx([2.0, 14.0])


def test_cancel_an_analysis(qtbot, window, tmp_path):
    from lumina.demo.synth import random_music

    long_track = tmp_path / "long.wav"
    sf.write(long_track, random_music(90.0, 32000, seed=5), 32000)  # nine chunks
    _open(qtbot, window, long_track)
    cancelled = []
    window.analyze()
    window.analysis_task.cancelled.connect(lambda: cancelled.append(True))
    qtbot.waitUntil(lambda: window.progress.maximum() > 1, timeout=60_000)  # first chunk done
    with qtbot.waitSignal(window.analysis_task.done, timeout=60_000):
        window.cancel_analysis()
    assert cancelled and window.result is None
    assert window.progress_label.text() == "Analysis cancelled."
    qtbot.waitUntil(lambda: window.analyze_button.isEnabled(), timeout=5_000)


def test_analysis_runs_on_a_worker_thread(qtbot, window, catalog, monkeypatch):
    """The analysis never runs on the UI thread (the stall it would cause is measured by
    ``bench/ui_stall.py``: a timing belongs in a benchmark, not in a unit test)."""
    import threading

    from lumina_app import jobs

    ran_on: list[threading.Thread] = []
    real = jobs.analyze_track

    def spy(*args, **kwargs):
        ran_on.append(threading.current_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(jobs, "analyze_track", spy)
    _open(qtbot, window, catalog[1][0])
    _analyze(qtbot, window)
    assert len(ran_on) == 1 and ran_on[0] is not threading.main_thread()


def test_export_and_verify_a_report_from_the_gui(qtbot, window, catalog, tmp_path):
    _, songs = catalog
    _open(qtbot, window, songs[0])
    _analyze(qtbot, window)
    with qtbot.waitSignal(window.reportChecked, timeout=60_000) as blocker:
        window.export_report(tmp_path / "out" / "report.pdf")
    assert blocker.args[0] is True
    pdf, js = tmp_path / "out" / "report.pdf", tmp_path / "out" / "report.json"
    assert pdf.read_bytes().startswith(b"%PDF") and json.loads(js.read_text())["signatures"]
    for path in (pdf, js):
        with qtbot.waitSignal(window.reportChecked, timeout=20_000) as blocker:
            window.verify_report(path)
        assert blocker.args[0] is True and "Valid" in blocker.args[1]
    envelope = json.loads(js.read_text())
    envelope["payload"] = envelope["payload"][:-8] + "AAAAAAA="
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(envelope))
    with qtbot.waitSignal(window.reportChecked, timeout=20_000) as blocker:
        window.verify_report(tampered)
    assert blocker.args[0] is False and blocker.args[1].startswith("Invalid:")


def test_no_audio_device_path(qtbot, window, catalog):
    _, songs = catalog
    _open(qtbot, window, songs[0])
    if window.player.available:  # pragma: no cover - only on machines with a sound card
        pytest.skip("this machine has an audio output device")
    assert "unavailable" in window.playback_label.text()
    assert window.playback_label.toolTip()
    assert not window.play_button.isEnabled()
    window.toggle_play()  # Space: says why, does not raise
    assert window.player.state() == "stopped"
    window._seek(1.5)  # clicking the waveform still moves the playhead
    assert window.waveform.playhead() == pytest.approx(1.5, abs=0.05)


def test_settings_persist_library_and_geometry(qtbot, settings, catalog):
    lib_path, _ = catalog
    first = MainWindow(settings, library=lib_path, dialogs=False)
    qtbot.addWidget(first)
    qtbot.waitUntil(lambda: first.library is not None, timeout=20_000)
    first.resize(720, 520)
    first.set_device("cpu")
    first.close()
    second = MainWindow(AppSettings(settings.path), dialogs=False)
    qtbot.addWidget(second)
    qtbot.waitUntil(lambda: second.library is not None, timeout=20_000)
    assert second.library.path == lib_path
    assert second.settings.device == "cpu" and second.device_actions["cpu"].isChecked()
    assert (second.width(), second.height()) == (720, 520)
    qtbot.waitUntil(lambda: second.device_label.text() == "device: CPU", timeout=30_000)
    second.close()


def test_first_start_builds_the_demo_library_and_can_cancel(qtbot, settings):
    win = MainWindow(settings, dialogs=False)
    qtbot.addWidget(win)
    assert win.library_task is not None  # nothing chosen: the demo library is being built
    started = time.monotonic()
    win.cancel_library_task()
    qtbot.waitUntil(lambda: win.library_task is None, timeout=120_000)
    assert time.monotonic() - started < 120
    assert win.library is None and "Cancelled" in win.library_panel.status.text()
    win.close()


def test_lumina_app_command_starts_and_quits(tmp_path, catalog):
    """``lumina-app TRACK`` as a user runs it (offscreen), quitting after a few seconds."""
    _, songs = catalog
    code = (
        "import sys; from PySide6.QtCore import QTimer; from PySide6.QtWidgets import "
        "QApplication; app = QApplication(sys.argv); QTimer.singleShot(4000, app.quit); "
        "from lumina_app.main import main; sys.exit(main(['lumina-app', sys.argv[1]]))")
    env = {"QT_QPA_PLATFORM": "offscreen", "LUMINA_HOME": str(tmp_path),
           "LUMINA_CACHE": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"}
    ini = tmp_path / "lumina-app.ini"
    ini.write_text(f"[engine]\nlast_library={catalog[0]}\n")
    out = subprocess.run([sys.executable, "-c", code, str(songs[0])], capture_output=True,
                         text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Traceback" not in out.stderr


def test_engine_does_not_import_qt():
    code = ("import sys, lumina, lumina.audio, lumina.attribution, "
            "lumina.fingerprint.fingerprinter, "
            "lumina.analysis, lumina.progress; "
            "print(any(m.startswith(('PySide6', 'pyqtgraph', 'sounddevice')) "
            "for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_app_icon_carries_every_shipped_size(qapp):
    from lumina_app.main import app_icon

    sizes = {s.width() for s in app_icon().availableSizes()}
    assert {16, 32, 48, 256} <= sizes


def test_new_library_with_a_composition_rendering(qtbot, window, tmp_path):
    from lumina.fingerprint.rendering import RENDERINGS
    from lumina_app.library_panel import rendering_choices

    choices = rendering_choices()
    assert choices[0][0].endswith("(default)")
    assert [value for _, value in choices].count("plain") == 1
    assert {value for _, value in choices} == {"plain", *RENDERINGS}
    assert window.library_panel.composition.text() == "the audio itself"
    window.create_library(tmp_path / "new", "shepard-onsets")
    qtbot.waitUntil(lambda: window.library_task is None, timeout=120_000)
    assert window.library.path == tmp_path / "new" and window.library.songs == 0
    assert window.library.composition_rendering == "shepard-onsets/1"
    assert window.library_panel.composition.text() == "shepard-onsets/1 rendering"
    manifest = json.loads((tmp_path / "new" / "manifest.json").read_text())
    assert manifest["composition_rendering"] == "shepard-onsets/1"


def test_help_menu_shows_quick_start_and_how_to_read_a_report(qtbot, window):
    from PySide6.QtWidgets import QTextBrowser

    from lumina_app.menus import HELP_PAGES, show_help

    help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    titles = [a.text().replace("&", "") for a in help_menu.actions() if a.text()]
    assert "Quick start" in titles and "How to read a report" in titles
    for page, title in HELP_PAGES.items():
        dialog = show_help(window, page)
        qtbot.addWidget(dialog)
        text = dialog.findChild(QTextBrowser).toPlainText()
        assert dialog.windowTitle() == title and title in text and len(text) > 400
        dialog.close()


def test_docks_close_and_come_back_from_the_view_menu(qtbot, tmp_path):
    """On a small screen the docks can be closed for room and reopened (View menu)."""
    from PySide6.QtWidgets import QMenu

    window = MainWindow(AppSettings(tmp_path / "s.ini"), build_demo_when_empty=False,
                        dialogs=False)
    qtbot.addWidget(window)
    window.show()
    view = next(m for m in window.menuBar().findChildren(QMenu) if m.title() == "&View")
    toggles = {a.text(): a for a in view.actions()}
    assert set(toggles) == {"Library", "Audit queue"}
    toggles["Library"].trigger()
    qtbot.waitUntil(lambda: not window.library_dock.isVisible(), timeout=5000)
    toggles["Library"].trigger()
    qtbot.waitUntil(window.library_dock.isVisible, timeout=5000)
    assert not window.calibrate_action.isEnabled()  # no library open
    window.close()


def test_forty_character_titles_are_whole_at_1280_px(qtbot, window, catalog):
    """Issue 26: at 1280×720 no title of up to 40 characters is cut, in a named row too."""
    import dataclasses

    from PySide6.QtCore import Qt
    from PySide6.QtGui import QFontMetricsF

    _, songs = catalog
    _open(qtbot, window, songs[-1])
    result = _analyze(qtbot, window)
    long_titles = {inf.song_id: f"Slow Boat to the Lighthouse (Live, 19{inf.song_id:02d})"
                   for ch in result.channels.values() for inf in ch.influences}
    assert all(len(t) == 40 for t in long_titles.values())
    result = dataclasses.replace(result, channels={
        name: dataclasses.replace(ch, influences=tuple(
            # The first song named, as a large library would (bold was what cut titles).
            dataclasses.replace(inf, title=long_titles[inf.song_id],
                                qualifies=inf.qualifies or inf.rank == 1)
            for inf in ch.influences))
        for name, ch in result.channels.items()})
    window.resize(1280, 720)
    window.show()
    window._set_result(result)
    table = window.table
    assert any(s.qualifies for s in result.songs())  # a named row is among them
    qtbot.waitUntil(lambda: table.isColumnHidden(table.source.column("artist")), timeout=5000)
    room = table.horizontalHeader().sectionSize(0)
    for r in range(table.source.rowCount()):
        index = table.source.index(r, 0)
        font = table.source.data(index, Qt.ItemDataRole.FontRole) or table.font()
        text = QFontMetricsF(font).horizontalAdvance(str(table.source.data(index)))
        assert text + 2 * table.fontMetrics().averageCharWidth() <= room, (text, room)
