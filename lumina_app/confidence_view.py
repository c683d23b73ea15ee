"""The confidence view: each reported song's z against the noise floor and the gate, one
plot per channel."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from lumina.analysis import AnalysisResult, SongRow
from lumina_app.result_base import (
    BACKGROUND,
    DIM,
    EMPTY_TEXT,
    HIGHLIGHT,
    NO_SONGS_TEXT,
    TEXT,
    ResultView,
    channel_colour,
    elide,
    percent,
    set_title_ticks,
    styled_plot,
)

__all__ = ["MAX_POINTS", "NULL_TEXT", "ConfidenceView"]

#: Songs drawn by the confidence view (the table lists them all).
MAX_POINTS = 15

NULL_TEXT = {
    "empirical": ("empirical null (scores normalised against a cohort of the library's own "
                  "songs, adaptive S-norm)"),
    "analytic": "analytic null (z = cosine / (1/√D), the paper's projection-noise floor)",
}


class ConfidenceView(ResultView):
    """Each reported song's z against the noise floor and the gate, one plot per channel.

    x is z; the shaded band is the null's ±1σ (|z| < 1); the dashed line is the channel's
    gate ``z_gate``. Rows are the first :data:`MAX_POINTS` songs of ``songs()``, aligned
    across the channels; qualifying songs are drawn in the channel's colour, the others
    grey. Hovering a point shows the song and its confidence.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground(BACKGROUND)
        self._add_content(self.graphics)
        self.plots: dict[str, pg.PlotItem] = {}
        self.scatters: dict[str, pg.ScatterPlotItem] = {}
        self.halos: dict[str, pg.ScatterPlotItem] = {}
        self.gate_lines: dict[str, pg.InfiniteLine] = {}
        self.noise_bands: dict[str, pg.LinearRegionItem] = {}
        self.songs: tuple[SongRow, ...] = ()
        self.set_result(None)

    def set_result(self, result: AnalysisResult | None) -> None:
        """Draw ``result`` (None: the empty state)."""
        self._result = result
        self.graphics.clear()
        self.plots, self.scatters, self.halos = {}, {}, {}
        self.gate_lines, self.noise_bands = {}, {}
        all_songs = () if result is None else result.songs()
        self.songs = all_songs[:MAX_POINTS]
        if result is None or not self.songs:
            self._highlighted = None
            self._show_empty(EMPTY_TEXT if result is None else NO_SONGS_TEXT)
            return
        n = len(self.songs)
        zs = [inf.z for s in self.songs for inf in s.channels.values() if inf is not None]
        gates = [ch.z_gate for ch in result.channels.values()]
        x_lo = min(-3.0, min(zs) - 0.5)
        x_hi = max(3.0, max(zs + gates) + 0.5)
        first: pg.PlotItem | None = None
        for k, (name, channel) in enumerate(result.channels.items()):
            plot = self.graphics.addPlot(row=0, col=k, title=name)
            styled_plot(plot)
            plot.invertY(True)
            plot.setMouseEnabled(x=True, y=False)
            plot.setLabel("bottom", "z")
            plot.setXRange(x_lo, x_hi, padding=0)
            plot.setYRange(-0.6, n - 0.4, padding=0)
            if first is None:
                set_title_ticks(plot, [elide(s.title) for s in self.songs])
            else:
                # Rows are named once, on the left; the other plots keep their width for z.
                plot.getAxis("left").setStyle(showValues=False)
                plot.getAxis("left").setWidth(6)
            if first is not None:
                plot.setYLink(first)
            first = first or plot
            band = pg.LinearRegionItem(values=(-1.0, 1.0), orientation="vertical",
                                       movable=False, brush=pg.mkBrush(*DIM, 45),
                                       pen=pg.mkPen(None))
            band.setZValue(-10)
            band.setToolTip("noise floor: the null's ±1σ (|z| < 1)")
            plot.addItem(band)
            gate = pg.InfiniteLine(
                pos=channel.z_gate, angle=90, movable=False,
                pen=pg.mkPen(TEXT, width=1, style=Qt.PenStyle.DashLine),
                label=f"gate z={channel.z_gate:.2f}",
                labelOpts={"position": 0.04, "color": TEXT, "anchors": [(0, 0), (0, 0)]})
            plot.addItem(gate)
            colour = channel_colour(name, k)
            spots = []
            for i, song in enumerate(self.songs):
                inf = song.channels.get(name)
                if inf is None:
                    continue
                fill = colour if inf.qualifies else DIM
                spots.append({
                    "pos": (inf.z, i), "data": song.song_id, "size": 11 if inf.qualifies else 8,
                    "brush": pg.mkBrush(*fill), "pen": pg.mkPen(fill)})
            scatter = pg.ScatterPlotItem(hoverable=True, tip=self._tip_function(name),
                                         hoverPen=pg.mkPen(HIGHLIGHT, width=2))
            scatter.addPoints(spots)
            plot.addItem(scatter)
            halo = pg.ScatterPlotItem(size=20, brush=pg.mkBrush(None),
                                      pen=pg.mkPen(HIGHLIGHT, width=2))
            plot.addItem(halo)
            self.plots[name], self.scatters[name], self.halos[name] = plot, scatter, halo
            self.gate_lines[name], self.noise_bands[name] = gate, band
        self.caption.setText(self._caption(result, len(all_songs)))
        self.stack.setCurrentWidget(self._page)
        self.highlight(self._highlighted)

    def _tip_function(self, channel: str):  # noqa: ANN202 - pyqtgraph's tip callback
        def tip(x: float, y: float, data: object) -> str:
            return self.tooltip(int(data), channel)  # type: ignore[call-overload]
        return tip

    def tooltip(self, song_id: int, channel: str) -> str:
        """The hover text of one song's point in one channel."""
        song = next(s for s in self.songs if s.song_id == song_id)
        inf = song.channels[channel]
        if inf is None:
            return f"{song.title}: not reported in {channel}"
        verdict = "qualifies" if inf.qualifies else "below the gate"
        return (f"{song.title}\n{channel}: z {inf.z:.2f}, confidence "
                f"{percent(inf.confidence)} — {verdict}")

    def _caption(self, result: AnalysisResult, total: int) -> str:
        null = result.null
        parts = [f"{name}: {ch.n_qualifying} of {ch.n_library} library songs qualify "
                 f"(z ≥ {ch.z_gate:.2f} here)" for name, ch in result.channels.items()]
        shown = (f" Showing the first {len(self.songs)} of {total} reported songs."
                 if total > len(self.songs) else "")
        return (f"Null: {NULL_TEXT.get(null, null)}. Gate: {result.gate_description}. "
                + "; ".join(parts)
                + ". Shaded: the null's ±1σ (|z| < 1); dashed: the gate." + shown)

    def highlight(self, song_id: int | None) -> None:
        """Ring one song's points in every channel (None, or a song not drawn: none)."""
        row = next((i for i, s in enumerate(self.songs) if s.song_id == song_id), None)
        self._highlighted = None if row is None else song_id
        for name, halo in self.halos.items():
            song = None if row is None else self.songs[row]
            inf = None if song is None else song.channels.get(name)
            halo.setData([] if inf is None else [{"pos": (inf.z, row)}])
