"""The :class:`Library`: open, create, read songs and vectors, digest, prepare and attribute.

Readers never lock: SQLite's WAL gives them a consistent snapshot of committed rows, and the
matrix files are at least as long as that snapshot says, so a reader works while a writer
appends.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sqlite3
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import numpy as np

from lumina import __version__
from lumina.attribution import AttributionParams, attribute, resolve_top_k
from lumina.library.catalog import (
    CATALOG_NAME,
    SONG_COLUMNS,
    Snapshot,
    Song,
    catalog_has_songs,
    connect_catalog,
    create_catalog,
    library_digest,
    read_snapshot,
    read_transaction,
    song_from_row,
    utc_now,
)
from lumina.library.errors import (
    WAL_INDEX_BYTES,
    LibraryError,
    LibraryLockedError,
    disk_full_error,
    disk_full_is_one_line,
    free_bytes,
    is_disk_full,
)
from lumina.library.manifest import (
    IDENTITY_FIELDS,
    MANIFEST_NAME,
    OPTIONAL_IDENTITY_FIELDS,
    Manifest,
    read_manifest,
)
from lumina.library.query_cache import (
    CACHE_NAME,
    LibraryAttribution,
    PreparedLibrary,
    build_cache,
    cache_key,
    load_cache,
)
from lumina.library.storage import (
    KINDS,
    LOCK_NAME,
    WriterLock,
    atomic_write_text,
    fsync_dir,
    matrix_name,
    read_rows,
    row_bytes,
)
from lumina.library.writer import LibraryWriter, repair

__all__ = ["Library"]

# Ids per "IN (…)" query: SQLite ≥ 3.32 allows 32766 variables (older: 999). Large lists
# matter: a 10⁶-song query may report 10⁵ songs, and 500-id lists take twice as long.
_SQL_VARS = 5000 if sqlite3.sqlite_version_info >= (3, 32) else 500


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
        manifest = read_manifest(folder)
        catalog = folder / CATALOG_NAME
        if not catalog.is_file():
            raise LibraryError(f"{folder.name}: {CATALOG_NAME} is missing")
        conn = None
        try:
            conn = connect_catalog(catalog)
            read_snapshot(conn, folder.name)
        except (sqlite3.DatabaseError, LibraryError) as exc:
            if conn is not None:
                conn.close()  # or its open files outlive the error (and hold a full disk)
            # SQLite in WAL mode writes its shared-memory index next to the catalog even to
            # read, so a read-only folder fails here: say so, not "unreadable".
            if "readonly" in str(exc) or (isinstance(exc, sqlite3.OperationalError)
                                          and not os.access(folder, os.W_OK)):
                raise LibraryError(
                    f"{folder.name} is read-only (no write permission on {folder}): a library "
                    "needs a writable folder, even to be read; fix its permissions or copy it "
                    "to a writable folder") from None
            if isinstance(exc, LibraryError):
                raise
            if is_disk_full(exc) or free_bytes(folder) < WAL_INDEX_BYTES:
                # SQLite sizes its 32 KiB shared-memory index before the first read; on a full
                # disk that fails as a bare "disk I/O error".
                raise disk_full_error(
                    folder, ": SQLite needs a little room even to read it") from None
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
                   if k not in identity and k not in OPTIONAL_IDENTITY_FIELDS]
        if missing:
            raise LibraryError(f"cannot create a library without {', '.join(missing)}")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LibraryError(f"cannot create {folder}: {exc.strerror or exc}") from None
        lock = WriterLock(folder)
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
                has_songs = catalog_has_songs(catalog)
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
                created=utc_now(),
                model_spec=model_spec,
                composition_rendering=identity.get(  # type: ignore[arg-type]
                    "composition_rendering"),
                output_function=identity.get("output_function"),  # type: ignore[arg-type]
                loudness=identity.get("loudness"),  # type: ignore[arg-type]
            )
            Manifest.from_json(manifest.to_json())  # same validation as on open
            conn = create_catalog(folder / CATALOG_NAME)
            for channel in manifest.channels:
                for kind in KINDS:
                    with open(folder / matrix_name(channel, kind, 0), "wb") as fh:
                        os.fsync(fh.fileno())
            fsync_dir(folder)
            # The manifest last: a folder without it is an unfinished creation, redone above.
            atomic_write_text(folder / MANIFEST_NAME,
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

    @property
    def connection(self) -> sqlite3.Connection:
        """The catalog connection, shared with this library's writer (one thread at a time)."""
        return self._conn

    def snapshot(self) -> Snapshot:
        """The committed counters now."""
        return read_snapshot(self._conn, self.name)

    def __len__(self) -> int:
        """Number of live songs."""
        return self.snapshot().live_rows

    def matrix_path(self, channel: str, kind: str = "track", generation: int | None = None) -> Path:
        gen = self.snapshot().generation if generation is None else generation
        return self.path / matrix_name(channel, kind, gen)

    def _repair_if_idle(self) -> None:
        try:
            lock = WriterLock(self.path, wait=0.0)
        except (LibraryLockedError, OSError):
            return  # a writer is active (it repairs itself) or the folder is read-only
        try:
            repair(self.path, self.manifest, self._conn)
        except OSError:
            pass
        finally:
            lock.release()

    # -- songs ----------------------------------------------------------------------------
    def songs(self, *, include_removed: bool = False) -> list[Song]:
        """Catalog rows in matrix order (live only unless ``include_removed``)."""
        where = "" if include_removed else "WHERE live = 1"
        cur = self._conn.execute(f"SELECT {SONG_COLUMNS} FROM songs {where} ORDER BY row")
        return [song_from_row(r) for r in cur]

    def song(self, song_id: int) -> Song:
        r = self._conn.execute(f"SELECT {SONG_COLUMNS} FROM songs WHERE id = ?",
                               (int(song_id),)).fetchone()
        if r is None:
            raise LibraryError(f"{self.name} has no song with id {song_id}")
        return song_from_row(r)

    def songs_by_id(self, ids: Iterable[int]) -> dict[int, Song]:
        """Catalog rows for the given ids (removed ones included; compacted-away ones absent)."""
        wanted = sorted({int(i) for i in ids})
        out: dict[int, Song] = {}
        for start in range(0, len(wanted), _SQL_VARS):
            part = wanted[start : start + _SQL_VARS]
            marks = ",".join("?" * len(part))
            cur = self._conn.execute(
                f"SELECT {SONG_COLUMNS} FROM songs WHERE id IN ({marks})", part)
            out.update((s.id, s) for s in map(song_from_row, cur))
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
            f"SELECT {SONG_COLUMNS} FROM songs WHERE audio_sha256 = ? AND live = 1 LIMIT 1",
            (audio_sha256,)).fetchone()
        return None if r is None else song_from_row(r)

    def chunk_times(self, song_id: int) -> np.ndarray:
        """(C, 3) float64: start, end and loss of each chunk of a song."""
        cur = self._conn.execute(
            "SELECT start, end, loss FROM chunks WHERE song_id = ? ORDER BY idx", (song_id,))
        return np.asarray(cur.fetchall(), dtype=np.float64).reshape(-1, 3)

    def vectors(self, song_id: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """A song's stored fingerprints: ``({channel: (D,)}, {channel: (C, D)})`` float32."""
        with read_transaction(self._conn):
            song = self.song(song_id)
            snap = self.snapshot()
        d = self.manifest.dim
        track: dict[str, np.ndarray] = {}
        chunks: dict[str, np.ndarray] = {}
        for channel in self.manifest.channels:
            with open(self.path / matrix_name(channel, "track", snap.generation), "rb") as fh:
                track[channel] = read_rows(fh, snap.track_rows, d, np.array([song.row]))[0]
            rows = np.arange(song.chunk_row, song.chunk_row + song.n_chunks)
            with open(self.path / matrix_name(channel, "chunks", snap.generation), "rb") as fh:
                chunks[channel] = read_rows(fh, snap.chunk_rows, d, rows)
        return track, chunks

    def digest(self) -> str:
        """SHA-256 over the manifest identity and the ordered live rows' (song id, audio
        SHA-256, track-row checksum, chunk-rows checksum); see ``docs/library-format.md``.

        Equal for two libraries with the same identity and the same live songs in the same
        order; unchanged by ``compact``. O(N) on first use per rows version.
        """
        with read_transaction(self._conn):
            snap = self.snapshot()
            if self._digest is not None and self._digest[0] == snap.rows_version:
                return self._digest[1]
            cur = self._conn.execute(
                "SELECT id, audio_sha256, track_sha256, chunks_sha256 FROM songs "
                "WHERE live = 1 ORDER BY row")
            value = library_digest(self.manifest, cur)
        self._digest = (snap.rows_version, value)
        return value

    def info(self) -> dict[str, object]:
        """Manifest, counters and sizes, for ``lumina library info``."""
        with read_transaction(self._conn):
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
            "matrix_bytes": (snap.track_rows + snap.chunk_rows) * row_bytes(d)
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
        for attempt in range(3):
            with read_transaction(self._conn):
                snap = self.snapshot()
                # "auto" depends on the cohort, i.e. on how many songs are live now.
                top_k = resolve_top_k(params.snorm_top_k,
                                      min(snap.live_rows, int(params.cohort_size)))
                key = cache_key(self.manifest.library_id, snap.rows_version, params, top_k)
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
                    self._build_cache(root, key, snap, live, params, top_k, progress)
                self._prepared = load_cache(folder, self.manifest)
            except FileNotFoundError:
                # A compaction replaced the matrix files or pruned this cache between our
                # snapshot and the read: take a new snapshot.
                if attempt == 2:
                    raise
                continue
            return self._prepared
        raise AssertionError("unreachable")

    def _build_cache(self, root: Path, key: str, snap: Snapshot, live: list[tuple],
                     params: AttributionParams, top_k: int | None,
                     progress: Callable[[int, int], None] | None) -> None:
        # A method (not a bare call) so that tests can count the builds.
        with disk_full_is_one_line(self.path, "preparing its query cache"):
            build_cache(self.path, self.manifest, root, key, snap, live, params, top_k,
                        progress)

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



