"""``lumina library verify``: check a library without changing it (manifest, catalog,
counters, matrix sizes, finiteness, checksums), one line per problem."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lumina.library.catalog import (
    CATALOG_NAME,
    Snapshot,
    connect_catalog,
    read_snapshot,
    read_transaction,
)
from lumina.library.errors import LibraryError
from lumina.library.manifest import Manifest, read_manifest
from lumina.library.query_cache import CACHE_NAME
from lumina.library.storage import (
    EMPTY_SHA256,
    KINDS,
    MATRIX_FILE_RE,
    matrix_name,
    read_rows,
    row_bytes,
)

__all__ = ["VerifyReport", "verify"]


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


def _malformed(r: tuple) -> str | None:
    """What is wrong with the types of a song row (id, row, chunk_row, n_chunks, live, title,
    track_sha256, chunks_sha256, crc), or None."""
    def shown(value: object) -> str:
        text = repr(value)
        return text if len(text) <= 40 else text[:37] + "…"

    label = f"song {shown(r[0])} {str(r[5])[:60]!r}"
    for i, col in ((0, "id"), (1, "row"), (2, "chunk_row"), (3, "n_chunks"), (4, "live")):
        if not isinstance(r[i], int) or isinstance(r[i], bool) or r[i] < 0:
            return f"{CATALOG_NAME}: {label} has a malformed {col} ({shown(r[i])})"
    for i, col in ((6, "track_sha256"), (7, "chunks_sha256")):
        if not isinstance(r[i], bytes) or len(r[i]) != 32:
            return f"{CATALOG_NAME}: {label} has a malformed {col} ({shown(r[i])})"
    if not isinstance(r[8], bytes):
        return f"{CATALOG_NAME}: {label} has a malformed crc ({shown(r[8])})"
    return None


def _verify_catalog(conn: sqlite3.Connection, name: str, snap: Snapshot,
                    rep: VerifyReport) -> list[tuple] | None:
    check = conn.execute("PRAGMA integrity_check").fetchall()
    if [r[0] for r in check] != ["ok"]:
        rep.problems.append(f"{CATALOG_NAME}: SQLite integrity check failed: {check[0][0]}")
    all_rows = conn.execute(
        "SELECT id, row, chunk_row, n_chunks, live, title, track_sha256, chunks_sha256, crc "
        "FROM songs ORDER BY row").fetchall()
    malformed = [m for m in map(_malformed, all_rows) if m]
    if malformed:  # a damaged or hand-edited catalog: name the rows, check nothing more
        rep.problems.extend(malformed[:20])
        if len(malformed) > 20:
            rep.problems.append(f"… {len(malformed) - 20} more malformed song row(s)")
        return None
    live = sum(1 for r in all_rows if r[4])
    rep.songs, rep.removed = live, len(all_rows) - live
    if live != snap.live_rows:
        rep.problems.append(f"{CATALOG_NAME}: {live} live song rows but the counter says "
                            f"{snap.live_rows}")
    present = {int(r[1]) for r in all_rows}
    # Counted, not listed: a damaged counter may claim 10¹² rows.
    n_missing = snap.track_rows - sum(1 for r in present if 0 <= r < snap.track_rows)
    if n_missing:
        missing = []
        row = 0
        while len(missing) < 5 and row < snap.track_rows:  # ≤ songs + 5 steps
            if row not in present:
                missing.append(row)
            row += 1
        shown = ", ".join(map(str, missing)) + (" …" if n_missing > 5 else "")
        rep.problems.append(
            f"{CATALOG_NAME}: {n_missing} committed matrix row(s) have no song row "
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
        manifest = read_manifest(folder)
    except LibraryError as exc:
        rep.problems.append(str(exc))
        return rep
    catalog = folder / CATALOG_NAME
    if not catalog.is_file():
        rep.problems.append(f"{CATALOG_NAME} is missing")
        return rep
    try:
        conn = connect_catalog(catalog)
    except sqlite3.DatabaseError as exc:
        rep.problems.append(f"{CATALOG_NAME} cannot be opened: {exc}")
        return rep
    try:
        with read_transaction(conn):
            try:
                snap = read_snapshot(conn, folder.name)
                all_rows = _verify_catalog(conn, folder.name, snap, rep)
            except (LibraryError, sqlite3.DatabaseError) as exc:
                rep.problems.append(f"{CATALOG_NAME}: {exc}")
                return rep
    finally:
        conn.close()
    if all_rows is None:
        return rep
    _verify_matrices(folder, manifest, snap, all_rows, rep)
    cache = folder / CACHE_NAME
    if not any(p.name.startswith(f"v{snap.rows_version}-") for p in
               (cache.iterdir() if cache.is_dir() else ())):
        rep.notes.append("no prepared cache for the current rows (built by the next query)")
    return rep


def _verify_matrices(folder: Path, manifest: Manifest, snap: Snapshot, all_rows: list[tuple],
                     rep: VerifyReport) -> None:
    d = manifest.dim
    rb = row_bytes(d)
    channels = manifest.channels
    usable = True
    for channel in channels:
        for kind in KINDS:
            p = folder / matrix_name(channel, kind, snap.generation)
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
        m = MATRIX_FILE_RE.match(p.name)
        if m and int(m["gen"]) != snap.generation:
            rep.notes.append(f"{p.name}: left over from an interrupted compaction "
                             "(the next writer removes it)")
    if not usable:
        return
    handles = {(c, k): open(folder / matrix_name(c, k, snap.generation), "rb")  # noqa: SIM115
               for c in channels for k in KINDS}
    bad_rows = 0
    try:
        songs = sorted((r for r in all_rows if 0 <= int(r[1]) < snap.track_rows),
                       key=lambda r: r[1])
        for start in range(0, len(songs), 4096):
            part = songs[start : start + 4096]
            rows = np.array([r[1] for r in part], dtype=np.int64)
            track = {c: read_rows(handles[(c, "track")], snap.track_rows, d, rows)
                     for c in channels}
            c_lo = min(int(r[2]) for r in part)
            c_hi = max(int(r[2]) + int(r[3]) for r in part)
            c_hi = min(max(c_hi, c_lo), snap.chunk_rows)
            crange = np.arange(c_lo, c_hi, dtype=np.int64)
            chunkm = {c: read_rows(handles[(c, "chunks")], snap.chunk_rows, d, crange)
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
                        found.append(f"{matrix_name(c, 'track', snap.generation)} row {row} "
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
                    files = [matrix_name(c, "track", snap.generation)
                             for j, c in enumerate(channels) if want is None or want[j] != crcs[j]]
                    found.append(f"{' and '.join(files)} row {row} ({label}) does not match its "
                                 "checksum: the bytes changed since indexing")
                chunk_sha = hc.digest() if nc else EMPTY_SHA256
                if bytes(r[7]) != chunk_sha:
                    k = len(channels)
                    files = [matrix_name(c, "chunks", snap.generation)
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

