"""What the result views share: colours, the one-line empty texts, number formatting, plot
styling, and :class:`ResultView` (a stack of the empty state and the view's content).

Views only: nothing here computes a score; every number is read from a
:class:`lumina.analysis.AnalysisResult`.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QLabel, QStackedWidget, QVBoxLayout, QWidget

from lumina.analysis import AnalysisResult, SongRow
from lumina.reports.findings import percent as report_percent

__all__ = [
    "ACCENT",
    "BACKGROUND",
    "CHANNEL_COLOURS",
    "DEFAULT_CHANNELS",
    "DIM",
    "EMPTY_TEXT",
    "HIGHLIGHT",
    "NO_SONGS_TEXT",
    "ORANGE",
    "SORT_ROLE",
    "TEXT",
    "ResultView",
    "channel_colour",
    "elide",
    "lead_channel",
    "percent",
    "set_title_ticks",
    "song_tooltip",
    "styled_plot",
]

BACKGROUND = (30, 31, 34)
TEXT = (220, 221, 222)
DIM = (125, 127, 133)
ACCENT = (88, 166, 255)
ORANGE = (255, 170, 80)
HIGHLIGHT = (255, 255, 255)
#: Composition is blue and production orange everywhere in the app.
CHANNEL_COLOURS = {"composition": ACCENT, "production": ORANGE}
OTHER_COLOURS = ((120, 200, 140), (200, 140, 220), (230, 110, 110))
DEFAULT_CHANNELS = ("composition", "production")

#: The role a QSortFilterProxyModel sorts on: numbers for numeric columns.
SORT_ROLE = Qt.ItemDataRole.UserRole
EMPTY_TEXT = "No analysis yet: open a track and attribute it against a library."
NO_SONGS_TEXT = "No library song was reported for this track."
TITLE_CHARS = 28


def channel_colour(channel: str, index: int = 0) -> tuple[int, int, int]:
    """The RGB colour of a channel (``index``: its position, for channels not named here)."""
    return CHANNEL_COLOURS.get(channel, OTHER_COLOURS[index % len(OTHER_COLOURS)])


def lead_channel(result: AnalysisResult | None) -> str | None:
    """The channel a result is shown by until the user picks another (the table's sort, the
    strip): the first whose gate named a song, else the first; None without a result."""
    if result is None or not result.channels:
        return None
    return next((c for c, ch in result.channels.items() if ch.n_qualifying),
                next(iter(result.channels)))


def percent(x: float) -> str:
    """One number format in the app, the CLI and the reports."""
    return report_percent(x)


def elide(text: str, n: int = TITLE_CHARS) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def song_tooltip(song: SongRow) -> str:
    """Per-channel numbers of one song, one line each."""
    artist = f" — {song.artist}" if song.artist else ""
    lines = [f"{song.title}{artist}"]
    for name, inf in song.channels.items():
        if inf is None:
            lines.append(f"{name}: not reported (below the top of the ranking)")
            continue
        verdict = "qualifies" if inf.qualifies else "below the gate"
        lines.append(
            f"{name}: cosine {inf.cosine:.3f} (raw {inf.raw_cosine:.3f}), z {inf.z:.2f}, "
            f"confidence {percent(inf.confidence)}, share {percent(inf.share)}, "
            f"rank {inf.rank} — {verdict}")
    return "\n".join(lines)


def set_title_ticks(plot: pg.PlotItem, titles: Sequence[str]) -> None:
    """Song titles as the left axis' ticks, at rows 0…n-1."""
    axis = plot.getAxis("left")
    axis.setTicks([[(i, t) for i, t in enumerate(titles)], []])
    # The axis drops any label wider than itself and only widens after a paint: size it to
    # the longest title up front so every title shows on the first frame.
    metrics = QFontMetrics(axis.style.get("tickFont") or QFont())
    widest = max((metrics.horizontalAdvance(t) for t in titles), default=0)
    axis.setWidth(widest + 20 if widest else None)


def styled_plot(plot: pg.PlotItem) -> None:
    for name in ("left", "bottom"):
        axis = plot.getAxis(name)
        axis.setPen(pg.mkPen(DIM))
        axis.setTextPen(pg.mkPen(TEXT))
    plot.setMenuEnabled(False)
    plot.hideButtons()



class ResultView(QWidget):
    """A stack of a one-line empty state and the view's content."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._result: AnalysisResult | None = None
        self._highlighted: int | None = None
        self.stack = QStackedWidget(self)
        self.empty_label = QLabel(EMPTY_TEXT)
        # Wrapped: one long line would set the pane's minimum width and squeeze the table.
        self.empty_label.setWordWrap(True)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setStyleSheet(f"color: rgb{DIM};")
        self.stack.addWidget(self.empty_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)

    @property
    def result(self) -> AnalysisResult | None:
        return self._result

    @property
    def highlighted(self) -> int | None:
        """The highlighted song id, when it is drawn."""
        return self._highlighted

    def is_empty(self) -> bool:
        """True while the one-line empty state is shown."""
        return self.stack.currentWidget() is self.empty_label

    def _show_empty(self, text: str) -> None:
        self.empty_label.setText(text)
        self.stack.setCurrentWidget(self.empty_label)

    def _add_content(self, content: QWidget) -> None:
        """The view's page: ``content`` above a wrapped caption (``self.caption``)."""
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(content, 1)
        layout.addWidget(self.caption)
        self.stack.addWidget(page)
        self._page = page
