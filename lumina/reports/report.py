"""Signed attribution reports: the report content and its JSON envelope.

A report is the JSON of an :class:`~lumina.analysis.AnalysisResult` plus who signed it and
when (by the signer's own clock — a report is not a trusted timestamp). It becomes the
predicate of an in-toto Statement about the audio file and is signed in a DSSE envelope
(:mod:`lumina.reports.signing`). The PDF (:mod:`lumina.reports.pdf`) carries the same envelope as an
attachment, so the PDF alone verifies, and is itself signed as a whole by the same key
(:mod:`lumina.reports.pdf_signature`), so its pages are signed too; :mod:`lumina.reports.verify`
checks either.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lumina.reports.formats import PDF_SIGNATURE_PROFILE, PREDICATE_TYPE
from lumina.reports.signing import labelled_time, sign_predicate, stamp_predicate


def schema() -> dict[str, Any]:
    """The JSON Schema of a report (the predicate), shipped in ``resources/``."""
    from lumina_resources import ROOT

    return json.loads((ROOT / "report.schema.json").read_text(encoding="utf-8"))


def report_predicate(result_json: dict[str, Any], key: Ed25519PrivateKey, *,
                     sign_pages: bool = True) -> dict[str, Any]:
    """The report: an analysis result's JSON, the signer's key and the labelled time, and
    (``sign_pages``) the promise that its PDF is signed by the same key."""
    return stamp_predicate(result_json, key, created=labelled_time(result_json.get("created")),
                           pdf_signature=PDF_SIGNATURE_PROFILE if sign_pages else None)


def sign_report(result_json: dict[str, Any], key: Ed25519PrivateKey, *,
                sign_pages: bool = True) -> dict[str, Any]:
    """Sign an analysis result; returns the DSSE envelope (a JSON-ready dict).
    ``sign_pages=False`` makes a report as LUMINA made them before PDFs were signed."""
    predicate = report_predicate(result_json, key, sign_pages=sign_pages)
    track = predicate["track"]
    return sign_predicate(predicate, key, predicate_type=PREDICATE_TYPE,
                          subjects=[(track["source"], track["audio_sha256"])])


def write_json(envelope: dict[str, Any], path: Path) -> Path:
    """Write a signed envelope as indented JSON (the signature covers the payload, not the
    file's layout, so indentation is free)."""
    path = Path(path)
    text = json.dumps(envelope, indent=2) + "\n"
    return _atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _atomic(path: Path, write: Callable[[Path], object]) -> Path:
    """Write ``path`` through a temporary file in its folder, made durable, then renamed:
    a full disk or a crash leaves the old file or none, never half a report."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return path


def write_signed_reports(result_json: dict[str, Any], *, json_path: Path | None = None,
                         pdf_path: Path | None = None,
                         key: Ed25519PrivateKey | None = None,
                         sign_pages: bool = True) -> list[Path]:
    """Sign an analysis result once and write it as JSON and/or PDF (folders are created).

    ``sign_pages=False`` skips the PDF signature and its promise in the JSON: the report an
    older LUMINA wrote (its pages are not signed), kept for tests and comparisons.
    """
    from lumina.reports.signing import load_or_create_key

    key = key or load_or_create_key()
    envelope = sign_report(result_json, key, sign_pages=sign_pages)
    for path in (json_path, pdf_path):
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    written = []
    if json_path is not None:
        written.append(write_json(envelope, Path(json_path)))
    if pdf_path is not None:
        # Imported here: reportlab is heavy and a JSON-only run never needs it.
        from lumina.reports.pdf import render_pdf

        pdf_key = key if sign_pages else None
        written.append(_atomic(Path(pdf_path), lambda tmp: render_pdf(envelope, tmp, pdf_key)))
    return written
