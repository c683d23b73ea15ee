"""The PDF's own signature (issue 26): the pages a person reads are signed, any change to the
file after signing makes ``lumina verify`` exit 1, and older PDFs still verify as before.

The reports are written by the real writer from the golden report payload (a real analysis
whose composition channel names one song at 100.0 %), and attacked with pypdf, as someone
editing a PDF would.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter
from pypdf.generic import NameObject

from lumina.cli import main
from lumina.reports.formats import PDF_SIGNATURE_FIELD, PDF_SIGNATURE_PROFILE
from lumina.reports.report import sign_report, write_signed_reports
from lumina.reports.signing import key_fingerprint, load_or_create_key, public_key_pem
from lumina.reports.verify import PAGES_NOT_SIGNED, PAGES_SIGNED, read_envelope, verify_report

GOLDEN = Path(__file__).parents[1] / "golden" / "report-payload.json"
SHOWN = b"(100.0 %)"  # how the ranked table draws the named song's share


@pytest.fixture()
def key(tmp_path):
    return load_or_create_key(tmp_path / "keys")


@pytest.fixture()
def result() -> dict:
    return json.loads(GOLDEN.read_text(encoding="utf-8"))


@pytest.fixture()
def signed_pdf(tmp_path, key, result) -> Path:
    (pdf,) = write_signed_reports(result, pdf_path=tmp_path / "report.pdf", key=key)
    return pdf


@pytest.fixture()
def older_pdf(tmp_path, key, result) -> Path:
    """A report as LUMINA wrote them before PDFs were signed: the same writer, with the
    signature step (and its promise in the signed JSON) switched off."""
    (pdf,) = write_signed_reports(result, pdf_path=tmp_path / "older.pdf", key=key,
                                  sign_pages=False)
    return pdf


def _verify(path: Path, capsys, *extra: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["verify", str(path), *extra])
    out = capsys.readouterr()
    return code, out.out, out.err


def _edit_shown_share(page) -> None:
    """Change the visible "100.0 %" of a page to "12.0 %" (the attack of issue 26)."""
    contents = page.get_contents()
    data = contents.get_data()
    assert SHOWN in data
    contents.set_data(data.replace(SHOWN, b"(12.0 %)"))
    page.replace_contents(contents)


def _page_with_share(reader: PdfReader) -> int:
    return next(i for i, p in enumerate(reader.pages) if SHOWN in p.get_contents().get_data())


def test_fresh_report_verifies_and_pyhanko_calls_its_signature_valid(signed_pdf, key, capsys,
                                                                     tmp_path):
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import SignatureCoverageLevel, validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    with open(signed_pdf, "rb") as fh:
        (sig,) = PdfFileReader(fh).embedded_signatures
        status = validate_pdf_signature(sig, ValidationContext(trust_roots=[sig.signer_cert]))
        assert sig.field_name == PDF_SIGNATURE_FIELD
        assert status.intact and status.valid and status.trusted and status.bottom_line
        assert status.coverage == SignatureCoverageLevel.ENTIRE_FILE
        assert status.pkcs7_signature_mechanism == "ed25519"
        # The certificate names the very key that signed the attached JSON.
        assert sig.signer_cert.public_key.dump() == _spki(key)

    pub = tmp_path / "signer.pub"
    pub.write_text(public_key_pem(key.public_key()))
    assert verify_report(signed_pdf, trusted_key=pub).pages == PAGES_SIGNED
    code, out, _ = _verify(signed_pdf, capsys, "--key", str(pub))
    assert code == 0
    assert "guarantees: pages and attached JSON signed by the same key" in out
    # The signed findings are printed to compare with the page: the named song, its share
    # and the gate rule, per channel.
    assert "composition: 1 song(s) named" in out and "production: 1 song(s) named" in out
    assert "100.0 % share  Long" in out
    assert "each song's confidence ≥ 90 %" in out


def _spki(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def test_edited_page_is_invalid(signed_pdf, tmp_path, capsys):
    reader = PdfReader(signed_pdf)
    writer = PdfWriter(clone_from=reader)
    _edit_shown_share(writer.pages[_page_with_share(reader)])
    edited = tmp_path / "edited.pdf"
    writer.write(edited)
    assert "12.0 %" in "".join(p.extract_text() for p in PdfReader(edited).pages)
    assert read_envelope(edited) == read_envelope(signed_pdf)  # the JSON is untouched
    code, out, err = _verify(edited, capsys)
    assert code == 1 and "pages:" in err and "valid" not in out


def test_page_edited_in_an_incremental_update_is_invalid(signed_pdf, tmp_path, capsys):
    """The edit appended after the signature, leaving the signed bytes intact."""
    writer = PdfWriter(signed_pdf, incremental=True)
    _edit_shown_share(writer.pages[_page_with_share(PdfReader(signed_pdf))])
    edited = tmp_path / "edited-incremental.pdf"
    writer.write(edited)
    assert edited.read_bytes().startswith(signed_pdf.read_bytes())
    code, _, err = _verify(edited, capsys)
    assert code == 1 and "changed after signing" in err


def test_removed_page_is_invalid(signed_pdf, tmp_path, capsys):
    writer = PdfWriter(clone_from=PdfReader(signed_pdf))
    writer.remove_page(len(writer.pages) - 1)
    shorter = tmp_path / "shorter.pdf"
    writer.write(shorter)
    assert len(PdfReader(shorter).pages) == len(PdfReader(signed_pdf).pages) - 1
    code, _, err = _verify(shorter, capsys)
    assert code == 1 and "pages:" in err


def test_page_added_in_an_incremental_update_is_invalid(signed_pdf, tmp_path, capsys):
    writer = PdfWriter(signed_pdf, incremental=True)
    writer.add_blank_page()
    longer = tmp_path / "longer.pdf"
    writer.write(longer)
    assert longer.read_bytes().startswith(signed_pdf.read_bytes())  # the signed part stays
    assert len(PdfReader(longer).pages) == len(PdfReader(signed_pdf).pages) + 1
    code, _, err = _verify(longer, capsys)
    assert code == 1 and "changed after signing" in err


def test_stripped_signature_is_invalid(signed_pdf, tmp_path, capsys):
    """Edited pages with the signature removed must not pass as an older report: the signed
    JSON promises a signed PDF."""
    reader = PdfReader(signed_pdf)
    writer = PdfWriter(clone_from=reader)
    for name in ("/AcroForm", "/Perms"):
        writer._root_object.pop(NameObject(name), None)
    for page in writer.pages:
        page.pop(NameObject("/Annots"), None)
    _edit_shown_share(writer.pages[_page_with_share(reader)])
    stripped = tmp_path / "stripped.pdf"
    writer.write(stripped)
    code, _, err = _verify(stripped, capsys)
    assert code == 1 and "signature is gone" in err


def test_pdf_signed_by_another_key_is_invalid(older_pdf, tmp_path, capsys):
    """Someone re-signs a PDF (pages of their choosing) with their own key: the PDF's key
    must be the key of the attached report."""
    from lumina.reports.pdf_signature import sign_pdf

    other = load_or_create_key(tmp_path / "other")
    resigned = tmp_path / "resigned.pdf"
    resigned.write_bytes(sign_pdf(older_pdf.read_bytes(), other))
    code, _, err = _verify(resigned, capsys)
    assert code == 1 and key_fingerprint(other.public_key()) in err


def test_older_report_still_verifies_and_says_its_pages_are_not_signed(older_pdf, capsys):
    from pyhanko.pdf_utils.reader import PdfFileReader

    with open(older_pdf, "rb") as fh:
        assert not PdfFileReader(fh).embedded_signatures
    payload = json.loads(base64.b64decode(read_envelope(older_pdf)["payload"]))
    assert "pdf_signature" not in payload["predicate"]["signer"]
    assert verify_report(older_pdf).pages == PAGES_NOT_SIGNED
    code, out, _ = _verify(older_pdf, capsys)
    assert code == 0
    assert "attached JSON signed; pages not signed (report from an older LUMINA)" in out
    assert "100.0 % share  Long" in out  # the signed findings, to compare with the page


def test_signed_json_promises_the_pdf_signature(tmp_path, key, result):
    from lumina.reports.pdf import render_pdf

    envelope = sign_report(result, key)
    predicate = json.loads(base64.b64decode(envelope["payload"]))["predicate"]
    assert predicate["signer"]["pdf_signature"] == PDF_SIGNATURE_PROFILE
    # A PDF of such a report can only be written signed, by the report's own key.
    with pytest.raises(ValueError, match="promises a signed PDF"):
        render_pdf(envelope, tmp_path / "unsigned.pdf")
    with pytest.raises(ValueError, match="key that signed its report"):
        render_pdf(envelope, tmp_path / "other.pdf", load_or_create_key(tmp_path / "o"))


def test_signing_certificate_is_a_function_of_the_key(key):
    from lumina.reports.pdf_signature import signing_certificate

    first, again = signing_certificate(key), signing_certificate(key)
    assert first.public_bytes(_der()) == again.public_bytes(_der())


def _der():
    from cryptography.hazmat.primitives import serialization

    return serialization.Encoding.DER


def test_truncated_signed_pdf_is_not_valid(signed_pdf, tmp_path, capsys):
    cut = tmp_path / "cut.pdf"
    data = signed_pdf.read_bytes()
    cut.write_bytes(data[: len(data) - 300])
    code, _, _ = _verify(cut, capsys)
    assert code in (1, 2)


def test_signature_does_not_change_the_visible_text(signed_pdf, older_pdf):
    def text(path: Path) -> list[str]:
        return [p.extract_text() for p in PdfReader(io.BytesIO(path.read_bytes())).pages]

    signed, older = text(signed_pdf), text(older_pdf)
    assert len(signed) == len(older)
    assert signed[0] == older[0]  # the first page, with the answer, is the same
