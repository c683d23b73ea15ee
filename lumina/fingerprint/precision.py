"""Numeric precision and batch size of the fingerprint pass (issue 24: the GPU path).

``precision`` names how the decoder's forward and backward run:

* ``"float32"`` (default): plain float32, TF32 off — bit-identical to every fingerprint made
  before the option existed (``tests/test_golden.py``).
* ``"bfloat16"``: the decoder under :func:`torch.autocast` with bfloat16 (CUDA and CPU). The
  weights stay float32 (their SHA-256 names the model), the codec stays float32 (the codes,
  being discrete, are exactly those of float32), and the projection hooks compute in float32
  (:func:`float32_region`). Measured on a seeded lumina-tiny on CPU (a 30 s track): cosine to
  float32 0.999994 (composition) and 0.999998 (production), every chunk ≥ 0.99999 (the test
  bound is 0.999); ``bench/gpu_check.py`` measures it for MusicGen-sized models on CUDA.
* ``"tf32"``: float32 with TF32 tensor-core matmuls and convolutions allowed on CUDA (the
  flags are set around the pass and restored after); on other devices the same as float32.

Precision is provenance, not identity: bf16 and TF32 fingerprints sit within cosine 0.999 of
float32 ones (measured 0.99999 above) — an error far below the projection's own (std of the
projected cosine ≈ 0.03–0.04, :data:`~lumina.fingerprint.projection.DEFAULT_BLOCKS`) — so they
are comparable with a float32 library. A fingerprint records a non-default precision in
:meth:`~lumina.fingerprint.Fingerprint.parameters` (absent for float32, so default
fingerprints keep their parameters), and the library's identity check ignores it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from lumina.errors import LuminaError

__all__ = [
    "ACTIVATION_BUDGET",
    "CPU_BATCH",
    "DEFAULT_PRECISION",
    "MAX_CUDA_BATCH",
    "PRECISIONS",
    "activation_bytes_per_chunk",
    "check_precision",
    "default_batch_size",
    "float32_region",
    "forward_context",
    "is_out_of_memory",
    "precision_context",
]

DEFAULT_PRECISION = "float32"
PRECISIONS = ("float32", "bfloat16", "tf32")
#: Chunks per pass on CPU and MPS (the historical default).
CPU_BATCH = 4
#: Upper bound of the CUDA batch chosen from memory (a 3-minute track is 18 chunks, and its
#: shorter tail chunk is a batch of its own).
MAX_CUDA_BATCH = 16
#: Bytes of activations the chosen CUDA batch may take (at most 40 % of the free memory).
ACTIVATION_BUDGET = 8 * 2**30


def check_precision(precision: str) -> str:
    """``precision`` if it is one of :data:`PRECISIONS`, else a one-line LuminaError."""
    if precision not in PRECISIONS:
        raise LuminaError(f"unknown precision {precision!r} (use {', '.join(PRECISIONS)})")
    return precision


@contextlib.contextmanager
def precision_context(precision: str, device: torch.device) -> Iterator[None]:
    """The context a whole pass (forward and backward) runs in: TF32 allowed for ``tf32``
    on CUDA (flags restored after), nothing otherwise."""
    if precision == "tf32" and device.type == "cuda":
        saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
        try:
            yield
        finally:
            torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved
    else:
        yield


def forward_context(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """The context the decoder's forward runs in: a bfloat16 autocast for ``bfloat16`` (the
    backward then runs outside it, with the dtypes the forward chose), nothing otherwise."""
    if precision == "bfloat16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def float32_region(tensor: torch.Tensor) -> contextlib.AbstractContextManager:
    """Autocast switched off for ``tensor``'s device if it is on (the projection hooks run in
    float32 under a bfloat16 forward); a no-op context otherwise — the float32 path runs
    exactly the operations it always ran."""
    device_type = tensor.device.type
    if torch.is_autocast_enabled(device_type):
        return torch.autocast(device_type=device_type, enabled=False)
    return contextlib.nullcontext()


def activation_bytes_per_chunk(model: object, chunk_seconds: float, precision: str) -> int:
    """A deliberately generous estimate of the memory one chunk's forward + input-gradient
    backward keeps: per position and layer ~10 hidden-sized and 2 FFN-sized tensors, plus
    the output heads' logits, log-probabilities and their gradient (float32)."""
    config = model.decoder.config  # type: ignore[attr-defined]
    positions = int(round(model.frame_rate * chunk_seconds)) + model.num_codebooks  # type: ignore[attr-defined]
    width = 2 if precision == "bfloat16" else 4
    per_layer = 10 * config.hidden_size + 2 * config.ffn_dim
    heads = 4 * model.num_codebooks * model.card * 4  # type: ignore[attr-defined]
    return positions * (config.num_hidden_layers * per_layer * width + heads)


def default_batch_size(model: object, device: torch.device, chunk_seconds: float,
                       precision: str = DEFAULT_PRECISION) -> int:
    """Chunks per pass when the caller names none: :data:`CPU_BATCH` off CUDA; on CUDA as
    many as :data:`ACTIVATION_BUDGET` (or 40 % of the free memory, if less) holds, from 1 to
    :data:`MAX_CUDA_BATCH`. A batch that still runs out of memory is split in halves
    (:class:`~lumina.fingerprint.Fingerprinter`)."""
    if device.type != "cuda":
        return CPU_BATCH
    free, _ = torch.cuda.mem_get_info(device)
    budget = min(ACTIVATION_BUDGET, int(0.4 * free))
    per_chunk = activation_bytes_per_chunk(model, chunk_seconds, precision)
    return max(1, min(MAX_CUDA_BATCH, budget // max(per_chunk, 1)))


def is_out_of_memory(exc: BaseException) -> bool:
    """True for a device out-of-memory error (CUDA's own class or a backend's message)."""
    oom = getattr(torch.cuda, "OutOfMemoryError", None)
    if oom is not None and isinstance(exc, oom):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()
