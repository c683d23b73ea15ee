"""Audio input: decode, downmix, resample, chunk and hash.

Every track the engine sees comes in through this package, one job per module:

* :mod:`~lumina.audio.decode`: check a file, read its header (:func:`probe`) and decode it,
  with libsndfile first and FFmpeg for what libsndfile cannot open;
* :mod:`~lumina.audio.load`: the decode → downmix → resample pipeline and :func:`load_audio`,
  which returns the whole mono signal with its warnings;
* :mod:`~lumina.audio.chunks`: where chunks start and end, and :func:`iter_chunks`, which
  streams the same samples chunk by chunk in bounded memory;
* :mod:`~lumina.audio.waveform`: min/max pyramids for drawing a waveform;
* :mod:`~lumina.audio.hashing`: a file's SHA-256;
* :mod:`~lumina.audio.errors`: the :class:`~lumina.errors.AudioError` subclasses, each with a
  one-line message that starts with the file's name.

Callers import from here; the modules are the layout, not the interface. No module of this
package imports torch or Qt: the app imports it on the UI thread to draw waveforms.
"""

from __future__ import annotations

from lumina.audio.chunks import (
    CHUNK_SECONDS,
    TAIL_FRACTION,
    Chunk,
    chunk_bounds,
    iter_chunks,
    split_chunks,
)
from lumina.audio.decode import SUPPORTED_EXTENSIONS, AudioInfo, probe
from lumina.audio.errors import (
    AudioEmptyError,
    AudioMissingError,
    AudioNotFiniteError,
    AudioTooShortError,
    AudioUnreadableError,
    UnsupportedContainerError,
)
from lumina.audio.hashing import file_sha256
from lumina.audio.load import MIN_SECONDS, LoadedAudio, load_audio
from lumina.audio.waveform import WaveformLevels, waveform_envelope, waveform_levels

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
    "waveform_envelope",
]
