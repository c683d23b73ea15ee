"""The driver of ``lumina index --ray``: the library's only writer, handing files to Ray
actors and committing their songs in file order (see :mod:`lumina.indexing.cluster`)."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import heapq
import os
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from lumina.errors import LuminaError, one_line
from lumina.indexing.local import IndexRun, PreparedFile
from lumina.indexing.ray_status import ClusterStatus, ClusterSummary, WorkerInfo
from lumina.indexing.ray_worker import IndexWorker, RemoteHash, hash_file
from lumina.progress import ProgressClock, format_seconds

__all__ = ["ClusterDriver", "PendingFile", "WorkerSlot"]

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


@dataclass
class WorkerSlot:
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
class PendingFile:
    """A file between hashing and commit."""

    index: int
    path: Path
    sha256: str
    attempts: int = 0
    tried: set[int] = field(default_factory=set)
    last_error: str = ""



class ClusterDriver:
    """The state of one cluster run (see :func:`index_on_ray`)."""

    def __init__(self, ray, lib_path: Path, lib, writer, files: list[Path], *, spec: str,
                 projection: dict | None, ship_audio: bool, device: str | None,
                 batch_size: int | None, workers: int | None, cpus_per_worker: int,
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
        self.workers: list[WorkerSlot] = []
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
            hash_file) if hash_on == "cluster" else None)

    # -- workers ----------------------------------------------------------------------------
    def _start_worker(self) -> None:
        handle = self._actor_class.options(max_concurrency=_PER_WORKER, max_restarts=0,
                                           **self.options).remote(
            self.spec, self.projection, self.device, self.batch_size, self.threads)
        number = len(self.workers) + 1
        self.workers.append(WorkerSlot(number=number, handle=handle,
                                    ready_ref=handle.ready.remote(), started=time.monotonic()))

    def _lose(self, w: WorkerSlot, why: str) -> None:
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

    def _worker_ready(self, w: WorkerSlot, info: dict) -> None:
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

    def _settle_ready(self, w: WorkerSlot, ref) -> None:
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
        from lumina.fingerprint.fingerprinter import is_cancelled

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
            if is_cancelled(self.cancel):
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
        pending: dict[int, PendingFile] = {}
        queue: list[int] = []  # heap of file indices waiting for a worker (lowest first)
        inflight: dict[object, tuple[int, WorkerSlot]] = {}
        hashing: dict[int, Future | RemoteHash] = {}
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
                if is_cancelled(self.cancel):
                    summary.cancelled = True
                    break
                # 1. hash ahead of the workers, at most `window` files past the cursor
                while next_hash < n and next_hash < cursor + self.window and (
                        len(hashing) < 4 * _HASH_THREADS):
                    hashing[next_hash] = (
                        RemoteHash(self.ray, self._hash_task, files[next_hash])
                        if self._hash_task is not None
                        else pool.submit(hash_file, files[next_hash]))
                    next_hash += 1
                # 2. settle hashed files in order: the skip decisions follow file order
                first = min(hashing) if hashing else None
                while first is not None and hashing[first].done():
                    sha, error = hashing.pop(first).result()
                    if error:
                        outcome[first] = ("failed", files[first], error)
                    else:
                        item = PreparedFile(path=files[first], sha256=sha)
                        if run.skip_check(item):
                            outcome[first] = ("skipped", item)
                        else:
                            pending[first] = PendingFile(first, files[first], sha)
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

    def _dispatch(self, queue: list[int], pending: dict[int, PendingFile],
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

    def _wait(self, inflight: dict, pending: dict[int, PendingFile], outcome: dict,
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
                item = PreparedFile(path=p.path, sha256=p.sha256, meta=meta,
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

