"""Segment matches of a query against the stored chunks of chosen library songs.

The library side of :mod:`lumina.attribution.segments`: reads the chunk fingerprints and
chunk times of the listed songs and of a bounded, seeded cohort of library songs (the
chunk-level null), and pairs the query's chunks with each listed song's. Reads
O((listed + cohort) · chunks · D) numbers, never the library's whole chunk matrix.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from lumina.attribution.null import cohort_indices
from lumina.attribution.segments import (
    DEFAULT_SEGMENT_COHORT,
    DEFAULT_SEGMENT_PAIRS,
    SegmentMatch,
    SegmentNull,
    segment_matches,
    segment_null,
)
from lumina.library.errors import LibraryError
from lumina.library.query_cache import PreparedLibrary
from lumina.library.reader import Library

__all__ = ["library_segments"]


class _StoredChunks:
    """Chunk fingerprints and times of songs, each read from the library once."""

    def __init__(self, library: Library) -> None:
        self.library = library
        self._seen: dict[int, tuple[dict[str, np.ndarray], np.ndarray] | None] = {}

    def get(self, song_id: int) -> tuple[dict[str, np.ndarray], np.ndarray] | None:
        """``({channel: (C, D)}, (C, 2) times)``, or None for a song gone since the
        library was prepared (compacted away)."""
        if song_id not in self._seen:
            try:
                _, chunks = self.library.vectors(song_id)
                times = self.library.chunk_times(song_id)[:, :2]
                self._seen[song_id] = (chunks, times)
            except LibraryError:
                self._seen[song_id] = None
        return self._seen[song_id]


def _null(store: _StoredChunks, cohort_ids: np.ndarray, channel: str, null: str
          ) -> SegmentNull:
    parts, owners = [], []
    for sid in cohort_ids.tolist():
        got = store.get(sid)
        if got is None:
            continue
        parts.append(got[0][channel])
        owners.append(np.full(got[0][channel].shape[0], sid, dtype=np.int64))
    d = store.library.manifest.dim
    chunks = np.concatenate(parts) if parts else np.empty((0, d), dtype=np.float32)
    own = np.concatenate(owners) if owners else np.empty(0, dtype=np.int64)
    return segment_null(chunks, own, null=null)


def library_segments(library: Library, prepared: PreparedLibrary,
                     query_chunks: Mapping[str, np.ndarray], query_times: np.ndarray,
                     listed: Mapping[str, Iterable[int]], *, null: str = "empirical",
                     pairs: int = DEFAULT_SEGMENT_PAIRS,
                     cohort_size: int = DEFAULT_SEGMENT_COHORT
                     ) -> dict[str, dict[int, tuple[SegmentMatch, ...]]]:
    """The strongest (query chunk, song chunk) pairs of each listed song, per channel.

    Parameters
    ----------
    library : Library
    prepared : the prepared library the attribution ran on (its rows and cohort seed).
    query_chunks : mapping channel → (Cq, D) array_like, the query's chunk fingerprints.
    query_times : (Cq, 2) array_like, start and end seconds of each query chunk.
    listed : mapping channel → song ids to pair with (the songs a result lists).
    null : {"empirical", "analytic"}, see :mod:`lumina.attribution.segments`.
    pairs : pairs per song and channel.
    cohort_size : songs in the chunk-level null's cohort, drawn with ``prepared.seed``.

    Returns
    -------
    dict channel → {song id: tuple[SegmentMatch, ...]}
        In the order of ``listed``; a song no longer in the library maps to ``()``.
    """
    store = _StoredChunks(library)
    cohort_ids = np.empty(0, dtype=np.int64)
    if null == "empirical":
        rows = cohort_indices(prepared.n, cohort_size, prepared.seed)
        cohort_ids = np.asarray(prepared.song_ids)[rows].astype(np.int64)
    times = np.asarray(query_times, dtype=np.float64).reshape(-1, 2)
    out: dict[str, dict[int, tuple[SegmentMatch, ...]]] = {}
    for channel, ids in listed.items():
        if channel not in query_chunks:
            raise LibraryError(f"the query has no chunk fingerprints in channel {channel!r}")
        chunk_null = _null(store, cohort_ids, channel, null)
        per_song: dict[int, tuple[SegmentMatch, ...]] = {}
        for sid in ids:
            got = store.get(int(sid))
            if got is None:
                per_song[int(sid)] = ()
                continue
            per_song[int(sid)] = segment_matches(
                query_chunks[channel], times, got[0][channel], got[1], chunk_null,
                exclude=int(sid), pairs=pairs)
        out[channel] = per_song
    return out
