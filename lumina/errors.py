"""The exception family of the engine.

Every error a user can cause (bad audio, a broken model folder, a library from another
model …) derives from :class:`LuminaError` and carries a one-line, human-readable message.
The command line prints that line and exits non-zero; the app shows it in a dialog.
"""

import threading
from collections.abc import Callable


class LuminaError(Exception):
    """Base of all user-facing engine errors. ``str(err)`` is one readable line."""


class AudioError(LuminaError):
    """Audio that cannot be read or is unusable for attribution."""


class ModelError(LuminaError):
    """A model folder that is missing, incomplete or of an unknown format."""


class Cancelled(LuminaError):
    """The caller asked to stop (the app's Cancel button, Ctrl+C)."""


#: How a caller asks long work to stop: a set Event, or a callable that returns True.
CancelFlag = threading.Event | Callable[[], bool] | None


def is_cancelled(cancel: CancelFlag) -> bool:
    """Whether ``cancel`` asks to stop now."""
    if cancel is None:
        return False
    if isinstance(cancel, threading.Event):
        return cancel.is_set()
    return bool(cancel())


def one_line(exc: BaseException) -> str:
    """An exception as one line for a terminal, a report row or a dialog."""
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
