"""``lumina-app [TRACK]``: the desktop window.

Open a track (dialog, drag-and-drop, recent files or the command line), listen to it, press
Analyze, and see which library songs it drew on, through which channel and how sure the
result is; export a signed PDF/JSON report or verify one. Every long step runs on a worker
thread (:mod:`lumina_app.tasks`); every number comes from :mod:`lumina`.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import sys
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QColor, QIcon, QKeySequence, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from lumina.progress import ProgressState, format_clock
from lumina_app import jobs
from lumina_app.audit_panel import AuditPanel
from lumina_app.library_panel import LibraryPanel
from lumina_app.player import Player
from lumina_app.results import ChannelBars, ConfidenceView, InfluenceTable
from lumina_app.settings import DEVICES, AppSettings
from lumina_app.tasks import Task
from lumina_app.waveform import WaveformView

__all__ = ["MainWindow", "apply_dark_theme", "main"]

log = logging.getLogger("lumina_app")

AUDIO_FILTER = "Audio (*.wav *.flac *.ogg *.oga *.opus *.mp3 *.m4a *.mp4 *.aac);;All files (*)"
REPORT_FILTER = "LUMINA reports (*.json *.pdf);;All files (*)"
CHANNEL_NAMES = {"composition": "Composition", "production": "Production"}


def apply_dark_theme(app: QApplication) -> None:
    app.setStyle("Fusion")
    palette = QPalette()
    base, text, accent = QColor(30, 31, 34), QColor(220, 221, 222), QColor(88, 166, 255)
    palette.setColor(QPalette.ColorRole.Window, QColor(38, 39, 43))
    palette.setColor(QPalette.ColorRole.WindowText, text)
    palette.setColor(QPalette.ColorRole.Base, base)
    palette.setColor(QPalette.ColorRole.AlternateBase, QColor(45, 46, 50))
    palette.setColor(QPalette.ColorRole.Text, text)
    palette.setColor(QPalette.ColorRole.Button, QColor(50, 51, 56))
    palette.setColor(QPalette.ColorRole.ButtonText, text)
    palette.setColor(QPalette.ColorRole.Highlight, accent)
    palette.setColor(QPalette.ColorRole.HighlightedText, QColor(0, 0, 0))
    palette.setColor(QPalette.ColorRole.ToolTipBase, QColor(50, 51, 56))
    palette.setColor(QPalette.ColorRole.ToolTipText, text)
    palette.setColor(QPalette.ColorRole.PlaceholderText, QColor(130, 131, 136))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text,
                 QPalette.ColorRole.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor(110, 111, 116))
    app.setPalette(palette)
    pg.setConfigOptions(antialias=True, background=base, foreground=text)


def app_icon() -> QIcon:
    """The LUMINA icon at every size shipped in ``resources/icons`` (empty if missing)."""
    from lumina_resources import ROOT

    icon = QIcon()
    for png in sorted((ROOT / "icons" / "hicolor").glob("*/apps/org.lumina.Lumina.png")):
        icon.addFile(str(png))
    return icon


class _RowRelay(QObject):
    """Carries audit rows from the worker to the UI thread (a queued signal)."""

    row = Signal(object)


class MainWindow(QMainWindow):
    """The LUMINA window.

    Parameters
    ----------
    settings : AppSettings, optional
        Where to remember geometry, library, device and recent files.
    library : Path, optional
        Use this library (else the last one; else, on first start, the demo library).
    build_demo_when_empty : bool
        On first start with no library, build and open the demo library.
    """

    #: Emitted when an analysis result is shown (tests and scripting).
    analysisShown = Signal(object)
    #: Emitted with (ok, text) after a report export or verification.
    reportChecked = Signal(bool, str)
    #: Emitted when a track is loaded and drawn.
    trackShown = Signal(object)
    #: Emitted with a one-line message when something fails (also shown in a dialog).
    errorShown = Signal(str)

    def __init__(self, settings: AppSettings | None = None, *, library: Path | None = None,
                 build_demo_when_empty: bool = True, dialogs: bool = True) -> None:
        super().__init__()
        self.settings = settings or AppSettings()
        self.dialogs = dialogs
        self.cache = jobs.EngineCache()
        self.tasks: set[Task] = set()
        self.track: jobs.TrackData | None = None
        self.result = None
        self.library: jobs.LibrarySummary | None = None
        self.analysis_task: Task | None = None
        self.library_task: Task | None = None

        self.setWindowTitle("LUMINA")
        self.setAcceptDrops(True)
        self.resize(1280, 800)
        self._build_player()
        self._build_views()
        self._build_actions()
        self._build_status_bar()
        if self.settings.geometry is not None:
            self.restoreGeometry(self.settings.geometry)
        if self.settings.window_state is not None:
            self.restoreState(self.settings.window_state)
        self._update_enabled()
        self._probe_device()

        chosen = library or self.settings.last_library
        if chosen is not None:
            self.open_library(Path(chosen))
        elif build_demo_when_empty:
            self.open_demo_library()

    # -- construction ----------------------------------------------------------------------
    def _build_player(self) -> None:
        self.player = Player(self)
        self.player.positionChanged.connect(self._on_position)
        self.player.stateChanged.connect(self._on_player_state)
        self.player.errorOccurred.connect(self._show_error)

    def _build_views(self) -> None:
        self.waveform = WaveformView()
        self.waveform.seekRequested.connect(self._seek)
        self.waveform.selectionChanged.connect(self._on_selection)

        # Transport and analysis controls, one compact row above the waveform.
        self.play_button = QToolButton(text="▶")
        self.play_button.setToolTip("Play / pause (Space)")
        self.play_button.clicked.connect(self.toggle_play)
        self.stop_button = QToolButton(text="■")
        self.stop_button.setToolTip("Stop")
        self.stop_button.clicked.connect(self.player.stop)
        self.time_label = QLabel("0:00.0 / 0:00.0")
        self.time_label.setMinimumWidth(120)
        self.analyze_button = QPushButton("Analyze")
        self.analyze_button.setToolTip("Attribute the track (or the selection) against the "
                                       "library (Ctrl+R)")
        self.analyze_button.clicked.connect(self.analyze)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel_analysis)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress_label = QLabel("")
        self.progress_label.setStyleSheet("color: #9a9ba0;")
        self.strip_channel = QComboBox()
        self.strip_channel.setToolTip("Channel shown in the chunk strip under the waveform")
        for key, name in CHANNEL_NAMES.items():
            self.strip_channel.addItem(name, key)
        self.strip_channel.currentIndexChanged.connect(self._show_timeline)
        row = QHBoxLayout()
        row.setContentsMargins(6, 4, 6, 0)
        for w in (self.play_button, self.stop_button, self.time_label):
            row.addWidget(w)
        row.addSpacing(12)
        row.addWidget(self.analyze_button)
        row.addWidget(self.cancel_button)
        row.addWidget(self.progress)
        row.addWidget(self.progress_label, 1)
        row.addWidget(QLabel("Strip:"))
        row.addWidget(self.strip_channel)
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addLayout(row)
        top_layout.addWidget(self.waveform, 1)

        self.table = InfluenceTable()
        self.table.songSelected.connect(self._on_song_selected)
        self.bars = ChannelBars()
        self.confidence = ConfidenceView()
        self.views = QTabWidget()
        self.views.addTab(self.bars, "Channels")
        self.views.addTab(self.confidence, "Confidence")
        # What the channels were measured to capture on this model, when it is not what
        # their names say (DESIGN §1): shown with every result, never hidden in a tooltip.
        self.channel_note = QLabel("")
        self.channel_note.setWordWrap(True)
        self.channel_note.setStyleSheet("color: #f0b450; padding: 2px 4px;")
        self.channel_note.setVisible(False)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.channel_note)
        left_layout.addWidget(self.table, 1)
        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.addWidget(left)
        bottom.addWidget(self.views)
        bottom.setSizes([720, 520])
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(bottom)
        split.setSizes([330, 430])
        self.setCentralWidget(split)

        self.library_panel = LibraryPanel()
        self.library_panel.openRequested.connect(self.open_library)
        self.library_panel.createRequested.connect(self.create_library)
        self.library_panel.addFolderRequested.connect(self.index_folder)
        self.library_panel.demoRequested.connect(self.open_demo_library)
        self.library_panel.cancelRequested.connect(self.cancel_library_task)
        dock = QDockWidget("Library", self)
        dock.setObjectName("library-dock")
        dock.setWidget(self.library_panel)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        self.library_dock = dock

        self.audit_panel = AuditPanel()
        self.audit_panel.auditRequested.connect(self.audit)
        self.audit_panel.cancelRequested.connect(self.cancel_audit)
        self.audit_panel.openTrackRequested.connect(self.open_track)
        self.audit_task: Task | None = None
        self.row_relay = _RowRelay(self)
        self.row_relay.row.connect(self.audit_panel.add_row)
        audit_dock = QDockWidget("Audit queue", self)
        audit_dock.setObjectName("audit-dock")
        audit_dock.setWidget(self.audit_panel)
        audit_dock.setFeatures(dock.features())
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, audit_dock)
        self.tabifyDockWidget(dock, audit_dock)
        dock.raise_()
        self.audit_dock = audit_dock

    def _action(self, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(shortcut)
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(slot)
        self.addAction(action)  # shortcuts work whichever widget has focus
        return action

    def _build_actions(self) -> None:
        self.open_action = self._action("&Open track…", self.open_dialog,
                                        QKeySequence.StandardKey.Open)
        self.export_action = self._action("&Export signed report…", self.export_dialog,
                                          QKeySequence("Ctrl+E"))
        self.verify_action = self._action("&Verify a report…", self.verify_dialog)
        self.quit_action = self._action("&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.play_action = self._action("&Play / pause", self.toggle_play, QKeySequence("Space"))
        self.analyze_action = self._action("&Analyze", self.analyze, QKeySequence("Ctrl+R"))
        self.cancel_action = self._action("&Cancel analysis", self.cancel_analysis,
                                          QKeySequence("Escape"))
        self.clear_selection_action = self._action("Clear &selection",
                                                   self.waveform.clear_selection)

        menu = self.menuBar().addMenu("&File")
        menu.addAction(self.open_action)
        self.recent_menu = menu.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        menu.addSeparator()
        menu.addAction(self.export_action)
        menu.addAction(self.verify_action)
        menu.addSeparator()
        menu.addAction(self.quit_action)

        menu = self.menuBar().addMenu("&Track")
        menu.addAction(self.play_action)
        menu.addAction(self.analyze_action)
        menu.addAction(self.cancel_action)
        menu.addAction(self.clear_selection_action)

        menu = self.menuBar().addMenu("&Library")
        menu.addAction("&Open library…", self.library_panel._ask_open)
        menu.addAction("&New library…", self.library_panel._ask_new)
        menu.addAction("&Add folder…", self.library_panel._ask_add)
        menu.addAction("&Demo library", self.open_demo_library)

        menu = self.menuBar().addMenu("&Settings")
        device_menu = menu.addMenu("Compute &device")
        group = QActionGroup(self)
        self.device_actions: dict[str, QAction] = {}
        for choice in DEVICES:
            action = QAction({"auto": "Automatic (GPU if present)", "cpu": "CPU",
                              "cuda": "CUDA GPU"}[choice], self, checkable=True)
            action.setChecked(choice == self.settings.device)
            action.triggered.connect(functools.partial(self.set_device, choice))
            group.addAction(action)
            device_menu.addAction(action)
            self.device_actions[choice] = action

        menu = self.menuBar().addMenu("&Help")
        menu.addAction("&About LUMINA", self._about)

    def _build_status_bar(self) -> None:
        self.file_label = QLabel("Drop a track here or use File ▸ Open")
        self.library_label = QLabel("library: —")
        self.device_label = QLabel("device: …")
        self.playback_label = QLabel("")
        bar = self.statusBar()
        bar.addWidget(self.file_label, 1)
        bar.addPermanentWidget(self.playback_label)
        bar.addPermanentWidget(self.library_label)
        bar.addPermanentWidget(self.device_label)
        if not self.player.available:
            self.playback_label.setText("playback unavailable")
            self.playback_label.setToolTip(self.player.unavailable_reason)

    # -- task plumbing ---------------------------------------------------------------------
    def _start(self, work, label: str, *, succeeded, progressed=None, failed=None,
               cancelled=None, done=None) -> Task:
        task = Task(work, label=label)
        task.succeeded.connect(succeeded)
        task.failed.connect(failed or self._show_error)
        if progressed is not None:
            task.progressed.connect(progressed)
        if cancelled is not None:
            task.cancelled.connect(cancelled)
        if done is not None:
            task.done.connect(done)
        task.done.connect(functools.partial(self._forget, task))
        self.tasks.add(task)
        task.start()
        return task

    def _forget(self, task: Task) -> None:
        # Let the thread end before the last reference (and so the QThread) goes away.
        task.wait(5_000)
        self.tasks.discard(task)
        self._update_enabled()

    def _show_error(self, message: str) -> None:
        self.errorShown.emit(message)
        self.statusBar().showMessage(f"⚠ {message}", 10_000)
        if self.dialogs:
            QMessageBox.warning(self, "LUMINA", message)

    def _probe_device(self) -> None:
        # torch is imported on a worker, so the window appears before torch has loaded.
        self.device_label.setText("device: …")
        self._start(functools.partial(jobs.probe_device, self.settings.device), "device",
                    succeeded=self._on_device,
                    failed=lambda msg: self.device_label.setText(f"device: ⚠ {msg}"))

    def _on_device(self, label: str) -> None:
        self.device_label.setText(f"device: {label}")

    def set_device(self, choice: str) -> None:
        self.settings.device = choice
        self._probe_device()

    # -- tracks ----------------------------------------------------------------------------
    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a track", self.settings.last_folder,
                                              AUDIO_FILTER)
        if path:
            self.settings.last_folder = str(Path(path).parent)
            self.open_track(Path(path))

    def open_track(self, path: Path) -> None:
        path = Path(path)
        self.file_label.setText(f"Loading {path.name}…")
        work = functools.partial(jobs.load_track, path, self.player.prepare)
        self._start(work, "load", succeeded=self._on_track_loaded,
                    failed=self._on_track_failed)

    def _on_track_failed(self, message: str) -> None:
        self.file_label.setText(f"⚠ {message}")
        self._show_error(message)

    def _on_track_loaded(self, track: jobs.TrackData) -> None:
        self.cancel_analysis()
        self.track = track
        self.player.load_prepared(track.playback, track.rate)
        self.waveform.set_track(track.levels)
        self._set_result(None)
        self.settings.add_recent(track.path)
        note = f" — ⚠ {track.warnings[0]}" if track.warnings else ""
        self.file_label.setText(
            f"{track.path.name}  ·  {format_clock(track.duration)}  ·  "
            f"{track.source_rate / 1000:g} kHz, {track.source_channels} ch{note}")
        self.setWindowTitle(f"LUMINA — {track.path.name}")
        self._on_position(0.0)
        self._update_enabled()
        self.trackShown.emit(track)

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.settings.recent_files
        for path in recent:
            self.recent_menu.addAction(path.name, functools.partial(self.open_track, path)
                                       ).setToolTip(str(path))
        if not recent:
            self.recent_menu.addAction("(none)").setEnabled(False)
        else:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear list", self.settings.clear_recent)

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt naming
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt naming
        urls = [u for u in event.mimeData().urls() if u.isLocalFile()]
        if not urls:
            return
        path = Path(urls[0].toLocalFile())
        if path.is_dir():
            if self.library is not None and not self.library.is_demo:
                self.index_folder(path)
            else:
                self._show_error("Open or create a library first to add a folder to it.")
        elif path.suffix.lower() in (".json", ".pdf"):
            self.verify_report(path)
        else:
            self.open_track(path)

    # -- playback --------------------------------------------------------------------------
    def toggle_play(self) -> None:
        if self.track is None:
            return
        if not self.player.available:
            self.statusBar().showMessage(self.player.unavailable_reason, 6_000)
            return
        self.player.toggle()

    def _seek(self, seconds: float) -> None:
        self.player.seek(seconds)
        self._on_position(self.player.position())

    def _on_position(self, seconds: float) -> None:
        self.waveform.set_playhead(seconds)
        total = self.track.duration if self.track else 0.0
        self.time_label.setText(f"{format_clock(seconds)} / {format_clock(total)}")

    def _on_player_state(self, state: str) -> None:
        self.play_button.setText("❚❚" if state == "playing" else "▶")

    def _on_selection(self, span) -> None:
        if span is None:
            self.analyze_button.setText("Analyze")
        else:
            self.analyze_button.setText(f"Analyze {format_clock(span[0])}–{format_clock(span[1])}")

    # -- library ---------------------------------------------------------------------------
    def open_library(self, path: Path) -> None:
        work = functools.partial(jobs.open_library, Path(path))
        self._run_library_task(work, f"Opening {Path(path).name}")

    def open_demo_library(self) -> None:
        self._run_library_task(jobs.prepare_demo,
                               "Preparing the demo library (first time: about 2 minutes)")

    def create_library(self, path: Path, composition_rendering: str | None = None) -> None:
        work = functools.partial(jobs.create_library, Path(path), cache=self.cache,
                                 device=self.settings.device,
                                 composition_rendering=composition_rendering)
        self._run_library_task(work, f"Creating {Path(path).name}")

    def index_folder(self, folder: Path) -> None:
        if self.library is None:
            self._show_error("Open or create a library first.")
            return
        work = functools.partial(jobs.index_folder, self.library.path, [Path(folder)],
                                 cache=self.cache, device=self.settings.device)
        self._run_library_task(work, f"Indexing {Path(folder).name}", on_done=self._on_indexed)

    def _run_library_task(self, work, text: str, on_done=None) -> None:
        if self.library_task is not None:
            self._show_error("The library is busy; wait for the current task or cancel it.")
            return
        self.library_panel.show_progress(text)

        def progressed(state: ProgressState) -> None:
            self.library_panel.show_progress(text, state)

        def cancelled() -> None:
            self.library_panel.show_idle("Cancelled; nothing indexed so far is lost.")

        def failed(message: str) -> None:
            self.library_panel.show_idle(f"⚠ {message}")
            self._show_error(message)

        def finished() -> None:
            self.library_task = None
            self._update_enabled()

        self.library_task = self._start(work, "library", succeeded=on_done or self._set_library,
                                        progressed=progressed, failed=failed,
                                        cancelled=cancelled, done=finished)

    def cancel_library_task(self) -> None:
        if self.library_task is not None:
            self.library_task.cancel()

    def _set_library(self, summary: jobs.LibrarySummary) -> None:
        self.library = summary
        self.library_panel.set_library(summary)
        self.library_panel.show_idle("")
        self.library_label.setText(f"library: {summary.name} ({summary.songs} songs)")
        self.library_label.setToolTip(f"{summary.path}\nmodel {summary.model_name} "
                                      f"{summary.model_sha256}")
        self.settings.last_library = summary.path
        self._update_enabled()

    def _on_indexed(self, outcome: jobs.IndexOutcome) -> None:
        if outcome.library is not None:
            self._set_library(outcome.library)
        text = (f"Indexed {outcome.indexed}, skipped {outcome.skipped}, "
                f"failed {outcome.failed}.")
        if outcome.messages:
            text += " " + outcome.messages[0] + (
                f" (+{len(outcome.messages) - 1} more)" if len(outcome.messages) > 1 else "")
        self.library_panel.show_idle(text)

    # -- audit -----------------------------------------------------------------------------
    def audit(self, inputs: list[Path], out: Path | None = None) -> None:
        """Audit files/folders against the current library into ``out`` (default: the user
        data folder's ``audits/<name>``), rows appearing in the queue as they finish."""
        if self.audit_task is not None:
            self._show_error("An audit is already running; cancel it first.")
            return
        if self.library is None or self.library.songs == 0:
            self._show_error("Open a library with songs in it before auditing.")
            return
        inputs = [Path(p) for p in inputs]
        out = Path(out) if out is not None else jobs.audit_output_folder(inputs)
        self.audit_dock.raise_()
        self.audit_panel.start(f"Auditing {', '.join(p.name for p in inputs)} against "
                               f"{self.library.name} into {out}…")
        work = functools.partial(jobs.audit_tracks, inputs, self.library.path, out,
                                 cache=self.cache, device=self.settings.device,
                                 on_row=self.row_relay.row.emit)

        def finished() -> None:
            self.audit_task = None

        def failed(message: str) -> None:
            self.audit_panel.show_idle(f"⚠ {message}")
            self._show_error(message)

        def cancelled() -> None:
            self.audit_panel.show_idle("Audit cancelled; the tracks that finished keep their "
                                       "signed reports and are skipped when you rerun it.")

        self.audit_task = self._start(work, "audit", succeeded=self.audit_panel.show_done,
                                      progressed=self.audit_panel.show_progress,
                                      failed=failed, cancelled=cancelled, done=finished)

    def cancel_audit(self) -> None:
        if self.audit_task is not None:
            self.audit_task.cancel()

    # -- analysis --------------------------------------------------------------------------
    def analyze(self) -> None:
        if self.track is None or self.library is None or self.analysis_task is not None:
            return
        if self.library.songs == 0:
            self._show_error(f"Library {self.library.name} is empty: add a folder of songs "
                             "to it first.")
            return
        span = self.waveform.selection()
        work = functools.partial(jobs.analyze_track, self.track.path, self.library.path,
                                 cache=self.cache, device=self.settings.device, span=span)
        self.progress.setRange(0, 0)
        self.progress_label.setText("Loading the model…")

        def finished() -> None:
            self.analysis_task = None
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
            self._update_enabled()

        self.analysis_task = self._start(work, "analysis", succeeded=self._on_analyzed,
                                         progressed=self._on_analysis_progress,
                                         failed=self._on_analysis_failed,
                                         cancelled=self._on_analysis_cancelled, done=finished)
        self._update_enabled()

    def cancel_analysis(self) -> None:
        if self.analysis_task is not None:
            self.analysis_task.cancel()
            self.progress_label.setText("Cancelling…")

    def _on_analysis_progress(self, state: ProgressState) -> None:
        self.progress.setRange(0, max(1, state.total))
        self.progress.setValue(state.done)
        self.progress_label.setText("Fingerprinting " + state.describe("chunks"))

    def _on_analysis_failed(self, message: str) -> None:
        self.progress_label.setText(f"⚠ {message}")
        self._show_error(message)

    def _on_analysis_cancelled(self) -> None:
        self.progress_label.setText("Analysis cancelled.")

    def _on_analyzed(self, result) -> None:
        self._set_result(result)
        n = {c: ch.n_qualifying for c, ch in result.channels.items()}
        detail = ", ".join(f"{CHANNEL_NAMES.get(c, c).lower()} {k}" for c, k in n.items())
        self.progress_label.setText(
            f"Done: songs above the {result.parameters['gate']:.0%} gate — {detail} "
            f"({result.null} null, {result.library.songs} songs).")
        self.analysisShown.emit(result)

    def _set_result(self, result) -> None:
        self.result = result
        notes = getattr(result, "channel_notes", {}) if result is not None else {}
        self.channel_note.setText("⚠ " + "  ·  ".join(f"{c.capitalize()}: {n}."
                                                      for c, n in notes.items()))
        self.channel_note.setVisible(bool(notes))
        self.table.set_result(result)
        self.bars.set_result(result)
        self.confidence.set_result(result)
        self._show_timeline()
        self._update_enabled()

    def _timeline_channel(self) -> str:
        return str(self.strip_channel.currentData() or "composition")

    def _show_timeline(self) -> None:
        if self.result is None:
            self.waveform.set_chunks([])
            self.waveform.highlight_song(None)
            return
        rows = self.result.timeline.get(self._timeline_channel(), ())
        self.waveform.set_chunks([
            {"start": r.start, "end": r.end, "label": r.title, "confidence": r.confidence,
             "qualifies": r.qualifies} for r in rows])
        self._on_song_selected(self.table.selected_song())

    def _on_song_selected(self, song_id) -> None:
        self.bars.highlight(song_id)
        self.confidence.highlight(song_id)
        if self.result is None or song_id is None:
            self.waveform.highlight_song(None)
            return
        values = self.result.chunk_confidence(song_id, self._timeline_channel())
        self.waveform.highlight_song(list(values) if len(values) else None)

    # -- reports ---------------------------------------------------------------------------
    def export_dialog(self) -> None:
        if self.result is None:
            return
        stem = f"{self.track.path.stem}-lumina" if self.track else "lumina-report"
        start = str(Path(self.settings.last_folder or Path.cwd()) / f"{stem}.pdf")
        path, _ = QFileDialog.getSaveFileName(self, "Export a signed report (PDF and JSON)",
                                              start, "PDF report (*.pdf)")
        if path:
            self.export_report(Path(path))

    def export_report(self, pdf_path: Path) -> None:
        """Write ``pdf_path`` and the JSON next to it, both signed, on a worker."""
        if self.result is None:
            return
        pdf_path = Path(pdf_path).with_suffix(".pdf")
        payload = self.result.to_json()

        def work(progress, cancel) -> list[Path]:
            from lumina.reports.report import write_signed_reports

            return write_signed_reports(payload, json_path=pdf_path.with_suffix(".json"),
                                        pdf_path=pdf_path)

        def written(paths: list[Path]) -> None:
            names = " and ".join(p.name for p in paths)
            text = f"Wrote {names} (signed) in {pdf_path.parent}"
            self.statusBar().showMessage(text, 10_000)
            self.reportChecked.emit(True, text)

        self._start(work, "export", succeeded=written)

    def verify_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Verify a signed report",
                                              self.settings.last_folder, REPORT_FILTER)
        if path:
            self.verify_report(Path(path))

    def verify_report(self, path: Path) -> None:
        path = Path(path)

        def valid(check) -> None:
            p = check.verified.predicate
            text = (f"Valid: {path.name} is signed by {check.signer}.\n"
                    f"Track {p['track']['source']} (SHA-256 {check.audio_sha256[:16]}…), model "
                    f"{p['model']['name']}, library {p['library']['name']} "
                    f"({p['library']['songs']} songs).")
            self.reportChecked.emit(True, text)
            if self.dialogs:
                QMessageBox.information(self, "Report verified", text)

        def invalid(message: str) -> None:
            text = f"Invalid: {message}"
            self.reportChecked.emit(False, text)
            if self.dialogs:
                QMessageBox.critical(self, "Report NOT valid", text)

        self._start(functools.partial(jobs.verify_report_file, path), "verify",
                    succeeded=valid, failed=invalid)

    # -- state -----------------------------------------------------------------------------
    def _update_enabled(self) -> None:
        busy = self.analysis_task is not None
        ready = self.track is not None and self.library is not None and not busy
        self.analyze_button.setEnabled(ready)
        self.analyze_action.setEnabled(ready)
        self.cancel_button.setVisible(busy)
        self.cancel_action.setEnabled(busy)
        self.progress.setVisible(busy)
        has_track = self.track is not None
        can_play = has_track and self.player.available
        self.play_button.setEnabled(can_play)
        self.stop_button.setEnabled(can_play)
        if not self.player.available:
            self.play_button.setToolTip(self.player.unavailable_reason)
        self.export_action.setEnabled(self.result is not None)

    def _about(self) -> None:
        from lumina import __version__

        QMessageBox.about(self, "About LUMINA",
                          f"LUMINA {__version__}\nWhich catalog songs influenced a piece of "
                          "AI-generated music, how much, and how sure we are.")

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt naming
        self.settings.geometry = self.saveGeometry()
        self.settings.window_state = self.saveState()
        self.settings.sync()
        for task in list(self.tasks):
            task.cancel()
        for task in list(self.tasks):
            task.wait(10_000)
        self.player.close()
        super().closeEvent(event)


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
    return app.exec()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
