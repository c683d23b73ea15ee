"""Indexing: fingerprint audio files into a library, here or on a Ray cluster.

- :mod:`lumina.indexing.cluster` — ``lumina index --ray``: workers fingerprint, the driver
  is the library's only writer.
"""
