"""Shared fixtures: a tiny MusicGen built from a config with a fixed seed, and music-like
audio files written into temporary folders. Qt runs offscreen in every test."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import soundfile as sf  # noqa: E402


@pytest.fixture(autouse=True)
def private_user_folders(tmp_path_factory, monkeypatch):
    """No test writes a signing key or a demo cache into the real user folders."""
    monkeypatch.setenv("LUMINA_HOME", str(tmp_path_factory.mktemp("lumina-home")))
    monkeypatch.setenv("LUMINA_CACHE", str(tmp_path_factory.mktemp("lumina-cache")))


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """One torch thread for the whole session: the test machine's two cores are shared, and
    a fingerprint is only bit-identical to the library's when both used the same thread
    count (session fixtures index before any module fixture could set it)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_model():
    """An untrained lumina-tiny architecture with seeded codebooks (seed 0)."""
    from lumina.models.tiny import build_tiny_model

    return build_tiny_model(seed=0)


@pytest.fixture(scope="session")
def music_files(tmp_path_factory):
    """Three music-like WAV files: 25 s and 12 s at 44.1 kHz stereo, 10 s at 32 kHz mono."""
    from lumina.demo.synth import random_music

    folder = tmp_path_factory.mktemp("music")
    paths = []
    for i, (seconds, rate, stereo) in enumerate(((25.0, 44100, True), (12.0, 44100, True),
                                                 (10.0, 32000, False))):
        x = random_music(seconds, rate, seed=100 + i)
        data = np.stack([x, np.roll(x, 7)], axis=1) if stereo else x
        path = folder / f"song{i}.wav"
        sf.write(path, data, rate)
        paths.append(path)
    return paths


def write_song(path, seconds: float, seed: int, rate: int = 32000):
    """A music-like mono WAV of ``seconds`` at ``rate`` (deterministic in ``seed``)."""
    from lumina.demo.synth import random_music

    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, random_music(seconds, rate, seed), rate)
    return path


def wait_for_committed_songs(proc, lib_path, at_least: int, timeout_s: float) -> int:
    """Poll the library a subprocess is indexing into until it holds ``at_least`` committed
    songs, the process ends or ``timeout_s`` passes; returns the last count seen."""
    import time

    from lumina.library import Library

    committed = 0
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        if (lib_path / "manifest.json").exists():
            with Library.open(lib_path, repair=False) as lib:
                committed = len(lib)
            if committed >= at_least:
                break
        time.sleep(0.01)
    return committed


@pytest.fixture(scope="session")
def fingerprinter(tiny_model):
    from lumina.fingerprint.fingerprinter import Fingerprinter

    return Fingerprinter(tiny_model, device="cpu")


@pytest.fixture(scope="session")
def model_dir(tiny_model, tmp_path_factory):
    """The tiny model saved as a transformers folder (what a library records as its model)."""
    from lumina.models.transformers_folder import save_transformers_folder

    return save_transformers_folder(tiny_model, tmp_path_factory.mktemp("model") / "tiny")


@pytest.fixture(scope="session")
def catalog(tmp_path_factory, fingerprinter, model_dir):
    """(library folder, song paths): five short songs indexed with the tiny model, one of
    them 16 s so a query of it has two chunks in its timeline."""
    from lumina.indexing import index_files
    from lumina.library import Library
    from lumina.workspace import identity_of_fingerprinter

    root = tmp_path_factory.mktemp("catalog")
    songs = [write_song(root / "music" / f"Band {i} - Tune {i}.wav", 3.0 + i, 300 + i)
             for i in range(4)]
    songs.append(write_song(root / "music" / "Band 4 - Long.wav", 16.0, 304))
    lib = Library.create(root / "lib", identity_of_fingerprinter(fingerprinter),
                         model_spec=str(model_dir))
    with lib.writer() as w:
        summary = index_files(w, songs, fingerprinter)
    assert summary.indexed == 5
    lib.close()
    return root / "lib", songs
