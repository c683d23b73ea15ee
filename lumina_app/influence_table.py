"""The influence table: one sortable row per song of ``AnalysisResult.songs()``, its
numbers formatted, qualifying songs bold and the others dimmed."""

from __future__ import annotations

from collections.abc import Sequence

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
from PySide6.QtGui import QColor, QFont, QFontMetricsF
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QTableView, QWidget

from lumina.analysis import AnalysisResult, SongRow
from lumina_app.result_base import (
    DEFAULT_CHANNELS,
    DIM,
    EMPTY_TEXT,
    NO_SONGS_TEXT,
    SORT_ROLE,
    TEXT,
    lead_channel,
    percent,
    song_tooltip,
)

__all__ = ["CHANNEL_ABBREVIATIONS", "InfluenceTable", "InfluenceTableModel"]

#: Header abbreviations of the channels (the legend and tooltips spell them out).
CHANNEL_ABBREVIATIONS = {"composition": "Comp.", "production": "Prod."}
#: Width of the artist column when it is shown.
ARTIST_WIDTH = 90
#: Titles up to this many characters are never cut for the artist column's sake.
TITLE_CHARACTERS = 40


class InfluenceTableModel(QAbstractTableModel):
    """One row per song of ``AnalysisResult.songs()``.

    Columns: Title, Artist, then per channel its share ("Composition share": blank where
    the channel did not name the song) and its confidence ("Composition confidence", with
    ✓ where the channel's gate named the song), so no cell mixes channels.
    :data:`SORT_ROLE` gives numbers for numeric columns (a confidence column sorts by the
    channel's z: the same order, also among songs whose confidence saturated at 100 %) and
    case-folded text for the others; a cell of a channel that named the song is bold, the
    title and artist of a song any channel named are in full colour (not bold: a bold
    40-character title needed ~276 px where the 1280 px window gives the title ~260 px),
    everything else dimmed.
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
        return ("title", "artist",
                *(key for c in channels for key in (f"share:{c}", f"conf:{c}")))

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
        """``"title"``, ``"artist"``, then ``"share:<channel>"``, ``"conf:<channel>"`` per
        channel."""
        return self._keys

    @property
    def default_sort_key(self) -> str:
        """The confidence column of the first channel that named a song, so the named songs
        are the first rows; the first channel's when none named any."""
        return f"conf:{lead_channel(self._result) or self._channels[0]}"

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
            kind, _, channel = key.partition(":")
            if channel:
                # Short, two-line headers keep the numeric columns narrow so titles have room
                # at 1280 px; the tooltip says it in full.
                label = "share" if kind == "share" else "conf."
                return f"{CHANNEL_ABBREVIATIONS.get(channel, channel)}\n{label}"
            return key.capitalize()
        if role == Qt.ItemDataRole.ToolTipRole:
            kind, _, channel = key.partition(":")
            if kind == "share":
                return (f"Share of the {channel} credit among the songs this channel names "
                        "(blank: not named)")
            if kind == "conf":
                gate = ("" if self._result is None
                        else f" ({self._result.gate_description})")
                return (f"Confidence Φ(z) in the {channel} channel; ✓: the gate named the "
                        f"song{gate}; —: the channel did not list it")
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
            return song_tooltip(song)
        if role == Qt.ItemDataRole.FontRole:
            return self._bold if ":" in key and self._named(song, key) else None
        if role == Qt.ItemDataRole.ForegroundRole:
            return QColor(*TEXT) if self._named(song, key) else QColor(*DIM)
        if role == Qt.ItemDataRole.TextAlignmentRole and key not in ("title", "artist"):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    @staticmethod
    def _named(song: SongRow, key: str) -> bool:
        """Whether the cell speaks for a song that was named: by its channel for a channel
        column, by any channel for the title and artist."""
        _, _, channel = key.partition(":")
        if not channel:
            return song.qualifies
        inf = song.channels.get(channel)
        return inf is not None and inf.qualifies

    @staticmethod
    def _display(song: SongRow, key: str) -> str:
        if key == "title":
            return song.title
        if key == "artist":
            return song.artist
        kind, _, channel = key.partition(":")
        inf = song.channels.get(channel)
        if kind == "share":
            return percent(inf.share) if inf is not None and inf.qualifies else ""
        if inf is None:
            return "—"
        return percent(inf.confidence) + (" ✓" if inf.qualifies else "")

    @staticmethod
    def _sort_value(song: SongRow, key: str) -> object:
        if key == "title":
            return song.title.casefold()
        if key == "artist":
            return song.artist.casefold()
        kind, _, channel = key.partition(":")
        if kind == "conf":
            # The channel's z: Φ is increasing, so this is the confidence's order, and it
            # still orders songs whose confidence saturated at 1.0 in float64.
            inf = song.channels.get(channel)
            return float("-inf") if inf is None else float(inf.z)
        return float(song.share(channel))


class InfluenceTable(QTableView):
    """The sortable influence table: a proxy over :class:`InfluenceTableModel`.

    Sorted by the first channel's confidence, descending, by default; one row selectable
    at a time.

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
        self.sortByColumn(self.source.column(self.source.default_sort_key),
                          Qt.SortOrder.DescendingOrder)
        # Until the user picks a column, each result is sorted by its own default (the
        # channel that named songs); afterwards the user's column is kept.
        self._user_sorted = False
        self.horizontalHeader().sectionClicked.connect(self._on_header_clicked)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        # Cut titles in the middle: "(Organ)" / "(Pluck)" at the end tell versions apart.
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
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
        key = keys[section] if 0 <= section < len(keys) else self.source.default_sort_key
        order = header.sortIndicatorOrder()
        self.source.set_result(result)
        # Channels decide the columns: keep sorting by the same column, wherever it is now.
        keys = self.source.column_keys
        if key not in keys or not self._user_sorted:
            key, order = self.source.default_sort_key, Qt.SortOrder.DescendingOrder
        self.sortByColumn(keys.index(key), order)
        self._fit_columns()
        self._update_empty()
        if self._selected is not None:
            # A model reset clears the selection without emitting selectionChanged.
            self._selected = None
            self.songSelected.emit(None)

    def _on_header_clicked(self, _section: int) -> None:
        self._user_sorted = True

    def _fit_columns(self) -> None:
        # Titles take the room left; numbers and headers are never cut.
        header = self.horizontalHeader()
        for column in range(self.source.columnCount()):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Stretch if column == 0
                                        else QHeaderView.ResizeMode.ResizeToContents)
        # Artists can be long; they get a fixed, resizable column and are elided.
        artist = self._artist_column()
        if artist >= 0:
            header.setSectionResizeMode(artist, QHeaderView.ResizeMode.Interactive)
            header.resizeSection(artist, ARTIST_WIDTH)
        self._fit_artist()

    def _artist_column(self) -> int:
        return self.source.column("artist") if "artist" in self.source.column_keys else -1

    def _fit_artist(self) -> None:
        """Hide the artist column while it would cut a title (of up to
        :data:`TITLE_CHARACTERS` characters) shown now; the artist stays in every row's
        tooltip and in the song view. Titles tell a song's versions apart; artists do not."""
        artist = self._artist_column()
        if artist < 0:
            return
        header = self.horizontalHeader()
        numbers = sum(header.sectionSize(c) for c in range(self.source.columnCount())
                      if c not in (0, artist))
        metrics = self.fontMetrics()
        cap = metrics.averageCharWidth() * TITLE_CHARACTERS
        wanted = max((QFontMetricsF(self.font()).horizontalAdvance(str(self.source.data(
            self.source.index(r, 0)))) for r in range(self.source.rowCount())), default=0.0)
        need = min(wanted, cap) + 2 * metrics.averageCharWidth()  # the cell's margins
        room = self.viewport().width() - numbers - ARTIST_WIDTH
        self.setColumnHidden(artist, room < need)

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
        self._fit_artist()
