"""The SHA-256 of a file's bytes: what an index entry and a signed report bind to."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from lumina.audio.errors import AudioMissingError, AudioUnreadableError, one_line

__all__ = ["file_sha256"]

# Bytes read per call: large enough that hashing runs at disk speed, small enough that a
# multi-GB file never sits in memory.
_HASH_BLOCK = 1 << 20


def file_sha256(path: str | os.PathLike[str]) -> str:
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
        raise AudioUnreadableError(f"{p.name}: cannot be read ({one_line(exc)})") from None
    return digest.hexdigest()
