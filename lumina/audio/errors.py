"""The audio error classes, and the one-line form of a decoder's message.

Every error is an :class:`~lumina.errors.AudioError` whose message is one line that starts
with the file's name, so the command line and the app can show it as it is.
"""

from __future__ import annotations

from lumina.errors import AudioError

__all__ = [
    "AudioMissingError",
    "AudioEmptyError",
    "AudioUnreadableError",
    "UnsupportedContainerError",
    "AudioTooShortError",
    "AudioNotFiniteError",
    "one_line",
]


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
    """The decoded audio is shorter than :data:`~lumina.audio.load.MIN_SECONDS`."""


class AudioNotFiniteError(AudioError):
    """The decoded audio contains NaN or ±Inf samples."""


def one_line(exc: BaseException) -> str:
    """An exception's text on one line (libsndfile and FFmpeg messages may contain newlines)."""
    text = " ".join(str(getattr(exc, "strerror", None) or exc).split())
    return text or type(exc).__name__
