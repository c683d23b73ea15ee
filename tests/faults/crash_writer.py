"""Run one library write and die (``os._exit``) at a chosen point — a fault-injection helper
for ``tests/faults/test_library_faults.py``, run as a subprocess:

    python tests/faults/crash_writer.py LIB OP POINT N

OP is ``append`` (three songs) or ``compact``; POINT/N pick where the process dies:

- ``write N``: half way through the N-th write to a matrix file (a torn write);
- ``fsync N``: just before the N-th ``fsync`` of a matrix file (written, not yet durable);
- ``fsync_dir 1``: before the folder entry of a compaction's new files is made durable;
- ``commit 1``: inside the SQLite transaction, rows inserted, counters not yet moved;
- ``after 1``: right after the transaction committed (append) / at the first deletion of an
  old generation's file (compaction).

The process exits with 86 when it died at the point, 0 when the operation ended first.
"""

from __future__ import annotations

import os
import pathlib
import sys

import numpy as np

from lumina.library import Library, SongMeta
from lumina.library import writer as W  # noqa: N812 - the module under test

CRASHED = 86
CHANNELS = ("composition", "production")


def new_songs(dim: int, start: int = 100, n: int = 3):
    rng = np.random.default_rng(start)
    track = {c: rng.standard_normal((n, dim)).astype(np.float32) for c in CHANNELS}
    chunks = {c: rng.standard_normal((2 * n, dim)).astype(np.float32) for c in CHANNELS}
    metas = [SongMeta(title=f"song {i}", artist="new", audio_sha256=f"{i:064x}",
                      duration=30.0) for i in range(start, start + n)]
    return track, metas, {"chunks": chunks, "chunk_counts": [2] * n,
                          "chunk_times": np.tile([[0.0, 10.0], [10.0, 20.0]], (n, 1)),
                          "chunk_loss": np.linspace(4.0, 5.0, 2 * n)}


def run_write(lib_path: str | os.PathLike[str], op: str, start: int = 100) -> None:
    """The write every fault helper interrupts: ``append`` three new songs, or ``compact``."""
    with Library.open(lib_path) as lib, lib.writer() as w:
        if op == "append":
            track, metas, extra = new_songs(lib.manifest.dim, start=start)
            w.append_vectors(track, metas, **extra)
        else:
            w.compact()


def main() -> int:
    lib_path, op, point, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    seen = {"count": 0}

    def trip() -> None:
        seen["count"] += 1
        if seen["count"] == n:
            os._exit(CRASHED)

    if point == "write":
        real_open = open

        class Torn:
            def __init__(self, fh) -> None:
                self.fh = fh

            def __enter__(self):
                return self

            def __exit__(self, *exc) -> None:
                self.fh.close()

            def write(self, data) -> int:
                if seen["count"] + 1 == n:
                    self.fh.write(bytes(data)[: len(data) // 2])
                    self.fh.flush()
                trip()
                return self.fh.write(data)

            def __getattr__(self, name):
                return getattr(self.fh, name)

        def torn_open(path, mode="r", *args, **kwargs):
            fh = real_open(path, mode, *args, **kwargs)
            return Torn(fh) if ("w" in mode or "+" in mode) else fh

        W.open = torn_open  # the writer's module global shadows the builtin
    elif point == "fsync":
        real_fsync = os.fsync

        def fsync(fd) -> None:
            trip()
            real_fsync(fd)

        W.os.fsync = fsync
    elif point == "fsync_dir":
        W.fsync_dir = lambda folder: trip()
    elif point == "commit":
        real_set_meta = W.set_meta

        def set_meta(conn, **values) -> None:
            trip()
            real_set_meta(conn, **values)

        W.set_meta = set_meta
    elif point == "after" and op == "append":
        real_commit = W.LibraryWriter._commit_rows

        def commit(self, *args, **kwargs):
            ids = real_commit(self, *args, **kwargs)
            trip()
            return ids

        W.LibraryWriter._commit_rows = commit
    elif point == "after" and op == "compact":
        real_unlink = pathlib.Path.unlink

        def unlink(self, *args, **kwargs) -> None:
            trip()
            real_unlink(self, *args, **kwargs)

        pathlib.Path.unlink = unlink
    else:
        raise SystemExit(f"unknown point {point}")

    run_write(lib_path, op)
    return 0


if __name__ == "__main__":
    sys.exit(main())
