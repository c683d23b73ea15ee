"""The matrix files and everything that touches raw bytes on disk: file names, row reads and
gathers, the ``.npy`` writer, atomic and durable writes, and the writer lock."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import time
import weakref
from pathlib import Path

import numpy as np

from lumina.library.errors import LibraryError, LibraryLockedError
from lumina.library.manifest import DTYPE

__all__ = [
    "BLOCK_ROWS",
    "EMPTY_SHA256",
    "KINDS",
    "LOCK_NAME",
    "MATRIX_FILE_RE",
    "GatherByRead",
    "NpyWriter",
    "WriterLock",
    "atomic_write_text",
    "fsync_dir",
    "matrix_name",
    "read_rows",
    "row_bytes",
    "save_npy",
    "unmap",
]

LOCK_NAME = "writer.lock"
KINDS = ("track", "chunks")
#: Rows per block when a whole matrix is copied (compaction): bounded memory, few syscalls.
#: (Preparation streams in the blocks of :mod:`lumina.attribution.channel_index`.)
BLOCK_ROWS = 16384
_LOCK_WAIT_SECONDS = 2.0
#: The chunk checksum of a song without chunk rows.
EMPTY_SHA256 = hashlib.sha256(b"").digest()


def fsync_dir(folder: Path) -> None:
    # Make a new or renamed directory entry durable (POSIX); Windows has no directory fsync.
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + f".tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def matrix_name(channel: str, kind: str, generation: int) -> str:
    return f"{channel}.{kind}.g{generation}.f32"


MATRIX_FILE_RE = re.compile(r"^(?P<channel>.+)\.(?P<kind>track|chunks)\.g(?P<gen>\d+)\.f32$")


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


class WriterLock:
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



def row_bytes(dim: int) -> int:
    return dim * DTYPE.itemsize


def read_rows(fh: object, n_rows: int, dim: int, rows: np.ndarray) -> np.ndarray:
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
        unmap(mm)
        del mm
    return out


def unmap(arr: np.ndarray) -> None:
    """Unmap a memory map now rather than at garbage collection (its pages count as RSS)."""
    mm = getattr(arr, "_mmap", None)
    if mm is not None:
        with contextlib.suppress(BufferError, ValueError):  # a view still exported: GC does it
            mm.close()


class GatherByRead:
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


class NpyWriter:
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


def save_npy(path: Path, arr: np.ndarray) -> None:
    with open(path, "wb") as fh:
        np.save(fh, np.ascontiguousarray(arr))
        fh.flush()
        os.fsync(fh.fileno())

