"""``lumina-app [TRACK]``: the desktop window.

Open a track (dialog, drag-and-drop, recent files or the command line), listen to it, press
Analyze, and see which library songs it drew on, through which channel and how sure the
result is; export a signed PDF/JSON report or verify one. The window is
:class:`lumina_app.window.MainWindow`; this module is the entry point.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from lumina_app.tasks import finish, shutdown
from lumina_app.theme import app_icon, apply_dark_theme
from lumina_app.window import MainWindow

__all__ = ["MainWindow", "app_icon", "apply_dark_theme", "main"]


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app = QApplication.instance() or QApplication(argv)
    app.setApplicationName("LUMINA")
    # Lets taskbars (Wayland especially) match the window to org.lumina.Lumina.desktop.
    app.setDesktopFileName("org.lumina.Lumina")
    app.setWindowIcon(app_icon())
    apply_dark_theme(app)
    window = MainWindow()
    window.show()
    if len(argv) > 1:
        with contextlib.suppress(Exception):
            window.settings.last_folder = str(Path(argv[1]).parent)
        window.open_track(Path(argv[1]))
    # Quitting without closing the window (Ctrl+Q from a menu, app.quit, SIGTERM) takes the
    # same path as a close: settings saved, tasks cancelled and waited for.
    app.aboutToQuit.connect(window.close)
    _quit_on_signals(app)
    code = app.exec()
    window.close()
    if shutdown():  # the one shutdown path; what cannot stop at once (a torch import) …
        finish()  # … is waited for with the window gone, so no thread dies mid-import
    return code


def _quit_on_signals(app: QApplication) -> None:
    """SIGTERM / SIGINT quit through the event loop (Python handlers run only while Python
    code runs, so a timer wakes the interpreter a few times a second)."""
    def quit_soon(*_args: object) -> None:
        QTimer.singleShot(0, app.quit)

    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(ValueError, OSError):  # not the main thread
            signal.signal(sig, quit_soon)
    wake = QTimer(app)
    wake.timeout.connect(lambda: None)
    wake.start(200)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
