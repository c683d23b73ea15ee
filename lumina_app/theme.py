"""The app's look: the dark Fusion palette (Qt and pyqtgraph) and the LUMINA icon."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtGui import QColor, QIcon, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QProxyStyle,
    QStyle,
    QStyleFactory,
    QStyleOption,
    QStyleOptionHeader,
)

__all__ = ["SortArrowStyle", "app_icon", "apply_dark_theme"]


class SortArrowStyle(QProxyStyle):
    """Fusion with a header's sort arrow pointing the way the values go: ▼ when the largest
    is on top (descending), ▲ when the smallest is.

    ``QHeaderView`` hands a descending sort to the style as ``SortUp`` (the Windows
    convention), which Fusion draws as ▲: the app's tables, most confident first, showed an
    arrow that reads "smallest first" to a Mac or web user."""

    _SWAP = {QStyleOptionHeader.SortIndicator.SortUp: QStyleOptionHeader.SortIndicator.SortDown,
             QStyleOptionHeader.SortIndicator.SortDown: QStyleOptionHeader.SortIndicator.SortUp}

    def drawPrimitive(self, element: QStyle.PrimitiveElement, option: QStyleOption,  # noqa: N802
                      painter: object, widget: object = None) -> None:
        if (element == QStyle.PrimitiveElement.PE_IndicatorHeaderArrow
                and isinstance(option, QStyleOptionHeader)
                and option.sortIndicator in self._SWAP):
            option = QStyleOptionHeader(option)
            option.sortIndicator = self._SWAP[option.sortIndicator]
        super().drawPrimitive(element, option, painter, widget)


def apply_dark_theme(app: QApplication) -> None:
    app.setStyle(SortArrowStyle(QStyleFactory.create("Fusion")))  # the app owns the style
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
