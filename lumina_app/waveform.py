"""The zoomable waveform of the open track, with its playhead, a selection and a chunk strip.

The waveform is drawn from a :class:`lumina.audio.WaveformLevels` pyramid: on every change
of the visible range the view asks it for the bins covering that range at about two bins per
pixel, so a 10-minute track draws as fast as a 10-second one and never more than a few
thousand points are on screen.

Mouse: the wheel zooms around the cursor; drag or shift+wheel scrolls; a click (no drag) asks
to seek there; shift+drag selects a span to analyse, whose edges can then be dragged.

Under the waveform a thin strip shows, per analysis chunk, the strongest influence and how
sure it is; :meth:`WaveformView.highlight_song` overlays where one chosen song matters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetrics, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsPathItem, QGraphicsRectItem, QLabel, QStackedLayout, QWidget

from lumina.audio import WaveformLevels

__all__ = ["WaveformView", "EMPTY_TEXT"]

EMPTY_TEXT = "Drop a track here or use File ▸ Open"
BACKGROUND = (30, 31, 34)
ACCENT = (88, 166, 255)
GREY = (118, 120, 128)
HIGHLIGHT = (255, 190, 70)
PLAYHEAD = (235, 236, 238)
#: Bins requested per pixel of width: two keeps every pixel column's true min/max on screen.
BINS_PER_PIXEL = 2
#: Height in pixels of the chunk strip's blocks.
STRIP_HEIGHT = 22
#: Closest zoom, in finest-level bins across the view.
MIN_VISIBLE_BINS = 16
#: Fraction of the visible span one wheel notch scrolls.
SCROLL_STEP = 0.1
#: A selection narrower than this (seconds) is dropped instead of kept.
MIN_SELECTION = 0.05
#: Highlight strengths below this draw nothing (an invisible item is only clutter).
MIN_HIGHLIGHT = 0.02


def _chunk_text(cell: Any) -> str:
    """A chunk's label on the strip: its song where one passed the gate, else "–"."""
    return str(_field(cell, "label")) if bool(_field(cell, "qualifies")) else "–"


def _field(cell: Any, name: str) -> Any:
    """``cell.name`` or ``cell[name]``: chunk cells may be dataclasses or dicts."""
    return cell[name] if isinstance(cell, Mapping) else getattr(cell, name)


def _clock(seconds: float) -> str:
    """``m:ss``, or ``m:ss.s`` when not on a whole second (tooltips)."""
    minutes, rest = divmod(round(max(0.0, seconds) * 10) / 10, 60.0)
    return f"{int(minutes)}:{rest:04.1f}" if rest % 1 else f"{int(minutes)}:{int(rest):02d}"


class TimeAxis(pg.AxisItem):
    """A time axis labelled ``m:ss``, with tenths when the ticks are closer than a second."""

    def tickStrings(self, values: list[float], scale: float,  # noqa: N802 - pyqtgraph API
                    spacing: float) -> list[str]:
        out = []
        for v in values:
            minutes, rest = divmod(max(0.0, v), 60.0)
            sec = f"{rest:04.1f}" if spacing < 1 else f"{int(round(rest)):02d}"
            if sec.startswith("60"):  # rounding up to the next minute
                minutes, sec = minutes + 1, sec.replace("60", "00", 1)
            out.append(f"{int(minutes)}:{sec}")
        return out


class _SelectionItem(pg.LinearRegionItem):
    """The selected span. A shift+drag that starts on it makes a new selection instead of
    moving this one, so shift+drag means the same thing everywhere on the waveform."""

    def __init__(self, view: WaveformView, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._view = view
        self._forwarding = False

    def mouseDragEvent(self, ev: Any) -> None:  # noqa: N802 - Qt naming
        if ev.isStart():
            self._forwarding = bool(ev.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        if self._forwarding and ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self._view._drag_select(ev)
            return
        super().mouseDragEvent(ev)


class _TrackViewBox(pg.ViewBox):
    """x-only navigation: wheel zooms at the cursor, shift+wheel and drag scroll, click seeks,
    shift+drag selects."""

    def __init__(self, view: WaveformView) -> None:
        super().__init__(enableMenu=False)
        self._view = view
        self._selecting = False
        self.setMouseEnabled(x=True, y=False)

    def wheelEvent(self, ev: Any, axis: int | None = None) -> None:  # noqa: N802
        horizontal = ev.orientation() == Qt.Orientation.Horizontal
        if horizontal or ev.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            x0, x1 = self.viewRange()[0]
            notches = ev.delta() / 120.0
            self.translateBy(x=-notches * SCROLL_STEP * (x1 - x0))
            ev.accept()
            return
        super().wheelEvent(ev, axis=0)  # pyqtgraph zooms around the point under the cursor

    def mouseClickEvent(self, ev: Any) -> None:  # noqa: N802
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self._view._click(self.mapSceneToView(ev.scenePos()).x())
            return
        super().mouseClickEvent(ev)

    def mouseDragEvent(self, ev: Any, axis: int | None = None) -> None:  # noqa: N802
        if ev.isStart():
            self._selecting = (ev.button() == Qt.MouseButton.LeftButton
                               and bool(ev.modifiers() & Qt.KeyboardModifier.ShiftModifier))
        if self._selecting:
            ev.accept()
            self._view._drag_select(ev)
            if ev.isFinish():
                self._selecting = False
            return
        super().mouseDragEvent(ev, axis=0)


class WaveformView(QWidget):
    """The track's waveform over a chunk strip, sharing one time axis.

    Signals
    -------
    seekRequested(float)
        A single click (not a drag) at this time in seconds, clipped to the track.
    selectionChanged(object)
        ``(start, end)`` in seconds when a selection is made or changed (when the drag ends),
        ``None`` when it is cleared.
    """

    seekRequested = Signal(float)
    selectionChanged = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._levels: WaveformLevels | None = None
        self._cells: list[Any] = []
        self._last_selection: tuple[float, float] | None = None
        self._drag_origin = 0.0
        self._drag_selecting = False
        #: One ``QGraphicsRectItem`` per chunk, in :meth:`set_chunks` order.
        self.chunk_items: list[QGraphicsRectItem] = []
        #: The chunks' label items (``pg.TextItem``), hidden where a chunk is too narrow.
        self.chunk_labels: list[pg.TextItem] = []
        #: Items drawn by :meth:`highlight_song` (a band on the waveform and an outline on the
        #: strip per chunk where the song matters).
        self.highlight_items: list[QGraphicsRectItem] = []

        self.empty_label = QLabel(EMPTY_TEXT)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setStyleSheet(
            f"color: rgb(150, 152, 158); background: rgb{BACKGROUND}; font-size: 14px;")

        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground(BACKGROUND)
        self.graphics.ci.setSpacing(2)
        self.graphics.ci.setContentsMargins(4, 4, 4, 0)
        self.wave_vb = _TrackViewBox(self)
        self.wave_plot = self.graphics.addPlot(row=0, col=0, viewBox=self.wave_vb)
        self.strip_vb = _TrackViewBox(self)
        self.strip_plot = self.graphics.addPlot(row=1, col=0, viewBox=self.strip_vb,
                                                axisItems={"bottom": TimeAxis("bottom")})
        for plot in (self.wave_plot, self.strip_plot):
            plot.hideButtons()
            plot.hideAxis("left")
            plot.vb.enableAutoRange(enable=False)
        self.wave_plot.hideAxis("bottom")
        self.wave_vb.setYRange(-1.0, 1.0, padding=0.02)
        self.strip_vb.setYRange(0.0, 1.0, padding=0.0)
        self.strip_plot.setXLink(self.wave_plot)
        axis_height = 26
        self.strip_plot.setMinimumHeight(STRIP_HEIGHT + axis_height)
        self.strip_plot.setMaximumHeight(STRIP_HEIGHT + axis_height)

        accent = QColor(*ACCENT)
        self.curve_min = pg.PlotCurveItem(pen=pg.mkPen(accent, width=1))
        self.curve_max = pg.PlotCurveItem(pen=pg.mkPen(accent, width=1))
        # The envelope's fill is one closed path rebuilt per redraw (0.1 ms for 4000 bins);
        # pg.FillBetweenItem rebuilds from both curves on each of their changes (~7 ms).
        self.fill = QGraphicsPathItem()
        self.fill.setBrush(QBrush(QColor(*ACCENT, 110)))
        self.fill.setPen(QPen(Qt.PenStyle.NoPen))
        self.wave_plot.addItem(self.fill, ignoreBounds=True)
        for curve in (self.curve_min, self.curve_max):
            self.wave_plot.addItem(curve)
        self.playheads = [pg.InfiniteLine(pos=0.0, angle=90, movable=False,
                                          pen=pg.mkPen(PLAYHEAD, width=1.5))
                          for _ in range(2)]
        for plot, line in zip((self.wave_plot, self.strip_plot), self.playheads, strict=True):
            line.setZValue(20)
            plot.addItem(line, ignoreBounds=True)
        self.region: _SelectionItem | None = None
        self._label_font = QFont()
        self._label_font.setPointSizeF(8.0)

        self.wave_vb.sigXRangeChanged.connect(self._on_range_changed)
        self.wave_vb.sigResized.connect(self._on_range_changed)

        self._stack = QStackedLayout(self)
        self._stack.setContentsMargins(0, 0, 0, 0)
        self._stack.addWidget(self.empty_label)
        self._stack.addWidget(self.graphics)
        self.clear()

    # -- track -----------------------------------------------------------------------------
    @property
    def levels(self) -> WaveformLevels | None:
        """The pyramid being shown, or None."""
        return self._levels

    def set_track(self, levels: WaveformLevels) -> None:
        """Show a new track whole; drops the selection, the chunks and the highlight."""
        self.clear_selection()
        self.set_chunks([])
        self._levels = levels
        duration = max(levels.duration, 1e-3)  # a zero-length track still gets a valid range
        finest = levels.levels[0][0] / levels.rate
        min_span = min(duration, MIN_VISIBLE_BINS * finest)
        for vb in (self.wave_vb, self.strip_vb):
            vb.setLimits(xMin=0.0, xMax=duration, minXRange=min_span, maxXRange=duration)
        self.set_playhead(0.0)
        for line in self.playheads:
            line.show()
        self._stack.setCurrentWidget(self.graphics)
        self.wave_vb.setXRange(0.0, duration, padding=0.0)
        self._redraw()

    def clear(self) -> None:
        """Back to the empty state (no track, no selection, no chunks)."""
        self.clear_selection()
        self.set_chunks([])
        self._levels = None
        self.curve_min.setData([], [])
        self.curve_max.setData([], [])
        self.fill.setPath(QPainterPath())
        for line in self.playheads:
            line.hide()
        self._stack.setCurrentWidget(self.empty_label)

    def view_range(self) -> tuple[float, float]:
        """The visible time span in seconds."""
        x0, x1 = self.wave_vb.viewRange()[0]
        return float(x0), float(x1)

    def set_view_range(self, start: float, end: float) -> None:
        """Show ``[start, end]`` seconds (kept inside the track)."""
        self.wave_vb.setXRange(start, end, padding=0.0)

    def drawn_points(self) -> int:
        """Points the waveform curves currently hold (both edges of the envelope)."""
        return sum(0 if c.xData is None else len(c.xData)
                   for c in (self.curve_min, self.curve_max))

    # -- playhead --------------------------------------------------------------------------
    def set_playhead(self, seconds: float) -> None:
        """Move the playhead. While zoomed in, a playhead that walks off the right edge of the
        view turns the page so playback stays in sight (not when the user scrolled away)."""
        if self._levels is None:
            return
        x0, x1 = self.view_range()
        before = self.playheads[0].value()
        for line in self.playheads:
            line.setValue(seconds)
        if x0 <= before <= x1 < seconds and x1 - x0 < self._levels.duration:
            span = x1 - x0
            self.wave_vb.setXRange(seconds, seconds + span, padding=0.0)

    def playhead(self) -> float:
        """Playhead position in seconds."""
        return float(self.playheads[0].value())

    # -- selection -------------------------------------------------------------------------
    def selection(self) -> tuple[float, float] | None:
        """The selected span ``(start, end)`` in seconds, or None."""
        if self.region is None:
            return None
        a, b = self.region.getRegion()
        return float(a), float(b)

    def set_selection(self, start: float, end: float) -> None:
        """Select ``[start, end]`` (either order, clipped to the track); a span shorter than
        50 ms clears the selection. Emits ``selectionChanged`` when the span changes."""
        if self._levels is None:
            return
        a, b = sorted((float(start), float(end)))
        a, b = max(a, 0.0), min(b, self._levels.duration)
        if b - a < MIN_SELECTION:
            self.clear_selection()
            return
        self._show_region(a, b)
        self._publish_selection()

    def clear_selection(self) -> None:
        """Remove the selection; emits ``selectionChanged(None)`` if there was one."""
        if self.region is not None:
            self.wave_plot.removeItem(self.region)
            self.region = None
        self._publish_selection()

    def _show_region(self, a: float, b: float) -> None:
        if self.region is None:
            self.region = _SelectionItem(
                self, values=(a, b), bounds=(0.0, self._levels.duration),
                brush=(*ACCENT, 45), hoverBrush=(*ACCENT, 70),
                pen=pg.mkPen(ACCENT, width=1.5), hoverPen=pg.mkPen((200, 225, 255), width=2))
            self.region.setZValue(10)
            self.region.sigRegionChangeFinished.connect(self._on_region_finished)
            self.wave_plot.addItem(self.region, ignoreBounds=True)
        else:
            self.region.setRegion((a, b))

    def _on_region_finished(self, _item: Any) -> None:
        if not self._drag_selecting:
            self._publish_selection()

    def _publish_selection(self) -> None:
        current = self.selection()
        if current != self._last_selection:
            self._last_selection = current
            self.selectionChanged.emit(current)

    def _drag_select(self, ev: Any) -> None:
        # Called by the view boxes and the selection item during a shift+drag.
        if self._levels is None:
            return
        x = self.wave_vb.mapSceneToView(ev.scenePos()).x()
        if ev.isStart():
            self._drag_origin = self.wave_vb.mapSceneToView(ev.buttonDownScenePos()).x()
            self._drag_selecting = True
        a, b = sorted((self._drag_origin, x))
        a, b = max(a, 0.0), min(b, self._levels.duration)
        if b > a:
            self._show_region(a, b)
        if ev.isFinish():
            self._drag_selecting = False
            if b - a < MIN_SELECTION:
                self.clear_selection()
            else:
                self._publish_selection()

    def _click(self, x: float) -> None:
        if self._levels is not None:
            self.seekRequested.emit(min(max(float(x), 0.0), self._levels.duration))

    # -- chunk strip -----------------------------------------------------------------------
    def set_chunks(self, cells: Sequence[Any]) -> None:
        """Show one block per chunk under the waveform; replaces earlier chunks and clears the
        highlight.

        Parameters
        ----------
        cells : sequence
            Objects or mappings with ``start``, ``end`` (seconds), ``label`` (the strongest
            influence, str), ``confidence`` (0..1) and ``qualifies`` (bool). A qualifying
            chunk is drawn in the accent colour, more opaque the surer it is, with an
            outline, and labelled; a non-qualifying one in faint grey and labelled "–" (no
            song passed the gate there; its best candidate is in the tooltip), as in the
            PDF's timeline.
        """
        self.highlight_song(None)
        for rect in self.chunk_items:
            self.strip_plot.removeItem(rect)
        for text in self.chunk_labels:
            self.strip_plot.removeItem(text)
        self.chunk_items, self.chunk_labels = [], []
        self._cells = list(cells)
        background = QColor(*BACKGROUND)
        for cell in self._cells:
            start, end = float(_field(cell, "start")), float(_field(cell, "end"))
            label = str(_field(cell, "label"))
            confidence = min(max(float(_field(cell, "confidence")), 0.0), 1.0)
            qualifies = bool(_field(cell, "qualifies"))
            if qualifies:
                fill = QColor(*ACCENT, int(70 + 185 * confidence))
                pen = QPen(QColor(*ACCENT).lighter(130), 1)
                text_colour = (14, 22, 36)  # dark on the bright accent reads best
            else:
                fill = QColor(*GREY, int(35 + 80 * confidence))
                pen = QPen(background, 1)  # a dark seam keeps neighbouring blocks apart
                text_colour = (165, 167, 173)
            pen.setCosmetic(True)
            rect = QGraphicsRectItem(QRectF(start, 0.0, end - start, 1.0))
            rect.setBrush(QBrush(fill))
            rect.setPen(pen)
            verdict = "" if qualifies else "\nbelow the confidence gate"
            shown = _chunk_text(cell)
            tip = (f"{_clock(start)}–{_clock(end)}\n{label}\n"
                   f"confidence {confidence:.0%}{verdict}")
            rect.setToolTip(tip)
            self.strip_plot.addItem(rect)
            self.chunk_items.append(rect)
            text = pg.TextItem(shown, color=text_colour, anchor=(0.5, 0.5))
            text.setFont(self._label_font)
            text.setPos((start + end) / 2, 0.5)
            text.setToolTip(tip)
            text.setZValue(5)
            self.strip_plot.addItem(text)
            self.chunk_labels.append(text)
        self._update_labels()

    def highlight_song(self, values: Sequence[float] | None) -> None:
        """Overlay where one song matters: ``values[i]`` (0..1) is its strength in chunk ``i``
        of :meth:`set_chunks`; a band behind the waveform and an outline on the strip, as
        strong as the value. None removes the overlay."""
        for item in self.highlight_items:
            for plot in (self.wave_plot, self.strip_plot):
                plot.removeItem(item)  # a no-op on the plot that does not hold it
        self.highlight_items = []
        if values is None:
            return
        if len(values) != len(self._cells):
            raise ValueError(f"{len(values)} highlight values for {len(self._cells)} chunks")
        for cell, value in zip(self._cells, values, strict=True):
            v = min(max(float(value), 0.0), 1.0)
            if v < MIN_HIGHLIGHT:
                continue
            start, end = float(_field(cell, "start")), float(_field(cell, "end"))
            band = QGraphicsRectItem(QRectF(start, -1.0, end - start, 2.0))
            band.setBrush(QBrush(QColor(*HIGHLIGHT, int(20 + 70 * v))))
            band.setPen(QPen(Qt.PenStyle.NoPen))
            band.setZValue(-10)  # behind the waveform
            self.wave_plot.addItem(band, ignoreBounds=True)
            outline = QGraphicsRectItem(QRectF(start, 0.0, end - start, 1.0))
            pen = QPen(QColor(*HIGHLIGHT, int(80 + 175 * v)), 2)
            pen.setCosmetic(True)
            outline.setPen(pen)
            outline.setBrush(QBrush(Qt.BrushStyle.NoBrush))
            outline.setZValue(8)
            self.strip_plot.addItem(outline, ignoreBounds=True)
            self.highlight_items += [band, outline]

    def _update_labels(self) -> None:
        # Show a chunk's label only where it fits, elided to the block's width in pixels.
        if not self.chunk_labels:
            return
        x0, x1 = self.view_range()
        px_per_s = max(self.strip_vb.width(), 1.0) / max(x1 - x0, 1e-9)
        metrics = QFontMetrics(self._label_font)
        for cell, text in zip(self._cells, self.chunk_labels, strict=True):
            width = (float(_field(cell, "end")) - float(_field(cell, "start"))) * px_per_s
            # Elided in the middle: "(Organ)" / "(Pluck)" at the end tell versions apart.
            shown = metrics.elidedText(_chunk_text(cell), Qt.TextElideMode.ElideMiddle,
                                       int(width) - 8)
            # A block narrower than a short word gets no label, not even "–".
            visible = shown not in ("", "…") and width >= 32
            if visible and shown != text.toPlainText():
                text.setText(shown)
            if visible != text.isVisible():  # most labels keep their state on a scroll
                text.setVisible(visible)

    # -- drawing ---------------------------------------------------------------------------
    def _on_range_changed(self, *_: Any) -> None:
        self._redraw()
        self._update_labels()

    def _redraw(self) -> None:
        if self._levels is None:
            return
        x0, x1 = self.view_range()
        width = max(int(self.wave_vb.width()), 100)  # before the first layout: a sane guess
        t, mins, maxs = self._levels.window(x0, x1, BINS_PER_PIXEL * width)
        self.curve_min.setData(t, mins, skipFiniteCheck=True)
        self.curve_max.setData(t, maxs, skipFiniteCheck=True)
        outline = pg.arrayToQPath(np.concatenate([t, t[::-1]]),
                                  np.concatenate([maxs, mins[::-1]]), connect="all")
        outline.closeSubpath()
        self.fill.setPath(outline)
