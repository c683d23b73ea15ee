"""Catalog indexing on a Ray cluster: ``lumina index … --library LIB --ray [ADDRESS]``.

Fingerprinting is the expensive step of indexing (one forward and backward pass of MusicGen
per 10 s of audio), so it is spread over Ray actors, each holding one copy of the model on
one GPU (or one CPU slot). The driver — the process running ``lumina index`` — stays the
library's only writer:

* it lists the files and hashes them (a few threads, ahead of the workers), and skips audio
  already in the library or seen earlier in the run, exactly as a local run does
  (:class:`lumina.indexing.IndexRun`);
* it hands each remaining file to an actor: the actor reads the file from a path every node
  sees (or, with ``ship_audio``, from bytes the driver sends), reads its tags, decodes and
  fingerprints the whole song (:func:`lumina.indexing.fingerprint_for_index`, the code of a
  local run) and returns the fingerprints and metadata — never audio;
* it commits the songs **in file order**, one transaction each, through the library's
  writer. A song finished early waits (a few kilobytes) until the songs before it are done,
  so the library's rows, ids and digest are the ones a local run over the same files gives.

Faults: a song whose actor dies (process killed, node lost) is re-run on another actor and
the actor is replaced; a song that fails three times (decode error, crash …) is reported and
skipped. A driver killed with ``kill -9`` leaves a library that verifies (the writer's
crash-safety rules); running the same command again skips what was committed and does the
rest. Ray is an optional dependency (``pip install 'lumina-attribution[cluster]'``) and is
only imported by the functions here, never by ``import lumina``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from lumina.errors import LuminaError, one_line
from lumina.indexing.local import IndexEvent
from lumina.indexing.ray_driver import ClusterDriver
from lumina.indexing.ray_status import ClusterStatus, ClusterSummary, WorkerInfo
from lumina.indexing.ray_worker import IndexWorker

__all__ = [
    "INSTALL_HINT",
    "MAX_ATTEMPTS",
    "ClusterStatus",
    "ClusterSummary",
    "IndexWorker",
    "WorkerInfo",
    "import_ray",
    "index_on_ray",
]

INSTALL_HINT = "pip install 'lumina-attribution[cluster]'"
#: A file is tried at most this many times (errors and dead workers alike).
MAX_ATTEMPTS = 3


def import_ray():
    """The ``ray`` module, or a one-line :class:`LuminaError` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise LuminaError(f"--ray needs Ray, which is not installed: {INSTALL_HINT}") from None
    return ray



def check_reachable(address: str, timeout: float = 10.0) -> None:
    """Fail in one line when HOST:PORT does not answer: Ray itself retries for minutes."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or "://" in address:
        return  # "auto", "ray://…": left to Ray
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise LuminaError(f"cannot reach Ray at {address}: {exc.strerror or one_line(exc)} "
                          "(is 'ray start --head' running there?)") from None


def connect_ray(ray, address: str | None) -> bool:
    """Connect to (or start) Ray; True when this call started it (and must shut it down)."""
    if ray.is_initialized():
        return False
    debug = bool(os.environ.get("LUMINA_DEBUG"))
    kwargs: dict[str, object] = {
        "logging_level": logging.INFO if debug else logging.ERROR,
        "log_to_driver": debug,
    }
    target = address or "local"
    if target == "local":
        kwargs["include_dashboard"] = False
    else:
        check_reachable(target)
    try:
        ray.init(address=target, **kwargs)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = "start a local Ray instance" if target == "local" else f"reach Ray at {target}"
        hint = "" if target == "local" else " (is 'ray start --head' running there?)"
        raise LuminaError(f"cannot {where}: {one_line(exc)}{hint}") from None
    return True


def index_on_ray(library_path: str | os.PathLike[str], paths: Sequence[str | os.PathLike[str]],
                 *, model: str | None = None, address: str | None = None,
                 composition_rendering: str | None = None,
                 output_function: str | None = None, loudness: str | None = None,
                 ship_audio: bool = False,
                 device: str | None = None, batch_size: int | None = None,
                 workers: int | None = None, cpus_per_worker: int = 1,
                 max_attempts: int = MAX_ATTEMPTS,
                 progress: Callable[[ClusterStatus], None] | None = None,
                 report: Callable[[IndexEvent], None] | None = None,
                 say: Callable[[str], None] | None = None,
                 cancel: threading.Event | Callable[[], bool] | None = None,
                 window: int | None = None, hash_on: str | None = None) -> ClusterSummary:
    """Index audio files into a library (created if needed), fingerprinting on Ray actors.

    Parameters
    ----------
    library_path : the library folder.
    paths : audio files (see :func:`lumina.indexing.collect_audio_files`), in commit order.
    model : ``lumina-tiny`` or a model folder every node sees at this path (default: the
        library's model, else lumina-tiny).
    composition_rendering : a rendering name or ``"plain"`` (see
        :func:`lumina.library.composition_rendering_for`); None: the library's, or the
        default for a new library. Another rendering than an existing library's is refused.
    output_function : ``tempered``, ``loss`` … (see :func:`lumina.library.output_function_for`);
        None: the library's, or the default for a new library; refused like a rendering.
    loudness : ``rms``, ``none`` (see :func:`lumina.library.loudness_for`); None: the library's, or
        the default for a new library; refused like a rendering.
    address : ``None`` or ``"local"`` starts a local Ray instance; ``"auto"`` joins the
        cluster started on this machine with ``ray start``; ``"HOST:PORT"`` joins that one.
        When Ray is already initialised in this process, that connection is used.
    ship_audio : send each file's bytes from the driver instead of letting the workers read
        it (for files only the driver sees).
    device : ``cuda`` or ``cpu`` for the workers (default: one actor per GPU when the
        cluster has GPUs, otherwise one per ``cpus_per_worker`` CPU slots).
    workers : number of actors (default: as many as the cluster has GPUs / CPU slots).
    cpus_per_worker : CPU slots (and torch threads) per CPU actor.
    max_attempts : tries per file before it is reported as failed.
    progress : called with a :class:`ClusterStatus` after every commit and every second.
    report : called with every :class:`~lumina.indexing.IndexEvent`, as in ``index_files``.
    say : called with one-line notes (workers started, workers lost …).
    cancel : stop dispatching and return (what was committed stays).
    window : how many files past the oldest unfinished one may be in the works (default
        max(256, 32 per worker)); results wait in the driver until they can be committed
        in order.
    hash_on : ``"driver"`` (threads of this process) or ``"cluster"`` (Ray tasks spread
        over the nodes, so the driver does not read every byte of the catalog). Either
        way the driver decides what to skip, in file order. Default: the driver when it
        ships the audio anyway or the cluster has one node, else the cluster.

    Returns
    -------
    ClusterSummary

    Raises
    ------
    LuminaError
        Ray is missing or unreachable, no worker could load the model, every worker died,
        or the library refuses the workers' model.
    """
    ray = import_ray()
    from lumina.fingerprint.identity import model_spec_for_manifest
    from lumina.library import (
        MANIFEST_NAME,
        Library,
        composition_rendering_for,
        loudness_for,
        output_function_for,
    )
    from lumina.models import DEFAULT_MODEL

    files = [Path(p) for p in paths]
    lib_path = Path(library_path).expanduser()
    notes = say or (lambda line: None)
    lib = writer = None
    if (lib_path / MANIFEST_NAME).exists():
        lib = Library.open(lib_path)
        mf = lib.manifest
        try:
            rendering = composition_rendering_for(mf, composition_rendering)
            output = output_function_for(mf, output_function)
            normalisation = loudness_for(mf, loudness)
            writer = lib.writer()  # the lock first: a busy library fails before Ray starts
        except BaseException:
            lib.close()
            raise
        spec = model or mf.model_spec or DEFAULT_MODEL
        projection: dict = {"dim": mf.dim, "seed": mf.projection_seed,
                            "blocks": mf.projection_blocks,
                            "chunk_seconds": mf.chunk_seconds,
                            "composition_rendering": rendering,
                            "output_function": output,
                            "loudness": normalisation}
    else:
        spec = model or DEFAULT_MODEL
        projection = {
            "composition_rendering": composition_rendering_for(None, composition_rendering),
            "output_function": output_function_for(None, output_function),
            "loudness": loudness_for(None, loudness)}
    spec = model_spec_for_manifest(spec)  # workers on other nodes have other working folders
    started_ray = False
    driver = None
    try:
        started_ray = connect_ray(ray, address)
        driver = ClusterDriver(ray, lib_path, lib, writer, files, spec=spec, projection=projection,
                         ship_audio=ship_audio, device=device, batch_size=batch_size,
                         workers=workers, cpus_per_worker=cpus_per_worker,
                         max_attempts=max_attempts, progress=progress, report=report,
                         say=notes, cancel=cancel, window=window, hash_on=hash_on)
        return driver.run()
    finally:
        if driver is not None:
            driver.stop_workers()
            lib, writer = driver.lib, driver.writer
        if writer is not None:
            writer.close()
        if lib is not None:
            lib.close()
        if started_ray:
            with contextlib.suppress(Exception):
                ray.shutdown()
