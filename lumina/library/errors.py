"""The library's errors: every refusal is one line a user can act on."""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from lumina.errors import LuminaError

__all__ = ["WAL_INDEX_BYTES", "LibraryError", "LibraryFullError", "LibraryLockedError",
           "disk_full_error", "disk_full_is_one_line", "free_bytes", "is_disk_full"]


class LibraryError(LuminaError):
    """A library that cannot be opened, is damaged, or does not match the model or query."""


class LibraryLockedError(LibraryError):
    """Another process is writing to the library."""


class LibraryFullError(LibraryError):
    """The disk holding the library is full (or a file-size limit was reached)."""


#: "No space left on device", "Disk quota exceeded", "File too large" (RLIMIT_FSIZE).
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


#: What SQLite in WAL mode must be able to allocate beside the catalog before its first read.
WAL_INDEX_BYTES = 32 * 1024


def free_bytes(folder: Path) -> int:
    """Bytes an unprivileged process may still write on ``folder``'s file system (a large
    number when it cannot be told)."""
    try:
        st = os.statvfs(folder)
    except OSError:
        return 1 << 62
    return st.f_bavail * st.f_frsize


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` says the disk is full, from the OS or from SQLite (``SQLITE_FULL``)."""
    if isinstance(exc, OSError):
        return exc.errno in DISK_FULL_ERRNOS
    if isinstance(exc, sqlite3.Error):
        return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
    return False


def disk_full_error(folder: Path, detail: str) -> LibraryFullError:
    """The one line for a full disk under library ``folder``; ``detail`` says what was being
    done and what it left (it starts with its own separator)."""
    return LibraryFullError(f"no space left on the disk holding library {folder.name} "
                            f"({folder}){detail}; free some space and run it again")


@contextlib.contextmanager
def disk_full_is_one_line(folder: Path, doing: str) -> Iterator[None]:
    """Turn a full disk met while ``doing`` something to library ``folder`` into one
    :class:`LibraryFullError`; any other error passes through unchanged.

    Only for steps that leave the library as it was when they fail (an append's rows are
    uncommitted, a compaction's new files are deleted), so the message can say so.
    """
    try:
        yield
    except (OSError, sqlite3.Error) as exc:
        if not is_disk_full(exc):
            raise
        raise disk_full_error(folder, f" while {doing}: the library is as it was before"
                              ) from None
