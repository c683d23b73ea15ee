"""Open an audio file: check it, read its header, and decode it block by block.

Decoding tries libsndfile (``soundfile``: WAV, FLAC, Ogg Vorbis/Opus, MP3, AIFF, …) first and
falls back to FFmpeg (``av``) for what libsndfile cannot open (MP4/M4A, raw AAC, …). Both
decoders yield float32 blocks of the same size, so what comes after them (downmix, resampling,
chunking) does not depend on which one read the file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import av
import numpy as np
import soundfile as sf

from lumina.audio.errors import (
    AudioEmptyError,
    AudioMissingError,
    AudioUnreadableError,
    UnsupportedContainerError,
    one_line,
)

__all__ = [
    "SUPPORTED_EXTENSIONS",
    "BLOCK_FRAMES",
    "AudioInfo",
    "Decoder",
    "open_decoder",
    "probe",
]

#: File extensions the indexer picks up when it walks a folder.
SUPPORTED_EXTENSIONS: frozenset[str] = frozenset(
    {".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".mp4", ".aac"}
)

#: Source frames decoded per block. 64 Ki frames of 8-channel float32 is 2 MiB: small enough for
#: bounded memory, large enough that per-call overhead in soxr and numpy does not matter.
BLOCK_FRAMES = 1 << 16
# Enough of a file's start to recognise the common non-audio types (see _sniff_non_audio).
_SNIFF_BYTES = 4096


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


def _check_file(path: str | os.PathLike[str]) -> tuple[Path, bytes]:
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
        raise AudioUnreadableError(f"{p.name}: cannot be opened ({one_line(exc)})") from None
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


class Decoder:
    """An open file that yields ``(frames, channels)`` float32 blocks.

    A context manager: leaving the ``with`` block closes the file.
    """

    info: AudioInfo

    def blocks(self) -> Iterator[np.ndarray]:
        """The whole file from the start, in blocks of about :data:`BLOCK_FRAMES` frames."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the file."""
        raise NotImplementedError

    def __enter__(self) -> Decoder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class _SoundfileDecoder(Decoder):
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
                block = self._f.read(BLOCK_FRAMES, dtype="float32", always_2d=True)
            except (sf.SoundFileError, RuntimeError) as exc:
                raise AudioUnreadableError(
                    f"{self._path.name}: decoding failed after "
                    f"{done / self.info.sample_rate:.2f} s ({one_line(exc)}); "
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


class _PyAVDecoder(Decoder):
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
        if ctx is None:  # FFmpeg knows the container but has no decoder for this format
            container.close()
            raise AudioUnreadableError(
                f"{path.name}: not audio or unreadable (no decoder for its audio format)")
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
                if n_pending >= BLOCK_FRAMES:
                    yield np.concatenate(pending)
                    pending, n_pending = [], 0
        except (av.FFmpegError, EOFError, ValueError) as exc:
            raise AudioUnreadableError(
                f"{self._path.name}: decoding failed after {done / rate:.2f} s "
                f"({one_line(exc)}); the file may be truncated or corrupt"
            ) from None
        if pending:
            yield np.concatenate(pending)

    def close(self) -> None:
        self._c.close()


#: Below this a "sample rate" is a broken header, not music: a 1 Hz header would have one
#: second of samples resampled into hours (10⁹ samples at 32 kHz). LUMINA reads 8–192 kHz.
MIN_SOURCE_RATE = 4000


def _checked(decoder: Decoder) -> Decoder:
    rate = decoder.info.sample_rate
    if rate < MIN_SOURCE_RATE:
        decoder.close()
        raise AudioUnreadableError(
            f"{decoder.info.path.name}: sample rate {rate} Hz is not audio LUMINA can use "
            "(it reads 8–192 kHz)")
    return decoder


def open_decoder(path: str | os.PathLike[str]) -> Decoder:
    """Open a file with the first decoder that accepts it (libsndfile, then FFmpeg)."""
    p, head = _check_file(path)
    try:
        decoder: Decoder = _SoundfileDecoder(p, sf.SoundFile(str(p)))
    except (sf.SoundFileError, RuntimeError, TypeError, ValueError):
        # Not a libsndfile format (TypeError: libsndfile wants a rate for headerless *.raw).
        pass
    else:
        return _checked(decoder)
    what = _sniff_non_audio(head)
    if what is not None:
        raise UnsupportedContainerError(f"{p.name}: unsupported container: {what}, not audio")
    try:
        container = av.open(str(p), mode="r")
    except (av.FFmpegError, EOFError, OSError, ValueError, TypeError):
        raise AudioUnreadableError(f"{p.name}: not audio or unreadable") from None
    return _checked(_PyAVDecoder(p, container))


def probe(path: str | os.PathLike[str]) -> AudioInfo:
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
        :func:`lumina.audio.load.load_audio`.
    """
    with open_decoder(path) as dec:
        return dec.info

