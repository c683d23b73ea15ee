"""What a library needs to know of a fingerprinter: its identity (model, projection,
chunking, rendering, output function, loudness normalisation) and the protocols that describe
it. Imports no torch, so the library, indexing and the workspace can all use it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

__all__ = ["FingerprinterLike", "ModelLike", "identity_of_fingerprinter",
           "model_spec_for_manifest"]


class ModelLike(Protocol):
    """What the workspace reads of a model (:class:`lumina.models.musicgen.MusicGenModel`)."""

    name: str
    weights_sha256: str
    sample_rate: int

    @property
    def channels(self) -> Mapping[str, object]: ...


class FingerprinterLike(Protocol):
    """What a library needs to know of a fingerprinter to accept its fingerprints
    (:class:`lumina.fingerprint.fingerprinter.Fingerprinter`)."""

    model: ModelLike
    seed: int
    blocks: int
    dim: int
    chunk_seconds: float

    @property
    def composition_rendering(self) -> str | None: ...

    @property
    def output_function(self) -> str | None: ...

    @property
    def loudness(self) -> str | None: ...


def identity_of_fingerprinter(fingerprinter: FingerprinterLike) -> dict[str, object]:
    """The manifest identity a fingerprinter produces.

    Returns
    -------
    dict
        ``model_name`` plus every field of :data:`lumina.library.IDENTITY_FIELDS`.
    """
    model = fingerprinter.model
    return {
        "model_name": model.name,
        "model_sha256": model.weights_sha256,
        "projection_seed": int(fingerprinter.seed),
        "projection_blocks": int(fingerprinter.blocks),
        "dim": int(fingerprinter.dim),
        "chunk_seconds": float(fingerprinter.chunk_seconds),
        "sample_rate": int(model.sample_rate),
        "channels": list(model.channels),
        "composition_rendering": fingerprinter.composition_rendering,
        "output_function": fingerprinter.output_function,
        "loudness": fingerprinter.loudness,
    }


def model_spec_for_manifest(spec: str) -> str:
    """How a manifest records a model: the embedded model's name, or a folder as an absolute
    path so later commands run from elsewhere find it."""
    from lumina.models import DEFAULT_MODEL

    return spec if spec == DEFAULT_MODEL else str(Path(spec).expanduser().resolve())
