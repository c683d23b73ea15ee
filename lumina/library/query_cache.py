"""The prepared cache (``cache/<key>/``): the live rows of a library made ready for
attribution, built once per rows version and preparation parameters, then memory-mapped.

Everything here is derived and rebuildable; deleting ``cache/`` loses nothing but time.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from lumina import __version__
from lumina.attribution import Attribution, ChannelIndex, KernelRegression
from lumina.attribution.channel_index import MatrixSink, build_channel_statistics
from lumina.attribution.params import AttributionParams
from lumina.library.catalog import Snapshot, library_digest, utc_now
from lumina.library.errors import LibraryError
from lumina.library.manifest import DTYPE, Manifest, canonical_json
from lumina.library.storage import (
    GatherByRead,
    NpyWriter,
    atomic_write_text,
    fsync_dir,
    matrix_name,
    read_rows,
    save_npy,
    unmap,
)

__all__ = [
    "CACHE_NAME",
    "LibraryAttribution",
    "PreparedLibrary",
    "build_cache",
    "cache_key",
    "load_cache",
    "prepare_channel",
    "prune_cache",
]

CACHE_NAME = "cache"
#: A cache temp folder older than this is from a crashed process and may be removed.
_STALE_TMP_SECONDS = 3600.0


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


def cache_key(library_id: str, rows_version: int, params: AttributionParams,
              top_k: int | None) -> str:
    """The cache folder of a rows version prepared with ``params`` (its preparation fields;
    ``top_k`` is ``params.snorm_top_k`` resolved for the live cohort)."""
    text = canonical_json({"library_id": library_id, "lam": float(params.lam),
                           "cohort_size": int(params.cohort_size),
                           "seed": int(params.cohort_seed), "top_k": top_k, "cache_format": 1})
    return f"v{rows_version}-" + hashlib.sha256(text.encode()).hexdigest()[:16]


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
                save_npy(tmp, inverse)
                os.replace(tmp, self._path)
        inverse.setflags(write=False)
        self._inverse = inverse
        return inverse



def build_cache(library_path: Path, manifest: Manifest, root: Path, key: str, snap: Snapshot,
                live: list[tuple], params: AttributionParams, top_k: int | None,
                progress: Callable[[int, int], None] | None) -> None:
    """Prepare the live rows (``live``: row, id, audio SHA-256 and checksums, in row order)
    into ``root/key`` and drop caches of older rows versions.

    Built in a temp folder renamed into place, so a reader never sees half a cache and two
    processes building the same key both succeed.
    """
    d = manifest.dim
    rows = np.fromiter((r[0] for r in live), dtype=np.int64, count=len(live))
    ids = np.fromiter((r[1] for r in live), dtype=np.int64, count=len(live))
    digest = library_digest(manifest, ((r[1], r[2], r[3], r[4]) for r in live))
    del live
    n = rows.size
    tmp = root / f".tmp-{uuid.uuid4().hex}"
    tmp.mkdir()
    channels = manifest.channels
    steps = 4 * len(channels)
    done = 0

    def step() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, steps)

    try:
        save_npy(tmp / "ids.npy", ids)
        for channel in channels:
            src = library_path / matrix_name(channel, "track", snap.generation)
            with open(src, "rb") as fh:
                prepare_channel(fh, snap.track_rows, rows, d, tmp, channel, params, top_k,
                                step)
        meta = {"key": key, "rows_version": snap.rows_version, "n": int(n), "dim": d,
                "channels": list(channels), "lam": float(params.lam),
                "cohort_size": int(params.cohort_size), "seed": int(params.cohort_seed),
                "top_k": top_k, "digest": digest, "built": utc_now(),
                "software_version": __version__}
        atomic_write_text(tmp / "meta.json", json.dumps(meta, indent=2) + "\n")
        try:
            os.rename(tmp, root / key)
        except OSError:
            if not (root / key / "meta.json").is_file():
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # another process built it first
        fsync_dir(root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    prune_cache(root, keep=key)



class _NpyFileStore:
    """The :class:`~lumina.attribution.channel_index.MatrixStore` of a cache folder: each
    matrix is written to ``<channel>.<name>.npy`` with plain writes and read back
    memory-mapped, so a channel costs about one matrix of memory whatever its size."""

    def __init__(self, folder: Path, channel: str) -> None:
        self.folder = folder
        self.channel = channel

    def sink(self, name: str, shape: tuple[int, int], dtype: np.dtype) -> MatrixSink:
        return _NpySink(self.folder / f"{self.channel}.{name}.npy", shape)

    def release(self, matrix: np.ndarray) -> None:
        unmap(matrix)


class _NpySink:
    def __init__(self, path: Path, shape: tuple[int, int]) -> None:
        self.path = path
        self.writer = NpyWriter(path, shape)

    def write(self, block: np.ndarray) -> None:
        self.writer.write(block)

    def finish(self) -> np.ndarray:
        self.writer.close()
        return np.load(self.path, mmap_mode="r")


def prepare_channel(fh: BinaryIO, n_rows: int, rows: np.ndarray, d: int, out: Path,
                    channel: str, params: AttributionParams, top_k: int | None,
                    step: Callable[[], None]) -> None:
    """Stream one channel's stored rows ``rows`` (of a matrix file of ``n_rows`` rows,
    opened ``rb``) into ``out`` with the builder of :func:`build_channel_index`."""

    def not_finite() -> LibraryError:
        return LibraryError(
            f"a stored {channel} fingerprint is NaN or Inf; run lumina library verify")

    def read_block(start: int, stop: int) -> np.ndarray:
        return read_rows(fh, n_rows, d, rows[start:stop])

    stats = build_channel_statistics(
        read_block, rows.size, d, _NpyFileStore(out, channel), dtype=DTYPE, lam=params.lam,
        cohort_size=params.cohort_size, seed=params.cohort_seed, top_k=top_k,
        not_finite=not_finite, step=step)
    # The analytic null's regression (a Gram pass over ``unit``) is left to the first
    # analytic query (see _DeferredRegression): most libraries are only ever queried
    # with the default empirical null, and at 10⁶ songs the pass costs ~30 s per channel.
    save_npy(out / f"{channel}.centred_inverse.npy", stats.centred_regression.inverse)
    # No gc.collect() here: a full collection in a process that holds torch and Qt
    # stops every thread for ~0.2 s (the app's UI included); the views are freed by
    # reference counting when the arrays go out of scope.
    for name, arr in (("mean", stats.mean), ("song_mu", stats.song_mu),
                      ("song_sigma", stats.song_sigma),
                      ("cohort", stats.cohort.astype(np.int64))):
        save_npy(out / f"{channel}.{name}.npy", arr)
    step()


def load_cache(folder: Path, manifest: Manifest) -> PreparedLibrary:
    """The prepared library built by :func:`build_cache` in ``folder``, memory-mapped."""
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    ids = np.load(folder / "ids.npy", mmap_mode="r")
    indexes = {}
    lam = float(meta["lam"])
    for channel in manifest.channels:
        def load(name: str, mmap: bool = False, channel: str = channel) -> np.ndarray:
            arr = np.load(folder / f"{channel}.{name}.npy", mmap_mode="r" if mmap else None)
            if not mmap:
                arr.setflags(write=False)
            return arr

        mapped = load("unit", True)
        centred = load("centred", True)
        if mapped.shape != (meta["n"], manifest.dim) or centred.shape != mapped.shape:
            raise LibraryError(f"cache {folder.name} is inconsistent; delete {folder}")
        unit = (GatherByRead(mapped, folder / f"{channel}.unit.npy")
                if hasattr(os, "preadv") else mapped)
        indexes[channel] = ChannelIndex(
            unit=unit,
            mean=load("mean"),
            centred=centred,
            song_mu=load("song_mu"),
            song_sigma=load("song_sigma"),
            cohort=load("cohort").astype(np.intp),
            raw_regression=(
                KernelRegression.from_inverse(unit, load("raw_inverse"), lam)
                if (folder / f"{channel}.raw_inverse.npy").is_file()
                else _DeferredRegression(unit, lam, folder / f"{channel}.raw_inverse.npy")),
            centred_regression=KernelRegression.from_inverse(centred, load("centred_inverse"),
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


def prune_cache(root: Path, keep: str) -> None:
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
