"""``lumina audit``: verdicts, resumability, error and warning rows, the signed summary."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from lumina.audit import AuditPolicy, PolicyError, load_policy, run_audit, track_verdict
from lumina.cli import main


def _report(*channels) -> dict:
    """A minimal analysis JSON: per channel a list of (title, share, confidence, qualifies)."""
    return {"channels": {
        name: {"n_library": 32, "influences": [
            {"title": t, "artist": "A", "share": sh, "confidence": cf, "qualifies": q}
            for t, sh, cf, q in rows]}
        for name, rows in channels}}


def test_verdict_gate_is_sidak_corrected_for_the_library_size():
    policy = AuditPolicy(alpha=0.05)
    assert policy.verdict_gate(1) == pytest.approx(0.95)
    assert policy.verdict_gate(32) == pytest.approx(0.95 ** (1 / 32))
    assert 1 - policy.verdict_gate(10**6) == pytest.approx(5.13e-8, rel=1e-2)
    assert AuditPolicy(alpha=0.05, correction="none").verdict_gate(10**6) == pytest.approx(0.95)
    assert AuditPolicy().alpha == 0.01  # the measured default (bench/audit_calibration.py)


def test_verdicts_clear_review_flag():
    policy = AuditPolicy(alpha=0.05)  # N = 32: a song counts at confidence >= 0.99840
    chance = _report(("composition", [("Tune", 1.0, 0.97, True)]),
                     ("production", [("Other", 0.0, 0.60, False)]))
    verdict, reason, strongest = track_verdict(chance, policy)
    assert verdict == "clear" and "beyond chance" in reason
    assert strongest["composition"].title == "Tune" and not strongest["composition"].counts
    review = _report(("composition", [("A", 0.3, 0.9995, True), ("B", 0.7, 0.97, True)]))
    assert track_verdict(review, policy)[0] == "review"
    flag = _report(("composition", [("A", 0.3, 0.9995, True)]),
                   ("production", [("C", 0.8, 0.99999, True)]))
    verdict, reason, strongest = track_verdict(flag, policy)
    assert verdict == "flag" and reason.startswith("production: C holds 80%")
    assert track_verdict(flag, AuditPolicy(flag_share=0.9))[0] == "review"


def test_policy_file_overrides_and_bad_files_are_one_line(tmp_path):
    good = tmp_path / "label.toml"
    good.write_text('[policy]\nalpha = 0.01\nflag_share = 0.4\n')
    policy = load_policy(good)
    assert (policy.name, policy.alpha, policy.correction, policy.flag_share) == (
        "label", 0.01, "sidak", 0.4)
    for text, match in (('[policy]\nalpha = 2\n', "alpha"), ('[policy]\nshare = 1\n', "unknown"),
                        ('[policy\n', "not valid TOML"),
                        ('[policy]\ncorrection = "holm"\n', "correction")):
        bad = tmp_path / "bad.toml"
        bad.write_text(text)
        with pytest.raises(PolicyError, match=match):
            load_policy(bad)
    with pytest.raises(PolicyError, match="not found"):
        load_policy(tmp_path / "missing.toml")


@pytest.fixture(scope="module")
def shipped():
    """The embedded, trained model: verdicts need a null that is calibrated at all, which an
    untrained model with a 5-song library is not (measured: unrelated songs reach z 4)."""
    from lumina.fingerprint.fingerprinter import Fingerprinter
    from lumina.models import load_model

    return Fingerprinter(load_model("lumina-tiny"), device="cpu")


@pytest.fixture(scope="module")
def audit_library(tmp_path_factory, shipped):
    """12 demo-catalog songs (4 compositions x 3 timbres, 10 s) indexed with lumina-tiny."""
    from lumina.demo.catalog import build_catalog
    from lumina.indexing import index_files
    from lumina.library import Library
    from lumina.workspace import identity_of_fingerprinter

    root = tmp_path_factory.mktemp("audit-lib")
    catalog = build_catalog(4, 3, seconds=10.0)
    catalog.write(root / "songs")
    paths = [root / "songs" / song.filename for song in catalog.songs]
    with Library.create(root / "lib", identity_of_fingerprinter(shipped),
                        model_spec="lumina-tiny") as lib, lib.writer() as writer:
        assert index_files(writer, paths, shipped).indexed == 12
    return root / "lib", paths


@pytest.fixture(scope="module")
def submissions(tmp_path_factory, audit_library):
    """A library song's copy, an unrelated song (a composition and a timbre that are in
    neither the library nor the model's training data), a corrupt file and a silent file."""
    from lumina.demo.catalog import build_catalog

    _, paths = audit_library
    folder = tmp_path_factory.mktemp("submissions")
    shutil.copy(paths[4], folder / "copy.wav")
    wider = build_catalog(10, 6, seconds=10.0)
    unrelated = wider.song("c9-t5")
    sf.write(folder / "unrelated.wav", wider.render(unrelated), wider.rate)
    (folder / "corrupt.mp3").write_bytes(b"ID3\x03\x00" + bytes(range(256)) * 8)
    sf.write(folder / "silent.wav", np.zeros(32000 * 6, dtype=np.float32), 32000)
    return folder


def test_audit_folder_rows_resume_and_signed_summary(audit_library, submissions, shipped,
                                                     tmp_path, capsys):
    lib_path, paths = audit_library
    out = tmp_path / "audit"
    seen = []
    summary = run_audit([submissions], lib_path, out, fingerprinter=shipped,
                        on_row=seen.append)
    rows = {r.file: r for r in summary.rows}
    assert len(seen) == 4 and set(rows) == {"copy.wav", "unrelated.wav", "corrupt.mp3",
                                            "silent.wav"}
    copy_title = rows["copy.wav"].channels["production"].title
    assert rows["copy.wav"].verdict == "flag", rows["copy.wav"].reason
    assert copy_title == json.loads((paths[4].parent / "catalog.json").read_text())[
        "songs"][4]["title"]
    assert rows["unrelated.wav"].verdict == "clear", rows["unrelated.wav"].reason
    assert rows["corrupt.mp3"].status == "error" and "corrupt.mp3" in rows["corrupt.mp3"].error
    assert rows["silent.wav"].status == "done" and any(
        "silent" in w for w in rows["silent.wav"].warnings)
    counts = summary.counts()
    assert (counts["flag"], counts["error"], counts["warning"]) == (1, 1, 1)

    # Every finished track has a signed report carrying the verdict and the policy.
    report = json.loads(Path(rows["copy.wav"].report_json).read_text())
    assert report["signatures"]
    from lumina.reports.verify import verify_report

    predicate = verify_report(Path(rows["copy.wav"].report_json)).verified.predicate
    assert predicate["audit"]["verdict"] == "flag"
    # Honest labels: the model says it is a demonstration, a channel what it was measured
    # to capture (or that it was not measured).
    assert "demonstration model" in predicate["model"]["scope"]
    for note in predicate["model"].get("channel_notes", {}).values():
        assert "%" in note or "not been measured" in note
    assert main(["verify", rows["copy.wav"].report_pdf]) == 0
    with open(out / "summary.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert [r["file"] for r in table] == [r.file for r in summary.rows]
    assert {r["verdict"] for r in table if r["file"] == "copy.wav"} == {"flag"}
    capsys.readouterr()
    assert main(["verify", str(out / "summary.pdf")]) == 0
    assert main(["verify", str(out / "summary.json")]) == 0
    assert "audit summary of 4 track(s): 1 flag" in capsys.readouterr().out

    # A second run redoes nothing that finished (the corrupt file is retried and fails again).
    again = run_audit([submissions], lib_path, out, fingerprinter=shipped)
    status = {r.file: r.status for r in again.rows}
    assert status == {"copy.wav": "skipped", "unrelated.wav": "skipped",
                      "silent.wav": "skipped", "corrupt.mp3": "error"}
    assert {r.file: r.verdict for r in again.rows} == {r.file: r.verdict for r in summary.rows}

    # A tampered summary does not verify.
    envelope = json.loads((out / "summary.json").read_text())
    envelope["payload"] = envelope["payload"][:-12] + "AAAAAAAAAAA="
    (tmp_path / "tampered.json").write_text(json.dumps(envelope))
    assert main(["verify", str(tmp_path / "tampered.json")]) in (1, 2)

    # Another policy is another run: the track is attributed again under it.
    strict = run_audit([submissions / "copy.wav"], lib_path, out, fingerprinter=shipped,
                       policy=AuditPolicy(name="strict", flag_share=1.0))
    assert strict.rows[0].status == "done" and strict.rows[0].verdict in ("review", "flag")


def test_audit_cli_table_and_exit_code(audit_library, submissions, tmp_path, capsys):
    lib_path, _ = audit_library
    code = main(["audit", str(submissions), "--library", str(lib_path), "--out",
                 str(tmp_path / "cli"), "--no-pdf"])
    out, err = capsys.readouterr()
    assert code == 1  # the corrupt file is an error row
    assert "copy.wav" in out and "flag" in out and "ERROR" in out
    assert "error: corrupt.mp3:" in err and "Traceback" not in err
    assert (tmp_path / "cli" / "summary.json").exists()
    assert not (tmp_path / "cli" / "summary.pdf").exists()
    bad = tmp_path / "bad.toml"
    bad.write_text("[policy]\nalpha = 7\n")
    assert main(["audit", str(submissions), "--library", str(lib_path), "--out",
                 str(tmp_path / "x"), "--policy", str(bad)]) != 0
    assert "alpha" in capsys.readouterr().err
