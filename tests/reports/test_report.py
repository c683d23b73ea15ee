"""Signed reports: JSON and PDF round trips, tampering, keys, schema."""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path

import jsonschema
import pytest

from lumina.reports.formats import ATTACHMENT_NAME
from lumina.reports.pdf import render_pdf
from lumina.reports.report import schema, sign_report, write_json
from lumina.reports.signing import (
    InvalidReport,
    UnreadableReport,
    load_or_create_key,
    public_key_pem,
)
from lumina.reports.verify import read_envelope, verify_report


def _phi(z: float) -> float:
    return 0.5 * (1 + math.erf(z / math.sqrt(2)))


def _channel(zs: list[float]) -> dict:
    influences, gate = [], 1.6448536269514722
    for rank, z in enumerate(zs, start=1):
        influences.append({
            "rank": rank, "song_id": rank, "title": f"Song {rank}", "artist": "Act",
            "isrc": f"ZZLUM26{rank:05d}", "cosine": z / 20, "raw_cosine": z / 20, "z": z,
            "confidence": _phi(z), "weight": max(z, 0) / 10, "share": 0.0,
            "qualifies": z >= gate})
    qualifying = [i for i in influences if i["qualifies"]]
    total = sum(i["weight"] for i in qualifying)
    for i in qualifying:
        i["share"] = i["weight"] / total
    return {"null": "empirical", "gate": 0.95, "z_gate": gate, "n_library": 12,
            "n_qualifying": len(qualifying), "influences": influences}


def analysis_json(audio_sha: str = "ab" * 32) -> dict:
    chunks = [{"start": 0.0, "end": 10.0, "loss": 3.0}, {"start": 10.0, "end": 15.0, "loss": 3.2}]
    timeline = [{"chunk": i, "start": c["start"], "end": c["end"], "song_id": 1,
                 "title": "Song 1", "artist": "Act", "z": 2.5, "confidence": _phi(2.5),
                 "qualifies": True} for i, c in enumerate(chunks)]
    return {
        "schema": "lumina.analysis/1", "software_version": "0.1.0",
        "created": "2026-11-24T09:00:00Z",
        "track": {"source": "query.wav", "audio_sha256": audio_sha, "duration": 15.0,
                  "chunks": chunks, "warnings": []},
        "model": {"name": "lumina-tiny", "weights_sha256": "cd" * 32},
        "parameters": {"dim": 512, "projection_seed": 0, "projection_blocks": 32,
                       "output_function": "tempered/1",
                       "chunk_seconds": 10.0, "null": "empirical", "gate": 0.95,
                       "lambda": 0.01},
        "library": {"name": "demo", "library_id": "x", "digest": "ef" * 32, "songs": 12,
                    "rows_version": 1},
        "channels": {"composition": _channel([4.0, 2.0, 1.0, -0.5]),
                     "production": _channel([1.0, 0.2, -1.0])},
        "timeline": {"composition": timeline, "production": timeline},
        "signature": None,
    }


@pytest.fixture()
def key(tmp_path):
    return load_or_create_key(tmp_path / "keys")


@pytest.fixture()
def reports(tmp_path, key):
    envelope = sign_report(analysis_json(), key)
    return (write_json(envelope, tmp_path / "r.json"),
            render_pdf(envelope, tmp_path / "r.pdf", key), envelope)


def _pubkey_file(key, folder: Path) -> Path:
    path = folder / "signer.pub"
    path.write_text(public_key_pem(key.public_key()))
    return path


def test_json_and_pdf_round_trip(reports, key, tmp_path):
    json_path, pdf_path, envelope = reports
    trusted = _pubkey_file(key, tmp_path)
    for path in (json_path, pdf_path):
        check = verify_report(path, trusted_key=trusted)
        assert check.audio_sha256 == "ab" * 32
        assert check.verified.predicate["channels"]["composition"]["n_qualifying"] == 2
    assert read_envelope(pdf_path) == envelope  # the attachment is the same envelope
    assert pdf_path.read_bytes().startswith(b"%PDF")


def test_schema_validates_the_report(reports):
    _, _, envelope = reports
    predicate = json.loads(base64.b64decode(envelope["payload"]))["predicate"]
    jsonschema.Draft202012Validator(schema()).validate(predicate)
    assert predicate["created"]["clock"].startswith("the signer's own clock")


def test_any_changed_byte_of_the_payload_fails(reports, tmp_path):
    _, _, envelope = reports
    payload = base64.b64decode(envelope["payload"])
    step = max(1, len(payload) // 40)
    for i in range(0, len(payload), step):
        changed = bytearray(payload)
        changed[i] = (changed[i] + 1) % 256
        bad = dict(envelope, payload=base64.b64encode(bytes(changed)).decode())
        path = write_json(bad, tmp_path / "bad.json")
        with pytest.raises((InvalidReport, UnreadableReport)):
            verify_report(path)


def test_edited_json_file_fails(reports, tmp_path):
    json_path, _, _ = reports
    data = json.loads(json_path.read_text())
    sig = bytearray(base64.b64decode(data["signatures"][0]["sig"]))
    sig[0] ^= 1
    data["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
    json_path.write_text(json.dumps(data))
    with pytest.raises(InvalidReport, match="signature"):
        verify_report(json_path)


def test_other_signer_fails_against_trusted_key(tmp_path, key):
    other = load_or_create_key(tmp_path / "other")
    path = write_json(sign_report(analysis_json(), other), tmp_path / "o.json")
    verify_report(path)  # intact …
    with pytest.raises(InvalidReport, match="key"):
        verify_report(path, trusted_key=_pubkey_file(key, tmp_path))  # … but not ours


def test_audio_binding(tmp_path, key):
    import hashlib

    audio = tmp_path / "a.wav"
    audio.write_bytes(b"RIFF fake audio bytes")
    sha = hashlib.sha256(audio.read_bytes()).hexdigest()
    path = write_json(sign_report(analysis_json(sha), key), tmp_path / "r.json")
    assert verify_report(path, audio=audio).audio_matches is True
    other = tmp_path / "b.wav"
    other.write_bytes(b"other")
    with pytest.raises(InvalidReport, match="digest"):
        verify_report(path, audio=other)


def test_unreadable_files(tmp_path, reports):
    _, pdf_path, _ = reports
    junk = tmp_path / "junk.json"
    junk.write_bytes(b"\x00\xff not a report")
    with pytest.raises(UnreadableReport):
        verify_report(junk)
    truncated = tmp_path / "t.pdf"
    truncated.write_bytes(pdf_path.read_bytes()[:400])
    with pytest.raises(UnreadableReport):
        verify_report(truncated)
    with pytest.raises(UnreadableReport):
        verify_report(tmp_path / "missing.json")


def test_pdf_holds_the_named_attachment(reports):
    from pypdf import PdfReader

    _, pdf_path, _ = reports
    reader = PdfReader(pdf_path)
    assert ATTACHMENT_NAME in reader.attachments
    text = "".join(page.extract_text() for page in reader.pages)
    assert "LUMINA attribution report" in text and "Song 1" in text
    assert "lumina verify" in text
    # the method section says what the fingerprints are the gradient of (issue 19)
    assert "softened to temperature 20 (tempered/1)" in " ".join(text.split())


def test_timeline_labels_fit_their_chunk_and_keep_the_version():
    from reportlab.pdfbase.pdfmetrics import stringWidth

    from lumina.reports.pdf import fit_label

    title, conf = "Quiet Engines (Organ)", "> 99.9 %"
    assert fit_label(title, conf, 500) == f"{title} {conf}"
    short = fit_label(title, conf, 60)
    assert short.startswith("Qu") and short.endswith("…(Organ) > 99.9 %")
    assert stringWidth(short, "Helvetica", 5.5) <= 60
    assert fit_label(title, conf, 31) == conf and fit_label(title, conf, 5) == ""
