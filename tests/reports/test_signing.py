"""Keys, DSSE envelopes and their verification."""

from __future__ import annotations

import base64
import json
import stat

import pytest

from lumina.reports.signing import (
    InvalidReport,
    UnreadableReport,
    key_fingerprint,
    load_or_create_key,
    parse_envelope,
    public_key_pem,
    sign_statement,
    statement,
    verify_envelope,
)


@pytest.fixture()
def key(tmp_path):
    return load_or_create_key(tmp_path / "keys")


def _signed(key, extra=None):
    predicate = {"signer": {"public_key": public_key_pem(key.public_key())},
                 "score": 0.5, **(extra or {})}
    return sign_statement(statement("song.wav", "ab" * 32, "urn:test", predicate), key)


def test_key_is_created_once_with_mode_0600(tmp_path):
    first = load_or_create_key(tmp_path / "k")
    again = load_or_create_key(tmp_path / "k")
    assert key_fingerprint(first.public_key()) == key_fingerprint(again.public_key())
    mode = stat.S_IMODE((tmp_path / "k" / "signing-key.pem").stat().st_mode)
    assert mode == 0o600


def test_round_trip(key):
    verified = verify_envelope(_signed(key), "signer.public_key")
    assert verified.predicate["score"] == 0.5
    assert verified.keyid == key_fingerprint(key.public_key())
    assert verified.statement["subject"][0]["digest"]["sha256"] == "ab" * 32


def test_every_single_byte_change_of_the_payload_fails(key):
    envelope = _signed(key)
    payload = base64.b64decode(envelope["payload"])
    for i in range(0, len(payload), max(1, len(payload) // 60)):
        changed = bytearray(payload)
        changed[i] ^= 0x01
        tampered = dict(envelope, payload=base64.b64encode(bytes(changed)).decode())
        with pytest.raises((InvalidReport, UnreadableReport)):
            verify_envelope(tampered, "signer.public_key")


def test_resigned_with_another_key_fails_against_trusted_key(key, tmp_path):
    other = load_or_create_key(tmp_path / "other")
    envelope = _signed(other)
    verify_envelope(envelope, "signer.public_key")  # valid on its own …
    with pytest.raises(InvalidReport, match="key"):  # … but not by the trusted signer
        verify_envelope(envelope, "signer.public_key", trusted=key.public_key())


def test_swapping_the_embedded_key_fails(key, tmp_path):
    """A forger who re-embeds their own key but keeps the old signature is caught."""
    other = load_or_create_key(tmp_path / "other")
    envelope = _signed(key)
    stmt = json.loads(base64.b64decode(envelope["payload"]))
    stmt["predicate"]["signer"]["public_key"] = public_key_pem(other.public_key())
    import rfc8785

    forged = dict(envelope, payload=base64.b64encode(rfc8785.dumps(stmt)).decode())
    with pytest.raises(InvalidReport):
        verify_envelope(forged, "signer.public_key")


def test_unreadable_inputs():
    with pytest.raises(UnreadableReport):
        parse_envelope(b"\x89PNG garbage", "x.json")
    with pytest.raises(UnreadableReport):
        parse_envelope(b'{"hello": 1}', "x.json")
    with pytest.raises(UnreadableReport):
        verify_envelope({"payloadType": "application/vnd.in-toto+json", "payload": "%%%",
                         "signatures": []}, "signer.public_key")
