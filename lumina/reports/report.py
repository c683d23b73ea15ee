"""Signed attribution reports: the report content, its JSON envelope, and verification.

A report is the JSON of an :class:`~lumina.analysis.AnalysisResult` plus who signed it and
when (by the signer's own clock — a report is not a trusted timestamp). It becomes the
predicate of an in-toto Statement about the audio file and is signed in a DSSE envelope
(:mod:`lumina.reports.signing`). The PDF (:mod:`lumina.reports.pdf`) carries the same envelope as an
attachment, so the PDF alone verifies.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lumina.errors import LuminaError
from lumina.reports.signing import (
    InvalidReport,
    UnreadableReport,
    Verified,
    key_fingerprint,
    load_public_key,
    parse_envelope,
    public_key_pem,
    sign_statement,
    statement,
    verify_envelope,
)

PREDICATE_TYPE = "https://lumina-attribution.org/attribution-report/v1"
PUBLIC_KEY_FIELD = "signer.public_key"
ATTACHMENT_NAME = "lumina-report.json"
CLOCK_NOTE = "the signer's own clock; not a trusted timestamp"


def schema() -> dict[str, Any]:
    """The JSON Schema of a report (the predicate), shipped in ``resources/``."""
    from lumina_resources import ROOT

    return json.loads((ROOT / "report.schema.json").read_text(encoding="utf-8"))


def report_predicate(result_json: dict[str, Any], key) -> dict[str, Any]:
    """The report: an analysis result's JSON, the signer's key and the labelled time."""
    predicate = {k: v for k, v in result_json.items() if k != "signature"}
    predicate["created"] = {"time": result_json.get("created"), "clock": CLOCK_NOTE}
    public = key.public_key()
    predicate["signer"] = {
        "public_key": public_key_pem(public),
        "fingerprint": key_fingerprint(public),
    }
    return predicate


def sign_report(result_json: dict[str, Any], key) -> dict[str, Any]:
    """Sign an analysis result; returns the DSSE envelope (a JSON-ready dict)."""
    predicate = report_predicate(result_json, key)
    track = predicate["track"]
    stmt = statement(track["source"], track["audio_sha256"], PREDICATE_TYPE, predicate)
    return sign_statement(stmt, key)


def write_json(envelope: dict[str, Any], path: Path) -> Path:
    path = Path(path)
    path.write_text(json.dumps(envelope, indent=2) + "\n", encoding="utf-8")
    return path


def read_envelope(path: Path) -> dict[str, Any]:
    """The envelope of a ``.json`` report or the one attached to a ``.pdf`` report."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UnreadableReport(f"report not found: {path}") from None
    except OSError as exc:
        raise UnreadableReport(f"{path.name}: cannot read ({exc.strerror})") from None
    if data.startswith(b"%PDF"):
        from lumina.reports.pdf import attached_envelope

        data = attached_envelope(data, path.name)
    return parse_envelope(data, path.name)


@dataclass(frozen=True)
class ReportCheck:
    """What :func:`verify_report` established."""

    verified: Verified
    signer: str
    audio_sha256: str
    audio_matches: bool | None  # None when no audio file was given


def verify_report(path: Path, *, trusted_key: Path | None = None,
                  audio: Path | None = None) -> ReportCheck:
    """Verify a report file (JSON or PDF).

    Raises :class:`InvalidReport` (exit 1: signature, key or digest) or
    :class:`UnreadableReport` (exit 2), each with a one-line message.
    """
    path = Path(path)
    envelope = read_envelope(path)
    trusted = load_public_key(trusted_key) if trusted_key else None
    verified = verify_envelope(envelope, PUBLIC_KEY_FIELD, trusted=trusted, name=path.name)
    stmt = verified.statement
    from lumina.audit import AUDIT_PREDICATE_TYPE, check_summary

    if stmt.get("predicateType") == AUDIT_PREDICATE_TYPE:
        check_summary(stmt, path.name)
        if audio is not None:
            raise InvalidReport(f"{path.name}: an audit summary covers many tracks; check "
                                "--audio against the track's own report")
        return ReportCheck(verified=verified, signer=verified.keyid, audio_sha256="",
                           audio_matches=None)
    if stmt.get("predicateType") != PREDICATE_TYPE:
        raise InvalidReport(f"{path.name}: not a LUMINA attribution report "
                            f"(predicate type {stmt.get('predicateType')!r})")
    predicate = verified.predicate
    try:
        subject_sha = stmt["subject"][0]["digest"]["sha256"]
        track_sha = predicate["track"]["audio_sha256"]
    except (KeyError, IndexError, TypeError):
        raise InvalidReport(f"{path.name}: digest: the report names no audio digest") from None
    if subject_sha != track_sha:
        raise InvalidReport(f"{path.name}: digest: statement subject and report disagree "
                            "on the audio's SHA-256")
    _validate_schema(predicate, path.name)
    matches = None
    if audio is not None:
        from lumina.audio import file_sha256

        try:
            matches = file_sha256(audio) == subject_sha
        except LuminaError:
            raise
        if not matches:
            raise InvalidReport(f"{path.name}: digest: {Path(audio).name} is not the audio "
                                "this report is about")
    return ReportCheck(verified=verified, signer=verified.keyid, audio_sha256=subject_sha,
                       audio_matches=matches)


def _validate_schema(predicate: dict[str, Any], name: str) -> None:
    try:
        import jsonschema
    except ImportError:  # validation is a bonus for a verifier; the signature is the proof
        return
    errors = sorted(jsonschema.Draft202012Validator(schema()).iter_errors(predicate),
                    key=lambda e: list(e.path))
    if errors:
        where = "/".join(str(p) for p in errors[0].path) or "(top)"
        raise InvalidReport(f"{name}: schema: {where}: {errors[0].message}")


def write_signed_reports(result_json: dict[str, Any], *, json_path: Path | None = None,
                         pdf_path: Path | None = None, key=None) -> list[Path]:
    """Sign an analysis result once and write it as JSON and/or PDF (folders are created)."""
    from lumina.reports.pdf import render_pdf
    from lumina.reports.signing import load_or_create_key

    envelope = sign_report(result_json, key or load_or_create_key())
    for path in (json_path, pdf_path):
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    written = []
    if json_path is not None:
        written.append(write_json(envelope, Path(json_path)))
    if pdf_path is not None:
        written.append(render_pdf(envelope, Path(pdf_path)))
    return written
