"""Row 6's baseline: plain audio features that any attribution method should beat.

Mean MFCC (timbre: plays the production channel) and mean chroma (notes: plays the
composition channel), each centred on the library and scored by cosine;
:func:`baseline_scores` ranks a library against one query with them.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

__all__ = ["baseline_scores", "chroma_mean", "mfcc_mean"]


@lru_cache(maxsize=8)
def _mel_filterbank(rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """Triangular filters (n_mels, n_fft // 2 + 1) on the HTK mel scale, area-normalised."""
    def mel(f):
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    def hz(m):
        return 700.0 * (10.0 ** (np.asarray(m) / 2595.0) - 1.0)

    freqs = np.fft.rfftfreq(n_fft, 1.0 / rate)
    edges = hz(np.linspace(mel(fmin), mel(fmax), n_mels + 2))
    fb = np.zeros((n_mels, freqs.size))
    for m in range(n_mels):
        lo, mid, hi = edges[m], edges[m + 1], edges[m + 2]
        rise = (freqs - lo) / (mid - lo)
        fall = (hi - freqs) / (hi - mid)
        fb[m] = np.maximum(0.0, np.minimum(rise, fall)) * 2.0 / (hi - lo)
    return fb


@lru_cache(maxsize=8)
def _dct_matrix(n_out: int, n_in: int) -> np.ndarray:
    """Orthonormal DCT-II (n_out, n_in)."""
    k = np.arange(n_out)[:, None]
    n = np.arange(n_in)[None, :]
    m = np.cos(np.pi * k * (2 * n + 1) / (2 * n_in)) * math.sqrt(2.0 / n_in)
    m[0] /= math.sqrt(2.0)
    return m


def mfcc_mean(x: np.ndarray, rate: int, n_mfcc: int = 20, n_mels: int = 40, n_fft: int = 2048,
              hop: int = 1024, fmin: float = 20.0) -> np.ndarray:
    """Mean MFCC of a mono signal, without c0 (loudness): float64 (n_mfcc − 1,).

    Hann-windowed power spectra, ``n_mels`` triangular mel filters from ``fmin`` to Nyquist,
    natural log (floored 80 dB below the loudest band), orthonormal DCT-II; the mean over
    frames.
    """
    y = np.asarray(x, dtype=np.float64).reshape(-1)
    if y.size < n_fft:
        y = np.pad(y, (0, n_fft - y.size))
    frames = np.lib.stride_tricks.sliding_window_view(y, n_fft)[::hop]
    power = np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=1)) ** 2
    mel = power @ _mel_filterbank(rate, n_fft, n_mels, fmin, rate / 2.0).T
    # Floor at 80 dB below the loudest band, so a change of level moves only c0.
    floor = max(float(mel.max()) * 1e-8, 1e-20)
    coeffs = np.log(np.maximum(mel, floor)) @ _dct_matrix(n_mfcc, n_mels).T
    return coeffs.mean(axis=0)[1:]


def chroma_mean(x: np.ndarray, rate: int) -> np.ndarray:
    """Time-averaged 12-bin chroma (the demo catalog's plain "what notes" feature)."""
    from lumina.demo.catalog import chroma

    return chroma(x, rate)


def baseline_scores(query: dict[str, np.ndarray], library: dict[str, np.ndarray]
                    ) -> dict[str, np.ndarray]:
    """Cosine scores of the baseline: ``{"chroma", "mfcc", "combined"}`` → (N,).

    Chroma is centred on the library mean, MFCC standardised with the library's mean and
    standard deviation per coefficient; "combined" is the mean of the two cosines (the
    cosine of the two unit vectors concatenated).
    """
    out = {}
    for name in ("chroma", "mfcc"):
        lib = np.asarray(library[name], dtype=np.float64)
        mean = lib.mean(axis=0)
        scale = lib.std(axis=0) + 1e-9 if name == "mfcc" else 1.0
        rows = (lib - mean) / scale
        q = (np.asarray(query[name], dtype=np.float64) - mean) / scale
        rows /= np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
        q /= max(float(np.linalg.norm(q)), 1e-12)
        out[name] = rows @ q
    out["combined"] = 0.5 * (out["chroma"] + out["mfcc"])
    return out

