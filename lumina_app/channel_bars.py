"""The per-channel influence share bars of the first songs of one analysis."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtWidgets import QWidget

from lumina.analysis import AnalysisResult, SongRow
from lumina_app.result_base import (
    BACKGROUND,
    EMPTY_TEXT,
    HIGHLIGHT,
    NO_SONGS_TEXT,
    TEXT,
    ResultView,
    channel_colour,
    elide,
    set_title_ticks,
    styled_plot,
)

__all__ = ["MAX_BARS", "ChannelBars"]

#: Songs drawn by the bar chart (the table lists them all).
MAX_BARS = 10


class ChannelBars(ResultView):
    """Influence share per channel for the first :data:`MAX_BARS` songs of ``songs()``.

    Horizontal bars, one pair per song (composition blue, production orange), titles on the
    vertical axis, the most confident song on top.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot_widget = pg.PlotWidget(background=BACKGROUND)
        self.plot: pg.PlotItem = self.plot_widget.getPlotItem()
        styled_plot(self.plot)
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
        set_title_ticks(self.plot, [elide(s.title) for s in self.songs])
        self.plot.setYRange(-0.6, n - 0.4, padding=0)
        self.plot.setXRange(0.0, 100.0, padding=0.02)
        qualifying = {name: result.channels[name].n_qualifying for name in channels}
        shown = f"the first {n} of {len(all_songs)}" if len(all_songs) > n else f"all {n}"
        note = ("" if any(qualifying.values()) else
                " No song is named in any channel, so there is no influence to share.")
        self.caption.setText(
            f"Share of influence among the named songs ({result.gate_description}), per channel "
            f"({shown} reported songs, most confident first).{note}")
        self.stack.setCurrentWidget(self._page)
        self.highlight(self._highlighted)

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
