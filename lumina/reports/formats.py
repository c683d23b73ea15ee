"""The names and types a signed LUMINA file carries, shared by the modules that write,
render and verify it (kept apart so that none of them has to import another for a string).
"""

from __future__ import annotations

#: ``predicateType`` of an attribution report (:mod:`lumina.reports.report`).
PREDICATE_TYPE = "https://lumina-attribution.org/attribution-report/v1"
#: ``predicateType`` of an audit summary (:mod:`lumina.reports.summary`).
AUDIT_PREDICATE_TYPE = "https://lumina-attribution.org/audit-summary/v1"
#: ``schema`` field inside an audit summary's predicate.
AUDIT_SCHEMA = "lumina.audit/1"
#: Where in a predicate the signer's public key (PEM) travels, so the file alone verifies.
PUBLIC_KEY_FIELD = "signer.public_key"
#: Name of the signed JSON attached to a PDF report or summary.
ATTACHMENT_NAME = "lumina-report.json"
#: How every creation time is qualified: a report is not a trusted timestamp.
CLOCK_NOTE = "the signer's own clock; not a trusted timestamp"
#: What a report's ``signer.pdf_signature`` promises: its PDF carries one PAdES baseline B
#: signature over the whole file by the report's own key. Recorded in the signed JSON so
#: that a PDF whose signature was stripped (pages rewritten) cannot pass as an older report.
PDF_SIGNATURE_PROFILE = "PAdES-B-B"
#: Name of the signature field in a LUMINA PDF.
PDF_SIGNATURE_FIELD = "LUMINA"
