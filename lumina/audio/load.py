"""Turn a file into the signal the engine analyses: mono float32 at the model's rate.

This is the one place that decides what "the audio" of a file is: the mean of its channels,
resampled with soxr to the codec's rate, as float32. :func:`mono_blocks` is that pipeline
(decode → validate → downmix → resample), streamed block by block; :func:`load_audio` collects
it into one array, and :func:`lumina.audio.chunks.iter_chunks` cuts it into chunks as it comes,
so both see the same samples, bit for bit.

Problems that leave the audio usable (silence, clipping, a file shorter than its header says)
are returned as one-line strings (:func:`audio_warnings`, ``LoadedAudio.warnings``) instead of
being raised or passed to :mod:`warnings`, so callers decide how to show them.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soxr

from lumina.audio.decode import AudioInfo, open_decoder
from lumina.audio.errors import AudioNotFiniteError, AudioTooShortError
from lumina.audio.hashing import file_sha256

__all__ = [
    "MIN_SECONDS",
    "SILENCE_DBFS",
    "CLIP_LEVEL",
    "CLIP_FRACTION",
    "RESAMPLE_QUALITY",
    "LoadedAudio",
    "StreamStats",
    "check_target_rate",
    "mono_blocks",
    "audio_warnings",
    "load_audio",
]

#: Shortest track accepted, in seconds.
MIN_SECONDS = 1.0
#: Peak level below which a track is reported as silent.
SILENCE_DBFS = -60.0
#: A sample at or above this magnitude counts as clipped (int16 full scale reads as 0.99997).
CLIP_LEVEL = 0.999
#: Fraction of clipped samples above which a track is reported as heavily clipped.
CLIP_FRACTION = 0.01
#: soxr quality. "HQ" is 20-bit precise, already below float32's resolution for audio; soxr's
#: output depends only on its input samples, so results are reproducible across runs.
RESAMPLE_QUALITY = "HQ"


@dataclass
class LoadedAudio:
    """A decoded, mono, resampled track.

    Attributes
    ----------
    path : Path
        The file.
    samples : np.ndarray
        float32, shape ``(S,)``: the mean of the source channels resampled to ``sample_rate``.
    sample_rate : int
        Rate of ``samples`` in Hz (the requested target rate).
    source_rate : int
        The file's sample rate in Hz.
    source_channels : int
        The file's channel count.
    duration : float
        ``S / sample_rate`` in seconds.
    sha256 : str
        Hex SHA-256 of the file's bytes (what a report binds to).
    warnings : list[str]
        One-line notes about usable-but-suspect audio (silent, clipped, truncated).
    """

    path: Path
    samples: np.ndarray
    sample_rate: int
    source_rate: int
    source_channels: int
    duration: float
    sha256: str
    warnings: list[str] = field(default_factory=list)


@dataclass
class StreamStats:
    """What the pipeline learns about the source while streaming it.

    :func:`mono_blocks` fills it in as it goes; once the blocks have been read to the end, it
    is what :func:`audio_warnings` judges.
    """

    info: AudioInfo | None = None
    frames: int = 0  # source frames decoded
    peak: float = 0.0  # max |x| over all source channels
    clipped: int = 0  # source samples (all channels) at |x| >= CLIP_LEVEL
    mono_peak: float = 0.0
    truncated_by_request: bool = False


def check_target_rate(target_rate: int) -> None:
    """Raise ValueError unless ``target_rate`` is a positive integer (a caller's bug)."""
    if not isinstance(target_rate, int | np.integer) or target_rate <= 0:
        raise ValueError(f"target_rate must be a positive integer, got {target_rate!r}")


def _first_bad(block: np.ndarray) -> tuple[int, str]:
    bad = ~np.isfinite(block)
    row = int(np.argmax(bad.any(axis=1)))
    kind = "NaN" if np.isnan(block[row]).any() else "Inf"
    return row, kind


def mono_blocks(
    path: str | os.PathLike[str], target_rate: int, max_seconds: float | None, stats: StreamStats
) -> Iterator[np.ndarray]:
    """Decode, validate, downmix and resample a file, yielding mono float32 blocks.

    The concatenation of the yielded blocks is the track's signal, with
    ``round(frames * target_rate / source_rate)`` samples. Non-finite samples raise as soon as
    they are decoded; a too-short file raises before the final block is yielded. ``stats``
    (a fresh :class:`StreamStats`) is updated as blocks are decoded; ``max_seconds`` stops
    decoding after that much source audio.
    """
    with open_decoder(path) as dec:
        info = stats.info = dec.info
        name, rate = info.path.name, info.sample_rate
        limit = None if max_seconds is None else max(round(max_seconds * rate), 1)
        resampler = (
            None
            if rate == target_rate
            else soxr.ResampleStream(
                rate, target_rate, 1, dtype="float32", quality=RESAMPLE_QUALITY
            )
        )
        for block in dec.blocks():
            if limit is not None and stats.frames + len(block) >= limit:
                block = block[: limit - stats.frames]
                stats.truncated_by_request = True
            if not np.isfinite(block).all():
                row, kind = _first_bad(block)
                raise AudioNotFiniteError(
                    f"{name}: contains {kind} samples (first at "
                    f"{(stats.frames + row) / rate:.2f} s)"
                )
            mag = np.abs(block)
            stats.peak = max(stats.peak, float(mag.max(initial=0.0)))
            stats.clipped += int(np.count_nonzero(mag >= CLIP_LEVEL))
            stats.frames += len(block)
            if block.shape[1] == 1:
                mono = np.ascontiguousarray(block[:, 0])
            else:
                mono = block.mean(axis=1, dtype=np.float32)
            stats.mono_peak = max(stats.mono_peak, float(np.abs(mono).max(initial=0.0)))
            out = mono if resampler is None else resampler.resample_chunk(mono, last=False)
            if out.size:
                yield out
            if stats.truncated_by_request:
                break
        seconds = stats.frames / rate
        if seconds < MIN_SECONDS:
            raise AudioTooShortError(f"{name}: shorter than {MIN_SECONDS:g} s ({seconds:.2f} s)")
        if resampler is not None:
            tail = resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
            if tail.size:
                yield tail


def _dbfs(x: float) -> str:
    return "-inf" if x <= 0.0 else f"{20.0 * math.log10(x):.1f}"


def audio_warnings(stats: StreamStats) -> list[str]:
    """One-line notes about audio that is usable but probably not what the user meant."""
    info = stats.info
    assert info is not None
    name = info.path.name
    out: list[str] = []
    threshold = 10.0 ** (SILENCE_DBFS / 20.0)
    if stats.peak < threshold:
        out.append(f"{name}: silent (peak {_dbfs(stats.peak)} dBFS, below {SILENCE_DBFS:g} dBFS)")
    elif stats.mono_peak < threshold:
        # Out-of-phase channels average to nothing: the model would hear silence.
        out.append(
            f"{name}: mono downmix is silent (peak {_dbfs(stats.mono_peak)} dBFS); "
            "the channels cancel out"
        )
    n_values = stats.frames * info.channels
    if n_values and stats.clipped / n_values > CLIP_FRACTION:
        out.append(
            f"{name}: heavily clipped ({100.0 * stats.clipped / n_values:.1f} % of samples "
            "at full scale)"
        )
    # libsndfile headers state a length; a shortfall means a truncated download or copy.
    # FFmpeg's durations are often estimates, so they are not compared.
    declared = info.frames
    if (
        info.decoder == "soundfile"
        and not stats.truncated_by_request
        and declared > 0
        and declared - stats.frames > max(0.02 * declared, 0.5 * info.sample_rate)
    ):
        out.append(
            f"{name}: decoded {stats.frames / info.sample_rate:.2f} s of the "
            f"{info.duration:.2f} s the header declares; the file may be truncated"
        )
    return out


def load_audio(
    path: str | os.PathLike[str], target_rate: int, *, max_seconds: float | None = None
) -> LoadedAudio:
    """Decode a file to mono float32 at ``target_rate``.

    Channels are averaged, then the signal is resampled with soxr (quality
    :data:`RESAMPLE_QUALITY`). The result has ``round(frames * target_rate / source_rate)``
    samples.

    Parameters
    ----------
    path : str or PathLike
        The file (any format libsndfile or FFmpeg can decode).
    target_rate : int
        Output sample rate in Hz.
    max_seconds : float, optional
        Decode at most this many seconds from the start (must be >= :data:`MIN_SECONDS`).

    Returns
    -------
    LoadedAudio
        ``samples`` has shape ``(S,)``, dtype float32.

    Raises
    ------
    AudioMissingError, AudioEmptyError, AudioUnreadableError, UnsupportedContainerError
        The file cannot be decoded.
    AudioTooShortError
        Shorter than :data:`MIN_SECONDS`.
    AudioNotFiniteError
        A NaN or ±Inf sample.
    ValueError
        ``target_rate`` or ``max_seconds`` out of range (a programming error, not bad audio).
    """
    check_target_rate(target_rate)
    if max_seconds is not None and not max_seconds >= MIN_SECONDS:
        raise ValueError(f"max_seconds must be >= {MIN_SECONDS:g}, got {max_seconds!r}")
    stats = StreamStats()
    blocks = list(mono_blocks(path, target_rate, max_seconds, stats))
    samples = np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.float32)
    del blocks
    info = stats.info
    assert info is not None
    return LoadedAudio(
        path=info.path,
        samples=samples,
        sample_rate=int(target_rate),
        source_rate=info.sample_rate,
        source_channels=info.channels,
        duration=len(samples) / target_rate,
        sha256=file_sha256(info.path),
        warnings=audio_warnings(stats),
    )

