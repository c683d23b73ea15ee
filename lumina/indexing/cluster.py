"""Catalog indexing on a Ray cluster: ``lumina index … --library LIB --ray [ADDRESS]``.

Fingerprinting is the expensive step of indexing (one forward and backward pass of MusicGen
per 10 s of audio), so it is spread over Ray actors, each holding one copy of the model on
one GPU (or one CPU slot). The driver — the process running ``lumina index`` — stays the
library's only writer:

* it lists the files and hashes them (a few threads, ahead of the workers), and skips audio
  already in the library or seen earlier in the run, exactly as a local run does
  (:class:`lumina.library.IndexRun`);
* it hands each remaining file to an actor: the actor reads the file from a path every node
  sees (or, with ``ship_audio``, from bytes the driver sends), reads its tags, decodes and
  fingerprints the whole song (:func:`lumina.library.fingerprint_for_index`, the code of a
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
import dataclasses
import hashlib
import heapq
import logging
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from lumina.errors import LuminaError, one_line
from lumina.library import IndexEvent, IndexRun, IndexSummary, _Prepared
from lumina.progress import ProgressClock, format_seconds

__all__ = [
    "INSTALL_HINT",
    "ClusterStatus",
    "ClusterSummary",
    "IndexWorker",
    "WorkerInfo",
    "StatusLine",
    "index_on_ray",
]

INSTALL_HINT = "pip install 'lumina-attribution[cluster]'"
#: A file is tried at most this many times (errors and dead workers alike).
MAX_ATTEMPTS = 3
#: Songs handed to one actor at a time: one fingerprinting while the next one decodes.
_PER_WORKER = 2
#: Threads hashing files on the driver, ahead of the workers (hashlib releases the GIL).
_HASH_THREADS = 8
#: How long to wait for a worker to load the model (with none ready) before giving up.
_STARTUP_TIMEOUT = 900.0
#: Songs settled in order are committed together, up to this many per transaction: with many
#: workers the driver's fsyncs would otherwise limit throughput (one song, one transaction
#: when results arrive one by one, as in a local run).
_COMMIT_BATCH = 64


def import_ray():
    """The ``ray`` module, or a one-line :class:`LuminaError` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise LuminaError(f"--ray needs Ray, which is not installed: {INSTALL_HINT}") from None
    return ray


# --------------------------------------------------------------------------- the actor


class IndexWorker:
    """What one Ray actor runs: the model loaded once, whole songs in, fingerprints out.

    Made a Ray actor by :func:`index_on_ray` (``ray.remote(IndexWorker)``) with
    ``max_concurrency=2``: of the two songs an actor holds, one decodes while the other is
    fingerprinted (a lock keeps the model to one song at a time).

    Parameters
    ----------
    model_spec : ``lumina-tiny`` or a model folder at a path this node sees.
    projection : the library's ``dim``, ``seed``, ``blocks``, ``chunk_seconds`` and
        ``composition_rendering``; for a library that does not exist yet only the rendering
        (the rest are the defaults).
    device : ``cuda`` (the GPU Ray assigned), ``cpu`` …
    batch_size : chunks per forward pass.
    threads : torch CPU threads (the actor's CPU slots).
    """

    def __init__(self, model_spec: str, projection: dict | None, device: str | None,
                 batch_size: int, threads: int) -> None:
        self._error = ""
        self._fingerprinter = None
        self._lock = threading.Lock()
        self._tmp = tempfile.mkdtemp(prefix="lumina-ray-")
        self._device = ""
        try:
            import torch

            torch.set_num_threads(max(1, int(threads)))
            from lumina.fingerprint.fingerprinter import Fingerprinter, device_label
            from lumina.models import load_model

            model = load_model(model_spec)
            self._fingerprinter = Fingerprinter(model, device=device, batch_size=batch_size,
                                                **(projection or {}))
            self._device = device_label(self._fingerprinter.device)
        except LuminaError as exc:
            self._error = one_line(exc)
        except Exception as exc:  # reported to the driver as one line, the actor stays up
            self._error = f"{type(exc).__name__}: {one_line(exc)}"

    def ready(self) -> dict:
        """Who this worker is, and the identity of its fingerprints (or why it has none)."""
        from lumina.workspace import identity_of_fingerprinter

        out = {"pid": os.getpid(), "host": socket.gethostname(), "device": self._device,
               "error": self._error, "identity": None}
        if self._fingerprinter is not None:
            out["identity"] = identity_of_fingerprinter(self._fingerprinter)
        return out

    def index(self, path: str, name: str, data: bytes | None = None) -> dict:
        """Fingerprint one song: ``path`` as every node sees it, or ``data`` (its bytes,
        stored as ``name`` in a private temp folder while it is read)."""
        from lumina.library import fingerprint_for_index

        t0 = time.monotonic()
        if self._fingerprinter is None:
            return {"error": f"{name}: the worker has no model ({self._error})"}
        folder = None
        try:
            if data is not None:
                folder = Path(self._tmp) / uuid.uuid4().hex
                folder.mkdir()
                target = folder / name
                target.write_bytes(data)
                del data
            else:
                target = Path(path)
            item, fp = fingerprint_for_index(self._fingerprinter, target, model_lock=self._lock)
        finally:
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
        return {"error": item.error, "sha256": item.sha256, "meta": item.meta,
                "warnings": list(item.warnings), "fp": fp, "seconds": time.monotonic() - t0}

    def __del__(self) -> None:  # pragma: no cover - best effort
        with contextlib.suppress(Exception):
            shutil.rmtree(self._tmp, ignore_errors=True)


# --------------------------------------------------------------------------- status


@dataclass(frozen=True)
class WorkerInfo:
    """One actor as the driver sees it: ``state`` is ``starting``, ``ready`` or ``gone``."""

    number: int
    state: str
    pid: int
    host: str
    device: str
    busy: int
    songs: int


@dataclass(frozen=True)
class ClusterStatus:
    """One reading of a cluster run, given to the ``progress`` callback.

    ``done`` counts files settled and committed in order (indexed, skipped or failed) out of
    ``total``; ``songs_per_hour`` is the rate of songs fingerprinted and committed, ``eta``
    the time left at that rate (None until the first song).
    """

    done: int
    total: int
    indexed: int
    skipped: int
    failed: int
    retries: int
    in_flight: int
    workers: tuple[WorkerInfo, ...]
    workers_lost: int
    elapsed: float
    songs_per_hour: float | None
    eta: float | None

    @property
    def ready_workers(self) -> int:
        return sum(1 for w in self.workers if w.state == "ready")

    def describe(self) -> str:
        """E.g. ``"120/1000 songs · 2 workers · 5012 songs/h · 1 failed · 1 min 26 s
        elapsed · about 10 min 32 s left"``."""
        parts = [f"{self.done}/{self.total} songs", f"{self.ready_workers} worker(s)"]
        if self.songs_per_hour is not None:
            parts.append(f"{self.songs_per_hour:.0f} songs/h")
        parts.append(f"{self.failed} failed")
        if self.retries:
            parts.append(f"{self.retries} retried")
        if self.workers_lost:
            parts.append(f"{self.workers_lost} worker(s) lost")
        parts.append(f"{format_seconds(self.elapsed)} elapsed")
        if self.done < self.total:
            parts.append("estimating time left…" if self.eta is None
                         else f"about {format_seconds(self.eta)} left")
        return " · ".join(parts)


@dataclass
class ClusterSummary(IndexSummary):
    """:class:`~lumina.library.IndexSummary` plus what the cluster did."""

    retries: int = 0
    workers: int = 0
    workers_lost: int = 0
    songs_per_hour: float = 0.0
    library_songs: int = 0


# --------------------------------------------------------------------------- the driver


@dataclass
class _Worker:
    number: int
    handle: object
    ready_ref: object
    started: float
    state: str = "starting"
    pid: int = 0
    host: str = ""
    device: str = ""
    busy: int = 0
    songs: int = 0

    def info(self) -> WorkerInfo:
        return WorkerInfo(self.number, self.state, self.pid, self.host, self.device,
                          self.busy, self.songs)


@dataclass
class _Pending:
    """A file between hashing and commit."""

    index: int
    path: Path
    sha256: str
    attempts: int = 0
    tried: set[int] = field(default_factory=set)
    last_error: str = ""


def _hash(path: str | Path) -> tuple[str, str]:
    """(SHA-256, "") of a file's bytes, or ("", why not) in one line."""
    from lumina.audio import file_sha256

    path = Path(path)
    try:
        return file_sha256(path), ""
    except LuminaError as exc:
        return "", one_line(exc)
    except (OSError, ValueError) as exc:
        return "", f"{path.name}: {one_line(exc)}"


class _RemoteHash:
    """:func:`_hash` run as a Ray task on some node of the cluster, polled like a Future."""

    def __init__(self, ray, task, path: Path) -> None:
        self._ray = ray
        self._path = path
        self._ref = task.remote(os.path.abspath(path))
        self._result: tuple[str, str] | None = None

    def done(self) -> bool:
        if self._result is None:
            ready, _ = self._ray.wait([self._ref], timeout=0)
            if ready:
                from ray.exceptions import RayError

                try:
                    self._result = tuple(self._ray.get(self._ref))  # type: ignore[assignment]
                except RayError as exc:
                    self._result = ("", f"{self._path.name}: could not be hashed on the "
                                        f"cluster ({type(exc).__name__}: {one_line(exc)[:200]})")
        return self._result is not None

    def result(self) -> tuple[str, str]:
        while not self.done():
            time.sleep(0.01)
        assert self._result is not None
        return self._result


def _check_reachable(address: str, timeout: float = 10.0) -> None:
    """Fail in one line when HOST:PORT does not answer: Ray itself retries for minutes."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or "://" in address:
        return  # "auto", "ray://…": left to Ray
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise LuminaError(f"cannot reach Ray at {address}: {exc.strerror or one_line(exc)} "
                          "(is 'ray start --head' running there?)") from None


def _connect(ray, address: str | None) -> bool:
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
        _check_reachable(target)
    try:
        ray.init(address=target, **kwargs)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = "start a local Ray instance" if target == "local" else f"reach Ray at {target}"
        hint = "" if target == "local" else " (is 'ray start --head' running there?)"
        raise LuminaError(f"cannot {where}: {one_line(exc)}{hint}") from None
    return True


def index_on_ray(library_path: str | os.PathLike[str], paths: Sequence[str | os.PathLike[str]],
                 *, model: str | None = None, address: str | None = None,
                 composition_rendering: str | None = None, ship_audio: bool = False,
                 device: str | None = None, batch_size: int = 4,
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
    paths : audio files (see :func:`lumina.library.collect_audio_files`), in commit order.
    model : ``lumina-tiny`` or a model folder every node sees at this path (default: the
        library's model, else lumina-tiny).
    composition_rendering : a rendering name or ``"plain"`` (see
        :func:`lumina.library.composition_rendering_for`); None: the library's, or the
        default for a new library. Another rendering than an existing library's is refused.
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
    report : called with every :class:`~lumina.library.IndexEvent`, as in ``index_files``.
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
    from lumina.library import MANIFEST_NAME, Library, composition_rendering_for
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
            writer = lib.writer()  # the lock first: a busy library fails before Ray starts
        except BaseException:
            lib.close()
            raise
        spec = model or mf.model_spec or DEFAULT_MODEL
        projection: dict = {"dim": mf.dim, "seed": mf.projection_seed,
                            "blocks": mf.projection_blocks,
                            "chunk_seconds": mf.chunk_seconds,
                            "composition_rendering": rendering}
    else:
        spec = model or DEFAULT_MODEL
        projection = {"composition_rendering": composition_rendering_for(
            None, composition_rendering)}
    if spec != DEFAULT_MODEL:  # workers on other nodes have other working folders
        spec = str(Path(spec).expanduser().resolve())
    started_ray = False
    driver = None
    try:
        started_ray = _connect(ray, address)
        driver = _Driver(ray, lib_path, lib, writer, files, spec=spec, projection=projection,
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


class _Driver:
    """The state of one cluster run (see :func:`index_on_ray`)."""

    def __init__(self, ray, lib_path: Path, lib, writer, files: list[Path], *, spec: str,
                 projection: dict | None, ship_audio: bool, device: str | None,
                 batch_size: int, workers: int | None, cpus_per_worker: int,
                 max_attempts: int, progress, report, say, cancel, window: int | None,
                 hash_on: str | None = None) -> None:
        from ray.exceptions import RayActorError

        self.ray = ray
        self._actor_error = RayActorError
        self.lib_path = lib_path
        self.lib = lib
        self.writer = writer
        self.files = files
        self.spec = spec
        self.projection = projection
        self.ship_audio = ship_audio
        self.batch_size = batch_size
        self.max_attempts = max(1, int(max_attempts))
        self.progress = progress
        self.report = report
        self.say = say
        self.cancel = cancel
        self.workers: list[_Worker] = []
        self.lost = 0
        self.retries = 0
        self._start_errors: list[str] = []
        self._announced = False

        resources = ray.cluster_resources()
        gpus = int(resources.get("GPU", 0))
        cpus = int(resources.get("CPU", 0))
        wants_gpu = device is None and gpus > 0 or (device or "").startswith("cuda")
        if wants_gpu and gpus == 0:
            raise LuminaError("--device cuda was asked for but the Ray cluster has no GPU")
        cpus_per_worker = max(1, int(cpus_per_worker))
        if wants_gpu:
            self.n_workers = workers or gpus
            self.options = {"num_gpus": 1, "num_cpus": 1}
            self.device = "cuda"
            self.threads = 1
        else:
            self.n_workers = workers or max(1, cpus // cpus_per_worker)
            self.options = {"num_cpus": cpus_per_worker}
            self.device = device or "cpu"
            self.threads = cpus_per_worker
        self.kind = "GPU" if wants_gpu else "CPU"
        # Dead actors are replaced, but a file that kills every worker it touches (or a
        # cluster that keeps losing nodes) must not loop forever.
        self.replacements_left = max(8, 4 * self.n_workers)
        self.window = window or max(256, 32 * self.n_workers)
        self._actor_class = ray.remote(IndexWorker)
        if hash_on is None:
            nodes = sum(1 for node in ray.nodes() if node.get("Alive"))
            hash_on = "driver" if ship_audio or nodes <= 1 else "cluster"
        if hash_on not in ("driver", "cluster"):
            raise ValueError(f"hash_on must be 'driver' or 'cluster', not {hash_on!r}")
        self.hash_on = hash_on
        self._hash_task = (ray.remote(num_cpus=0, max_retries=2, scheduling_strategy="SPREAD")(
            _hash) if hash_on == "cluster" else None)

    # -- workers ----------------------------------------------------------------------------
    def _start_worker(self) -> None:
        handle = self._actor_class.options(max_concurrency=_PER_WORKER, max_restarts=0,
                                           **self.options).remote(
            self.spec, self.projection, self.device, self.batch_size, self.threads)
        number = len(self.workers) + 1
        self.workers.append(_Worker(number=number, handle=handle,
                                    ready_ref=handle.ready.remote(), started=time.monotonic()))

    def _lose(self, w: _Worker, why: str) -> None:
        """A worker is gone (died, or unusable): replace it while the budget lasts."""
        if w.state == "gone":
            return
        was_ready = w.state == "ready"
        w.state = "gone"
        w.busy = 0
        with contextlib.suppress(Exception):
            self.ray.kill(w.handle, no_restart=True)
        if was_ready:
            self.lost += 1
        self.say(f"worker {w.number}{f' ({w.host}, pid {w.pid})' if w.pid else ''} {why}")
        if self.replacements_left > 0:
            self.replacements_left -= 1
            self._start_worker()

    def _worker_ready(self, w: _Worker, info: dict) -> None:
        w.ready_ref = None
        w.pid, w.host, w.device = int(info["pid"]), str(info["host"]), str(info["device"])
        if info["error"]:
            w.state = "gone"
            with contextlib.suppress(Exception):
                self.ray.kill(w.handle, no_restart=True)
            self.say(f"worker {w.number} ({w.host}) cannot start: {info['error']}")
            self._start_errors.append(str(info["error"]))
            return
        identity = info["identity"]
        if self.lib is None:  # a new library takes the identity of the first worker's model
            from lumina.library import Library

            self.lib = Library.create(self.lib_path, identity, model_spec=self.spec)
            self.writer = self.lib.writer()
        try:
            self.lib.manifest.check_compatible(identity, f"the model of worker {w.number} "
                                               f"({w.host})", f"library {self.lib.name}")
        except LuminaError as exc:
            w.state = "gone"
            with contextlib.suppress(Exception):
                self.ray.kill(w.handle, no_restart=True)
            self.say(f"worker {w.number} not used: {exc}")
            self._start_errors.append(str(exc))
            return
        w.state = "ready"
        if not self._announced:
            self._announced = True
            self.say(f"ray: {self.n_workers} {self.kind} worker(s) of model "
                     f"{Path(self.spec).name} ({w.device} on {w.host} ready first)"
                     + ("; audio shipped from the driver" if self.ship_audio else "")
                     + ("; files hashed on the cluster" if self.hash_on == "cluster" else ""))

    def _no_workers_error(self, committed: int = 0) -> LuminaError:
        if self.lost == 0 and self._start_errors:
            return LuminaError(f"no Ray worker could start: {self._start_errors[-1]}")
        return LuminaError(
            f"every Ray worker is gone ({self.lost} lost); the {committed} song(s) committed "
            "so far are safe, run the command again when the cluster is back")

    def stop_workers(self) -> None:
        for w in self.workers:
            if w.state != "gone":
                w.state = "gone"
                with contextlib.suppress(Exception):
                    self.ray.kill(w.handle, no_restart=True)

    def _poll_starting(self, timeout: float) -> None:
        refs = {w.ready_ref: w for w in self.workers
                if w.state == "starting" and w.ready_ref is not None}
        if not refs:
            time.sleep(timeout)
            return
        done, _ = self.ray.wait(list(refs), num_returns=1, timeout=timeout)
        if done:
            done, _ = self.ray.wait(list(refs), num_returns=len(refs), timeout=0)
        for ref in done:
            self._settle_ready(refs[ref], ref)

    def _settle_ready(self, w: _Worker, ref) -> None:
        from ray.exceptions import RayError

        try:
            info = self.ray.get(ref)
        except RayError as exc:  # died loading the model (out of memory, a crash …)
            w.ready_ref = None
            self._start_errors.append(one_line(exc))
            self._lose(w, f"died while loading the model ({one_line(exc)[:200]})")
            return
        self._worker_ready(w, info)

    # -- the run ----------------------------------------------------------------------------
    def run(self) -> ClusterSummary:
        from lumina.fingerprint.fingerprinter import _is_cancelled

        for _ in range(self.n_workers):
            self._start_worker()
        t_start = time.monotonic()
        # A new library takes its identity from the first worker's model, so it waits for
        # one; an existing library hashes and skips while the workers load the model (each
        # worker's model is checked against the manifest before it gets a song).
        while self.lib is None:
            if not any(w.state == "starting" for w in self.workers):
                raise self._no_workers_error()
            if time.monotonic() - t_start > _STARTUP_TIMEOUT:
                raise LuminaError(
                    f"no Ray worker started within {format_seconds(_STARTUP_TIMEOUT)} (the "
                    f"cluster has {self.ray.cluster_resources()}); check 'ray status'")
            if _is_cancelled(self.cancel):
                return ClusterSummary(cancelled=True)
            self._poll_starting(0.5)

        assert self.writer is not None
        run = IndexRun(self.writer, self.report)
        summary = ClusterSummary()
        run.summary = summary
        files = self.files
        n = len(files)
        clock = ProgressClock()
        outcome: dict[int, tuple] = {}
        pending: dict[int, _Pending] = {}
        queue: list[int] = []  # heap of file indices waiting for a worker (lowest first)
        inflight: dict[object, tuple[int, _Worker]] = {}
        hashing: dict[int, Future | _RemoteHash] = {}
        next_hash = 0
        cursor = 0
        last_status = 0.0
        last_ready = time.monotonic()

        def attempt_failed(i: int, message: str) -> None:
            p = pending[i]
            p.attempts += 1
            p.last_error = message
            if p.attempts >= self.max_attempts:
                times = "once" if p.attempts == 1 else f"{p.attempts} times"
                outcome[i] = ("failed", p.path, f"{message} (failed {times}, skipped)")
                del pending[i]
            else:
                self.retries += 1
                heapq.heappush(queue, i)

        def status() -> ClusterStatus:
            reading = clock.reading(summary.indexed, summary.indexed + (n - cursor))
            rate = (summary.indexed / reading.elapsed * 3600.0
                    if summary.indexed and reading.elapsed > 0 else None)
            return ClusterStatus(
                done=cursor, total=n, indexed=summary.indexed, skipped=summary.skipped,
                failed=summary.failed, retries=self.retries, in_flight=len(inflight),
                workers=tuple(w.info() for w in self.workers), workers_lost=self.lost,
                elapsed=reading.elapsed, songs_per_hour=rate, eta=reading.eta)

        pool = ThreadPoolExecutor(max_workers=_HASH_THREADS, thread_name_prefix="lumina-hash")
        try:
            while cursor < n:
                if _is_cancelled(self.cancel):
                    summary.cancelled = True
                    break
                # 1. hash ahead of the workers, at most `window` files past the cursor
                while next_hash < n and next_hash < cursor + self.window and (
                        len(hashing) < 4 * _HASH_THREADS):
                    hashing[next_hash] = (
                        _RemoteHash(self.ray, self._hash_task, files[next_hash])
                        if self._hash_task is not None else pool.submit(_hash, files[next_hash]))
                    next_hash += 1
                # 2. settle hashed files in order: the skip decisions follow file order
                first = min(hashing) if hashing else None
                while first is not None and hashing[first].done():
                    sha, error = hashing.pop(first).result()
                    if error:
                        outcome[first] = ("failed", files[first], error)
                    else:
                        item = _Prepared(path=files[first], sha256=sha)
                        if run.skip_check(item):
                            outcome[first] = ("skipped", item)
                        else:
                            pending[first] = _Pending(first, files[first], sha)
                            heapq.heappush(queue, first)
                    first = min(hashing) if hashing else None
                # 3. hand queued files to workers with room
                self._dispatch(queue, pending, inflight, outcome)
                # 4. commit what is settled, in file order
                while cursor in outcome:
                    batch = []
                    while cursor + len(batch) in outcome and len(batch) < _COMMIT_BATCH:
                        batch.append(outcome.pop(cursor + len(batch)))
                    self._commit(run, batch)
                    cursor += len(batch)
                    if self.progress is not None:
                        self.progress(status())
                        last_status = time.monotonic()
                if cursor >= n:
                    break
                # 5. wait for a result, a worker, or the hashing threads
                ready = [w for w in self.workers if w.state == "ready"]
                if ready:
                    last_ready = time.monotonic()
                elif not any(w.state == "starting" for w in self.workers):
                    raise self._no_workers_error(summary.indexed)
                elif time.monotonic() - last_ready > _STARTUP_TIMEOUT:
                    raise LuminaError(
                        f"no Ray worker has been ready for {format_seconds(_STARTUP_TIMEOUT)}; "
                        f"the {summary.indexed} song(s) committed so far are safe, run the "
                        "command again when the cluster is back")
                room = any(w.busy < _PER_WORKER for w in ready)
                self._wait(inflight, pending, outcome, attempt_failed,
                           timeout=0.01 if (hashing and room) or (queue and room) else 0.5)
                if self.progress is not None and time.monotonic() - last_status >= 1.0:
                    self.progress(status())
                    last_status = time.monotonic()
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        if self.progress is not None:
            self.progress(status())
        summary.seconds = time.monotonic() - clock.start
        summary.retries = self.retries
        summary.workers = self.n_workers
        summary.workers_lost = self.lost
        reading = clock.reading(summary.indexed, summary.indexed)
        summary.songs_per_hour = (summary.indexed / reading.elapsed * 3600.0
                                  if reading.elapsed > 0 else 0.0)
        summary.library_songs = len(self.lib) if self.lib is not None else 0
        return summary

    def _dispatch(self, queue: list[int], pending: dict[int, _Pending],
                  inflight: dict, outcome: dict) -> None:
        ready = [w for w in self.workers if w.state == "ready"]
        while queue:
            free = [w for w in ready if w.busy < _PER_WORKER]
            if not free:
                return
            i = heapq.heappop(queue)
            p = pending[i]
            # Elsewhere first: a worker that has not tried this file yet, the least busy.
            w = min(free, key=lambda w: (w.number in p.tried, w.busy, w.number))
            data = None
            if self.ship_audio:
                try:
                    data = p.path.read_bytes()
                except OSError as exc:
                    outcome[i] = ("failed", p.path,
                                  f"{p.path.name}: cannot be read ({one_line(exc)})")
                    del pending[i]
                    continue
                if hashlib.sha256(data).hexdigest() != p.sha256:
                    outcome[i] = ("failed", p.path, f"{p.path.name}: the file changed while "
                                                    "it was being indexed; run the command again")
                    del pending[i]
                    continue
            ref = w.handle.index.remote(os.path.abspath(p.path), p.path.name, data)
            del data
            p.tried.add(w.number)
            w.busy += 1
            inflight[ref] = (i, w)

    def _wait(self, inflight: dict, pending: dict[int, _Pending], outcome: dict,
              attempt_failed: Callable[[int, str], None], timeout: float) -> None:
        from ray.exceptions import RayError, RayTaskError

        starting = {w.ready_ref: w for w in self.workers
                    if w.state == "starting" and w.ready_ref is not None}
        refs = list(inflight) + list(starting)
        if not refs:
            time.sleep(timeout)
            return
        done, _ = self.ray.wait(refs, num_returns=1, timeout=timeout)
        if done:
            done, _ = self.ray.wait(refs, num_returns=len(refs), timeout=0)
        for ref in done:
            if ref in starting:
                self._settle_ready(starting[ref], ref)
                continue
            i, w = inflight.pop(ref)
            p = pending[i]
            try:
                res = self.ray.get(ref)
            except self._actor_error as exc:
                self._lose(w, f"stopped while fingerprinting {p.path.name}; "
                              "its songs are re-run elsewhere")
                attempt_failed(i, f"{p.path.name}: the worker fingerprinting it stopped "
                                  f"({one_line(exc)[:160]})")
                continue
            except RayTaskError as exc:
                w.busy = max(0, w.busy - 1)
                cause = exc.cause if getattr(exc, "cause", None) is not None else exc
                attempt_failed(i, f"{p.path.name}: worker error: {type(cause).__name__}: "
                                  f"{one_line(cause)[:300]}")
                continue
            except RayError as exc:
                w.busy = max(0, w.busy - 1)
                attempt_failed(i, f"{p.path.name}: {type(exc).__name__}: "
                                  f"{one_line(exc)[:300]}")
                continue
            w.busy = max(0, w.busy - 1)
            w.songs += 1
            if res["error"]:
                attempt_failed(i, res["error"])
            elif res["sha256"] != p.sha256:
                outcome[i] = ("failed", p.path, f"{p.path.name}: the file changed while it "
                                                "was being indexed; run the command again")
                del pending[i]
            else:
                meta = dataclasses.replace(res["meta"], source_path=str(p.path.resolve()))
                item = _Prepared(path=p.path, sha256=p.sha256, meta=meta,
                                 warnings=list(res["warnings"]))
                outcome[i] = ("indexed", item, res["fp"])
                del pending[i]

    def _commit(self, run: IndexRun, batch: list[tuple]) -> None:
        """Commit consecutive settled files: the fingerprinted ones in one transaction,
        then every file's events in file order."""
        songs = [(r[1], r[2]) for r in batch if r[0] == "indexed"]
        ids = iter(run.add_many(songs) if songs else [])
        for r in batch:
            if r[0] == "failed":
                run.failed(r[1], r[2])
            elif r[0] == "skipped":
                run.skipped(r[1])
            else:
                run.indexed(r[1], next(ids))


# --------------------------------------------------------------------------- command line


class StatusLine:
    """The progress of ``lumina index --ray`` on stderr: a line redrawn in place on a
    terminal, one line a minute otherwise (logs of long cluster runs)."""

    def __init__(self, stream=None, interval: float | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = interval if interval is not None else (0.5 if self.tty else 60.0)
        self._last = time.monotonic()
        self._drawn = False
        self._final = False

    def __call__(self, status: ClusterStatus) -> None:
        now = time.monotonic()
        finished = status.done >= status.total
        if (now - self._last < self.interval and not finished) or (finished and self._final):
            return
        self._last = now
        self._final = finished
        text = f"index (ray): {status.describe()}"
        if self.tty:
            self.stream.write(f"\r\033[K{text}")
            self._drawn = True
            if status.done >= status.total:
                self.stream.write("\n")
                self._drawn = False
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def line(self, text: str) -> None:
        if self._drawn:
            self.stream.write("\r\033[K")
        self.stream.write(text + "\n")
        self.stream.flush()
        self._drawn = False

    def end(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False
