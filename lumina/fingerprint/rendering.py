"""Timbre-neutral renderings of audio for the composition channel (issue 11, part 2).

EnCodec tokens are bound to timbre: the same melody played by two instruments becomes two
unrelated token sequences, so the model's gradient on the original audio finds the *sound*
of a song rather than the *song* (``docs/validation.md``, row 3). A rendering re-synthesises
what a songwriter owns — which pitch classes sound when, and where notes start — with one
fixed synthetic sound; the composition fingerprint is then the same model's gradient on the
rendered audio (the paper's method, on another input), while the production channel keeps
the original audio (:class:`lumina.fingerprint.Fingerprinter`, ``composition_rendering``).
Library songs and queries must go through the same rendering, so every rendering has a
:attr:`Rendering.name` and :attr:`Rendering.version` that fingerprints record
(:attr:`Rendering.id`, e.g. ``shepard/1``).

Every rendering is a pure, deterministic function of its input (numpy only, no random
numbers, no state)::

    samples (S,) float32 at ``rate``  →  rendered (S',) float32 at ``rate``,
    S' = rendered_length(S, time_scale) = ⌈S · time_scale⌉

The output has a peak of :data:`PEAK` (silence renders as silence; input shorter than an
analysis window is zero-padded for the analysis) and, for the renderings of the paper's
length (:attr:`Rendering.time_scale` 1), the input's length. The analysis is
level-invariant: scaling the input does not change the rendering.

The renderings (measured in ``bench/composition_rendering.py``):

``shepard``
    Per 16 ms frame, a timbre-whitened chroma vector (:func:`pitch_salience` folded onto
    12 pitch classes) re-synthesised as octave-free Shepard tones at constant level while
    the input is audible. Keeps pitch-class content and harmonic rhythm; note onsets only
    where the chroma changes.
``shepard-key``
    ``shepard`` with each chunk's chroma rotated to its estimated tonic
    (:mod:`lumina.fingerprint.key`), so a transposed song renders the same.
``onset-clicks``
    Every detected note onset (:func:`onset_frames`) as one fixed 12 ms click. Keeps the
    rhythm — tempo, groove, note density — and nothing else: no pitch.
``shepard-onsets``
    ``shepard`` plus ``onset-clicks`` at half level: pitch-class content and rhythm.
``shepard-2x``, ``onset-clicks-2x``, ``shepard-onsets-2x``
    The same analysis synthesised in half the time (``time_scale`` 0.5): frame t of the
    16 ms analysis is played at 8 ms · t, with the same Shepard tones (same pitches) and
    the same click. Half the samples, so half the codec frames and half the tokens in the
    composition channel's forward and backward pass — the bulk of the rendering's cost.

Tried and dropped (numbers in the bench's docstring): Shepard tones under the frame's
loudness envelope (the envelope carries the instrument's attack and decay, so timbre leaks
back in), and salient pitches with their octave kept, played by one sine (which octaves are
salient depends on the instrument: the rendering found the same *timbre*).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, partial

import numpy as np

from lumina.fingerprint.versioned import look_up

__all__ = [
    "PEAK",
    "RENDERINGS",
    "Rendering",
    "chroma_frames",
    "frame_loudness",
    "get_rendering",
    "onset_clicks",
    "onset_frames",
    "pitch_salience",
    "render",
    "rendered_length",
    "rendering_id",
    "rendering_words",
    "shepard",
    "shepard_onsets",
]

#: Peak level of every rendering (the demo catalog's songs peak at 0.9 too).
PEAK = 0.9
#: Analysis hop in seconds (16 ms): the time resolution of every rendering.
HOP_SECONDS = 0.016
#: Pitch range of the analysis, MIDI notes C2 … C7.
MIDI_LOW, MIDI_HIGH = 36, 96
#: A frame more than this many dB under the clip's loudest frame counts as silent.
SILENCE_DB = 50.0
#: Pitch-axis moving average (semitones) removed by :func:`pitch_salience`: the spectral
#: envelope, i.e. the instrument's formants and the mix's EQ.
WHITEN_SEMITONES = 13
#: Partials whose energy :func:`pitch_salience` attributes to the note below.
HARMONICS = 4
#: Onset detection: threshold above the local median of the spectral flux, in units of the
#: flux's mean absolute deviation; local median window and peak neighbourhood in frames.
ONSET_DELTA, ONSET_MEDIAN_FRAMES, ONSET_NEIGHBOURS = 1.0, 31, 3
#: Level of the clicks in ``shepard-onsets``, relative to the Shepard layer's peak.
CLICK_LEVEL = 0.5


# --------------------------------------------------------------------------- analysis


def _hop(rate: int) -> int:
    return max(1, int(round(HOP_SECONDS * rate)))


def _pow2(rate: int, seconds: float) -> int:
    """The power of two nearest to ``seconds · rate`` samples (at least 64)."""
    return 1 << int(round(np.log2(max(seconds * rate, 64.0))))


def _frames(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Centred, Hann-windowed frames (T, n_fft), T = len(x) // hop + 1; frame t is centred
    on sample t · hop (the signal is zero-padded at both ends)."""
    pad = n_fft // 2
    y = np.pad(np.asarray(x, dtype=np.float64), (pad, pad + hop))
    n_frames = len(x) // hop + 1
    frames = np.lib.stride_tricks.sliding_window_view(y, n_fft)[::hop][:n_frames]
    return frames * np.hanning(n_fft + 1)[:-1]


@lru_cache(maxsize=8)
def _semitone_map(rate: int, n_fft: int, low: int, high: int) -> tuple[int, np.ndarray]:
    """``(n_bins, W)``: triangular weights W (P, n_bins) that pool the first ``n_bins`` STFT
    bins into the semitones ``low … high``.

    Each pitch takes the bins within one semitone of its centre frequency (linear fall-off);
    where bins are wider than a semitone (low notes at this window) the fall-off is one bin
    wide, so every pitch gets some energy. Rows sum to 1.
    """
    freqs = np.fft.rfftfreq(n_fft, 1.0 / rate)
    midi = np.arange(low, high + 1)
    centre = 440.0 * 2.0 ** ((midi - 69) / 12.0)
    width = np.maximum(centre * (2 ** (1 / 12) - 1), rate / n_fft)
    n_bins = int(min(freqs.size, np.searchsorted(freqs, centre[-1] + width[-1]) + 1))
    w = np.maximum(0.0, 1.0 - np.abs(freqs[None, :n_bins] - centre[:, None]) / width[:, None])
    w /= np.maximum(w.sum(axis=1, keepdims=True), 1e-12)
    w.setflags(write=False)
    return n_bins, w


def frame_loudness(samples: np.ndarray, rate: int) -> np.ndarray:
    """RMS per analysis frame: a 64 ms Hann window every :data:`HOP_SECONDS`.

    Parameters
    ----------
    samples : (S,) float
    rate : sample rate in Hz.

    Returns
    -------
    float64 (T,), T = S // hop + 1.
    """
    frames = _frames(samples, _pow2(rate, 0.064), _hop(rate))
    return np.sqrt(np.mean(frames ** 2, axis=1) * (8.0 / 3.0))  # Hann power gain 3/8


def _audible(samples: np.ndarray, rate: int) -> np.ndarray:
    """(T,) bool: frames within :data:`SILENCE_DB` of the loudest (all False for silence)."""
    loud = frame_loudness(samples, rate)
    top = float(loud.max()) if loud.size else 0.0
    if not top > 0.0:
        return np.zeros(loud.shape, dtype=bool)
    return loud >= top * 10.0 ** (-SILENCE_DB / 20.0)


def pitch_salience(samples: np.ndarray, rate: int) -> np.ndarray:
    """Timbre-normalised pitch salience per frame and semitone.

    A 256 ms Hann STFT every :data:`HOP_SECONDS`, pooled into the semitones
    :data:`MIDI_LOW` … :data:`MIDI_HIGH` and log-compressed relative to the clip's maximum
    (a 60 dB range). Then *whitened* along pitch: the moving average over
    :data:`WHITEN_SEMITONES` semitones (the spectral envelope: formants, EQ) is subtracted
    and the rest half-wave rectified. Last, each pitch loses what partials 2 …
    :data:`HARMONICS` of the notes below it explain (1/h of their salience), so a note's
    overtones weigh less than notes of their own.

    Parameters
    ----------
    samples : (S,) float
    rate : sample rate in Hz.

    Returns
    -------
    float64 (T, P), T = S // hop + 1 frames, P = MIDI_HIGH − MIDI_LOW + 1; ≥ 0, all zeros
    for silence.
    """
    n_fft = _pow2(rate, 0.256)
    n_bins, weights = _semitone_map(rate, n_fft, MIDI_LOW, MIDI_HIGH)
    mag = np.abs(np.fft.rfft(_frames(samples, n_fft, _hop(rate)), axis=1)[:, :n_bins])
    pitch = mag @ weights.T
    top = float(pitch.max()) if pitch.size else 0.0
    if not top > 0.0:
        return np.zeros_like(pitch)
    level = np.log1p(1000.0 * pitch / top)
    half = WHITEN_SEMITONES // 2
    padded = np.pad(level, ((0, 0), (half + 1, half)), mode="edge")
    cum = np.cumsum(padded, axis=1)
    envelope = (cum[:, WHITEN_SEMITONES:] - cum[:, :-WHITEN_SEMITONES]) / WHITEN_SEMITONES
    level = np.maximum(level - envelope, 0.0)
    out = level.copy()
    for h in range(2, HARMONICS + 1):
        shift = int(round(12 * np.log2(h)))
        out[:, shift:] -= level[:, :-shift] / h
    return np.maximum(out, 0.0)


def chroma_frames(samples: np.ndarray, rate: int) -> np.ndarray:
    """Per-frame chroma: :func:`pitch_salience` summed per pitch class (C = 0), each frame
    scaled to a maximum of 1 and squared (the few sounding classes dominate); silent frames
    (:data:`SILENCE_DB`) are zero.

    Returns
    -------
    float64 (T, 12) in [0, 1].
    """
    sal = pitch_salience(samples, rate)
    pcs = np.arange(MIDI_LOW, MIDI_HIGH + 1) % 12
    chroma = np.stack([sal[:, pcs == k].sum(axis=1) for k in range(12)], axis=1)
    chroma /= np.maximum(chroma.max(axis=1, keepdims=True), 1e-12)
    return chroma ** 2 * _audible(samples, rate)[:, None]


def onset_frames(samples: np.ndarray, rate: int) -> np.ndarray:
    """Note onsets, one flag per analysis frame.

    Spectral flux of a 32 ms Hann STFT every :data:`HOP_SECONDS`: the summed increase of
    log-compressed magnitude (relative to the clip's maximum, 60 dB range) from one frame to
    the next. A frame is an onset where its flux is the maximum within
    ±:data:`ONSET_NEIGHBOURS` frames and exceeds the median of the surrounding
    :data:`ONSET_MEDIAN_FRAMES` frames by :data:`ONSET_DELTA` mean absolute deviations.
    Level-invariant; which instrument plays the notes changes the flux's size, rarely its
    peaks.

    Returns
    -------
    bool (T,), T = S // hop + 1.
    """
    n_fft = _pow2(rate, 0.032)
    mag = np.abs(np.fft.rfft(_frames(samples, n_fft, _hop(rate)), axis=1))
    top = float(mag.max()) if mag.size else 0.0
    if not top > 0.0:
        return np.zeros(mag.shape[0], dtype=bool)
    level = np.log1p(1000.0 * mag / top)
    flux = np.zeros(level.shape[0])
    flux[1:] = np.maximum(level[1:] - level[:-1], 0.0).sum(axis=1)
    half = ONSET_MEDIAN_FRAMES // 2
    windows = np.lib.stride_tricks.sliding_window_view(np.pad(flux, half, mode="edge"),
                                                       ONSET_MEDIAN_FRAMES)
    median = np.median(windows, axis=1)
    spread = float(np.mean(np.abs(flux - np.median(flux)))) + 1e-12
    k = ONSET_NEIGHBOURS
    local_max = np.lib.stride_tricks.sliding_window_view(np.pad(flux, k), 2 * k + 1).max(axis=1)
    return (flux >= local_max) & (flux > median + ONSET_DELTA * spread) & (flux > 0.0)


# --------------------------------------------------------------------------- synthesis


def rendered_length(n_samples: int, time_scale: float = 1.0) -> int:
    """Samples in the rendering of ``n_samples`` input samples: ⌈n_samples · time_scale⌉
    (exactly ``n_samples`` at ``time_scale`` 1).

    Raises
    ------
    ValueError
        ``time_scale`` outside (0, 1]: a rendering may compress time, never stretch it.
    """
    if not 0.0 < time_scale <= 1.0:
        raise ValueError(f"time_scale must be in (0, 1], got {time_scale!r}")
    return int(np.ceil(n_samples * time_scale))


def _synthesis_grid(n_samples: int, rate: int, time_scale: float) -> tuple[int, int]:
    """``(n_out, hop_out)``: the rendering's length (:func:`rendered_length`) and its
    synthesis hop, the analysis hop scaled by ``time_scale`` — analysis frame t sounds at
    output sample t · hop_out. At ``time_scale`` 1 this is ``(n_samples, hop)``, so the
    renderings of the input's length are unchanged by the option. hop_out is rounded to
    whole samples (exact at 32 kHz and 0.5: 512 → 256); where it is not exact the frames
    drift against ⌈S · time_scale⌉ by under half a sample per frame, and the last frames are
    cut or held (:func:`_modulate`)."""
    return (rendered_length(n_samples, time_scale),
            max(1, int(round(_hop(rate) * time_scale))))


@lru_cache(maxsize=4)
def _shepard_bank(rate: int, n: int) -> np.ndarray:
    """Twelve Shepard tones, float32 (12, n), pitch class 0 = C: octave-spaced partials from
    30 Hz to min(8 kHz, 0.45 · rate) under a Gaussian bell in log frequency (centre C5 =
    523 Hz, σ = 1 octave), sine phase 0, each scaled to unit RMS. Read-only (cached: most
    chunks have the same length)."""
    t = np.arange(n) / rate
    bank = np.zeros((12, n))
    for pc in range(12):
        f = 440.0 * 2.0 ** ((pc - 9) / 12.0)
        while f / 2 >= 30.0:
            f /= 2
        while f <= min(8000.0, 0.45 * rate):
            bank[pc] += np.exp(-0.5 * np.log2(f / 523.25) ** 2) * np.sin(2 * np.pi * f * t)
            f *= 2
        bank[pc] /= np.sqrt(np.mean(bank[pc] ** 2)) or 1.0
    out = bank.astype(np.float32)
    out.setflags(write=False)
    return out


def _modulate(weights: np.ndarray, bank: np.ndarray, hop: int) -> np.ndarray:
    """Σ_k w_k(t) · bank_k(t), with the frame weights (T, K) interpolated linearly between
    frame centres (frame t at sample t · hop; constant after the last). Returns (n,)."""
    n = bank.shape[1]
    n_frames = weights.shape[0]
    blocks = -(-n // hop)
    w = np.asarray(weights, dtype=np.float32)
    idx = np.minimum(np.arange(blocks + 1), n_frames - 1)
    padded = np.zeros((bank.shape[0], blocks * hop), dtype=np.float32)
    padded[:, :n] = bank
    tiles = padded.reshape(bank.shape[0], blocks, hop)  # (K, blocks, hop)
    frac = (np.arange(hop, dtype=np.float32) / hop)[None, :]
    start = np.einsum("bk,kbj->bj", w[idx[:-1]], tiles)
    end = np.einsum("bk,kbj->bj", w[idx[1:]], tiles)
    return ((1.0 - frac) * start + frac * end).reshape(-1)[:n]


@lru_cache(maxsize=4)
def _click(rate: int) -> np.ndarray:
    """The fixed click: 12 ms of three inharmonic sines (1.5, 3.1, 5.3 kHz, capped below
    Nyquist) under a 3 ms exponential decay, peak ≈ 1. float64, read-only."""
    t = np.arange(int(round(0.012 * rate))) / rate
    freqs = [f for f in (1500.0, 3100.0, 5300.0) if f < 0.45 * rate] or [0.1 * rate]
    out = sum(np.sin(2 * np.pi * f * t) for f in freqs) / len(freqs) * np.exp(-t / 0.003)
    out = np.asarray(out, dtype=np.float64)
    out.setflags(write=False)
    return out


def _clicks(onsets: np.ndarray, rate: int, n: int, hop: int) -> np.ndarray:
    """One :func:`_click` at every onset frame (T,) bool, frame t at sample t · ``hop`` (the
    synthesis hop). (n,) float64. The click itself is never compressed: it is the fixed
    sound, and only where it sounds carries the composition."""
    click = _click(rate)
    out = np.zeros(n + click.size)
    for frame in np.flatnonzero(onsets):
        at = int(frame) * hop
        if at < n:
            out[at:at + click.size] += click
    return out[:n]


def _finish(y: np.ndarray, n: int) -> np.ndarray:
    """Scale to a peak of :data:`PEAK`; float32 (n,). Zeros if ``y`` is silent."""
    y = np.asarray(y, dtype=np.float64)[:n]
    peak = float(np.abs(y).max()) if y.size else 0.0
    if not (peak > 0.0 and np.isfinite(peak)):
        return np.zeros(n, dtype=np.float32)
    return (PEAK * y / peak).astype(np.float32)


def _shepard_layer(x: np.ndarray, rate: int, n: int, hop: int,
                   canonical_key: bool = False) -> np.ndarray:
    """The Shepard-tone re-synthesis of :func:`chroma_frames` of ``x`` (S,), frame t at
    output sample t · ``hop``: unnormalised float64 (n,). The tones keep their pitch
    whatever the hop (time is compressed, not the frequency). ``canonical_key``: the
    chroma is first rotated to its estimated tonic (:mod:`lumina.fingerprint.key`)."""
    chroma = chroma_frames(x, rate)
    if canonical_key:
        from lumina.fingerprint.key import to_canonical_key

        chroma = to_canonical_key(chroma)
    return _modulate(chroma, _shepard_bank(rate, n), hop).astype(np.float64)


def _onset_layer(x: np.ndarray, rate: int, n: int, hop: int) -> np.ndarray:
    """The clicks of :func:`onset_clicks` (audible onsets only), before :func:`_finish`."""
    return _clicks(onset_frames(x, rate) & _audible(x, rate), rate, n, hop)


def _synthesise(samples: np.ndarray, rate: int, time_scale: float,
                layer: Callable[[np.ndarray, int, int, int], np.ndarray]) -> np.ndarray:
    """The steps every rendering shares: float64 mono input, the synthesis grid
    (:func:`_synthesis_grid`), ``layer(x, rate, n_out, hop_out)`` and :func:`_finish`;
    empty input renders as empty output."""
    x = np.asarray(samples, dtype=np.float64).reshape(-1)
    n, hop = _synthesis_grid(x.size, rate, time_scale)
    if x.size == 0:
        return np.zeros(0, dtype=np.float32)
    return _finish(layer(x, rate, n, hop), n)


def shepard(samples: np.ndarray, rate: int, *, time_scale: float = 1.0,
            canonical_key: bool = False) -> np.ndarray:
    """Chroma frames re-synthesised as octave-free Shepard tones (rendering ``shepard``;
    ``shepard-2x`` at ``time_scale`` 0.5; ``shepard-key`` with ``canonical_key``: the
    chroma rotated to its estimated tonic, so a transposition renders the same).

    Every pitch class sounds as a Shepard tone (:func:`_shepard_bank`) weighted by its
    value in :func:`chroma_frames`, interpolated between frames; the level is constant while
    the input is audible (not the input's loudness envelope, which would carry the
    instrument's attack and decay).

    Parameters
    ----------
    samples : (S,) float32, mono.
    rate : sample rate in Hz.
    time_scale : output duration / input duration, in (0, 1]: the analysis frames are
        played ``1 / time_scale`` times faster (:func:`_synthesis_grid`).

    Returns
    -------
    float32 (S',), S' = :func:`rendered_length` (S, time_scale); peak :data:`PEAK`; zeros
    for silence.
    """
    return _synthesise(samples, rate, time_scale,
                       partial(_shepard_layer, canonical_key=canonical_key))


def onset_clicks(samples: np.ndarray, rate: int, *, time_scale: float = 1.0) -> np.ndarray:
    """Every note onset as one fixed click (rendering ``onset-clicks``; ``onset-clicks-2x``
    at ``time_scale`` 0.5): the rhythm only.

    Parameters
    ----------
    samples : (S,) float32, mono.
    rate : sample rate in Hz.
    time_scale : output duration / input duration, in (0, 1]: the onsets are placed
        ``1 / time_scale`` times closer (tempo scaled, the click unchanged).

    Returns
    -------
    float32 (S',), S' = :func:`rendered_length` (S, time_scale); peak :data:`PEAK`; zeros
    for silence or input without onsets.
    """
    return _synthesise(samples, rate, time_scale, _onset_layer)


def shepard_onsets(samples: np.ndarray, rate: int, *, time_scale: float = 1.0) -> np.ndarray:
    """:func:`shepard` (scaled to peak 1) plus :func:`onset_clicks` at :data:`CLICK_LEVEL`
    (rendering ``shepard-onsets``; ``shepard-onsets-2x`` at ``time_scale`` 0.5):
    pitch-class content and rhythm.

    Parameters
    ----------
    samples : (S,) float32, mono.
    rate : sample rate in Hz.
    time_scale : output duration / input duration, in (0, 1] (see :func:`shepard`).

    Returns
    -------
    float32 (S',), S' = :func:`rendered_length` (S, time_scale); peak :data:`PEAK`; zeros
    for silence.
    """
    def layers(x: np.ndarray, rate: int, n: int, hop: int) -> np.ndarray:
        tones = _shepard_layer(x, rate, n, hop)
        peak = float(np.abs(tones).max())
        if peak > 0.0:
            tones /= peak
        return tones + CLICK_LEVEL * _onset_layer(x, rate, n, hop)

    return _synthesise(samples, rate, time_scale, layers)


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class Rendering:
    """A named, versioned rendering.

    Attributes
    ----------
    name : short identifier, e.g. ``shepard``.
    version : bumped whenever the output changes for some input; fingerprints made with
        different versions are not comparable.
    function : ``(samples (S,) float32, rate) → (S',) float32``, pure and deterministic,
        S' = :meth:`length` (S).
    description : one line for reports and help texts.
    time_scale : output duration / input duration, in (0, 1]; 1 (default): the rendering
        keeps the input's length. Below 1 the composition pass sees fewer codec frames.
    """

    name: str
    version: int
    function: Callable[[np.ndarray, int], np.ndarray]
    description: str
    time_scale: float = 1.0

    def __post_init__(self) -> None:
        rendered_length(0, self.time_scale)  # rejects a time_scale outside (0, 1]

    @property
    def id(self) -> str:
        """``name/version``, e.g. ``shepard/1``: what fingerprints and libraries record."""
        return f"{self.name}/{self.version}"

    def length(self, n_samples: int) -> int:
        """Samples in the rendering of ``n_samples`` input samples (:func:`rendered_length`)."""
        return rendered_length(n_samples, self.time_scale)

    def __call__(self, samples: np.ndarray, rate: int) -> np.ndarray:
        return render(samples, rate, self)


def _time_compressed(base: Rendering, factor: int, version: int) -> Rendering:
    """``base`` synthesised ``factor`` times faster, named ``{base.name}-{factor}x``.

    It has a version of its own: bump it when this rendering's output changes, including
    through a change of ``base``'s function.
    """
    return Rendering(f"{base.name}-{factor}x", version,
                     partial(base.function, time_scale=1.0 / factor),
                     f"{base.description}; {factor}x time-compressed (1/{factor} the tokens)",
                     time_scale=1.0 / factor)


_FULL_LENGTH = (
    Rendering("shepard", 1, shepard,
              "chroma frames as octave-free Shepard tones at constant level"),
    Rendering("onset-clicks", 1, onset_clicks,
              "note onsets as one fixed click: rhythm only, no pitch"),
    Rendering("shepard-onsets", 1, shepard_onsets,
              "Shepard-tone chroma plus onset clicks: pitch classes and rhythm"),
    Rendering("shepard-key", 1, partial(shepard, canonical_key=True),
              "Shepard-tone chroma in a canonical key: the same in every transposition"),
)

RENDERINGS: dict[str, Rendering] = {
    r.name: r for r in (*_FULL_LENGTH,
                        # Half the tokens for the composition pass, which dominates the cost
                        # of a rendering (bench/composition_rendering.py).
                        *(_time_compressed(base, 2, version=1) for base in _FULL_LENGTH))
}


def get_rendering(name: str | Rendering) -> Rendering:
    """The rendering called ``name``; ``name/version`` is accepted when the version is the
    one this software makes. A :class:`Rendering` is returned as is.

    Raises
    ------
    ValueError
        Unknown name, or a version this software does not make.
    """
    if isinstance(name, Rendering):
        return name
    return look_up(RENDERINGS, name, "rendering")


def rendering_words(rendering: str | None) -> str:
    """How messages name what the composition channel heard: ``the shepard/1 rendering``,
    or ``the audio itself`` for None (the paper's mode)."""
    return "the audio itself" if rendering is None else f"the {rendering} rendering"


def rendering_id(name: str | Rendering | None) -> str | None:
    """``name/version`` of a rendering, or None for the paper's mode (no rendering)."""
    return None if name is None else get_rendering(name).id


def render(samples: np.ndarray, rate: int, rendering: str | Rendering) -> np.ndarray:
    """Apply a rendering to mono samples, checking input and output.

    Parameters
    ----------
    samples : (S,) array_like, mono, finite.
    rate : sample rate in Hz (> 0).
    rendering : a :class:`Rendering` or its name (``name`` or ``name/version``).

    Returns
    -------
    float32 (S',), S' = ``rendering.length(S)``: S unless the rendering compresses time
    (:attr:`Rendering.time_scale`).

    Raises
    ------
    ValueError
        Not mono, a non-positive rate, NaN/Inf in the input, an unknown rendering, or an
        output of another length than the rendering declares.
    """
    r = get_rendering(rendering)
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError(f"samples must be 1-D (mono), got shape {x.shape}")
    if rate <= 0:
        raise ValueError(f"rate must be positive, got {rate}")
    if not np.all(np.isfinite(x)):
        raise ValueError("samples contain NaN or Inf")
    y = np.asarray(r.function(x, int(rate)), dtype=np.float32)
    expected = (r.length(x.size),)
    if y.shape != expected:
        raise ValueError(f"rendering {r.id} returned shape {y.shape} for input {x.shape} "
                         f"(expected {expected}, time_scale {r.time_scale:g})")
    return y
