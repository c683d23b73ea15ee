"""Views of one :class:`lumina.analysis.AnalysisResult`: the influence table, the
per-channel share bars and the confidence view (score against the noise floor and the gate).

Views only: every number shown is read from the result (``AnalysisResult.songs()``, the
channels' ``z_gate`` and ``n_qualifying``, ``result.null``); nothing here computes a score.
Each view takes ``set_result(result | None)``; with None it shows one line saying there is
nothing to show yet.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyqtgraph as pg
from PySide6.QtCore import (
    QAbstractTableModel,
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QFont, QFontMetrics
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from lumina.analysis import AnalysisResult, SongRow

__all__ = [
    "CHANNEL_COLOURS",
    "EMPTY_TEXT",
    "SORT_ROLE",
    "ChannelBars",
    "ConfidenceView",
    "InfluenceTable",
    "InfluenceTableModel",
    "channel_colour",
]

BACKGROUND = (30, 31, 34)
TEXT = (220, 221, 222)
DIM = (125, 127, 133)
ACCENT = (88, 166, 255)
ORANGE = (255, 170, 80)
HIGHLIGHT = (255, 255, 255)
#: Composition is blue and production orange everywhere in the app.
CHANNEL_COLOURS = {"composition": ACCENT, "production": ORANGE}
_OTHER_COLOURS = ((120, 200, 140), (200, 140, 220), (230, 110, 110))
DEFAULT_CHANNELS = ("composition", "production")

#: The role a QSortFilterProxyModel sorts on: numbers for numeric columns.
SORT_ROLE = Qt.ItemDataRole.UserRole
EMPTY_TEXT = "No analysis yet: open a track and attribute it against a library."
NO_SONGS_TEXT = "No library song was reported for this track."
#: Songs drawn by the bar chart and the confidence view (the table lists them all).
MAX_BARS = 10
MAX_POINTS = 15
_TITLE_CHARS = 28


def channel_colour(channel: str, index: int = 0) -> tuple[int, int, int]:
    """The RGB colour of a channel (``index``: its position, for channels not named here)."""
    return CHANNEL_COLOURS.get(channel, _OTHER_COLOURS[index % len(_OTHER_COLOURS)])


def _percent(x: float) -> str:
    return f"{100.0 * x:.1f} %"


def _elide(text: str, n: int = _TITLE_CHARS) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _song_tooltip(song: SongRow) -> str:
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
            f"confidence {_percent(inf.confidence)}, share {_percent(inf.share)}, "
            f"rank {inf.rank} — {verdict}")
    return "\n".join(lines)


def _set_title_ticks(plot: pg.PlotItem, titles: Sequence[str]) -> None:
    """Song titles as the left axis' ticks, at rows 0…n-1."""
    axis = plot.getAxis("left")
    axis.setTicks([[(i, t) for i, t in enumerate(titles)], []])
    # The axis drops any label wider than itself and only widens after a paint: size it to
    # the longest title up front so every title shows on the first frame.
    metrics = QFontMetrics(axis.style.get("tickFont") or QFont())
    widest = max((metrics.horizontalAdvance(t) for t in titles), default=0)
    axis.setWidth(widest + 20 if widest else None)


def _styled_plot(plot: pg.PlotItem) -> None:
    for name in ("left", "bottom"):
        axis = plot.getAxis(name)
        axis.setPen(pg.mkPen(DIM))
        axis.setTextPen(pg.mkPen(TEXT))
    plot.setMenuEnabled(False)
    plot.hideButtons()


# --------------------------------------------------------------------------- the table


class InfluenceTableModel(QAbstractTableModel):
    """One row per song of ``AnalysisResult.songs()``.

    Columns: Title, Artist, one share column per channel ("Composition share",
    "Production share"), Cosine (of the song's best channel), Confidence (highest over the
    channels). :data:`SORT_ROLE` gives numbers for numeric columns (the confidence column
    sorts by the best channel's z: the same order, also among songs whose confidence
    saturated at 100 %) and case-folded text for the others; qualifying songs are bold, the
    others dimmed.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._result: AnalysisResult | None = None
        self._rows: tuple[SongRow, ...] = ()
        self._channels: tuple[str, ...] = DEFAULT_CHANNELS
        self._keys = self._column_keys(self._channels)
        self._bold = QFont()
        self._bold.setBold(True)

    @staticmethod
    def _column_keys(channels: Sequence[str]) -> tuple[str, ...]:
        return ("title", "artist", *(f"share:{c}" for c in channels), "cosine", "confidence")

    # -- content ---------------------------------------------------------------------------
    def set_result(self, result: AnalysisResult | None) -> None:
        """Show ``result`` (None: no rows)."""
        self.beginResetModel()
        self._result = result
        self._rows = () if result is None else result.songs()
        self._channels = DEFAULT_CHANNELS if result is None else tuple(result.channels)
        self._keys = self._column_keys(self._channels)
        self.endResetModel()

    @property
    def result(self) -> AnalysisResult | None:
        return self._result

    @property
    def songs(self) -> tuple[SongRow, ...]:
        """The rows, in ``songs()`` order (the model's own order, before any proxy)."""
        return self._rows

    @property
    def column_keys(self) -> tuple[str, ...]:
        """``"title"``, ``"artist"``, ``"share:<channel>"``…, ``"cosine"``, ``"confidence"``."""
        return self._keys

    def column(self, key: str) -> int:
        """The column index of a key of :attr:`column_keys` (ValueError if absent)."""
        return self._keys.index(key)

    def song_id_at(self, row: int) -> int:
        """The song id of a (source) row."""
        return self._rows[row].song_id

    def row_of(self, song_id: int) -> int | None:
        """The (source) row of a song, None when it is not listed."""
        for i, song in enumerate(self._rows):
            if song.song_id == song_id:
                return i
        return None

    # -- QAbstractTableModel ---------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._keys)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self._keys):
            return None
        key = self._keys[section]
        if role == Qt.ItemDataRole.DisplayRole:
            if key.startswith("share:"):
                # Two lines keep the numeric columns narrow so titles have room.
                return f"{key[6:].capitalize()}\nshare"
            return key.capitalize()
        if role == Qt.ItemDataRole.ToolTipRole:
            null = "empirical" if self._result is None else self._result.null
            return {
                "cosine": ("Score of the song's most confident channel: centred cosine "
                           "(empirical null) or raw cosine (analytic null); now: " + null),
                "confidence": "Highest confidence Φ(z) over the channels",
            }.get(key, "Share of the influence among the songs that pass the gate"
                  if key.startswith("share:") else None)
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        song = self._rows[index.row()]
        key = self._keys[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(song, key)
        if role == SORT_ROLE:
            return self._sort_value(song, key)
        if role == Qt.ItemDataRole.ToolTipRole:
            return _song_tooltip(song)
        if role == Qt.ItemDataRole.FontRole:
            return self._bold if song.qualifies else None
        if role == Qt.ItemDataRole.ForegroundRole:
            return QColor(*TEXT) if song.qualifies else QColor(*DIM)
        if role == Qt.ItemDataRole.TextAlignmentRole and key not in ("title", "artist"):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    @staticmethod
    def _display(song: SongRow, key: str) -> str:
        if key == "title":
            return song.title
        if key == "artist":
            return song.artist
        if key == "cosine":
            return f"{song.cosine:.3f}"
        if key == "confidence":
            return _percent(song.confidence)
        channel = key[6:]
        return "—" if song.channels.get(channel) is None else _percent(song.share(channel))

    @staticmethod
    def _sort_value(song: SongRow, key: str) -> object:
        if key == "title":
            return song.title.casefold()
        if key == "artist":
            return song.artist.casefold()
        if key == "cosine":
            return float(song.cosine)
        if key == "confidence":
            # The best channel's z: Φ is increasing, so this is the confidence's order, and
            # it still orders songs whose confidence saturated at 1.0 in float64.
            return float(song.z)
        return float(song.share(key[6:]))


class InfluenceTable(QTableView):
    """The sortable influence table: a proxy over :class:`InfluenceTableModel`.

    Sorted by confidence, descending, by default; one row selectable at a time.

    Signals
    -------
    songSelected(object)
        The selected song's id, or None when the selection is cleared.
    """

    songSelected = Signal(object)  # noqa: N815 - Qt naming

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.source = InfluenceTableModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.source)
        self.proxy.setSortRole(SORT_ROLE)
        self.setModel(self.proxy)
        self.setSortingEnabled(True)
        self.sortByColumn(self.source.column("confidence"), Qt.SortOrder.DescendingOrder)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.verticalHeader().setVisible(False)
        self._fit_columns()
        self._selected: int | None = None
        self.selectionModel().selectionChanged.connect(self._on_selection)
        self.empty_label = QLabel(EMPTY_TEXT, self.viewport())
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setStyleSheet(f"color: rgb{DIM};")
        self._update_empty()

    def set_result(self, result: AnalysisResult | None) -> None:
        """Show ``result``; None empties the table. A cleared selection emits None."""
        header = self.horizontalHeader()
        keys = self.source.column_keys
        section = header.sortIndicatorSection()
        key = keys[section] if 0 <= section < len(keys) else "confidence"
        order = header.sortIndicatorOrder()
        self.source.set_result(result)
        # Channels decide the columns: keep sorting by the same column, wherever it is now.
        keys = self.source.column_keys
        if key not in keys:
            key, order = "confidence", Qt.SortOrder.DescendingOrder
        self.sortByColumn(keys.index(key), order)
        self._fit_columns()
        self._update_empty()
        if self._selected is not None:
            # A model reset clears the selection without emitting selectionChanged.
            self._selected = None
            self.songSelected.emit(None)

    def _fit_columns(self) -> None:
        # Titles take the room left; numbers and headers are never cut.
        header = self.horizontalHeader()
        for column in range(self.source.columnCount()):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Stretch if column == 0
                                        else QHeaderView.ResizeMode.ResizeToContents)
        # Artists can be long; they get a fixed, resizable column and are elided.
        artist = self.source.column("artist") if "artist" in self.source.column_keys else -1
        if artist >= 0:
            header.setSectionResizeMode(artist, QHeaderView.ResizeMode.Interactive)
            header.resizeSection(artist, 110)

    def song_id_at(self, view_row: int) -> int:
        """The song id shown on a row of the view (sorted order)."""
        source = self.proxy.mapToSource(self.proxy.index(view_row, 0))
        return self.source.song_id_at(source.row())

    def song_ids(self) -> list[int]:
        """Song ids in the order the view shows them."""
        return [self.song_id_at(r) for r in range(self.proxy.rowCount())]

    def selected_song(self) -> int | None:
        return self._selected

    def select_song(self, song_id: int | None) -> None:
        """Select a song's row (None clears); emits :attr:`songSelected` on a change."""
        row = None if song_id is None else self.source.row_of(song_id)
        if row is None:
            self.clearSelection()
            return
        index = self.proxy.mapFromSource(self.source.index(row, 0))
        self.selectionModel().select(
            QItemSelection(index, index.siblingAtColumn(self.proxy.columnCount() - 1)),
            QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self.scrollTo(index)

    def _on_selection(self, *_: object) -> None:
        rows = self.selectionModel().selectedRows()
        song = None if not rows else self.source.song_id_at(
            self.proxy.mapToSource(rows[0]).row())
        if song != self._selected:
            self._selected = song
            self.songSelected.emit(song)

    def _update_empty(self) -> None:
        result = self.source.result
        self.empty_label.setText(EMPTY_TEXT if result is None else NO_SONGS_TEXT)
        self.empty_label.setVisible(self.source.rowCount() == 0)
        self.empty_label.setGeometry(self.viewport().rect())

    def resizeEvent(self, event: object) -> None:  # noqa: N802 - Qt naming
        super().resizeEvent(event)  # type: ignore[arg-type]
        self.empty_label.setGeometry(self.viewport().rect())


# --------------------------------------------------------------------------- plot views


class _ResultView(QWidget):
    """A stack of a one-line empty state and the view's content."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._result: AnalysisResult | None = None
        self._highlighted: int | None = None
        self.stack = QStackedWidget(self)
        self.empty_label = QLabel(EMPTY_TEXT)
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


class ChannelBars(_ResultView):
    """Influence share per channel for the first :data:`MAX_BARS` songs of ``songs()``.

    Horizontal bars, one pair per song (composition blue, production orange), titles on the
    vertical axis, the most confident song on top.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot_widget = pg.PlotWidget(background=BACKGROUND)
        self.plot: pg.PlotItem = self.plot_widget.getPlotItem()
        _styled_plot(self.plot)
        self.plot.invertY(True)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.setLabel("bottom", "influence share (%)")
        self.plot.showGrid(x=True, y=False, alpha=0.15)
        # Bottom right: the top rows hold the long bars.
        self.legend = self.plot.addLegend(offset=(-10, -10), labelTextColor=TEXT)
        self._add_content(self.plot_widget)
        self.bars: dict[str, pg.BarGraphItem] = {}
        self.songs: tuple[SongRow, ...] = ()
        self.band = pg.LinearRegionItem(orientation="horizontal", movable=False,
                                        brush=pg.mkBrush(*HIGHLIGHT, 28),
                                        pen=pg.mkPen(None))
        self.band.setZValue(-10)
        self.set_result(None)

    def set_result(self, result: AnalysisResult | None) -> None:
        """Draw ``result`` (None: the empty state)."""
        self._result = result
        for item in self.bars.values():
            self.plot.removeItem(item)
        self.bars = {}
        self.legend.clear()
        self.plot.removeItem(self.band)  # a no-op when it is not there
        all_songs = () if result is None else result.songs()
        self.songs = all_songs[:MAX_BARS]
        if result is None or not self.songs:
            self._highlighted = None
            self._show_empty(EMPTY_TEXT if result is None else NO_SONGS_TEXT)
            return
        channels = list(result.channels)
        n = len(self.songs)
        height = 0.8 / len(channels)
        for k, name in enumerate(channels):
            offset = -0.4 + height * (k + 0.5)
            colour = channel_colour(name, k)
            bar = pg.BarGraphItem(
                x0=[0.0] * n, width=[100.0 * s.share(name) for s in self.songs],
                y=[i + offset for i in range(n)], height=height * 0.9,
                brush=pg.mkBrush(*colour), pen=pg.mkPen(colour), name=name)
            self.plot.addItem(bar)  # named: the plot adds it to the legend
            self.bars[name] = bar
        self.plot.addItem(self.band)
        _set_title_ticks(self.plot, [_elide(s.title) for s in self.songs])
        self.plot.setYRange(-0.6, n - 0.4, padding=0)
        self.plot.setXRange(0.0, 100.0, padding=0.02)
        qualifying = {name: result.channels[name].n_qualifying for name in channels}
        shown = f"the first {n} of {len(all_songs)}" if len(all_songs) > n else f"all {n}"
        note = ("" if any(qualifying.values()) else
                " No song passes the gate in any channel, so there is no influence to share.")
        self.caption.setText(
            f"Share of influence among the songs that pass the {_percent(self._gate(result))} "
            f"gate, per channel ({shown} reported songs, most confident first).{note}")
        self.stack.setCurrentWidget(self._page)
        self.highlight(self._highlighted)

    @staticmethod
    def _gate(result: AnalysisResult) -> float:
        return next(iter(result.channels.values())).gate

    def highlight(self, song_id: int | None) -> None:
        """Mark one song's bars (None, or a song not drawn: no mark)."""
        row = next((i for i, s in enumerate(self.songs) if s.song_id == song_id), None)
        self._highlighted = None if row is None else song_id
        for k, (name, bar) in enumerate(self.bars.items()):
            colour = channel_colour(name, k)
            pens = [pg.mkPen(HIGHLIGHT, width=2) if i == row else pg.mkPen(colour)
                    for i in range(len(self.songs))]
            bar.setOpts(pens=pens)
        self.band.setVisible(row is not None)
        if row is not None:
            self.band.setRegion((row - 0.5, row + 0.5))


_NULL_TEXT = {
    "empirical": ("empirical null (scores normalised against a cohort of the library's own "
                  "songs, adaptive S-norm)"),
    "analytic": "analytic null (z = cosine / (1/√D), the paper's projection-noise floor)",
}


class ConfidenceView(_ResultView):
    """Each reported song's z against the noise floor and the gate, one plot per channel.

    x is z; the shaded band is the null's ±1σ (|z| < 1); the dashed line is the channel's
    gate ``z_gate``. Rows are the first :data:`MAX_POINTS` songs of ``songs()``, aligned
    across the channels; qualifying songs are drawn in the channel's colour, the others
    grey. Hovering a point shows the song and its confidence.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground(BACKGROUND)
        self._add_content(self.graphics)
        self.plots: dict[str, pg.PlotItem] = {}
        self.scatters: dict[str, pg.ScatterPlotItem] = {}
        self.halos: dict[str, pg.ScatterPlotItem] = {}
        self.gate_lines: dict[str, pg.InfiniteLine] = {}
        self.noise_bands: dict[str, pg.LinearRegionItem] = {}
        self.songs: tuple[SongRow, ...] = ()
        self.set_result(None)

    def set_result(self, result: AnalysisResult | None) -> None:
        """Draw ``result`` (None: the empty state)."""
        self._result = result
        self.graphics.clear()
        self.plots, self.scatters, self.halos = {}, {}, {}
        self.gate_lines, self.noise_bands = {}, {}
        all_songs = () if result is None else result.songs()
        self.songs = all_songs[:MAX_POINTS]
        if result is None or not self.songs:
            self._highlighted = None
            self._show_empty(EMPTY_TEXT if result is None else NO_SONGS_TEXT)
            return
        n = len(self.songs)
        zs = [inf.z for s in self.songs for inf in s.channels.values() if inf is not None]
        gates = [ch.z_gate for ch in result.channels.values()]
        x_lo = min(-3.0, min(zs) - 0.5)
        x_hi = max(3.0, max(zs + gates) + 0.5)
        first: pg.PlotItem | None = None
        for k, (name, channel) in enumerate(result.channels.items()):
            plot = self.graphics.addPlot(row=0, col=k, title=name)
            _styled_plot(plot)
            plot.invertY(True)
            plot.setMouseEnabled(x=True, y=False)
            plot.setLabel("bottom", "z")
            plot.setXRange(x_lo, x_hi, padding=0)
            plot.setYRange(-0.6, n - 0.4, padding=0)
            _set_title_ticks(plot, [_elide(s.title) if first is None else ""
                                    for s in self.songs])
            if first is not None:
                plot.setYLink(first)
            first = first or plot
            band = pg.LinearRegionItem(values=(-1.0, 1.0), orientation="vertical",
                                       movable=False, brush=pg.mkBrush(*DIM, 45),
                                       pen=pg.mkPen(None))
            band.setZValue(-10)
            band.setToolTip("noise floor: the null's ±1σ (|z| < 1)")
            plot.addItem(band)
            gate = pg.InfiniteLine(
                pos=channel.z_gate, angle=90, movable=False,
                pen=pg.mkPen(TEXT, width=1, style=Qt.PenStyle.DashLine),
                label=f"gate z={channel.z_gate:.2f}",
                labelOpts={"position": 0.04, "color": TEXT, "anchors": [(0, 0), (0, 0)]})
            plot.addItem(gate)
            colour = channel_colour(name, k)
            spots = []
            for i, song in enumerate(self.songs):
                inf = song.channels.get(name)
                if inf is None:
                    continue
                fill = colour if inf.qualifies else DIM
                spots.append({
                    "pos": (inf.z, i), "data": song.song_id, "size": 11 if inf.qualifies else 8,
                    "brush": pg.mkBrush(*fill), "pen": pg.mkPen(fill)})
            scatter = pg.ScatterPlotItem(hoverable=True, tip=self._tip_function(name),
                                         hoverPen=pg.mkPen(HIGHLIGHT, width=2))
            scatter.addPoints(spots)
            plot.addItem(scatter)
            halo = pg.ScatterPlotItem(size=20, brush=pg.mkBrush(None),
                                      pen=pg.mkPen(HIGHLIGHT, width=2))
            plot.addItem(halo)
            self.plots[name], self.scatters[name], self.halos[name] = plot, scatter, halo
            self.gate_lines[name], self.noise_bands[name] = gate, band
        self.caption.setText(self._caption(result, len(all_songs)))
        self.stack.setCurrentWidget(self._page)
        self.highlight(self._highlighted)

    def _tip_function(self, channel: str):  # noqa: ANN202 - pyqtgraph's tip callback
        def tip(x: float, y: float, data: object) -> str:
            return self.tooltip(int(data), channel)  # type: ignore[call-overload]
        return tip

    def tooltip(self, song_id: int, channel: str) -> str:
        """The hover text of one song's point in one channel."""
        song = next(s for s in self.songs if s.song_id == song_id)
        inf = song.channels[channel]
        if inf is None:
            return f"{song.title}: not reported in {channel}"
        verdict = "qualifies" if inf.qualifies else "below the gate"
        return (f"{song.title}\n{channel}: z {inf.z:.2f}, confidence "
                f"{_percent(inf.confidence)} — {verdict}")

    def _caption(self, result: AnalysisResult, total: int) -> str:
        null = result.null
        parts = [f"{name}: {ch.n_qualifying} of {ch.n_library} library songs qualify "
                 f"(z ≥ {ch.z_gate:.2f}, confidence ≥ {_percent(ch.gate)})"
                 for name, ch in result.channels.items()]
        shown = (f" Showing the first {len(self.songs)} of {total} reported songs."
                 if total > len(self.songs) else "")
        return (f"Null: {_NULL_TEXT.get(null, null)}. " + "; ".join(parts) + ". "
                "Shaded: the null's ±1σ (|z| < 1); dashed: the gate." + shown)

    def highlight(self, song_id: int | None) -> None:
        """Ring one song's points in every channel (None, or a song not drawn: none)."""
        row = next((i for i, s in enumerate(self.songs) if s.song_id == song_id), None)
        self._highlighted = None if row is None else song_id
        for name, halo in self.halos.items():
            song = None if row is None else self.songs[row]
            inf = None if song is None else song.channels.get(name)
            halo.setData([] if inf is None else [{"pos": (inf.z, row)}])
