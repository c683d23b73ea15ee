"""The PDF signature over a whole report file, so that the pages a person reads are signed,
not only the JSON attached to them.

A LUMINA PDF is signed once, as its last step, with a standard PAdES baseline B signature
(CMS, sub-filter ``ETSI.CAdES.detached``) made by pyHanko with the *same* Ed25519 key as the
DSSE envelope. PDF signatures name their key through an X.509 certificate, so the key gets a
self-signed certificate that is a pure function of it (fixed validity, serial from the key's
fingerprint; Ed25519 signatures are deterministic), embedded in the signature. Trust never
comes from that certificate: :func:`read_pdf_signature` returns the key it names and
:mod:`lumina.reports.verify` requires it to equal the key that signed the attached JSON
(and, with ``--key``, the trusted one).

The signature is a certification signature that allows no changes (DocMDP level 1), and the
verifier requires it to cover the entire file: any later byte, incremental update included,
makes the report invalid.

Measured here (pyHanko 0.38, 2026-12): pyHanko signs and validates Ed25519 (digest SHA-512,
RFC 8419) and reports the field intact, valid and trusted. Poppler 22.12's ``pdfsig``
(NSS 3.87, Debian 12) lists the signature and "Total document signed" but says "Document
isn't signed or corrupted data" for Ed25519, while it validates the same file signed with
ECDSA P-256; Ed25519 in PDF is ISO 32002 (2022) and older readers may lack it.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.x509.oid import NameOID

from lumina.reports.formats import PDF_SIGNATURE_FIELD, PDF_SIGNATURE_PROFILE
from lumina.reports.signing import InvalidReport, key_fingerprint, raw_public_bytes

# A fixed validity makes the certificate a function of the key alone, and a verifier whose
# clock is behind the signer's never sees a certificate "not yet valid". 9999-12-31 is
# RFC 5280's "no well-defined expiration date" (the key itself never expires).
NOT_BEFORE = datetime(2000, 1, 1, tzinfo=timezone.utc)
NOT_AFTER = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc)


@dataclass(frozen=True)
class PdfSignature:
    """What :func:`read_pdf_signature` established about an intact whole-file signature."""

    public_key: bytes  # raw 32-byte Ed25519 key named by the signer's certificate
    signing_time: datetime | None  # the signer's own clock, as the signature states it
    subject: str  # the certificate's subject, as PDF readers show it


def signing_certificate(key: Ed25519PrivateKey) -> x509.Certificate:
    """A self-signed certificate for ``key``, the same bytes every time for the same key."""
    digest = hashlib.sha256(raw_public_bytes(key.public_key())).digest()
    name = x509.Name([
        # What a PDF reader shows as the signer: the start of the key's fingerprint, as the
        # page footer prints it.
        x509.NameAttribute(NameOID.COMMON_NAME, f"LUMINA report signer {digest.hex()[:16]}"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "LUMINA (self-signed; key "
                                                      "fingerprint in the signed report)"),
    ])
    return (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            # A positive serial of < 20 octets (RFC 5280 §4.1.2.2), derived from the key.
            .serial_number(int.from_bytes(digest[:16], "big") | 1)
            .not_valid_before(NOT_BEFORE).not_valid_after(NOT_AFTER)
            .add_extension(x509.KeyUsage(
                digital_signature=True, content_commitment=True, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=False,
                crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(key, None))


def finish_pdf(pdf: bytes, signer: dict[str, Any], key: Ed25519PrivateKey | None) -> bytes:
    """The finished PDF of a report whose predicate's signer block is ``signer``: signed by
    ``key``, or left unsigned when no key is given (an older-style PDF).

    Refuses (ValueError, a programming error) a key other than the report's, and an
    unsigned PDF of a report that promises signed pages: neither would ever verify.
    """
    if key is None:
        if signer.get("pdf_signature") == PDF_SIGNATURE_PROFILE:
            raise ValueError("this report promises a signed PDF: pass the key that signed it")
        return pdf
    if key_fingerprint(key.public_key()) != signer.get("fingerprint"):
        raise ValueError("the PDF must be signed with the key that signed its report")
    return sign_pdf(pdf, key)


def sign_pdf(pdf: bytes, key: Ed25519PrivateKey) -> bytes:
    """``pdf`` with a PAdES B-B certification signature by ``key`` appended (one
    incremental update, covering the whole resulting file)."""
    # Imported here: pyHanko costs ~0.6 s to import and JSON reports never need it.
    from asn1crypto import keys as asn1_keys
    from asn1crypto import x509 as asn1_x509
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    cert = asn1_x509.Certificate.load(
        signing_certificate(key).public_bytes(serialization.Encoding.DER))
    private = asn1_keys.PrivateKeyInfo.load(key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    signer = signers.SimpleSigner(signing_cert=cert, signing_key=private,
                                  cert_registry=SimpleCertificateStore.from_certs([cert]))
    meta = signers.PdfSignatureMetadata(
        field_name=PDF_SIGNATURE_FIELD, subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha512",  # what RFC 8419 pairs with Ed25519
        # Certify with "no changes allowed", so readers that honour DocMDP also flag a
        # later edit; lumina verify is stricter still (entire file, see below).
        certify=True, docmdp_permissions=fields.MDPPerm.NO_CHANGES,
        reason="LUMINA attribution report: pages and attached JSON signed by one key")
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    return signers.sign_pdf(writer, meta, signer=signer).getvalue()


def read_pdf_signature(pdf: bytes, name: str) -> PdfSignature | None:
    """The whole-file signature of a LUMINA PDF, or None when it carries none (a report
    from an older LUMINA, or one whose signature was stripped: the caller decides which).

    Raises :class:`InvalidReport` ("pages: …") when the file changed after signing: bytes
    not matching the signature, anything appended after it, a second signature, or a
    signature pyHanko's validator does not call intact and valid.
    """
    from pyhanko.pdf_utils.reader import PdfFileReader

    try:
        signatures = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
    except Exception as exc:  # any parse failure of an untrusted file is one line, not a trace
        raise InvalidReport(f"{name}: pages: the PDF's signature cannot be read "
                            f"({_reason(exc)})") from None
    if not signatures:
        return None
    if len(signatures) > 1:
        raise InvalidReport(f"{name}: pages: the PDF carries {len(signatures)} signatures; "
                            "LUMINA signs once, so it was changed after signing")
    return _check(signatures[0], name)


def _check(signature: Any, name: str) -> PdfSignature:
    from pyhanko.sign.validation import SignatureCoverageLevel, validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    try:
        cert = signature.signer_cert
        public = x509.load_der_x509_certificate(cert.dump()).public_key()
        # The certificate is its own trust root: trust comes from its key, which the caller
        # compares with the key of the signed JSON (offline: nothing is fetched).
        status = validate_pdf_signature(signature, ValidationContext(trust_roots=[cert]))
    except Exception as exc:  # a damaged or forged signature dictionary or CMS blob
        raise InvalidReport(f"{name}: pages: the PDF signature cannot be checked "
                            f"({_reason(exc)})") from None
    if not isinstance(public, Ed25519PublicKey):
        raise InvalidReport(f"{name}: pages: the PDF is signed with a "
                            f"{type(public).__name__}, not a LUMINA Ed25519 key")
    if not status.intact:
        raise InvalidReport(f"{name}: pages: the PDF was changed after signing (its signed "
                            "bytes no longer match the signature)")
    if not status.valid:
        raise InvalidReport(f"{name}: pages: the PDF signature does not verify")
    if status.coverage != SignatureCoverageLevel.ENTIRE_FILE:
        raise InvalidReport(f"{name}: pages: the PDF was changed after signing (an update "
                            "appended after the signature, e.g. an added or edited page)")
    if not status.bottom_line:
        raise InvalidReport(f"{name}: pages: pyHanko's validator rejects the PDF signature")
    return PdfSignature(public_key=raw_public_bytes(public),
                        signing_time=getattr(status, "signer_reported_dt", None),
                        subject=cert.subject.human_friendly)


def _reason(exc: Exception) -> str:
    text = str(exc).splitlines()[0][:120] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
