"""``lumina-app [TRACK]``: the desktop window.

This first version opens a track (dialog, drag-and-drop or command line), decodes it on a
worker thread and draws its waveform from precomputed min/max levels; the status bar shows
the file and the compute device. Every number comes from :mod:`lumina`.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QAction, QColor, QKeySequence, QPalette
from PySide6.QtWidgets import QApplication, QFileDialog, QLabel, QMainWindow

ENVELOPE_BINS = 4000
DISPLAY_RATE = 32_000
AUDIO_FILTER = "Audio (*.wav *.flac *.ogg *.oga *.opus *.mp3 *.m4a *.mp4 *.aac);;All files (*)"


class _Signals(QObject):
    loaded = Signal(object)   # dict with samples envelope and metadata
    failed = Signal(str)      # one-line error
    device = Signal(str)


class LoadTrack(QRunnable):
    """Decodes a track off the UI thread and computes its waveform envelope."""

    def __init__(self, path: Path, signals: _Signals) -> None:
        super().__init__()
        self.path = path
        self.signals = signals

    def run(self) -> None:
        from lumina.audio import load_audio, waveform_envelope
        from lumina.errors import LuminaError

        try:
            audio = load_audio(self.path, DISPLAY_RATE)
            mins, maxs = waveform_envelope(audio.samples, ENVELOPE_BINS)
        except LuminaError as exc:
            self.signals.failed.emit(str(exc))
            return
        except Exception as exc:  # keep the app alive whatever the file does
            self.signals.failed.emit(f"{self.path.name}: {type(exc).__name__}: {exc}")
            return
        self.signals.loaded.emit({"path": self.path, "duration": audio.duration,
                                  "mins": mins, "maxs": maxs, "warnings": audio.warnings,
                                  "source_rate": audio.source_rate,
                                  "channels": audio.source_channels})


class ProbeDevice(QRunnable):
    """torch is imported here, on a worker, so the window appears before it loads."""

    def __init__(self, signals: _Signals) -> None:
        super().__init__()
        self.signals = signals

    def run(self) -> None:
        from lumina.fingerprint import choose_device, device_label

        label = device_label(choose_device())
        with contextlib.suppress(RuntimeError):  # the window closed while torch loaded
            self.signals.device.emit(label)


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
    app.setPalette(palette)
    pg.setConfigOptions(antialias=True, background=base, foreground=text)


class MainWindow(QMainWindow):
    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("LUMINA")
        self.resize(1000, 420)
        self.setAcceptDrops(True)
        # Two pools: the device probe imports torch (seconds, once) and must never hold up
        # opening a track.
        self.pool = QThreadPool(self)
        self.probe_pool = QThreadPool(self)
        self.probe_pool.setMaxThreadCount(1)
        self.signals = _Signals()
        self.signals.loaded.connect(self._on_loaded)
        self.signals.failed.connect(self._on_failed)
        self.signals.device.connect(self._on_device)
        self.track: dict | None = None

        self.plot = pg.PlotWidget()
        self.plot.setMouseEnabled(x=True, y=False)
        self.plot.setYRange(-1.0, 1.0)
        self.plot.setLabel("bottom", "time", units="s")
        self.plot.hideAxis("left")
        self.curve_max = self.plot.plot(pen=pg.mkPen((88, 166, 255), width=1))
        self.curve_min = self.plot.plot(pen=pg.mkPen((88, 166, 255), width=1))
        self.fill = pg.FillBetweenItem(self.curve_min, self.curve_max, brush=(88, 166, 255, 110))
        self.plot.addItem(self.fill)
        self.setCentralWidget(self.plot)

        open_action = QAction("&Open…", self)
        open_action.setShortcut(QKeySequence.StandardKey.Open)
        open_action.triggered.connect(self.open_dialog)
        self.menuBar().addMenu("&File").addAction(open_action)

        self.file_label = QLabel("Drop a track here or use File ▸ Open")
        self.device_label = QLabel("device: …")
        self.statusBar().addWidget(self.file_label, 1)
        self.statusBar().addPermanentWidget(self.device_label)
        self.probe_pool.start(ProbeDevice(self.signals))

    # -- opening ---------------------------------------------------------------------------
    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a track", "", AUDIO_FILTER)
        if path:
            self.open_track(Path(path))

    def open_track(self, path: Path) -> None:
        self.file_label.setText(f"Loading {path.name}…")
        self.pool.start(LoadTrack(Path(path), self.signals))

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt naming
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt naming
        urls = [u for u in event.mimeData().urls() if u.isLocalFile()]
        if urls:
            self.open_track(Path(urls[0].toLocalFile()))

    # -- results ---------------------------------------------------------------------------
    def _on_loaded(self, track: dict) -> None:
        self.track = track
        n = len(track["mins"])
        t = np.linspace(0.0, track["duration"], n, dtype=np.float32)
        self.curve_min.setData(t, track["mins"])
        self.curve_max.setData(t, track["maxs"])
        self.plot.setXRange(0.0, track["duration"], padding=0)
        note = f" — {track['warnings'][0]}" if track["warnings"] else ""
        self.file_label.setText(
            f"{track['path'].name}  ·  {track['duration']:.1f} s  ·  "
            f"{track['source_rate'] / 1000:g} kHz, {track['channels']} ch{note}")
        self.setWindowTitle(f"LUMINA — {track['path'].name}")

    def _on_failed(self, message: str) -> None:
        self.file_label.setText(f"⚠ {message}")

    def _on_device(self, label: str) -> None:
        self.device_label.setText(f"device: {label}")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    app = QApplication.instance() or QApplication(argv)
    apply_dark_theme(app)
    window = MainWindow()
    window.show()
    if len(argv) > 1:
        window.open_track(Path(argv[1]))
    return app.exec()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
