"""Ed25519 signing keys and signed envelopes: in-toto Statement v1 inside DSSE.

A report is the *predicate* of an in-toto Statement whose subject is the audio file (by
SHA-256). The statement is serialised canonically (RFC 8785) and wrapped in a DSSE envelope
signed with Ed25519. Both are public formats, so an auditor can check a LUMINA report with
generic tools; :func:`verify_envelope` is ours.

The signing key is created on first use in the user data folder (``LUMINA_HOME`` overrides
it), readable only by its owner (mode 0600).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from lumina.errors import LuminaError
from lumina.reports.formats import CLOCK_NOTE

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
KEY_FILE = "signing-key.pem"


class SigningKeyError(LuminaError):
    """The signing key cannot be created, read or parsed."""


class InvalidReport(LuminaError):
    """A report that is readable but does not verify (exit code 1)."""

    exit_code = 1


class UnreadableReport(LuminaError):
    """A file that is not a report at all (exit code 2)."""

    exit_code = 2


# -- keys ------------------------------------------------------------------------------------
def key_folder() -> Path:
    """``$LUMINA_HOME`` or the platform's user data folder for LUMINA."""
    home = os.environ.get("LUMINA_HOME")
    if home:
        return Path(home).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("lumina", appauthor=False))


def raw_public_bytes(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_fingerprint(public_key: Ed25519PublicKey) -> str:
    """``SHA256:<hex>`` of the raw 32-byte public key; also the DSSE ``keyid``."""
    return "SHA256:" + hashlib.sha256(raw_public_bytes(public_key)).hexdigest()


def load_or_create_key(folder: Path | None = None) -> Ed25519PrivateKey:
    """The user's signing key, created (mode 0600, atomically) on first use."""
    folder = folder or key_folder()
    path = folder / KEY_FILE
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        try:
            # O_EXCL: two processes starting at once must not overwrite each other's key.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return load_or_create_key(folder)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        return key
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise SigningKeyError(f"signing key {path} is unreadable ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"signing key {path} is not an Ed25519 key")
    return key


def public_key_pem(public_key: Ed25519PublicKey) -> str:
    return public_key.public_bytes(serialization.Encoding.PEM,
                                   serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def load_public_key(path: Path) -> Ed25519PublicKey:
    """A trusted public key from a PEM file (``lumina keys export-public`` writes one)."""
    try:
        key = serialization.load_pem_public_key(Path(path).read_bytes())
    except FileNotFoundError:
        raise UnreadableReport(f"public key not found: {path}") from None
    except (OSError, ValueError) as exc:
        raise UnreadableReport(f"{Path(path).name}: not a PEM public key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise UnreadableReport(f"{Path(path).name}: not an Ed25519 public key")
    return key


# -- envelopes -------------------------------------------------------------------------------
def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE pre-authentication encoding: what is actually signed."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def statement(subject_name: str, subject_sha256: str, predicate_type: str,
              predicate: dict[str, Any]) -> dict[str, Any]:
    """An in-toto Statement about one file."""
    return statement_about([(subject_name, subject_sha256)], predicate_type, predicate)


def statement_about(subjects: Iterable[tuple[str, str]], predicate_type: str,
                    predicate: dict[str, Any]) -> dict[str, Any]:
    """An in-toto Statement about files given as ``(name, sha256)`` pairs."""
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": name, "digest": {"sha256": sha}} for name, sha in subjects],
        "predicateType": predicate_type,
        "predicate": predicate,
    }


def sign_statement(stmt: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """Canonical JSON of ``stmt`` in a DSSE envelope signed by ``key``."""
    payload = rfc8785.dumps(stmt)
    signature = key.sign(pae(PAYLOAD_TYPE, payload))
    return {
        "payloadType": PAYLOAD_TYPE,
        "payload": base64.b64encode(payload).decode(),
        "signatures": [{
            "keyid": key_fingerprint(key.public_key()),
            "sig": base64.b64encode(signature).decode(),
        }],
    }


# -- signed predicates: what the attribution report and the audit summary share ------------
def signer_block(public_key: Ed25519PublicKey, *,
                 pdf_signature: str | None = None) -> dict[str, str]:
    """Who signed: the PEM travels in the predicate so the file alone verifies.

    ``pdf_signature`` (a profile such as :data:`~lumina.reports.formats.PDF_SIGNATURE_PROFILE`)
    promises that the PDF form of this file is signed by the same key; older reports carry
    no such promise, and their PDFs verify as "pages not signed".
    """
    block = {"public_key": public_key_pem(public_key), "fingerprint": key_fingerprint(public_key)}
    if pdf_signature is not None:
        block["pdf_signature"] = pdf_signature
    return block


def labelled_time(time: str | None) -> dict[str, str | None]:
    """A creation time with the clock it comes from (see :data:`CLOCK_NOTE`)."""
    return {"time": time, "clock": CLOCK_NOTE}


def stamp_predicate(content: Mapping[str, Any], key: Ed25519PrivateKey, *,
                    created: Any, pdf_signature: str | None = None) -> dict[str, Any]:
    """``content`` (less any earlier ``signature``) with its creation time and the signer
    block of ``key``: the one place a predicate learns who signed it and when.

    ``created`` is stored as given: the attribution report stores :func:`labelled_time`,
    the audit summary (schema ``lumina.audit/1``) a bare UTC string its readers expect.
    ``pdf_signature`` goes into the signer block (:func:`signer_block`).
    """
    predicate = {k: v for k, v in content.items() if k != "signature"}
    predicate["created"] = created
    predicate["signer"] = signer_block(key.public_key(), pdf_signature=pdf_signature)
    return predicate


def sign_predicate(predicate: dict[str, Any], key: Ed25519PrivateKey, *, predicate_type: str,
                   subjects: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """The DSSE envelope of an in-toto Statement about ``subjects`` carrying ``predicate``."""
    return sign_statement(statement_about(subjects, predicate_type, predicate), key)


@dataclass(frozen=True)
class Verified:
    """A verified statement and who signed it."""

    statement: dict[str, Any]
    keyid: str

    @property
    def predicate(self) -> dict[str, Any]:
        return self.statement["predicate"]


def parse_envelope(data: bytes, name: str = "report") -> dict[str, Any]:
    """Bytes → envelope dict, or :class:`UnreadableReport` (one line)."""
    try:
        envelope = json.loads(data)
    except (UnicodeDecodeError, ValueError):
        raise UnreadableReport(f"{name}: not a JSON report") from None
    if not isinstance(envelope, dict) or not {"payloadType", "payload", "signatures"} <= set(
            envelope):
        raise UnreadableReport(f"{name}: not a signed LUMINA report (no DSSE envelope)")
    return envelope


def verify_envelope(envelope: dict[str, Any], public_key_field: str,
                    trusted: Ed25519PublicKey | None = None,
                    name: str = "report") -> Verified:
    """Check a DSSE envelope; the signer's public key travels inside the predicate under
    ``public_key_field`` (a PEM) so the report alone verifies, and ``trusted`` (optional)
    pins who must have signed it.

    Raises :class:`InvalidReport` naming what failed (signature, key, digest) or
    :class:`UnreadableReport` when the envelope is malformed.
    """
    if envelope.get("payloadType") != PAYLOAD_TYPE:
        raise InvalidReport(f"{name}: unexpected payload type {envelope.get('payloadType')!r}")
    try:
        payload = base64.b64decode(envelope["payload"], validate=True)
        statement_ = json.loads(payload)
        sigs = envelope["signatures"]
        sig = base64.b64decode(sigs[0]["sig"], validate=True)
        keyid = str(sigs[0].get("keyid", ""))
    except (binascii.Error, ValueError, TypeError, KeyError, IndexError):
        raise UnreadableReport(f"{name}: malformed envelope") from None
    predicate = statement_.get("predicate") if isinstance(statement_, dict) else None
    if not isinstance(predicate, dict):
        raise UnreadableReport(f"{name}: the envelope holds no report")
    try:
        embedded = serialization.load_pem_public_key(
            str(_dig(predicate, public_key_field)).encode())
    except (ValueError, TypeError, KeyError):
        raise InvalidReport(f"{name}: key: the report's public key is missing or unreadable") \
            from None
    if not isinstance(embedded, Ed25519PublicKey):
        raise InvalidReport(f"{name}: key: the report's public key is not Ed25519")
    if trusted is not None and raw_public_bytes(trusted) != raw_public_bytes(embedded):
        raise InvalidReport(f"{name}: key: signed by {key_fingerprint(embedded)}, "
                            f"not by the trusted key {key_fingerprint(trusted)}")
    if keyid != key_fingerprint(embedded):
        raise InvalidReport(f"{name}: key: keyid does not match the report's public key")
    try:
        embedded.verify(sig, pae(PAYLOAD_TYPE, payload))
    except InvalidSignature:
        raise InvalidReport(f"{name}: signature: does not match the content "
                            "(the report was altered after signing)") from None
    if payload != rfc8785.dumps(statement_):
        raise InvalidReport(f"{name}: signature: payload is not in canonical form")
    return Verified(statement=statement_, keyid=keyid)


def _dig(obj: dict[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        obj = obj[part]
    return obj
