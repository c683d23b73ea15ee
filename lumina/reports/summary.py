"""The signed audit summary: one CSV and one signed JSON (and PDF) over a whole audit run.

:mod:`lumina.audit` decides verdicts and runs the batch; this module only writes and checks
what it produced. It reads the run through the small Protocols below rather than importing
``lumina.audit``, so the reports package never depends on the audit (data flows one way).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lumina import __version__
from lumina.reports.formats import AUDIT_PREDICATE_TYPE, AUDIT_SCHEMA, PDF_SIGNATURE_PROFILE
from lumina.reports.signing import InvalidReport, sign_predicate, stamp_predicate

__all__ = [
    "AUDIT_PREDICATE_TYPE",
    "AUDIT_SCHEMA",
    "CSV_FIELDS",
    "check_summary",
    "csv_row",
    "summary_predicate",
    "write_summary",
]

CSV_FIELDS = ("file", "status", "verdict", "composition_song", "composition_share",
              "composition_confidence", "production_song", "production_share",
              "production_confidence", "warnings", "error", "reason", "audio_sha256",
              "report_json", "report_pdf")


class StrongestInfluence(Protocol):
    """A channel's strongest song as a row shows it (:class:`lumina.audit.ChannelVerdict`)."""

    title: str
    share: float
    confidence: float


class SummaryRow(Protocol):
    """One audited file (:class:`lumina.audit.AuditRow`)."""

    file: str
    status: str
    verdict: str
    reason: str
    audio_sha256: str
    channels: Mapping[str, StrongestInfluence]
    warnings: Sequence[str]
    error: str
    report_json: str
    report_pdf: str

    def to_json(self) -> dict[str, Any]: ...


class SummaryPolicy(Protocol):
    """The verdict policy, recorded as given (:class:`lumina.audit.AuditPolicy`)."""

    def to_json(self) -> dict[str, Any]: ...


class AuditRun(Protocol):
    """A finished (or cancelled) audit run (:class:`lumina.audit.AuditSummary`)."""

    @property
    def rows(self) -> Sequence[SummaryRow]: ...
    @property
    def out(self) -> Path: ...
    @property
    def policy(self) -> SummaryPolicy: ...
    @property
    def library(self) -> dict[str, Any]: ...
    @property
    def model(self) -> dict[str, Any]: ...
    @property
    def cancelled(self) -> bool: ...

    def counts(self) -> dict[str, int]: ...


def csv_row(row: SummaryRow) -> dict[str, str]:
    """One row of ``summary.csv`` (fields :data:`CSV_FIELDS`)."""
    out = {"file": row.file, "status": row.status, "verdict": row.verdict,
           "warnings": " | ".join(row.warnings), "error": row.error, "reason": row.reason,
           "audio_sha256": row.audio_sha256, "report_json": row.report_json,
           "report_pdf": row.report_pdf}
    for name in ("composition", "production"):
        ch = row.channels.get(name)
        out[f"{name}_song"] = ch.title if ch else ""
        out[f"{name}_share"] = f"{ch.share:.4f}" if ch else ""
        out[f"{name}_confidence"] = f"{ch.confidence:.6f}" if ch else ""
    return out


def summary_predicate(summary: AuditRun, key: Ed25519PrivateKey) -> dict[str, Any]:
    """The summary's predicate, created now and carrying the signer block of ``key``."""
    created = datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace(
        "+00:00", "Z")
    content = {
        "schema": AUDIT_SCHEMA,
        "software_version": __version__,
        "library": summary.library,
        "model": summary.model,
        "policy": summary.policy.to_json(),
        "counts": summary.counts(),
        "cancelled": summary.cancelled,
        "rows": [r.to_json() for r in summary.rows],
    }
    return stamp_predicate(content, key, created=created,
                           pdf_signature=PDF_SIGNATURE_PROFILE)  # summary.pdf is signed


def write_csv(summary: AuditRun) -> Path:
    """``summary.csv``, replaced whole so a reader never sees half a file."""
    csv_path = summary.out / "summary.csv"
    tmp = csv_path.with_suffix(".csv.part")
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for row in summary.rows:
            writer.writerow(csv_row(row))
    os.replace(tmp, csv_path)
    return csv_path


def write_summary(summary: AuditRun, *, write_pdf: bool = True,
                  key: Ed25519PrivateKey | None = None) -> list[Path]:
    """``summary.csv`` plus the signed ``summary.json`` and ``summary.pdf``."""
    from lumina.reports.report import write_json
    from lumina.reports.signing import load_or_create_key

    summary.out.mkdir(parents=True, exist_ok=True)
    csv_path = write_csv(summary)
    key = key or load_or_create_key()
    envelope = sign_predicate(summary_predicate(summary, key), key,
                              predicate_type=AUDIT_PREDICATE_TYPE,
                              subjects=[(r.file, r.audio_sha256) for r in summary.rows
                                        if r.audio_sha256])
    written = [csv_path, write_json(envelope, summary.out / "summary.json")]
    if write_pdf:
        # Imported here: reportlab is heavy and --no-pdf runs never need it.
        from lumina.reports.pdf import render_summary_pdf

        written.append(render_summary_pdf(envelope, summary.out / "summary.pdf", key))
    return written


def check_summary(statement: dict[str, Any], name: str) -> None:
    """Structural checks of a verified audit summary (raises InvalidReport)."""
    predicate = statement.get("predicate") or {}
    rows = predicate.get("rows")
    if predicate.get("schema") != AUDIT_SCHEMA or not isinstance(rows, list):
        raise InvalidReport(f"{name}: schema: not a {AUDIT_SCHEMA} summary")
    subjects = {(s.get("name"), (s.get("digest") or {}).get("sha256"))
                for s in statement.get("subject") or []}
    named = {(r.get("file"), r.get("audio_sha256")) for r in rows if r.get("audio_sha256")}
    if subjects != named:
        raise InvalidReport(f"{name}: digest: the statement's subjects and the summary's rows "
                            "disagree")
