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
