"""Verification of a signed LUMINA file: an attribution report or an audit summary, as JSON
or as the envelope attached to its PDF.

A PDF is checked first as a PDF: its own signature (:mod:`lumina.reports.pdf_signature`)
must cover the whole file, be intact and valid, and be made by the key that signed the
attached JSON. A PDF without one is a report from an older LUMINA and verifies as before,
unless its signed JSON promises a signed PDF (then the signature was stripped: invalid).

The JSON signature check is shared (:func:`lumina.reports.signing.verify_envelope`); what
follows depends on the predicate type: an attribution report must name one audio digest
consistently and match its JSON Schema, an audit summary's subjects must match its rows
(:func:`lumina.reports.summary.check_summary`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lumina.reports.formats import (
    AUDIT_PREDICATE_TYPE,
    PDF_SIGNATURE_PROFILE,
    PREDICATE_TYPE,
    PUBLIC_KEY_FIELD,
)
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

if TYPE_CHECKING:  # pyHanko loads only for PDFs
    from lumina.reports.pdf_signature import PdfSignature

#: :attr:`ReportCheck.pages` of a PDF signed as a whole, of an older PDF, of a JSON file.
PAGES_SIGNED = "signed"
PAGES_NOT_SIGNED = "not signed"
NO_PAGES = ""


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise UnreadableReport(f"report not found: {path}") from None
    except OSError as exc:
        raise UnreadableReport(f"{path.name}: cannot read ({exc.strerror})") from None


def _envelope_of(data: bytes, name: str) -> dict[str, Any]:
    if data.startswith(b"%PDF"):
        # Imported here: reportlab and pypdf are heavy and a JSON report never needs them.
        from lumina.reports.pdf import attached_envelope

        data = attached_envelope(data, name)
    return parse_envelope(data, name)


def read_envelope(path: Path) -> dict[str, Any]:
    """The envelope of a ``.json`` report or the one attached to a ``.pdf`` report."""
    path = Path(path)
    return _envelope_of(_read(path), path.name)


@dataclass(frozen=True)
class ReportCheck:
    """What :func:`verify_report` established."""

    verified: Verified
    signer: str
    audio_sha256: str
    audio_matches: bool | None  # None when no audio file was given
    pages: str = NO_PAGES  # PAGES_SIGNED, PAGES_NOT_SIGNED, or NO_PAGES for a JSON file

    @property
    def guarantees(self) -> str:
        """What the signatures of this file cover, in words a reader can act on."""
        if self.pages == PAGES_SIGNED:
            return ("pages and attached JSON signed by the same key (PDF signature over the "
                    "whole file, PAdES baseline B; DSSE envelope)")
        if self.pages == PAGES_NOT_SIGNED:
            return ("attached JSON signed; pages not signed (report from an older LUMINA): "
                    "trust the signed findings below, not the pages")
        return "JSON report signed (DSSE envelope)"


def verify_report(path: Path, *, trusted_key: Path | None = None,
                  audio: Path | None = None) -> ReportCheck:
    """Verify a report file (JSON or PDF): an attribution report or an audit summary.

    Raises :class:`InvalidReport` (exit 1: pages, signature, key or digest) or
    :class:`UnreadableReport` (exit 2), each with a one-line message.
    """
    path = Path(path)
    data = _read(path)
    envelope = _envelope_of(data, path.name)
    pdf_signature = None
    if data.startswith(b"%PDF"):
        from lumina.reports.pdf_signature import read_pdf_signature

        # First the pages: an edited page fails here, naming the pages, before anything else.
        pdf_signature = read_pdf_signature(data, path.name)
    trusted = load_public_key(trusted_key) if trusted_key else None
    verified = verify_envelope(envelope, PUBLIC_KEY_FIELD, trusted=trusted, name=path.name)
    pages = NO_PAGES
    if data.startswith(b"%PDF"):
        pages = _check_pages(verified, pdf_signature, path.name)
    predicate_type = verified.statement.get("predicateType")
    if predicate_type == AUDIT_PREDICATE_TYPE:
        return _check_audit_summary(verified, path.name, audio, pages)
    if predicate_type != PREDICATE_TYPE:
        raise InvalidReport(f"{path.name}: not a LUMINA attribution report "
                            f"(predicate type {predicate_type!r})")
    return _check_attribution_report(verified, path.name, audio, pages)


def _check_pages(verified: Verified, pdf_signature: PdfSignature | None, name: str) -> str:
    """Bind the PDF's signature to the verified JSON: the same key, and present whenever
    the JSON promises it."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from lumina.reports.signing import key_fingerprint

    promised = (verified.predicate.get("signer") or {}).get("pdf_signature")
    if pdf_signature is None:
        if promised == PDF_SIGNATURE_PROFILE:
            raise InvalidReport(f"{name}: pages: this report's PDF was signed, but the "
                                "signature is gone (the file was rewritten after signing)")
        return PAGES_NOT_SIGNED
    pdf_key = key_fingerprint(Ed25519PublicKey.from_public_bytes(pdf_signature.public_key))
    if pdf_key != verified.keyid:  # keyid is the attached JSON's key (verify_envelope)
        raise InvalidReport(f"{name}: pages: the PDF is signed by {pdf_key}, not by the key "
                            f"of its attached report {verified.keyid}")
    return PAGES_SIGNED


def _check_audit_summary(verified: Verified, name: str, audio: Path | None,
                         pages: str) -> ReportCheck:
    check_summary(verified.statement, name)
    if audio is not None:
        raise InvalidReport(f"{name}: an audit summary covers many tracks; check "
                            "--audio against the track's own report")
    return ReportCheck(verified=verified, signer=verified.keyid, audio_sha256="",
                       audio_matches=None, pages=pages)


def _check_attribution_report(verified: Verified, name: str,
                              audio: Path | None, pages: str) -> ReportCheck:
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
                       audio_matches=matches, pages=pages)


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
