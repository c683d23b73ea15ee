"""Golden outputs: fingerprints and a report payload, bit for bit, as written before the
engine was restructured (issue 18). A change of a fingerprint bit, a report field or the
order of songs shows up here.

Bit for bit holds on the platform that wrote the files (``platform.json``: CPU vendor, the
SIMD level torch dispatches to, library versions). Another CPU rounds the last bits of a
fingerprint differently (measured: 1e-6 relative, AMD EPYC/AVX512 against the files'
platform), and the codec's quantisation turns some of those into other codes in a catalog,
so the report's centred scores move by up to ~0.01 and z by ~0.1 while every key, title,
order and decision stays. There the files are compared with :func:`_close`: structure and
every string, int and bool exactly, floats within a tolerance, the library digest (a hash of
the fingerprint bytes) skipped.

Regenerate only on purpose (a deliberate change of the method or the format):
``LUMINA_WRITE_GOLDEN=1 python -m pytest tests/test_golden.py``.
"""

from __future__ import annotations

import base64
import json
import os
import platform
from pathlib import Path

import numpy as np
import pytest

GOLDEN = Path(__file__).parent / "golden"
WRITE = os.environ.get("LUMINA_WRITE_GOLDEN") == "1"


def _bits(array: np.ndarray) -> str:
    """The exact bytes of a float32 array (little-endian), base64."""
    return base64.b64encode(np.ascontiguousarray(array, dtype="<f4").tobytes()).decode()


def _fingerprint_json(fp) -> dict:
    return {
        "parameters": {k: v for k, v in fp.parameters().items() if k != "software_version"},
        "channels": {c: _bits(v) for c, v in fp.channels.items()},
        "chunk_vectors": {c: _bits(v) for c, v in fp.chunk_vectors.items()},
        "chunk_times": np.asarray(fp.chunk_times, dtype=np.float64).tolist(),
        "loss": _bits(fp.loss),
        "audio_sha256": fp.audio_sha256,
        "duration": fp.duration,
    }


def _scrub(obj, replacements: dict[str, str]):
    """The payload with times, paths and the library's random id replaced by fixed words."""
    if isinstance(obj, dict):
        # library_id is a random UUID made when the library is created.
        return {k: (f"<{k}>" if k in ("created", "time", "library_id")
                    else _scrub(v, replacements))
                for k, v in obj.items()}
    if isinstance(obj, list):
        return [_scrub(v, replacements) for v in obj]
    if isinstance(obj, str):
        for old, new in replacements.items():
            obj = obj.replace(old, new)
        return obj
    return obj


def _platform() -> dict[str, str]:
    """What decides a fingerprint's last bits besides our code."""
    import torch
    import transformers

    vendor = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        vendor = next((line.split(":", 1)[1].strip() for line in
                       cpuinfo.read_text(errors="replace").splitlines()
                       if line.startswith("vendor_id")), "")
    return {"machine": platform.machine(), "cpu_vendor": vendor,
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "torch": torch.__version__, "numpy": np.__version__,
            "transformers": transformers.__version__}


#: Fingerprint floats: relative to the array's largest entry (measured across CPUs: 1e-6).
ARRAY_RTOL = 1e-4
#: Report floats: |a - b| <= ATOL + RTOL * |b| (measured across CPUs: 0.01 in a centred
#: cosine, 0.09 in a z near zero, 0.035 in a confidence).
ATOL, RTOL = 0.15, 0.05
#: Hashes of fingerprint bytes: they change with the last bit.
BYTE_HASHES = frozenset({"digest"})


def _floats(text: str) -> np.ndarray | None:
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        return None
    return np.frombuffer(raw, dtype="<f4") if raw and len(raw) % 4 == 0 else None


def _close(actual, expected, where: str = "") -> None:
    """Assert ``actual`` matches ``expected`` up to another CPU's rounding (see the module
    docstring)."""
    assert type(actual) is type(expected) or {type(actual), type(expected)} <= {int, float}, \
        f"{where}: {actual!r} != {expected!r}"
    if isinstance(expected, dict):
        assert actual.keys() == expected.keys(), f"{where}: keys differ"
        for k in expected:
            if k not in BYTE_HASHES:
                _close(actual[k], expected[k], f"{where}.{k}")
    elif isinstance(expected, list):
        assert len(actual) == len(expected), f"{where}: lengths differ"
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            _close(a, e, f"{where}[{i}]")
    elif isinstance(expected, float) or isinstance(actual, float):
        assert abs(actual - expected) <= ATOL + RTOL * abs(expected), \
            f"{where}: {actual} != {expected}"
    elif isinstance(expected, str) and actual != expected:
        a, e = _floats(actual), _floats(expected)
        assert a is not None and e is not None and a.shape == e.shape, \
            f"{where}: {actual[:60]!r} != {expected[:60]!r}"
        scale = float(np.max(np.abs(e))) or 1.0
        assert float(np.max(np.abs(a - e))) <= ARRAY_RTOL * scale, f"{where}: arrays differ"
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"


def _check(name: str, actual: dict) -> None:
    path = GOLDEN / name
    stamp = GOLDEN / "platform.json"
    text = json.dumps(actual, indent=1, sort_keys=True) + "\n"
    if WRITE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        stamp.write_text(json.dumps(_platform(), indent=1, sort_keys=True) + "\n",
                         encoding="utf-8")
        pytest.skip(f"wrote {path}")
    expected = json.loads(path.read_text(encoding="utf-8"))
    if json.loads(stamp.read_text(encoding="utf-8")) == _platform():
        assert json.loads(text) == expected
    else:
        _close(json.loads(text), expected)


def test_close_catches_what_matters():
    """The cross-platform comparison still fails on a changed title, order, flag or a
    fingerprint beyond rounding."""
    fp = _bits(np.arange(1, 9, dtype=np.float32))
    golden = {"songs": [{"title": "A", "rank": 1, "qualifies": True, "z": 2.0, "fp": fp}],
              "digest": "ab"}
    _close({"songs": [{"title": "A", "rank": 1, "qualifies": True, "z": 2.05,
                       "fp": _bits(np.arange(1, 9, dtype=np.float32) * (1 + 1e-6))}],
            "digest": "cd"}, golden)
    for changed in ({"title": "B"}, {"rank": 2}, {"qualifies": False}, {"z": 3.0},
                    {"fp": _bits(np.arange(1, 9, dtype=np.float32) * 1.01)}):
        other = {"songs": [{**golden["songs"][0], **changed}], "digest": "ab"}
        with pytest.raises(AssertionError):
            _close(other, golden)


@pytest.fixture(scope="module")
def song(tmp_path_factory):
    import soundfile as sf

    from lumina.demo.synth import random_music

    path = tmp_path_factory.mktemp("golden") / "Golden - Song.wav"
    sf.write(path, random_music(14.0, 32000, 4242), 32000)
    return path


@pytest.mark.parametrize(("rendering", "output", "loudness", "name"), [
    # the paper's loss: the files written before output functions existed, unchanged
    (None, "loss", None, "fingerprint-plain.json"),
    ("shepard", "loss", None, "fingerprint-shepard.json"),
    # the tempered output function (issue 19), before loudness normalisation existed
    (None, "tempered", None, "fingerprint-plain-tempered.json"),
    # the default loudness normalisation (issue 22)
    (None, "tempered", "rms", "fingerprint-plain-tempered-rms.json"),
])
def test_fingerprint_matches_the_golden_file(tiny_model, song, rendering, output, loudness,
                                             name):
    from lumina.fingerprint.fingerprinter import Fingerprinter

    fp = Fingerprinter(tiny_model, device="cpu", composition_rendering=rendering,
                       output_function=output, loudness=loudness).fingerprint_file(song)
    _check(name, _fingerprint_json(fp))


def test_report_payload_matches_the_golden_file(catalog, fingerprinter):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from lumina.analysis import analyze
    from lumina.reports.report import report_predicate

    lib_path, songs = catalog
    result = analyze(songs[4], lib_path, fingerprinter, top=3, gate="per-song", level=0.1)
    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    payload = report_predicate(result.to_json(), key)
    payload = _scrub(payload, {str(lib_path): "<library>", str(songs[4].parent): "<music>"})
    _check("report-payload.json", payload)
