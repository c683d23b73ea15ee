"""Golden outputs: fingerprints and a report payload, bit for bit, as written before the
engine was restructured (issue 18). A change of a fingerprint bit, a report field or the
order of songs shows up here.

Regenerate only on purpose (a deliberate change of the method or the format):
``LUMINA_WRITE_GOLDEN=1 python -m pytest tests/test_golden.py``.
"""

from __future__ import annotations

import base64
import json
import os
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


def _check(name: str, actual: dict) -> None:
    path = GOLDEN / name
    text = json.dumps(actual, indent=1, sort_keys=True) + "\n"
    if WRITE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        pytest.skip(f"wrote {path}")
    expected = json.loads(path.read_text(encoding="utf-8"))
    assert json.loads(text) == expected


@pytest.fixture(scope="module")
def song(tmp_path_factory):
    import soundfile as sf

    from lumina.demo.synth import random_music

    path = tmp_path_factory.mktemp("golden") / "Golden - Song.wav"
    sf.write(path, random_music(14.0, 32000, 4242), 32000)
    return path


@pytest.mark.parametrize(("rendering", "output", "name"), [
    # the paper's loss: the files written before output functions existed, unchanged
    (None, "loss", "fingerprint-plain.json"),
    ("shepard", "loss", "fingerprint-shepard.json"),
    # the default output function (issue 19)
    (None, "tempered", "fingerprint-plain-tempered.json"),
])
def test_fingerprint_matches_the_golden_file(tiny_model, song, rendering, output, name):
    from lumina.fingerprint.fingerprinter import Fingerprinter

    fp = Fingerprinter(tiny_model, device="cpu", composition_rendering=rendering,
                       output_function=output).fingerprint_file(song)
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
