"""Fingerprints of whole tracks: determinism, batching, chunk averaging, JSON, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from lumina.cli import main
from lumina.fingerprint.fingerprinter import Cancelled, Fingerprinter
from lumina.fingerprint.projection import GradientProjector


@pytest.fixture(scope="module")
def fingerprinter(tiny_model):
    return Fingerprinter(tiny_model, device="cpu", batch_size=4)


def test_chunks_times_and_shapes(fingerprinter, music_files):
    fp = fingerprinter.fingerprint_file(music_files[0])  # 25 s → 10, 10, 5
    assert fp.n_chunks == 3
    assert np.allclose(fp.chunk_times, [[0, 10], [10, 20], [20, 25]])
    for channel in ("composition", "production"):
        assert fp.channels[channel].shape == (512,)
        assert fp.chunk_vectors[channel].shape == (3, 512)
        assert np.all(np.isfinite(fp.channels[channel]))
    assert len(fp.audio_sha256) == 64 and fp.model_sha256 == fingerprinter.model.weights_sha256


def test_rerun_is_bit_identical(tiny_model, music_files):
    a = Fingerprinter(tiny_model, device="cpu").fingerprint_file(music_files[1])
    b = Fingerprinter(tiny_model, device="cpu").fingerprint_file(music_files[1])
    for channel in a.channels:
        assert np.array_equal(a.channels[channel], b.channels[channel])
        assert np.array_equal(a.chunk_vectors[channel], b.chunk_vectors[channel])


def test_batch_size_one_and_four_agree(tiny_model, music_files):
    a = Fingerprinter(tiny_model, device="cpu", batch_size=1).fingerprint_file(music_files[0])
    b = Fingerprinter(tiny_model, device="cpu", batch_size=4).fingerprint_file(music_files[0])
    for channel in a.channels:
        x, y = a.chunk_vectors[channel], b.chunk_vectors[channel]
        assert np.max(np.abs(x - y)) <= 1e-5 * np.max(np.abs(x))


def test_track_fingerprint_is_projection_of_mean_gradient(tiny_model, fingerprinter,
                                                          music_files):
    from lumina.audio import load_audio

    audio = load_audio(music_files[1], tiny_model.sample_rate)  # 12 s → one 10 s chunk + drop
    audio2 = load_audio(music_files[0], tiny_model.sample_rate)
    samples = np.concatenate([audio.samples[:320000], audio2.samples[:320000]])
    fp = fingerprinter.fingerprint_audio(samples)
    assert fp.n_chunks == 2
    # one chunk at a time and at the reference loudness, as the fingerprinter encodes
    # (batched convolutions may round differently and flip a code)
    codes = torch.cat([tiny_model.encode(torch.from_numpy(fingerprinter.normaliser.apply(c))[None])
                       for c in samples.reshape(2, -1)])
    names = {c: list(tiny_model.channel_modules(c)) for c in tiny_model.channels}
    all_names = [n for c in tiny_model.channels for n in names[c]]
    modules = dict(tiny_model.decoder.named_modules())
    weights = [modules[n].weight for n in all_names]
    temperature = fingerprinter.output.temperature  # the output function
    grads = [torch.autograd.grad(
        tiny_model.per_example_loss(codes[i:i + 1], temperature).sum(), weights)
             for i in range(2)]
    mean_grad = {n: (grads[0][j] + grads[1][j]) / 2 for j, n in enumerate(all_names)}
    reference = GradientProjector(tiny_model, dim=512, seed=0).project_gradients(mean_grad)
    for channel in tiny_model.channels:
        ref = reference[channel].numpy()
        assert np.allclose(fp.channels[channel], ref, rtol=1e-4, atol=1e-6 * np.abs(ref).max())
        # and the track vector is exactly the mean of the chunk vectors
        assert np.allclose(fp.channels[channel], fp.chunk_vectors[channel].mean(0), rtol=1e-6)


def test_progress_and_cancel(fingerprinter, music_files):
    seen = []
    fingerprinter.fingerprint_file(music_files[0], progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (3, 3)
    with pytest.raises(Cancelled):
        fingerprinter.fingerprint_file(music_files[0], cancel=lambda: True)


def test_cli_fingerprint_json(tmp_path, music_files, tiny_model, capsys):
    from lumina.models.transformers_folder import save_transformers_folder

    model_dir = save_transformers_folder(tiny_model, tmp_path / "model")
    out = tmp_path / "fp.json"
    assert main(["fingerprint", str(music_files[2]), "--model", str(model_dir),
                 "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert len(data["composition"]) == 512 and len(data["production"]) == 512
    assert data["model_sha256"] == tiny_model.weights_sha256
    assert data["dim"] == 512 and data["projection_seed"] == 0 and data["chunk_seconds"] == 10.0


def test_cli_bad_input_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"this is not audio at all" * 10)
    code = main(["fingerprint", str(bad), "--model", str(tmp_path / "missing-model")])
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and "Traceback" not in err


def test_span_fingerprints_only_the_selection_in_track_time(fingerprinter, music_files):
    from lumina.audio import file_sha256, load_audio
    from lumina.errors import LuminaError

    fp = fingerprinter.fingerprint_file(music_files[0], span=(3.0, 16.5))  # 13.5 s: one chunk
    assert fp.span == (3.0, 16.5) and fp.n_chunks == 1
    assert np.allclose(fp.chunk_times, [[3.0, 13.0]])
    rate = fingerprinter.model.sample_rate
    part = load_audio(music_files[0], rate).samples[3 * rate:int(16.5 * rate)]
    same = fingerprinter.fingerprint_audio(part)
    for channel in fp.channels:
        assert np.array_equal(fp.channels[channel], same.channels[channel])
    assert fp.audio_sha256 == file_sha256(music_files[0])
    for bad in ((5.0, 5.5), (-1.0, 4.0), (24.8, 40.0), (float("nan"), 3.0)):
        with pytest.raises(LuminaError, match="selection"):
            fingerprinter.fingerprint_file(music_files[0], span=bad)


def test_fingerprint_loaded_equals_fingerprint_file(fingerprinter, music_files):
    from lumina.audio import load_audio
    from lumina.errors import LuminaError

    rate = fingerprinter.model.sample_rate
    streamed = fingerprinter.fingerprint_file(music_files[0])  # 44.1 kHz stereo → resampled
    loaded = fingerprinter.fingerprint_loaded(load_audio(music_files[0], rate))
    for channel in streamed.channels:
        assert np.array_equal(streamed.chunk_vectors[channel], loaded.chunk_vectors[channel])
    assert loaded.audio_sha256 == streamed.audio_sha256 and loaded.source == "song0.wav"
    with pytest.raises(LuminaError, match="needs"):
        fingerprinter.fingerprint_loaded(load_audio(music_files[0], 16000))
