"""The audit queue: drop a folder of submissions, watch the tracks go through, sort and filter
by verdict, open a track into the main view, export the signed summary.

The panel only shows rows and asks (signals); the main window runs
:func:`lumina.audit.run_audit` on a worker and feeds each finished row to :meth:`add_row`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from lumina.progress import ProgressState

__all__ = ["AuditPanel", "AuditTableModel"]

VERDICT_COLOURS = {"flag": QColor(240, 98, 92), "review": QColor(240, 180, 80),
                   "clear": QColor(110, 200, 130), "error": QColor(150, 151, 156)}
COLUMNS = ("File", "Verdict", "Composition", "Production", "Notes")
FILTERS = ("all", "flag", "review", "clear", "error", "warnings")
SORT_ROLE = Qt.ItemDataRole.UserRole
VERDICT_ORDER = {"flag": 0, "review": 1, "clear": 2, "error": 3}


def _verdict(row) -> str:
    return "error" if row.status == "error" else row.verdict


def _channel_text(row, name: str) -> str:
    ch = row.channels.get(name)
    if ch is None:
        return "—"
    return f"{ch.title} · {ch.share:.0%} · {ch.confidence:.3f}"


class AuditTableModel(QAbstractTableModel):
    """Rows of :class:`lumina.audit.AuditRow`, in arrival order."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.rows: list = []

    def clear(self) -> None:
        self.beginResetModel()
        self.rows = []
        self.endResetModel()

    def add(self, row) -> None:
        n = len(self.rows)
        self.beginInsertRows(QModelIndex(), n, n)
        self.rows.append(row)
        self.endInsertRows()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        row, col = self.rows[index.row()], index.column()
        verdict = _verdict(row)
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return row.file
            if col == 1:
                return verdict.upper() + (" ↺" if row.status == "skipped" else "")
            if col in (2, 3):
                return _channel_text(row, ("composition", "production")[col - 2])
            return row.error or "; ".join(row.warnings)
        if role == SORT_ROLE:
            if col == 1:
                return VERDICT_ORDER.get(verdict, 9)
            if col in (2, 3):
                ch = row.channels.get(("composition", "production")[col - 2])
                return ch.share if ch else -1.0
            return self.data(index, Qt.ItemDataRole.DisplayRole)
        if role == Qt.ItemDataRole.ForegroundRole and col == 1:
            return VERDICT_COLOURS.get(verdict)
        if role == Qt.ItemDataRole.FontRole and col == 1:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.ToolTipRole:
            lines = [row.path or row.file, row.reason or row.error]
            if row.status == "skipped":
                lines.append("already audited with this audio, library, model and policy")
            lines += row.warnings
            return "\n".join(line for line in lines if line)
        return None


class _VerdictFilter(QSortFilterProxyModel):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.wanted = "all"

    def set_wanted(self, wanted: str) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt ≥ 6.10 deprecates invalidateFilter
            self.beginFilterChange()
            self.wanted = wanted
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:  # pragma: no cover - older Qt
            self.wanted = wanted
            self.invalidateFilter()

    def filterAcceptsRow(self, source_row: int, source_parent) -> bool:  # noqa: N802
        if self.wanted == "all":
            return True
        row = self.sourceModel().rows[source_row]
        if self.wanted == "warnings":
            return bool(row.warnings)
        return _verdict(row) == self.wanted


class AuditPanel(QWidget):
    auditRequested = Signal(object)      # list[Path] of files/folders to audit
    cancelRequested = Signal()
    openTrackRequested = Signal(object)  # Path of a row's track

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.summary_files: list[Path] = []
        self.model = AuditTableModel(self)
        self.proxy = _VerdictFilter(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        # The verdict stays in view in a 300 px dock: the file name (elided in the middle)
        # and the notes share what the numbers leave; every column can be dragged wider.
        header = self.table.horizontalHeader()
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setDefaultSectionSize(80)
        header.resizeSection(0, 110)
        header.setStretchLastSection(True)
        self.table.doubleClicked.connect(self._open_row)

        self.add_button = QPushButton("Audit folder…")
        self.add_button.setToolTip("Attribute every track of a folder against the library")
        self.add_button.clicked.connect(self._ask_folder)
        self.filter = QComboBox()
        for item in FILTERS:
            self.filter.addItem(item.capitalize(), item)
        self.filter.currentIndexChanged.connect(
            lambda _i: self.proxy.set_wanted(str(self.filter.currentData())))
        self.export_button = QPushButton("Export summary…")
        self.export_button.setToolTip("Copy the signed summary (PDF, JSON) and the CSV")
        self.export_button.clicked.connect(self._ask_export)
        self.export_button.setEnabled(False)
        # Two rows: in one, the buttons and the filter made the dock too wide for the
        # results at 1280 px.
        top = QHBoxLayout()
        top.addWidget(self.add_button)
        top.addStretch(1)
        top.addWidget(self.export_button)
        show = QHBoxLayout()
        show.addWidget(QLabel("Show:"))
        show.addWidget(self.filter)
        show.addStretch(1)

        self.progress = QProgressBar()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancelRequested)
        busy = QHBoxLayout()
        busy.addWidget(self.progress, 1)
        busy.addWidget(self.cancel_button)
        self.status = QLabel("Drop a folder of submissions here, or use Audit folder…")
        self.status.setWordWrap(True)
        self.status.setStyleSheet("color: #9a9ba0;")

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(show)
        layout.addWidget(self.table, 1)
        layout.addLayout(busy)
        layout.addWidget(self.status)
        self.show_idle(self.status.text())

    # -- from the window -------------------------------------------------------------------
    def start(self, text: str) -> None:
        self.model.clear()
        self.summary_files = []
        self.export_button.setEnabled(False)
        self.add_button.setEnabled(False)
        self.progress.setVisible(True)
        self.progress.setRange(0, 0)
        self.cancel_button.setVisible(True)
        self.status.setText(text)

    def add_row(self, row) -> None:
        self.model.add(row)

    def show_progress(self, state: ProgressState) -> None:
        self.progress.setRange(0, max(1, state.total))
        self.progress.setValue(state.done)
        self.status.setText("Auditing " + state.describe("tracks"))

    def show_done(self, summary) -> None:
        self.summary_files = list(summary.summary_files)
        c = summary.counts()
        self.show_idle(f"{len(summary.rows)} track(s): {c['flag']} flag, {c['review']} review, "
                       f"{c['clear']} clear, {c['error']} error(s), {c['warning']} with "
                       f"warnings — reports in {summary.out}")
        self.export_button.setEnabled(bool(self.summary_files))

    def show_idle(self, message: str) -> None:
        self.progress.setVisible(False)
        self.cancel_button.setVisible(False)
        self.add_button.setEnabled(True)
        self.status.setText(message)

    def verdict_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self.model.rows:
            counts[_verdict(row)] = counts.get(_verdict(row), 0) + 1
        return counts

    def export_summary(self, folder: Path) -> list[Path]:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        return [Path(shutil.copy2(p, folder / p.name)) for p in self.summary_files]

    # -- user ------------------------------------------------------------------------------
    def _ask_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Audit a folder of tracks")
        if folder:
            self.auditRequested.emit([Path(folder)])

    def _ask_export(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export the audit summary to")
        if folder:
            written = self.export_summary(Path(folder))
            self.status.setText(f"Exported {', '.join(p.name for p in written)} to {folder}")

    def _open_row(self, index: QModelIndex) -> None:
        row = self.model.rows[self.proxy.mapToSource(index).row()]
        if row.path and row.status != "error":
            self.openTrackRequested.emit(Path(row.path))

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt naming
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt naming
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if paths and self.add_button.isEnabled():
            self.auditRequested.emit(paths)
