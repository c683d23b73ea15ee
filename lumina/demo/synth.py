"""Small deterministic synthesisers: notes, timbres and drums as numpy arrays.

Used to calibrate the codebooks of the embedded model and, by the demo catalog, to render
songs. Everything is a pure function of its arguments (and an explicit ``numpy`` Generator),
so the same call gives the same samples bit for bit.
"""

from __future__ import annotations

import numpy as np


def midi_to_hz(note: float) -> float:
    return 440.0 * 2.0 ** ((note - 69.0) / 12.0)


def adsr(n: int, rate: int, attack: float, decay: float, sustain: float,
         release: float) -> np.ndarray:
    """Piecewise-linear envelope of ``n`` samples; the release occupies the last part."""
    t = np.arange(n) / rate
    dur = n / rate
    env = np.interp(
        t,
        [0.0, attack, attack + decay, max(attack + decay, dur - release), dur],
        [0.0, 1.0, sustain, sustain, 0.0],
    )
    return env.astype(np.float32)


def additive(freq: float, n: int, rate: int, partials: tuple[float, ...]) -> np.ndarray:
    t = np.arange(n) / rate
    out = np.zeros(n)
    for i, amp in enumerate(partials, start=1):
        if freq * i < rate / 2:
            out += amp * np.sin(2 * np.pi * freq * i * t)
    return out.astype(np.float32)


def fm(freq: float, n: int, rate: int, ratio: float, index: float) -> np.ndarray:
    t = np.arange(n) / rate
    decay = np.exp(-t * 3.0)
    mod = index * decay * np.sin(2 * np.pi * freq * ratio * t)
    return np.sin(2 * np.pi * freq * t + mod).astype(np.float32)


def karplus_strong(freq: float, n: int, rate: int, rng: np.random.Generator,
                   damping: float = 0.996) -> np.ndarray:
    period = max(2, int(round(rate / freq)))
    buf = rng.uniform(-1, 1, period)
    out = np.empty(n)
    # Vectorised per period: each period is the average of the previous one and its shift.
    pos = 0
    while pos < n:
        take = min(period, n - pos)
        out[pos:pos + take] = buf[:take]
        buf = damping * 0.5 * (buf + np.roll(buf, -1))
        pos += take
    return out.astype(np.float32)


def vibrato_cycles(freq: float, n: int, rate: int, phase: float = 0.0, depth_cents: float = 0.0,
                   vibrato_hz: float = 0.0) -> np.ndarray:
    """Instantaneous phase, in cycles, of a tone at ``freq`` with sinusoidal vibrato.

    The frequency is ``freq · (1 + d·sin(2π·v·t))`` with ``d = 2^(cents/1200) − 1``; its
    integral has a closed form, so no cumulative sum (and no drift) is needed.

    Returns
    -------
    float64 (n,): phase in cycles, starting at ``phase``.
    """
    t = np.arange(n) / rate
    cycles = phase + freq * t
    if depth_cents and vibrato_hz:
        d = 2.0 ** (depth_cents / 1200.0) - 1.0
        cycles += freq * d * (1.0 - np.cos(2 * np.pi * vibrato_hz * t)) / (2 * np.pi * vibrato_hz)
    return cycles


def saw_blep(freq: float, n: int, rate: int, phase: float = 0.0, depth_cents: float = 0.0,
             vibrato_hz: float = 0.0) -> np.ndarray:
    """Band-limited sawtooth (polyBLEP), optionally with vibrato.

    The naive saw of :func:`saw` aliases audibly above a few hundred hertz; polyBLEP smooths
    the wrap with a two-sample polynomial, which removes most of the aliasing at the cost of
    a few vectorised operations.

    Returns
    -------
    float32 (n,) in about [−1, 1].
    """
    cycles = vibrato_cycles(freq, n, rate, phase, depth_cents, vibrato_hz)
    p = cycles % 1.0
    y = 2.0 * p - 1.0
    dt = min(freq / rate, 0.5)
    lo = p < dt
    x = p[lo] / dt
    y[lo] -= x + x - x * x - 1.0
    hi = p > 1.0 - dt
    x = (p[hi] - 1.0) / dt
    y[hi] -= x * x + x + x + 1.0
    return y.astype(np.float32)


def pluck(freq: float, n: int, rate: int, rng: np.random.Generator, damping: float = 0.996,
          brightness: float = 12.0) -> np.ndarray:
    """A tuned Karplus–Strong string.

    :func:`karplus_strong` rounds the period to whole samples (and its circular average
    shortens it by half a sample), so its notes are up to ~30 cents off, which smears pitch
    features. Here the string is rendered at the integer period ``P = ceil(rate / freq)`` —
    all periods at once, in the frequency domain, since each period is the circular two-point
    average of the previous one — and then read slower by ``freq·P/rate`` so it sounds at
    exactly ``freq``.

    Parameters
    ----------
    damping : per-period loss; closer to 1 rings longer.
    brightness : harmonic number at which the excitation (the "pick") rolls off; lower is a
        softer, rounder attack.

    Returns
    -------
    float32 (n,).
    """
    period = max(2, int(np.ceil(rate / freq)))
    speed = freq * period / rate  # ≤ 1
    m = int(np.ceil(n * speed)) + 2
    periods = -(-m // period)
    spec = np.fft.rfft(rng.uniform(-1.0, 1.0, period))
    k = np.arange(spec.size)
    spec[0] = 0.0  # no DC offset from the random excitation
    spec /= np.sqrt(1.0 + (k / max(brightness, 1e-3)) ** 2)
    # The two-point circular average multiplies harmonic k by cos(πk/P) each period.
    loss = damping * np.abs(np.cos(np.pi * k / period))
    frames = np.fft.irfft(spec[None, :] * np.power(loss[None, :], np.arange(periods)[:, None]),
                          n=period, axis=1)
    raw = frames.reshape(-1)[:m]
    peak = float(np.abs(raw[:period]).max()) or 1.0
    out = np.interp(np.arange(n) * speed, np.arange(m), raw) / peak
    return out.astype(np.float32)


def saw(freq: float, n: int, rate: int) -> np.ndarray:
    t = np.arange(n) / rate
    phase = (freq * t) % 1.0
    return (2.0 * phase - 1.0).astype(np.float32)


def one_pole_lowpass(x: np.ndarray, cutoff: float, rate: int) -> np.ndarray:
    """A gentle low-pass via FFT-domain first-order response (no scipy needed)."""
    spec = np.fft.rfft(x)
    f = np.fft.rfftfreq(len(x), 1.0 / rate)
    spec /= np.sqrt(1.0 + (f / cutoff) ** 2)
    return np.fft.irfft(spec, n=len(x)).astype(np.float32)


def kick(n: int, rate: int) -> np.ndarray:
    t = np.arange(n) / rate
    f = 50 + 90 * np.exp(-t * 30)
    phase = 2 * np.pi * np.cumsum(f) / rate
    return (np.sin(phase) * np.exp(-t * 9)).astype(np.float32)


def noise_hit(n: int, rate: int, rng: np.random.Generator, decay: float,
              cutoff: float | None = None) -> np.ndarray:
    t = np.arange(n) / rate
    x = rng.standard_normal(n).astype(np.float32) * np.exp(-t * decay).astype(np.float32)
    if cutoff is not None:
        x = x - one_pole_lowpass(x, cutoff, rate)  # high-pass: keep the hiss
    return x


def random_music(seconds: float, rate: int, seed: int) -> np.ndarray:
    """A few seconds of random but music-like audio (notes of a scale over a beat).

    Used where varied, musical input is needed without a catalog, e.g. to seed codebooks.
    Returns float32 (S,) in [−1, 1].
    """
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    out = np.zeros(n, dtype=np.float32)
    bpm = rng.uniform(80, 140)
    beat = int(rate * 60 / bpm)
    scale = np.array([0, 2, 4, 5, 7, 9, 11])
    root = 48 + int(rng.integers(0, 12))
    pos = 0
    while pos < n:
        length = beat * int(rng.integers(1, 3))
        m = min(length, n - pos)
        note = root + 12 * int(rng.integers(0, 3)) + int(scale[rng.integers(0, 7)])
        freq = midi_to_hz(note)
        voice = int(rng.integers(0, 4))
        if voice == 0:
            tone = additive(freq, m, rate, (1.0, 0.5, 0.3, 0.2))
        elif voice == 1:
            tone = fm(freq, m, rate, ratio=3.5, index=2.0)
        elif voice == 2:
            tone = karplus_strong(freq, m, rate, rng)
        else:
            tone = one_pole_lowpass(saw(freq, m, rate), 1500.0, rate)
        out[pos:pos + m] += 0.4 * tone * adsr(m, rate, 0.01, 0.1, 0.6, 0.05)
        pos += length
    for start in range(0, n, beat):
        m = min(beat, n - start)
        out[start:start + m] += 0.5 * kick(m, rate)
        half = start + beat // 2
        if half < n:
            mh = min(beat // 2, n - half)
            out[half:half + mh] += 0.15 * noise_hit(mh, rate, rng, 40.0, 4000.0)
    peak = float(np.abs(out).max()) or 1.0
    return (0.8 * out / peak).astype(np.float32)
