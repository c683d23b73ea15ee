"""The PDF form of a signed report, with the signed JSON envelope attached.

Rendered with reportlab rather than Qt's QPdfWriter: the engine (and ``lumina attribute
--pdf`` on a server with no display libraries) must never import Qt, and reportlab is pure
Python with vector charts. pypdf attaches the envelope as an embedded file, so the PDF
alone verifies (``lumina verify report.pdf``); given the signing key, the finished file is
then signed as a whole (:mod:`lumina.reports.pdf_signature`), so its pages are signed too.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from reportlab.graphics.charts.barcharts import HorizontalBarChart
from reportlab.graphics.shapes import Drawing, Line, Rect, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import (
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from lumina.reports.findings import answer_sentence, gate_words, signed_findings
from lumina.reports.findings import percent as _pct
from lumina.reports.formats import ATTACHMENT_NAME, CLOCK_NOTE, PDF_SIGNATURE_PROFILE
from lumina.reports.pdf_segments import segments_section
from lumina.reports.signing import UnreadableReport
from lumina.typicality import unusual_warning

ACCENT = colors.HexColor("#1f6feb")
CHANNEL_COLOURS = {"composition": colors.HexColor("#1f6feb"),
                   "production": colors.HexColor("#d97706")}
GREY = colors.HexColor("#6b7280")
TABLE_ROWS = 12
CHART_SONGS = 8


def _styles() -> dict[str, ParagraphStyle]:
    base = getSampleStyleSheet()
    return {
        "title": ParagraphStyle("t", parent=base["Title"], fontSize=20, spaceAfter=4,
                                alignment=0),
        "h2": ParagraphStyle("h2", parent=base["Heading2"], fontSize=13, spaceBefore=8,
                             spaceAfter=4, textColor=ACCENT),
        "body": ParagraphStyle("b", parent=base["BodyText"], fontSize=9, leading=12),
        "small": ParagraphStyle("s", parent=base["BodyText"], fontSize=7.5, leading=9.5,
                                textColor=GREY),
        "mono": ParagraphStyle("m", parent=base["Code"], fontSize=7, leading=9),
    }


def _summary_table(p: dict[str, Any]) -> Table:
    track, model, lib = p["track"], p["model"], p["library"]
    rows = [
        ["Track", track["source"]],
        ["Audio SHA-256", track["audio_sha256"]],
        ["Duration", f"{track['duration']:.1f} s in {len(track['chunks'])} chunk(s) of "
                     f"{p['parameters']['chunk_seconds']:g} s"],
        ["Model", f"{model['name']}  (weights {model['weights_sha256'][:16]}…)"],
        ["Library", f"{lib['name']}: {lib['songs']} songs  (digest {str(lib['digest'])[:16]}…)"],
        ["Created", f"{p['created']['time']}  ({p['created']['clock']})"],
        ["Software", f"LUMINA {p['software_version']}"],
    ]
    table = Table(rows, colWidths=[32 * mm, 140 * mm])
    table.setStyle(TableStyle([
        ("FONT", (0, 0), (0, -1), "Helvetica-Bold", 8),
        ("FONT", (1, 0), (1, -1), "Helvetica", 8),
        ("TEXTCOLOR", (0, 0), (0, -1), GREY),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]))
    return table


VERDICT_COLOURS = {"clear": colors.HexColor("#15803d"), "review": colors.HexColor("#b45309"),
                   "flag": colors.HexColor("#b91c1c")}


def _verdict_paragraph(audit: dict[str, Any], st: dict[str, ParagraphStyle]) -> Paragraph:
    policy = audit["policy"]
    colour = VERDICT_COLOURS.get(audit["verdict"], GREY).hexval()[2:]
    return Paragraph(
        f"<b>Verdict: <font color='#{colour}'>{_esc(audit['verdict'].upper())}</font></b> — "
        f"{_esc(audit['reason'])}. Policy <i>{_esc(policy['name'])}</i>: α = "
        f"{policy['alpha']:g} per channel ({policy['correction']} correction), flag at a "
        f"share ≥ {_pct(policy['flag_share'])}.", st["body"])


def _headline(p: dict[str, Any], st: dict[str, ParagraphStyle]) -> list:
    out = [_verdict_paragraph(p["audit"], st)] if p.get("audit") else []
    # The track's own caveat first, as in the app: the Warnings section is pages away.
    unusual = unusual_warning(p["track"].get("warnings", ()))
    if unusual:
        label, _, rest = unusual.partition(": ")
        out.append(Paragraph(f"<b>{_esc(label.capitalize())}:</b> {_esc(rest)}", st["body"]))
    if p["model"].get("scope"):
        out.append(Paragraph(f"<b>Model:</b> <i>{_esc(p['model']['scope'])}</i>", st["body"]))
    for findings in signed_findings(p):
        name = findings.channel
        label, _, rest = answer_sentence(findings).partition(": ")
        text = f"<b>{_esc(label)}:</b> {_esc(rest)}"
        note = p["model"].get("channel_notes", {}).get(name)
        if note:
            text += f" <i>Read with care: {_esc(note)}.</i>"
        out.append(Paragraph(text, st["body"]))
    calibration = p["library"].get("calibration")
    if calibration:
        out.append(Paragraph(f"<b>Calibration:</b> {_esc(calibration['summary'])}",
                             st["body"]))
    return out


def _esc(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _ranked_table(name: str, ch: dict[str, Any]) -> Table:
    header = ["#", "Title", "Artist", "ISRC", "cos", "z", "conf.", "weight", "share"]
    rows = [header]
    for inf in ch["influences"][:TABLE_ROWS]:
        rows.append([
            str(inf["rank"]), inf["title"][:34], inf["artist"][:22], inf["isrc"],
            f"{inf['cosine']:+.3f}", f"{inf['z']:+.2f}", _pct(inf["confidence"]),
            f"{inf['weight']:+.3f}", _pct(inf["share"]) if inf["qualifies"] else "—",
        ])
    table = Table(rows, repeatRows=1, colWidths=[7 * mm, 48 * mm, 32 * mm, 24 * mm, 13 * mm,
                                                  12 * mm, 14 * mm, 14 * mm, 13 * mm])
    style = [
        ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 7.5),
        ("FONT", (0, 1), (-1, -1), "Helvetica", 7.5),
        ("LINEBELOW", (0, 0), (-1, 0), 0.6, CHANNEL_COLOURS.get(name, ACCENT)),
        ("ALIGN", (4, 0), (-1, -1), "RIGHT"),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f3f4f6")]),
    ]
    for r, inf in enumerate(ch["influences"][:TABLE_ROWS], start=1):
        if inf["qualifies"]:
            style.append(("FONT", (0, r), (-1, r), "Helvetica-Bold", 7.5))
    table.setStyle(TableStyle(style))
    return table


def _share_chart(p: dict[str, Any]) -> Drawing:
    """Grouped horizontal bars: each song's share in both channels."""
    names = list(p["channels"])
    songs: dict[int, str] = {}
    for ch in p["channels"].values():
        for inf in ch["influences"]:
            if inf["qualifies"] and len(songs) < CHART_SONGS:
                songs.setdefault(inf["song_id"], inf["title"])
    width, height = 170 * mm, max(40 * mm, (12 + 9 * len(songs)) * mm)
    drawing = Drawing(width, height)
    if not songs:
        drawing.add(String(0, height / 2, "No song passes the gate in either channel.",
                           fontName="Helvetica", fontSize=9, fillColor=GREY))
        return drawing
    ids = list(songs)
    chart = HorizontalBarChart()
    chart.x, chart.y = 60 * mm, 8 * mm
    chart.width, chart.height = width - 70 * mm, height - 14 * mm
    chart.data = [[next((i["share"] * 100 for i in p["channels"][n]["influences"]
                         if i["song_id"] == sid and i["qualifies"]), 0.0) for sid in ids][::-1]
                  for n in names]
    chart.categoryAxis.categoryNames = [songs[s][:30] for s in ids][::-1]
    chart.categoryAxis.labels.fontName = "Helvetica"
    chart.categoryAxis.labels.fontSize = 7
    chart.valueAxis.valueMin, chart.valueAxis.valueMax = 0, 100
    chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.labelTextFormat = "%d %%"
    for i, n in enumerate(names):
        chart.bars[i].fillColor = CHANNEL_COLOURS.get(n, ACCENT)
        chart.bars[i].strokeColor = None
    drawing.add(chart)
    for i, n in enumerate(names):
        x = 60 * mm + i * 35 * mm
        drawing.add(Rect(x, height - 4 * mm, 3 * mm, 3 * mm, fillColor=CHANNEL_COLOURS.get(
            n, ACCENT), strokeColor=None))
        drawing.add(String(x + 4 * mm, height - 3.8 * mm, f"{n} share", fontName="Helvetica",
                           fontSize=7))
    return drawing


def _confidence_chart(name: str, ch: dict[str, Any]) -> Drawing:
    """z of the top songs against the gate: how far each stands above the noise floor."""
    top = ch["influences"][:CHART_SONGS]
    width, height = 170 * mm, (10 + 6 * max(1, len(top))) * mm
    drawing = Drawing(width, height)
    if not top:
        return drawing
    left, right = 60 * mm, width - 8 * mm
    z_max = max(max(abs(i["z"]) for i in top), ch["z_gate"] * 1.5, 3.0)
    scale = (right - left) / (2 * z_max)
    zero = left + z_max * scale
    for row, inf in enumerate(top):
        y = height - (8 + 6 * row) * mm
        colour = CHANNEL_COLOURS.get(name, ACCENT) if inf["qualifies"] else colors.HexColor(
            "#9ca3af")
        x0, x1 = sorted((zero, zero + inf["z"] * scale))
        drawing.add(Rect(x0, y, max(x1 - x0, 0.5), 4 * mm, fillColor=colour, strokeColor=None))
        drawing.add(String(0, y + 1 * mm, inf["title"][:32], fontName="Helvetica", fontSize=7))
        drawing.add(String(x1 + 1 * mm if inf["z"] >= 0 else x0 - 12 * mm, y + 1 * mm,
                           f"{inf['z']:+.2f}", fontName="Helvetica", fontSize=6.5))
    gate_x = zero + ch["z_gate"] * scale
    drawing.add(Line(zero, 2 * mm, zero, height - 2 * mm, strokeColor=GREY, strokeWidth=0.5))
    drawing.add(Line(gate_x, 2 * mm, gate_x, height - 2 * mm, strokeColor=colors.red,
                     strokeWidth=0.8, strokeDashArray=[2, 2]))
    drawing.add(String(gate_x + 1 * mm, 1 * mm, f"gate z = {ch['z_gate']:.2f}",
                       fontName="Helvetica", fontSize=6.5,
                       fillColor=colors.red))
    drawing.add(String(zero + 1 * mm, height - 2.5 * mm, "noise floor (z = 0)",
                       fontName="Helvetica", fontSize=6.5, fillColor=GREY))
    return drawing


def _timeline(p: dict[str, Any]) -> Drawing:
    """One lane per channel; each chunk coloured by its strongest song, hatched grey when
    nothing passes the gate."""
    duration = max(p["track"]["duration"], 1e-6)
    lanes = list(p["timeline"].items())
    width, lane_h = 170 * mm, 9 * mm
    height = (8 + 12 * len(lanes)) * mm
    drawing = Drawing(width, height)
    # Song colours, none of them a channel's (blue and orange mean composition and
    # production everywhere else in the report).
    palette = [colors.HexColor(c) for c in ("#059669", "#7c3aed", "#db2777", "#0891b2",
                                            "#65a30d", "#dc2626", "#4f46e5", "#0f766e")]
    song_colour: dict[int, Any] = {}
    left, span = 28 * mm, width - 30 * mm
    for row, (name, entries) in enumerate(lanes):
        y = height - (10 + 12 * row) * mm
        drawing.add(String(0, y + 3 * mm, name, fontName="Helvetica-Bold", fontSize=8))
        for e in entries:
            x0 = left + span * e["start"] / duration
            w = max(span * (e["end"] - e["start"]) / duration - 0.6, 0.5)
            if e["qualifies"]:
                colour = song_colour.setdefault(e["song_id"], palette[len(song_colour)
                                                                      % len(palette)])
                label = fit_label(e["title"], _pct(e["confidence"]), w - 2)
            else:
                colour, label = colors.HexColor("#e5e7eb"), "—"
            drawing.add(Rect(x0, y, w, lane_h, fillColor=colour, strokeColor=None))
            drawing.add(String(x0 + 1, y + 3.3 * mm, label, fontName="Helvetica", fontSize=5.5,
                               fillColor=colors.white if e["qualifies"] else GREY))
    drawing.add(String(left, 1 * mm, "0 s", fontName="Helvetica", fontSize=6.5))
    drawing.add(String(left + span - 12 * mm, 1 * mm, f"{duration:.0f} s", fontName="Helvetica",
                       fontSize=6.5))
    return drawing


def fit_label(title: str, suffix: str, width: float, font: str = "Helvetica",
              size: float = 5.5) -> str:
    """``"title suffix"`` in at most ``width`` points: the title elided in the middle
    ("Quiet…(Organ)"), so the version in parentheses stays; the suffix alone, or nothing,
    when even that does not fit."""
    text = f"{title} {suffix}"
    if stringWidth(text, font, size) <= width:
        return text
    # Keep the tail in parentheses whole ("(Organ)"), else half of what is kept.
    tail_len = len(title) - title.rfind(" (") - 1 if title.endswith(")") and " (" in title \
        else 0
    for keep in range(len(title) - 1, 1, -1):
        tail = min(tail_len, keep - 1) if tail_len else keep // 2
        text = f"{title[:keep - tail]}…{title[len(title) - tail:]} {suffix}"
        if stringWidth(text, font, size) <= width:
            return text
    return suffix if stringWidth(suffix, font, size) <= width else ""


def _method(p: dict[str, Any], st: dict[str, ParagraphStyle]) -> list:
    par = p["parameters"]
    null = par["null"]
    songs = p["library"]["songs"]
    cohort = min(par["cohort_size"], songs) if par.get("cohort_size") else songs
    null_text = (
        "<b>empirical</b>: each score is compared with how this query and each song score "
        f"against a cohort of {cohort} library songs (centred fingerprints, "
        f"adaptive S-norm over the {par.get('top_k') or 'all'} highest cohort scores, "
        "corrected for how few scores those statistics rest on), so a "
        "song must stand out from its nearest neighbours in <i>this</i> library"
        if null == "empirical" else
        "<b>analytic</b> (the LUMINA paper's): z = cosine × √D, which assumes unrelated "
        "fingerprints are random directions — on trained models they are not, so this gate "
        "lets many unrelated songs through")
    text = [
        "LUMINA asks the music model how its weights would have to change to fit this track "
        "(the gradient of its teacher-forced loss, per 10-second chunk) and compresses that "
        f"into a {par['dim']}-number fingerprint per rights channel with a seeded random "
        f"projection (seed {par['projection_seed']}, {par['projection_blocks']} Kronecker "
        "blocks per layer). The same is done once for every catalog song."
        + _output_sentence(par.get("output_function"))
        + _loudness_sentence(par.get("loudness")),
        "<b>Composition</b> uses the model's self-attention layers, <b>production</b> its "
        "output heads. " + _rendering_sentence(par.get("composition_rendering")) +
        "What each channel actually tracks on a given model is measured by the "
        "validation study; treat the names as the channels' intent.",
        f"Cosine similarity ranks the songs. Confidence uses the {null_text}. Songs are "
        f"named by one rule over the whole library: {_esc(gate_words(par))}. Kernel "
        "regression "
        f"(λ = {par['lambda']:g}) shares credit between similar songs, and the shares of the "
        "named songs sum to 100 % per channel.",
    ]
    return [Paragraph(t, st["body"]) for t in text]


def _loudness_sentence(loudness: str | None) -> str:
    """How the audio's loudness was normalised before the model heard it, if it was."""
    from lumina.fingerprint.loudness import get_loudness

    if loudness is None:
        return ""
    try:
        found = get_loudness(loudness)
    except ValueError:  # a report from a newer LUMINA: name it as recorded
        return f" The audio's loudness was normalised (<i>{_esc(loudness)}</i>)."
    return (f" Every chunk is first brought to one loudness (RMS {found.reference_rms:g}, "
            f"<i>{found.id}</i>), so a quieter or louder copy gives the same fingerprint.")


def _output_sentence(output_function: str | None) -> str:
    """What the fingerprint is the gradient of, when it is not the paper's plain loss."""
    from lumina.fingerprint.output import get_output_function

    if output_function is None:
        return ""
    try:
        function = get_output_function(output_function)
    except ValueError:  # a report from a newer LUMINA: name it as recorded
        return f" The gradient is of the output function <i>{_esc(output_function)}</i>."
    return (f" The loss is softened to temperature {function.temperature:g} "
            f"(<i>{function.id}</i>) so that every note of a chunk counts, not only the few "
            "the model did not predict.")


def _rendering_sentence(rendering: str | None) -> str:
    if rendering is None:
        return "Both channels see the track's audio itself (the paper's mode). "
    from lumina.fingerprint.rendering import RENDERINGS

    name = rendering.partition("/")[0]
    what = RENDERINGS[name].description if name in RENDERINGS else "a timbre-neutral rendering"
    return (f"The composition channel sees a timbre-neutral rendering of the audio "
            f"(<i>{rendering}</i>: {what}), meant to keep the instrument's sound out of it; "
            "production sees the audio itself. ")


def _signature_block(p: dict[str, Any], st: dict[str, ParagraphStyle]) -> list:
    fp = p["signer"]["fingerprint"]
    return [
        Paragraph(f"Signed with Ed25519 key <font face='Courier'>{fp}</font>{_pages_words(p)}"
                  f". The signed JSON report is attached to this PDF as <i>{ATTACHMENT_NAME}"
                  "</i> (an in-toto statement in a DSSE envelope, canonical JSON per RFC 8785).",
                  st["body"]),
        Paragraph("To verify, offline: <font face='Courier'>lumina verify this.pdf --key "
                  "signer.pub --audio track.wav</font> — exit code 0 means valid; it prints "
                  "the signed findings. The key file comes from the signer (<font "
                  "face='Courier'>lumina keys export-public</font>); without --key, only "
                  "integrity is checked.", st["body"]),
    ]


def _pages_words(p: dict[str, Any]) -> str:
    """What the page says about its own signature: only what the signed JSON promises."""
    if p["signer"].get("pdf_signature") != PDF_SIGNATURE_PROFILE:
        return ""
    return ", the whole file and these pages included (PAdES)"


def render_pdf(envelope: dict[str, Any], path: Path,
               key: Ed25519PrivateKey | None = None) -> Path:
    """Render the report held in ``envelope`` to ``path``, attach the envelope and, given
    the ``key`` that signed it, sign the whole PDF (without: an older-style PDF whose pages
    are not signed)."""
    payload = json.loads(base64.b64decode(envelope["payload"]))
    p = payload["predicate"]
    st = _styles()
    story: list = [
        Paragraph("LUMINA attribution report", st["title"]),
        Paragraph("Which catalog songs influenced this track, how much, and how sure we are.",
                  st["small"]),
        Spacer(1, 4 * mm), _summary_table(p), Spacer(1, 3 * mm),
        Paragraph("Result", st["h2"]), *_headline(p, st),
        Paragraph("Shares by channel", st["h2"]), _share_chart(p),
        Paragraph("Influence across the track", st["h2"]), _timeline(p),
        PageBreak(),
    ]
    for name, ch in p["channels"].items():
        story += [KeepTogether([
            Paragraph(f"{name.capitalize()} channel — ranked songs", st["h2"]),
            Paragraph(f"{ch['n_qualifying']} of {ch['n_library']} library songs qualify "
                      f"(null: {ch['null']}; {_esc(gate_words(ch))}). Bold rows are named.",
                      st["small"]),
            _ranked_table(name, ch), Spacer(1, 2 * mm),
            Paragraph("Confidence against the noise floor", st["small"]),
            _confidence_chart(name, ch)])]
    # Where in each named song (issue 23); nothing for reports made before segments.
    story += segments_section(p, st, CHANNEL_COLOURS, ACCENT)
    story += [Paragraph("Method and parameters", st["h2"]), *_method(p, st),
              Paragraph("Signature", st["h2"]), *_signature_block(p, st)]
    if p["track"].get("warnings"):
        story += [Paragraph("Warnings", st["h2"])] + [
            Paragraph(_esc(w), st["body"]) for w in p["track"]["warnings"]]

    buffer = io.BytesIO()
    footer = _signature_line(p)
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm,
                            topMargin=16 * mm, bottomMargin=16 * mm,
                            title=f"LUMINA report — {p['track']['source']}",
                            author="LUMINA", subject=p["track"]["audio_sha256"])
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return _attach(buffer.getvalue(), envelope, Path(path), key)


def _attach(pdf: bytes, envelope: dict[str, Any], path: Path,
            key: Ed25519PrivateKey | None) -> Path:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.add_attachment(ATTACHMENT_NAME, json.dumps(envelope, indent=2).encode())
    out = io.BytesIO()
    writer.write(out)
    signer = json.loads(base64.b64decode(envelope["payload"]))["predicate"]["signer"]
    from lumina.reports.pdf_signature import finish_pdf

    data = finish_pdf(out.getvalue(), signer, key)  # last: a later byte would break it
    with open(path, "wb") as fh:
        fh.write(data)
    return path


def attached_envelope(pdf: bytes, name: str) -> bytes:
    """The signed JSON attached to a LUMINA PDF (bytes), or :class:`UnreadableReport`."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        attachments = PdfReader(io.BytesIO(pdf)).attachments
        data = attachments.get(ATTACHMENT_NAME)
    except (PyPdfError, ValueError, KeyError, TypeError, OSError, AttributeError):
        # pypdf raises AttributeError on some damaged object trees and LimitReachedError
        # (not a PdfReadError) on a stream declaring more bytes than it has (both found by
        # fuzzing).
        raise UnreadableReport(f"{name}: damaged PDF") from None
    if not data:
        raise UnreadableReport(f"{name}: PDF without an attached LUMINA report")
    return data[0]


def _signature_line(p: dict[str, Any]):
    def footer(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 7)
        canvas.setFillColor(GREY)
        canvas.drawString(18 * mm, 10 * mm, f"LUMINA {p['software_version']} · signed by "
                          f"{p['signer']['fingerprint'][:23]}… · page {doc.page}")
        canvas.restoreState()
    return footer


def render_summary_pdf(envelope: dict[str, Any], path: Path,
                       key: Ed25519PrivateKey | None = None) -> Path:
    """Render a signed audit summary (:mod:`lumina.reports.summary`); attach its envelope
    and, given the ``key`` that signed it, sign the whole PDF."""
    payload = json.loads(base64.b64decode(envelope["payload"]))
    p = payload["predicate"]
    st = _styles()
    counts, policy, lib, model = p["counts"], p["policy"], p["library"], p["model"]
    head = Table([
        ["Library", f"{lib['name']}: {lib['songs']} songs  (digest {str(lib['digest'])[:16]}…)"],
        ["Model", f"{model['name']}  (weights {model['weights_sha256'][:16]}…)"],
        ["Policy", f"{policy['name']}: α = {policy['alpha']:g} per track and channel "
                   f"({policy['correction']} correction over the library), flag at a share "
                   f"≥ {_pct(policy['flag_share'])}"],
        ["Tracks", f"{len(p['rows'])}: {counts['flag']} flag, {counts['review']} review, "
                   f"{counts['clear']} clear, {counts['error']} error(s), "
                   f"{counts['warning']} with warnings"
                   + (" — run cancelled before the end" if p.get("cancelled") else "")],
        ["Created", f"{p['created']}  ({CLOCK_NOTE})"],
    ], colWidths=[24 * mm, 150 * mm])
    head.setStyle(TableStyle([
        ("FONT", (0, 0), (0, -1), "Helvetica-Bold", 8),
        ("FONT", (1, 0), (1, -1), "Helvetica", 8),
        ("TEXTCOLOR", (0, 0), (0, -1), GREY),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]))
    cell = ParagraphStyle("cell", parent=st["body"], fontSize=7, leading=8.5)
    rows = [["Track", "Verdict", "Composition: strongest", "Production: strongest", "Notes"]]
    styles = [("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 7.5),
              ("LINEBELOW", (0, 0), (-1, 0), 0.5, GREY),
              ("VALIGN", (0, 0), (-1, -1), "TOP"),
              ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f3f4f6")])]

    def strongest(row: dict[str, Any], name: str) -> Paragraph:
        ch = row["channels"].get(name)
        if not ch:
            return Paragraph("—", cell)
        mark = "<b>" if ch["counts"] else ""
        end = "</b>" if ch["counts"] else ""
        return Paragraph(f"{mark}{_esc(ch['title'])}{end}<br/>share {_pct(ch['share'])}, "
                         f"conf. {_pct(ch['confidence'])}", cell)

    for i, row in enumerate(p["rows"], start=1):
        verdict = row["verdict"] or row["status"]
        notes = row["error"] or "; ".join(row["warnings"])
        if row["status"] == "skipped":
            notes = ("already audited; " + notes).rstrip("; ")
        rows.append([Paragraph(_esc(row["file"]), cell), Paragraph(
            f"<b>{_esc(verdict.upper())}</b>", cell), strongest(row, "composition"),
            strongest(row, "production"), Paragraph(_esc(notes), cell)])
        colour = VERDICT_COLOURS.get(row["verdict"]) if row["status"] != "error" else GREY
        if colour is not None:
            styles.append(("TEXTCOLOR", (1, i), (1, i), colour))
    table = Table(rows, colWidths=[42 * mm, 16 * mm, 40 * mm, 40 * mm, 36 * mm], repeatRows=1)
    table.setStyle(TableStyle(styles))
    story = [
        Paragraph("LUMINA audit summary", st["title"]),
        Paragraph("Each track was attributed against the library; its signed report lies in "
                  "the tracks/ folder next to this summary. Bold songs count for the verdict.",
                  st["small"]),
        Spacer(1, 3 * mm), head, Spacer(1, 4 * mm), table, Spacer(1, 4 * mm),
        Paragraph("How verdicts are decided", st["h2"]),
        Paragraph("A song <i>counts</i> when its confidence in a channel reaches "
                  "(1 − α)<super>1/N</super> for a library of N songs (Šidák): then an "
                  "unrelated track is called <i>clear</i> with probability 1 − α per channel "
                  "whatever the library's size, where the per-song 95 % gate alone would let "
                  "5 % of all library songs through. <b>clear</b>: no song counts; "
                  "<b>review</b>: a song counts with a share below the flag threshold; "
                  "<b>flag</b>: a song counting holds at least that share.", st["body"]),
        Paragraph("Signature", st["h2"]),
        Paragraph(f"Signed with Ed25519 key <font face='Courier'>{p['signer']['fingerprint']}"
                  f"</font>{_pages_words(p)}; the signed JSON is attached as "
                  f"<i>{ATTACHMENT_NAME}</i>. Verify "
                  "offline with <font face='Courier'>lumina verify summary.pdf --key "
                  "signer.pub</font>.", st["body"]),
    ]
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=16 * mm, rightMargin=16 * mm,
                            topMargin=16 * mm, bottomMargin=16 * mm,
                            title="LUMINA audit summary", author="LUMINA")
    footer = _signature_line(p)
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return _attach(buffer.getvalue(), envelope, Path(path), key)
