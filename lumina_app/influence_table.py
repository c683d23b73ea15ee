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
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QTableView, QWidget

from lumina.analysis import AnalysisResult, SongRow
from lumina_app.result_base import (
    DEFAULT_CHANNELS,
    DIM,
    EMPTY_TEXT,
    NO_SONGS_TEXT,
    SORT_ROLE,
    TEXT,
    percent,
    song_tooltip,
)

__all__ = ["InfluenceTable", "InfluenceTableModel"]


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
            return song_tooltip(song)
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
            return percent(song.confidence)
        channel = key[6:]
        return "—" if song.channels.get(channel) is None else percent(song.share(channel))

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
