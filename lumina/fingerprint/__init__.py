"""Fingerprints: the gradient of a MusicGen model's loss, projected to D numbers per channel.

- :mod:`lumina.fingerprint.fingerprinter` — :class:`Fingerprinter` and :class:`Fingerprint`
  (torch).
- :mod:`lumina.fingerprint.projection` — the Kronecker-structured gradient projection hooks.
- :mod:`lumina.fingerprint.rendering` — timbre-neutral renderings for the composition
  channel (numpy only: importing it never loads torch); :mod:`lumina.fingerprint.key` the
  canonical key of ``shepard-key``.
- :mod:`lumina.fingerprint.output` — the output function the gradient is of (pure Python).
- :mod:`lumina.fingerprint.loudness` — the loudness normalisation the audio gets before the codec
  (numpy only).
- :mod:`lumina.fingerprint.versioned` — the ``name/version`` lookup both registries share.

This package's ``__init__`` imports nothing, so a light caller (the app's library panel)
can read a rendering's name without loading torch.
"""
