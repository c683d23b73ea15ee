"""Signed reports: DSSE envelopes over in-toto statements, the attribution report, the
audit summary, verification and the PDF.

- :mod:`lumina.reports.signing` — keys, the DSSE envelope, the in-toto statement.
- :mod:`lumina.reports.report` — the attribution report: sign, write, verify.
- :mod:`lumina.reports.pdf` — the PDF that carries the signed JSON as an attachment.
"""
