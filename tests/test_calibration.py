"""Library calibration (lumina.calibration, ``lumina library calibrate``): the held-out null,
copy detection, storage beside the library, staleness, and its citation in reports."""

from __future__ import annotations

import json
import shutil
import threading

import numpy as np
import pytest

from lumina.calibration import (
    CALIBRATION_FILE,
    CalibrationPlan,
    LibraryCalibration,
    calibrate_library,
    read_calibration,
    related_groups,
    title_stem,
)
from lumina.errors import LuminaError


def test_title_stem_drops_version_qualifiers():
    assert title_stem("Quiet Engines (Organ)") == "quiet engines"
    assert title_stem("Quiet  Engines [Live] (2019 Remaster)") == "quiet engines"
    assert title_stem("Salt and Cedar - Radio Edit") == "salt and cedar"
    assert title_stem("(Untitled)") == "(untitled)"  # never stripped to nothing


def test_related_groups_join_artist_and_title_stem():
    titles = ["A (Organ)", "A (Bell)", "B (Organ)", "C (Pad)"]
    artists = ["Act 1", "Act 2", "Act 1", "Act 3"]
    groups = [g.tolist() for g in related_groups(titles, artists)]
    assert groups == [[0, 1, 2], [0, 1], [0, 2], [3]]
    assert [g.tolist() for g in related_groups(["x", "y"], ["", ""])] == [[0], [1]]


def test_held_out_null_and_separation_on_planted_structure():
    """3 works × 3 acts: the composition vectors follow the work, the production vectors
    the act. Each channel's top match (the song itself left out) then shares its title or
    its artist every time; held out with all its relatives, a song names nothing."""
    from lumina.attribution import AttributionParams
    from lumina.calibration import held_out_null

    rng = np.random.default_rng(0)
    d = 64
    works, acts = rng.normal(size=(3, d)), rng.normal(size=(3, d))
    titles = [f"Work {w} ({a})" for w in range(3) for a in range(3)]
    artists = [f"Act {a}" for w in range(3) for a in range(3)]
    comp = np.stack([works[w] + 0.3 * rng.normal(size=d) for w in range(3) for a in range(3)])
    prod = np.stack([acts[a] + 0.3 * rng.normal(size=d) for w in range(3) for a in range(3)])
    steps = []
    held = held_out_null({"composition": comp, "production": prod}, titles, artists,
                         np.arange(9), AttributionParams(), 0.05, lambda: steps.append(1),
                         lambda: False)
    assert len(steps) == 9 and held.used == 9 and held.skipped == 0
    assert held.separation["composition"]["title"] == 1.0
    assert held.separation["production"]["artist"] == 1.0
    assert held.separation["composition"]["artist"] < 0.5
    assert held.chance == {"title": 0.25, "artist": 0.25}
    assert held.null["composition"]["fwer"] == 0.0 and held.null["production"]["fwer"] == 0.0


def test_plan_refuses_unknown_transform_and_empty_sample():
    with pytest.raises(LuminaError, match="unknown transform"):
        CalibrationPlan(transforms=("reverse",))
    with pytest.raises(LuminaError, match="at least 1"):
        CalibrationPlan(sample=0)


@pytest.fixture()
def own_catalog(catalog, tmp_path):
    """A private copy of the session catalog (calibration writes into the library)."""
    lib_path, songs = catalog
    copy = tmp_path / "lib"
    shutil.copytree(lib_path, copy, ignore=shutil.ignore_patterns("cache"))
    return copy, songs


def _calibrate(lib_path, fingerprinter, **kwargs):
    from lumina.workspace import Workspace

    with Workspace.open(lib_path, fingerprinter=fingerprinter) as ws:
        return calibrate_library(ws, CalibrationPlan(sample=3, transforms=("mp3_128k",)),
                                 **kwargs), ws.library.digest()


def test_calibration_measures_stores_and_goes_stale(own_catalog, fingerprinter):
    lib_path, _ = own_catalog
    seen = []
    result, digest = _calibrate(lib_path, fingerprinter,
                                progress=lambda done, total: seen.append((done, total)))
    # 3 held-out songs, 3 copies, then the unusual-input reference in one step.
    assert seen[-1] == (7, 7) and [d for d, _ in seen] == list(range(1, 8))
    assert result.songs == 5 and result.null_sample + result.null_skipped == 3
    # Every song is its own artist and title here: each is held out alone, all 5 of them.
    for ref in result.typicality.values():
        assert ref["songs"] == 5 and -1.0 <= ref["lowest"] <= ref["median"] <= 1.0
    assert set(result.typicality) == {"composition", "production"}
    assert result.copy_sample == 3 and result.copy_missing == 0
    assert result.library_digest == digest
    for per in result.null.values():
        assert set(per) == {"fdr", "fwer", "per-song"}
        assert all(v is None or 0.0 <= v <= 1.0 for v in per.values())
    # An MP3 copy is still its own song, even for an untrained model.
    assert all(v["first"] == 1.0 for v in result.copies["mp3_128k"].values())
    stored = read_calibration(lib_path, digest)
    assert stored == result and stored.current
    assert json.loads((lib_path / CALIBRATION_FILE).read_text())["version"] == 1
    assert "held-out songs named a song" in stored.summary()
    # Another set of songs (a song removed) makes it stale, and says so.
    from lumina.library import Library

    with Library.open(lib_path) as lib, lib.writer() as w:
        w.remove([lib.songs()[0].id])
        new_digest = lib.digest()
    stale = read_calibration(lib_path, new_digest)
    assert stale is not None and not stale.current and "stale" in stale.summary()


def test_missing_audio_is_counted_not_fatal(own_catalog, fingerprinter):
    lib_path, songs = own_catalog
    from lumina.library import Library

    with Library.open(lib_path) as lib, lib.writer() as w:
        w.set_source_paths({s.id: (s.audio_sha256, str(lib_path / "gone" / f"{s.id}.wav"))
                            for s in lib.songs()})
    result, _ = _calibrate(lib_path, fingerprinter)
    assert result.copy_missing == 3 and result.copy_sample == 0
    assert result.copies["mp3_128k"]["production"] == {"first": None, "named": None}


def test_cancel_stores_nothing(own_catalog, fingerprinter):
    from lumina.fingerprint.fingerprinter import Cancelled

    lib_path, _ = own_catalog
    stop = threading.Event()
    with pytest.raises(Cancelled):
        _calibrate(lib_path, fingerprinter,
                   progress=lambda done, total: stop.set() if done == 2 else None, cancel=stop)
    assert not (lib_path / CALIBRATION_FILE).exists()


def test_calibration_without_typicality_still_reads(own_catalog, fingerprinter):
    """A calibration made before the unusual-input reference existed is read (it cannot
    flag unusual input, and no analysis warns from it)."""
    from lumina.analysis import analyze

    lib_path, songs = own_catalog
    result, digest = _calibrate(lib_path, fingerprinter)
    data = result.to_json()
    del data["typicality"]
    (lib_path / CALIBRATION_FILE).write_text(json.dumps(data))
    old = read_calibration(lib_path, digest)
    assert old is not None and old.current and old.typicality == {}
    assert analyze(songs[4], lib_path, fingerprinter).unusual_input is None


def test_unusual_input_is_warned_from_the_library_reference(own_catalog, fingerprinter,
                                                            tmp_path):
    """The analysis compares the track's best match with the stored reference: below every
    held-out song's, the result, its JSON and its signed report carry the warning."""
    from lumina.analysis import analyze
    from lumina.reports.report import write_signed_reports
    from lumina.reports.verify import verify_report

    lib_path, songs = own_catalog
    _calibrate(lib_path, fingerprinter)
    own = analyze(songs[4], lib_path, fingerprinter)
    # A library song's best match is itself (cosine 1): never unusual.
    assert own.unusual_input is None
    data = json.loads((lib_path / CALIBRATION_FILE).read_text())
    data["typicality"]["production"]["lowest"] = 1.5  # no track reaches it
    (lib_path / CALIBRATION_FILE).write_text(json.dumps(data))
    flagged = analyze(songs[4], lib_path, fingerprinter)
    line = flagged.unusual_input
    assert line is not None and line.startswith("unusual input:") and "\n" not in line
    assert "production best match 1.00" in line and "composition" not in line
    payload = flagged.to_json()
    assert line in payload["track"]["warnings"]
    json_path, pdf_path = write_signed_reports(payload, json_path=tmp_path / "r.json",
                                               pdf_path=tmp_path / "r.pdf")
    verify_report(json_path)
    verify_report(pdf_path)
    # On the first page, with the answer, not only in the Warnings section at the end.
    from pypdf import PdfReader

    first_page = " ".join(PdfReader(str(pdf_path)).pages[0].extract_text().split())
    assert "Unusual input: this track is less like any library song" in first_page


def test_unreadable_or_foreign_file_reads_as_none(tmp_path):
    (tmp_path / CALIBRATION_FILE).write_text("{not json")
    assert read_calibration(tmp_path, "x") is None
    (tmp_path / CALIBRATION_FILE).write_text(json.dumps({"version": 99}))
    assert read_calibration(tmp_path, "x") is None
    with pytest.raises(LuminaError, match="version"):
        LibraryCalibration.from_json({"version": 99})


def test_reports_cite_a_current_calibration(own_catalog, fingerprinter, tmp_path):
    from lumina.analysis import analyze

    lib_path, songs = own_catalog
    before = analyze(songs[4], lib_path, fingerprinter)
    assert "calibration" not in before.to_json()["library"]
    _calibrate(lib_path, fingerprinter)
    after = analyze(songs[4], lib_path, fingerprinter).to_json()
    cited = after["library"]["calibration"]
    assert cited["summary"].startswith("On this library (")
    assert set(cited["null"]) == {"composition", "production"}
    # Signed, it verifies (schema included) and its first page says it.
    from pypdf import PdfReader

    from lumina.reports.report import write_signed_reports
    from lumina.reports.verify import verify_report

    json_path, pdf_path = write_signed_reports(after, json_path=tmp_path / "r.json",
                                               pdf_path=tmp_path / "r.pdf")
    verify_report(json_path)
    verify_report(pdf_path)
    first_page = " ".join(PdfReader(str(pdf_path)).pages[0].extract_text().split())
    assert "Calibration: On this library (" in first_page


def test_cli_calibrate_prints_table_and_info_line(own_catalog, fingerprinter, capsys,
                                                 model_dir):
    from lumina.cli import main

    lib_path, _ = own_catalog
    assert main(["library", "info", str(lib_path)]) == 0
    assert "calibration none yet (lumina library calibrate" in capsys.readouterr().out
    assert main(["library", "calibrate", str(lib_path), "--sample", "2"]) == 0
    out = capsys.readouterr().out
    assert "held-out songs naming any song" in out and "fdr (default)" in out
    assert "top match of the same artist" in out
    assert "MP3 128 kbit/s" in out and "pitch +1 semitone" in out
    assert main(["library", "info", str(lib_path)]) == 0
    assert "calibration On this library (" in capsys.readouterr().out
    assert main(["library", "info", str(lib_path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["calibration"]["current"] is True and info["calibration"]["songs"] == 5


def test_index_suggests_calibrating_until_calibrated(catalog, tmp_path, capsys, model_dir):
    from lumina.cli import main

    _, songs = catalog
    lib = tmp_path / "new"
    assert main(["index", str(songs[0]), str(songs[1]), "--library", str(lib),
                 "--model", str(model_dir)]) == 0
    assert f"lumina library calibrate {lib}" in capsys.readouterr().out
    _calibrate(lib, None)  # the library's own model and rendering
    assert main(["index", str(songs[2]), "--library", str(lib)]) == 0
    # Adding a song made the calibration stale: suggested again.
    assert "lumina library calibrate" in capsys.readouterr().out
    _calibrate(lib, None)
    assert main(["index", str(songs[2]), "--library", str(lib)]) == 0  # nothing new
    assert "lumina library calibrate" not in capsys.readouterr().out
