"""The library panel: which library is in use, its size and model, its calibration, and
indexing into it.

The panel only asks (signals); the main window runs the jobs on worker threads and reports
back through :meth:`LibraryPanel.set_library`, :meth:`show_progress` and :meth:`show_idle`.
"""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from lumina.progress import ProgressState

__all__ = ["LibraryPanel", "calibration_text", "human_size", "rendering_choices",
           "rendering_label"]

#: Fewer songs than this leave nothing to hold a song out against.
MIN_CALIBRATION_SONGS = 2


def rendering_label(rendering: str | None) -> str:
    """How the panel names a library's composition rendering (None: the audio itself)."""
    return f"{rendering} rendering" if rendering else "the audio itself"


def rendering_choices() -> list[tuple[str, str]]:
    """``(label, value for jobs.create_library)`` per choice, the default first."""
    from lumina.workspace import (
        DEFAULT_COMPOSITION_RENDERING,
        PLAIN_RENDERING,
        available_renderings,
    )

    options = [(PLAIN_RENDERING, "the audio itself (the LUMINA paper's mode)")] + [
        (name, f"{name} rendering: {description}")
        for name, description in available_renderings().items()]
    options.sort(key=lambda item: item[0] != DEFAULT_COMPOSITION_RENDERING)
    return [(f"{text} (default)" if value == DEFAULT_COMPOSITION_RENDERING else text, value)
            for value, text in options]


def calibration_text(calibration: object | None) -> tuple[str, str]:
    """``(shown, tooltip)`` for a :class:`lumina.calibration.LibraryCalibration` (None: the
    library has none): its summary sentence when current, else why there is none."""
    if calibration is None:
        return ("not calibrated", "False names and copy detection have not been measured on "
                "this library: Calibrate… measures them with its own model")
    made = (f"\n\nMeasured {calibration.created} in {calibration.seconds:.0f} s on "
            f"{calibration.songs} songs.")
    if not calibration.current:
        return ("stale: songs changed since",
                "Songs were added or removed after this calibration:\n"
                + calibration.summary() + made)
    text = calibration.summary()
    # A figure and its unit stay on one line when the sentence wraps ("97 %", "10 s").
    shown = re.sub(r"(\d) (%|s\b)", "\\1\u00a0\\2", text)
    return shown, text + made


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"  # pragma: no cover - loop always returns


class LibraryPanel(QWidget):
    openRequested = Signal(object)        # Path of an existing library
    createRequested = Signal(object, str)  # Path of a new, empty folder; rendering name
    addFolderRequested = Signal(object)   # Path of a folder of audio to index
    demoRequested = Signal()
    calibrateRequested = Signal()
    cancelRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.library = None
        self.name = QLabel("no library")
        self.name.setStyleSheet("font-weight: 600; font-size: 13px;")
        # Wrapped, like the rest: the dock stays narrow enough for the results at 1280 px.
        self.name.setWordWrap(True)
        self.songs = QLabel("—")
        self.model = QLabel("—")
        self.model.setWordWrap(True)
        self.composition = QLabel("—")
        self.composition.setWordWrap(True)
        self.size = QLabel("—")
        self.where = QLabel("—")
        self.where.setWordWrap(True)
        self.where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.where.setStyleSheet("color: #9a9ba0;")
        self.calibration = QLabel("—")
        self.calibration.setWordWrap(True)
        self.calibration.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.calibrate_button = QPushButton("Calibrate…")
        self.calibrate_button.clicked.connect(self.calibrateRequested)
        calibration = QVBoxLayout()
        calibration.setContentsMargins(0, 0, 0, 0)
        calibration.addWidget(self.calibration)
        calibration.addWidget(self.calibrate_button, 0, Qt.AlignmentFlag.AlignLeft)
        form = QFormLayout()
        form.addRow("Songs", self.songs)
        form.addRow("Model", self.model)
        form.addRow("Composition", self.composition)
        form.addRow("Size", self.size)
        form.addRow("Folder", self.where)
        # The row is as tall as its sentence and button: its label beside the first line.
        calibration_label = QLabel("Calibration")
        calibration_label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        calibration_label.setSizePolicy(QSizePolicy.Policy.Preferred,
                                        QSizePolicy.Policy.Expanding)
        form.addRow(calibration_label, calibration)

        self.open_button = QPushButton("Open…")
        self.new_button = QPushButton("New…")
        self.add_button = QPushButton("Add folder…")
        self.demo_button = QPushButton("Demo library")
        self.open_button.setToolTip("Use an existing LUMINA library folder")
        self.new_button.setToolTip("Create an empty library for the embedded model")
        self.add_button.setToolTip("Fingerprint every audio file of a folder into this library")
        self.demo_button.setToolTip("The embedded demo catalog (built once in the cache)")
        self.open_button.clicked.connect(self.ask_open)
        self.new_button.clicked.connect(self.ask_new)
        self.add_button.clicked.connect(self.ask_add)
        self.demo_button.clicked.connect(self.demoRequested)
        buttons = QGridLayout()
        buttons.addWidget(self.open_button, 0, 0)
        buttons.addWidget(self.new_button, 0, 1)
        buttons.addWidget(self.add_button, 1, 0)
        buttons.addWidget(self.demo_button, 1, 1)

        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancelRequested)
        busy = QHBoxLayout()
        busy.addWidget(self.progress, 1)
        busy.addWidget(self.cancel_button)

        layout = QVBoxLayout(self)
        layout.addWidget(self.name)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addLayout(busy)
        layout.addWidget(self.status)
        layout.addStretch(1)
        self.show_idle("")
        self.set_library(None)

    # -- state from the window ------------------------------------------------------------
    def set_library(self, summary: object | None) -> None:
        """Show a :class:`lumina_app.jobs.LibrarySummary` (None: no library)."""
        self.library = summary
        self.add_button.setEnabled(summary is not None and not getattr(summary, "is_demo", False))
        self._show_calibration()
        if summary is None:
            self.name.setText("No library")
            for label in (self.songs, self.model, self.composition, self.size, self.where):
                label.setText("—")
                label.setToolTip("")
            return
        demo = " (demo)" if summary.is_demo else ""
        self.name.setText(f"{summary.name}{demo}")
        self.songs.setText(f"{summary.songs:,}")
        self.model.setText(f"{summary.model_name} · {summary.model_sha256[:12]}… · D={summary.dim}")
        self.model.setToolTip(summary.model_sha256)
        rendering = getattr(summary, "composition_rendering", None)
        self.composition.setText(rendering_label(rendering))
        self.composition.setToolTip(
            "The composition channel's fingerprints are of a timbre-neutral rendering of "
            "the audio, meant to keep the instrument's sound out of them" if rendering else
            "Both channels see the audio itself (the LUMINA paper's mode)")
        self.size.setText(human_size(summary.size_bytes))
        self.where.setText(str(summary.path))

    def _show_calibration(self) -> None:
        """The calibration row and the Calibrate button of the library shown."""
        summary = self.library
        if summary is None:
            self.calibration.setText("—")
            self.calibration.setToolTip("")
            self.calibrate_button.setText("Calibrate…")
            self.calibrate_button.setEnabled(False)
            return
        calibration = getattr(summary, "calibration", None)
        text, tip = calibration_text(calibration)
        self.calibration.setText(text)
        self.calibration.setToolTip(tip)
        current = calibration is not None and calibration.current
        self.calibrate_button.setText("Calibrate again" if current else "Calibrate…")
        enough = summary.songs >= MIN_CALIBRATION_SONGS
        self.calibrate_button.setEnabled(enough)
        self.calibrate_button.setToolTip(
            "Measure how often a song unrelated to this library is named, and how often "
            "changed copies of its songs are found (a few minutes; stored in the library)"
            if enough else "Index at least two songs before calibrating")

    def show_progress(self, text: str, state: ProgressState | None = None) -> None:
        """Busy: a progress bar (indeterminate until the first reading) and Cancel."""
        for button in (self.open_button, self.new_button, self.add_button, self.demo_button,
                       self.calibrate_button):
            button.setEnabled(False)
        self.progress.setVisible(True)
        self.cancel_button.setVisible(True)
        self.cancel_button.setEnabled(True)
        if state is None or state.total <= 0:
            self.progress.setRange(0, 0)
            self.status.setText(text)
        else:
            self.progress.setRange(0, state.total)
            self.progress.setValue(state.done)
            self.progress.setFormat(f"{state.done}/{state.total}")
            self.status.setText(f"{text} — {state.describe()}")

    def show_idle(self, message: str) -> None:
        self.progress.setVisible(False)
        self.cancel_button.setVisible(False)
        for button in (self.open_button, self.new_button, self.demo_button):
            button.setEnabled(True)
        self.add_button.setEnabled(self.library is not None
                                   and not getattr(self.library, "is_demo", False))
        self._show_calibration()
        self.status.setText(message)

    # -- dialogs ---------------------------------------------------------------------------
    def ask_open(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a LUMINA library")
        if folder:
            self.openRequested.emit(Path(folder))

    def ask_new(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Choose an empty folder for the new library")
        if not folder:
            return
        choices = rendering_choices()
        labels = [label for label, _ in choices]
        label, ok = QInputDialog.getItem(
            self, "Composition channel",
            "What should the composition channel fingerprint?\n(fixed for the library's "
            "life; see docs/method.md)", labels, 0, False)
        if ok:
            self.createRequested.emit(Path(folder), dict(choices)[label])

    def ask_add(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of audio to the library")
        if folder:
            self.addFolderRequested.emit(Path(folder))
