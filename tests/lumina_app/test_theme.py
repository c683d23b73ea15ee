"""The app's style: a descending sort shows ▼ (issue 26: Fusion drew ▲ for it)."""

from __future__ import annotations

from PySide6.QtCore import QRect
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QStyle, QStyleFactory, QStyleOptionHeader

from lumina_app.theme import SortArrowStyle


def _arrow(style, indicator) -> QImage:
    image = QImage(16, 16, QImage.Format.Format_ARGB32)
    image.fill(0)
    option = QStyleOptionHeader()
    option.rect = QRect(0, 0, 16, 16)
    option.sortIndicator = indicator
    painter = QPainter(image)
    style.drawPrimitive(QStyle.PrimitiveElement.PE_IndicatorHeaderArrow, option, painter)
    painter.end()
    return image


def test_the_sort_arrow_points_the_way_the_values_go(qapp):
    up, down = QStyleOptionHeader.SortIndicator.SortUp, QStyleOptionHeader.SortIndicator.SortDown
    fusion = QStyleFactory.create("Fusion")
    ours = SortArrowStyle(QStyleFactory.create("Fusion"))
    assert _arrow(fusion, up) != _arrow(fusion, down)  # the two arrows differ at all
    # QHeaderView passes a descending sort as SortUp: it must look like Fusion's SortDown.
    assert _arrow(ours, up) == _arrow(fusion, down)
    assert _arrow(ours, down) == _arrow(fusion, up)
