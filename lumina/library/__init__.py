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

The math of attribution lives in :mod:`lumina.attribution`; this module only stores, prepares
(streaming, in bounded memory) and hands over matrices.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import sqlite3
import struct
import tempfile
import threading
import time
import uuid
import weakref
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from lumina import __version__
from lumina.attribution import (
    Attribution,
    AttributionParams,
    ChannelIndex,
    KernelRegression,
    attribute,
    cohort_indices,
    resolve_top_k,
    song_null_stats,
    unit_rows,
)
from lumina.errors import LuminaError, one_line
from lumina.fingerprint.rendering import RENDERINGS, rendering_id, rendering_words
from lumina.readahead import ReadAhead

__all__ = [
    "FORMAT_VERSION",
    "IDENTITY_FIELDS",
    "DEFAULT_COMPOSITION_RENDERING",
    "PLAIN_RENDERING",
    "composition_rendering_for",
    "IndexEvent",
    "IndexRun",
    "IndexSummary",
    "Library",
    "LibraryAttribution",
    "LibraryError",
    "LibraryLockedError",
    "LibraryWriter",
    "Manifest",
    "PreparedLibrary",
    "Song",
    "SongMeta",
    "VerifyReport",
    "collect_audio_files",
    "fingerprint_for_index",
    "fingerprinter_for",
    "identity_of_fingerprinter",
    "index_files",
    "read_song_meta",
    "verify",
]

FORMAT = "lumina-library"
FORMAT_VERSION = 1
SCHEMA_VERSION = 1
MANIFEST_NAME = "manifest.json"
CATALOG_NAME = "catalog.sqlite"
LOCK_NAME = "writer.lock"
CACHE_NAME = "cache"
#: Matrices are raw little-endian float32, row-major, no header: appending never rewrites.
DTYPE = np.dtype("<f4")
#: Manifest fields that must match for fingerprints to be comparable. The model *name* is
#: not among them: the same weights under another folder name give the same fingerprints.
IDENTITY_FIELDS = (
    "model_sha256",
    "projection_seed",
    "projection_blocks",
    "dim",
    "chunk_seconds",
    "sample_rate",
    "channels",
    "composition_rendering",
)
#: Identity fields a paper-mode library leaves out (absent = None), so its manifest and
#: digest are those of a library made before the field existed.
_OPTIONAL_IDENTITY = ("composition_rendering",)
KINDS = ("track", "chunks")
#: Rows per block when whole matrices are streamed. The same block as attribution's so the
#: prepared matrices (and the library mean) are bit-identical to ``build_channel_index``.
_BLOCK_ROWS = 16384
#: Songs at most this long are decoded by the prefetch thread ahead of the model; longer ones
#: are streamed on the main thread so memory stays bounded (15 min of 32 kHz float32 ≈ 115 MB).
_PREFETCH_MAX_SECONDS = 900.0
#: A cache temp folder older than this is from a crashed process and may be removed.
_STALE_TMP_SECONDS = 3600.0
_LOCK_WAIT_SECONDS = 2.0
_EMPTY_SHA = hashlib.sha256(b"").digest()
# Ids per "IN (…)" query: SQLite ≥ 3.32 allows 32766 variables (older: 999). Large lists
# matter: a 10⁶-song query may report 10⁵ songs, and 500-id lists take twice as long.
_SQL_VARS = 5000 if sqlite3.sqlite_version_info >= (3, 32) else 500


class LibraryError(LuminaError):
    """A library that cannot be opened, is damaged, or does not match the model or query."""


class LibraryLockedError(LibraryError):
    """Another process is writing to the library."""


# --------------------------------------------------------------------------- small helpers


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _fsync_dir(folder: Path) -> None:
    # Make a new or renamed directory entry durable (POSIX); Windows has no directory fsync.
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + f".tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _canonical_json(obj: object) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _matrix_name(channel: str, kind: str, generation: int) -> str:
    return f"{channel}.{kind}.g{generation}.f32"


_MATRIX_RE = re.compile(r"^(?P<channel>.+)\.(?P<kind>track|chunks)\.g(?P<gen>\d+)\.f32$")


# --------------------------------------------------------------------------- the manifest


@dataclass(frozen=True)
class Manifest:
    """The identity of a library (``manifest.json``), written once when it is created.

    Attributes
    ----------
    library_id : str
        Random UUID of this library (cache keys; reports may name it).
    model_name, model_sha256 : str
        Model that made the fingerprints; the SHA-256 is :func:`lumina.models.weights_digest`.
    projection_seed, projection_blocks, dim : int
        The Kronecker projection (DESIGN §1 step 3); ``dim`` is D per channel.
    chunk_seconds : float
    sample_rate : int
        The codec's rate audio was resampled to.
    channels : tuple of str
        Channel names in file order, e.g. ``("composition", "production")``.
    software_version, created : str
        LUMINA version and UTC time at creation.
    composition_rendering : str or None
        ``name/version`` of the timbre-neutral rendering the composition channel's
        fingerprints were computed on (:mod:`lumina.fingerprint.rendering`); None: the audio itself
        (the paper's mode). Queries must use the same rendering.
    model_spec : str
        How the model was given (``lumina-tiny`` or an absolute folder); a default for later
        commands, not part of the identity.
    """

    library_id: str
    model_name: str
    model_sha256: str
    projection_seed: int
    projection_blocks: int
    dim: int
    chunk_seconds: float
    sample_rate: int
    channels: tuple[str, ...]
    software_version: str
    created: str
    model_spec: str = ""
    format_version: int = FORMAT_VERSION
    composition_rendering: str | None = None

    def identity(self) -> dict[str, object]:
        """The fields that decide whether two sets of fingerprints are comparable; an
        optional field that is None is left out."""
        out = {name: getattr(self, name) for name in IDENTITY_FIELDS
               if not (name in _OPTIONAL_IDENTITY and getattr(self, name) is None)}
        out["channels"] = list(self.channels)
        return out

    def to_json(self) -> dict[str, object]:
        return {
            "format": FORMAT,
            "format_version": self.format_version,
            "library_id": self.library_id,
            "model_name": self.model_name,
            "model_sha256": self.model_sha256,
            "model_spec": self.model_spec,
            "projection_seed": self.projection_seed,
            "projection_blocks": self.projection_blocks,
            "dim": self.dim,
            "chunk_seconds": self.chunk_seconds,
            "sample_rate": self.sample_rate,
            "channels": list(self.channels),
            **({} if self.composition_rendering is None
               else {"composition_rendering": self.composition_rendering}),
            "dtype": DTYPE.str,
            "software_version": self.software_version,
            "created": self.created,
        }

    @classmethod
    def from_json(cls, data: object, where: str = MANIFEST_NAME) -> Manifest:
        """Validate a parsed manifest; every problem is a one-line :class:`LibraryError`."""
        if not isinstance(data, dict):
            raise LibraryError(f"{where}: not a JSON object")
        if data.get("format") != FORMAT:
            raise LibraryError(
                f"{where}: not a LUMINA library manifest (format {data.get('format')!r})")
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise LibraryError(
                f"{where}: library format version {version!r} is not supported by this LUMINA "
                f"({__version__} reads version {FORMAT_VERSION})"
            )
        if data.get("dtype", DTYPE.str) != DTYPE.str:
            raise LibraryError(f"{where}: unsupported matrix dtype {data.get('dtype')!r}")

        def get(name: str, kind: type | tuple[type, ...]) -> object:
            value = data.get(name)
            if isinstance(value, bool) or not isinstance(value, kind):
                raise LibraryError(f"{where}: field {name!r} is missing or invalid ({value!r})")
            return value

        channels = get("channels", list)
        if not channels or not all(isinstance(c, str) and c and "/" not in c for c in channels):
            raise LibraryError(f"{where}: field 'channels' must list channel names")
        dim = int(get("dim", int))
        if dim < 1:
            raise LibraryError(f"{where}: field 'dim' must be positive, got {dim}")
        chunk_seconds = float(get("chunk_seconds", (int, float)))
        sample_rate = int(get("sample_rate", int))
        if not chunk_seconds > 0 or sample_rate <= 0:
            raise LibraryError(f"{where}: chunk_seconds and sample_rate must be positive")
        sha = str(get("model_sha256", str))
        rendering = data.get("composition_rendering")
        if rendering is not None:
            rendering = _known_rendering(rendering, where)
        return cls(
            library_id=str(get("library_id", str)),
            model_name=str(get("model_name", str)),
            model_sha256=sha,
            projection_seed=int(get("projection_seed", int)),
            projection_blocks=int(get("projection_blocks", int)),
            dim=dim,
            chunk_seconds=chunk_seconds,
            sample_rate=sample_rate,
            channels=tuple(channels),
            software_version=str(data.get("software_version", "")),
            created=str(data.get("created", "")),
            model_spec=str(data.get("model_spec", "") or ""),
            format_version=int(version),
            composition_rendering=rendering,
        )

    def check_compatible(self, params: Mapping[str, object], what: str = "the fingerprints",
                         library: str = "the library") -> None:
        """Refuse fingerprints made with another model or projection.

        Parameters
        ----------
        params : mapping
            At least the :data:`IDENTITY_FIELDS` (``channels`` may be omitted), e.g.
            :meth:`lumina.fingerprint.Fingerprint.parameters` or
            :func:`identity_of_fingerprinter`.
        what, library : str
            How to name both sides in the message.

        Raises
        ------
        LibraryError
            Naming the first mismatched field, in one line.
        """
        mine = self.identity()
        for name in IDENTITY_FIELDS:
            if name in _OPTIONAL_IDENTITY:
                theirs, ours = params.get(name), mine.get(name)
                if theirs != ours:
                    raise LibraryError(
                        f"{library} has composition fingerprints of "
                        f"{rendering_words(ours)}, {what} of {rendering_words(theirs)}; "
                        "fingerprints of different renderings cannot be compared")
                continue
            if name not in params:
                if name == "channels":
                    continue
                raise LibraryError(
                    f"{what} do not state {name}; cannot check them against {library}")
            theirs = params[name]
            ours = mine[name]
            if name == "channels":
                same = list(theirs) == list(ours)  # type: ignore[call-overload]
            elif name == "chunk_seconds":
                same = float(theirs) == float(ours)  # type: ignore[arg-type]
            else:
                same = theirs == ours
            if not same:
                if name == "model_sha256":
                    model = params.get("model_name", "?")
                    raise LibraryError(
                        f"{library} was built with another model: model_sha256 "
                        f"{str(ours)[:12]}… ({self.model_name}) vs {str(theirs)[:12]}… ({model}) "
                        f"for {what}; fingerprints of different models cannot be compared"
                    )
                raise LibraryError(
                    f"{library} was built with {name}={ours!r}, {what} use {name}={theirs!r}; "
                    "fingerprints with different settings cannot be compared"
                )


def _known_rendering(value: object, where: str) -> str:
    """The ``name/version`` of a rendering this LUMINA can make; else a one-line error."""
    known = {r.id for r in RENDERINGS.values()}
    if not isinstance(value, str) or value not in known:
        raise LibraryError(
            f"{where}: composition rendering {value!r} is not one this LUMINA knows "
            f"({', '.join(sorted(known))})")
    return value


#: What ``--composition-rendering`` calls the paper's mode (no rendering).
PLAIN_RENDERING = "plain"
#: The composition rendering of a new library when none is asked for, as
#: ``--composition-rendering`` takes it: a rendering name or :data:`PLAIN_RENDERING`.
DEFAULT_COMPOSITION_RENDERING = "shepard"


def composition_rendering_for(manifest: Manifest | None, requested: str | None = None
                              ) -> str | None:
    """The composition rendering (``name/version``, None: the audio itself) to fingerprint
    with for a library.

    Parameters
    ----------
    manifest : the library's, or None for a library about to be created.
    requested : a rendering name (``shepard-onsets`` …), ``"plain"`` for the paper's mode,
        or None: the library's rendering, or :data:`DEFAULT_COMPOSITION_RENDERING` for a new
        library.

    Raises
    ------
    LibraryError
        Unknown rendering, or one other than the library's (one line).
    """
    if requested is None:
        if manifest is not None:
            return manifest.composition_rendering
        requested = DEFAULT_COMPOSITION_RENDERING
    if requested == PLAIN_RENDERING:
        wanted = None
    else:
        try:
            wanted = rendering_id(requested)
        except ValueError as exc:
            raise LibraryError(f"{exc}, or {PLAIN_RENDERING!r} for the audio itself") from None
    if manifest is not None and wanted != manifest.composition_rendering:
        raise LibraryError(
            f"the library's composition fingerprints are of "
            f"{rendering_words(manifest.composition_rendering)}, not of "
            f"{rendering_words(wanted)}; index into a new library to use another rendering")
    return wanted


def _read_manifest(folder: Path) -> Manifest:
    path = folder / MANIFEST_NAME
    if not folder.exists():
        raise LibraryError(f"library not found: {folder}")
    if not folder.is_dir():
        raise LibraryError(f"{folder}: a library is a folder, not a file")
    if not path.is_file():
        raise LibraryError(f"{folder}: not a LUMINA library (no {MANIFEST_NAME})")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LibraryError(f"{folder.name}/{MANIFEST_NAME} is unreadable: {exc}") from None
    return Manifest.from_json(data, f"{folder.name}/{MANIFEST_NAME}")


# --------------------------------------------------------------------------- song records


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


_SONG_COLUMNS = (
    "id, row, chunk_row, n_chunks, title, artist, isrc, source_path, audio_sha256, duration, "
    "added_at, live, warnings"
)


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


# --------------------------------------------------------------------------- locking


try:  # POSIX
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)

except ImportError:  # pragma: no cover - Windows
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]


class _WriterLock:
    """Exclusive writer lock on ``writer.lock``.

    ``flock`` locks belong to the open file and the kernel drops them when the process dies,
    so a lock left by ``kill -9`` never blocks; the pid written into the file is only for the
    message shown to the second writer.
    """

    def __init__(self, folder: Path, wait: float = _LOCK_WAIT_SECONDS) -> None:
        self.path = folder / LOCK_NAME
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + wait
        while not _try_lock(self.fd):
            if time.monotonic() >= deadline:
                try:
                    holder = os.pread(self.fd, 32, 0).decode("ascii", "replace").strip()
                except (OSError, AttributeError):
                    holder = ""
                os.close(self.fd)
                who = f" (pid {holder})" if holder.isdigit() else ""
                raise LibraryLockedError(
                    f"{folder.name} is being written by another process{who}; "
                    "wait for it to finish"
                )
            time.sleep(0.05)
        with contextlib.suppress(OSError):
            os.ftruncate(self.fd, 0)
            os.write(self.fd, f"{os.getpid()}\n".encode())

    def release(self) -> None:
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                _unlock(self.fd)
            os.close(self.fd)
            self.fd = -1


# --------------------------------------------------------------------------- the catalog


_SCHEMA = """
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


def _connect(path: Path) -> sqlite3.Connection:
    # Autocommit mode: every transaction is an explicit BEGIN … COMMIT below. The connection
    # may move between threads (the app's worker thread) but is never used by two at once.
    conn = sqlite3.connect(str(path), timeout=30.0, isolation_level=None,
                           check_same_thread=False)
    conn.execute("PRAGMA busy_timeout=30000")
    # FULL: a commit is durable once it returns (NORMAL in WAL mode may lose the last
    # transactions on power loss; a process kill loses nothing either way).
    conn.execute("PRAGMA synchronous=FULL")
    return conn


@dataclass(frozen=True)
class Snapshot:
    """The catalog counters at one instant (one read transaction)."""

    track_rows: int
    chunk_rows: int
    live_rows: int
    rows_version: int
    generation: int


def _read_snapshot(conn: sqlite3.Connection, where: str) -> Snapshot:
    try:
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    except sqlite3.DatabaseError as exc:
        raise LibraryError(f"{where}/{CATALOG_NAME} is unreadable: {exc}") from None
    missing = [k for k in _META_KEYS if k not in meta]
    if missing:
        raise LibraryError(f"{where}/{CATALOG_NAME} lacks counters {', '.join(missing)}")
    if int(meta["schema_version"]) != SCHEMA_VERSION:
        raise LibraryError(
            f"{where}/{CATALOG_NAME} has schema version {meta['schema_version']}, "
            f"this LUMINA reads {SCHEMA_VERSION}"
        )
    return Snapshot(
        track_rows=int(meta["track_rows"]),
        chunk_rows=int(meta["chunk_rows"]),
        live_rows=int(meta["live_rows"]),
        rows_version=int(meta["rows_version"]),
        generation=int(meta["generation"]),
    )


@contextlib.contextmanager
def _read_tx(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A read transaction: every SELECT inside sees the same committed state."""
    conn.execute("BEGIN")
    try:
        yield conn
    finally:
        conn.execute("COMMIT")


@contextlib.contextmanager
def _write_tx(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _set_meta(conn: sqlite3.Connection, **values: int) -> None:
    conn.executemany("UPDATE meta SET value = ? WHERE key = ?",
                     [(str(v), k) for k, v in values.items()])


# --------------------------------------------------------------------------- matrices


def _row_bytes(dim: int) -> int:
    return dim * DTYPE.itemsize


def _read_rows(fh: object, n_rows: int, dim: int, rows: np.ndarray) -> np.ndarray:
    """Copy the given rows of a raw matrix file (opened ``rb``) into memory.

    A fresh mapping per call, dropped on return, so streaming a 2 GB matrix block by block
    never keeps more than a block resident (RSS counts mapped file pages). Mapping from the
    open file keeps working if compaction unlinks the file meanwhile.
    """
    if rows.size == 0:
        return np.empty((0, dim), dtype=np.float32)
    try:
        mm = np.memmap(fh, dtype=DTYPE, mode="r", shape=(n_rows, dim))
    except ValueError:
        name = Path(getattr(fh, "name", "matrix")).name
        raise LibraryError(f"{name} is shorter than the catalog says ({n_rows} rows); "
                           "run lumina library verify") from None
    try:
        lo, hi = int(rows[0]), int(rows[-1]) + 1
        if hi - lo == rows.size:  # contiguous: a slice copies faster than fancy indexing
            out = np.array(mm[lo:hi], dtype=np.float32)
        else:
            out = np.array(mm[rows], dtype=np.float32)
    finally:
        _unmap(mm)
        del mm
    return out


def _unmap(arr: np.ndarray) -> None:
    """Unmap a memory map now rather than at garbage collection (its pages count as RSS)."""
    mm = getattr(arr, "_mmap", None)
    if mm is not None:
        with contextlib.suppress(BufferError, ValueError):  # a view still exported: GC does it
            mm.close()


class _GatherByRead:
    """A read-only (N, D) matrix on a memory map whose row *gathers* use ``pread``.

    The empirical null scans ``centred`` but also gathers the reported rows of ``unit`` for
    their raw cosines — at 10⁶ songs ~5 % of the rows (every qualifying song). Through the
    mapping, each of those faults maps the 64 KiB around it, so the gather makes almost the
    whole 2 GB ``unit`` matrix resident per channel (measured: peak RSS 2.1× the matrices).
    Reading the gathered rows with ``pread`` copies only them (~0.07 s for 50 000 rows) and
    leaves the mapping untouched. Everything else — shape, dtype, ``@``, slices, ``.T``,
    ``np.asarray`` — is the memory map's, so the attribution code sees an ordinary matrix.
    """

    def __init__(self, mm: np.ndarray, path: Path) -> None:
        self._mm = mm
        self.shape: tuple[int, ...] = mm.shape
        self.dtype = mm.dtype
        self.ndim = mm.ndim
        self._offset = int(getattr(mm, "offset", 0))
        self._fd = os.open(path, os.O_RDONLY)
        weakref.finalize(self, os.close, self._fd)

    def __len__(self) -> int:
        return self.shape[0]

    def __array__(self, dtype: object = None, copy: object = None) -> np.ndarray:
        return np.asarray(self._mm, dtype=dtype)  # type: ignore[arg-type]

    @property
    def T(self) -> np.ndarray:  # noqa: N802 - numpy's name
        return self._mm.T

    def __matmul__(self, other: np.ndarray) -> np.ndarray:
        return self._mm @ other

    def __rmatmul__(self, other: np.ndarray) -> np.ndarray:
        return other @ self._mm

    def __getitem__(self, key: object) -> np.ndarray:
        if isinstance(key, np.ndarray | list) and np.asarray(key).dtype.kind in "iu" and (
                np.asarray(key).ndim == 1):
            return self._gather(np.asarray(key, dtype=np.int64))
        return self._mm[key]  # type: ignore[index]

    def _gather(self, rows: np.ndarray) -> np.ndarray:
        n, d = self.shape
        rows = np.where(rows < 0, rows + n, rows)
        if rows.size and (rows.min() < 0 or rows.max() >= n):
            raise IndexError(f"row index out of range for a matrix of {n} rows")
        out = np.empty((rows.size, d), dtype=self.dtype)
        row_bytes = d * self.dtype.itemsize
        for i in np.argsort(rows, kind="stable").tolist():  # in file order
            got = os.preadv(self._fd, [memoryview(out[i])], self._offset + int(rows[i]) * row_bytes)
            if got != row_bytes:
                raise LibraryError("a prepared matrix is shorter than its header says; "
                                   "delete the library's cache folder")
        return out


class _NpyWriter:
    """Write a (N, D) float32 .npy file block by block with plain writes (not a mapping),
    so a 2 GB file being written never counts against the process's resident memory."""

    def __init__(self, path: Path, shape: tuple[int, int], dtype: np.dtype = DTYPE) -> None:
        self.path = path
        self.shape = shape
        self.dtype = np.dtype(dtype)
        self.rows = 0
        self.fh = open(path, "wb")  # noqa: SIM115 - closed in close()
        np.lib.format.write_array_header_1_0(
            self.fh, {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False,
                      "shape": shape})

    def write(self, block: np.ndarray) -> None:
        arr = np.ascontiguousarray(block, dtype=self.dtype)
        self.fh.write(arr.tobytes())
        self.rows += arr.shape[0]

    def close(self) -> None:
        if self.rows != self.shape[0]:
            self.fh.close()
            raise LibraryError(
                f"internal: wrote {self.rows} rows of {self.shape[0]} to {self.path}")
        self.fh.flush()
        os.fsync(self.fh.fileno())
        self.fh.close()


def _save_npy(path: Path, arr: np.ndarray) -> None:
    with open(path, "wb") as fh:
        np.save(fh, np.ascontiguousarray(arr))
        fh.flush()
        os.fsync(fh.fileno())


def _regression_from_inverse(k: np.ndarray, inverse: np.ndarray, lam: float) -> KernelRegression:
    """A :class:`KernelRegression` over ``k`` with a cached ``(KᵀK + λI)⁻¹``.

    Rebuilding it with the constructor would redo the O(N·D²) Gram pass on every open.
    ``KernelRegression.from_inverse`` is used when attribution.py provides it; until then its
    three slots are filled directly (same values the constructor would compute).
    """
    make = getattr(KernelRegression, "from_inverse", None)
    if make is not None:
        return make(k, inverse, lam)  # type: ignore[no-any-return]
    inv = np.array(inverse, dtype=np.float64)
    inv.setflags(write=False)
    reg = KernelRegression.__new__(KernelRegression)
    reg._k = k  # type: ignore[attr-defined]
    reg._lam = float(lam)  # type: ignore[attr-defined]
    reg._inverse = inv  # type: ignore[attr-defined]
    return reg


class _DeferredRegression(KernelRegression):
    """A :class:`KernelRegression` whose ``(KᵀK + λI)⁻¹`` is computed on first use.

    The raw (analytic-null) regression of a prepared library: building it is a full
    O(N·D²) pass that the default empirical null never needs. On first use it is computed
    by the ordinary constructor and saved next to the other cached arrays (when the cache
    folder is writable), so later processes load it.
    """

    __slots__ = ("_path",)

    def __init__(self, k: np.ndarray, lam: float, path: Path) -> None:
        # Deliberately not calling super().__init__: that is the expensive part.
        self._k = k
        self._lam = float(lam)
        self._path = path

    def __getattr__(self, name: str) -> object:
        # Only reached while the ``_inverse`` slot is still empty.
        if name != "_inverse":
            raise AttributeError(name)
        if self._path.is_file():
            inverse = np.load(self._path)
        else:
            inverse = np.array(KernelRegression(self._k, self._lam).inverse)
            with contextlib.suppress(OSError):
                tmp = self._path.with_name(self._path.name + f".tmp-{uuid.uuid4().hex}")
                _save_npy(tmp, inverse)
                os.replace(tmp, self._path)
        inverse.setflags(write=False)
        self._inverse = inverse
        return inverse


# --------------------------------------------------------------------------- prepared cache


@dataclass(frozen=True)
class PreparedLibrary:
    """The live rows of a library, prepared for attribution (memory-mapped from ``cache/``).

    Attributes
    ----------
    key : str
        Cache key: rows version + preparation parameters.
    rows_version : int
        Catalog ``rows_version`` the cache was built from.
    song_ids : (N,) int64 ndarray
        Song id of each prepared row (row ``i`` of every channel index).
    indexes : dict[str, ChannelIndex]
        One :class:`~lumina.attribution.ChannelIndex` per channel; ``unit`` and ``centred``
        are read-only memory maps.
    digest : str
        The library digest (see :meth:`Library.digest`).
    lam, cohort_size, seed, top_k
        Preparation parameters (see :func:`lumina.attribution.build_channel_index`).
    """

    key: str
    rows_version: int
    song_ids: np.ndarray
    indexes: dict[str, ChannelIndex]
    digest: str
    lam: float
    cohort_size: int
    seed: int
    top_k: int | None

    @property
    def n(self) -> int:
        return int(self.song_ids.shape[0])


@dataclass(frozen=True)
class LibraryAttribution:
    """An :class:`~lumina.attribution.Attribution` plus the prepared library it ran against
    (``prepared.song_ids[influence.index]`` is the song id)."""

    attribution: Attribution
    prepared: PreparedLibrary


def _cache_key(library_id: str, rows_version: int, lam: float, cohort_size: int, seed: int,
               top_k: int | None) -> str:
    params = _canonical_json({"library_id": library_id, "lam": float(lam),
                              "cohort_size": int(cohort_size), "seed": int(seed),
                              "top_k": top_k, "cache_format": 1})
    return f"v{rows_version}-" + hashlib.sha256(params.encode()).hexdigest()[:16]


def _digest_of(manifest: Manifest, live: Iterable[tuple[int, str, bytes, bytes]]) -> str:
    """SHA-256 over the manifest identity and the ordered live rows (see the format doc)."""
    h = hashlib.sha256()
    h.update(b"lumina-library-digest/1\n")
    h.update(_canonical_json(manifest.identity()).encode())
    h.update(b"\n")
    for song_id, audio_sha, track_sha, chunks_sha in live:
        h.update(struct.pack("<q", song_id))
        h.update(bytes.fromhex(audio_sha) if len(audio_sha) == 64 else audio_sha.encode())
        h.update(track_sha)
        h.update(chunks_sha)
    return h.hexdigest()


# --------------------------------------------------------------------------- the library


class Library:
    """A fingerprint library opened for reading (and the factory of its writer).

    Open with :meth:`open`, create with :meth:`create`; ``with Library.open(p) as lib:``
    closes the catalog connection. A ``Library`` object is used by one thread at a time.
    Writing goes through :meth:`writer` (an exclusive, process-wide writer lock).
    """

    def __init__(self, path: Path, manifest: Manifest, conn: sqlite3.Connection) -> None:
        self.path = path
        self.manifest = manifest
        self._conn = conn
        self._prepared: PreparedLibrary | None = None
        self._tmp_cache: Path | None = None
        self._digest: tuple[int, str] | None = None

    # -- opening --------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike[str], *, repair: bool = True) -> Library:
        """Open an existing library.

        Parameters
        ----------
        path : the library folder.
        repair : when no writer is active, cut rows of an interrupted append off the matrix
            files and drop files of an interrupted compaction (what a writer would do first).

        Raises
        ------
        LibraryError
            Not a library, unreadable manifest or catalog, unsupported format version.
        """
        folder = Path(path).expanduser()
        manifest = _read_manifest(folder)
        catalog = folder / CATALOG_NAME
        if not catalog.is_file():
            raise LibraryError(f"{folder.name}: {CATALOG_NAME} is missing")
        try:
            conn = _connect(catalog)
            _read_snapshot(conn, folder.name)
        except sqlite3.DatabaseError as exc:
            raise LibraryError(f"{folder.name}/{CATALOG_NAME} is unreadable: {exc}") from None
        lib = cls(folder, manifest, conn)
        if repair:
            lib._repair_if_idle()
        return lib

    @classmethod
    def create(cls, path: str | os.PathLike[str], identity: Mapping[str, object], *,
               model_spec: str = "") -> Library:
        """Create an empty library.

        Parameters
        ----------
        path : a folder that does not exist yet or is empty (or holds a library whose
            creation was interrupted before its manifest was written).
        identity : mapping
            ``model_name`` and the :data:`IDENTITY_FIELDS`, e.g.
            :func:`identity_of_fingerprinter`.
        model_spec : str
            How to load the model again (``lumina-tiny`` or a folder), recorded for defaults.
        """
        folder = Path(path).expanduser()
        if folder.exists() and not folder.is_dir():
            raise LibraryError(f"{folder}: exists and is not a folder")
        if (folder / MANIFEST_NAME).exists():
            raise LibraryError(f"{folder.name} is already a library")
        missing = [k for k in (*IDENTITY_FIELDS, "model_name")
                   if k not in identity and k not in _OPTIONAL_IDENTITY]
        if missing:
            raise LibraryError(f"cannot create a library without {', '.join(missing)}")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LibraryError(f"cannot create {folder}: {exc.strerror or exc}") from None
        lock = _WriterLock(folder)
        try:
            if (folder / MANIFEST_NAME).exists():  # another process won the race
                raise LibraryError(f"{folder.name} is already a library")
            ours = re.compile(r"^(catalog\.sqlite(-wal|-shm|-journal)?|writer\.lock|cache|"
                              r".*\.f32|manifest\.json\.tmp-\d+)$")
            foreign = [p.name for p in folder.iterdir() if not ours.match(p.name)]
            if foreign:
                raise LibraryError(
                    f"{folder.name} is not empty and not a library (holds {foreign[0]!r})"
                )
            catalog = folder / CATALOG_NAME
            if catalog.exists():
                # A creation killed before its manifest was written has no songs yet. A
                # catalog *with* songs is a library whose manifest was lost: never wipe it.
                try:
                    probe_conn = sqlite3.connect(f"file:{catalog}?mode=ro", uri=True)
                    try:
                        has_songs = probe_conn.execute(
                            "SELECT EXISTS (SELECT 1 FROM songs)").fetchone()[0]
                    finally:
                        probe_conn.close()
                except sqlite3.Error as exc:
                    # Killed before the schema was written: nothing to lose. Anything else
                    # unreadable: refuse rather than guess.
                    has_songs = "no such table" not in str(exc) and catalog.stat().st_size > 0
                if has_songs:
                    raise LibraryError(
                        f"{folder.name} has a catalog with songs but no {MANIFEST_NAME}; "
                        "restore the manifest (refusing to overwrite the catalog)")
            # Leftovers of a creation killed before its manifest was written.
            for p in folder.iterdir():
                if p.name != LOCK_NAME:
                    shutil.rmtree(p) if p.is_dir() else p.unlink()
            manifest = Manifest(
                library_id=uuid.uuid4().hex,
                model_name=str(identity["model_name"]),
                model_sha256=str(identity["model_sha256"]),
                projection_seed=int(identity["projection_seed"]),  # type: ignore[call-overload]
                projection_blocks=int(identity["projection_blocks"]),  # type: ignore[call-overload]
                dim=int(identity["dim"]),  # type: ignore[call-overload]
                chunk_seconds=float(identity["chunk_seconds"]),  # type: ignore[arg-type]
                sample_rate=int(identity["sample_rate"]),  # type: ignore[call-overload]
                channels=tuple(identity["channels"]),  # type: ignore[arg-type]
                software_version=__version__,
                created=_now(),
                model_spec=model_spec,
                composition_rendering=identity.get(  # type: ignore[arg-type]
                    "composition_rendering"),
            )
            Manifest.from_json(manifest.to_json())  # same validation as on open
            conn = _connect(folder / CATALOG_NAME)
            conn.execute("PRAGMA journal_mode=WAL")  # persistent: stored in the file
            conn.executescript(_SCHEMA)
            with _write_tx(conn):
                conn.executemany(
                    "INSERT INTO meta (key, value) VALUES (?, ?)",
                    [("schema_version", str(SCHEMA_VERSION)), ("track_rows", "0"),
                     ("chunk_rows", "0"), ("live_rows", "0"), ("rows_version", "0"),
                     ("generation", "0")],
                )
            for channel in manifest.channels:
                for kind in KINDS:
                    with open(folder / _matrix_name(channel, kind, 0), "wb") as fh:
                        os.fsync(fh.fileno())
            _fsync_dir(folder)
            # The manifest last: a folder without it is an unfinished creation, redone above.
            _atomic_write_text(folder / MANIFEST_NAME,
                               json.dumps(manifest.to_json(), indent=2) + "\n")
        finally:
            lock.release()
        return cls(folder, manifest, conn)

    @classmethod
    def open_or_create(cls, path: str | os.PathLike[str], identity: Mapping[str, object], *,
                       model_spec: str = "") -> Library:
        """Open the library at ``path`` (checking ``identity`` against it) or create it."""
        folder = Path(path).expanduser()
        if (folder / MANIFEST_NAME).exists():
            lib = cls.open(folder)
            try:
                lib.manifest.check_compatible(identity, "this model",
                                              f"library {folder.name}")
            except LibraryError:
                lib.close()
                raise
            return lib
        return cls.create(folder, identity, model_spec=model_spec)

    def close(self) -> None:
        self._prepared = None
        with contextlib.suppress(sqlite3.Error):
            self._conn.close()
        if self._tmp_cache is not None:
            shutil.rmtree(self._tmp_cache, ignore_errors=True)
            self._tmp_cache = None

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def writer(self) -> LibraryWriter:
        """The exclusive writer (``with lib.writer() as w: …``).

        Raises
        ------
        LibraryLockedError
            Another process (or another writer in this one) is writing.
        """
        return LibraryWriter(self)

    # -- state ----------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.path.name

    def snapshot(self) -> Snapshot:
        """The committed counters now."""
        return _read_snapshot(self._conn, self.name)

    def __len__(self) -> int:
        """Number of live songs."""
        return self.snapshot().live_rows

    def matrix_path(self, channel: str, kind: str = "track", generation: int | None = None) -> Path:
        gen = self.snapshot().generation if generation is None else generation
        return self.path / _matrix_name(channel, kind, gen)

    def _repair_if_idle(self) -> None:
        try:
            lock = _WriterLock(self.path, wait=0.0)
        except (LibraryLockedError, OSError):
            return  # a writer is active (it repairs itself) or the folder is read-only
        try:
            _repair(self.path, self.manifest, self._conn)
        except OSError:
            pass
        finally:
            lock.release()

    # -- songs ----------------------------------------------------------------------------
    def songs(self, *, include_removed: bool = False) -> list[Song]:
        """Catalog rows in matrix order (live only unless ``include_removed``)."""
        where = "" if include_removed else "WHERE live = 1"
        cur = self._conn.execute(f"SELECT {_SONG_COLUMNS} FROM songs {where} ORDER BY row")
        return [_song_from_row(r) for r in cur]

    def song(self, song_id: int) -> Song:
        r = self._conn.execute(f"SELECT {_SONG_COLUMNS} FROM songs WHERE id = ?",
                               (int(song_id),)).fetchone()
        if r is None:
            raise LibraryError(f"{self.name} has no song with id {song_id}")
        return _song_from_row(r)

    def songs_by_id(self, ids: Iterable[int]) -> dict[int, Song]:
        """Catalog rows for the given ids (removed ones included; compacted-away ones absent)."""
        wanted = sorted({int(i) for i in ids})
        out: dict[int, Song] = {}
        for start in range(0, len(wanted), _SQL_VARS):
            part = wanted[start : start + _SQL_VARS]
            marks = ",".join("?" * len(part))
            cur = self._conn.execute(
                f"SELECT {_SONG_COLUMNS} FROM songs WHERE id IN ({marks})", part)
            out.update((s.id, s) for s in map(_song_from_row, cur))
        return out

    def song_labels(self, ids: Iterable[int]) -> dict[int, tuple[str, str, str]]:
        """``{id: (title, artist, isrc)}`` for the given ids: the light join a result needs
        (at 10⁶ songs a query may report ~10⁵ of them)."""
        wanted = sorted({int(i) for i in ids})
        out: dict[int, tuple[str, str, str]] = {}
        for start in range(0, len(wanted), _SQL_VARS):
            part = wanted[start : start + _SQL_VARS]
            marks = ",".join("?" * len(part))
            for sid, title, artist, isrc in self._conn.execute(
                    f"SELECT id, title, artist, isrc FROM songs WHERE id IN ({marks})", part):
                out[sid] = (title, artist, isrc)
        return out

    def find_audio(self, audio_sha256: str) -> Song | None:
        """The live song with this audio SHA-256, if any."""
        r = self._conn.execute(
            f"SELECT {_SONG_COLUMNS} FROM songs WHERE audio_sha256 = ? AND live = 1 LIMIT 1",
            (audio_sha256,)).fetchone()
        return None if r is None else _song_from_row(r)

    def chunk_times(self, song_id: int) -> np.ndarray:
        """(C, 3) float64: start, end and loss of each chunk of a song."""
        cur = self._conn.execute(
            "SELECT start, end, loss FROM chunks WHERE song_id = ? ORDER BY idx", (song_id,))
        return np.asarray(cur.fetchall(), dtype=np.float64).reshape(-1, 3)

    def vectors(self, song_id: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """A song's stored fingerprints: ``({channel: (D,)}, {channel: (C, D)})`` float32."""
        with _read_tx(self._conn):
            song = self.song(song_id)
            snap = self.snapshot()
        d = self.manifest.dim
        track: dict[str, np.ndarray] = {}
        chunks: dict[str, np.ndarray] = {}
        for channel in self.manifest.channels:
            with open(self.path / _matrix_name(channel, "track", snap.generation), "rb") as fh:
                track[channel] = _read_rows(fh, snap.track_rows, d, np.array([song.row]))[0]
            rows = np.arange(song.chunk_row, song.chunk_row + song.n_chunks)
            with open(self.path / _matrix_name(channel, "chunks", snap.generation), "rb") as fh:
                chunks[channel] = _read_rows(fh, snap.chunk_rows, d, rows)
        return track, chunks

    def digest(self) -> str:
        """SHA-256 over the manifest identity and the ordered live rows' (song id, audio
        SHA-256, track-row checksum, chunk-rows checksum); see ``docs/library-format.md``.

        Equal for two libraries with the same identity and the same live songs in the same
        order; unchanged by ``compact``. O(N) on first use per rows version.
        """
        with _read_tx(self._conn):
            snap = self.snapshot()
            if self._digest is not None and self._digest[0] == snap.rows_version:
                return self._digest[1]
            cur = self._conn.execute(
                "SELECT id, audio_sha256, track_sha256, chunks_sha256 FROM songs "
                "WHERE live = 1 ORDER BY row")
            value = _digest_of(self.manifest, cur)
        self._digest = (snap.rows_version, value)
        return value

    def info(self) -> dict[str, object]:
        """Manifest, counters and sizes, for ``lumina library info``."""
        with _read_tx(self._conn):
            snap = self.snapshot()
            removed = snap.track_rows - snap.live_rows
        d = self.manifest.dim
        return {
            "path": str(self.path),
            **self.manifest.to_json(),
            "songs": snap.live_rows,
            "removed": removed,
            "track_rows": snap.track_rows,
            "chunk_rows": snap.chunk_rows,
            "rows_version": snap.rows_version,
            "generation": snap.generation,
            "matrix_bytes": (snap.track_rows + snap.chunk_rows) * _row_bytes(d)
            * len(self.manifest.channels),
            "digest": self.digest(),
        }

    # -- preparation and queries --------------------------------------------------------
    def _cache_root(self) -> Path:
        root = self.path / CACHE_NAME
        try:
            root.mkdir(exist_ok=True)
            probe_file = root / f".probe-{os.getpid()}-{threading.get_ident()}"
            probe_file.touch()
            probe_file.unlink()
            return root
        except OSError:
            # A read-only library (a shared drive, a DVD): prepare in a private temp folder.
            if self._tmp_cache is None:
                self._tmp_cache = Path(tempfile.mkdtemp(prefix="lumina-cache-"))
            return self._tmp_cache

    def prepare(self, params: AttributionParams | None = None, *,
                progress: Callable[[int, int], None] | None = None) -> PreparedLibrary:
        """The prepared live rows, from the cache or built now (then cached on disk).

        Only the preparation fields of ``params`` matter here (``lam``, ``cohort_size``,
        ``cohort_seed``, ``snorm_top_k``); the cache is keyed by them.

        Building streams each channel's matrix block by block: unit rows, the library mean,
        centred rows, both kernel-regression inverses and the song-side null statistics,
        with the functions of :mod:`lumina.attribution` (results are bit-identical to
        :func:`~lumina.attribution.build_channel_index`). Cost O(N·D² + N·C·D); memory about
        one channel matrix (memory-mapped) at a time.

        Raises
        ------
        LibraryError
            The library is empty, or a stored row is not finite.
        """
        params = params if params is not None else AttributionParams()
        lam, cohort_size, seed = params.lam, params.cohort_size, params.cohort_seed
        for attempt in range(3):
            with _read_tx(self._conn):
                snap = self.snapshot()
                # "auto" depends on the cohort, i.e. on how many songs are live now.
                top_k = resolve_top_k(params.snorm_top_k, min(snap.live_rows, int(cohort_size)))
                key = _cache_key(self.manifest.library_id, snap.rows_version, lam, cohort_size,
                                 seed, top_k)
                if self._prepared is not None and self._prepared.key == key:
                    return self._prepared
                if snap.live_rows == 0:
                    raise LibraryError(
                        f"library {self.name} is empty: index songs first "
                        f"(lumina index FOLDER --library {self.path})"
                    )
                root = self._cache_root()
                folder = root / key
                if not (folder / "meta.json").is_file():
                    live = self._conn.execute(
                        "SELECT row, id, audio_sha256, track_sha256, chunks_sha256 FROM songs "
                        "WHERE live = 1 ORDER BY row").fetchall()
            try:
                if not (folder / "meta.json").is_file():
                    self._build_cache(root, key, snap, live, lam, cohort_size, seed, top_k,
                                      progress)
                self._prepared = self._load_cache(folder)
            except FileNotFoundError:
                # A compaction replaced the matrix files or pruned this cache between our
                # snapshot and the read: take a new snapshot.
                if attempt == 2:
                    raise
                continue
            return self._prepared
        raise AssertionError("unreachable")

    def _build_cache(self, root: Path, key: str, snap: Snapshot, live: list[tuple], lam: float,
                     cohort_size: int, seed: int, top_k: int | None,
                     progress: Callable[[int, int], None] | None) -> None:
        d = self.manifest.dim
        rows = np.fromiter((r[0] for r in live), dtype=np.int64, count=len(live))
        ids = np.fromiter((r[1] for r in live), dtype=np.int64, count=len(live))
        digest = _digest_of(self.manifest, ((r[1], r[2], r[3], r[4]) for r in live))
        del live
        n = rows.size
        tmp = root / f".tmp-{uuid.uuid4().hex}"
        tmp.mkdir()
        channels = self.manifest.channels
        steps = 4 * len(channels)
        done = 0

        def step() -> None:
            nonlocal done
            done += 1
            if progress is not None:
                progress(done, steps)

        try:
            _save_npy(tmp / "ids.npy", ids)
            for channel in channels:
                src = self.path / _matrix_name(channel, "track", snap.generation)
                with open(src, "rb") as fh:
                    self._prepare_channel(fh, snap.track_rows, rows, d, tmp, channel, lam,
                                          cohort_size, seed, top_k, step)
            meta = {"key": key, "rows_version": snap.rows_version, "n": int(n), "dim": d,
                    "channels": list(channels), "lam": float(lam), "cohort_size": int(cohort_size),
                    "seed": int(seed), "top_k": top_k, "digest": digest, "built": _now(),
                    "software_version": __version__}
            _atomic_write_text(tmp / "meta.json", json.dumps(meta, indent=2) + "\n")
            try:
                os.rename(tmp, root / key)
            except OSError:
                if not (root / key / "meta.json").is_file():
                    raise
                shutil.rmtree(tmp, ignore_errors=True)  # another process built it first
            _fsync_dir(root)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self._prune_cache(root, keep=key)

    @staticmethod
    def _prepare_channel(fh: object, n_rows: int, rows: np.ndarray, d: int, out: Path,
                         channel: str, lam: float, cohort_size: int, seed: int,
                         top_k: int | None, step: Callable[[], None]) -> None:
        """Stream one channel into ``out``: the same steps as ``build_channel_index``."""
        n = rows.size
        unit_path = out / f"{channel}.unit.npy"
        centred_path = out / f"{channel}.centred.npy"
        total = np.zeros(d, dtype=np.float64)
        writer = _NpyWriter(unit_path, (n, d))
        try:
            for start in range(0, n, _BLOCK_ROWS):
                block = _read_rows(fh, n_rows, d, rows[start : start + _BLOCK_ROWS])
                block64 = block.astype(np.float64)
                if not np.all(np.isfinite(block64)):
                    raise LibraryError(
                        f"a stored {channel} fingerprint is NaN or Inf; run lumina library verify"
                    )
                u = unit_rows(block64)
                writer.write(u.astype(np.float32))
                # The mean of unit rows (in float64, before rounding), as in attribution.
                total += u.sum(axis=0)
        finally:
            writer.close()
        mean = total / n
        step()
        # The analytic null's regression (a Gram pass over ``unit``) is left to the first
        # analytic query (see _DeferredRegression): most libraries are only ever queried
        # with the default empirical null, and at 10⁶ songs the pass costs ~30 s per channel.
        unit = np.load(unit_path, mmap_mode="r")
        writer = _NpyWriter(centred_path, (n, d))
        try:
            for start in range(0, n, _BLOCK_ROWS):
                block64 = np.asarray(unit[start : start + _BLOCK_ROWS], dtype=np.float64)
                writer.write(unit_rows(block64 - mean).astype(np.float32))
        finally:
            writer.close()
        _unmap(unit)  # release its pages before the next pass
        del unit
        step()
        centred = np.load(centred_path, mmap_mode="r")
        reg = KernelRegression(centred, lam)
        _save_npy(out / f"{channel}.centred_inverse.npy", reg.inverse)
        del reg
        step()
        cohort = cohort_indices(n, cohort_size, seed)
        mu, sigma = song_null_stats(centred, cohort, top_k=top_k)
        # No gc.collect() here: a full collection in a process that holds torch and Qt
        # stops every thread for ~0.2 s (the app's UI included); the views are freed by
        # reference counting when the arrays go out of scope.
        _unmap(centred)
        del centred
        for name, arr in (("mean", mean), ("song_mu", mu), ("song_sigma", sigma),
                          ("cohort", cohort.astype(np.int64))):
            _save_npy(out / f"{channel}.{name}.npy", arr)
        step()

    def _load_cache(self, folder: Path) -> PreparedLibrary:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        ids = np.load(folder / "ids.npy", mmap_mode="r")
        indexes = {}
        lam = float(meta["lam"])
        for channel in self.manifest.channels:
            def load(name: str, mmap: bool = False, channel: str = channel) -> np.ndarray:
                arr = np.load(folder / f"{channel}.{name}.npy", mmap_mode="r" if mmap else None)
                if not mmap:
                    arr.setflags(write=False)
                return arr

            mapped = load("unit", True)
            centred = load("centred", True)
            if mapped.shape != (meta["n"], self.manifest.dim) or centred.shape != mapped.shape:
                raise LibraryError(f"cache {folder.name} is inconsistent; delete {folder}")
            unit = (_GatherByRead(mapped, folder / f"{channel}.unit.npy")
                    if hasattr(os, "preadv") else mapped)
            indexes[channel] = ChannelIndex(
                unit=unit,
                mean=load("mean"),
                centred=centred,
                song_mu=load("song_mu"),
                song_sigma=load("song_sigma"),
                cohort=load("cohort").astype(np.intp),
                raw_regression=(
                    _regression_from_inverse(unit, load("raw_inverse"), lam)
                    if (folder / f"{channel}.raw_inverse.npy").is_file()
                    else _DeferredRegression(unit, lam, folder / f"{channel}.raw_inverse.npy")),
                centred_regression=_regression_from_inverse(centred, load("centred_inverse"),
                                                            lam),
                lam=lam,
                top_k=meta["top_k"],
                seed=int(meta["seed"]),
            )
        return PreparedLibrary(
            key=str(meta["key"]), rows_version=int(meta["rows_version"]), song_ids=ids,
            indexes=indexes, digest=str(meta["digest"]), lam=lam,
            cohort_size=int(meta["cohort_size"]), seed=int(meta["seed"]), top_k=meta["top_k"],
        )

    def _prune_cache(self, root: Path, keep: str) -> None:
        """Drop caches of older rows versions (other parameters of the same version stay)."""
        version = keep.split("-", 1)[0]
        now = time.time()
        for p in root.iterdir():
            if p.name.startswith(".tmp-"):
                with contextlib.suppress(OSError):
                    if now - p.stat().st_mtime > _STALE_TMP_SECONDS:
                        shutil.rmtree(p, ignore_errors=True)
                continue
            if p.is_dir() and p.name.split("-", 1)[0] != version:
                # Safe while another process has these files mapped: POSIX keeps unlinked
                # files alive until unmapped.
                shutil.rmtree(p, ignore_errors=True)

    def attribute(self, queries: Mapping[str, np.ndarray], *,
                  chunks: Mapping[str, np.ndarray] | None = None,
                  options: AttributionParams | None = None,
                  params: Mapping[str, object] | None = None) -> LibraryAttribution:
        """Attribute a query's fingerprints against the live songs (DESIGN §1 steps 5–8).

        Parameters
        ----------
        queries : mapping channel → (D,) array_like
            One vector per library channel.
        chunks : mapping channel → (C, D) array_like, optional
            Per-chunk fingerprints of the query, for the timeline.
        options : AttributionParams, optional
            How to attribute (default: the defaults); preparation is cached per set of
            preparation fields.
        params : mapping, optional
            The query's fingerprint parameters (``Fingerprint.parameters()``); checked
            against the manifest when given.

        Raises
        ------
        LibraryError
            Empty library, mismatched parameters or channels.
        """
        if params is not None:
            self.manifest.check_compatible(params, "the query's fingerprints",
                                           f"library {self.name}")
        if set(queries) != set(self.manifest.channels):
            raise LibraryError(
                f"library {self.name} has channels {', '.join(self.manifest.channels)}; "
                f"the query has {', '.join(queries) or 'none'}"
            )
        options = options if options is not None else AttributionParams()
        prepared = self.prepare(options)
        result = attribute(queries, prepared.indexes, chunks=chunks, params=options)
        return LibraryAttribution(attribution=result, prepared=prepared)


def _repair(folder: Path, manifest: Manifest, conn: sqlite3.Connection) -> list[str]:
    """Under the writer lock: cut uncommitted rows and drop other generations' files.

    Returns what was done, one line each. Raises :class:`LibraryError` when a matrix file is
    *shorter* than the catalog says (committed rows lost: that needs a human).
    """
    snap = _read_snapshot(conn, folder.name)
    done: list[str] = []
    rb = _row_bytes(manifest.dim)
    for channel in manifest.channels:
        for kind in KINDS:
            path = folder / _matrix_name(channel, kind, snap.generation)
            committed = snap.track_rows if kind == "track" else snap.chunk_rows
            if not path.exists():
                if committed == 0:
                    path.touch()
                    continue
                raise LibraryError(
                    f"{folder.name}/{path.name} is missing; run lumina library verify")
            size = path.stat().st_size
            if size < committed * rb:
                raise LibraryError(
                    f"{folder.name}/{path.name} holds {size // rb} rows but the catalog commits "
                    f"{committed}; the library is damaged (run lumina library verify)"
                )
            if size > committed * rb:
                with open(path, "r+b") as fh:
                    fh.truncate(committed * rb)
                    os.fsync(fh.fileno())
                extra = (size - committed * rb) / rb
                done.append(f"{path.name}: removed {extra:g} uncommitted row(s) of an "
                            "interrupted append")
    for p in folder.iterdir():
        m = _MATRIX_RE.match(p.name)
        if m and int(m["gen"]) != snap.generation:
            p.unlink()
            done.append(f"{p.name}: removed (left over from an interrupted compaction)")
        elif p.name.startswith(MANIFEST_NAME + ".tmp-"):
            p.unlink()
    return done


# --------------------------------------------------------------------------- the writer


class LibraryWriter:
    """Appends, removes and compacts; holds the library's exclusive writer lock.

    Use as a context manager (``with lib.writer() as w: …``) or call :meth:`close`. Opening
    repairs what a killed writer left (uncommitted rows, an unfinished compaction).
    """

    def __init__(self, library: Library) -> None:
        self.library = library
        self.manifest = library.manifest
        self._conn = library._conn
        self._lock = _WriterLock(library.path)
        try:
            self.repairs = _repair(library.path, self.manifest, self._conn)
        except BaseException:
            self._lock.release()
            raise

    def __enter__(self) -> LibraryWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._lock.release()

    # -- appending ------------------------------------------------------------------------
    def live_audio_hashes(self) -> dict[str, int]:
        """Audio SHA-256 → song id of every live song."""
        cur = self._conn.execute("SELECT audio_sha256, id FROM songs WHERE live = 1")
        return dict(cur.fetchall())

    def add_fingerprint(self, fp: object, meta: SongMeta) -> int:
        """Append one song from its :class:`~lumina.fingerprint.Fingerprint`.

        Returns
        -------
        int
            The new song id.
        """
        return int(self.add_fingerprints([fp], [meta])[0])

    def add_fingerprints(self, fps: Sequence[object], metas: Sequence[SongMeta]) -> np.ndarray:
        """Append several songs from their fingerprints in one transaction (in order).

        The rows and ids are those of :meth:`add_fingerprint` called on each in turn; one
        fsync per file and one commit for the batch is what makes it cheaper.

        Returns
        -------
        (B,) int64 ndarray
            The new song ids.
        """
        if len(fps) != len(metas):
            raise LibraryError("add_fingerprints needs one SongMeta per fingerprint")
        if not fps:
            return np.zeros(0, dtype=np.int64)
        for fp in fps:
            params = dict(fp.parameters())  # type: ignore[attr-defined]
            params["channels"] = list(fp.channels)  # type: ignore[attr-defined]
            self.manifest.check_compatible(params, "this fingerprint",
                                           f"library {self.library.name}")
        names = list(fps[0].channels)  # type: ignore[attr-defined]
        times = np.concatenate([np.asarray(fp.chunk_times, dtype=np.float64).reshape(-1, 2)  # type: ignore[attr-defined]
                                for fp in fps])
        loss = np.concatenate([np.asarray(fp.loss, dtype=np.float64).reshape(-1)  # type: ignore[attr-defined]
                               for fp in fps])
        counts = [int(np.asarray(fp.chunk_times).reshape(-1, 2).shape[0]) for fp in fps]  # type: ignore[attr-defined]
        track = {c: np.stack([np.asarray(fp.channels[c], dtype=np.float32) for fp in fps])  # type: ignore[attr-defined]
                 for c in names}
        chunks = {c: np.concatenate([np.asarray(fp.chunk_vectors[c], dtype=np.float32)  # type: ignore[attr-defined]
                                     for fp in fps]) for c in names}
        return self.append_vectors(track, list(metas), chunks=chunks, chunk_counts=counts,
                                   chunk_times=times, chunk_loss=loss)

    def append_vectors(self, track: Mapping[str, np.ndarray], songs: Sequence[SongMeta], *,
                       chunks: Mapping[str, np.ndarray] | None = None,
                       chunk_counts: Sequence[int] | None = None,
                       chunk_times: np.ndarray | None = None,
                       chunk_loss: np.ndarray | None = None) -> np.ndarray:
        """Bulk-append precomputed fingerprints (one transaction for the whole batch).

        Parameters
        ----------
        track : mapping channel → (B, D) array_like
            Track fingerprints, one row per song, every channel of the manifest.
        songs : sequence of B :class:`SongMeta`
        chunks : mapping channel → (M, D) array_like, optional
            Chunk fingerprints of all songs, song after song (``M = Σ chunk_counts``).
        chunk_counts : sequence of B int, optional
            Chunks per song (zeros when ``chunks`` is omitted).
        chunk_times : (M, 2) array_like, optional
            Start and end of every chunk in seconds.
        chunk_loss : (M,) array_like, optional
            Teacher-forced loss per chunk.

        Returns
        -------
        (B,) int64 ndarray
            The new song ids, in order.

        Notes
        -----
        The rows are appended to every matrix file and fsync'ed first, then one SQLite
        transaction records them; a crash in between leaves rows past the committed count,
        which the next writer cuts off.
        """
        channels = self.manifest.channels
        d = self.manifest.dim
        b = len(songs)
        if set(track) != set(channels):
            raise LibraryError(f"track vectors must cover channels {', '.join(channels)}")
        tr = {c: np.ascontiguousarray(track[c], dtype=DTYPE) for c in channels}
        for c, m in tr.items():
            if m.shape != (b, d):
                raise LibraryError(f"{c} track vectors have shape {m.shape}, expected ({b}, {d})")
            if not np.all(np.isfinite(m)):
                raise LibraryError(f"{c} track vectors contain NaN or Inf")
        counts = np.zeros(b, dtype=np.int64) if chunk_counts is None else np.asarray(
            chunk_counts, dtype=np.int64)
        if counts.shape != (b,) or np.any(counts < 0):
            raise LibraryError("chunk_counts must give one non-negative count per song")
        m_total = int(counts.sum())
        if chunks is None:
            if m_total:
                raise LibraryError("chunk_counts given without chunk vectors")
            ch = {c: np.zeros((0, d), dtype=DTYPE) for c in channels}
        else:
            if set(chunks) != set(channels):
                raise LibraryError(f"chunk vectors must cover channels {', '.join(channels)}")
            ch = {c: np.ascontiguousarray(chunks[c], dtype=DTYPE).reshape(-1, d) for c in channels}
        for c, m in ch.items():
            if m.shape[0] != m_total:
                raise LibraryError(
                    f"{c} has {m.shape[0]} chunk vectors, chunk_counts sum to {m_total}")
            if not np.all(np.isfinite(m)):
                raise LibraryError(f"{c} chunk vectors contain NaN or Inf")
        times = (np.zeros((m_total, 2)) if chunk_times is None
                 else np.asarray(chunk_times, dtype=np.float64).reshape(-1, 2))
        loss = (np.zeros(m_total) if chunk_loss is None
                else np.asarray(chunk_loss, dtype=np.float64).reshape(-1))
        if times.shape[0] != m_total or loss.shape[0] != m_total:
            raise LibraryError("chunk_times and chunk_loss must have one entry per chunk vector")
        if b == 0:
            return np.zeros(0, dtype=np.int64)

        offsets = np.concatenate([[0], np.cumsum(counts)])
        sums = []
        for i in range(b):
            h = hashlib.sha256()
            crcs = []
            for c in channels:
                row = tr[c][i]
                h.update(row)
                crcs.append(zlib.crc32(row))
            lo, hi = int(offsets[i]), int(offsets[i + 1])
            if hi > lo:
                hc = hashlib.sha256()
                for c in channels:
                    seg = ch[c][lo:hi]
                    hc.update(seg)
                    crcs.append(zlib.crc32(seg))
                chunk_sha = hc.digest()
            else:
                chunk_sha = _EMPTY_SHA
                crcs.extend([0] * len(channels))
            sums.append((h.digest(), chunk_sha, struct.pack(f"<{len(crcs)}I", *crcs)))

        snap = _read_snapshot(self._conn, self.library.name)
        self._write_rows(snap, tr, ch)
        return self._commit_rows(snap, songs, counts, offsets, sums, times, loss)

    def _write_rows(self, snap: Snapshot, tr: Mapping[str, np.ndarray],
                    ch: Mapping[str, np.ndarray]) -> None:
        """Step 1 of an append: rows at the committed end of every file, then fsync."""
        rb = _row_bytes(self.manifest.dim)
        for channel in self.manifest.channels:
            for kind, data, committed in (("track", tr[channel], snap.track_rows),
                                          ("chunks", ch[channel], snap.chunk_rows)):
                path = self.library.path / _matrix_name(channel, kind, snap.generation)
                with open(path, "r+b") as fh:
                    # Writing at the committed end (not the file's end) also overwrites any
                    # uncommitted rows a failed append of this same writer left behind.
                    fh.seek(committed * rb)
                    fh.write(data.tobytes())
                    fh.truncate()
                    fh.flush()
                    os.fsync(fh.fileno())

    def _commit_rows(self, snap: Snapshot, songs: Sequence[SongMeta], counts: np.ndarray,
                     offsets: np.ndarray, sums: Sequence[tuple[bytes, bytes, bytes]],
                     times: np.ndarray, loss: np.ndarray) -> np.ndarray:
        """Step 2 of an append: one transaction records the rows and moves the counters."""
        b = len(songs)
        added = _now()
        with _write_tx(self._conn):
            now = _read_snapshot(self._conn, self.library.name)
            if now != snap:
                raise LibraryError("the catalog changed under the writer lock; aborting")
            self._conn.executemany(
                "INSERT INTO songs (row, chunk_row, n_chunks, title, artist, isrc, source_path, "
                "audio_sha256, duration, added_at, track_sha256, chunks_sha256, crc, warnings) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    (snap.track_rows + i, snap.chunk_rows + int(offsets[i]), int(counts[i]),
                     s.title, s.artist, s.isrc, s.source_path, s.audio_sha256,
                     float(s.duration), added, sums[i][0], sums[i][1], sums[i][2],
                     json.dumps(list(s.warnings)) if s.warnings else "")
                    for i, s in enumerate(songs)
                ),
            )
            ids = np.array([r[0] for r in self._conn.execute(
                "SELECT id FROM songs WHERE row >= ? AND row < ? ORDER BY row",
                (snap.track_rows, snap.track_rows + b))], dtype=np.int64)
            if int(offsets[-1]):
                song_of = np.repeat(ids, counts)
                idx = np.arange(int(offsets[-1])) - np.repeat(offsets[:-1], counts)
                self._conn.executemany(
                    "INSERT INTO chunks (song_id, idx, start, end, loss) VALUES (?, ?, ?, ?, ?)",
                    zip(song_of.tolist(), idx.tolist(), times[:, 0].tolist(),
                        times[:, 1].tolist(), loss.tolist(), strict=True),
                )
            _set_meta(self._conn, track_rows=snap.track_rows + b,
                      chunk_rows=snap.chunk_rows + int(offsets[-1]),
                      live_rows=snap.live_rows + b, rows_version=snap.rows_version + 1)
        return ids

    # -- removal and compaction -----------------------------------------------------------
    def remove(self, song_ids: Iterable[int]) -> list[int]:
        """Mark songs removed (their rows stay until :meth:`compact`).

        Raises
        ------
        LibraryError
            An id that is not a live song (nothing is removed then).
        """
        wanted = list(dict.fromkeys(int(i) for i in song_ids))
        if not wanted:
            return []
        with _write_tx(self._conn):
            for sid in wanted:
                r = self._conn.execute("SELECT live FROM songs WHERE id = ?", (sid,)).fetchone()
                if r is None or not r[0]:
                    what = "no song" if r is None else "no live song (already removed)"
                    raise LibraryError(f"library {self.library.name} has {what} with id {sid}")
            stamp = _now()
            self._conn.executemany("UPDATE songs SET live = 0, removed_at = ? WHERE id = ?",
                                   [(stamp, sid) for sid in wanted])
            snap = _read_snapshot(self._conn, self.library.name)
            _set_meta(self._conn, live_rows=snap.live_rows - len(wanted),
                      rows_version=snap.rows_version + 1)
        return wanted

    def compact(self) -> dict[str, int]:
        """Rewrite the matrices without removed rows and delete removed songs' catalog rows.

        Crash-safe: the compacted matrices go to files of the next *generation*, fsync'ed,
        before one transaction renumbers rows and switches the generation; the old files are
        deleted after the commit (or by the next writer if killed before). Song ids and the
        order of live rows are unchanged, so the digest and the prepared cache stay valid.

        Returns
        -------
        dict
            ``removed_rows``, ``removed_chunk_rows``, ``bytes_reclaimed``.
        """
        lib = self.library
        d = self.manifest.dim
        rb = _row_bytes(d)
        with _read_tx(self._conn):
            snap = _read_snapshot(self._conn, lib.name)
            live = self._conn.execute(
                "SELECT id, row, chunk_row, n_chunks FROM songs WHERE live = 1 ORDER BY row"
            ).fetchall()
        if snap.track_rows == snap.live_rows:
            return {"removed_rows": 0, "removed_chunk_rows": 0, "bytes_reclaimed": 0}
        rows = np.array([r[1] for r in live], dtype=np.int64)
        counts = np.array([r[3] for r in live], dtype=np.int64)
        starts = np.array([r[2] for r in live], dtype=np.int64)
        chunk_rows = (np.concatenate([np.arange(s, s + c) for s, c in zip(starts, counts,
                                                                          strict=True)])
                      if counts.sum() else np.zeros(0, dtype=np.int64))
        new_gen = snap.generation + 1
        written = []
        try:
            for channel in self.manifest.channels:
                for kind, sel, n_rows in (("track", rows, snap.track_rows),
                                          ("chunks", chunk_rows, snap.chunk_rows)):
                    src = lib.path / _matrix_name(channel, kind, snap.generation)
                    dst = lib.path / _matrix_name(channel, kind, new_gen)
                    written.append(dst)
                    with open(src, "rb") as fin, open(dst, "wb") as fout:
                        for start in range(0, sel.size, _BLOCK_ROWS):
                            fout.write(_read_rows(fin, n_rows, d, sel[start : start + _BLOCK_ROWS])
                                       .astype(DTYPE).tobytes())
                        fout.flush()
                        os.fsync(fout.fileno())
            _fsync_dir(lib.path)
            new_starts = np.concatenate([[0], np.cumsum(counts)[:-1]]) if counts.size else counts
            with _write_tx(self._conn):
                if _read_snapshot(self._conn, lib.name) != snap:
                    raise LibraryError("the catalog changed under the writer lock; aborting")
                self._conn.execute(
                    "DELETE FROM chunks WHERE song_id IN (SELECT id FROM songs WHERE live = 0)")
                self._conn.execute("DELETE FROM songs WHERE live = 0")
                # Ascending order: a row only moves down, into a slot already vacated.
                self._conn.executemany(
                    "UPDATE songs SET row = ?, chunk_row = ? WHERE id = ?",
                    [(i, int(new_starts[i]), int(r[0])) for i, r in enumerate(live)],
                )
                _set_meta(self._conn, track_rows=len(live), chunk_rows=int(counts.sum()),
                          generation=new_gen)
        except BaseException:
            for p in written:
                with contextlib.suppress(OSError):
                    p.unlink()
            raise
        for channel in self.manifest.channels:
            for kind in KINDS:
                with contextlib.suppress(OSError):
                    (lib.path / _matrix_name(channel, kind, snap.generation)).unlink()
        removed = snap.track_rows - len(live)
        removed_chunks = snap.chunk_rows - int(counts.sum())
        return {"removed_rows": removed, "removed_chunk_rows": removed_chunks,
                "bytes_reclaimed": (removed + removed_chunks) * rb * len(self.manifest.channels)}


# --------------------------------------------------------------------------- verification


@dataclass
class VerifyReport:
    """What ``lumina library verify`` found.

    ``problems`` make the library unusable or untrustworthy (exit 1); ``notes`` are harmless
    (an interrupted append that the next writer cuts off, no cache yet …).
    """

    path: Path
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    songs: int = 0
    removed: int = 0
    chunk_rows: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def _verify_catalog(conn: sqlite3.Connection, name: str, snap: Snapshot,
                    rep: VerifyReport) -> list[tuple]:
    check = conn.execute("PRAGMA integrity_check").fetchall()
    if [r[0] for r in check] != ["ok"]:
        rep.problems.append(f"{CATALOG_NAME}: SQLite integrity check failed: {check[0][0]}")
    all_rows = conn.execute(
        "SELECT id, row, chunk_row, n_chunks, live, title, track_sha256, chunks_sha256, crc "
        "FROM songs ORDER BY row").fetchall()
    live = sum(1 for r in all_rows if r[4])
    rep.songs, rep.removed = live, len(all_rows) - live
    if live != snap.live_rows:
        rep.problems.append(f"{CATALOG_NAME}: {live} live song rows but the counter says "
                            f"{snap.live_rows}")
    present = {int(r[1]) for r in all_rows}
    missing = [r for r in range(snap.track_rows) if r not in present]
    if missing:
        shown = ", ".join(map(str, missing[:5])) + (" …" if len(missing) > 5 else "")
        rep.problems.append(
            f"{CATALOG_NAME}: {len(missing)} committed matrix row(s) have no song row "
            f"(row {shown}): song rows were deleted from the catalog")
    beyond = [r for r in present if r >= snap.track_rows or r < 0]
    if beyond:
        rep.problems.append(f"{CATALOG_NAME}: song rows point past the committed "
                            f"{snap.track_rows} matrix rows (row {min(beyond)})")
    expected = 0
    for r in sorted(all_rows, key=lambda r: r[2]):
        if int(r[3]) and int(r[2]) != expected:
            rep.problems.append(
                f"{CATALOG_NAME}: chunk rows of song {r[0]} start at {r[2]}, expected {expected}")
            break  # one gap explains the rest
        expected += int(r[3])
    owned = sum(int(r[3]) for r in all_rows)
    if owned != snap.chunk_rows:
        rep.problems.append(f"{CATALOG_NAME}: songs own {owned} chunk rows but the counter "
                            f"says {snap.chunk_rows}")
    rep.chunk_rows = snap.chunk_rows
    counts = dict(conn.execute("SELECT song_id, COUNT(*) FROM chunks GROUP BY song_id"))
    for r in all_rows:
        if counts.pop(int(r[0]), 0) != int(r[3]):
            rep.problems.append(f"{CATALOG_NAME}: song {r[0]} has {int(r[3])} chunk(s) but "
                                f"the chunks table lists a different number")
            break
    if counts:
        rep.problems.append(f"{CATALOG_NAME}: chunk rows of unknown song id(s) "
                            f"{', '.join(map(str, sorted(counts)[:5]))}")
    return all_rows


def verify(path: str | os.PathLike[str]) -> VerifyReport:
    """Check a library: manifest, catalog, counters, matrix sizes, finiteness, checksums.

    Every problem is one line naming the file, row and song concerned. Read-only (it does
    not repair). Reads every matrix once, block by block.

    Returns
    -------
    VerifyReport
    """
    folder = Path(path).expanduser()
    rep = VerifyReport(path=folder)
    try:
        manifest = _read_manifest(folder)
    except LibraryError as exc:
        rep.problems.append(str(exc))
        return rep
    catalog = folder / CATALOG_NAME
    if not catalog.is_file():
        rep.problems.append(f"{CATALOG_NAME} is missing")
        return rep
    try:
        conn = _connect(catalog)
    except sqlite3.DatabaseError as exc:
        rep.problems.append(f"{CATALOG_NAME} cannot be opened: {exc}")
        return rep
    try:
        with _read_tx(conn):
            try:
                snap = _read_snapshot(conn, folder.name)
                all_rows = _verify_catalog(conn, folder.name, snap, rep)
            except (LibraryError, sqlite3.DatabaseError) as exc:
                rep.problems.append(f"{CATALOG_NAME}: {exc}")
                return rep
    finally:
        conn.close()
    _verify_matrices(folder, manifest, snap, all_rows, rep)
    cache = folder / CACHE_NAME
    if not any(p.name.startswith(f"v{snap.rows_version}-") for p in
               (cache.iterdir() if cache.is_dir() else ())):
        rep.notes.append("no prepared cache for the current rows (built by the next query)")
    return rep


def _verify_matrices(folder: Path, manifest: Manifest, snap: Snapshot, all_rows: list[tuple],
                     rep: VerifyReport) -> None:
    d = manifest.dim
    rb = _row_bytes(d)
    channels = manifest.channels
    usable = True
    for channel in channels:
        for kind in KINDS:
            p = folder / _matrix_name(channel, kind, snap.generation)
            committed = snap.track_rows if kind == "track" else snap.chunk_rows
            if not p.is_file():
                rep.problems.append(f"{p.name} is missing (the catalog commits {committed} rows)")
                usable = False
                continue
            size = p.stat().st_size
            if size % rb and size > committed * rb:
                rep.notes.append(f"{p.name}: {size - committed * rb} bytes after the committed "
                                 "rows (an interrupted append; the next writer removes them)")
            elif size < committed * rb:
                rep.problems.append(f"{p.name} holds {size // rb} rows but the catalog commits "
                                    f"{committed}: rows were lost (file truncated)")
                usable = False
            elif size > committed * rb:
                rep.notes.append(f"{p.name}: {(size - committed * rb) // rb} uncommitted row(s) "
                                 "after the committed ones (an interrupted append; the next "
                                 "writer removes them)")
    for p in folder.iterdir():
        m = _MATRIX_RE.match(p.name)
        if m and int(m["gen"]) != snap.generation:
            rep.notes.append(f"{p.name}: left over from an interrupted compaction "
                             "(the next writer removes it)")
    if not usable:
        return
    handles = {(c, k): open(folder / _matrix_name(c, k, snap.generation), "rb")  # noqa: SIM115
               for c in channels for k in KINDS}
    bad_rows = 0
    try:
        songs = sorted((r for r in all_rows if 0 <= int(r[1]) < snap.track_rows),
                       key=lambda r: r[1])
        for start in range(0, len(songs), 4096):
            part = songs[start : start + 4096]
            rows = np.array([r[1] for r in part], dtype=np.int64)
            track = {c: _read_rows(handles[(c, "track")], snap.track_rows, d, rows)
                     for c in channels}
            c_lo = min(int(r[2]) for r in part)
            c_hi = max(int(r[2]) + int(r[3]) for r in part)
            c_hi = min(max(c_hi, c_lo), snap.chunk_rows)
            crange = np.arange(c_lo, c_hi, dtype=np.int64)
            chunkm = {c: _read_rows(handles[(c, "chunks")], snap.chunk_rows, d, crange)
                      for c in channels}
            for i, r in enumerate(part):
                sid, row, c0, nc = int(r[0]), int(r[1]), int(r[2]), int(r[3])
                label = f"song {sid} {str(r[5])!r}"
                found = []
                h = hashlib.sha256()
                crcs = []
                for c in channels:
                    vec = track[c][i]
                    h.update(vec)
                    crcs.append(zlib.crc32(vec))
                    if not np.all(np.isfinite(vec)):
                        found.append(f"{_matrix_name(c, 'track', snap.generation)} row {row} "
                                     f"({label}) is NaN or Inf")
                seg_ok = c0 >= c_lo and c0 + nc <= c_hi
                hc = hashlib.sha256()
                for c in channels:
                    seg = chunkm[c][c0 - c_lo : c0 - c_lo + nc] if seg_ok else np.zeros((0, d))
                    hc.update(seg)
                    crcs.append(zlib.crc32(seg) if nc else 0)
                stored = bytes(r[8])
                want = (struct.unpack(f"<{len(stored) // 4}I", stored)
                        if len(stored) == 8 * len(channels) else None)
                if bytes(r[6]) != h.digest():
                    files = [_matrix_name(c, "track", snap.generation)
                             for j, c in enumerate(channels) if want is None or want[j] != crcs[j]]
                    found.append(f"{' and '.join(files)} row {row} ({label}) does not match its "
                                 "checksum: the bytes changed since indexing")
                chunk_sha = hc.digest() if nc else _EMPTY_SHA
                if bytes(r[7]) != chunk_sha:
                    k = len(channels)
                    files = [_matrix_name(c, "chunks", snap.generation)
                             for j, c in enumerate(channels)
                             if want is None or want[k + j] != crcs[k + j]]
                    found.append(f"{' and '.join(files)} rows {c0}..{c0 + nc - 1} ({label}) do "
                                 "not match their checksum: the bytes changed since indexing")
                if found:
                    bad_rows += 1
                    if bad_rows <= 20:
                        rep.problems.extend(found)
    finally:
        for fh in handles.values():
            fh.close()
    if bad_rows > 20:
        rep.problems.append(f"… {bad_rows - 20} more damaged song(s) not listed")


# --------------------------------------------------------------------------- indexing


@dataclass(frozen=True)
class IndexEvent:
    """One file's outcome: ``kind`` is ``indexed``, ``skipped``, ``failed`` or ``warning``."""

    kind: str
    path: Path
    message: str
    song_id: int | None = None


@dataclass
class IndexSummary:
    """Counts of one :func:`index_files` run; ``events`` keeps failures, warnings and
    duplicates within the run (every event goes to the ``report`` callback)."""

    indexed: int = 0
    skipped: int = 0
    failed: int = 0
    already_indexed: int = 0
    duplicates: int = 0
    seconds: float = 0.0
    cancelled: bool = False
    events: list[IndexEvent] = field(default_factory=list)


def collect_audio_files(inputs: Iterable[str | os.PathLike[str]]) -> tuple[list[Path], list[str]]:
    """Expand folders (recursively, audio extensions only) and files into a sorted file list.

    Files given explicitly are kept whatever their extension (the decoder decides); hidden
    files and macOS ``._`` resource forks found in folders are ignored.

    Returns
    -------
    files : list of Path
        In a stable order (each input in turn; folders sorted), without repeats.
    errors : list of str
        One line per input that does not exist.
    """
    from lumina.audio import SUPPORTED_EXTENSIONS

    files: list[Path] = []
    seen: set[Path] = set()
    errors: list[str] = []

    def add(p: Path) -> None:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            files.append(p)

    for item in inputs:
        p = Path(item).expanduser()
        if p.is_dir():
            found = sorted(
                (q for q in p.rglob("*")
                 if q.suffix.lower() in SUPPORTED_EXTENSIONS and not q.name.startswith(".")
                 and q.is_file()),
                key=lambda q: str(q.relative_to(p)).lower())
            for q in found:
                add(q)
        elif p.is_file():
            add(p)
        else:
            errors.append(f"{p}: no such file or folder")
    return files, errors


@dataclass
class _Prepared:
    """One file on its way into the library: what is known before it is fingerprinted.

    ``error`` (one line) or ``skip`` (why it is not fingerprinted) end its way early;
    ``chunks`` holds the decoded audio of a song short enough to decode ahead.
    """

    path: Path
    sha256: str = ""
    meta: SongMeta | None = None
    chunks: list | None = None
    expected: int = 0
    warnings: list[str] = field(default_factory=list)
    error: str = ""
    skip: str = ""
    existing_id: int | None = None


class _SkipCheck:
    """Which files are not fingerprinted, decided from the audio SHA-256 alone: audio that is
    already a live song of the library, and audio seen earlier in the same run (the first
    file of a run with that audio is the one indexed). Call it on files in run order."""

    def __init__(self, known: Mapping[str, int]) -> None:
        self._known = known
        self._seen: dict[str, Path] = {}

    def __call__(self, item: _Prepared) -> bool:
        """Fill ``item.skip`` (and ``item.existing_id``) and return True when ``item`` is
        not to be fingerprinted; otherwise remember its audio and return False."""
        sha = item.sha256
        if sha in self._known:
            item.existing_id = self._known[sha]
            item.skip = f"{item.path.name}: already in the library (song {item.existing_id})"
            return True
        if sha in self._seen:
            item.skip = f"{item.path.name}: same audio as {self._seen[sha].name}"
            return True
        self._seen[sha] = item.path
        return False


def _prepare_file(path: Path, rate: int, chunk_seconds: float,
                  skip: _SkipCheck | None = None) -> _Prepared:
    """Hash a file, check whether it is to be skipped, read its tags and length, and decode
    it when it is short enough to hold in memory. Errors end up in ``item.error``."""
    from lumina.audio import chunk_bounds, file_sha256, iter_chunks, probe

    item = _Prepared(path=path)
    try:
        item.sha256 = file_sha256(path)
        if skip is not None and skip(item):
            return item
        info = probe(path)
        title, artist, isrc = read_song_meta(path)
        item.meta = SongMeta(title=title, artist=artist, isrc=isrc,
                             source_path=str(path.resolve()), audio_sha256=item.sha256,
                             duration=float(info.duration))
        item.expected = len(chunk_bounds(int(round(info.duration * rate)), rate, chunk_seconds))
        if info.duration <= _PREFETCH_MAX_SECONDS:
            item.chunks = list(iter_chunks(path, rate, chunk_seconds,
                                           warnings_out=item.warnings))
    except LuminaError as exc:
        item.error = one_line(exc)
    except (OSError, ValueError, RuntimeError, MemoryError) as exc:
        item.error = f"{path.name}: {one_line(exc)}"
    return item


class IndexRun:
    """The bookkeeping of one indexing run: which files to skip, counts, events, and the
    commit of one fingerprinted song through the writer.

    :func:`index_files` and the cluster driver (:mod:`lumina.indexing.cluster`) both use it, so a
    song is skipped, committed and reported the same way wherever it was fingerprinted.
    Feed it the files in run order.

    Attributes
    ----------
    summary : IndexSummary
    skip_check : callable(_Prepared) -> bool
        Fills ``skip`` for audio already in the library (as of the run's start) or seen
        earlier in the run.
    """

    def __init__(self, writer: LibraryWriter,
                 report: Callable[[IndexEvent], None] | None = None) -> None:
        self.writer = writer
        self.summary = IndexSummary()
        self._report = report
        self.skip_check = _SkipCheck(writer.live_audio_hashes())

    def emit(self, event: IndexEvent) -> None:
        # Successes are only counted: a run over a million files keeps no list of them.
        if event.kind in ("failed", "warning") or (event.kind == "skipped"
                                                    and event.song_id is None):
            self.summary.events.append(event)
        if self._report is not None:
            self._report(event)

    def failed(self, path: Path, message: str) -> None:
        self.summary.failed += 1
        if not message.startswith(path.name):
            message = f"{path.name}: {message}"
        self.emit(IndexEvent("failed", path, message))

    def skipped(self, item: _Prepared) -> None:
        self.summary.skipped += 1
        if item.existing_id is not None:
            self.summary.already_indexed += 1
        else:
            self.summary.duplicates += 1
        self.emit(IndexEvent("skipped", item.path, item.skip, item.existing_id))

    def add(self, item: _Prepared, fp: object) -> int:
        """Append one fingerprinted song (see :func:`_fingerprint_prepared`); its id."""
        return self.writer.add_fingerprint(fp, _song_meta(item, fp))

    def add_many(self, songs: Sequence[tuple[_Prepared, object]]) -> list[int]:
        """Append fingerprinted songs in one transaction, in order; their ids. The library
        ends up as with :meth:`add` on each in turn."""
        ids = self.writer.add_fingerprints([fp for _, fp in songs],
                                           [_song_meta(item, fp) for item, fp in songs])
        return [int(i) for i in ids]

    def indexed(self, item: _Prepared, song_id: int) -> None:
        self.summary.indexed += 1
        for w in item.warnings:
            self.emit(IndexEvent("warning", item.path, w, song_id))
        title = item.meta.title if item.meta else item.path.name
        self.emit(IndexEvent("indexed", item.path,
                             f"{item.path.name}: song {song_id} ({title})", song_id))

    def commit(self, item: _Prepared, fp: object) -> int:
        """:meth:`add` and :meth:`indexed`: the new song id."""
        song_id = self.add(item, fp)
        self.indexed(item, song_id)
        return song_id


def index_files(writer: LibraryWriter, paths: Sequence[str | os.PathLike[str]],
                fingerprinter: object, *,
                progress: Callable[[int, int], None] | None = None,
                report: Callable[[IndexEvent], None] | None = None,
                cancel: threading.Event | Callable[[], bool] | None = None) -> IndexSummary:
    """Fingerprint audio files into a library, one committed song at a time.

    Files whose audio (SHA-256 of the bytes) is already a live song are skipped without
    decoding, so a run interrupted at any point — ``kill -9`` included — is resumed by
    running it again: only the song in flight is redone. A file that cannot be decoded or
    fingerprinted is reported in one line and the run goes on.

    Parameters
    ----------
    writer : LibraryWriter
    paths : sequence of audio files (see :func:`collect_audio_files` for folders).
    fingerprinter : lumina.fingerprint.Fingerprinter
        Must match the library's manifest.
    progress : callable(done, total), optional
        Called after each file.
    report : callable(IndexEvent), optional
        Called for every file's outcome and for audio warnings.
    cancel : threading.Event or callable, optional
        Stop before the next file (and between batches of the current one).

    Returns
    -------
    IndexSummary
    """
    from lumina.fingerprint.fingerprinter import Cancelled, _is_cancelled
    from lumina.workspace import identity_of_fingerprinter

    lib = writer.library
    writer.manifest.check_compatible(identity_of_fingerprinter(fingerprinter), "this model",
                                     f"library {lib.name}")
    files = [Path(p) for p in paths]
    run = IndexRun(writer, report)
    summary = run.summary
    t0 = time.monotonic()
    model = fingerprinter.model  # type: ignore[attr-defined]
    rate = int(model.sample_rate)
    chunk_seconds = float(fingerprinter.chunk_seconds)  # type: ignore[attr-defined]

    # Hash, read tags and decode the next file while the model fingerprints this one.
    prefetch = ReadAhead(
        files, lambda path: _prepare_file(path, rate, chunk_seconds, run.skip_check),
        lambda path, exc: _Prepared(path=path, error=f"{path.name}: {type(exc).__name__}: "
                                                     f"{one_line(exc)}"),
        name="lumina-prefetch")
    try:
        for done, item in enumerate(prefetch, start=1):
            if _is_cancelled(cancel):
                summary.cancelled = True
                break
            if item.error:
                run.failed(item.path, item.error)
            elif item.skip:
                run.skipped(item)
            else:
                try:
                    fp = _fingerprint_prepared(fingerprinter, item, rate, chunk_seconds, cancel)
                    song_id = run.add(item, fp)
                except Cancelled:
                    summary.cancelled = True
                    break
                except LibraryError:
                    raise  # the library itself is in trouble: stop, do not skip past it
                except LuminaError as exc:
                    run.failed(item.path, one_line(exc))
                except (RuntimeError, ValueError, MemoryError) as exc:
                    # torch raises RuntimeError on pathological input; one song must not end
                    # a run over thousands.
                    run.failed(item.path, f"fingerprinting failed: {one_line(exc)}")
                else:
                    run.indexed(item, song_id)
                item.chunks = None  # free the decoded audio now, not when the loop moves on
            if progress is not None:
                progress(done, len(files))
    finally:
        prefetch.stop()
    summary.seconds = time.monotonic() - t0
    return summary


def _fingerprint_prepared(fingerprinter: object, item: _Prepared, rate: int,
                          chunk_seconds: float,
                          cancel: threading.Event | Callable[[], bool] | None) -> object:
    """Fingerprint one prepared file (its decoded chunks, or streamed from the file)."""
    from lumina.audio import iter_chunks

    assert item.meta is not None
    stream = (item.chunks if item.chunks is not None else
              iter_chunks(item.path, rate, chunk_seconds, warnings_out=item.warnings))
    fp = fingerprinter.fingerprint_chunks(  # type: ignore[attr-defined]
        stream, total=item.expected, cancel=cancel)
    fp.audio_sha256 = item.sha256
    fp.source = item.path.name
    fp.duration = item.meta.duration or float(fp.chunk_times[-1, 1])
    fp.warnings = list(item.warnings)
    return fp


def _song_meta(item: _Prepared, fp: object) -> SongMeta:
    """The catalog row of a fingerprinted file."""
    assert item.meta is not None
    return SongMeta(title=item.meta.title, artist=item.meta.artist, isrc=item.meta.isrc,
                    source_path=item.meta.source_path, audio_sha256=item.sha256,
                    duration=fp.duration, warnings=tuple(item.warnings))  # type: ignore[attr-defined]


def fingerprint_for_index(fingerprinter: object, path: str | os.PathLike[str],
                          model_lock: threading.Lock | None = None) -> tuple[_Prepared, object]:
    """Everything :func:`index_files` does to one file except the skip check and the commit.

    What a cluster worker runs (:mod:`lumina.indexing.cluster`): hash, tags, length, decode and
    fingerprint, with the same error handling and messages as a local run. The chunks are
    freed before returning; the fingerprint's ``audio_sha256``, ``duration`` and
    ``warnings`` are filled in as for a commit.

    Parameters
    ----------
    fingerprinter : lumina.fingerprint.Fingerprinter
    path : the audio file.
    model_lock : threading.Lock, optional
        Held while fingerprinting (not while decoding), so two calls in two threads overlap
        one file's decoding with another's fingerprinting on one model.

    Returns
    -------
    (item, fingerprint)
        ``fingerprint`` is None and ``item.error`` says why (one line) when the file failed.
    """
    model = fingerprinter.model  # type: ignore[attr-defined]
    rate = int(model.sample_rate)
    chunk_seconds = float(fingerprinter.chunk_seconds)  # type: ignore[attr-defined]
    item = _prepare_file(Path(path), rate, chunk_seconds)
    fp = None
    if not item.error:
        try:
            with model_lock if model_lock is not None else contextlib.nullcontext():
                fp = _fingerprint_prepared(fingerprinter, item, rate, chunk_seconds, None)
        except LuminaError as exc:
            item.error = one_line(exc)
        except (RuntimeError, ValueError, MemoryError) as exc:
            item.error = f"fingerprinting failed: {one_line(exc)}"
        finally:
            item.chunks = None
    if item.error and not item.error.startswith(item.path.name):
        item.error = f"{item.path.name}: {item.error}"
    return item, fp
