"""The waveform view with synthetic signals, driven by real (offscreen) mouse events."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication

from lumina.audio import waveform_levels
from lumina_app.waveform import EMPTY_TEXT, TimeAxis, WaveformView

RATE = 32000
WIDTH = 1000


@dataclass
class Cell:
    start: float
    end: float
    label: str
    confidence: float
    qualifies: bool


def tone_track(seconds: float, rate: int = RATE) -> np.ndarray:
    """A 220 Hz tone whose amplitude steps from 0.2 (first half) to 0.8 (second half)."""
    t = np.arange(int(seconds * rate), dtype=np.float64) / rate
    amp = np.where(t < seconds / 2, 0.2, 0.8)
    return (amp * np.sin(2 * np.pi * 220.0 * t)).astype(np.float32)


@pytest.fixture(scope="module")
def ten_minutes() -> np.ndarray:
    return tone_track(600.0)


@pytest.fixture
def view(qtbot) -> WaveformView:
    v = WaveformView()
    qtbot.addWidget(v)
    v.resize(WIDTH, 320)
    v.show()
    qtbot.waitExposed(v)
    return v


def px(view: WaveformView, seconds: float) -> QPoint:
    """Viewport pixel of a time, halfway up the waveform."""
    scene = view.wave_vb.mapViewToScene(QPointF(seconds, 0.0))
    return view.graphics.mapFromScene(scene)


def time_at(view: WaveformView, point: QPoint) -> float:
    return view.wave_vb.mapSceneToView(view.graphics.mapToScene(point)).x()


def mouse(qtbot, view: WaveformView, kind: QEvent.Type, pos: QPoint, button: Qt.MouseButton,
          buttons: Qt.MouseButton, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    # pyqtgraph drops mouse moves closer than 10 ms apart, as a real mouse never sends them.
    qtbot.wait(15)
    viewport = view.graphics.viewport()
    event = QMouseEvent(kind, QPointF(pos), QPointF(viewport.mapToGlobal(pos)), button,
                        buttons, modifiers)
    QApplication.sendEvent(viewport, event)


def click(qtbot, view, pos: QPoint) -> None:
    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    mouse(qtbot, view, QEvent.Type.MouseMove, pos, none, none)
    mouse(qtbot, view, QEvent.Type.MouseButtonPress, pos, left, left)
    mouse(qtbot, view, QEvent.Type.MouseButtonRelease, pos, left, none)


def drag(qtbot, view, start: QPoint, end: QPoint,
         modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    mouse(qtbot, view, QEvent.Type.MouseMove, start, none, none, modifiers)
    mouse(qtbot, view, QEvent.Type.MouseButtonPress, start, left, left, modifiers)
    for k in (1, 2, 3):
        mouse(qtbot, view, QEvent.Type.MouseMove, start + (end - start) * (k / 3), none, left,
              modifiers)
    mouse(qtbot, view, QEvent.Type.MouseButtonRelease, end, left, none, modifiers)


def wheel(view, pos: QPoint, notches: float, modifiers=Qt.KeyboardModifier.NoModifier,
          horizontal: bool = False) -> None:
    viewport = view.graphics.viewport()
    delta = int(120 * notches)
    angle = QPoint(delta, 0) if horizontal else QPoint(0, delta)
    event = QWheelEvent(QPointF(pos), QPointF(viewport.mapToGlobal(pos)), QPoint(0, 0), angle,
                        Qt.MouseButton.NoButton, modifiers, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(viewport, event)


def test_empty_state_invites_a_track(view):
    assert view.empty_label.isVisible() and view.empty_label.text() == EMPTY_TEXT
    assert not view.graphics.isVisible() and view.levels is None
    view.set_playhead(3.0)  # harmless without a track
    view.set_selection(1.0, 2.0)
    assert view.selection() is None


def test_ten_minutes_draw_fast_and_bounded(qtbot, view, ten_minutes):
    start = time.perf_counter()
    levels = waveform_levels(ten_minutes, RATE)
    view.set_track(levels)
    QApplication.processEvents()
    assert time.perf_counter() - start < 1.0
    assert view.graphics.isVisible() and not view.empty_label.isVisible()
    assert view.view_range() == (0.0, 600.0)
    width = view.wave_vb.width()
    assert 0 < view.drawn_points() <= 4 * width
    x, y = view.curve_max.getData()
    assert x[0] < 1.0 and x[-1] > 599.0
    # The envelope is exact: quiet first half, loud second half.
    assert abs(float(y[x < 290].max()) - 0.2) < 1e-3
    assert abs(float(y[x > 310].max()) - 0.8) < 1e-3

    view.set_view_range(299.0, 301.0)  # zoom in on the step
    QApplication.processEvents()
    assert 0 < view.drawn_points() <= 4 * width
    x, y = view.curve_max.getData()
    assert x[0] <= 299.01 and x[-1] >= 300.99 and x[-1] - x[0] < 2.1
    # A finer level: about two bins per pixel over the two visible seconds.
    assert len(x) > width / 2
    assert abs(float(y[x < 299.9].max()) - 0.2) < 1e-3
    assert abs(float(y[x > 300.1].max()) - 0.8) < 1e-3


def test_wheel_zooms_around_the_cursor(qtbot, view, ten_minutes):
    view.set_track(waveform_levels(ten_minutes, RATE))
    QApplication.processEvents()
    pos = px(view, 150.0)
    under = time_at(view, pos)
    wheel(view, pos, 3)
    QApplication.processEvents()
    x0, x1 = view.view_range()
    assert x1 - x0 < 600.0 * 0.9
    assert time_at(view, pos) == pytest.approx(under, abs=1e-6)
    wheel(view, pos, 5)
    QApplication.processEvents()
    assert time_at(view, pos) == pytest.approx(under, abs=1e-6)
    assert view.drawn_points() <= 4 * view.wave_vb.width()
    wheel(view, pos, -40)  # zooming far out stops at the whole track
    QApplication.processEvents()
    assert view.view_range() == pytest.approx((0.0, 600.0))


def test_shift_wheel_and_drag_scroll_within_the_track(qtbot, view, ten_minutes):
    view.set_track(waveform_levels(ten_minutes, RATE))
    view.set_view_range(100.0, 200.0)
    QApplication.processEvents()
    wheel(view, px(view, 150.0), -1, Qt.KeyboardModifier.ShiftModifier)
    assert view.view_range() == pytest.approx((110.0, 210.0))
    wheel(view, px(view, 150.0), 2, horizontal=True)  # a horizontal wheel scrolls too
    assert view.view_range() == pytest.approx((90.0, 190.0))
    wheel(view, px(view, 150.0), 20, Qt.KeyboardModifier.ShiftModifier)
    assert view.view_range() == pytest.approx((0.0, 100.0))  # held at the start

    seeks: list[float] = []
    view.seekRequested.connect(seeks.append)
    before = view.view_range()
    drag(qtbot, view, px(view, 50.0), px(view, 30.0))
    after = view.view_range()
    assert after[0] - before[0] == pytest.approx(20.0, abs=0.5)
    assert after[1] - after[0] == pytest.approx(100.0)
    assert seeks == []  # a drag is not a click
    view.set_view_range(-50.0, 700.0)
    assert view.view_range() == pytest.approx((0.0, 600.0))


def test_click_asks_to_seek_there(qtbot, view, ten_minutes):
    view.set_track(waveform_levels(ten_minutes, RATE))
    view.set_view_range(100.0, 200.0)
    QApplication.processEvents()
    seeks: list[float] = []
    view.seekRequested.connect(seeks.append)
    pos = px(view, 123.4)
    click(qtbot, view, pos)
    seconds_per_pixel = 100.0 / view.wave_vb.width()
    assert len(seeks) == 1 and seeks[0] == pytest.approx(123.4, abs=seconds_per_pixel)
    click(qtbot, view, px(view, 150.0) + QPoint(0, 90))  # on the chunk strip: same time axis
    assert len(seeks) == 2 and seeks[1] == pytest.approx(150.0, abs=seconds_per_pixel)


def test_shift_drag_selects_and_reports_once(qtbot, view, ten_minutes):
    view.set_track(waveform_levels(ten_minutes, RATE))
    view.set_view_range(100.0, 200.0)
    QApplication.processEvents()
    changes: list[object] = []
    seeks: list[float] = []
    view.selectionChanged.connect(changes.append)
    view.seekRequested.connect(seeks.append)
    shift = Qt.KeyboardModifier.ShiftModifier
    drag(qtbot, view, px(view, 170.0), px(view, 130.0), shift)
    assert len(changes) == 1 and seeks == []
    start, end = changes[0]
    assert start == pytest.approx(130.0, abs=0.2) and end == pytest.approx(170.0, abs=0.2)
    assert view.selection() == changes[0]
    assert view.view_range() == pytest.approx((100.0, 200.0))  # selecting does not scroll
    # A new shift+drag starting inside the selection replaces it rather than moving it.
    drag(qtbot, view, px(view, 150.0), px(view, 190.0), shift)
    assert len(changes) == 2
    assert view.selection()[0] == pytest.approx(150.0, abs=0.2)
    assert view.selection()[1] == pytest.approx(190.0, abs=0.2)
    # A plain drag inside the selection moves it, reported once when the drag ends.
    drag(qtbot, view, px(view, 170.0), px(view, 160.0))
    assert len(changes) == 3
    assert changes[-1][0] == pytest.approx(140.0, abs=0.2)
    assert changes[-1][1] == pytest.approx(180.0, abs=0.2)
    assert view.view_range() == pytest.approx((100.0, 200.0))
    # A plain click inside the selection still seeks.
    click(qtbot, view, px(view, 160.0))
    assert len(seeks) == 1 and len(changes) == 3


def test_selection_api(qtbot, view, ten_minutes):
    view.set_track(waveform_levels(ten_minutes, RATE))
    changes: list[object] = []
    view.selectionChanged.connect(changes.append)
    view.set_selection(30.0, 10.0)
    assert view.selection() == (10.0, 30.0) and changes == [(10.0, 30.0)]
    view.set_selection(10.0, 30.0)  # unchanged: no signal
    assert len(changes) == 1
    view.set_selection(590.0, 700.0)  # clipped to the track
    assert view.selection() == (590.0, 600.0) and changes[-1] == (590.0, 600.0)
    view.clear_selection()
    assert view.selection() is None and changes[-1] is None
    view.clear_selection()
    assert len(changes) == 3
    view.set_selection(5.0, 5.01)  # too short to analyse: no selection
    assert view.selection() is None and len(changes) == 3
    view.set_selection(1.0, 2.0)
    view.set_track(waveform_levels(tone_track(5.0), RATE))  # a new track drops it
    assert view.selection() is None and changes[-1] is None


def test_chunks_blocks_labels_and_tooltips(qtbot, view, ten_minutes):
    view.set_track(waveform_levels(ten_minutes, RATE))
    cells = [Cell(10.0 * i, 10.0 * (i + 1), f"Song {i:02d} — Artist", (i % 10) / 9,
                  i % 3 == 0) for i in range(60)]
    view.set_chunks(cells)
    QApplication.processEvents()
    assert len(view.chunk_items) == len(view.chunk_labels) == 60
    rect = view.chunk_items[3].rect()
    assert (rect.left(), rect.right()) == (30.0, 40.0)
    # Qualifying chunks are accent-coloured and more opaque when surer; the others grey.
    q_lo, q_hi = view.chunk_items[0].brush().color(), view.chunk_items[9].brush().color()
    grey = view.chunk_items[1].brush().color()
    assert q_lo.blue() > q_lo.red() and q_hi.alpha() > q_lo.alpha()
    assert grey.red() == grey.green() or abs(grey.red() - grey.blue()) < 20
    assert grey.alpha() < q_hi.alpha()
    tip = view.chunk_items[9].toolTip()
    assert "Song 09" in tip and "confidence 100%" in tip and "0:90" not in tip
    assert "1:30–1:40" in tip
    assert "below the confidence gate" in view.chunk_items[1].toolTip()
    # 16 px per chunk at full view: no room for labels; zoomed in they appear.
    assert not any(t.isVisible() for t in view.chunk_labels)
    view.set_view_range(0.0, 40.0)
    QApplication.processEvents()
    assert view.chunk_labels[0].isVisible()
    assert view.chunk_labels[0].toPlainText() == "Song 00 — Artist"
    # a chunk where no song passed the gate names none (its best candidate is in the tip)
    assert view.chunk_labels[1].toPlainText() == "–" and "Song 01" in view.chunk_items[1].toolTip()
    view.set_chunks([])
    assert view.chunk_items == [] and view.chunk_labels == []


def test_chunks_accept_mappings(qtbot, view):
    view.set_track(waveform_levels(tone_track(25.0), RATE))
    view.set_chunks([{"start": 0.0, "end": 10.0, "label": "A", "confidence": 0.97,
                      "qualifies": True},
                     {"start": 10.0, "end": 20.0, "label": "B", "confidence": 0.3,
                      "qualifies": False}])
    assert len(view.chunk_items) == 2 and "B" in view.chunk_items[1].toolTip()


def test_highlight_song_overlays_and_clears(qtbot, view, ten_minutes):
    view.set_track(waveform_levels(ten_minutes, RATE))
    cells = [Cell(10.0 * i, 10.0 * (i + 1), "x", 0.5, True) for i in range(60)]
    view.set_chunks(cells)
    values = [0.0] * 60
    values[4], values[7] = 1.0, 0.3
    view.highlight_song(values)
    assert len(view.highlight_items) == 4  # a band and an outline for each chunk that matters
    bands = [i for i in view.highlight_items if i.parentItem() is view.wave_vb.childGroup]
    assert sorted(b.rect().left() for b in bands) == [40.0, 70.0]
    strong = next(b for b in bands if b.rect().left() == 40.0)
    weak = next(b for b in bands if b.rect().left() == 70.0)
    assert strong.brush().color().alpha() > weak.brush().color().alpha()
    view.highlight_song(None)
    assert view.highlight_items == []
    assert all(i.scene() is None for i in bands)
    with pytest.raises(ValueError):
        view.highlight_song([1.0, 0.5])
    view.highlight_song(values)
    view.set_chunks(cells)  # new chunks drop the old highlight
    assert view.highlight_items == []


def test_playhead_moves_and_pages_when_zoomed(qtbot, view, ten_minutes):
    view.set_track(waveform_levels(ten_minutes, RATE))
    view.set_playhead(42.0)
    assert view.playhead() == 42.0 and view.view_range() == (0.0, 600.0)
    assert all(line.isVisible() for line in view.playheads)
    view.set_view_range(40.0, 50.0)
    view.set_playhead(49.9)
    assert view.view_range() == pytest.approx((40.0, 50.0))
    view.set_playhead(50.1)  # walked off the right edge: next page
    assert view.view_range() == pytest.approx((50.1, 60.1))
    view.set_view_range(200.0, 210.0)  # the user looks elsewhere: do not pull the view back
    view.set_playhead(60.5)
    assert view.view_range() == pytest.approx((200.0, 210.0))


def test_clear_returns_to_the_empty_state(qtbot, view, ten_minutes):
    view.set_track(waveform_levels(ten_minutes, RATE))
    view.set_chunks([Cell(0.0, 10.0, "x", 0.5, True)])
    view.set_selection(1.0, 5.0)
    changes: list[object] = []
    view.selectionChanged.connect(changes.append)
    view.clear()
    assert view.empty_label.isVisible() and view.levels is None
    assert view.chunk_items == [] and view.selection() is None and changes == [None]
    assert view.drawn_points() == 0


def test_short_and_empty_tracks_do_not_break_the_view(qtbot, view):
    view.set_track(waveform_levels(tone_track(0.5), RATE))
    QApplication.processEvents()
    assert view.view_range() == pytest.approx((0.0, 0.5)) and view.drawn_points() > 0
    view.set_track(waveform_levels(np.zeros(0, np.float32), RATE))
    QApplication.processEvents()
    assert view.drawn_points() == 0


def test_time_axis_reads_minutes_and_seconds(qtbot):
    axis = TimeAxis("bottom")
    assert axis.tickStrings([0.0, 60.0, 125.0], 1.0, 60.0) == ["0:00", "1:00", "2:05"]
    assert axis.tickStrings([59.96, 61.5], 1.0, 0.5) == ["1:00.0", "1:01.5"]
