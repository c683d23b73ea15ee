"""The study's on-disk cache of fingerprints and baseline features (:class:`FeatureCache`).

A rerun of ``lumina validate`` reads what it computed before instead of fingerprinting
again; every key holds every parameter its item depends on, and :data:`CACHE_VERSION` is
the part of the key that a change of the study's code bumps.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

__all__ = ["CACHE_VERSION", "FeatureCache"]

#: Bump when a change to the study changes cached intermediates.
CACHE_VERSION = 2


class FeatureCache:
    """One ``.npz`` per item (fingerprints per channel and baseline features), keyed by a
    string holding every parameter the item depends on."""

    def __init__(self, folder: Path, prefix: str) -> None:
        self.folder = folder
        self.prefix = prefix
        self.hits = 0
        self.misses = 0

    def _path(self, key: str) -> Path:
        digest = hashlib.sha256(f"{self.prefix}|{key}".encode()).hexdigest()[:24]
        return self.folder / f"{digest}.npz"

    def get(self, key: str) -> dict[str, np.ndarray] | None:
        """The values stored under ``key``, or None: missing, or unreadable (recomputed)."""
        path = self._path(key)
        if not path.is_file():
            return None
        try:
            with np.load(path) as data:
                out = {k: np.array(data[k]) for k in data.files}
        except (OSError, ValueError, EOFError):
            return None
        self.hits += 1
        return out

    def put(self, key: str, values: dict[str, np.ndarray]) -> None:
        """Store ``values`` under ``key``; written whole or not at all (rename into place)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self._path(key)
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.part.npz")
        np.savez(tmp, **values)
        os.replace(tmp, path)
        self.misses += 1
