"""The window's status bar: the track line, the playback, library and device labels."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QStatusBar

from lumina_app.jobs import LibrarySummary
from lumina_app.player import Player

__all__ = ["StatusLabels"]


class StatusLabels:
    """The labels of a window's status bar.

    Attributes
    ----------
    file_label : the track line (stretches); playback_label, library_label, device_label:
        permanent labels on the right.
    """

    def __init__(self, bar: QStatusBar, player: Player) -> None:
        self.file_label = QLabel("Drop a track here or use File ▸ Open")
        self.library_label = QLabel("library: —")
        self.device_label = QLabel("device: …")
        self.playback_label = QLabel("")
        bar.addWidget(self.file_label, 1)
        bar.addPermanentWidget(self.playback_label)
        bar.addPermanentWidget(self.library_label)
        bar.addPermanentWidget(self.device_label)
        if not player.available:
            self.playback_label.setText("playback unavailable")
            self.playback_label.setToolTip(player.unavailable_reason)

    def show_library(self, summary: LibrarySummary) -> None:
        self.library_label.setText(f"library: {summary.name} ({summary.songs} songs)")
        self.library_label.setToolTip(f"{summary.path}\nmodel {summary.model_name} "
                                      f"{summary.model_sha256}")

    def show_device(self, text: str) -> None:
        """``text``: the device's name, ``…`` while probing, or ``⚠ <reason>``."""
        self.device_label.setText(f"device: {text}")
