"""The PDF page "Where the influence is": which part of the track meets which part of each
named song (issue 23).

Drawn from a report's ``channels.<name>.segments`` (:mod:`lumina.attribution.segments`):
per channel, each named song (or, when the channel names none, its top listed song, marked
*not named*) gets a small picture of track time (across) against song time (up), one box
per pair of chunks shaded by the pair's z and numbered by rank, and the same pairs in words.
Reports made before segments existed have none, and the page is left out.

Kept apart from :mod:`lumina.reports.pdf` (which calls :func:`segments_section`) so each
module stays one job; it draws with reportlab like the rest of the PDF.
"""

from __future__ import annotations

import math
from typing import Any
from xml.sax.saxutils import escape

from reportlab.graphics.shapes import Drawing, Line, Rect, String
from reportlab.lib import colors
from reportlab.lib.colors import Color
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import KeepTogether, PageBreak, Paragraph, Spacer, Table, TableStyle

from lumina.progress import format_clock
from lumina.reports.findings import percent

__all__ = ["SECTION_TITLE", "pair_line", "segment_plot", "segment_songs",
           "segments_section", "shade"]

SECTION_TITLE = "Where the influence is"
#: Songs drawn per channel; the others' pairs stay in the signed JSON.
MAX_SONGS = 6
#: The z drawn in the full channel colour (at least: a higher best pair raises it).
Z_FULL = 4.0
PLOT_WIDTH, PLOT_HEIGHT = 62 * mm, 44 * mm
_GREY = colors.HexColor("#6b7280")
_TICK_STEPS = (1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1800, 3600)


def segment_songs(ch: dict[str, Any]) -> tuple[list[tuple[dict[str, Any], list[dict]]], bool]:
    """The songs of one channel to draw, with their pairs, and whether they are named.

    The named songs that have pairs, in the report's order; when the channel names none,
    its top listed song with pairs (``named`` False then). Empty when the channel carries
    no segments (an older report).
    """
    pairs = {int(s["song_id"]): list(s["pairs"]) for s in ch.get("segments") or ()
             if s.get("pairs")}
    if not pairs:
        return [], False
    listed = [i for i in ch["influences"] if int(i["song_id"]) in pairs]
    named = [i for i in listed if i["qualifies"]]
    chosen = named or listed[:1]
    return [(i, pairs[int(i["song_id"])]) for i in chosen], bool(named)


def pair_line(pair: dict[str, Any], title: str) -> str:
    """"0:20–0:30 of the track ↔ 1:10–1:20 of Quiet Engines (Organ), z 4.1"."""
    q0, q1, s0, s1 = (format_clock(pair[k], tenths=False)
                      for k in ("query_start", "query_end", "song_start", "song_end"))
    return f"{q0}–{q1} of the track ↔ {s0}–{s1} of {title}, z {pair['z']:.1f}"


def shade(z: float, z_full: float, colour: Color) -> Color:
    """The box colour of a pair: from near white (z ≤ 0) to ``colour`` (z ≥ ``z_full``)."""
    t = min(max(z / z_full, 0.0), 1.0) if z_full > 0 else 1.0
    return colors.linearlyInterpolatedColor(colors.HexColor("#f3f4f6"), colour, 0.0, 1.0,
                                            0.12 + 0.88 * t)


def _ticks(end: float) -> list[float]:
    """Round times from 0 to ``end``, at most five, in a step a reader counts in, and
    ``end`` itself where it stands clear of the last one (the song axis ends at its last
    paired chunk, which a reader wants to read off)."""
    step = next((s for s in _TICK_STEPS if end / s <= 4), _TICK_STEPS[-1])
    ticks = [k * step for k in range(int(math.floor(end / step + 1e-9)) + 1)]
    return ticks + [end] if end - ticks[-1] > 0.4 * step else ticks


def segment_plot(pairs: list[dict[str, Any]], track_duration: float, colour: Color, *,
                 z_full: float = Z_FULL, width: float = PLOT_WIDTH,
                 height: float = PLOT_HEIGHT) -> Drawing:
    """Track time (x, the whole track) against song time (y, up to the last chunk any pair
    reaches: a report does not carry the song's length), a numbered box per pair."""
    drawing = Drawing(width, height)
    left, bottom, top_pad, right_pad = 10 * mm, 9 * mm, 6 * mm, 4 * mm
    w, h = width - left - right_pad, height - bottom - top_pad
    x_end = max([track_duration, *(p["query_end"] for p in pairs)] + [1e-6])
    y_end = max([p["song_end"] for p in pairs] + [1e-6])
    drawing.add(Rect(left, bottom, w, h, fillColor=colors.HexColor("#fafafa"),
                     strokeColor=colors.HexColor("#d1d5db"), strokeWidth=0.5))
    font, size = "Helvetica", 5.5
    for t in _ticks(x_end):
        x = left + w * t / x_end
        drawing.add(Line(x, bottom, x, bottom - 1 * mm, strokeColor=_GREY, strokeWidth=0.4))
        drawing.add(String(x, bottom - 3.2 * mm, format_clock(t, tenths=False), fontName=font,
                           fontSize=size, fillColor=_GREY, textAnchor="middle"))
    for t in _ticks(y_end):
        y = bottom + h * t / y_end
        drawing.add(Line(left - 1 * mm, y, left, y, strokeColor=_GREY, strokeWidth=0.4))
        drawing.add(String(left - 1.5 * mm, y - 0.7 * mm, format_clock(t, tenths=False),
                           fontName=font, fontSize=size, fillColor=_GREY, textAnchor="end"))
    drawing.add(String(left + w / 2, 1 * mm, "time in the track", fontName=font,
                       fontSize=6, fillColor=_GREY, textAnchor="middle"))
    drawing.add(String(0, height - 2.6 * mm, "time in the song", fontName=font, fontSize=6,
                       fillColor=_GREY))
    # Weakest first, so the best pair is on top where boxes overlap (finer query hops).
    for rank in range(len(pairs), 0, -1):
        p = pairs[rank - 1]
        x0 = left + w * p["query_start"] / x_end
        y0 = bottom + h * p["song_start"] / y_end
        bw = max(w * (p["query_end"] - p["query_start"]) / x_end, 1.5)
        bh = max(h * (p["song_end"] - p["song_start"]) / y_end, 1.5)
        fill = shade(float(p["z"]), z_full, colour)
        drawing.add(Rect(x0, y0, bw, bh, fillColor=fill, strokeColor=colour, strokeWidth=0.5))
        label = str(rank)
        if bw >= stringWidth(label, "Helvetica-Bold", 6) + 2 and bh >= 7:
            dark = min(max(float(p["z"]) / z_full, 0.0), 1.0) > 0.5
            drawing.add(String(x0 + bw / 2, y0 + bh / 2 - 2, label, fontName="Helvetica-Bold",
                               fontSize=6, textAnchor="middle",
                               fillColor=colors.white if dark else colors.black))
        else:  # too small to hold its number: beside it, inside the drawing
            lx = x0 + bw + 0.5 if x0 + bw + 6 <= left + w else x0 - 4
            drawing.add(String(lx, y0 + bh / 2 - 2, label, fontName="Helvetica-Bold",
                               fontSize=6, fillColor=colors.black))
    return drawing


def _song_block(channel: str, inf: dict[str, Any], pairs: list[dict[str, Any]], named: bool,
                track_duration: float, colour: Color, z_full: float,
                st: dict[str, ParagraphStyle]) -> KeepTogether:
    title = str(inf["title"])
    who = f"<b>{escape(title)}</b> by {escape(str(inf['artist']))}"
    if named:
        head = (f"{channel.capitalize()} — {who}: named, {percent(inf['share'])} of the "
                f"credit (confidence {percent(inf['confidence'])})")
    else:
        head = (f"{channel.capitalize()} — {who}: <b>not named</b> (no song passes the "
                "gate in this channel; its top listed song, shown for reference)")
    cell = ParagraphStyle("seg", parent=st["body"], fontSize=7.5, leading=9.5)
    rows = [[Paragraph(f"<b>{rank}</b>", cell), Paragraph(escape(pair_line(p, title)), cell)]
            for rank, p in enumerate(pairs, start=1)]
    lines = Table(rows, colWidths=[5 * mm, None])
    lines.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("LEFTPADDING", (0, 0), (-1, -1), 1),
                               ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
                               ("TOPPADDING", (0, 0), (-1, -1), 1)]))
    side = Table([[segment_plot(pairs, track_duration, colour, z_full=z_full), lines]],
                 colWidths=[PLOT_WIDTH + 2 * mm, None])
    side.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                              ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
    return KeepTogether([Paragraph(head, st["body"]), Spacer(1, 1 * mm), side,
                         Spacer(1, 3 * mm)])


def segments_section(p: dict[str, Any], st: dict[str, ParagraphStyle],
                     channel_colours: dict[str, Color], default_colour: Color) -> list:
    """The flowables of the page (from a page break on), or ``[]`` when no channel of the
    report ``p`` (a predicate) carries segments: an older report then renders exactly as
    before.

    ``st`` needs the PDF's ``h2``, ``body`` and ``small`` styles.
    """
    chosen = {name: segment_songs(ch) for name, ch in p["channels"].items()}
    if not any(songs for songs, _ in chosen.values()):
        return []
    z_top = max([float(q["z"]) for songs, _ in chosen.values() for _, pairs in songs
                 for q in pairs] + [Z_FULL])
    story: list = [
        PageBreak(), Paragraph(SECTION_TITLE, st["h2"]),
        Paragraph(
            "Which part of the track meets which part of each named song: the pairs of a "
            "10-second chunk of the track and a chunk of the song whose fingerprints agree "
            "most, each pair's z measured against chunks of other library songs. Across: "
            "the whole track; up: the song, to the last chunk a pair reaches. A box is one "
            f"pair, numbered by rank and darker for a higher z (full colour at z ≥ "
            f"{z_top:.1f}). The best of many pairs is high by chance alone: the song's own "
            "confidence says <i>whether</i> it influenced the track, the pairs say "
            "<i>where</i> to listen.", st["small"]),
        Spacer(1, 2 * mm),
    ]
    duration = float(p["track"]["duration"])
    for name, (songs, named) in chosen.items():
        colour = channel_colours.get(name, default_colour)
        for inf, pairs in songs[:MAX_SONGS]:
            story.append(_song_block(name, inf, pairs, named, duration, colour, z_top, st))
        if len(songs) > MAX_SONGS:
            story.append(Paragraph(
                f"{len(songs) - MAX_SONGS} more named {name} song(s): their pairs are in the "
                "signed JSON report.", st["small"]))
    return story
