"""A canonical key for pitch-class content, so that a transposed song renders the same
(issue 22).

A composition right covers a melody in any key. The ``shepard-key`` rendering
(:mod:`lumina.fingerprint.rendering`) rotates a chunk's chroma so that its estimated tonic
becomes pitch class 0 before it re-synthesises it; a song transposed by k semitones has its
chroma rotated by k, its estimated tonic moved by k, and so the same rendering.

The estimate is a key-profile correlation (Krumhansl & Kessler's major probe-tone profile,
as in Krumhansl–Schmuckler key finding): the chunk's mean chroma is correlated with the
profile in all 12 rotations and the best rotation names the tonic. Only consistency matters
here, not music-theoretic truth: a wrong but stable estimate is as good as a right one,
because library songs and queries are rotated alike. The minor profile is left out on
purpose: with both, the estimate flips between relative keys (a rotation off by 3). Measured
on held-out songs (``heldout_compositions(8, seed=7)`` in timbres 0, 2, 4 — in no catalog
and not in the study), 10 s each, shifted ±1 and ±2 semitones by the study's phase vocoder:
the estimate moved with the shift for 0.96 / 1.00 / 0.88 / 0.92 of them (+1 / −1 / +2 / −2)
with the major profile alone, 0.88 / 0.88 / 0.92 / 0.83 with major and minor, 0.88 / 0.96 /
0.83 / 0.83 for the loudest pitch class. Pure numpy, deterministic (ties go to the lowest
pitch class).
"""

from __future__ import annotations

import numpy as np

__all__ = ["MAJOR_PROFILE", "estimate_tonic", "to_canonical_key"]

#: Krumhansl & Kessler (1982) major-key probe-tone profile, tonic first.
MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29,
                          2.88])


def _rotations(profile: np.ndarray) -> np.ndarray:
    """(12, 12): row k is ``profile`` with its tonic on pitch class k, centred and unit."""
    rows = np.stack([np.roll(profile, k) for k in range(12)])
    rows = rows - rows.mean(axis=1, keepdims=True)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


_PROFILES = _rotations(MAJOR_PROFILE)  # (12, 12)


def estimate_tonic(chroma: np.ndarray) -> int:
    """The tonic pitch class (0 = C) of chroma frames.

    Parameters
    ----------
    chroma : (T, 12) non-negative, pitch class 0 = C.

    Returns
    -------
    int in [0, 12): the tonic of the best-correlated major key; 0 when the chroma is silent
    or flat (nothing to estimate).
    """
    mean = np.asarray(chroma, dtype=np.float64).reshape(-1, 12).mean(axis=0)
    centred = mean - mean.mean()
    norm = float(np.linalg.norm(centred))
    if not norm > 1e-12:
        return 0
    scores = _PROFILES @ (centred / norm)
    return int(np.argmax(scores))


def to_canonical_key(chroma: np.ndarray) -> np.ndarray:
    """``chroma`` (T, 12) rotated so that its estimated tonic is pitch class 0."""
    chroma = np.asarray(chroma)
    return np.roll(chroma, -estimate_tonic(chroma), axis=1)
