"""The fingerprint library: a durable on-disk catalog of songs and their gradient fingerprints.

A library is a folder (the format is documented in ``docs/library-format.md``)::

    LIB/
      manifest.json                 identity: model weights SHA-256, projection, D, chunking …
      catalog.sqlite                songs, chunk rows and counters (SQLite, WAL mode)
      <channel>.track.g<G>.f32      one float32 row of D values per song, append-only
      <channel>.chunks.g<G>.f32     one float32 row of D values per song chunk, append-only
      writer.lock                   flock target: one writer at a time
      cache/<key>/                  derived, rebuildable: prepared matrices, KRR inverses, …

Crash safety rests on one ordering rule: fingerprint rows are appended to the matrix files and
fsync'ed *before* the SQLite transaction that records them (row index, checksums, counters)
commits. The catalog's counters are therefore the truth; bytes after the committed rows are an
interrupted append and are cut off by the next writer (or by any ``open`` that finds the
library idle). ``kill -9`` at any moment leaves a library that opens, verifies, and redoes only
the interrupted song on the next ``index`` run.

Readers never lock: SQLite's WAL gives them a consistent snapshot of committed rows, and the
matrix files are at least as long as that snapshot says, so a reader works while a writer
appends. Queries use memory-mapped, prepared copies of the live rows (``cache/``) keyed by the
catalog's ``rows_version``, rebuilt only when the set of live rows changes.

The math of attribution lives in :mod:`lumina.attribution`; this package only stores, prepares
(streaming, in bounded memory) and hands over matrices. Indexing audio files into a library
is :mod:`lumina.indexing` (above this package: the library never imports it).

Modules: :mod:`~lumina.library.manifest` (identity), :mod:`~lumina.library.catalog` (SQLite,
song records, tags), :mod:`~lumina.library.storage` (matrix files, lock),
:mod:`~lumina.library.query_cache` (prepared cache), :mod:`~lumina.library.reader`
(:class:`Library`), :mod:`~lumina.library.writer` (:class:`LibraryWriter`, repair),
:mod:`~lumina.library.verify`.
"""

from __future__ import annotations

from lumina.library.catalog import CATALOG_NAME, Song, SongMeta, read_song_meta
from lumina.library.errors import LibraryError, LibraryFullError, LibraryLockedError
from lumina.library.manifest import (
    DEFAULT_COMPOSITION_RENDERING,
    FORMAT_VERSION,
    IDENTITY_FIELDS,
    MANIFEST_NAME,
    PLAIN_RENDERING,
    Manifest,
    composition_rendering_for,
    loudness_for,
    output_function_for,
)
from lumina.library.query_cache import LibraryAttribution, PreparedLibrary
from lumina.library.reader import Library
from lumina.library.verify import VerifyReport, verify
from lumina.library.writer import LibraryWriter

__all__ = [
    "CATALOG_NAME",
    "DEFAULT_COMPOSITION_RENDERING",
    "FORMAT_VERSION",
    "IDENTITY_FIELDS",
    "MANIFEST_NAME",
    "PLAIN_RENDERING",
    "Library",
    "LibraryAttribution",
    "LibraryError",
    "LibraryFullError",
    "LibraryLockedError",
    "LibraryWriter",
    "Manifest",
    "PreparedLibrary",
    "Song",
    "SongMeta",
    "VerifyReport",
    "composition_rendering_for",
    "loudness_for",
    "output_function_for",
    "read_song_meta",
    "verify",
]
