"""Verification of a signed LUMINA file: an attribution report or an audit summary, as JSON
or as the envelope attached to its PDF.

The signature check is shared (:func:`lumina.reports.signing.verify_envelope`); what follows
depends on the predicate type: an attribution report must name one audio digest consistently
and match its JSON Schema, an audit summary's subjects must match its rows
(:func:`lumina.reports.summary.check_summary`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lumina.reports.formats import AUDIT_PREDICATE_TYPE, PREDICATE_TYPE, PUBLIC_KEY_FIELD
from lumina.reports.report import schema
from lumina.reports.signing import (
    InvalidReport,
    UnreadableReport,
    Verified,
    load_public_key,
    parse_envelope,
    verify_envelope,
)
from lumina.reports.summary import check_summary


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
        # Imported here: reportlab and pypdf are heavy and a JSON report never needs them.
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
    """Verify a report file (JSON or PDF): an attribution report or an audit summary.

    Raises :class:`InvalidReport` (exit 1: signature, key or digest) or
    :class:`UnreadableReport` (exit 2), each with a one-line message.
    """
    path = Path(path)
    envelope = read_envelope(path)
    trusted = load_public_key(trusted_key) if trusted_key else None
    verified = verify_envelope(envelope, PUBLIC_KEY_FIELD, trusted=trusted, name=path.name)
    predicate_type = verified.statement.get("predicateType")
    if predicate_type == AUDIT_PREDICATE_TYPE:
        return _check_audit_summary(verified, path.name, audio)
    if predicate_type != PREDICATE_TYPE:
        raise InvalidReport(f"{path.name}: not a LUMINA attribution report "
                            f"(predicate type {predicate_type!r})")
    return _check_attribution_report(verified, path.name, audio)


def _check_audit_summary(verified: Verified, name: str, audio: Path | None) -> ReportCheck:
    check_summary(verified.statement, name)
    if audio is not None:
        raise InvalidReport(f"{name}: an audit summary covers many tracks; check "
                            "--audio against the track's own report")
    return ReportCheck(verified=verified, signer=verified.keyid, audio_sha256="",
                       audio_matches=None)


def _check_attribution_report(verified: Verified, name: str,
                              audio: Path | None) -> ReportCheck:
    predicate = verified.predicate
    try:
        subject_sha = verified.statement["subject"][0]["digest"]["sha256"]
        track_sha = predicate["track"]["audio_sha256"]
    except (KeyError, IndexError, TypeError):
        raise InvalidReport(f"{name}: digest: the report names no audio digest") from None
    if subject_sha != track_sha:
        raise InvalidReport(f"{name}: digest: statement subject and report disagree "
                            "on the audio's SHA-256")
    validate_schema(predicate, name)
    matches = None
    if audio is not None:
        from lumina.audio import file_sha256

        matches = file_sha256(audio) == subject_sha  # a LuminaError here means exit 2
        if not matches:
            raise InvalidReport(f"{name}: digest: {Path(audio).name} is not the audio "
                                "this report is about")
    return ReportCheck(verified=verified, signer=verified.keyid, audio_sha256=subject_sha,
                       audio_matches=matches)


def validate_schema(predicate: dict[str, Any], name: str) -> None:
    """Check an attribution report's predicate against its JSON Schema (InvalidReport)."""
    try:
        import jsonschema
    except ImportError:  # validation is a bonus for a verifier; the signature is the proof
        return
    errors = sorted(jsonschema.Draft202012Validator(schema()).iter_errors(predicate),
                    key=lambda e: list(e.path))
    if errors:
        where = "/".join(str(p) for p in errors[0].path) or "(top)"
        raise InvalidReport(f"{name}: schema: {where}: {errors[0].message}")
