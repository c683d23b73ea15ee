"""The GPU-ready fingerprint path (issue 24), tested on CPU: precision options, the batch
chosen by default, splitting on out-of-memory, no host sync in the hooks, and the
``bench/gpu_check.py`` smoke run."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from lumina.demo.synth import random_music
from lumina.errors import LuminaError
from lumina.fingerprint.fingerprinter import Fingerprinter
from lumina.fingerprint.precision import CPU_BATCH, PRECISIONS
from lumina.fingerprint.projection import GradientProjector
from lumina.library.manifest import IDENTITY_FIELDS

ROOT = Path(__file__).resolve().parents[2]


def _cos(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.fixture(scope="module")
def track():
    return random_music(22.0, 32000, seed=7)  # 10 s, 10 s and a 2 s tail


@pytest.fixture(scope="module")
def float32_fp(tiny_model, track):
    return Fingerprinter(tiny_model, device="cpu").fingerprint_audio(track)


def test_default_is_float32_batch_four_and_unrecorded(tiny_model, track, float32_fp):
    fingerprinter = Fingerprinter(tiny_model, device="cpu")
    assert fingerprinter.precision == "float32" and fingerprinter.batch_size == CPU_BATCH
    assert float32_fp.precision == "float32"
    assert "precision" not in float32_fp.parameters()
    explicit = Fingerprinter(tiny_model, device="cpu", batch_size=4,
                             precision="float32").fingerprint_audio(track)
    for c in float32_fp.channels:
        assert np.array_equal(explicit.chunk_vectors[c], float32_fp.chunk_vectors[c])
    assert np.array_equal(explicit.loss, float32_fp.loss)


def test_bfloat16_autocast_within_0999_of_float32(tiny_model, track, float32_fp):
    fp = Fingerprinter(tiny_model, device="cpu", precision="bfloat16").fingerprint_audio(track)
    assert fp.precision == "bfloat16" and fp.parameters()["precision"] == "bfloat16"
    assert not np.array_equal(fp.loss, float32_fp.loss)  # the autocast really ran
    assert np.allclose(fp.loss, float32_fp.loss, rtol=1e-2)
    for c in float32_fp.channels:
        assert _cos(fp.channels[c], float32_fp.channels[c]) >= 0.999, c
        for x, y in zip(fp.chunk_vectors[c], float32_fp.chunk_vectors[c], strict=True):
            assert _cos(x, y) >= 0.999, c
    # Provenance, not identity: the library's check ignores the precision.
    assert "precision" not in IDENTITY_FIELDS
    # The autocast is confined to the pass.
    assert not torch.is_autocast_enabled("cpu")


def test_tf32_is_float32_off_cuda(tiny_model, track, float32_fp):
    fp = Fingerprinter(tiny_model, device="cpu", precision="tf32").fingerprint_audio(track)
    assert fp.parameters()["precision"] == "tf32"
    for c in float32_fp.channels:
        assert np.array_equal(fp.chunk_vectors[c], float32_fp.chunk_vectors[c])


def test_unknown_precision_is_one_line_error(tiny_model):
    with pytest.raises(LuminaError, match="precision"):
        Fingerprinter(tiny_model, device="cpu", precision="float16")
    assert PRECISIONS == ("float32", "bfloat16", "tf32")


def test_out_of_memory_splits_the_batch(tiny_model, track, monkeypatch):
    reference = Fingerprinter(tiny_model, device="cpu", batch_size=1).fingerprint_audio(track)
    fingerprinter = Fingerprinter(tiny_model, device="cpu", batch_size=4)
    real = fingerprinter.fingerprint_codes
    seen: list[int] = []

    def small_device(codes, rendered=None):
        seen.append(codes.shape[0])
        if codes.shape[0] > 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")
        return real(codes, rendered)

    monkeypatch.setattr(fingerprinter, "fingerprint_codes", small_device)
    fp = fingerprinter.fingerprint_audio(track)
    assert seen[:3] == [2, 1, 1] and fingerprinter.batch_size == 1
    for c in fp.channels:
        assert np.array_equal(fp.chunk_vectors[c], reference.chunk_vectors[c])


def test_other_errors_are_not_swallowed(tiny_model, track, monkeypatch):
    fingerprinter = Fingerprinter(tiny_model, device="cpu")

    def broken(codes, rendered=None):
        raise RuntimeError("shape mismatch")

    monkeypatch.setattr(fingerprinter, "fingerprint_codes", broken)
    with pytest.raises(RuntimeError, match="shape mismatch"):
        fingerprinter.fingerprint_audio(track)


def test_hooks_do_not_sync_with_the_host(tiny_model, monkeypatch):
    """The hooks add no .item()/.cpu()/.numpy()/.tolist() to a pass (on CUDA each would wait
    for the device at every layer)."""
    codes = torch.randint(0, tiny_model.card, (2, tiny_model.num_codebooks, 100),
                          generator=torch.Generator().manual_seed(0))
    calls = {"n": 0}

    def counting(name):
        original = getattr(torch.Tensor, name)

        def wrapper(self, *args, **kwargs):
            calls["n"] += 1
            return original(self, *args, **kwargs)
        return wrapper

    def count_pass(projector: GradientProjector) -> int:
        calls["n"] = 0
        with monkeypatch.context() as patch:
            for name in ("item", "cpu", "numpy", "tolist"):
                patch.setattr(torch.Tensor, name, counting(name))
            with projector:
                tiny_model.per_example_loss(codes).sum().backward()
        return calls["n"]

    with_hooks = GradientProjector(tiny_model)
    without = GradientProjector(tiny_model, channels=())
    assert count_pass(with_hooks) == count_pass(without)
    assert set(with_hooks.collect()) == set(tiny_model.channels)
    # The projection factors are put on the device once, not at every batch.
    factors = with_hooks._device_factors
    with with_hooks:
        pass
    assert with_hooks._device_factors is factors


def test_gpu_check_smoke_on_cpu(tmp_path):
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "bench" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "gpu_check.json"
    result = module.main(["--device", "cpu", "--sizes", "tiny", "--seconds", "12",
                          "--json", str(out)])
    saved = json.loads(out.read_text())
    assert saved["rows"][0]["size"] == "tiny" and result["tiny_checks"]["skipped"]
    runs = saved["rows"][0]["runs"]
    assert set(runs) == {"float32", "bfloat16"} and runs["float32"]["seconds"] > 0
    for agreement in runs["bfloat16"]["cosine_to_float32"].values():
        assert agreement["track"] >= 0.999 and agreement["min_chunk"] >= 0.999
