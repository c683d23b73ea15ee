"""Signed reports: DSSE envelopes over in-toto statements, the attribution report, the
audit summary, verification and the PDF.

Imports flow one way — ``formats`` ← ``signing`` ← ``findings`` / ``pdf_signature`` ←
``pdf`` ← ``report`` / ``summary`` ← ``verify`` (the writers call the renderer, lazily; the
renderer imports no writer) — and nothing here imports :mod:`lumina.audit`. This package
file imports nothing, so ``lumina.reports.signing`` stays light (the app loads it on the UI
thread: no reportlab, no pyHanko).

- :mod:`lumina.reports.formats` — predicate types, the audit schema name, the PDF
  attachment name, the clock note: the strings a signed file carries.
- :mod:`lumina.reports.signing` — keys, the DSSE envelope, the in-toto statement, and the
  signer block + creation time every signed predicate gets (:func:`stamp_predicate`,
  :func:`sign_predicate`).
- :mod:`lumina.reports.report` — the attribution report: predicate, sign, write JSON/PDF.
- :mod:`lumina.reports.summary` — the audit summary: CSV, signed JSON/PDF, its checks.
- :mod:`lumina.reports.verify` — read an envelope (JSON or PDF) and verify a report or a
  summary.
- :mod:`lumina.reports.pdf` — the PDFs that carry the signed JSON as an attachment.
- :mod:`lumina.reports.pdf_signature` — the PAdES signature over a whole PDF by the DSSE
  key (pyHanko): sign it, and read and check it when verifying.
- :mod:`lumina.reports.findings` — a report's signed findings in words (gate, named songs,
  shares), drawn by the PDF and printed by ``lumina verify``.
"""
