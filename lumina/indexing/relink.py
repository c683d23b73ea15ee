"""``lumina library relink``: point a library's songs at their audio again after the catalog
moved.

A song is recognised by its audio SHA-256 (the SHA-256 of the file's bytes that indexing
recorded, :func:`lumina.audio.file_sha256`), never by its name: a moved catalog is often
renamed or re-foldered too. Hashing reads every byte, so the files whose name is a song's old
file name are hashed first and the walk stops once every song is found: a catalog moved as a
whole costs one read of its own files, however much else the folder holds.

The paths are written by the library's writer (:meth:`LibraryWriter.set_source_paths`) under
its lock in one transaction, after all hashing is done: a run killed while hashing changes
nothing, and one killed while committing changes all or nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from lumina.errors import LuminaError, one_line
from lumina.library import Library, Song

__all__ = ["RelinkSummary", "RelinkedSong", "check_folder", "match_files", "relink_library"]


@dataclass(frozen=True)
class RelinkedSong:
    """A song found under the folder; ``old_path == new_path`` when it was already there."""

    song_id: int
    title: str
    old_path: str
    new_path: str


@dataclass(frozen=True)
class RelinkSummary:
    """What a relink did.

    Attributes
    ----------
    songs : live songs of the library (M)
    relinked : the songs found under the folder (N), by id; their paths now point there
    not_found : the live songs whose audio no file under the folder holds (K = M − N),
        with the path they keep
    files_hashed : audio files read
    unreadable : one line per file that could not be read (it is skipped)
    """

    songs: int
    relinked: tuple[RelinkedSong, ...]
    not_found: tuple[Song, ...]
    files_hashed: int
    unreadable: tuple[str, ...]


def check_folder(folder: str | os.PathLike[str]) -> Path:
    """``folder`` as a Path after checking it is a readable folder (one line otherwise).

    Raises
    ------
    LuminaError
    """
    p = Path(folder).expanduser()
    if not p.exists():
        raise LuminaError(f"{folder}: no such folder")
    if not p.is_dir():
        raise LuminaError(f"{folder}: not a folder (relink looks for audio files inside one)")
    if not os.access(p, os.R_OK | os.X_OK):
        raise LuminaError(f"{folder}: folder cannot be read (permission denied)")
    return p


def match_files(songs: Sequence[Song], files: Sequence[Path], *,
                hash_file: Callable[[Path], str] | None = None,
                progress: Callable[[int, int], None] | None = None
                ) -> tuple[dict[int, Path], int, list[str]]:
    """Which file holds each song's audio.

    Parameters
    ----------
    songs : the songs to find (by ``audio_sha256``)
    files : candidate files; those named like a song's old file are hashed first
    hash_file : default :func:`lumina.audio.file_sha256`
    progress : callable(files hashed, files), optional

    Returns
    -------
    found : dict song id → file (the first file in ``files`` order when several hold it)
    hashed : how many files were read
    unreadable : one line per file that could not be read
    """
    if hash_file is None:
        from lumina.audio import file_sha256 as hash_file
    wanted = {s.audio_sha256: s.id for s in songs}
    old_names = {Path(s.source_path).name for s in songs if s.source_path}
    # Stable sort: a likely file first, otherwise the walk's order.
    ordered = sorted(files, key=lambda f: f.name not in old_names)
    found: dict[int, Path] = {}
    unreadable: list[str] = []
    hashed = 0
    for path in ordered:
        if len(found) == len(wanted):
            break
        hashed += 1
        try:
            sha = hash_file(path)
        except (LuminaError, OSError) as exc:
            unreadable.append(one_line(exc))
            continue
        finally:
            if progress is not None:
                progress(hashed, len(ordered))
        sid = wanted.get(sha)
        if sid is not None and sid not in found:
            found[sid] = path
    if progress is not None and hashed < len(ordered):
        progress(len(ordered), len(ordered))  # stopped early: every song was found
    return found, hashed, unreadable


def relink_library(library: str | os.PathLike[str], folder: str | os.PathLike[str], *,
                   progress: Callable[[int, int], None] | None = None) -> RelinkSummary:
    """Find every live song's audio under ``folder`` (recursively, audio files only) by its
    SHA-256 and record the file's absolute path as the song's source path.

    Raises
    ------
    LuminaError
        ``folder`` is not a readable folder (checked before the library is opened), or the
        library cannot be opened or written (another writer holds it, …).
    """
    from lumina.indexing.local import collect_audio_files

    root = check_folder(folder)
    with Library.open(Path(library).expanduser()) as lib:
        songs = lib.songs()
        files, _ = collect_audio_files([root])
        found, hashed, unreadable = match_files(songs, files, progress=progress)
        by_id = {s.id: s for s in songs}
        new = {sid: str(path.resolve()) for sid, path in found.items()}
        with lib.writer() as writer:
            changed = {sid: (by_id[sid].audio_sha256, p) for sid, p in new.items()
                       if p != by_id[sid].source_path}
            done = set(writer.set_source_paths(changed))
    relinked = tuple(RelinkedSong(sid, by_id[sid].title, by_id[sid].source_path, new[sid])
                     for sid in sorted(new) if sid in done or sid not in changed)
    kept = {r.song_id for r in relinked}
    return RelinkSummary(songs=len(songs), relinked=relinked,
                         not_found=tuple(s for s in songs if s.id not in kept),
                         files_hashed=hashed, unreadable=tuple(unreadable))
