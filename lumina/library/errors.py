"""The library's errors: every refusal is one line a user can act on."""

from __future__ import annotations

from lumina.errors import LuminaError

__all__ = ["LibraryError", "LibraryLockedError"]


class LibraryError(LuminaError):
    """A library that cannot be opened, is damaged, or does not match the model or query."""


class LibraryLockedError(LibraryError):
    """Another process is writing to the library."""

