"""Fuzzing the inputs a user hands LUMINA (issue 25): audio files, a library's manifest and
catalog, signed reports (JSON and PDF), audit policies.

Seeded loops, so a failure names a reproducible case. Each case must end in the input's one
error class with a one-line message (or be accepted when the input is still valid), never in
another exception, and within :data:`HANG_SECONDS`. A signed report whose payload, signature
or key was changed must never verify.

CI runs :data:`CI_CASES` cases per kind (the whole file in about a minute on two cores);
``LUMINA_FUZZ_CASES=10000`` (and ``LUMINA_FUZZ_SEED``) runs the nightly size. Counts are
printed (``pytest -s``) and recorded in ``docs/reliability.md``.
"""

from __future__ import annotations

import base64
import contextlib
import faulthandler
import json
import os
import random
import shutil
import sqlite3
import struct
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from lumina.errors import LuminaError

#: Cases per kind in CI; ``LUMINA_FUZZ_CASES`` overrides (the nightly run: 10000).
CI_CASES = {"audio": 1000, "manifest": 2000, "catalog": 200, "report": 3000, "pdf": 600,
            "policy": 4000}
SEED = int(os.environ.get("LUMINA_FUZZ_SEED", "25"))
#: A case slower than this counts as a hang.
HANG_SECONDS = 5.0
#: Bugs the fuzzer found that are not fixed yet: counted and printed as ``known``, not
#: failed, unless ``LUMINA_FUZZ_STRICT=1``. Each is (exception type, message fragment,
#: where). Empty: the three it found (issue 25) are fixed.
KNOWN: dict[str, list[tuple[str, str, str]]] = {}
STRICT = os.environ.get("LUMINA_FUZZ_STRICT") == "1"


def _cases(kind: str) -> int:
    return int(os.environ.get("LUMINA_FUZZ_CASES", CI_CASES[kind]))


class Tally:
    """What one kind's loop saw; fails the test on a traceback, a hang or an acceptance."""

    def __init__(self, kind: str, label: str = "") -> None:
        self.kind, self.label, self.outcomes, self.bad = kind, label or kind, Counter(), []
        self.slowest = 0.0

    def run(self, case: int, fn, *, expected: tuple[type[BaseException], ...],
            may_accept: bool = True, what: str = "") -> None:
        """Run one case; ``what`` describes the input in a failure message."""
        case = f"{case} ({what})" if what else case
        faulthandler.dump_traceback_later(60, exit=True)  # a real hang ends the run loudly
        started = time.monotonic()
        try:
            fn()
        except expected as exc:
            message = str(exc)
            if "\n" in message or not message or "Traceback" in message:
                self.bad.append(f"case {case}: not one line: {message!r}")
            self.outcomes[type(exc).__name__] += 1
        except Exception as exc:  # the finding: a traceback a user would see
            known = [where for kind, text, where in KNOWN.get(self.kind, ())
                     if type(exc).__name__ == kind and text in str(exc)]
            if known and not STRICT:
                self.outcomes["known bug (traceback)"] += 1
            else:
                self.bad.append(f"case {case}: {type(exc).__name__}: {exc}")
                self.outcomes["traceback"] += 1
        else:
            self.outcomes["accepted"] += 1
            if not may_accept:
                self.bad.append(f"case {case}: accepted")
        finally:
            faulthandler.cancel_dump_traceback_later()
        took = time.monotonic() - started
        self.slowest = max(self.slowest, took)
        if took > HANG_SECONDS:
            self.bad.append(f"case {case}: took {took:.1f} s")
            self.outcomes["hang"] += 1

    def check(self) -> None:
        total = sum(v for k, v in self.outcomes.items()
                    if k not in ("hang", "tampered", "unsigned edit"))
        print(f"\nfuzz {self.label}: {total} cases (seed {SEED}), "
              + ", ".join(f"{k} {v}" for k, v in sorted(self.outcomes.items()))
              + f"; slowest {self.slowest:.2f} s")
        assert not self.bad, "\n".join(self.bad[:20])


def _flip(data: bytes, rng: random.Random, n: int | None = None) -> bytes:
    out = bytearray(data)
    if not out:
        return bytes(out)
    for _ in range(n or rng.randint(1, 8)):
        out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out)


def _mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    op = rng.randrange(5)
    if op == 0:
        return _flip(data, rng)
    if op == 1:
        return data[: rng.randrange(len(data) + 1)]
    if op == 2:
        at = rng.randrange(len(data) + 1)
        return data[:at] + rng.randbytes(rng.randint(1, 64)) + data[at:]
    if op == 3:
        at = rng.randrange(len(data) + 1)
        return data[:at] + data[at + rng.randint(1, 64):]
    return _flip(data[: rng.randrange(len(data) + 1)], rng)


# -- audio ---------------------------------------------------------------------------------

def _wav(rng: random.Random, body: bytes) -> bytes:
    channels = rng.choice([0, 1, 2, 6, 255, 65535])
    rate = rng.choice([0, 1, 2, 8000, 44100, 192000, 2**31 - 1, 2**32 - 1])
    bits = rng.choice([0, 1, 7, 8, 16, 24, 32, 64, 65535])
    fmt = rng.choice([1, 3, 0xFFFE, 0, 0x55, rng.randrange(65536)])
    align = rng.choice([0, max(1, channels * bits // 8) % 65536, rng.randrange(65536)])
    byte_rate = rng.choice([0, rate * align % 2**32, rng.randrange(2**32)])
    data_size = rng.choice([0, len(body), 10**9 * max(1, align) % 2**32, 2**32 - 1])
    fmt_chunk = struct.pack("<HHIIHH", fmt, channels, rate, byte_rate, align, bits)
    riff = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt_chunk + b"data" + struct.pack(
        "<I", data_size) + body
    return b"RIFF" + struct.pack("<I", rng.choice([len(riff), 2**32 - 1, 0])) + riff


def _flac(rng: random.Random, body: bytes) -> bytes:
    info = bytearray(rng.randbytes(34))
    if rng.random() < 0.5:  # plausible block sizes, absurd rate/channels/total samples
        info[0:4] = struct.pack(">HH", 4096, 4096)
    return b"fLaC" + bytes([0x80, 0, 0, 34]) + bytes(info) + body


def _ogg(rng: random.Random, body: bytes) -> bytes:
    packet = rng.choice([b"\x01vorbis", b"OpusHead", b"\x7fFLAC", b""]) + rng.randbytes(
        rng.randint(0, 40))
    head = b"OggS" + bytes([0, 2]) + struct.pack("<qIII", rng.randrange(-1, 2**40),
                                                  rng.randrange(2**32), 0,
                                                  rng.randrange(2**32))
    return head + bytes([1, min(len(packet), 255)]) + packet[:255] + body


def _mp3(rng: random.Random, body: bytes) -> bytes:
    frame = bytes([0xFF, rng.choice([0xFB, 0xF3, 0xE3, 0xFA]), rng.randrange(256),
                   rng.randrange(256)])
    id3 = b"ID3" + bytes([3, 0, 0]) + bytes(rng.randrange(128) for _ in range(4))
    return (id3 if rng.random() < 0.5 else b"") + frame + body


HEADERS = {".wav": _wav, ".flac": _flac, ".ogg": _ogg, ".mp3": _mp3}


@pytest.fixture(scope="module")
def real_audio(tmp_path_factory):
    """Small valid files of every container, to mutate."""
    import soundfile as sf

    folder = tmp_path_factory.mktemp("fuzz-audio")
    t = np.arange(16000) / 16000
    x = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    out = {}
    for ext, fmt in ((".wav", "WAV"), (".flac", "FLAC"), (".ogg", "OGG"), (".mp3", "MP3")):
        path = folder / f"tone{ext}"
        try:
            sf.write(path, x, 16000, format=fmt)
        except (sf.LibsndfileError, TypeError, ValueError):  # a libsndfile without MP3
            continue
        out[ext] = path.read_bytes()
    return out


def test_fuzz_audio_decode(tmp_path, real_audio):
    from lumina.audio import load_audio, probe

    rng = random.Random(SEED)
    tally = Tally("audio")
    exts = list(HEADERS)
    for case in range(_cases("audio")):
        ext = rng.choice(exts)
        if rng.random() < 0.5 or ext not in real_audio:
            data = HEADERS[ext](rng, rng.randbytes(rng.choice([0, 1, 7, 512, 4096, 30000])))
        else:
            data = _mutate_bytes(real_audio[ext], rng)
        path = tmp_path / f"case{case}{rng.choice([ext, ext, '.wav', '.bin'])}"
        path.write_bytes(data)

        def decode(path=path) -> None:
            probe(path)
            load_audio(path, 32000, max_seconds=rng.choice([None, 30.0]))

        tally.run(case, decode, expected=(LuminaError,),
                  what=f"{path.name}, {len(data)} bytes, head {data[:44].hex()}")
        path.unlink()
    tally.check()


@pytest.mark.parametrize("field", [
    "channels=0", "frames=1e9", "rate=0", "bits=0", "align=0",
    "rate=1"])
def test_absurd_wav_header_fields(tmp_path, field):
    """Real PCM samples behind one absurd header field: one line, within seconds."""
    from lumina.audio import load_audio, probe

    pcm = (np.sin(np.arange(32000) / 5) * 8000).astype("<i2").tobytes()
    channels, rate, bits, align = 1, 16000, 16, 2
    frames = len(pcm) // 2
    if field == "channels=0":
        channels = 0
    elif field == "frames=1e9":
        frames = 10**9
    elif field == "rate=1":
        rate = 1
    elif field == "rate=0":
        rate = 0
    elif field == "bits=0":
        bits = 0
    else:
        align = 0
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * align, align, bits)
    body = (b"WAVEfmt " + struct.pack("<I", 16) + fmt + b"data"
            + struct.pack("<I", min(frames * 2, 2**32 - 1)) + pcm)
    path = tmp_path / "absurd.wav"
    path.write_bytes(b"RIFF" + struct.pack("<I", min(len(body), 2**32 - 1)) + body)
    tally = Tally("audio", f"wav {field}")
    tally.run(0, lambda: (probe(path), load_audio(path, 32000)), expected=(LuminaError,))
    tally.check()


# -- library: manifest and catalog ---------------------------------------------------------

def _identity() -> dict[str, object]:
    return {"model_name": "test-model", "model_sha256": "ab" * 32, "projection_seed": 0,
            "projection_blocks": 32, "dim": 8, "chunk_seconds": 10.0, "sample_rate": 32000,
            "channels": ["composition", "production"]}


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    from lumina.library import Library, SongMeta

    path = tmp_path_factory.mktemp("fuzz-lib") / "lib"
    lib = Library.create(path, _identity())
    rng = np.random.default_rng(0)
    with lib.writer() as w:
        w.append_vectors({c: rng.standard_normal((4, 8)).astype(np.float32)
                          for c in ("composition", "production")},
                         [SongMeta(title=f"s{i}", audio_sha256=f"{i:064x}", duration=20.0)
                          for i in range(4)])
    lib.close()
    return path


WEIRD = [None, True, 0, -1, 2**63, 1e308, float("nan"), "", "x" * 300, [], {}, [1, "a"],
         {"k": None}, "../../etc", "lumina-tiny", 16, 0.5]


def _mutate_json(obj, rng: random.Random):
    """A structural mutation: a key deleted, a value replaced, added or retyped."""
    obj = json.loads(json.dumps(obj))
    target = obj
    path = []
    while isinstance(target, dict | list) and target and rng.random() < 0.6:
        key = rng.choice(list(target)) if isinstance(target, dict) else rng.randrange(
            len(target))
        path.append((target, key))
        target = target[key]
    if not path:
        return rng.choice(WEIRD + [obj])
    parent, key = path[-1]
    op = rng.randrange(3)
    if op == 0 and isinstance(parent, dict):
        del parent[key]
    elif op == 1 and isinstance(parent, dict):
        parent[rng.choice(["extra", "dim", "format_version", "channels"])] = rng.choice(WEIRD)
    else:
        parent[key] = rng.choice(WEIRD)
    return obj


def test_fuzz_library_manifest(tmp_path, library):
    from lumina.library import Library, LibraryError

    original = json.loads((library / "manifest.json").read_text())
    rng = random.Random(SEED)
    tally = Tally("manifest")
    work = tmp_path / "lib"
    shutil.copytree(library, work)
    matrices = {p.name: p.read_bytes() for p in work.glob("*.f32")}
    for case in range(_cases("manifest")):
        if rng.random() < 0.7:
            text = json.dumps(_mutate_json(original, rng), allow_nan=True)
            data = text.encode()
        else:
            data = _mutate_bytes(json.dumps(original).encode(), rng)
        (work / "manifest.json").write_bytes(data)

        def open_it() -> None:
            with Library.open(work) as lib:
                lib.songs()

        tally.run(case, open_it, expected=(LibraryError,))
    assert {p.name: p.read_bytes() for p in work.glob("*.f32")} == matrices  # untouched
    tally.check()


def test_fuzz_library_catalog(tmp_path, library):
    from lumina.library import Library, LibraryError, verify

    rng = random.Random(SEED)
    tally = Tally("catalog")
    values = [None, -1, 0, 1, 3, 4, 5, 2**40, "x", b"\x00\xff", 1.5, ""]
    for case in range(_cases("catalog")):
        work = tmp_path / f"lib{case}"
        shutil.copytree(library, work)
        conn = sqlite3.connect(work / "catalog.sqlite")
        for _ in range(rng.randint(1, 3)):
            if rng.random() < 0.5:
                key = rng.choice([r[0] for r in conn.execute("SELECT key FROM meta")])
                sql, args = "UPDATE meta SET value = ? WHERE key = ?", (rng.choice(values), key)
            else:
                col = rng.choice(["row", "chunk_row", "n_chunks", "title", "live", "crc",
                                  "track_sha256", "duration", "audio_sha256"])
                sql = f"UPDATE songs SET {col} = ? WHERE id = ?"
                args = (rng.choice(values), rng.randint(1, 4))
            with contextlib.suppress(sqlite3.IntegrityError):  # the schema refuses it
                conn.execute(sql, args)
        conn.commit()
        conn.close()

        def check(work=work) -> None:
            verify(work)  # a report (problems named), never an exception
            with Library.open(work) as lib:
                lib.songs()

        tally.run(case, check, expected=(LibraryError,))
        shutil.rmtree(work)
    tally.check()


# -- signed reports ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def signed(tmp_path_factory):
    from lumina.reports.report import write_signed_reports
    from lumina.reports.signing import load_or_create_key

    folder = tmp_path_factory.mktemp("fuzz-report")
    result = json.loads((Path(__file__).parents[1] / "golden" / "report-payload.json")
                        .read_text())
    key = load_or_create_key(folder / "key")
    js, pdf = write_signed_reports(result, json_path=folder / "r.json",
                                   pdf_path=folder / "r.pdf", key=key)
    return json.loads(js.read_text()), pdf.read_bytes()


def _b64_flip(text: str, rng: random.Random) -> str:
    raw = bytearray(base64.b64decode(text))
    raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
    return base64.b64encode(bytes(raw)).decode()


def _tamper(envelope: dict, rng: random.Random, other_key_pem: str) -> dict:
    """A change to what the signature covers (payload, signature, payload type, key)."""
    env = json.loads(json.dumps(envelope))
    op = rng.randrange(7)
    if op == 0:
        env["payload"] = _b64_flip(env["payload"], rng)
    elif op == 1:
        env["signatures"][0]["sig"] = _b64_flip(env["signatures"][0]["sig"], rng)
    elif op == 2:  # a semantic edit of the report, re-encoded (the attack that matters)
        statement = json.loads(base64.b64decode(env["payload"]))
        statement["predicate"] = _mutate_json(statement["predicate"], rng)
        env["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    elif op == 3:  # the signer's key swapped inside the payload
        statement = json.loads(base64.b64decode(env["payload"]))
        statement["predicate"]["signer"]["public_key"] = other_key_pem
        env["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    elif op == 4:
        env["payloadType"] = rng.choice(["", "application/json", None, 1,
                                         env["payloadType"] + "x"])
    elif op == 5:
        env["signatures"] = rng.choice([[], [{}], [{"sig": ""}], None, "x",
                                        [{"sig": env["signatures"][0]["sig"][:-4]}]])
    else:  # structure of the envelope itself
        env = _mutate_json(env, rng)
        if env == envelope:
            env = {"payloadType": envelope["payloadType"]}
    return env


def _covered(env) -> tuple:
    """What the signature covers, or binds (the keyid must name the embedded key)."""
    try:
        sig = env["signatures"][0]
        return (env["payloadType"], env["payload"], sig["sig"], sig.get("keyid"))
    except (KeyError, IndexError, TypeError):
        return ()


def test_fuzz_signed_reports(tmp_path, signed):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from lumina.reports.signing import InvalidReport, UnreadableReport, signer_block
    from lumina.reports.verify import verify_report

    envelope, _ = signed
    statement = json.loads(base64.b64decode(envelope["payload"]))
    assert "public_key" in statement["predicate"]["signer"]
    other = signer_block(Ed25519PrivateKey.generate().public_key())["public_key"]
    rng = random.Random(SEED)
    tally = Tally("report")
    path = tmp_path / "report.json"
    for case in range(_cases("report")):
        if rng.random() < 0.85:
            data = json.dumps(_tamper(envelope, rng, other)).encode()
        else:
            data = _mutate_bytes(json.dumps(envelope).encode(), rng)
        try:
            # An edit outside the signed fields (an extra envelope key) is no tampering: it
            # may verify, and the report it carries is the signed one.
            tampered = _covered(json.loads(data)) != _covered(envelope)
        except (ValueError, UnicodeDecodeError, AttributeError):
            tampered = True
        path.write_bytes(data)
        tally.run(case, lambda: verify_report(path),
                  expected=(InvalidReport, UnreadableReport), may_accept=not tampered)
        tally.outcomes["tampered" if tampered else "unsigned edit"] += 1
    tally.check()


def test_fuzz_signed_pdf(tmp_path, signed):
    """A mutated PDF is refused, or verifies only when the envelope it carries is the signed
    one, unchanged (the PDF's own signature covers the whole file, so a mutation anywhere
    but inside the signature's padding is refused)."""
    from lumina.reports.signing import InvalidReport, UnreadableReport
    from lumina.reports.verify import read_envelope, verify_report

    envelope, pdf = signed
    rng = random.Random(SEED)
    tally = Tally("pdf")
    path = tmp_path / "report.pdf"
    for case in range(_cases("pdf")):
        path.write_bytes(_mutate_bytes(pdf, rng))

        def check() -> None:
            verify_report(path)
            if read_envelope(path) != envelope:
                raise AssertionError("a changed envelope verified")

        tally.run(case, check, expected=(InvalidReport, UnreadableReport))
    tally.check()


# -- audit policies ------------------------------------------------------------------------

POLICY_KEYS = ["name", "alpha", "correction", "flag_share", "gate", "level", "rule",
               "review_share", "unknown", ""]
POLICY_VALUES = ['"x"', '""', "0", "-1", "1", "0.01", "1e400", "nan", "inf", "-inf", "true",
                 "[]", "[1, 2]", "{}", '"sidak"', '"none"', '"bh"', "2026-01-01",
                 '"' + "x" * 200 + '"', "0.5", "99999999999999999999"]


def test_fuzz_audit_policies(tmp_path):
    from lumina.audit import PolicyError, load_policy

    rng = random.Random(SEED)
    tally = Tally("policy")
    path = tmp_path / "policy.toml"
    valid = '[policy]\nname = "p"\nalpha = 0.01\ncorrection = "sidak"\nflag_share = 0.4\n'
    for case in range(_cases("policy")):
        if rng.random() < 0.7:
            lines = ["[policy]"] if rng.random() < 0.8 else []
            for _ in range(rng.randint(0, 4)):
                lines.append(f"{rng.choice(POLICY_KEYS) or 'x'} = {rng.choice(POLICY_VALUES)}")
            data = "\n".join(lines).encode()
        else:
            data = _mutate_bytes(valid.encode(), rng)
        path.write_bytes(data)
        tally.run(case, lambda: load_policy(path), expected=(PolicyError,))
    tally.check()
