"""The :class:`LibraryWriter` (append, remove, compact and relink under the exclusive writer
lock) and :func:`repair`, which every writer runs first.

Crash safety rests on one ordering rule: fingerprint rows are appended to the matrix files
and fsync'ed *before* the SQLite transaction that records them commits. The catalog's
counters are therefore the truth; bytes after the committed rows are an interrupted append
and are cut off by :func:`repair`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import struct
import zlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from lumina.library.catalog import (
    Snapshot,
    SongMeta,
    read_snapshot,
    read_transaction,
    set_meta,
    utc_now,
    write_transaction,
)
from lumina.library.errors import LibraryError, disk_full_is_one_line
from lumina.library.manifest import DTYPE, MANIFEST_NAME, Manifest
from lumina.library.storage import (
    BLOCK_ROWS,
    EMPTY_SHA256,
    KINDS,
    MATRIX_FILE_RE,
    WriterLock,
    fsync_dir,
    matrix_name,
    read_rows,
    row_bytes,
)

__all__ = ["LibraryWriter", "OpenLibrary", "repair"]

if TYPE_CHECKING:
    from lumina.fingerprint.fingerprinter import Fingerprint


class OpenLibrary(Protocol):
    """What a writer uses of the :class:`~lumina.library.reader.Library` it writes to (a
    Protocol, so the writer does not import the reader that creates it)."""

    path: Path
    manifest: Manifest

    @property
    def name(self) -> str: ...

    @property
    def connection(self) -> sqlite3.Connection: ...


def repair(folder: Path, manifest: Manifest, conn: sqlite3.Connection) -> list[str]:
    """Under the writer lock: cut uncommitted rows and drop other generations' files.

    Returns what was done, one line each. Raises :class:`LibraryError` when a matrix file is
    *shorter* than the catalog says (committed rows lost: that needs a human).
    """
    snap = read_snapshot(conn, folder.name)
    done: list[str] = []
    rb = row_bytes(manifest.dim)
    for channel in manifest.channels:
        for kind in KINDS:
            path = folder / matrix_name(channel, kind, snap.generation)
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
        m = MATRIX_FILE_RE.match(p.name)
        if m and int(m["gen"]) != snap.generation:
            p.unlink()
            done.append(f"{p.name}: removed (left over from an interrupted compaction)")
        elif p.name.startswith(MANIFEST_NAME + ".tmp-"):
            p.unlink()
    return done



class LibraryWriter:
    """Appends, removes and compacts; holds the library's exclusive writer lock.

    Use as a context manager (``with lib.writer() as w: …``) or call :meth:`close`. Opening
    repairs what a killed writer left (uncommitted rows, an unfinished compaction).
    """

    def __init__(self, library: OpenLibrary) -> None:
        self.library = library
        self.manifest = library.manifest
        self._conn = library.connection
        with disk_full_is_one_line(library.path, "opening it for writing"):
            self._lock = WriterLock(library.path)
            try:
                self.repairs = repair(library.path, self.manifest, self._conn)
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

    def add_fingerprint(self, fp: Fingerprint, meta: SongMeta) -> int:
        """Append one song from its :class:`~lumina.fingerprint.Fingerprint`.

        Returns
        -------
        int
            The new song id.
        """
        return int(self.add_fingerprints([fp], [meta])[0])

    def add_fingerprints(self, fps: Sequence[Fingerprint], metas: Sequence[SongMeta]
                         ) -> np.ndarray:
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
            params = dict(fp.parameters())
            params["channels"] = list(fp.channels)
            self.manifest.check_compatible(params, "this fingerprint",
                                           f"library {self.library.name}")
        names = list(fps[0].channels)
        times = np.concatenate([np.asarray(fp.chunk_times, dtype=np.float64).reshape(-1, 2)
                                for fp in fps])
        loss = np.concatenate([np.asarray(fp.loss, dtype=np.float64).reshape(-1)
                               for fp in fps])
        counts = [int(np.asarray(fp.chunk_times).reshape(-1, 2).shape[0]) for fp in fps]
        track = {c: np.stack([np.asarray(fp.channels[c], dtype=np.float32) for fp in fps])
                 for c in names}
        chunks = {c: np.concatenate([np.asarray(fp.chunk_vectors[c], dtype=np.float32)
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
                chunk_sha = EMPTY_SHA256
                crcs.extend([0] * len(channels))
            sums.append((h.digest(), chunk_sha, struct.pack(f"<{len(crcs)}I", *crcs)))

        with disk_full_is_one_line(self.library.path, f"adding {b} song(s)"):
            snap = read_snapshot(self._conn, self.library.name)
            self._write_rows(snap, tr, ch)
            return self._commit_rows(snap, songs, counts, offsets, sums, times, loss)

    def _write_rows(self, snap: Snapshot, tr: Mapping[str, np.ndarray],
                    ch: Mapping[str, np.ndarray]) -> None:
        """Step 1 of an append: rows at the committed end of every file, then fsync."""
        rb = row_bytes(self.manifest.dim)
        for channel in self.manifest.channels:
            for kind, data, committed in (("track", tr[channel], snap.track_rows),
                                          ("chunks", ch[channel], snap.chunk_rows)):
                path = self.library.path / matrix_name(channel, kind, snap.generation)
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
        added = utc_now()
        with write_transaction(self._conn):
            now = read_snapshot(self._conn, self.library.name)
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
            set_meta(self._conn, track_rows=snap.track_rows + b,
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
        with disk_full_is_one_line(self.library.path, "removing songs"), \
                write_transaction(self._conn):
            for sid in wanted:
                r = self._conn.execute("SELECT live FROM songs WHERE id = ?", (sid,)).fetchone()
                if r is None or not r[0]:
                    what = "no song" if r is None else "no live song (already removed)"
                    raise LibraryError(f"library {self.library.name} has {what} with id {sid}")
            stamp = utc_now()
            self._conn.executemany("UPDATE songs SET live = 0, removed_at = ? WHERE id = ?",
                                   [(stamp, sid) for sid in wanted])
            snap = read_snapshot(self._conn, self.library.name)
            set_meta(self._conn, live_rows=snap.live_rows - len(wanted),
                      rows_version=snap.rows_version + 1)
        return wanted

    def set_source_paths(self, paths: Mapping[int, tuple[str, str]]) -> list[int]:
        """Point songs at their audio files again (``lumina library relink``).

        ``paths`` maps a song id to ``(audio_sha256, new source path)``; a song is only
        updated while it still holds that audio, so a song removed and compacted since the
        files were hashed is skipped. One transaction: a killed run changes all or nothing.
        Neither the digest nor ``rows_version`` moves: the source path is in neither, and the
        fingerprints (so the prepared cache) are unchanged.

        Returns
        -------
        list of int
            The ids updated, ascending.
        """
        done: list[int] = []
        with disk_full_is_one_line(self.library.path, "recording new source paths"), \
                write_transaction(self._conn):
            for sid, (sha, path) in sorted(paths.items()):
                cur = self._conn.execute(
                    "UPDATE songs SET source_path = ? WHERE id = ? AND audio_sha256 = ?",
                    (str(path), int(sid), str(sha)))
                if cur.rowcount:
                    done.append(int(sid))
        return done

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
        with disk_full_is_one_line(self.library.path, "compacting it"):
            return self._compact()

    def _compact(self) -> dict[str, int]:
        lib = self.library
        d = self.manifest.dim
        rb = row_bytes(d)
        with read_transaction(self._conn):
            snap = read_snapshot(self._conn, lib.name)
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
                    src = lib.path / matrix_name(channel, kind, snap.generation)
                    dst = lib.path / matrix_name(channel, kind, new_gen)
                    written.append(dst)
                    with open(src, "rb") as fin, open(dst, "wb") as fout:
                        for start in range(0, sel.size, BLOCK_ROWS):
                            fout.write(read_rows(fin, n_rows, d, sel[start : start + BLOCK_ROWS])
                                       .astype(DTYPE).tobytes())
                        fout.flush()
                        os.fsync(fout.fileno())
            fsync_dir(lib.path)
            new_starts = np.concatenate([[0], np.cumsum(counts)[:-1]]) if counts.size else counts
            with write_transaction(self._conn):
                if read_snapshot(self._conn, lib.name) != snap:
                    raise LibraryError("the catalog changed under the writer lock; aborting")
                self._conn.execute(
                    "DELETE FROM chunks WHERE song_id IN (SELECT id FROM songs WHERE live = 0)")
                self._conn.execute("DELETE FROM songs WHERE live = 0")
                # Ascending order: a row only moves down, into a slot already vacated.
                self._conn.executemany(
                    "UPDATE songs SET row = ?, chunk_row = ? WHERE id = ?",
                    [(i, int(new_starts[i]), int(r[0])) for i, r in enumerate(live)],
                )
                set_meta(self._conn, track_rows=len(live), chunk_rows=int(counts.sum()),
                          generation=new_gen)
        except BaseException:
            for p in written:
                with contextlib.suppress(OSError):
                    p.unlink()
            raise
        for channel in self.manifest.channels:
            for kind in KINDS:
                with contextlib.suppress(OSError):
                    (lib.path / matrix_name(channel, kind, snap.generation)).unlink()
        removed = snap.track_rows - len(live)
        removed_chunks = snap.chunk_rows - int(counts.sum())
        return {"removed_rows": removed, "removed_chunk_rows": removed_chunks,
                "bytes_reclaimed": (removed + removed_chunks) * rb * len(self.manifest.channels)}

