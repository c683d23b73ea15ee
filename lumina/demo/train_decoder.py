"""Stage 2 of training ``lumina-tiny``: the tiny MusicGen decoder, teacher-forced on the
frozen codec's codes of every catalog song (:func:`train_decoder`), and the check that it
learned the catalog rather than code statistics (:func:`catalog_vs_shuffled_loss`).

The loss is :meth:`MusicGenModel.per_example_loss` itself, so training and fingerprinting
see the same delay pattern and the same null conditioning.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from transformers import MusicgenForCausalLM

from lumina.demo.training import Progress, TrainConfig, cosine_lr, run_steps
from lumina.models.musicgen import MusicGenModel
from lumina.models.tiny import tiny_decoder_config

__all__ = [
    "CHUNK_SECONDS",
    "CodeWindows",
    "catalog_vs_shuffled_loss",
    "encode_song",
    "new_decoder",
    "train_decoder",
]

CHUNK_SECONDS = 10.0  # the fingerprinter's chunk length (lumina.audio.CHUNK_SECONDS)


@torch.no_grad()
def encode_song(model: MusicGenModel, audio: np.ndarray,
                chunk_seconds: float = CHUNK_SECONDS) -> torch.Tensor:
    """Codes of a whole song, encoded one fingerprinter-sized chunk at a time.

    Returns
    -------
    LongTensor (K, T), the chunks' codes concatenated in time.
    """
    size = int(round(chunk_seconds * model.sample_rate))
    parts = []
    for start in range(0, len(audio), size):
        piece = torch.from_numpy(np.ascontiguousarray(audio[start:start + size], np.float32))
        parts.append(model.encode(piece[None])[0])
    return torch.cat(parts, dim=-1)


def new_decoder(config: TrainConfig) -> MusicgenForCausalLM:
    """The untrained tiny decoder, its init seeded apart from the codec's (``seed + 2``)."""
    torch.manual_seed(config.seed + 2)
    dec = MusicgenForCausalLM(tiny_decoder_config(layers=config.layers, hidden=config.hidden,
                                                  heads=config.heads,
                                                  codebooks=config.codebooks,
                                                  card=config.card))
    dec.eval()
    return dec


class CodeWindows:
    """Random windows of songs' codes, in an order fixed by a seed.

    Parameters
    ----------
    codes : LongTensors (K, T_i).
    window : frames per window (capped at the shortest song).
    """

    def __init__(self, codes: Sequence[torch.Tensor], window: int, seed: int) -> None:
        self.codes = list(codes)
        self.window = min(window, min(c.shape[-1] for c in self.codes))
        self.rng = np.random.default_rng(seed)

    def batch(self, size: int) -> torch.Tensor:
        """LongTensor (size, K, window)."""
        out = []
        for _ in range(size):
            c = self.codes[int(self.rng.integers(len(self.codes)))]
            start = int(self.rng.integers(0, c.shape[-1] - self.window + 1))
            out.append(c[:, start:start + self.window])
        return torch.stack(out)


def train_decoder(model: MusicGenModel, codes: Sequence[torch.Tensor], steps: int,
                  config: TrainConfig, progress: Progress | None = None,
                  budget_s: float | None = None) -> list[float]:
    """Teacher-forced training of ``model.decoder`` on windows of ``codes``.

    The loss is ``model.per_example_loss(batch).mean()`` — the fingerprint's own loss.

    Parameters
    ----------
    codes : LongTensors (K, T_i), one per song, from the frozen codec.
    steps : optimisation steps (the cosine schedule spans them).

    Returns
    -------
    The training loss of every step (nats per code).
    """
    windows = CodeWindows(codes, config.lm_window, config.seed + 3)
    dec = model.decoder
    decay, no_decay = [], []
    for name, p in dec.named_parameters():
        (no_decay if p.ndim < 2 or "layer_norm" in name else decay).append(p)
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.lm_weight_decay},
         {"params": no_decay, "weight_decay": 0.0}],
        lr=config.lm_lr, betas=(0.9, 0.95),
    )
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: cosine_lr(s, steps, config.lm_warmup))

    def step_loss(_step: int) -> torch.Tensor:
        return model.per_example_loss(windows.batch(config.lm_batch)).mean()

    return run_steps(dec, step_loss, opt, sched, dec.parameters(), config.lm_clip, steps, "lm",
                     progress, budget_s)


@torch.no_grad()
def catalog_vs_shuffled_loss(model: MusicGenModel, codes: Sequence[torch.Tensor],
                             seconds: float = CHUNK_SECONDS, seed: int = 0
                             ) -> tuple[float, float]:
    """Mean loss on the first ``seconds`` of each song's codes (one fingerprint chunk), and
    on the same codes with their time order shuffled (one permutation of frames, all
    codebooks alike)."""
    rng = np.random.default_rng(seed)
    window = int(round(seconds * model.frame_rate))
    real, shuffled = [], []
    for c in codes:
        w = c[:, :window]
        perm = torch.from_numpy(rng.permutation(w.shape[-1]))
        real.append(float(model.per_example_loss(w[None])[0]))
        shuffled.append(float(model.per_example_loss(w[:, perm][None])[0]))
    return float(np.mean(real)), float(np.mean(shuffled))
