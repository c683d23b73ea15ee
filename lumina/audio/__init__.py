"""Audio input: decode, downmix, resample, chunk and hash.

Every track the engine sees goes through this module, so it is the one place that decides
what "the audio" of a file is: the mean of its channels, resampled with soxr to the codec's
rate, as float32. :func:`load_audio` returns the whole signal; :func:`iter_chunks` streams
the same samples chunk by chunk in bounded memory (a 2-hour file never sits in RAM). Both run
the same decode → downmix → resample pipeline with the same block sizes, so their samples are
bit-identical; :func:`chunk_bounds` is the single place that decides where chunks start and end.

Decoding tries libsndfile (``soundfile``: WAV, FLAC, Ogg Vorbis/Opus, MP3, AIFF, …) first and
falls back to FFmpeg (``av``) for what libsndfile cannot open (MP4/M4A, raw AAC, …).

Errors are :class:`~lumina.errors.AudioError` subclasses with a one-line message that starts
with the file's name. Problems that leave the audio usable (silence, clipping, a file shorter
than its header says) are returned as one-line strings in ``LoadedAudio.warnings`` instead of
being raised or passed to :mod:`warnings`, so callers decide how to show them.

This module never imports torch or Qt.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import av
import numpy as np
import soundfile as sf
import soxr

from lumina.errors import AudioError

__all__ = [
    "CHUNK_SECONDS",
    "MIN_SECONDS",
    "TAIL_FRACTION",
    "SUPPORTED_EXTENSIONS",
    "AudioMissingError",
    "AudioEmptyError",
    "AudioUnreadableError",
    "UnsupportedContainerError",
    "AudioTooShortError",
    "AudioNotFiniteError",
    "AudioInfo",
    "LoadedAudio",
    "Chunk",
    "file_sha256",
    "probe",
    "load_audio",
    "chunk_bounds",
    "split_chunks",
    "iter_chunks",
    "WaveformLevels",
    "waveform_levels",
]

PathLike = str | os.PathLike[str]

#: Length of one analysis chunk, in seconds.
CHUNK_SECONDS = 10.0
#: Shortest track accepted, in seconds.
MIN_SECONDS = 1.0
#: A final partial chunk is kept when it is at least this fraction of a chunk (5 s of 10 s).
TAIL_FRACTION = 0.5
#: File extensions the indexer picks up when it walks a folder.
SUPPORTED_EXTENSIONS: frozenset[str] = frozenset(
    {".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".mp4", ".aac"}
)

#: Peak level below which a track is reported as silent.
SILENCE_DBFS = -60.0
#: A sample at or above this magnitude counts as clipped (int16 full scale reads as 0.99997).
CLIP_LEVEL = 0.999
#: Fraction of clipped samples above which a track is reported as heavily clipped.
CLIP_FRACTION = 0.01
#: soxr quality. "HQ" is 20-bit precise, already below float32's resolution for audio; soxr's
#: output depends only on its input samples, so results are reproducible across runs.
RESAMPLE_QUALITY = "HQ"

# Source frames decoded per block. 64 Ki frames of 8-channel float32 is 2 MiB: small enough for
# bounded memory, large enough that per-call overhead in soxr and numpy does not matter.
_BLOCK_FRAMES = 1 << 16
_HASH_BLOCK = 1 << 20
_SNIFF_BYTES = 4096


# --------------------------------------------------------------------------------------------
# Errors


class AudioMissingError(AudioError):
    """The path does not exist."""


class AudioEmptyError(AudioError):
    """The file has zero bytes."""


class AudioUnreadableError(AudioError):
    """Neither decoder can read the file, or decoding fails part-way (corrupt, truncated)."""


class UnsupportedContainerError(AudioError):
    """The file is a recognisable non-audio type (image, text, document, archive) or a media
    container without an audio stream (e.g. a video-only MP4)."""


class AudioTooShortError(AudioError):
    """The decoded audio is shorter than :data:`MIN_SECONDS`."""


class AudioNotFiniteError(AudioError):
    """The decoded audio contains NaN or ±Inf samples."""


# --------------------------------------------------------------------------------------------
# Data types


@dataclass(frozen=True)
class AudioInfo:
    """What a file's header says, without decoding it.

    Attributes
    ----------
    path : Path
        The file.
    sample_rate : int
        Source sample rate in Hz.
    channels : int
        Source channel count.
    frames : int
        Frames per channel. Exact for libsndfile formats as far as the header is truthful;
        estimated from the container's duration for FFmpeg-decoded files (0 when unknown).
    duration : float
        ``frames / sample_rate`` in seconds.
    container : str
        Container name as the decoder reports it, e.g. ``"WAV"``, ``"OGG"``, ``"MP3"`` (libsndfile)
        or ``"mov,mp4,m4a,3gp,3g2,mj2"``, ``"aac"`` (FFmpeg).
    codec : str
        Codec / sample format, e.g. ``"PCM_16"``, ``"VORBIS"``, ``"OPUS"``, ``"aac"``.
    decoder : str
        ``"soundfile"`` or ``"pyav"``.
    """

    path: Path
    sample_rate: int
    channels: int
    frames: int
    duration: float
    container: str
    codec: str
    decoder: str


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


# --------------------------------------------------------------------------------------------
# Hashing


def file_sha256(path: PathLike) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB blocks.

    Parameters
    ----------
    path : str or PathLike
        The file.

    Returns
    -------
    str
        64 lowercase hex digits.
    """
    p = Path(path)
    digest = hashlib.sha256()
    try:
        with p.open("rb") as fh:
            while block := fh.read(_HASH_BLOCK):
                digest.update(block)
    except FileNotFoundError:
        raise AudioMissingError(f"{p.name}: file not found") from None
    except OSError as exc:
        raise AudioUnreadableError(f"{p.name}: cannot be read ({_oneline(exc)})") from None
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------
# Decoders


def _oneline(exc: BaseException) -> str:
    """An exception's text on one line (libsndfile and FFmpeg messages may contain newlines)."""
    text = " ".join(str(getattr(exc, "strerror", None) or exc).split())
    return text or type(exc).__name__


def _check_file(path: PathLike) -> tuple[Path, bytes]:
    """Fail early, with a specific error, on problems no decoder should have to diagnose."""
    p = Path(path)
    if not p.exists():
        raise AudioMissingError(f"{p.name}: file not found")
    if p.is_dir():
        raise AudioUnreadableError(f"{p.name}: is a directory, not an audio file")
    try:
        with p.open("rb") as fh:
            head = fh.read(_SNIFF_BYTES)
    except OSError as exc:
        raise AudioUnreadableError(f"{p.name}: cannot be opened ({_oneline(exc)})") from None
    if not head:
        raise AudioEmptyError(f"{p.name}: empty file (0 bytes)")
    return p, head


_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive"),
)


def _sniff_non_audio(head: bytes) -> str | None:
    """Name a common non-audio file type from its first bytes, or None.

    Only consulted after libsndfile has refused the file. It exists so that the same text file
    gets the same error whatever its extension: FFmpeg "opens" ``notes.txt`` as a tele-typewriter
    video stream but rejects the same bytes named ``notes.wav`` as invalid data.
    """
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return what
    # A multi-byte UTF-8 character may be cut at the end of the sniffed block.
    for cut in range(4):
        try:
            text = head[: len(head) - cut].decode("utf-8")
        except UnicodeDecodeError:
            continue
        if text and all(ch.isprintable() or ch in "\t\n\r\f" for ch in text):
            return "a text file"
        return None
    return None


class _Decoder:
    """An open file that yields ``(frames, channels)`` float32 blocks."""

    info: AudioInfo

    def blocks(self) -> Iterator[np.ndarray]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> _Decoder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class _SoundfileDecoder(_Decoder):
    def __init__(self, path: Path, handle: sf.SoundFile) -> None:
        self._path = path
        self._f = handle
        frames = max(int(handle.frames), 0)
        rate = int(handle.samplerate)
        self.info = AudioInfo(
            path=path,
            sample_rate=rate,
            channels=int(handle.channels),
            frames=frames,
            duration=frames / rate,
            container=str(handle.format),
            codec=str(handle.subtype),
            decoder="soundfile",
        )

    def blocks(self) -> Iterator[np.ndarray]:
        done = 0
        while True:
            try:
                block = self._f.read(_BLOCK_FRAMES, dtype="float32", always_2d=True)
            except (sf.SoundFileError, RuntimeError) as exc:
                raise AudioUnreadableError(
                    f"{self._path.name}: decoding failed after "
                    f"{done / self.info.sample_rate:.2f} s ({_oneline(exc)}); "
                    "the file may be truncated or corrupt"
                ) from None
            if len(block) == 0:
                return
            done += len(block)
            yield block

    def close(self) -> None:
        self._f.close()


def _frame_to_array(frame: av.AudioFrame, channels: int) -> np.ndarray:
    """An FFmpeg audio frame as ``(samples, channels)`` float32 in [-1, 1]."""
    arr = frame.to_ndarray()
    # Planar formats come as (channels, samples); packed ones as (1, samples * channels).
    arr = arr.T if frame.format.is_planar else arr.reshape(-1, channels)
    if arr.dtype == np.uint8:
        return ((arr.astype(np.float32) - 128.0) / 128.0).astype(np.float32)
    if np.issubdtype(arr.dtype, np.integer):
        scale = float(2 ** (8 * arr.dtype.itemsize - 1))
        return (arr.astype(np.float64) / scale).astype(np.float32)
    return np.ascontiguousarray(arr, dtype=np.float32)


class _PyAVDecoder(_Decoder):
    def __init__(self, path: Path, container: av.container.InputContainer) -> None:
        self._path = path
        self._c = container
        streams = container.streams.audio
        if not streams:
            what = container.format.long_name or container.format.name
            container.close()
            raise UnsupportedContainerError(
                f"{path.name}: unsupported container: {what} has no audio stream"
            )
        self._stream = stream = streams[0]
        ctx = stream.codec_context
        rate = int(ctx.sample_rate or 0)
        channels = int(ctx.channels or 0)
        if rate <= 0 or channels <= 0:
            container.close()
            raise AudioUnreadableError(
                f"{path.name}: not audio or unreadable (audio stream without rate or channels)"
            )
        if stream.duration is not None and stream.time_base is not None:
            seconds = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            seconds = container.duration / av.time_base
        else:
            seconds = 0.0
        frames = max(round(seconds * rate), 0)
        self.info = AudioInfo(
            path=path,
            sample_rate=rate,
            channels=channels,
            frames=frames,
            duration=frames / rate,
            container=str(container.format.name),
            codec=str(ctx.name),
            decoder="pyav",
        )

    def blocks(self) -> Iterator[np.ndarray]:
        rate, channels = self.info.sample_rate, self.info.channels
        # FFmpeg frames are ~1k samples; regroup them so downstream sees the same block sizes
        # as with libsndfile.
        pending: list[np.ndarray] = []
        n_pending = 0
        done = 0
        try:
            for frame in self._c.decode(self._stream):
                if frame.sample_rate != rate or frame.layout.nb_channels != channels:
                    raise AudioUnreadableError(
                        f"{self._path.name}: sample rate or channel count changes mid-stream "
                        f"at {done / rate:.2f} s"
                    )
                arr = _frame_to_array(frame, channels)
                pending.append(arr)
                n_pending += len(arr)
                done += len(arr)
                if n_pending >= _BLOCK_FRAMES:
                    yield np.concatenate(pending)
                    pending, n_pending = [], 0
        except (av.FFmpegError, EOFError, ValueError) as exc:
            raise AudioUnreadableError(
                f"{self._path.name}: decoding failed after {done / rate:.2f} s "
                f"({_oneline(exc)}); the file may be truncated or corrupt"
            ) from None
        if pending:
            yield np.concatenate(pending)

    def close(self) -> None:
        self._c.close()


def _open(path: PathLike) -> _Decoder:
    """Open a file with the first decoder that accepts it (libsndfile, then FFmpeg)."""
    p, head = _check_file(path)
    try:
        return _SoundfileDecoder(p, sf.SoundFile(str(p)))
    except (sf.SoundFileError, RuntimeError, TypeError, ValueError):
        # Not a libsndfile format (TypeError: libsndfile wants a rate for headerless *.raw).
        pass
    what = _sniff_non_audio(head)
    if what is not None:
        raise UnsupportedContainerError(f"{p.name}: unsupported container: {what}, not audio")
    try:
        container = av.open(str(p), mode="r")
    except (av.FFmpegError, EOFError, OSError, ValueError, TypeError):
        raise AudioUnreadableError(f"{p.name}: not audio or unreadable") from None
    return _PyAVDecoder(p, container)


def probe(path: PathLike) -> AudioInfo:
    """Read a file's header without decoding the audio.

    Parameters
    ----------
    path : str or PathLike
        The file.

    Returns
    -------
    AudioInfo

    Raises
    ------
    AudioMissingError, AudioEmptyError, AudioUnreadableError, UnsupportedContainerError
        As described on each class. Duration and sample checks need decoding: see
        :func:`load_audio`.
    """
    with _open(path) as dec:
        return dec.info


# --------------------------------------------------------------------------------------------
# The shared decode → downmix → resample pipeline


@dataclass
class _Stats:
    """What the pipeline learns about the source while streaming it."""

    info: AudioInfo | None = None
    frames: int = 0  # source frames decoded
    peak: float = 0.0  # max |x| over all source channels
    clipped: int = 0  # source samples (all channels) at |x| >= CLIP_LEVEL
    mono_peak: float = 0.0
    truncated_by_request: bool = False


def _check_rate(target_rate: int) -> None:
    if not isinstance(target_rate, int | np.integer) or target_rate <= 0:
        raise ValueError(f"target_rate must be a positive integer, got {target_rate!r}")


def _first_bad(block: np.ndarray) -> tuple[int, str]:
    bad = ~np.isfinite(block)
    row = int(np.argmax(bad.any(axis=1)))
    kind = "NaN" if np.isnan(block[row]).any() else "Inf"
    return row, kind


def _mono_blocks(
    path: PathLike, target_rate: int, max_seconds: float | None, stats: _Stats
) -> Iterator[np.ndarray]:
    """Decode, validate, downmix and resample a file, yielding mono float32 blocks.

    The concatenation of the yielded blocks is the track's signal, with
    ``round(frames * target_rate / source_rate)`` samples. Non-finite samples raise as soon as
    they are decoded; a too-short file raises before the final block is yielded.
    """
    with _open(path) as dec:
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


def _warnings(stats: _Stats) -> list[str]:
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
    path: PathLike, target_rate: int, *, max_seconds: float | None = None
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
    _check_rate(target_rate)
    if max_seconds is not None and not max_seconds >= MIN_SECONDS:
        raise ValueError(f"max_seconds must be >= {MIN_SECONDS:g}, got {max_seconds!r}")
    stats = _Stats()
    blocks = list(_mono_blocks(path, target_rate, max_seconds, stats))
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
        warnings=_warnings(stats),
    )


# --------------------------------------------------------------------------------------------
# Chunking


def _chunk_len(sample_rate: int, chunk_seconds: float) -> int:
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
    path: PathLike,
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
        If given, the warnings :func:`load_audio` would report are appended to it once the
        file has been read to the end.

    Yields
    ------
    Chunk
        ``samples`` float32 of shape ``(round(chunk_seconds * target_rate),)``, except possibly
        the last one (see :func:`chunk_bounds`).

    Raises
    ------
    Same as :func:`load_audio`. Non-finite samples raise as soon as they are decoded (chunks
    before them may already have been yielded); a too-short file raises before any chunk.
    """
    # Argument errors raise here, at the call, rather than at the first next().
    _check_rate(target_rate)
    _chunk_len(target_rate, chunk_seconds)
    return _iter_chunks(path, target_rate, chunk_seconds, warnings_out)


def _iter_chunks(
    path: PathLike,
    target_rate: int,
    chunk_seconds: float,
    warnings_out: list[str] | None,
) -> Iterator[Chunk]:
    size = _chunk_len(target_rate, chunk_seconds)
    stats = _Stats()
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

    for block in _mono_blocks(path, target_rate, None, stats):
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
        warnings_out.extend(_warnings(stats))


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
    block = spb * max(1, _BLOCK_FRAMES // spb)
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
