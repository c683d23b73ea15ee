"""A one-line label that ends in "…" where it is cut, with the whole text in its tooltip.

A plain QLabel whose size policy lets the layout squeeze it (the status line, the A/B view's
song heading) is cut mid-word at the window's edge ("2 pairs (producti"); this one shortens
the text at a character boundary and says so with an ellipsis.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

__all__ = ["ElidedLabel"]


class ElidedLabel(QLabel):
    """A QLabel showing ``text()`` elided on the right to its width; ``text()`` is the whole
    text, and the tooltip holds it whenever it is cut, above any tooltip the caller set."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = ""
        self._tip = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setText(text)

    def text(self) -> str:  # noqa: D102 - QLabel's, with the whole text
        return self._full

    def setText(self, text: str) -> None:  # noqa: N802 - Qt's name
        self._full = str(text)
        self._refit()

    def setToolTip(self, tip: str) -> None:  # noqa: N802 - Qt's name
        self._tip = str(tip)
        self._refit()

    def is_elided(self) -> bool:
        """Whether the text is cut at the present width."""
        return super().text() != self._full

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._refit()

    def _refit(self) -> None:
        width = max(0, self.contentsRect().width())
        shown = self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, width)
        super().setText(shown)
        cut = self._full if shown != self._full else ""
        super().setToolTip("\n\n".join(t for t in (cut, self._tip) if t))
