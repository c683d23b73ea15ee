"""The LUMINA main window: a track's waveform and transport above the influence table and
the channel and confidence views, the library and audit panels docked on the right.

Every long step runs on a worker thread as a :class:`lumina_app.tasks.Task` carrying a job of
:mod:`lumina_app.jobs`; every number comes from :mod:`lumina`. The menus live in
:mod:`lumina_app.menus`, the status bar in :mod:`lumina_app.status`, the library/audit and
report slots in :mod:`lumina_app.library_actions` and :mod:`lumina_app.report_actions`.
"""

from __future__ import annotations

import functools
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
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
from lumina.reports.findings import answer_lines
from lumina_app import jobs
from lumina_app import tasks as task_registry
from lumina_app.audit_panel import AuditPanel
from lumina_app.elided_label import ElidedLabel
from lumina_app.library_actions import AuditRowRelay, LibraryActions
from lumina_app.library_panel import LibraryPanel
from lumina_app.menus import build_menus
from lumina_app.player import Player
from lumina_app.report_actions import ReportActions
from lumina_app.result_base import lead_channel
from lumina_app.results import ChannelBars, ConfidenceView, InfluenceTable
from lumina_app.settings import AppSettings
from lumina_app.song_view import SongView
from lumina_app.status import StatusLabels
from lumina_app.tasks import Task
from lumina_app.waveform import WaveformView

__all__ = ["AUDIO_FILTER", "CHANNEL_NAMES", "MainWindow"]

AUDIO_FILTER = "Audio (*.wav *.flac *.ogg *.oga *.opus *.mp3 *.m4a *.mp4 *.aac);;All files (*)"
CHANNEL_NAMES = {"composition": "Composition", "production": "Production"}
#: Default width of the library and audit docks, in px.
DOCK_WIDTH = 260
#: Narrowest the channel and confidence views may get, in px.
VIEWS_MIN_WIDTH = 420


class MainWindow(LibraryActions, ReportActions, QMainWindow):
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
        build_menus(self)
        self.status_labels = StatusLabels(self.statusBar(), self.player)
        self.file_label = self.status_labels.file_label
        self.playback_label = self.status_labels.playback_label
        self.library_label = self.status_labels.library_label
        self.device_label = self.status_labels.device_label
        if self.settings.geometry is not None:
            self.restoreGeometry(self.settings.geometry)
        if self.settings.window_state is not None:
            self.restoreState(self.settings.window_state)
        self._dock_sized = self.settings.window_state is not None
        self.update_enabled()
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
        self.player.errorOccurred.connect(self.show_error)

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
        # A long status must never widen the window past a 1280 px screen: it ends in "…"
        # where it is cut, and the whole text is in the tooltip.
        self.progress_label = ElidedLabel("")
        self.progress_label.setStyleSheet("color: #9a9ba0;")
        self.strip_channel = QComboBox()
        self.strip_channel.setToolTip("Channel shown in the chunk strip under the waveform")
        for key, name in CHANNEL_NAMES.items():
            self.strip_channel.addItem(name, key)
        self.strip_channel.currentIndexChanged.connect(self._show_timeline)
        # Until the user picks a channel, the strip shows the result's lead channel.
        self._strip_chosen = False
        self.strip_channel.activated.connect(self._on_strip_chosen)
        row = QHBoxLayout()
        row.setContentsMargins(6, 4, 6, 0)
        for w in (self.play_button, self.stop_button, self.time_label):
            row.addWidget(w)
        row.addSpacing(12)
        for w in (self.analyze_button, self.cancel_button, self.progress):
            row.addWidget(w)
        row.addWidget(self.progress_label, 1)
        row.addWidget(QLabel("Strip:"))
        row.addWidget(self.strip_channel)
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addLayout(row)
        top_layout.addWidget(self.waveform, 1)
        self.song_view = SongView(self.waveform, self.player, make_player=Player)
        top_layout.addWidget(self.song_view, 1)

        self.table = InfluenceTable()
        self.table.songSelected.connect(self._on_song_selected)
        self.bars = ChannelBars()
        self.confidence = ConfidenceView()
        self.views = QTabWidget()
        self.views.addTab(self.bars, "Channels")
        self.views.addTab(self.confidence, "Confidence")
        # The confidence view draws two plots side by side; narrower, pyqtgraph clips the
        # second one instead of shrinking it.
        self.views.setMinimumWidth(VIEWS_MIN_WIDTH)
        # What the channels were measured to capture on this model, when it is not what
        # their names say (DESIGN §1): shown with every result, never hidden in a tooltip.
        self.channel_note = QLabel("")
        self.channel_note.setWordWrap(True)
        self.channel_note.setStyleSheet("color: #f0b450; padding: 2px 4px;")
        self.channel_note.setVisible(False)
        # The answer first, in the sentence the CLI and the PDF print (lumina.reports).
        self.answer = QLabel("")
        self.answer.setWordWrap(True)
        self.answer.setStyleSheet("font-weight: 600; padding: 2px 4px;")
        self.answer.setVisible(False)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.answer)
        left_layout.addWidget(self.channel_note)
        left_layout.addWidget(self.table, 1)
        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.addWidget(left)
        bottom.addWidget(self.views)
        # The table first: its titles must not be cut at 1280 px (the chart elides).
        bottom.setSizes([800, 440])
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
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        self.library_dock = dock

        self.audit_panel = AuditPanel()
        self.audit_panel.auditRequested.connect(self.audit)
        self.audit_panel.cancelRequested.connect(self.cancel_audit)
        self.audit_panel.openTrackRequested.connect(self.open_track)
        self.audit_task: Task | None = None
        self.row_relay = AuditRowRelay(self)
        self.row_relay.row.connect(self.audit_panel.add_row)
        audit_dock = QDockWidget("Audit queue", self)
        audit_dock.setObjectName("audit-dock")
        audit_dock.setWidget(self.audit_panel)
        audit_dock.setFeatures(dock.features())
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, audit_dock)
        self.tabifyDockWidget(dock, audit_dock)
        dock.raise_()
        self.audit_dock = audit_dock

    # -- task plumbing ---------------------------------------------------------------------
    def start_task(self, work, label: str, *, succeeded, progressed=None, failed=None,
                   cancelled=None, done=None) -> Task:
        """Run ``work`` (a job bound to its arguments) as a :class:`Task` on a worker."""
        task = Task(work, label=label)
        task.succeeded.connect(succeeded)
        task.failed.connect(failed or self.show_error)
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
        # The registry in lumina_app.tasks keeps the QThread alive until it has ended, so
        # dropping the window's reference here never destroys a running thread.
        self.tasks.discard(task)
        self.update_enabled()

    def show_error(self, message: str) -> None:
        self.errorShown.emit(message)
        self.statusBar().showMessage(f"⚠ {message}", 10_000)
        if self.dialogs:
            QMessageBox.warning(self, "LUMINA", message)

    def _probe_device(self) -> None:
        # torch is imported on a worker, so the window appears before torch has loaded.
        self.status_labels.show_device("…")
        self.start_task(functools.partial(jobs.probe_device, self.settings.device), "device",
                        succeeded=self.status_labels.show_device,
                        failed=lambda msg: self.status_labels.show_device(f"⚠ {msg}"))

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
        self.start_task(work, "load", succeeded=self._on_track_loaded,
                        failed=self._on_track_failed)

    def _on_track_failed(self, message: str) -> None:
        self.file_label.setText(f"⚠ {message}")
        self.show_error(message)

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
        self.update_enabled()
        self.trackShown.emit(track)

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
                self.show_error("Open or create a library first to add a folder to it.")
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

    # -- analysis --------------------------------------------------------------------------
    def analyze(self) -> None:
        if self.track is None or self.library is None or self.analysis_task is not None:
            return
        if self.library.songs == 0:
            self.show_error(f"Library {self.library.name} is empty: add a folder of songs "
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
            self.update_enabled()

        self.analysis_task = self.start_task(work, "analysis", succeeded=self._on_analyzed,
                                             progressed=self._on_analysis_progress,
                                             failed=self._on_analysis_failed,
                                             cancelled=self._on_analysis_cancelled,
                                             done=finished)
        self.update_enabled()

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
        self.show_error(message)

    def _on_analysis_cancelled(self) -> None:
        self.progress_label.setText("Analysis cancelled.")

    def _on_analyzed(self, result) -> None:
        self._set_result(result)
        n = {c: ch.n_qualifying for c, ch in result.channels.items()}
        detail = ", ".join(f"{CHANNEL_NAMES.get(c, c).lower()} {k}" for c, k in n.items())
        self.progress_label.setText(
            f"Done: songs named — {detail} ({result.library.songs} songs).")
        self.progress_label.setToolTip(
            "Songs are named by one rule over the whole library: "
            f"{result.gate_description}; {result.null} null.")
        self.analysisShown.emit(result)

    def _set_result(self, result) -> None:
        self.result = result
        notes = getattr(result, "channel_notes", {}) if result is not None else {}
        scope = getattr(result, "model_scope", None) if result is not None else None
        unusual = getattr(result, "unusual_input", None) if result is not None else None
        lines = ([f"Model: {scope}"] if scope else []) + [f"{c.capitalize()}: {n}."
                                                         for c, n in notes.items()]
        # What holds for every track on this model is one line (a badge), its full text in
        # the tooltip; the track's own warning is spelt out above it.
        badge = [scope.split(":", 1)[0].strip().rstrip(".")] if scope else []
        if notes:
            badge.append("limits measured on this model: " + ", ".join(notes))
        blocks = ([unusual[0].upper() + unusual[1:] + "."] if unusual else []) + (
            ["  ·  ".join(badge) + " (hover for details)"] if badge else [])
        self.channel_note.setText("\n".join("⚠ " + b for b in blocks))
        self.channel_note.setToolTip("\n\n".join(lines))
        self.channel_note.setVisible(bool(blocks))
        self.answer.setText("\n".join(answer_lines(result)) if result is not None else "")
        self.answer.setVisible(result is not None)
        self.table.set_result(result)
        self.bars.set_result(result)
        self.confidence.set_result(result)
        lead = None if self._strip_chosen else lead_channel(result)
        index = self.strip_channel.findData(lead) if lead else -1
        if index >= 0 and index != self.strip_channel.currentIndex():
            self.strip_channel.setCurrentIndex(index)  # redraws the strip
        else:
            self._show_timeline()
        self.update_enabled()

    def _on_strip_chosen(self, _index: int) -> None:
        self._strip_chosen = True

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
        self.song_view.show_song(self.result, song_id, self._timeline_channel(), self.track)
        self.bars.highlight(song_id)
        self.confidence.highlight(song_id)
        if self.result is None or song_id is None:
            self.waveform.highlight_song(None)
            return
        values = self.result.chunk_confidence(song_id, self._timeline_channel())
        self.waveform.highlight_song(list(values) if len(values) else None)

    # -- state -----------------------------------------------------------------------------
    def update_enabled(self) -> None:
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
        self.calibrate_action.setEnabled(self.library is not None
                                         and self.library_task is None)

    def save_settings(self) -> None:
        self.settings.geometry = self.saveGeometry()
        self.settings.window_state = self.saveState()
        self.settings.sync()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt naming
        super().showEvent(event)
        if not self._dock_sized:
            # Narrow docks on a first start, so the results keep room on a 1280 px laptop
            # (a dock takes its size only once the window is laid out); the user can drag.
            self._dock_sized = True
            # With the window as context: a window closed before the timer fires drops it.
            QTimer.singleShot(0, self, lambda: self.resizeDocks(
                [self.library_dock], [DOCK_WIDTH], Qt.Orientation.Horizontal))

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt naming
        """Save the settings, stop playback, then the one shutdown path: cancel every
        running task and wait for each within a bounded time, the window already hidden."""
        self.save_settings()
        for task in list(self.tasks):
            task.cancel()
        self.player.close()
        self.song_view.shutdown()
        self.hide()
        task_registry.shutdown()
        super().closeEvent(event)

