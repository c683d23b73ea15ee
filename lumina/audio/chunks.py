"""Cut a track into the fixed-length chunks the fingerprinter analyses.

:func:`chunk_bounds` is the single place that decides where chunks start and end.
:func:`split_chunks` applies it to a signal in memory; :func:`iter_chunks` streams a file's
chunks in bounded memory (a 2-hour file never sits in RAM), with the same samples as
``split_chunks(load_audio(…).samples, …)``, because both run the same
:func:`~lumina.audio.load.mono_blocks` pipeline.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from lumina.audio.load import (
    MIN_SECONDS,
    StreamStats,
    audio_warnings,
    check_target_rate,
    mono_blocks,
)

__all__ = [
    "CHUNK_SECONDS",
    "TAIL_FRACTION",
    "Chunk",
    "chunk_bounds",
    "split_chunks",
    "iter_chunks",
]

#: Length of one analysis chunk, in seconds.
CHUNK_SECONDS = 10.0
#: A final partial chunk is kept when it is at least this fraction of a chunk (5 s of 10 s).
TAIL_FRACTION = 0.5


@dataclass
class Chunk:
    """One analysis chunk of a track.

    Attributes
    ----------
    index : int
        0-based position in the track.
    start, end : float
        Start and end time in seconds (``end - start <= chunk_seconds``).
    samples : np.ndarray
        float32, shape ``(end_sample - start_sample,)``.
    """

    index: int
    start: float
    end: float
    samples: np.ndarray


def _chunk_len(sample_rate: int, chunk_seconds: float) -> int:
    """Samples per full chunk, at least one; ValueError on a non-positive rate or length."""
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate!r}")
    if not chunk_seconds > 0:
        raise ValueError(f"chunk_seconds must be positive, got {chunk_seconds!r}")
    return max(round(chunk_seconds * sample_rate), 1)


def chunk_bounds(
    n_samples: int, sample_rate: int, chunk_seconds: float = CHUNK_SECONDS
) -> list[tuple[int, int]]:
    """Where the chunks of an ``n_samples`` signal start and end.

    The signal is cut into consecutive chunks of ``L = round(chunk_seconds * sample_rate)``
    samples. The final remainder ``r < L``:

    * is kept as its own, shorter chunk if ``r >= ceil(TAIL_FRACTION * L)`` (5 s of 10 s);
    * is dropped otherwise;
    * except when the whole signal is shorter than one chunk: then it is one chunk.

    Why: merging the remainder into the previous chunk would make chunks longer than ``L``,
    which breaks fixed-shape batching and feeds the model more context than every other chunk
    gets. Dropping everything short loses up to ``L`` of audio; keeping every fragment gives
    chunks whose loss (and gradient) rests on a handful of frames and is mostly noise, yet
    counts as much as a full chunk in the track average. Half a chunk bounds both: a kept chunk
    has at least half the normal context, and at most half a chunk at the very end is not
    analysed. A track shorter than one chunk is analysed whole, since dropping it would leave
    nothing (the loader guarantees it is at least :data:`MIN_SECONDS`).

    Examples at 10 s: 3 s → [3]; 9 s → [9]; 10 s → [10]; 23 s → [10, 10]; 25 s → [10, 10, 5].

    Parameters
    ----------
    n_samples : int
        Signal length.
    sample_rate : int
        Samples per second.
    chunk_seconds : float
        Chunk length in seconds.

    Returns
    -------
    list of (start, end)
        Half-open sample ranges, contiguous from 0, in order. The first ``n_samples // L``
        ranges are always the full chunks ``(i * L, (i + 1) * L)``; :func:`iter_chunks`
        relies on that to emit full chunks before it knows the track's length.
    """
    size = _chunk_len(sample_rate, chunk_seconds)
    if n_samples <= 0:
        return []
    if n_samples < size:
        return [(0, n_samples)]
    full = n_samples // size
    bounds = [(i * size, (i + 1) * size) for i in range(full)]
    if n_samples - full * size >= math.ceil(TAIL_FRACTION * size):
        bounds.append((full * size, n_samples))
    return bounds


def split_chunks(
    samples: np.ndarray, sample_rate: int, chunk_seconds: float = CHUNK_SECONDS
) -> list[Chunk]:
    """Cut an in-memory mono signal into chunks by the rule of :func:`chunk_bounds`.

    Parameters
    ----------
    samples : np.ndarray
        Shape ``(S,)``; converted to float32.
    sample_rate : int
        Rate of ``samples`` in Hz.
    chunk_seconds : float
        Chunk length in seconds.

    Returns
    -------
    list of Chunk
        Each ``samples`` is a view into the input (no copy).
    """
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError(f"samples must be 1-D (mono), got shape {x.shape}")
    return [
        Chunk(index=i, start=a / sample_rate, end=b / sample_rate, samples=x[a:b])
        for i, (a, b) in enumerate(chunk_bounds(len(x), sample_rate, chunk_seconds))
    ]


def iter_chunks(
    path: str | os.PathLike[str],
    target_rate: int,
    chunk_seconds: float = CHUNK_SECONDS,
    *,
    warnings_out: list[str] | None = None,
) -> Iterator[Chunk]:
    """Stream a file's chunks without holding the whole signal in memory.

    Yields exactly the chunks of ``split_chunks(load_audio(path, target_rate).samples, …)``
    (same samples, bit for bit), but decodes block by block and keeps at most about one chunk
    plus one decode block in memory.

    Parameters
    ----------
    path : str or PathLike
        The file.
    target_rate : int
        Output sample rate in Hz.
    chunk_seconds : float
        Chunk length in seconds.
    warnings_out : list of str, optional
        If given, the warnings :func:`~lumina.audio.load.load_audio` would report are appended
        to it once the file has been read to the end.

    Yields
    ------
    Chunk
        ``samples`` float32 of shape ``(round(chunk_seconds * target_rate),)``, except possibly
        the last one (see :func:`chunk_bounds`).

    Raises
    ------
    Same as :func:`~lumina.audio.load.load_audio`. Non-finite samples raise as soon as they
    are decoded (chunks before them may already have been yielded); a too-short file raises
    before any chunk.
    """
    # Argument errors raise here, at the call, rather than at the first next().
    check_target_rate(target_rate)
    _chunk_len(target_rate, chunk_seconds)
    return _iter_chunks(path, target_rate, chunk_seconds, warnings_out)


def _iter_chunks(
    path: str | os.PathLike[str],
    target_rate: int,
    chunk_seconds: float,
    warnings_out: list[str] | None,
) -> Iterator[Chunk]:
    size = _chunk_len(target_rate, chunk_seconds)
    stats = StreamStats()
    pending: list[np.ndarray] = []
    n_pending = 0
    offset = 0  # sample index of pending[0][0]
    index = 0

    def take(n: int) -> np.ndarray:
        nonlocal pending, n_pending, offset
        buf = pending[0] if len(pending) == 1 else np.concatenate(pending)
        head, rest = buf[:n], buf[n:]
        pending = [rest] if rest.size else []
        n_pending -= n
        offset += n
        # Copy so that a yielded chunk does not pin the larger block it was cut from.
        return head.copy() if rest.size else head

    for block in mono_blocks(path, target_rate, None, stats):
        pending.append(block)
        n_pending += len(block)
        info = stats.info
        # Only when MIN_SECONDS of source is known to exist can a chunk be final: with a chunk
        # shorter than MIN_SECONDS, a too-short file must still raise before yielding anything.
        long_enough = info is not None and stats.frames >= MIN_SECONDS * info.sample_rate
        while n_pending >= size and long_enough:
            start = offset
            yield Chunk(index, start / target_rate, (start + size) / target_rate, take(size))
            index += 1

    total = offset + n_pending
    bounds = chunk_bounds(total, target_rate, chunk_seconds)
    if bounds[:index] != [(i * size, (i + 1) * size) for i in range(index)]:
        raise AssertionError("chunk_bounds no longer starts with full chunks")
    for a, b in bounds[index:]:
        if a > offset:  # cannot happen with contiguous bounds; guards future rule changes
            take(a - offset)
        yield Chunk(index, a / target_rate, b / target_rate, take(b - a))
        index += 1
    if warnings_out is not None:
        warnings_out.extend(audio_warnings(stats))
