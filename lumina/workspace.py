"""A library paired with a fingerprinter it accepts: the one place that opens or creates a
library for a model and refuses an empty or mismatched one.

The CLI, the analysis façade, the audit, the Ray driver, the demo and the app all get their
(library, fingerprinter) pair from here, so "which model does this library need, and is this
fingerprinter allowed to query it" is decided once. Models load lazily: a refusal that the
manifest alone can decide (an empty library, a rendering the library was not built with)
happens before any model is loaded.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from lumina.fingerprint.identity import (
    FingerprinterLike,
    ModelLike,
    identity_of_fingerprinter,
    model_spec_for_manifest,
)
from lumina.library import (
    DEFAULT_COMPOSITION_RENDERING,
    MANIFEST_NAME,
    PLAIN_RENDERING,
    Library,
    LibraryError,
    composition_rendering_for,
    loudness_for,
    output_function_for,
)

if TYPE_CHECKING:
    from lumina.fingerprint.fingerprinter import Fingerprinter
    from lumina.indexing import IndexSummary
    from lumina.library import Manifest
    from lumina.models.musicgen import MusicGenModel

__all__ = [
    "FingerprinterLike",
    "ModelLike",
    "Workspace",
    "fingerprinter_for",
    "identity_of_fingerprinter",
    "model_spec_for_manifest",
    "read_manifest_if_any",
    "refuse_empty",
]


def fingerprinter_for(library: Library, *,
                      model: MusicGenModel | str | os.PathLike[str] | None = None,
                      device: str | None = None, batch_size: int | None = None) -> Fingerprinter:
    """A :class:`~lumina.fingerprint.fingerprinter.Fingerprinter` whose fingerprints this
    library accepts.

    The model is ``model`` (a loaded model, or a name or folder to load) or else the one
    recorded in the manifest (else the embedded default); projection, chunking, the
    composition rendering, the output function and the loudness normalisation come from the
    manifest.

    Raises
    ------
    LibraryError
        The model's weights differ from those the library was built with.
    ModelError
        The model cannot be loaded.
    """
    from lumina.fingerprint.fingerprinter import Fingerprinter
    from lumina.models import DEFAULT_MODEL, load_model

    mf = library.manifest
    loaded = (load_model(model if model is not None else (mf.model_spec or DEFAULT_MODEL))
              if model is None or isinstance(model, str | os.PathLike) else model)
    sha = loaded.weights_sha256
    if sha != mf.model_sha256:
        raise LibraryError(
            f"library {library.name} was built with another model: model_sha256 "
            f"{mf.model_sha256[:12]}… ({mf.model_name}) vs {sha[:12]}… "
            f"({loaded.name}); pass the library's model with --model")
    return Fingerprinter(loaded, device=device, batch_size=batch_size, dim=mf.dim,
                         seed=mf.projection_seed, chunk_seconds=mf.chunk_seconds,
                         blocks=mf.projection_blocks,
                         composition_rendering=mf.composition_rendering,
                         output_function=mf.output_function, loudness=mf.loudness)


def refuse_empty(library: Library) -> None:
    """Raise the one-line error for a library with no songs to attribute against."""
    if len(library) == 0:
        raise LibraryError(
            f"library {library.name} is empty: index songs first "
            f"(lumina index FOLDER --library {library.path})")


class Workspace:
    """An open library and a fingerprinter it accepts.

    Make one with :meth:`open` (to query a library) or :meth:`open_or_create` (to index into
    one); close it (or use it as a context manager) to close the library. A workspace made
    around a ``Library`` the caller opened leaves that library open.

    Attributes
    ----------
    library : Library
    fingerprinter : Fingerprinter
        Accepted by ``library`` (identity checked when the workspace was made).
    model_spec : str
        The model as the manifest records it (a name or an absolute folder).
    """

    def __init__(self, library: Library, fingerprinter: Fingerprinter, *,
                 owns_library: bool = True, model_spec: str = "") -> None:
        library.manifest.check_compatible(identity_of_fingerprinter(fingerprinter),
                                          "this model", f"library {library.name}")
        self.library = library
        self.fingerprinter = fingerprinter
        self.model_spec = model_spec or library.manifest.model_spec
        self._owns_library = owns_library

    @classmethod
    def open(cls, library: Library | str | os.PathLike[str], *,
             fingerprinter: Fingerprinter | None = None,
             model: MusicGenModel | str | os.PathLike[str] | None = None,
             device: str | None = None, batch_size: int | None = None,
             require_songs: bool = True) -> Workspace:
        """Open a library to query it.

        Parameters
        ----------
        library : an open Library (left open on close) or the path of a library folder.
        fingerprinter : reuse this one (the app keeps one per library); checked.
        model, device, batch_size : build the fingerprinter from ``model`` (else the
            manifest's model) when none is given.
        require_songs : refuse an empty library (before any model is loaded).

        Raises
        ------
        LibraryError
            No library there, an empty one, or a model or projection other than the
            library's.
        ModelError
            The model cannot be loaded.
        """
        owned = not isinstance(library, Library)
        lib = library if isinstance(library, Library) else Library.open(Path(library).expanduser())
        try:
            if require_songs:
                refuse_empty(lib)
            if fingerprinter is None:
                fingerprinter = fingerprinter_for(lib, model=model, device=device,
                                                  batch_size=batch_size)
            return cls(lib, fingerprinter, owns_library=owned)
        except BaseException:
            if owned:
                lib.close()
            raise

    @classmethod
    def open_or_create(cls, path: str | os.PathLike[str], *,
                       model: str | os.PathLike[str] | None = None,
                       loaded_model: MusicGenModel | None = None,
                       device: str | None = None, batch_size: int | None = None,
                       composition_rendering: str | None = None,
                       output_function: str | None = None,
                       loudness: str | None = None) -> Workspace:
        """Open the library at ``path`` to index into it, or create it for a model.

        Parameters
        ----------
        path : library folder (created when it holds no library).
        model : ``--model``: a name or folder; None: the manifest's model (a new library:
            the embedded default).
        loaded_model : the model ``model`` names, already loaded (the app's cache).
        composition_rendering : a rendering name, ``"plain"`` or None: the library's, or the
            default for a new library. Refused before the model loads when the library was
            built with another.
        output_function : an output function name (``tempered``, ``loss``) or None: the
            library's, or the default for a new library; refused like a rendering.
        loudness : a loudness normalisation name (``rms``, ``none``) or None: the library's, or
            the default for a new library; refused like a rendering.

        Raises
        ------
        LibraryError, ModelError
        """
        from lumina.fingerprint.fingerprinter import Fingerprinter
        from lumina.models import DEFAULT_MODEL, load_model

        folder = Path(path).expanduser()
        manifest = read_manifest_if_any(folder)
        rendering = composition_rendering_for(manifest, composition_rendering)
        output = output_function_for(manifest, output_function)
        loudness = loudness_for(manifest, loudness)
        spec = model or (manifest.model_spec if manifest is not None else None) or DEFAULT_MODEL
        spec = str(spec)
        loaded = loaded_model if loaded_model is not None else load_model(spec)
        fingerprinter = Fingerprinter(loaded, device=device, batch_size=batch_size,
                                      composition_rendering=rendering,
                                      output_function=output, loudness=loudness)
        recorded = model_spec_for_manifest(spec)
        lib = Library.open_or_create(folder, identity_of_fingerprinter(fingerprinter),
                                     model_spec=recorded)
        try:
            return cls(lib, fingerprinter, model_spec=recorded)
        except BaseException:
            lib.close()
            raise

    def close(self) -> None:
        if self._owns_library:
            self.library.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_manifest_if_any(folder: Path) -> Manifest | None:
    """The manifest of the library in ``folder`` (opened, so checked), or None when there
    is no library there yet."""
    if not (folder / MANIFEST_NAME).exists():
        return None
    return library_manifest(folder)


# -- what the desktop app reaches the engine through ---------------------------------------
# The app (``lumina_app``) imports the engine only through façade modules; these small
# functions give it the rest (model loading, the device probe, the renderings, indexing)
# without importing the modules behind them. Heavy imports (torch) stay inside the functions.

__all__ += [
    "DEFAULT_COMPOSITION_RENDERING",
    "PLAIN_RENDERING",
    "IndexEventLike",
    "available_renderings",
    "compute_device_label",
    "default_model",
    "find_audio_files",
    "index_into",
    "library_info",
    "library_manifest",
    "load_model",
]


class IndexEventLike(Protocol):
    """What an indexing run reports per file (:class:`lumina.indexing.IndexEvent`)."""

    kind: str
    message: str


def default_model() -> str:
    """The embedded model's name (:data:`lumina.models.DEFAULT_MODEL`)."""
    from lumina.models import DEFAULT_MODEL

    return DEFAULT_MODEL


def load_model(spec: str | os.PathLike[str]) -> MusicGenModel:
    """Load a model by name or folder (:func:`lumina.models.load_model`).

    Raises
    ------
    ModelError
        The model cannot be loaded (one line).
    """
    from lumina.models import load_model as load

    return load(spec)


def compute_device_label(choice: str | None = None) -> str:
    """The name of the compute device ``choice`` resolves to (None: automatic, CUDA when
    present). Imports torch."""
    from lumina.fingerprint.fingerprinter import choose_device, device_label

    return device_label(choose_device(choice))


def available_renderings() -> dict[str, str]:
    """Each timbre-neutral composition rendering's name and one-line description."""
    from lumina.fingerprint.rendering import RENDERINGS

    return {name: rendering.description for name, rendering in RENDERINGS.items()}


def library_manifest(path: str | os.PathLike[str]) -> Manifest:
    """The manifest of the library at ``path`` (opened, so checked).

    Raises
    ------
    LibraryError
        No library there, or an unreadable one.
    """
    with Library.open(Path(path).expanduser()) as lib:
        return lib.manifest


def library_info(path: str | os.PathLike[str]) -> dict[str, object]:
    """Manifest, counters and sizes of the library at ``path`` (``lumina library info``).

    Raises
    ------
    LibraryError
        No library there, or an unreadable one.
    """
    with Library.open(Path(path).expanduser()) as lib:
        return lib.info()


def find_audio_files(inputs: Iterable[str | os.PathLike[str]]) -> tuple[list[Path], list[str]]:
    """The audio files under ``inputs`` (files and folders) and a one-line message per
    input that is missing."""
    from lumina.indexing import collect_audio_files

    return collect_audio_files(inputs)


def index_into(workspace: Workspace, files: Sequence[str | os.PathLike[str]], *,
               progress: Callable[[int, int], None] | None = None,
               report: Callable[[IndexEventLike], None] | None = None,
               cancel: threading.Event | None = None) -> IndexSummary:
    """Index ``files`` into the workspace's library with its fingerprinter; resumable like
    ``lumina index`` (files already indexed are skipped)."""
    from lumina.indexing import index_files

    with workspace.library.writer() as writer:
        return index_files(writer, files, workspace.fingerprinter, progress=progress,
                           report=report, cancel=cancel)
