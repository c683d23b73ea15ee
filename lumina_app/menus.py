"""The window's actions (with their shortcuts) and its menu bar: File, Track, Library,
Settings and Help."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QDialog, QMessageBox, QTextBrowser, QVBoxLayout

from lumina_app.settings import DEVICES

if TYPE_CHECKING:
    from lumina_app.window import MainWindow

__all__ = ["DEVICE_NAMES", "add_action", "build_menus", "fill_recent_menu", "show_about"]

#: How the Settings ▸ Compute device menu names each choice of :data:`DEVICES`.
DEVICE_NAMES = {"auto": "Automatic (GPU if present)", "cpu": "CPU", "cuda": "CUDA GPU"}

Shortcut = QKeySequence | QKeySequence.StandardKey | None


def add_action(window: MainWindow, text: str, slot: Callable[[], object],
               shortcut: Shortcut = None, tip: str = "") -> QAction:
    """An action of the window, its shortcut working whichever widget has focus."""
    action = QAction(text, window)
    if shortcut is not None:
        action.setShortcut(shortcut)
    if tip:
        action.setStatusTip(tip)
    action.triggered.connect(slot)
    window.addAction(action)  # shortcuts work whichever widget has focus
    return action


def build_menus(window: MainWindow) -> None:
    """Make the window's actions (``open_action``, ``export_action``, ``verify_action``,
    ``quit_action``, ``play_action``, ``analyze_action``, ``cancel_action``,
    ``clear_selection_action``, ``calibrate_action``, ``device_actions``, ``recent_menu``)
    and its menu bar."""
    w = window
    w.open_action = add_action(w, "&Open track…", w.open_dialog, QKeySequence.StandardKey.Open)
    w.export_action = add_action(w, "&Export signed report…", w.export_dialog,
                                 QKeySequence("Ctrl+E"))
    w.verify_action = add_action(w, "&Verify a report…", w.verify_dialog)
    w.quit_action = add_action(w, "&Quit", w.close, QKeySequence.StandardKey.Quit)
    w.play_action = add_action(w, "&Play / pause", w.toggle_play, QKeySequence("Space"))
    w.analyze_action = add_action(w, "&Analyze", w.analyze, QKeySequence("Ctrl+R"))
    w.cancel_action = add_action(w, "&Cancel analysis", w.cancel_analysis,
                                 QKeySequence("Escape"))
    w.clear_selection_action = add_action(w, "Clear &selection", w.waveform.clear_selection)

    menu = w.menuBar().addMenu("&File")
    menu.addAction(w.open_action)
    w.recent_menu = menu.addMenu("Open &recent")
    w.recent_menu.aboutToShow.connect(functools.partial(fill_recent_menu, w))
    menu.addSeparator()
    menu.addAction(w.export_action)
    menu.addAction(w.verify_action)
    menu.addSeparator()
    menu.addAction(w.quit_action)

    menu = w.menuBar().addMenu("&Track")
    menu.addAction(w.play_action)
    menu.addAction(w.analyze_action)
    menu.addAction(w.cancel_action)
    menu.addAction(w.clear_selection_action)

    menu = w.menuBar().addMenu("&Library")
    menu.addAction("&Open library…", w.library_panel.ask_open)
    menu.addAction("&New library…", w.library_panel.ask_new)
    menu.addAction("&Add folder…", w.library_panel.ask_add)
    menu.addAction("&Demo library", w.open_demo_library)
    menu.addSeparator()
    w.calibrate_action = add_action(w, "&Calibrate…", w.calibrate_library)
    w.calibrate_action.setToolTip("Measure false names and copy detection on this library")
    menu.addAction(w.calibrate_action)

    # The docks can be closed for room (a small screen, 200 % scaling) and brought back here.
    menu = w.menuBar().addMenu("&View")
    for dock, shortcut in ((w.library_dock, "Ctrl+Shift+L"), (w.audit_dock, "Ctrl+Shift+A")):
        action = dock.toggleViewAction()
        action.setShortcut(QKeySequence(shortcut))
        menu.addAction(action)

    menu = w.menuBar().addMenu("&Settings")
    device_menu = menu.addMenu("Compute &device")
    group = QActionGroup(w)
    w.device_actions = {}
    for choice in DEVICES:
        action = QAction(DEVICE_NAMES[choice], w, checkable=True)
        action.setChecked(choice == w.settings.device)
        action.triggered.connect(functools.partial(w.set_device, choice))
        group.addAction(action)
        device_menu.addAction(action)
        w.device_actions[choice] = action

    menu = w.menuBar().addMenu("&Help")
    menu.addAction("&Quick start", functools.partial(show_help, w, "quick-start"))
    menu.addAction("How to &read a report",
                   functools.partial(show_help, w, "reading-a-report"))
    menu.addSeparator()
    menu.addAction("&About LUMINA", functools.partial(show_about, w))


def fill_recent_menu(window: MainWindow) -> None:
    """Refill File ▸ Open recent from the settings (shown just before it opens)."""
    menu = window.recent_menu
    menu.clear()
    recent = window.settings.recent_files
    for path in recent:
        menu.addAction(path.name, functools.partial(window.open_track, path)
                       ).setToolTip(str(path))
    if not recent:
        menu.addAction("(none)").setEnabled(False)
    else:
        menu.addSeparator()
        menu.addAction("Clear list", window.settings.clear_recent)


#: Help pages shipped as Markdown in ``lumina_resources/help`` (the text is data, not code).
HELP_PAGES = {"quick-start": "Quick start", "reading-a-report": "How to read a report"}


def help_text(page: str) -> str:
    """The Markdown of a help page of :data:`HELP_PAGES`."""
    from lumina_resources import ROOT

    return (ROOT / "help" / f"{page}.md").read_text(encoding="utf-8")


def show_help(window: MainWindow, page: str) -> QDialog:
    """Show a help page in a non-modal dialog (returned, for tests)."""
    dialog = QDialog(window)
    dialog.setWindowTitle(HELP_PAGES[page])
    view = QTextBrowser(dialog)
    view.setOpenExternalLinks(False)
    view.setMarkdown(help_text(page))
    layout = QVBoxLayout(dialog)
    layout.addWidget(view)
    dialog.resize(640, 520)
    dialog.show()
    return dialog


def show_about(window: MainWindow) -> None:
    from lumina import __version__

    QMessageBox.about(window, "About LUMINA",
                      f"LUMINA {__version__}\nWhich catalog songs influenced a piece of "
                      "AI-generated music, how much, and how sure we are.")
