"""The identity of a library (``manifest.json``): which model, projection and chunking made
its fingerprints, which composition rendering and which output function; read once, written
once at creation."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lumina import __version__
from lumina.fingerprint.output import (
    DEFAULT_OUTPUT_FUNCTION,
    OUTPUT_FUNCTIONS,
    output_function_id,
    output_function_words,
)
from lumina.fingerprint.rendering import RENDERINGS, rendering_id, rendering_words
from lumina.library.errors import LibraryError

__all__ = [
    "DEFAULT_COMPOSITION_RENDERING",
    "DTYPE",
    "FORMAT",
    "FORMAT_VERSION",
    "IDENTITY_FIELDS",
    "MANIFEST_NAME",
    "OPTIONAL_IDENTITY_FIELDS",
    "PLAIN_RENDERING",
    "Manifest",
    "canonical_json",
    "composition_rendering_for",
    "output_function_for",
    "read_manifest",
]

FORMAT = "lumina-library"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
#: Matrices are raw little-endian float32, row-major, no header: appending never rewrites.
DTYPE = np.dtype("<f4")
#: Manifest fields that must match for fingerprints to be comparable. The model *name* is
#: not among them: the same weights under another folder name give the same fingerprints.
IDENTITY_FIELDS = (
    "model_sha256",
    "projection_seed",
    "projection_blocks",
    "dim",
    "chunk_seconds",
    "sample_rate",
    "channels",
    "composition_rendering",
    "output_function",
)
#: Identity fields a paper-mode library leaves out (absent = None), so its manifest and
#: digest are those of a library made before the field existed.
OPTIONAL_IDENTITY_FIELDS = ("composition_rendering", "output_function")
#: How a mismatch of each optional field is told: what the field is, and its value in words.
_OPTIONAL_FIELD_WORDS = {
    "composition_rendering": ("composition fingerprints", rendering_words, "renderings"),
    "output_function": ("fingerprints", output_function_words, "output functions"),
}


def canonical_json(obj: object) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


@dataclass(frozen=True)
class Manifest:
    """The identity of a library (``manifest.json``), written once when it is created.

    Attributes
    ----------
    library_id : str
        Random UUID of this library (cache keys; reports may name it).
    model_name, model_sha256 : str
        Model that made the fingerprints; the SHA-256 is :func:`lumina.models.weights_digest`.
    projection_seed, projection_blocks, dim : int
        The Kronecker projection (DESIGN §1 step 3); ``dim`` is D per channel.
    chunk_seconds : float
    sample_rate : int
        The codec's rate audio was resampled to.
    channels : tuple of str
        Channel names in file order, e.g. ``("composition", "production")``.
    software_version, created : str
        LUMINA version and UTC time at creation.
    composition_rendering : str or None
        ``name/version`` of the timbre-neutral rendering the composition channel's
        fingerprints were computed on (:mod:`lumina.fingerprint.rendering`); None: the audio itself
        (the paper's mode). Queries must use the same rendering.
    output_function : str or None
        ``name/version`` of the function the fingerprints are the gradient of
        (:mod:`lumina.fingerprint.output`); None: the paper's loss (every library made
        before the field existed). Queries must use the same.
    model_spec : str
        How the model was given (``lumina-tiny`` or an absolute folder); a default for later
        commands, not part of the identity.
    """

    library_id: str
    model_name: str
    model_sha256: str
    projection_seed: int
    projection_blocks: int
    dim: int
    chunk_seconds: float
    sample_rate: int
    channels: tuple[str, ...]
    software_version: str
    created: str
    model_spec: str = ""
    format_version: int = FORMAT_VERSION
    composition_rendering: str | None = None
    output_function: str | None = None

    def identity(self) -> dict[str, object]:
        """The fields that decide whether two sets of fingerprints are comparable; an
        optional field that is None is left out."""
        out = {name: getattr(self, name) for name in IDENTITY_FIELDS
               if not (name in OPTIONAL_IDENTITY_FIELDS and getattr(self, name) is None)}
        out["channels"] = list(self.channels)
        return out

    def to_json(self) -> dict[str, object]:
        return {
            "format": FORMAT,
            "format_version": self.format_version,
            "library_id": self.library_id,
            "model_name": self.model_name,
            "model_sha256": self.model_sha256,
            "model_spec": self.model_spec,
            "projection_seed": self.projection_seed,
            "projection_blocks": self.projection_blocks,
            "dim": self.dim,
            "chunk_seconds": self.chunk_seconds,
            "sample_rate": self.sample_rate,
            "channels": list(self.channels),
            **({} if self.composition_rendering is None
               else {"composition_rendering": self.composition_rendering}),
            **({} if self.output_function is None
               else {"output_function": self.output_function}),
            "dtype": DTYPE.str,
            "software_version": self.software_version,
            "created": self.created,
        }

    @classmethod
    def from_json(cls, data: object, where: str = MANIFEST_NAME) -> Manifest:
        """Validate a parsed manifest; every problem is a one-line :class:`LibraryError`."""
        if not isinstance(data, dict):
            raise LibraryError(f"{where}: not a JSON object")
        if data.get("format") != FORMAT:
            raise LibraryError(
                f"{where}: not a LUMINA library manifest (format {data.get('format')!r})")
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise LibraryError(
                f"{where}: library format version {version!r} is not supported by this LUMINA "
                f"({__version__} reads version {FORMAT_VERSION})"
            )
        if data.get("dtype", DTYPE.str) != DTYPE.str:
            raise LibraryError(f"{where}: unsupported matrix dtype {data.get('dtype')!r}")

        def get(name: str, kind: type | tuple[type, ...]) -> object:
            value = data.get(name)
            if isinstance(value, bool) or not isinstance(value, kind):
                raise LibraryError(f"{where}: field {name!r} is missing or invalid ({value!r})")
            return value

        channels = get("channels", list)
        if not channels or not all(isinstance(c, str) and c and "/" not in c for c in channels):
            raise LibraryError(f"{where}: field 'channels' must list channel names")
        dim = int(get("dim", int))
        if dim < 1:
            raise LibraryError(f"{where}: field 'dim' must be positive, got {dim}")
        chunk_seconds = float(get("chunk_seconds", (int, float)))
        sample_rate = int(get("sample_rate", int))
        if not chunk_seconds > 0 or sample_rate <= 0:
            raise LibraryError(f"{where}: chunk_seconds and sample_rate must be positive")
        sha = str(get("model_sha256", str))
        rendering = data.get("composition_rendering")
        if rendering is not None:
            rendering = _known_rendering(rendering, where)
        output = data.get("output_function")
        if output is not None:
            output = _known_output_function(output, where)
        return cls(
            library_id=str(get("library_id", str)),
            model_name=str(get("model_name", str)),
            model_sha256=sha,
            projection_seed=int(get("projection_seed", int)),
            projection_blocks=int(get("projection_blocks", int)),
            dim=dim,
            chunk_seconds=chunk_seconds,
            sample_rate=sample_rate,
            channels=tuple(channels),
            software_version=str(data.get("software_version", "")),
            created=str(data.get("created", "")),
            model_spec=str(data.get("model_spec", "") or ""),
            format_version=int(version),
            composition_rendering=rendering,
            output_function=output,
        )

    def check_compatible(self, params: Mapping[str, object], what: str = "the fingerprints",
                         library: str = "the library") -> None:
        """Refuse fingerprints made with another model or projection.

        Parameters
        ----------
        params : mapping
            At least the :data:`IDENTITY_FIELDS` (``channels`` may be omitted), e.g.
            :meth:`lumina.fingerprint.Fingerprint.parameters` or
            :func:`identity_of_fingerprinter`.
        what, library : str
            How to name both sides in the message.

        Raises
        ------
        LibraryError
            Naming the first mismatched field, in one line.
        """
        mine = self.identity()
        for name in IDENTITY_FIELDS:
            if name in OPTIONAL_IDENTITY_FIELDS:
                theirs, ours = params.get(name), mine.get(name)
                if theirs != ours:
                    kind, words, plural = _OPTIONAL_FIELD_WORDS[name]
                    raise LibraryError(
                        f"{library} has {kind} of {words(ours)}, {what} of "  # type: ignore[operator]
                        f"{words(theirs)}; fingerprints of different {plural} cannot be "  # type: ignore[operator]
                        "compared")
                continue
            if name not in params:
                if name == "channels":
                    continue
                raise LibraryError(
                    f"{what} do not state {name}; cannot check them against {library}")
            theirs = params[name]
            ours = mine[name]
            if name == "channels":
                same = list(theirs) == list(ours)  # type: ignore[call-overload]
            elif name == "chunk_seconds":
                same = float(theirs) == float(ours)  # type: ignore[arg-type]
            else:
                same = theirs == ours
            if not same:
                if name == "model_sha256":
                    model = params.get("model_name", "?")
                    raise LibraryError(
                        f"{library} was built with another model: model_sha256 "
                        f"{str(ours)[:12]}… ({self.model_name}) vs {str(theirs)[:12]}… ({model}) "
                        f"for {what}; fingerprints of different models cannot be compared"
                    )
                raise LibraryError(
                    f"{library} was built with {name}={ours!r}, {what} use {name}={theirs!r}; "
                    "fingerprints with different settings cannot be compared"
                )


def _known_rendering(value: object, where: str) -> str:
    """The ``name/version`` of a rendering this LUMINA can make; else a one-line error."""
    known = {r.id for r in RENDERINGS.values()}
    if not isinstance(value, str) or value not in known:
        raise LibraryError(
            f"{where}: composition rendering {value!r} is not one this LUMINA knows "
            f"({', '.join(sorted(known))})")
    return value


def _known_output_function(value: object, where: str) -> str:
    """The ``name/version`` of an output function this LUMINA can compute (not the paper's
    loss, which a manifest records by leaving the field out); else a one-line error."""
    known = {f.recorded for f in OUTPUT_FUNCTIONS.values()} - {None}
    if not isinstance(value, str) or value not in known:
        raise LibraryError(
            f"{where}: output function {value!r} is not one this LUMINA knows "
            f"({', '.join(sorted(known))})")  # type: ignore[arg-type]
    return value


def output_function_for(manifest: Manifest | None, requested: str | None = None
                        ) -> str | None:
    """The output function (``name/version``, None: the paper's loss) to fingerprint with
    for a library.

    Parameters
    ----------
    manifest : the library's, or None for a library about to be created.
    requested : an output function name (``tempered``, ``loss`` for the paper's), or None:
        the library's, or :data:`~lumina.fingerprint.output.DEFAULT_OUTPUT_FUNCTION` for a
        new library.

    Raises
    ------
    LibraryError
        Unknown name, or another function than the library's (one line).
    """
    if requested is None:
        if manifest is not None:
            return manifest.output_function
        requested = DEFAULT_OUTPUT_FUNCTION
    try:
        wanted = output_function_id(requested)
    except ValueError as exc:
        raise LibraryError(str(exc)) from None
    if manifest is not None and wanted != manifest.output_function:
        raise LibraryError(
            f"the library's fingerprints are gradients of "
            f"{output_function_words(manifest.output_function)}, not of "
            f"{output_function_words(wanted)}; index into a new library to use another")
    return wanted


#: What ``--composition-rendering`` calls the paper's mode (no rendering).
PLAIN_RENDERING = "plain"
#: The composition rendering of a new library when none is asked for, as
#: ``--composition-rendering`` takes it: a rendering name or :data:`PLAIN_RENDERING`.
DEFAULT_COMPOSITION_RENDERING = "shepard"


def composition_rendering_for(manifest: Manifest | None, requested: str | None = None
                              ) -> str | None:
    """The composition rendering (``name/version``, None: the audio itself) to fingerprint
    with for a library.

    Parameters
    ----------
    manifest : the library's, or None for a library about to be created.
    requested : a rendering name (``shepard-onsets`` …), ``"plain"`` for the paper's mode,
        or None: the library's rendering, or :data:`DEFAULT_COMPOSITION_RENDERING` for a new
        library.

    Raises
    ------
    LibraryError
        Unknown rendering, or one other than the library's (one line).
    """
    if requested is None:
        if manifest is not None:
            return manifest.composition_rendering
        requested = DEFAULT_COMPOSITION_RENDERING
    if requested == PLAIN_RENDERING:
        wanted = None
    else:
        try:
            wanted = rendering_id(requested)
        except ValueError as exc:
            raise LibraryError(f"{exc}, or {PLAIN_RENDERING!r} for the audio itself") from None
    if manifest is not None and wanted != manifest.composition_rendering:
        raise LibraryError(
            f"the library's composition fingerprints are of "
            f"{rendering_words(manifest.composition_rendering)}, not of "
            f"{rendering_words(wanted)}; index into a new library to use another rendering")
    return wanted


def read_manifest(folder: Path) -> Manifest:
    path = folder / MANIFEST_NAME
    if not folder.exists():
        raise LibraryError(f"library not found: {folder}")
    if not folder.is_dir():
        raise LibraryError(f"{folder}: a library is a folder, not a file")
    if not path.is_file():
        raise LibraryError(f"{folder}: not a LUMINA library (no {MANIFEST_NAME})")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LibraryError(f"{folder.name}/{MANIFEST_NAME} is unreadable: {exc}") from None
    return Manifest.from_json(data, f"{folder.name}/{MANIFEST_NAME}")

