"""The worker side of ``lumina index --ray``: the Ray actor that fingerprints whole songs, and
the hashing a driver may spread over the cluster."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
import threading
import time
import uuid
from pathlib import Path

from lumina.errors import LuminaError, one_line

__all__ = ["IndexWorker", "RemoteHash", "hash_file"]


class IndexWorker:
    """What one Ray actor runs: the model loaded once, whole songs in, fingerprints out.

    Made a Ray actor by :func:`index_on_ray` (``ray.remote(IndexWorker)``) with
    ``max_concurrency=2``: of the two songs an actor holds, one decodes while the other is
    fingerprinted (a lock keeps the model to one song at a time).

    Parameters
    ----------
    model_spec : ``lumina-tiny`` or a model folder at a path this node sees.
    projection : the library's ``dim``, ``seed``, ``blocks``, ``chunk_seconds``,
        ``composition_rendering``, ``output_function`` and ``loudness``; for a library that does
        not exist yet only those three (the rest are the defaults).
    device : ``cuda`` (the GPU Ray assigned), ``cpu`` …
    batch_size : chunks per forward pass.
    threads : torch CPU threads (the actor's CPU slots).
    """

    def __init__(self, model_spec: str, projection: dict | None, device: str | None,
                 batch_size: int | None, threads: int) -> None:
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
        from lumina.fingerprint.identity import identity_of_fingerprinter

        out = {"pid": os.getpid(), "host": socket.gethostname(), "device": self._device,
               "error": self._error, "identity": None}
        if self._fingerprinter is not None:
            out["identity"] = identity_of_fingerprinter(self._fingerprinter)
        return out

    def index(self, path: str, name: str, data: bytes | None = None) -> dict:
        """Fingerprint one song: ``path`` as every node sees it, or ``data`` (its bytes,
        stored as ``name`` in a private temp folder while it is read)."""
        from lumina.indexing.local import fingerprint_for_index

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



def hash_file(path: str | Path) -> tuple[str, str]:
    """(SHA-256, "") of a file's bytes, or ("", why not) in one line."""
    from lumina.audio import file_sha256

    path = Path(path)
    try:
        return file_sha256(path), ""
    except LuminaError as exc:
        return "", one_line(exc)
    except (OSError, ValueError) as exc:
        return "", f"{path.name}: {one_line(exc)}"


class RemoteHash:
    """:func:`hash_file` run as a Ray task on some node of the cluster, polled like a Future."""

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

