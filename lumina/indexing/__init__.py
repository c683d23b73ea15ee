"""Indexing: fingerprint audio files into a library, here or on a Ray cluster.

- :mod:`lumina.indexing.local` — ``lumina index``: files in, one committed song per file.
- :mod:`lumina.indexing.cluster` — ``lumina index --ray``: workers fingerprint, the driver
  is the library's only writer.
"""

from lumina.indexing.local import (
    IndexEvent,
    IndexRun,
    IndexSummary,
    PreparedFile,
    collect_audio_files,
    fingerprint_for_index,
    index_files,
)

__all__ = [
    "IndexEvent",
    "IndexRun",
    "IndexSummary",
    "PreparedFile",
    "collect_audio_files",
    "fingerprint_for_index",
    "index_files",
]
