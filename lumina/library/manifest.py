"""The identity of a library (``manifest.json``): which model, projection and chunking made
its fingerprints, which composition rendering, output function and loudness normalisation; read
once, written once at creation."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lumina import __version__
from lumina.fingerprint.loudness import (
    DEFAULT_LOUDNESS,
    LOUDNESSES,
    loudness_id,
    loudness_words,
)
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
    "loudness_for",
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
    "loudness",
)
#: Identity fields a paper-mode library leaves out (absent = None), so its manifest and
#: digest are those of a library made before the field existed.
OPTIONAL_IDENTITY_FIELDS = ("composition_rendering", "output_function", "loudness")
#: What ``--composition-rendering`` calls the paper's mode (no rendering).
PLAIN_RENDERING = "plain"
#: The composition rendering of a new library when none is asked for, as
#: ``--composition-rendering`` takes it: a rendering name or :data:`PLAIN_RENDERING`.
DEFAULT_COMPOSITION_RENDERING = "shepard"


@dataclass(frozen=True)
class _OptionalField:
    """How one optional identity field is chosen, checked and named in messages.

    ``to_id`` turns what a user asks for into what manifests record (None: the paper's
    mode) or raises ValueError; ``known`` lists the recorded values this LUMINA can make.
    """

    label: str  # "composition rendering": the field in a manifest error
    kind: str  # "composition fingerprints": what the field describes
    relation: str  # "" or "gradients ": "the library's <kind> are <relation>of …"
    plural: str  # "renderings": what differs when fingerprints cannot be compared
    another: str  # " rendering": "… to use another<another>"
    unknown_hint: str  # appended to an unknown name's message
    default: str
    words: Callable[[str | None], str]
    to_id: Callable[[str], str | None]
    known: Callable[[], set[str]]


_OPTIONAL_FIELDS = {
    "composition_rendering": _OptionalField(
        label="composition rendering", kind="composition fingerprints", relation="",
        plural="renderings", another=" rendering",
        unknown_hint=f", or {PLAIN_RENDERING!r} for the audio itself",
        default=DEFAULT_COMPOSITION_RENDERING, words=rendering_words,
        to_id=lambda name: None if name == PLAIN_RENDERING else rendering_id(name),
        known=lambda: {r.id for r in RENDERINGS.values()}),
    "output_function": _OptionalField(
        label="output function", kind="fingerprints", relation="gradients ",
        plural="output functions", another="", unknown_hint="",
        default=DEFAULT_OUTPUT_FUNCTION, words=output_function_words,
        to_id=output_function_id,
        # the paper's loss is recorded by leaving the field out
        known=lambda: {f.recorded for f in OUTPUT_FUNCTIONS.values()} - {None}),  # type: ignore[return-value]
    "loudness": _OptionalField(
        label="loudness normalisation", kind="fingerprints", relation="",
        plural="loudness normalisations", another=" loudness normalisation",
        unknown_hint="",  # the known names include "none"
        default=DEFAULT_LOUDNESS, words=loudness_words, to_id=loudness_id,
        # no normalisation is recorded by leaving the field out
        known=lambda: {lv.recorded for lv in LOUDNESSES.values()} - {None}),  # type: ignore[return-value]
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
    loudness : str or None
        ``name/version`` of the loudness normalisation the audio got before the codec
        (:mod:`lumina.fingerprint.loudness`); None: none (every library made before the field
        existed). Queries must use the same.
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
    loudness: str | None = None

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
            **({} if self.loudness is None else {"loudness": self.loudness}),
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
        optional = {name: _known(name, data.get(name), where) for name in _OPTIONAL_FIELDS}
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
            **optional,  # type: ignore[arg-type]
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
                    field = _OPTIONAL_FIELDS[name]
                    raise LibraryError(
                        f"{library} has {field.kind} of {field.words(ours)}, "  # type: ignore[arg-type]
                        f"{what} of {field.words(theirs)}; "  # type: ignore[arg-type]
                        f"fingerprints of different {field.plural} cannot be compared")
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


def _known(name: str, value: object, where: str) -> str | None:
    """``value`` of an optional identity field read from a manifest: None (absent), or a
    ``name/version`` this LUMINA can make; else a one-line error."""
    if value is None:
        return None
    field = _OPTIONAL_FIELDS[name]
    known = field.known()
    if not isinstance(value, str) or value not in known:
        raise LibraryError(
            f"{where}: {field.label} {value!r} is not one this LUMINA knows "
            f"({', '.join(sorted(known))})")
    return value


def _for_library(name: str, manifest: Manifest | None, requested: str | None) -> str | None:
    """What :func:`composition_rendering_for`, :func:`output_function_for` and
    :func:`loudness_for` decide for the optional identity field ``name``."""
    field = _OPTIONAL_FIELDS[name]
    recorded = None if manifest is None else getattr(manifest, name)
    if requested is None:
        if manifest is not None:
            return recorded
        requested = field.default
    try:
        wanted = field.to_id(requested)
    except ValueError as exc:
        raise LibraryError(f"{exc}{field.unknown_hint}") from None
    if manifest is not None and wanted != recorded:
        raise LibraryError(
            f"the library's {field.kind} are {field.relation}of {field.words(recorded)}, not "
            f"of {field.words(wanted)}; index into a new library to use another{field.another}")
    return wanted


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
    return _for_library("output_function", manifest, requested)


def loudness_for(manifest: Manifest | None, requested: str | None = None) -> str | None:
    """The loudness normalisation (``name/version``, None: none) to fingerprint with for a
    library.

    Parameters
    ----------
    manifest : the library's, or None for a library about to be created.
    requested : a loudness normalisation name (``rms``, ``none`` for the audio's own loudness), or
        None: the library's, or :data:`~lumina.fingerprint.loudness.DEFAULT_LOUDNESS` for a new
        library.

    Raises
    ------
    LibraryError
        Unknown name, or another normalisation than the library's (one line).
    """
    return _for_library("loudness", manifest, requested)


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
    return _for_library("composition_rendering", manifest, requested)


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

