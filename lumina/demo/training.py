"""What both training stages of ``lumina-tiny`` share: the recipe (:class:`TrainConfig`),
determinism (:func:`deterministic`), the learning-rate schedule (:func:`cosine_lr`), the
optimisation loop (:func:`run_steps`) and the logged loss curve (:func:`loss_curve`).

The codec (:mod:`lumina.demo.train_codec`) and the decoder
(:mod:`lumina.demo.train_decoder`) differ only in their optimiser, their schedule and how a
step's loss is computed; the loop around them — wall-clock budget, gradient clipping,
progress, train/eval mode — is written once here.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

__all__ = [
    "Progress",
    "TrainConfig",
    "cosine_lr",
    "deterministic",
    "loss_curve",
    "run_steps",
]

#: (stage, step, total steps, loss) — called after every optimisation step.
Progress = Callable[[str, int, int, float], None]


@dataclass
class TrainConfig:
    """Everything that determines the trained weights (recorded in the model card).

    The defaults fit the whole run into well under an hour on two CPU cores.
    """

    seed: int = 0
    threads: int = 2
    # catalog
    n_compositions: int = 8
    n_timbres: int = 4
    seconds: float = 24.0
    catalog_seed: int = 0
    # codec
    codec_steps: int = 1500
    codec_batch: int = 8
    codec_segment_seconds: float = 1.0
    codec_lr: float = 2e-3
    codec_ema_decay: float = 0.95
    codec_dead_threshold: float = 0.02
    codec_commitment: float = 0.1
    codec_wave_l1: float = 0.5
    codec_cycle: float = 1.0
    codec_calibration_seconds: float = 4.0
    codec_init: str = "data"  # "data": data-dependent init; "default": transformers' init
    codec_ae_fraction: float = 0.4
    codec_encoder_lr_scale: float = 0.0
    codec_kmeans_iterations: int = 20
    codec_ratios: tuple[int, ...] = (8, 5, 4, 8)  # strides; hop 1280 = 25 Hz frames
    codec_normalize: bool = False  # unit-RMS songs in training, unit-RMS chunks at encode
    codec_filters: int = 8  # EnCodec's num_filters: the codec's width
    # autoencoder phase: ‖enc(x + noise) − enc(x)‖² and ‖enc(dec(enc(x))) − enc(x)‖² over the
    # frames' variance, so frames (and later codes) survive noise and a decode → re-encode
    codec_invariance: float = 0.0
    codec_noise_snr_db: tuple[float, float] = (15.0, 35.0)
    # weight of the pitch-class term (lumina.demo.pitch_loss.chroma_loss) in both phases
    codec_chroma: float = 0.0
    # language model
    lm_steps: int = 4000
    lm_batch: int = 8
    # frames: 16 s at 25 Hz, longer than a demo query's prompt + continuation (13 s): the
    # positions a sampler reaches must have been trained (at 10 s windows, continuations
    # followed their song exactly until frame 250 and then drifted)
    lm_window: int = 400
    lm_lr: float = 3e-3
    lm_warmup: int = 20
    lm_weight_decay: float = 0.01
    lm_clip: float = 1.0
    layers: int = 3
    hidden: int = 128
    heads: int = 4
    codebooks: int = 2
    card: int = 64
    log_every: int = 10


@contextlib.contextmanager
def deterministic(seed: int, threads: int) -> Iterator[None]:
    """Seed torch, fix the thread count and ask for deterministic kernels, then restore.

    Restoring matters: tests run the training functions inside a larger process.
    """
    old_threads = torch.get_num_threads()
    old_det = torch.are_deterministic_algorithms_enabled()
    old_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    # warn_only: a CPU op without a deterministic variant should not abort a run whose
    # CPU kernels are in practice deterministic at a fixed thread count.
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.set_num_threads(old_threads)
        torch.use_deterministic_algorithms(old_det, warn_only=old_warn)


def cosine_lr(step: int, total: int, warmup: int, floor: float = 0.1) -> float:
    """Linear warm-up, then cosine decay to ``floor`` of the peak."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def run_steps(module: torch.nn.Module, step_loss: Callable[[int], torch.Tensor],
              optimizer: torch.optim.Optimizer,
              schedule: torch.optim.lr_scheduler.LRScheduler,
              clipped: Iterable[torch.nn.Parameter], max_norm: float, steps: int, stage: str,
              progress: Progress | None = None,
              budget_s: float | None = None) -> list[float]:
    """Optimise ``module`` for ``steps`` steps; returns the loss of every step taken.

    Each step: ``step_loss(step)`` (the stage's batch and loss), backward, gradients of
    ``clipped`` clipped to ``max_norm``, an optimiser and a schedule step, then
    ``progress(stage, step + 1, steps, loss)``. ``module`` trains in train mode and is left
    in eval mode, also when a step raises.

    Parameters
    ----------
    budget_s : stop before the first step that starts later than this many seconds after
        the loop began (the caller records that the stage was cut short).
    """
    clipped = list(clipped)
    losses: list[float] = []
    t0 = time.monotonic()
    module.train()
    try:
        for step in range(steps):
            if budget_s is not None and time.monotonic() - t0 > budget_s:
                break
            loss = step_loss(step)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(clipped, max_norm)
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
            if progress is not None:
                progress(stage, step + 1, steps, losses[-1])
    finally:
        module.eval()
    return losses


def loss_curve(losses: Sequence[float], every: int) -> list[list[float]]:
    """[step, mean loss over the last ``every`` steps] pairs, plus the final step."""
    out = []
    for end in range(every, len(losses) + 1, every):
        out.append([end, round(float(np.mean(losses[end - every:end])), 4)])
    if losses and (not out or out[-1][0] != len(losses)):
        tail = losses[(len(losses) // every) * every:] or losses[-1:]
        out.append([len(losses), round(float(np.mean(tail)), 4)])
    return out
