"""The audio file behind one library song: where the library says it is, and pointing the
song at a file the user located after the catalog moved.

A located file is accepted only when its bytes hash to the audio SHA-256 that indexing
recorded for the song — the check ``lumina library relink`` makes for a whole folder
(:mod:`lumina.indexing.relink`) — and the path is written by the library's writer
(:meth:`~lumina.library.writer.LibraryWriter.set_source_paths`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from lumina.errors import LuminaError
from lumina.library.catalog import Song
from lumina.library.reader import Library

__all__ = ["relink_song", "song_source"]


def song_source(library: str | os.PathLike[str], song_id: int) -> Song:
    """The catalog row of ``song_id`` (its ``source_path``, ``audio_sha256``, title …).

    Raises
    ------
    LibraryError
        The library cannot be opened or has no such song.
    """
    with Library.open(Path(library)) as lib:
        return lib.song(song_id)


def relink_song(library: str | os.PathLike[str], song_id: int, file: str | os.PathLike[str],
                *, hash_file: Callable[[Path], str] | None = None) -> Song:
    """Record ``file`` as the source of ``song_id`` when it holds that song's audio.

    Parameters
    ----------
    library : the library folder
    song_id : the song
    file : the audio file the user located
    hash_file : default :func:`lumina.audio.file_sha256`

    Returns
    -------
    Song
        The song's catalog row, its ``source_path`` now ``file`` (absolute).

    Raises
    ------
    LuminaError
        ``file`` cannot be read, or its SHA-256 differs from the library's record of the
        song (nothing is written), or the library cannot be written.
    """
    if hash_file is None:
        from lumina.audio import file_sha256 as hash_file
    path = Path(file).expanduser().resolve()
    with Library.open(Path(library)) as lib:
        song = lib.song(song_id)
        if hash_file(path) != song.audio_sha256:
            raise LuminaError(f"{path.name} is not the audio of “{song.title}”: its SHA-256 "
                              "differs from the library's record; nothing was changed")
        with lib.writer() as writer:
            done = writer.set_source_paths({song.id: (song.audio_sha256, str(path))})
        if not done:
            raise LuminaError(f"“{song.title}” is no longer in library {lib.name}")
        return lib.song(song_id)
