"""Row 5's transforms: what a song goes through before it is attributed again.

MP3 at 128 kbit/s (PyAV/FFmpeg), pitch ±1 semitone and tempo ±5 % (a numpy phase vocoder,
soxr for the resampling), white noise at 20 dB SNR, a 10 s excerpt and a gain change of
±6 dB (a plain scaling, not clipped: the level, not distortion, is what it tests); each one a
plain function of mono float audio, and :func:`apply_transform` picks one by name.
"""

from __future__ import annotations

import io
import math

import numpy as np

from lumina.errors import LuminaError
from lumina.validation.config import ValidationConfig

__all__ = [
    "TRANSFORMS",
    "TRANSFORM_LABELS",
    "apply_transform",
    "mp3_roundtrip",
    "pitch_shift",
    "time_stretch",
    "white_noise",
]

TRANSFORMS = ("mp3_128k", "pitch_up_1", "pitch_down_1", "tempo_up_5", "tempo_down_5",
              "noise_20db", "excerpt_10s", "gain_down_6", "gain_up_6")
TRANSFORM_LABELS = {
    "mp3_128k": "MP3 128 kbit/s",
    "pitch_up_1": "pitch +1 semitone",
    "pitch_down_1": "pitch -1 semitone",
    "tempo_up_5": "tempo +5 %",
    "tempo_down_5": "tempo -5 %",
    "noise_20db": "white noise, 20 dB SNR",
    "excerpt_10s": "10 s excerpt",
    "gain_down_6": "gain -6 dB",
    "gain_up_6": "gain +6 dB",
}


def _stft(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Centred, Hann-windowed STFT (F, T) complex128."""
    pad = n_fft // 2
    y = np.pad(np.asarray(x, dtype=np.float64), (pad, pad + n_fft))
    n_frames = 1 + (len(y) - n_fft) // hop
    frames = np.lib.stride_tricks.sliding_window_view(y, n_fft)[::hop][:n_frames]
    return np.fft.rfft(frames * np.hanning(n_fft + 1)[:-1], axis=1).T


def _istft(spec: np.ndarray, n_fft: int, hop: int, length: int) -> np.ndarray:
    """Weighted overlap-add inverse of :func:`_stft`, ``length`` samples."""
    window = np.hanning(n_fft + 1)[:-1]
    frames = np.fft.irfft(spec.T, n=n_fft, axis=1) * window
    total = n_fft + hop * (frames.shape[0] - 1)
    out = np.zeros(total)
    norm = np.zeros(total)
    for i, frame in enumerate(frames):
        out[i * hop:i * hop + n_fft] += frame
        norm[i * hop:i * hop + n_fft] += window ** 2
    out /= np.maximum(norm, 1e-8)
    pad = n_fft // 2
    out = out[pad:pad + length]
    return np.pad(out, (0, max(0, length - out.size)))


def time_stretch(x: np.ndarray, rate: float, n_fft: int = 2048, hop: int = 512) -> np.ndarray:
    """Change the tempo by ``rate`` (> 1 faster, < 1 slower) and keep the pitch.

    A plain phase vocoder in numpy: magnitudes interpolated between analysis frames at
    fractional positions, phases advanced by each bin's measured instantaneous frequency.
    Transients smear a little (the classic "phasiness"), as with any phase vocoder.

    Returns
    -------
    float32 (round(len(x) / rate),)
    """
    if rate <= 0:
        raise ValueError(f"rate must be positive, got {rate}")
    spec = _stft(x, n_fft, hop)
    n_bins, n_frames = spec.shape
    steps = np.arange(0.0, n_frames - 1, rate)
    spec = np.concatenate([spec, np.zeros((n_bins, 1))], axis=1)
    idx = steps.astype(int)
    frac = (steps - idx)[None, :]
    mag = (1 - frac) * np.abs(spec[:, idx]) + frac * np.abs(spec[:, idx + 1])
    expected = 2 * np.pi * hop * np.arange(n_bins) / n_fft
    dphi = np.angle(spec[:, idx + 1]) - np.angle(spec[:, idx]) - expected[:, None]
    dphi -= 2 * np.pi * np.round(dphi / (2 * np.pi))
    advance = expected[:, None] + dphi
    phase = np.angle(spec[:, :1]) + np.concatenate(
        [np.zeros((n_bins, 1)), np.cumsum(advance[:, :-1], axis=1)], axis=1)
    length = int(round(len(x) / rate))
    return _istft(mag * np.exp(1j * phase), n_fft, hop, length).astype(np.float32)


def pitch_shift(x: np.ndarray, rate: int, semitones: float) -> np.ndarray:
    """Shift the pitch by ``semitones`` and keep the tempo: a phase-vocoder time stretch by
    the pitch ratio, then a soxr resampling back to the original duration.

    Returns
    -------
    float32, same length as ``x``.
    """
    import soxr

    ratio = 2.0 ** (semitones / 12.0)
    longer = time_stretch(x, 1.0 / ratio)
    y = soxr.resample(longer.astype(np.float64), rate * ratio, rate, quality="HQ")
    y = y[:len(x)]
    return np.pad(y, (0, len(x) - len(y))).astype(np.float32)


def white_noise(x: np.ndarray, snr_db: float, seed: int) -> np.ndarray:
    """``x`` plus seeded Gaussian white noise at ``snr_db`` below the signal's mean power."""
    x = np.asarray(x, dtype=np.float64)
    power = float(np.mean(x ** 2))
    noise = np.random.default_rng(seed).standard_normal(x.shape)
    return (x + noise * math.sqrt(power / 10 ** (snr_db / 10))).astype(np.float32)


def mp3_roundtrip(x: np.ndarray, rate: int, kbps: int = 128) -> np.ndarray:
    """Encode mono float audio as MP3 (LAME through PyAV/FFmpeg) and decode it again.

    Raises
    ------
    LuminaError
        This FFmpeg build has no MP3 encoder.
    """
    import av

    if "libmp3lame" not in av.codecs_available:
        raise LuminaError("this FFmpeg build (PyAV) has no MP3 encoder (libmp3lame)")
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp3") as out:
        stream = out.add_stream("libmp3lame", rate=rate, layout="mono")
        stream.bit_rate = int(kbps) * 1000
        resampler = av.AudioResampler(format=stream.codec_context.format, layout="mono",
                                      rate=rate)
        frame = av.AudioFrame.from_ndarray(np.asarray(x, dtype=np.float32)[None], format="flt",
                                           layout="mono")
        frame.sample_rate = rate
        for source in (frame, None):
            for resampled in resampler.resample(source):
                for packet in stream.encode(resampled):
                    out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    pieces = []
    with av.open(io.BytesIO(buf.getvalue()), mode="r") as inp:
        for decoded in inp.decode(audio=0):
            a = decoded.to_ndarray()
            if decoded.format.is_planar:
                pieces.append(a.mean(axis=0))
            else:
                pieces.append(a.reshape(-1, len(decoded.layout.channels)).mean(axis=1))
    y = np.concatenate(pieces).astype(np.float64)
    if np.issubdtype(a.dtype, np.integer):
        y /= float(np.iinfo(a.dtype).max)
    y = y[:len(x)]
    return np.pad(y, (0, len(x) - len(y))).astype(np.float32)


def apply_transform(name: str, x: np.ndarray, rate: int, config: ValidationConfig,
                    index: int) -> np.ndarray:
    """One of :data:`TRANSFORMS` applied to song ``index`` of the catalog."""
    if name == "mp3_128k":
        return mp3_roundtrip(x, rate, config.mp3_kbps)
    if name == "pitch_up_1":
        return pitch_shift(x, rate, config.pitch_semitones)
    if name == "pitch_down_1":
        return pitch_shift(x, rate, -config.pitch_semitones)
    if name == "tempo_up_5":
        return time_stretch(x, 1.0 + config.tempo_change)
    if name == "tempo_down_5":
        return time_stretch(x, 1.0 - config.tempo_change)
    if name == "noise_20db":
        return white_noise(x, config.noise_snr_db, config.noise_seed + index)
    if name in ("gain_down_6", "gain_up_6"):
        sign = -1.0 if name == "gain_down_6" else 1.0
        return (np.asarray(x, np.float32) * np.float32(10.0 ** (sign * config.gain_db / 20.0))
                ).astype(np.float32)
    if name == "excerpt_10s":
        start, length = config.excerpt()
        a = int(round(start * rate))
        return np.asarray(x[a:a + int(round(length * rate))], dtype=np.float32)
    raise ValueError(f"unknown transform {name!r}")

