"""Min/max summaries of a decoded signal, for drawing its waveform.

:func:`waveform_levels` builds the zoomable pyramid the app's waveform view draws from (on the
UI thread, so it must stay cheap to import: numpy, no torch, no Qt); :func:`waveform_envelope`
is the single-level form. Both work on samples already in memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lumina.audio.decode import BLOCK_FRAMES

__all__ = [
    "WAVEFORM_BASE_BIN",
    "WaveformLevels",
    "waveform_envelope",
    "waveform_levels",
]


def waveform_envelope(samples: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Min/max levels of ``samples`` over ``bins`` equal spans, for drawing a waveform.

    A view draws ``bins`` vertical lines instead of millions of samples, so a 10-minute
    track draws instantly at any width.

    Parameters
    ----------
    samples : np.ndarray
        Shape ``(S,)``.
    bins : int
        Number of spans (≥ 1); fewer when ``S < bins``.

    Returns
    -------
    (mins, maxs) : two float32 arrays of shape ``(min(bins, S),)``.
    """
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim != 1 or bins < 1:
        raise ValueError("waveform_envelope needs 1-D samples and bins >= 1")
    n = min(bins, len(x))
    if n == 0:
        return np.zeros(0, np.float32), np.zeros(0, np.float32)
    edges = np.linspace(0, len(x), n + 1).astype(np.int64)
    return (np.minimum.reduceat(x, edges[:-1]).astype(np.float32),
            np.maximum.reduceat(x, edges[:-1]).astype(np.float32))


#: Samples per bin of the finest waveform level: 2 ms at 32 kHz. A 10-minute track's whole
#: pyramid then takes under 5 MB (two float32 per bin, levels halving in size), while a view
#: zoomed to a few hundred milliseconds still gets over a hundred bins to draw.
WAVEFORM_BASE_BIN = 64


@dataclass(frozen=True)
class WaveformLevels:
    """A min/max pyramid of a track, for drawing its waveform at any zoom.

    Level ``k`` splits the track into bins of ``samples_per_bin`` samples (the finest level's
    bin size times ``2**k``); the last bin of a level may be shorter. The coarsest level has a
    single bin. A view asks :meth:`window` for the bins covering what it shows and gets them
    from the level whose bin count fits its pixel width, so drawing costs the same at any zoom.

    Attributes
    ----------
    rate : int
        Sample rate of the samples the levels were computed from, in Hz.
    frames : int
        Number of samples ``S`` (per channel) the levels cover.
    duration : float
        ``frames / rate`` in seconds.
    levels : tuple of (samples_per_bin, mins, maxs)
        Finest first. ``mins`` and ``maxs`` are read-only float32 arrays of shape
        ``(ceil(frames / samples_per_bin),)``: the minimum and maximum sample of each bin.
    """

    rate: int
    frames: int
    duration: float
    levels: tuple[tuple[int, np.ndarray, np.ndarray], ...]

    @property
    def nbytes(self) -> int:
        """Memory held by the pyramid's arrays, in bytes."""
        return sum(mins.nbytes + maxs.nbytes for _, mins, maxs in self.levels)

    def window(self, t0: float, t1: float,
               max_points: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The bins covering ``[t0, t1]`` seconds from the finest level that fits.

        Parameters
        ----------
        t0, t1 : float
            The time span shown, in seconds; clipped to ``[0, duration]``, either order.
        max_points : int
            Most bins the caller wants (≥ 1), typically about twice its width in pixels.

        Returns
        -------
        (t, mins, maxs)
            ``t``: float64, shape ``(B,)``, the centre of each bin in seconds; ``mins``,
            ``maxs``: read-only float32 views, shape ``(B,)``. ``1 ≤ B ≤ max_points`` bins,
            every bin that overlaps the span, from the finest level where that many fit
            (``B = 0`` only for an empty track).
        """
        if max_points < 1:
            raise ValueError("max_points must be >= 1")
        if self.frames == 0:
            empty = np.zeros(0, np.float32)
            return np.zeros(0, np.float64), empty, empty
        lo, hi = sorted((float(t0), float(t1)))
        f0 = min(max(lo, 0.0), self.duration) * self.rate
        f1 = min(max(hi, 0.0), self.duration) * self.rate
        for level in self.levels:
            spb, n = level[0], len(level[1])
            i0 = min(int(f0 // spb), n - 1)
            i1 = min(max(math.ceil(f1 / spb), i0 + 1), n)
            if i1 - i0 <= max_points:
                break
        # The coarsest level has one bin, so the loop always ends on a level that fits.
        _, mins, maxs = level
        starts = np.arange(i0, i1, dtype=np.float64) * spb
        ends = np.minimum(starts + spb, self.frames)
        return (starts + ends) / (2.0 * self.rate), mins[i0:i1], maxs[i0:i1]


def waveform_levels(samples: np.ndarray, rate: int, *,
                    samples_per_bin: int = WAVEFORM_BASE_BIN) -> WaveformLevels:
    """Min/max pyramid of ``samples`` for zoomable waveform drawing.

    The finest level takes the min and max of every ``samples_per_bin`` samples (over all
    channels); each further level halves the bin count by pairing neighbouring bins, until one
    bin is left. The input is read block by block, so no float32 copy of the whole track is made
    even for other dtypes, and the result takes about ``16 / samples_per_bin`` bytes per sample
    (4.8 MB for 10 minutes at 32 kHz with the default).

    Parameters
    ----------
    samples : np.ndarray
        Shape ``(S,)`` or ``(S, C)``, any real dtype.
    rate : int
        Sample rate in Hz (> 0).
    samples_per_bin : int
        Bin size of the finest level (≥ 1).

    Returns
    -------
    WaveformLevels
        With ``ceil(log2(S / samples_per_bin)) + 1`` levels; one empty level when ``S = 0``.
    """
    x = np.asarray(samples)
    if x.ndim not in (1, 2) or (x.ndim == 2 and x.shape[1] == 0):
        raise ValueError("waveform_levels needs samples of shape (S,) or (S, C) with C >= 1")
    if rate <= 0 or samples_per_bin < 1:
        raise ValueError("waveform_levels needs rate > 0 and samples_per_bin >= 1")
    spb = int(samples_per_bin)
    frames = int(x.shape[0])
    nbins = -(-frames // spb)
    mins = np.empty(nbins, np.float32)
    maxs = np.empty(nbins, np.float32)
    # Whole bins per block, so only the track's last block can end in a partial bin.
    block = spb * max(1, BLOCK_FRAMES // spb)
    for start in range(0, frames, block):
        part = np.asarray(x[start:start + block], dtype=np.float32)
        lo, hi = (part.min(axis=1), part.max(axis=1)) if part.ndim == 2 else (part, part)
        full = len(part) // spb
        b = start // spb
        mins[b:b + full] = lo[:full * spb].reshape(full, spb).min(axis=1)
        maxs[b:b + full] = hi[:full * spb].reshape(full, spb).max(axis=1)
        if full * spb < len(part):
            mins[b + full] = lo[full * spb:].min()
            maxs[b + full] = hi[full * spb:].max()
    levels = []
    while True:
        mins.flags.writeable = False
        maxs.flags.writeable = False
        levels.append((spb, mins, maxs))
        if len(mins) <= 1:
            break
        pairs = len(mins) // 2
        next_mins = np.empty(len(mins) - pairs, np.float32)
        next_maxs = np.empty(len(mins) - pairs, np.float32)
        np.minimum(mins[0:2 * pairs:2], mins[1:2 * pairs:2], out=next_mins[:pairs])
        np.maximum(maxs[0:2 * pairs:2], maxs[1:2 * pairs:2], out=next_maxs[:pairs])
        if len(mins) % 2:  # an odd bin out stays alone: it is the (short) end of the track
            next_mins[-1], next_maxs[-1] = mins[-1], maxs[-1]
        mins, maxs, spb = next_mins, next_maxs, spb * 2
    return WaveformLevels(rate=int(rate), frames=frames, duration=frames / rate,
                          levels=tuple(levels))
