"""The canonical key (issue 22): a transposition moves the estimated tonic with it, and the
``shepard-key`` rendering of a transposed melody is the rendering of the original."""

from __future__ import annotations

import numpy as np
import pytest

from lumina.fingerprint.key import MAJOR_PROFILE, estimate_tonic, to_canonical_key
from lumina.fingerprint.rendering import get_rendering, render

RATE = 32000


def _melody(semitones: float, seconds: float = 8.0) -> np.ndarray:
    """A C-major tune of decaying harmonic tones, transposed by ``semitones``."""
    steps = [0, 4, 7, 12, 9, 5, 7, 2, 4, 0, 11, 7, 5, 4, 2, 0]  # scale degrees as semitones
    note = int(RATE * seconds / len(steps))
    t = np.arange(note) / RATE
    out = []
    for s in steps:
        f = 261.63 * 2 ** ((s + semitones) / 12)
        tone = sum(np.sin(2 * np.pi * f * h * t) / h for h in (1, 2, 3))
        out.append(tone * np.exp(-3 * t))
    return (0.3 * np.concatenate(out)).astype(np.float32)


def test_the_tonic_moves_with_a_rotation_of_the_chroma():
    rng = np.random.default_rng(1)
    chroma = rng.random((40, 12)) * 0.2 + np.roll(MAJOR_PROFILE, 5) / 10  # F major-ish
    assert estimate_tonic(chroma) == 5
    for k in range(12):
        assert estimate_tonic(np.roll(chroma, k, axis=1)) == (5 + k) % 12
        np.testing.assert_array_equal(to_canonical_key(np.roll(chroma, k, axis=1)),
                                      to_canonical_key(chroma))
    assert estimate_tonic(np.zeros((10, 12))) == 0  # silence: nothing to estimate
    assert estimate_tonic(np.ones((10, 12))) == 0  # flat: nothing to estimate


@pytest.mark.parametrize("semitones", [1, -2])
def test_shepard_key_renders_a_transposed_melody_the_same(semitones):
    assert get_rendering("shepard-key").id == "shepard-key/1"
    a, b = _melody(0), _melody(semitones)

    def corr(x, y):
        return float(np.dot(x, y) / (np.linalg.norm(x) * np.linalg.norm(y)))

    keyed = corr(render(a, RATE, "shepard-key"), render(b, RATE, "shepard-key"))
    plain = corr(render(a, RATE, "shepard"), render(b, RATE, "shepard"))
    assert keyed > 0.99 and plain < 0.9
