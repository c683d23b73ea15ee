"""Render the app's main states to PNG files, as a user would see them.

    xvfb-run -s "-screen 0 1600x1000x24" python docs/screenshots.py OUT_DIR

Uses the demo library (built on first use, like ``lumina demo``) and the demo query: the
window is shown empty, with the track loaded, with results and a selected song, and while
an analysis runs. Nothing here is committed: the README's screenshot is copied by hand.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication


def _wait(app: QApplication, signal, timeout_ms: int = 600_000) -> list:
    got: list = []
    loop = QEventLoop()
    signal.connect(lambda *args: (got.extend(args), loop.quit()))
    QTimer.singleShot(timeout_ms, loop.quit)
    loop.exec()
    return got


def _settle(app: QApplication, ms: int = 400) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def main(out: Path) -> None:
    from lumina.demo.run import DEMO_SEED, DEMO_SONG
    from lumina_app.main import MainWindow, apply_dark_theme
    from lumina_app.settings import AppSettings

    out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication(sys.argv)
    apply_dark_theme(app)
    window = MainWindow(AppSettings(out / "screenshots.ini"), dialogs=False)
    window.resize(1440, 860)
    window.show()
    _settle(app)
    window.grab().save(str(out / "1-start.png"))
    while window.library is None:
        _settle(app, 500)
    lib = window.library
    query = next(Path(lib.path).parent.glob(f"query-{DEMO_SONG}-seed{DEMO_SEED}.wav"), None)
    if query is None:
        sys.exit(f"run `lumina demo` once first (no demo query in {lib.path.parent})")
    window.open_track(query)
    _wait(app, window.trackShown)
    _settle(app)
    window.grab().save(str(out / "2-track.png"))
    window.analyze()
    _settle(app, 1500)
    window.grab().save(str(out / "3-analyzing.png"))
    _wait(app, window.analysisShown)
    _settle(app)
    window.grab().save(str(out / "4-results.png"))
    window.table.select_song(window.table.song_ids()[0])
    window.views.setCurrentIndex(1)
    _settle(app)
    window.grab().save(str(out / "5-selected-confidence.png"))
    window.close()
    print("\n".join(str(p) for p in sorted(out.glob("*.png"))))


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "screenshots"))
