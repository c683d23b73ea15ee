"""The audit queue panel processes a folder offscreen, on the worker, row by row."""

from __future__ import annotations

import shutil

import pytest
from PySide6.QtCore import Qt

from lumina_app.main import MainWindow
from lumina_app.settings import AppSettings


@pytest.fixture
def window(qtbot, tmp_path, catalog):
    win = MainWindow(AppSettings(tmp_path / "app.ini"), library=catalog[0], dialogs=False)
    qtbot.addWidget(win)
    qtbot.waitUntil(lambda: win.library is not None, timeout=20_000)
    yield win
    win.close()


def test_queue_panel_audits_a_folder_and_opens_a_track(qtbot, window, catalog, tmp_path):
    _, songs = catalog
    folder = tmp_path / "submissions"
    folder.mkdir()
    for song in songs[:2]:
        shutil.copy(song, folder / song.name)
    (folder / "broken.flac").write_bytes(b"fLaC" + b"\x00" * 300)
    panel = window.audit_panel
    window.audit([folder], out=tmp_path / "audit")
    qtbot.waitUntil(lambda: window.audit_task is None, timeout=120_000)
    assert panel.model.rowCount() == 3
    verdicts = panel.verdict_counts()
    assert verdicts.get("error") == 1 and sum(verdicts.values()) == 3
    assert "3 track(s)" in panel.status.text()
    assert {p.name for p in panel.summary_files} == {"summary.csv", "summary.json",
                                                     "summary.pdf"}

    # Filter by verdict, then sort by it.
    panel.filter.setCurrentIndex(panel.filter.findData("error"))
    assert panel.proxy.rowCount() == 1
    assert panel.proxy.index(0, 0).data() == "broken.flac"
    panel.filter.setCurrentIndex(panel.filter.findData("all"))
    panel.table.sortByColumn(1, Qt.SortOrder.DescendingOrder)  # error rows first
    assert panel.proxy.index(0, 1).data() == "ERROR"

    # Export the summary and open a track into the main view.
    exported = panel.export_summary(tmp_path / "exported")
    assert sorted(p.name for p in exported) == ["summary.csv", "summary.json", "summary.pdf"]
    row = next(r for r in range(panel.proxy.rowCount())
               if panel.proxy.index(r, 0).data() == songs[0].name)
    with qtbot.waitSignal(window.trackShown, timeout=20_000):
        panel._open_row(panel.proxy.index(row, 0))
    assert window.track.path.name == songs[0].name


def test_audit_needs_a_library_with_songs(qtbot, tmp_path):
    win = MainWindow(AppSettings(tmp_path / "app.ini"), build_demo_when_empty=False,
                     dialogs=False)
    qtbot.addWidget(win)
    with qtbot.waitSignal(win.errorShown, timeout=5_000) as blocker:
        win.audit([tmp_path])
    assert "library" in blocker.args[0]
    win.close()
