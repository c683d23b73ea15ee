"""Where a selected song meets the track, to see and to hear: its segment pairs drawn on the
track's waveform and on a second waveform of the catalog song, and A/B listening of a pair.

The pairs are the result's own (``ChannelResult.segments``: a query chunk ↔ a song chunk, with
their times and z); nothing here computes them. The catalog song is decoded on a worker
(:func:`lumina_app.jobs.load_catalog_song`) from the source path the library records. When no
file is there any more the view says where it looked and offers *Locate it…*: the chosen file
is accepted only when its audio SHA-256 is the library's record of the song
(:func:`lumina_app.jobs.relink_catalog_song`), which then points the library at it.

A/B: ▶ A/B plays the track's span of the chosen pair, then the song's; Tab (or the A⇄B
button) switches sides at the same relative position (:class:`lumina_app.ab_player.ABPlayer`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QKeySequence, QPen, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGraphicsRectItem,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from lumina.progress import format_clock
from lumina_app import jobs
from lumina_app.ab_player import ABPlayer
from lumina_app.elided_label import ElidedLabel
from lumina_app.player import Player
from lumina_app.tasks import Task
from lumina_app.waveform import WaveformView

__all__ = ["SEGMENT", "SongView", "SpanOverlay", "pairs_of"]

#: Colour of segment spans (the chunk highlight of a selected song is orange).
SEGMENT = (110, 215, 150)
AUDIO_FILTER = "Audio (*.wav *.flac *.ogg *.oga *.opus *.mp3 *.m4a *.mp4 *.aac);;All files (*)"
SIDE_NAMES = {"query": "A · the track", "song": "B · the song"}


def pairs_of(result: Any, song_id: int, channel: str) -> tuple[str, tuple[Any, ...]]:
    """``(channel, pairs)``: the song's segment pairs in ``channel``, else in the first
    channel that has some (a song listed by one channel only); ``pairs`` may be empty."""
    names = [channel, *(c for c in result.channels if c != channel)]
    for name in names:
        ch = result.channels.get(name)
        pairs = tuple(ch.segments.get(song_id, ())) if ch is not None else ()
        if pairs:
            return name, pairs
    return channel, ()


def _song_label(result: Any, song_id: int) -> tuple[str, str]:
    for ch in result.channels.values():
        for inf in ch.influences:
            if inf.song_id == song_id:
                return inf.title, inf.artist
    return f"song {song_id}", ""


def _span(start: float, end: float) -> str:
    return f"{format_clock(start, False)}–{format_clock(end, False)}"


def _pair_text(number: int, pair: Any) -> str:
    """The pair as the chooser lists it: ``1: 0:20–0:30 ↔ 1:10–1:20 · z 4.1`` (track ↔ song)."""
    return (f"{number}:  {_span(pair.query_start, pair.query_end)}  ↔  "
            f"{_span(pair.song_start, pair.song_end)}  ·  z {pair.z:.1f}")


def _pair_tip(number: int, pair: Any) -> str:
    return (f"Pair {number}: {_span(pair.query_start, pair.query_end)} of the track ↔ "
            f"{_span(pair.song_start, pair.song_end)} of the song\n"
            f"cosine {pair.cosine:.3f}, z {pair.z:.2f}")


class SpanOverlay:
    """Numbered bands over a :class:`WaveformView`'s waveform, one per distinct span, the
    chosen pair's drawn stronger; with ``strip``, numbered blocks in its chunk strip too."""

    def __init__(self, view: WaveformView, *, strip: bool = False) -> None:
        self.view = view
        self.strip = strip
        self.items: list[Any] = []
        self.spans: list[tuple[float, float]] = []

    def set_spans(self, spans: Sequence[tuple[float, float]], current: int | None = None,
                  tips: Sequence[str] = ()) -> None:
        """Show ``spans`` (pair ``i`` is numbered ``i + 1``, ``tips[i]`` its tooltip); an
        empty list clears."""
        for item in self.items:
            for plot in (self.view.wave_plot, self.view.strip_plot):
                plot.removeItem(item)  # a no-op on the plot that does not hold it
        self.items = []
        self.spans = [(float(a), float(b)) for a, b in spans]
        numbers: dict[tuple[float, float], list[int]] = {}
        for i, span in enumerate(self.spans):  # pairs sharing a chunk share one band
            numbers.setdefault(span, []).append(i)
        for (a, b), which in numbers.items():
            strong = current in which
            tip = "\n".join(tips[i] for i in which if i < len(tips))
            text = " · ".join(str(i + 1) for i in which)
            band = QGraphicsRectItem(QRectF(a, -1.0, b - a, 2.0))
            band.setBrush(QBrush(QColor(*SEGMENT, 80 if strong else 30)))
            band.setPen(QPen(Qt.PenStyle.NoPen))
            band.setZValue(-9)  # behind the waveform
            edge = QGraphicsRectItem(QRectF(a, -1.0, b - a, 2.0))
            pen = QPen(QColor(*SEGMENT, 235 if strong else 110), 2 if strong else 1)
            pen.setCosmetic(True)
            edge.setPen(pen)
            edge.setBrush(QBrush(Qt.BrushStyle.NoBrush))
            edge.setZValue(9)
            label = pg.TextItem(text, color=SEGMENT, anchor=(0, 0))
            label.setPos(a, 1.0)
            label.setZValue(11)
            for item in (band, edge, label):
                item.setToolTip(tip)
                self.view.wave_plot.addItem(item, ignoreBounds=True)
            self.items += [band, edge, label]
            if self.strip:
                self._block(a, b, text, tip, strong)

    def _block(self, a: float, b: float, text: str, tip: str, strong: bool) -> None:
        block = QGraphicsRectItem(QRectF(a, 0.0, b - a, 1.0))
        block.setBrush(QBrush(QColor(*SEGMENT, 200 if strong else 90)))
        pen = QPen(QColor(30, 31, 34), 1)  # a dark seam between neighbours
        pen.setCosmetic(True)
        block.setPen(pen)
        label = pg.TextItem(text, color=(14, 22, 36), anchor=(0.5, 0.5))
        label.setPos((a + b) / 2, 0.5)
        label.setZValue(5)
        for item in (block, label):
            item.setToolTip(tip)
            self.view.strip_plot.addItem(item, ignoreBounds=True)
        self.items += [block, label]


class SongView(QWidget):
    """The selected song's segment pairs, its own waveform, and A/B listening.

    Parameters
    ----------
    query_view : WaveformView
        The track's waveform: the pairs' track-side spans are drawn on it.
    main_player : Player
        The track's player: paused while A/B plays, and A/B pauses when it plays.
    make_player : callable(parent) -> Player
        Makes the A/B player (tests pass one with a fake stream).

    Signals
    -------
    catalogShown(object)
        A :class:`lumina_app.jobs.CatalogSong` was loaded (``missing`` when not found).
    relinkRefused(str)
        The located file was not accepted; the sentence shown.
    """

    catalogShown = Signal(object)  # noqa: N815 - Qt naming
    relinkRefused = Signal(str)  # noqa: N815

    def __init__(self, query_view: WaveformView, main_player: Player, *,
                 make_player: Callable[..., Player] = Player,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.query_view = query_view
        self.main_player = main_player
        self.ab = ABPlayer(make_player(self), self)
        self.catalog: jobs.CatalogSong | None = None
        self.task: Task | None = None
        self._library: Path | None = None
        self._song_id: int | None = None
        self._title = ""
        self._pairs: tuple[Any, ...] = ()
        self._token = 0

        self.title = ElidedLabel("")
        heading = self.title.font()
        heading.setWeight(QFont.Weight.DemiBold)  # a font, not a style sheet: it is measured
        self.title.setFont(heading)
        self.pair_box = QComboBox()
        self.pair_box.setToolTip("Segment pairs, strongest first: a chunk of the track ↔ "
                                 "the chunk of the song it matches, and the pair's z")
        self.pair_box.currentIndexChanged.connect(self._on_pair)
        self.play_button = QToolButton(text="▶ A/B")
        self.play_button.setToolTip("Play the track's span (A), then the song's (B)")
        self.play_button.clicked.connect(self.ab.toggle)
        self.switch_button = QPushButton("A⇄B")
        self.switch_button.setToolTip("Switch between the track and the song at the same "
                                      "point of the pair (Tab)")
        self.switch_button.clicked.connect(self.ab.switch)
        self.switch_key = QShortcut(QKeySequence(Qt.Key.Key_Tab), self)
        self.switch_key.setContext(Qt.ShortcutContext.WindowShortcut)
        self.switch_key.activated.connect(self.ab.switch)
        self.side_label = QLabel("")
        self.side_label.setMinimumWidth(150)
        self.message = QLabel("")
        self.message.setStyleSheet("color: #f0b450;")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.locate_button = QPushButton("Locate it…")
        self.locate_button.clicked.connect(self.locate)
        self.waveform = WaveformView()

        head = QHBoxLayout()
        head.setContentsMargins(6, 2, 6, 0)
        head.addWidget(self.title, 1)
        for w in (self.pair_box, self.play_button, self.switch_button, self.side_label):
            head.addWidget(w)
        notice = QHBoxLayout()
        notice.setContentsMargins(6, 0, 6, 0)
        notice.addWidget(self.message, 1)
        notice.addWidget(self.locate_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(head)
        layout.addLayout(notice)
        layout.addWidget(self.waveform, 1)
        self.query_spans = SpanOverlay(query_view)
        self.song_spans = SpanOverlay(self.waveform, strip=True)

        self.ab.positionChanged.connect(self._on_ab_position)
        self.ab.stateChanged.connect(self._on_ab_state)
        self.ab.sideChanged.connect(lambda _side: self._show_side())
        self.ab.errorOccurred.connect(self._say)
        main_player.stateChanged.connect(self._on_main_state)
        self._show_notice("")
        self.setVisible(False)

    # -- what to show ----------------------------------------------------------------------
    @property
    def pairs(self) -> tuple[Any, ...]:
        """The shown song's segment pairs (``lumina.analysis`` segment matches)."""
        return self._pairs

    @property
    def song_id(self) -> int | None:
        return self._song_id

    def current_pair(self) -> int:
        """Index of the chosen pair (-1: none)."""
        return self.pair_box.currentIndex()

    def set_pair(self, index: int) -> None:
        self.pair_box.setCurrentIndex(index)

    def show_song(self, result: Any, song_id: int | None, channel: str,
                  track: jobs.TrackData | None) -> None:
        """Show ``song_id``'s pairs of ``result`` in ``channel`` (None hides the view); the
        catalog song loads on a worker unless it is the one already shown."""
        if result is None or song_id is None:
            self._clear()
            return
        shown, self._pairs = pairs_of(result, song_id, channel)
        title, artist = _song_label(result, song_id)
        self._title = title
        by = f" — {artist}" if artist else ""
        where = f"  ·  {len(self._pairs)} pairs ({shown})" if self._pairs else (
            "  ·  no segment pairs in this result")
        self.title.setText(f"B · {title}{by}{where}")
        self.ab.set_source("query", None if track is None else track.playback,
                           0 if track is None else track.rate)
        self.pair_box.blockSignals(True)
        self.pair_box.clear()
        self.pair_box.addItems([_pair_text(i + 1, p) for i, p in enumerate(self._pairs)])
        self.pair_box.blockSignals(False)
        self.pair_box.setEnabled(bool(self._pairs))
        self._on_pair(0 if self._pairs else -1)
        self.setVisible(True)
        library = Path(result.library.path)
        if (library, song_id) != (self._library, self._song_id):
            self._library, self._song_id = library, song_id
            self._load(functools.partial(jobs.load_catalog_song, library, song_id,
                                         self.ab.player.prepare))

    def _clear(self) -> None:
        self._cancel()
        self.ab.stop()
        self.ab.set_source("song", None)
        self._library = self._song_id = self.catalog = None
        self._pairs = ()
        self.query_spans.set_spans([])
        self.song_spans.set_spans([])
        self.waveform.clear()
        self.setVisible(False)

    # -- the catalog song ------------------------------------------------------------------
    def _load(self, work: Callable[..., jobs.CatalogSong]) -> None:
        self._cancel()
        self.catalog = None
        self.ab.set_source("song", None)
        self.song_spans.set_spans([])
        self.waveform.clear()
        self.waveform.empty_label.setText(f"Loading {self._title}…")
        self._show_notice("")
        self._token += 1
        self.task = Task(work, label="catalog")
        self.task.succeeded.connect(functools.partial(self._on_loaded, self._token))
        self.task.failed.connect(functools.partial(self._on_failed, self._token))
        self.task.done.connect(functools.partial(self._on_done, self._token))
        self.task.start()
        self._update_enabled()

    def _cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()  # its result, if any, is ignored (an older token)
            self.task = None

    def _on_done(self, token: int) -> None:
        if token == self._token:
            self.task = None

    def _on_loaded(self, token: int, catalog: jobs.CatalogSong) -> None:
        if token != self._token:
            return
        self.catalog = catalog
        if catalog.missing:
            self.waveform.clear()
            self.waveform.empty_label.setText("No audio to draw")
            self._show_notice(f"Catalog audio at {catalog.source_path} is not the audio that was "
                              "indexed (it changed since) —" if catalog.changed else
                              f"Catalog audio not found at {catalog.source_path} —", locate=True)
        else:
            assert catalog.track is not None
            self._show_notice("")
            self.waveform.set_track(catalog.track.levels)
            self.ab.set_source("song", catalog.track.playback, catalog.track.rate)
            self._on_pair(self.current_pair())
        self._update_enabled()
        self.catalogShown.emit(catalog)

    def _on_failed(self, token: int, message: str) -> None:
        if token != self._token:
            return
        relinking = self.catalog is not None and self.catalog.missing
        self.waveform.empty_label.setText("No audio to draw")
        self._show_notice(f"⚠ {message}", locate=True)
        if relinking:
            self.relinkRefused.emit(message)

    def locate(self) -> None:
        """Ask for the song's file (a dialog), then :meth:`relink` to it."""
        start = str(self.catalog.source_path.parent) if self.catalog is not None else ""
        path, _ = QFileDialog.getOpenFileName(self, f"Locate “{self._title}”", start,
                                              AUDIO_FILTER)
        if path:
            self.relink(Path(path))

    def relink(self, path: Path) -> None:
        """Point the library's song at ``path`` if it holds the song's audio, and load it;
        otherwise one line says why (:attr:`relinkRefused`)."""
        if self._library is None or self._song_id is None:
            return
        missing = self.catalog
        self._load(functools.partial(jobs.relink_catalog_song, self._library, self._song_id,
                                     Path(path), self.ab.player.prepare))
        self.catalog = missing  # still missing until the relinked song has loaded
        self._show_notice(f"Checking {Path(path).name}…")

    def _show_notice(self, text: str, *, locate: bool = False) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))
        self.locate_button.setVisible(locate)

    # -- pairs and A/B ---------------------------------------------------------------------
    def _on_pair(self, index: int) -> None:
        pair = self._pairs[index] if 0 <= index < len(self._pairs) else None
        current = index if pair is not None else None
        tips = [_pair_tip(i + 1, p) for i, p in enumerate(self._pairs)]
        self.query_spans.set_spans([(p.query_start, p.query_end) for p in self._pairs],
                                   current, tips)
        loaded = self.catalog is not None and not self.catalog.missing
        self.song_spans.set_spans([(p.song_start, p.song_end) for p in self._pairs]
                                  if loaded else [], current, tips)
        self.ab.set_pair(None if pair is None else (pair.query_start, pair.query_end),
                         None if pair is None else (pair.song_start, pair.song_end))
        if pair is not None and loaded:
            self.waveform.set_playhead(pair.song_start)
        self._update_enabled()

    def _update_enabled(self) -> None:
        ready = self.ab.ready()
        can = ready and self.ab.available
        for w in (self.play_button, self.switch_button):
            w.setEnabled(can)
            w.setToolTip(w.toolTip() if self.ab.available else self.ab.unavailable_reason)
        self.switch_key.setEnabled(ready)
        self._show_side()

    def _on_ab_position(self, side: str, seconds: float) -> None:
        (self.query_view if side == "query" else self.waveform).set_playhead(seconds)
        self._show_side()

    def _on_ab_state(self, state: str) -> None:
        self.play_button.setText("❚❚ A/B" if state == "playing" else "▶ A/B")
        if state == "playing":
            self.main_player.pause()
        self._show_side()

    def _on_main_state(self, state: str) -> None:
        if state == "playing" and self.ab.state() == "playing":
            self.ab.player.pause()

    def _show_side(self) -> None:
        state = self.ab.state()
        if not self.ab.ready() or state == "stopped":
            self.side_label.setText("")
            return
        mark = "▶" if state == "playing" else "❚❚"
        self.side_label.setText(f"{mark} {SIDE_NAMES[self.ab.side]} "
                                f"{format_clock(self.ab.position())}")

    def _say(self, message: str) -> None:
        self.side_label.setText(f"⚠ {message}")
        self.side_label.setToolTip(message)

    def shutdown(self) -> None:
        """Stop A/B and release its stream, cancel a load (the window is closing)."""
        self._cancel()
        self.ab.close()
