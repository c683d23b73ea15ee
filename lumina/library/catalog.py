"""The catalog (``catalog.sqlite``): its schema, connections, transactions and counters, the
song records it holds, the tags a song record is made from, and the library digest over it."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sqlite3
import struct
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from lumina.library.errors import LibraryError
from lumina.library.manifest import Manifest, canonical_json

__all__ = [
    "CATALOG_NAME",
    "CATALOG_SCHEMA",
    "SCHEMA_VERSION",
    "SONG_COLUMNS",
    "Snapshot",
    "Song",
    "SongMeta",
    "catalog_has_songs",
    "connect_catalog",
    "create_catalog",
    "library_digest",
    "read_snapshot",
    "read_song_meta",
    "read_transaction",
    "set_meta",
    "song_from_row",
    "utc_now",
    "write_transaction",
]

SCHEMA_VERSION = 1
CATALOG_NAME = "catalog.sqlite"


def utc_now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class SongMeta:
    """What is known about a song besides its fingerprint (tags or the file name)."""

    title: str
    artist: str = ""
    isrc: str = ""
    source_path: str = ""
    audio_sha256: str = ""
    duration: float = 0.0
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Song:
    """One catalog row.

    Attributes
    ----------
    id : int
        Stable song id (never reused, kept through compaction).
    row : int
        Row of the song in the track matrices (changes on compaction).
    chunk_row, n_chunks : int
        The song's rows in the chunk matrices: ``chunk_row … chunk_row + n_chunks - 1``.
    live : bool
        False once removed (the rows stay until ``compact``).
    """

    id: int
    row: int
    chunk_row: int
    n_chunks: int
    title: str
    artist: str
    isrc: str
    source_path: str
    audio_sha256: str
    duration: float
    added_at: str
    live: bool
    warnings: tuple[str, ...] = ()


SONG_COLUMNS = (
    "id, row, chunk_row, n_chunks, title, artist, isrc, source_path, audio_sha256, duration, "
    "added_at, live, warnings"
)


def song_from_row(r: Sequence[object]) -> Song:
    """A catalog row as a :class:`Song`; a row with a malformed value (a damaged or edited
    catalog) raises one-line :class:`LibraryError`."""
    try:
        return _song_from_row(r)
    except (ValueError, TypeError, OverflowError) as exc:
        raise LibraryError(f"{CATALOG_NAME}: song {r[0]!r} has a malformed value "
                           f"({' '.join(str(exc).split())}); run lumina library verify") from None


def _song_from_row(r: Sequence[object]) -> Song:
    warnings = tuple(json.loads(r[12])) if r[12] else ()  # type: ignore[arg-type]
    return Song(
        id=int(r[0]), row=int(r[1]), chunk_row=int(r[2]), n_chunks=int(r[3]),  # type: ignore[arg-type]
        title=str(r[4]), artist=str(r[5]), isrc=str(r[6]), source_path=str(r[7]),
        audio_sha256=str(r[8]), duration=float(r[9]), added_at=str(r[10]),  # type: ignore[arg-type]
        live=bool(r[11]), warnings=warnings,
    )


_ISRC_RE = re.compile(r"^[A-Z]{2}[A-Z0-9]{3}\d{7}$")


def _clean_isrc(value: str) -> str:
    compact = re.sub(r"[\s-]", "", value).upper()
    return compact if _ISRC_RE.match(compact) else value.strip()


def _first_tag(tags: object, *keys: str) -> str:
    if tags is None:
        return ""
    for key in keys:
        try:
            value = tags[key]  # type: ignore[index]
        except (KeyError, ValueError, TypeError, IndexError):
            continue
        if isinstance(value, list | tuple):
            value = value[0] if value else ""
        text = getattr(value, "text", None)  # ID3 frames
        if isinstance(text, list | tuple):
            value = text[0] if text else ""
        if isinstance(value, bytes):  # MP4 freeform atoms
            value = value.decode("utf-8", "replace")
        value = str(value).strip()
        if value:
            return value
    return ""


def read_song_meta(path: str | os.PathLike[str]) -> tuple[str, str, str]:
    """Title, artist and ISRC of an audio file, from its tags or else its file name.

    Tags are read with mutagen (Vorbis comments, ID3, MP4 atoms). Without a title tag the file
    name is used: ``"Artist - Title.flac"`` gives both, anything else gives the stem as title.

    Returns
    -------
    (title, artist, isrc) : tuple of str
        ``artist`` and ``isrc`` are empty when unknown.
    """
    p = Path(path)
    title = artist = isrc = ""
    try:
        import mutagen

        audio = mutagen.File(str(p), easy=True)
    except Exception:  # mutagen raises many types on odd files; tags are optional anyway
        audio = None
    tags = getattr(audio, "tags", None) if audio is not None else None
    if tags is not None:
        title = _first_tag(tags, "title", "TIT2", "\xa9nam")
        artist = _first_tag(tags, "artist", "TPE1", "\xa9ART", "albumartist")
        isrc = _clean_isrc(_first_tag(tags, "isrc", "TSRC", "----:com.apple.iTunes:ISRC"))
    if not title:
        stem = p.stem
        if " - " in stem and not artist:
            artist_part, title_part = stem.split(" - ", 1)
            artist, title = artist_part.strip(), title_part.strip()
        title = title or stem
    return title, artist, isrc



CATALOG_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE songs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    row INTEGER NOT NULL UNIQUE,
    chunk_row INTEGER NOT NULL,
    n_chunks INTEGER NOT NULL,
    title TEXT NOT NULL,
    artist TEXT NOT NULL DEFAULT '',
    isrc TEXT NOT NULL DEFAULT '',
    source_path TEXT NOT NULL DEFAULT '',
    audio_sha256 TEXT NOT NULL,
    duration REAL NOT NULL,
    added_at TEXT NOT NULL,
    live INTEGER NOT NULL DEFAULT 1,
    removed_at TEXT,
    track_sha256 BLOB NOT NULL,
    chunks_sha256 BLOB NOT NULL,
    crc BLOB NOT NULL,
    warnings TEXT NOT NULL DEFAULT ''
);
CREATE INDEX songs_audio ON songs (audio_sha256);
CREATE TABLE chunks (
    song_id INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    start REAL NOT NULL,
    end REAL NOT NULL,
    loss REAL NOT NULL,
    PRIMARY KEY (song_id, idx)
) WITHOUT ROWID;
"""

_META_KEYS = ("schema_version", "track_rows", "chunk_rows", "live_rows", "rows_version",
              "generation")


def connect_catalog(path: Path) -> sqlite3.Connection:
    # Autocommit mode: every transaction is an explicit BEGIN … COMMIT below. The connection
    # may move between threads (the app's worker thread) but is never used by two at once.
    conn = sqlite3.connect(str(path), timeout=30.0, isolation_level=None,
                           check_same_thread=False)
    conn.execute("PRAGMA busy_timeout=30000")
    # FULL: a commit is durable once it returns (NORMAL in WAL mode may lose the last
    # transactions on power loss; a process kill loses nothing either way).
    conn.execute("PRAGMA synchronous=FULL")
    return conn


def create_catalog(path: Path) -> sqlite3.Connection:
    """A new, empty catalog at ``path`` (counters at zero), connected."""
    conn = connect_catalog(path)
    conn.execute("PRAGMA journal_mode=WAL")  # persistent: stored in the file
    conn.executescript(CATALOG_SCHEMA)
    with write_transaction(conn):
        conn.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?)",
            [("schema_version", str(SCHEMA_VERSION)), ("track_rows", "0"),
             ("chunk_rows", "0"), ("live_rows", "0"), ("rows_version", "0"),
             ("generation", "0")],
        )
    return conn


def catalog_has_songs(catalog: Path) -> bool:
    """Whether an existing catalog file holds song rows (read-only probe)."""
    try:
        probe_conn = sqlite3.connect(f"file:{catalog}?mode=ro", uri=True)
        try:
            return bool(probe_conn.execute("SELECT EXISTS (SELECT 1 FROM songs)").fetchone()[0])
        finally:
            probe_conn.close()
    except sqlite3.Error as exc:
        # Killed before the schema was written: nothing to lose. Anything else
        # unreadable: refuse rather than guess.
        return "no such table" not in str(exc) and catalog.stat().st_size > 0


@dataclass(frozen=True)
class Snapshot:
    """The catalog counters at one instant (one read transaction)."""

    track_rows: int
    chunk_rows: int
    live_rows: int
    rows_version: int
    generation: int


def _counter(meta: dict, key: str, where: str) -> int:
    """A counter of the ``meta`` table: a whole number >= 0, or one-line LibraryError."""
    value = meta[key]
    text = value if isinstance(value, str) else None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif text is not None and re.fullmatch(r"\d+", text.strip(), re.ASCII):
        number = int(text)
    else:
        shown = repr(value)
        shown = shown if len(shown) <= 40 else shown[:37] + "…"
        raise LibraryError(f"{where}/{CATALOG_NAME}: counter {key} is not a whole number "
                           f"({shown}); the catalog is damaged")
    if number < 0:
        raise LibraryError(f"{where}/{CATALOG_NAME}: counter {key} is negative ({number}); "
                           "the catalog is damaged")
    return number


def read_snapshot(conn: sqlite3.Connection, where: str) -> Snapshot:
    try:
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    except sqlite3.DatabaseError as exc:
        raise LibraryError(f"{where}/{CATALOG_NAME} is unreadable: {exc}") from None
    missing = [k for k in _META_KEYS if k not in meta]
    if missing:
        raise LibraryError(f"{where}/{CATALOG_NAME} lacks counters {', '.join(missing)}")
    if _counter(meta, "schema_version", where) != SCHEMA_VERSION:
        raise LibraryError(
            f"{where}/{CATALOG_NAME} has schema version {meta['schema_version']}, "
            f"this LUMINA reads {SCHEMA_VERSION}"
        )
    return Snapshot(
        track_rows=_counter(meta, "track_rows", where),
        chunk_rows=_counter(meta, "chunk_rows", where),
        live_rows=_counter(meta, "live_rows", where),
        rows_version=_counter(meta, "rows_version", where),
        generation=_counter(meta, "generation", where),
    )


@contextlib.contextmanager
def read_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A read transaction: every SELECT inside sees the same committed state."""
    conn.execute("BEGIN")
    try:
        yield conn
    finally:
        conn.execute("COMMIT")


@contextlib.contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    try:
        conn.execute("COMMIT")
    except sqlite3.Error:
        # A COMMIT that fails (SQLITE_FULL: the disk filled while the WAL grew) leaves the
        # transaction open; end it, or the connection refuses every later BEGIN.
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise


def set_meta(conn: sqlite3.Connection, **values: int) -> None:
    conn.executemany("UPDATE meta SET value = ? WHERE key = ?",
                     [(str(v), k) for k, v in values.items()])



def library_digest(manifest: Manifest, live: Iterable[tuple[int, str, bytes, bytes]]) -> str:
    """SHA-256 over the manifest identity and the ordered live rows (see the format doc)."""
    h = hashlib.sha256()
    h.update(b"lumina-library-digest/1\n")
    h.update(canonical_json(manifest.identity()).encode())
    h.update(b"\n")
    for song_id, audio_sha, track_sha, chunks_sha in live:
        h.update(struct.pack("<q", song_id))
        h.update(bytes.fromhex(audio_sha) if len(audio_sha) == 64 else audio_sha.encode())
        h.update(track_sha)
        h.update(chunks_sha)
    return h.hexdigest()
