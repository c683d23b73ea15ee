"""The PDF page "Where the influence is" (issue 23): drawn from a report's segments, absent
from older reports, and the PDF still verifies with its pages signed."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pypdf import PdfReader
from reportlab.lib import colors

from lumina.cli import main
from lumina.progress import format_clock
from lumina.reports.pdf_segments import (
    SECTION_TITLE,
    pair_line,
    segment_plot,
    segment_songs,
    shade,
)
from lumina.reports.report import write_signed_reports
from lumina.reports.signing import load_or_create_key, public_key_pem
from lumina.reports.verify import PAGES_SIGNED, verify_report
from tests.reports.test_report import analysis_json


def _pair(q: tuple[float, float], s: tuple[float, float], z: float) -> dict:
    return {"query_chunk": int(q[0] // 10), "song_chunk": int(s[0] // 10),
            "query_start": q[0], "query_end": q[1], "song_start": s[0], "song_end": s[1],
            "cosine": z / 10, "z": z}


def with_segments() -> dict:
    """The report of test_report with segments: composition names Song 1 and Song 2,
    production names none (its top listed song is Song 1)."""
    result = analysis_json()
    comp, prod = result["channels"]["composition"], result["channels"]["production"]
    comp["segments"] = [
        {"song_id": 1, "pairs": [_pair((10.0, 15.0), (70.0, 80.0), 4.1),
                                 _pair((0.0, 10.0), (20.0, 30.0), 2.0)]},
        {"song_id": 2, "pairs": [_pair((0.0, 10.0), (0.0, 10.0), 1.7)]},
        {"song_id": 3, "pairs": [_pair((0.0, 10.0), (0.0, 10.0), 0.5)]},
    ]
    prod["segments"] = [{"song_id": 1, "pairs": [_pair((0.0, 10.0), (40.0, 50.0), 0.9)]},
                        {"song_id": 2, "pairs": [_pair((10.0, 15.0), (0.0, 10.0), 0.3)]}]
    return result


@pytest.fixture()
def key(tmp_path):
    return load_or_create_key(tmp_path / "keys")


def _text(pdf: Path) -> str:
    reader = PdfReader(io.BytesIO(pdf.read_bytes()))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_a_report_with_segments_gets_the_page(tmp_path, key, capsys):
    (pdf,) = write_signed_reports(with_segments(), pdf_path=tmp_path / "r.pdf", key=key)
    text = _text(pdf)
    assert SECTION_TITLE in text
    assert "0:10–0:15 of the track ↔ 1:10–1:20 of Song 1, z 4.1" in text
    # Production names no song: its top listed one is shown, marked as such.
    assert "not named" in text
    assert "0:00–0:10 of the track ↔ 0:40–0:50 of Song 1, z 0.9" in text
    # Unnamed songs of a channel that names some are not drawn.
    assert "of Song 3" not in text

    pub = tmp_path / "signer.pub"
    pub.write_text(public_key_pem(key.public_key()))
    assert verify_report(pdf, trusted_key=pub).pages == PAGES_SIGNED
    capsys.readouterr()
    assert main(["verify", str(pdf), "--key", str(pub)]) == 0


def test_a_report_without_segments_renders_as_before(tmp_path, key):
    (pdf,) = write_signed_reports(analysis_json(), pdf_path=tmp_path / "old.pdf", key=key)
    (new,) = write_signed_reports(with_segments(), pdf_path=tmp_path / "new.pdf", key=key)
    text = _text(pdf)
    assert SECTION_TITLE not in text and "of the track ↔" not in text
    # The page is added, nothing else moves: the older report has one page less.
    assert len(PdfReader(pdf).pages) == len(PdfReader(new).pages) - 1


def test_songs_drawn_are_the_named_ones_else_the_top_listed():
    result = with_segments()
    comp, prod = result["channels"]["composition"], result["channels"]["production"]
    songs, named = segment_songs(comp)
    assert named and [inf["song_id"] for inf, _ in songs] == [1, 2]
    songs, named = segment_songs(prod)
    assert not named and [inf["song_id"] for inf, _ in songs] == [1]
    assert segment_songs(analysis_json()["channels"]["composition"]) == ([], False)


def test_times_print_as_minutes_and_seconds():
    def clock(seconds):  # the pair lines' format
        return format_clock(seconds, tenths=False)

    assert clock(0) == "0:00" and clock(69.6) == "1:10" and clock(3725) == "62:05"
    line = pair_line(_pair((20.0, 30.0), (70.0, 80.0), 4.14), "Quiet Engines (Organ)")
    assert line == "0:20–0:30 of the track ↔ 1:10–1:20 of Quiet Engines (Organ), z 4.1"


def test_shade_darkens_with_z_and_boxes_stay_inside_the_picture():
    blue = colors.HexColor("#1f6feb")
    light, mid, full = (shade(z, 4.0, blue) for z in (-1.0, 2.0, 9.0))
    assert light.red > mid.red > full.red and full == blue
    pairs = [_pair((170.0, 180.0), (230.0, 240.0), 3.0), _pair((0.0, 10.0), (0.0, 10.0), 1.0)]
    drawing = segment_plot(pairs, 180.0, blue)
    x0, y0, x1, y1 = drawing.getBounds()
    assert x0 >= 0 and y0 >= 0 and x1 <= drawing.width + 0.01 and y1 <= drawing.height + 0.01
