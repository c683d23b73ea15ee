"""Train the embedded ``lumina-tiny`` model on the demo catalog, on a CPU, in minutes.

``python -m lumina.demo.train`` renders the procedural catalog (8 compositions × 4 timbres,
24 s each), then

1. trains a tiny EnCodec-architecture codec (:func:`lumina.models.tiny.tiny_codec_config`,
   unchanged) in two phases (see :func:`train_codec`): after a data-dependent
   initialisation (:func:`data_dependent_init`), a plain autoencoder; then 4-level residual
   VQ codebooks k-means seeded on the trained encoder's frames
   (:func:`lumina.models.tiny.seed_codebooks`), the encoder frozen, and the decoder trained
   on quantised frames with a multi-resolution log-STFT + waveform L1 loss and a *cycle*
   term asking that decoded audio encode back onto the frames it came from (generated audio
   is decoded and re-encoded before it is fingerprinted, so codes must survive that trip);
2. freezes the codec, encodes every song 10 s at a time (as the fingerprinter does), and
   trains the tiny MusicGen decoder with teacher forcing on random windows of those codes,
   using :meth:`MusicGenModel.per_example_loss` itself as the loss, so training and
   fingerprinting see the same delay pattern and the same null conditioning;
3. writes ``config.json``, ``model.safetensors``, ``MODEL_CARD.md`` and ``training_log.json``
   to ``resources/models/lumina-tiny/``, which :func:`lumina.models.load_model` loads as
   ``lumina-tiny``.

Same seed, same loss curve: seeds for torch and for the data order (a ``numpy`` Generator),
deterministic algorithms and a fixed thread count; only a wall-clock budget (``--minutes``),
which stops a stage early when it is exceeded and says so in the log, can change the result.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F  # noqa: N812 - the usual alias
from transformers import EncodecModel, MusicgenForCausalLM

from lumina.demo.catalog import Catalog, build_catalog
from lumina.models.musicgen import MusicGenModel, weights_digest
from lumina.models.tiny import (
    SAMPLE_RATE,
    TINY_NAME,
    seed_codebooks,
    tiny_codec_config,
    tiny_decoder_config,
)

#: (stage, step, total steps, loss) — called after every optimisation step.
Progress = Callable[[str, int, int, float], None]

CHUNK_SECONDS = 10.0  # the fingerprinter's chunk length (lumina.audio.CHUNK_SECONDS)
STFT_SIZES = (256, 512, 1024, 2048)


@dataclass
class TrainConfig:
    """Everything that determines the trained weights (recorded in the model card).

    The defaults fit the whole run into about 15 minutes on two shared CPU cores.
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
    # language model
    lm_steps: int = 2000
    lm_batch: int = 8
    lm_window: int = 500  # frames: 10 s at 50 Hz, one fingerprint chunk
    lm_lr: float = 3e-3
    lm_warmup: int = 20
    lm_weight_decay: float = 0.01
    lm_clip: float = 1.0
    layers: int = 3
    hidden: int = 128
    heads: int = 4
    codebooks: int = 4
    card: int = 256
    log_every: int = 10


# --------------------------------------------------------------------------- determinism


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


def _cosine_lr(step: int, total: int, warmup: int, floor: float = 0.1) -> float:
    """Linear warm-up, then cosine decay to ``floor`` of the peak."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


# --------------------------------------------------------------------------- codec losses


def stft_logmag(x: torch.Tensor, n_fft: int) -> torch.Tensor:
    """Magnitude STFT of (B, S) audio, (B, F, frames), hop ``n_fft // 4``."""
    window = torch.hann_window(n_fft, device=x.device)
    spec = torch.stft(x, n_fft, hop_length=n_fft // 4, window=window, return_complex=True,
                      center=True)
    return spec.abs()


def multires_stft_loss(ref: torch.Tensor, est: torch.Tensor,
                       sizes: Sequence[int] = STFT_SIZES) -> torch.Tensor:
    """Mean over resolutions of log-magnitude L1 plus spectral convergence.

    Parameters
    ----------
    ref, est : (B, S) audio.
    """
    total = ref.new_zeros(())
    for n_fft in sizes:
        a = stft_logmag(ref, n_fft)
        b = stft_logmag(est, n_fft)
        log_l1 = (torch.log(a + 1e-5) - torch.log(b + 1e-5)).abs().mean()
        conv = torch.linalg.norm(a - b) / (torch.linalg.norm(a) + 1e-8)
        total = total + log_l1 + conv
    return total / len(sizes)


@torch.no_grad()
def reconstruction_metrics(ref: np.ndarray | torch.Tensor,
                           est: np.ndarray | torch.Tensor) -> dict[str, float]:
    """Spectral convergence and log-STFT distance (mean |Δ ln|X||) at n_fft 1024.

    Parameters
    ----------
    ref, est : (S,) or (B, S) audio of the same length (the shorter length is used).
    """
    a = torch.as_tensor(np.asarray(ref, dtype=np.float32)).reshape(-1, np.shape(ref)[-1])
    b = torch.as_tensor(np.asarray(est, dtype=np.float32)).reshape(-1, np.shape(est)[-1])
    n = min(a.shape[-1], b.shape[-1])
    ma, mb = stft_logmag(a[:, :n], 1024), stft_logmag(b[:, :n], 1024)
    return {
        "spectral_convergence": float(torch.linalg.norm(ma - mb) / torch.linalg.norm(ma)),
        "log_stft_distance": float((torch.log(ma + 1e-5) - torch.log(mb + 1e-5)).abs().mean()),
    }


# --------------------------------------------------------------------------- codec training


def _quantize_train(codec: EncodecModel, z: torch.Tensor, levels: int, decay: float,
                    dead_threshold: float, gen: torch.Generator,
                    update: bool = True) -> torch.Tensor:
    """Residual VQ of encoder frames with EMA k-means codebook updates.

    Uses each codebook's own ``quantize`` (the inference distance), so training and
    :meth:`MusicGenModel.encode` pick codes the same way.

    Parameters
    ----------
    z : (B, D, T) encoder output (no gradient flows through the codebooks).

    Returns
    -------
    (B, D, T) the quantised frames (sum of the levels' centroids), without gradient.
    """
    b, d, t = z.shape
    residual = z.detach().permute(0, 2, 1).reshape(-1, d)
    quant = torch.zeros_like(residual)
    for level in range(levels):
        book = codec.quantizer.layers[level].codebook
        idx = book.quantize(residual)
        q = book.embed[idx]
        if update:
            card = book.embed.shape[0]
            counts = torch.bincount(idx, minlength=card).to(residual.dtype)
            sums = torch.zeros_like(book.embed).index_add_(0, idx, residual)
            book.cluster_size.mul_(decay).add_(counts, alpha=1.0 - decay)
            book.embed_avg.mul_(decay).add_(sums, alpha=1.0 - decay)
            n = book.cluster_size.sum()
            # Laplace smoothing keeps rarely used centroids from dividing by ~0.
            smoothed = (book.cluster_size + 1e-5) / (n + card * 1e-5) * n
            book.embed.copy_(book.embed_avg / smoothed[:, None])
            dead = book.cluster_size < dead_threshold
            n_dead = int(dead.sum())
            if n_dead:
                # Restart dead codes on frames of this batch: every code should stay in use.
                pick = torch.randint(0, residual.shape[0], (n_dead,), generator=gen)
                book.embed[dead] = residual[pick]
                book.embed_avg[dead] = residual[pick]
                book.cluster_size[dead] = 1.0
        quant = quant + q
        residual = residual - q
    return quant.reshape(b, t, d).permute(0, 2, 1)


class AudioSegments:
    """Random fixed-length segments of a set of signals, in an order fixed by a seed.

    Parameters
    ----------
    signals : float32 arrays (S_i,), mono at 32 kHz.
    segment : samples per segment (≤ the shortest signal).
    seed : seeds the ``numpy`` Generator that picks signals and offsets.
    """

    def __init__(self, signals: Sequence[np.ndarray], segment: int, seed: int) -> None:
        self.signals = [np.asarray(s, dtype=np.float32) for s in signals]
        self.segment = min(segment, min(s.size for s in self.signals))
        self.rng = np.random.default_rng(seed)

    def batch(self, size: int) -> torch.Tensor:
        """(size, segment) float32."""
        out = np.empty((size, self.segment), dtype=np.float32)
        for i in range(size):
            sig = self.signals[int(self.rng.integers(len(self.signals)))]
            start = int(self.rng.integers(0, sig.size - self.segment + 1))
            out[i] = sig[start:start + self.segment]
        return torch.from_numpy(out)


def new_codec(config: TrainConfig, calibration: np.ndarray) -> EncodecModel:
    """The untrained tiny codec, codebooks k-means-seeded on ``calibration`` (B, S)."""
    torch.manual_seed(config.seed)
    codec = EncodecModel(tiny_codec_config(card=config.card, codebooks=config.codebooks))
    if config.codec_init == "data":
        data_dependent_init(codec, torch.from_numpy(np.asarray(calibration, np.float32)))
    seed_codebooks(codec, torch.from_numpy(np.asarray(calibration, dtype=np.float32)),
                   levels=config.codebooks, seed=config.seed)
    codec.eval()
    return codec


@torch.no_grad()
def data_dependent_init(codec: EncodecModel, audio: torch.Tensor,
                        output_std: float = 0.1) -> None:
    """Rescale every weight-normed convolution so that, on ``audio``, its outputs have zero
    mean per channel and unit spread (Salimans & Kingma's data-dependent init).

    Why: with the default init and audio of std ~0.15, every ELU works in its linear range,
    so the strided convolutions average the waveform away — the encoder's frames vary by
    ~0.1 % over time and carry almost no information, and neither an autoencoder loss nor a
    linear probe moved it in hundreds of steps. Unit-scale activations put the ELUs in their
    rectifying range, which turns oscillation into envelope that survives the striding.

    Parameters
    ----------
    codec : the tiny EnCodec, modified in place (one forward pass with hooks).
    audio : float (B, S) catalog audio.
    output_std : target spread of the decoder's last convolution (audio scale).
    """
    from transformers.models.encodec.modeling_encodec import (
        EncodecConv1d,
        EncodecConvTranspose1d,
    )

    convs = [m for m in codec.modules() if isinstance(m, EncodecConv1d | EncodecConvTranspose1d)]
    last = codec.decoder.layers[-1]

    def hook(module: torch.nn.Module, _inputs: object, out: torch.Tensor) -> torch.Tensor:
        mean = out.mean(dim=(0, 2))
        # One scale for all channels: a transposed convolution's weight norm runs over input
        # channels, so its gain cannot be set per output channel.
        scale = (output_std if module is last else 1.0) / (out.std() + 1e-8)
        module.conv.parametrizations.weight.original0.mul_(scale)
        module.conv.bias.copy_((module.conv.bias - mean) * scale)
        return (out - mean[None, :, None]) * scale

    handles = [m.register_forward_hook(hook) for m in convs]
    try:
        codec.decoder(codec.encoder(audio.float().unsqueeze(1)))
    finally:
        for h in handles:
            h.remove()


def train_codec(codec: EncodecModel, segments: AudioSegments, steps: int,
                config: TrainConfig, calibration: np.ndarray,
                progress: Progress | None = None, budget_s: float | None = None) -> list[float]:
    """Train ``codec`` in place; returns the loss of every step.

    Two phases. Jointly training encoder and VQ from the start collapses on this small
    model: the encoder's output scale grows ~30× in a few Adam steps, far faster than EMA
    codebooks can follow, and one code wins every frame. So first a plain autoencoder
    (``codec_ae_fraction`` of the steps) learns a latent; then the codebooks are k-means
    seeded on the trained encoder's frames of ``calibration``, and the rest of the steps
    train the decoder on quantised frames with the cycle term for re-encode stability.

    By default the encoder is frozen in the second phase (``codec_encoder_lr_scale = 0``), so
    the k-means codebooks stay exact and need no EMA. Measured on the catalog (600 steps,
    codes unchanged by decode → re-encode per level): frozen encoder with the latent-MSE
    cycle 0.67/0.26/0.09/0.05; encoder at 0.3× with EMA codebooks and a code
    cross-entropy cycle 0.54/0.15/0.06/0.02; frozen with the cross-entropy cycle
    0.60/0.13/0.04/0.04; codebooks as a product quantiser over principal-component blocks
    0.67/0.21/0.06/0.02. With 1500 steps: 0.72/0.34/0.16/0.07.

    Parameters
    ----------
    codec : a tiny EnCodec (see :func:`new_codec`).
    segments : the audio source (its Generator fixes the data order).
    steps : optimisation steps of both phases (one cosine schedule spans them).
    calibration : float32 (B, S) catalog audio for the k-means seeding.
    budget_s : stop early once this many seconds have passed (recorded by the caller).
    """
    gen = torch.Generator().manual_seed(config.seed + 1)
    levels = config.codebooks
    ae_steps = int(round(steps * config.codec_ae_fraction))
    enc_params = list(codec.encoder.parameters())
    dec_params = list(codec.decoder.parameters())
    opt = torch.optim.Adam([{"params": enc_params}, {"params": dec_params}],
                           lr=config.codec_lr, betas=(0.9, 0.99))
    scale_enc = config.codec_encoder_lr_scale

    def enc_lambda(s: int) -> float:
        return _cosine_lr(s, steps, 10) * (1.0 if s < ae_steps else scale_enc)

    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, [enc_lambda, lambda s: _cosine_lr(s, steps, 10)])
    losses: list[float] = []
    t0 = time.monotonic()
    codec.train()
    try:
        for step in range(steps):
            if budget_s is not None and time.monotonic() - t0 > budget_s:
                break
            if step == ae_steps:
                codec.eval()
                seed_codebooks(codec, torch.from_numpy(np.asarray(calibration, np.float32)),
                               levels=levels, seed=config.seed,
                               iterations=config.codec_kmeans_iterations)
                codec.train()
                for p in enc_params:
                    p.requires_grad_(scale_enc > 0)
            x = segments.batch(config.codec_batch)
            z = codec.encoder(x.unsqueeze(1))
            quantised = step >= ae_steps
            if quantised:
                q = _quantize_train(codec, z, levels, config.codec_ema_decay,
                                    config.codec_dead_threshold, gen, update=scale_enc > 0)
                # Straight-through: the decoder sees the quantised frames, the encoder gets
                # the decoder's gradient as if quantisation were the identity.
                zq = z + (q - z).detach()
            else:
                zq = z
            y = codec.decoder(zq)[:, 0, : x.shape[-1]]
            loss = multires_stft_loss(x, y) + config.codec_wave_l1 * (x - y).abs().mean()
            if quantised:
                spread = q.var(dim=(0, 2)).mean() + 1e-12
                if scale_enc > 0:
                    loss = loss + config.codec_commitment * F.mse_loss(z, q) / spread
                if config.codec_cycle > 0:
                    # Decoded audio should encode back onto the frames it came from,
                    # measured against the frames' spread over time (not their magnitude,
                    # which a constant offset dominates): scale-free.
                    z2 = codec.encoder(y.unsqueeze(1))
                    loss = loss + config.codec_cycle * F.mse_loss(z2, q) / spread
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(enc_params + dec_params, 1.0)
            opt.step()
            sched.step()
            losses.append(loss.item())
            if progress is not None:
                progress("codec", step + 1, steps, losses[-1])
    finally:
        for p in enc_params:
            p.requires_grad_(True)
        codec.eval()
    return losses


# --------------------------------------------------------------------------- codes


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


@torch.no_grad()
def code_usage(codes: Sequence[torch.Tensor]) -> list[int]:
    """Distinct code values per codebook over ``codes`` (each (K, T))."""
    cat = torch.cat([c.reshape(c.shape[0], -1) for c in codes], dim=-1)
    return [int(torch.unique(row).numel()) for row in cat]


@torch.no_grad()
def code_stability(model: MusicGenModel, audio: Sequence[np.ndarray]) -> list[float]:
    """Per codebook, the fraction of codes unchanged by decode → re-encode.

    Compares ``encode(decode(encode(x)))`` with ``encode(x)`` for each signal (S,).
    """
    same = torch.zeros(model.num_codebooks)
    total = 0
    for x in audio:
        codes = model.encode(torch.from_numpy(np.asarray(x, np.float32))[None])
        again = model.encode(model.decode(codes))
        t = min(codes.shape[-1], again.shape[-1])
        same += (codes[..., :t] == again[..., :t])[0].float().sum(dim=-1)
        total += t
    return (same / max(total, 1)).tolist()


@torch.no_grad()
def codec_report(model: MusicGenModel, audio: Sequence[np.ndarray]) -> dict[str, object]:
    """Reconstruction quality, re-encode stability and code usage on ``audio``."""
    recon = []
    codes = []
    for x in audio:
        c = model.encode(torch.from_numpy(np.asarray(x, np.float32))[None])
        codes.append(c[0])
        recon.append(reconstruction_metrics(x, model.decode(c)[0].numpy()))
    return {
        "spectral_convergence": float(np.mean([r["spectral_convergence"] for r in recon])),
        "log_stft_distance": float(np.mean([r["log_stft_distance"] for r in recon])),
        "reencode_stability": [round(v, 4) for v in code_stability(model, audio)],
        "distinct_codes": code_usage(codes),
    }


# --------------------------------------------------------------------------- language model


def new_decoder(config: TrainConfig) -> MusicgenForCausalLM:
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
        opt, lambda s: _cosine_lr(s, steps, config.lm_warmup))
    losses: list[float] = []
    t0 = time.monotonic()
    dec.train()
    try:
        for step in range(steps):
            if budget_s is not None and time.monotonic() - t0 > budget_s:
                break
            batch = windows.batch(config.lm_batch)
            loss = model.per_example_loss(batch).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(dec.parameters(), config.lm_clip)
            opt.step()
            sched.step()
            losses.append(loss.item())
            if progress is not None:
                progress("lm", step + 1, steps, losses[-1])
    finally:
        dec.eval()
    return losses


@torch.no_grad()
def catalog_vs_shuffled_loss(model: MusicGenModel, codes: Sequence[torch.Tensor],
                             window: int = 500, seed: int = 0) -> tuple[float, float]:
    """Mean loss on the first ``window`` frames of each song, and on the same codes with
    their time order shuffled (one permutation of frames, all codebooks alike)."""
    rng = np.random.default_rng(seed)
    real, shuffled = [], []
    for c in codes:
        w = c[:, :window]
        perm = torch.from_numpy(rng.permutation(w.shape[-1]))
        real.append(float(model.per_example_loss(w[None])[0]))
        shuffled.append(float(model.per_example_loss(w[:, perm][None])[0]))
    return float(np.mean(real)), float(np.mean(shuffled))


# --------------------------------------------------------------------------- the whole run


def _curve(losses: Sequence[float], every: int) -> list[list[float]]:
    """[step, mean loss over the last ``every`` steps] pairs, plus the final step."""
    out = []
    for end in range(every, len(losses) + 1, every):
        out.append([end, round(float(np.mean(losses[end - every:end])), 4)])
    if losses and (not out or out[-1][0] != len(losses)):
        tail = losses[(len(losses) // every) * every:] or losses[-1:]
        out.append([len(losses), round(float(np.mean(tail)), 4)])
    return out


def render_catalog(catalog: Catalog) -> list[np.ndarray]:
    return [catalog.render(song) for song in catalog.songs]


def train_tiny_model(catalog: Catalog, config: TrainConfig | None = None,
                     progress: Progress | None = None, budget_s: float | None = None,
                     audio: Sequence[np.ndarray] | None = None,
                     evaluate: bool = True) -> tuple[MusicGenModel, dict]:
    """Codec, then decoder, trained on ``catalog``; returns the model and the training log.

    Parameters
    ----------
    catalog : the songs to learn (rendered here unless ``audio`` is given).
    config : hyper-parameters and seeds (defaults: :class:`TrainConfig`).
    budget_s : wall-clock budget; the codec gets ``codec_steps / (codec_steps + lm_steps)``
        of it and the decoder what is left. A stage cut short is marked in the log.
    audio : the rendered songs (float32 (S,) each), if already at hand.
    evaluate : also measure the codec and the decoder (costs a few seconds).
    """
    config = config or TrainConfig()
    t_start = time.monotonic()
    log: dict = {"config": asdict(config), "timings_s": {}}
    with deterministic(config.seed, config.threads):
        audio = list(audio) if audio is not None else render_catalog(catalog)
        rng = np.random.default_rng(config.seed)
        cal_len = int(config.codec_calibration_seconds * SAMPLE_RATE)
        cal_len = min(cal_len, min(a.size for a in audio))
        starts = [int(rng.integers(0, a.size - cal_len + 1)) for a in audio]
        calibration = np.stack([a[s:s + cal_len] for a, s in zip(audio, starts, strict=True)])
        codec = new_codec(config, calibration)
        decoder = new_decoder(config)
        model = MusicGenModel(name=TINY_NAME, decoder=decoder, codec=codec,
                              weights_sha256="", source="training")
        eval_audio = [a[: int(CHUNK_SECONDS * SAMPLE_RATE)] for a in audio[:: max(1, len(audio)
                                                                              // 8)]]
        if evaluate:
            log["codec_before"] = codec_report(model, eval_audio)
        log["timings_s"]["setup"] = round(time.monotonic() - t_start, 1)

        t0 = time.monotonic()
        total_steps = max(1, config.codec_steps + config.lm_steps)
        codec_budget = None if budget_s is None else budget_s * config.codec_steps / total_steps
        segments = AudioSegments(audio, int(config.codec_segment_seconds * SAMPLE_RATE),
                                 config.seed + 4)
        codec_losses = train_codec(codec, segments, config.codec_steps, config, calibration,
                                   progress, codec_budget)
        log["timings_s"]["codec"] = round(time.monotonic() - t0, 1)
        log["codec_steps_done"] = len(codec_losses)
        log["codec_loss_curve"] = _curve(codec_losses, config.log_every)
        if evaluate:
            log["codec_after"] = codec_report(model, eval_audio)

        t0 = time.monotonic()
        codes = [encode_song(model, a) for a in audio]
        log["timings_s"]["encode"] = round(time.monotonic() - t0, 1)
        log["distinct_codes_catalog"] = code_usage(codes)

        t0 = time.monotonic()
        lm_budget = None
        if budget_s is not None:
            lm_budget = max(0.0, budget_s - (time.monotonic() - t_start))
        lm_losses = train_decoder(model, codes, config.lm_steps, config, progress, lm_budget)
        log["timings_s"]["lm"] = round(time.monotonic() - t0, 1)
        log["lm_steps_done"] = len(lm_losses)
        log["lm_losses"] = [round(v, 6) for v in lm_losses]
        log["lm_loss_curve"] = _curve(lm_losses, config.log_every)
        if evaluate:
            real, shuffled = catalog_vs_shuffled_loss(model, codes)
            log["catalog_loss"] = round(real, 4)
            log["shuffled_loss"] = round(shuffled, 4)
        log["stopped_by_budget"] = (len(codec_losses) < config.codec_steps
                                    or len(lm_losses) < config.lm_steps)
    model.weights_sha256 = weights_digest({"decoder": decoder.state_dict(),
                                           "codec": codec.state_dict()})
    model.source = f"trained on the demo catalog, seed {config.seed}"
    log["weights_sha256"] = model.weights_sha256
    log["timings_s"]["total"] = round(time.monotonic() - t_start, 1)
    return model, log


# --------------------------------------------------------------------------- output


def default_output() -> Path:
    from lumina.models import embedded_model_path

    return embedded_model_path()


def _codec_recipe(cfg: dict) -> str:
    """How the codec was trained, in words, from the recorded config."""
    ae = int(round(cfg["codec_steps"] * cfg["codec_ae_fraction"]))
    init = ("data-dependent initialisation of every convolution"
            if cfg.get("codec_init", "data") == "data" else "transformers' default init")
    text = (f"{init}; steps 1–{ae}: plain autoencoder (no quantiser); then RVQ codebooks "
            f"k-means seeded ({cfg['codec_kmeans_iterations']} iterations) on the trained "
            "encoder's frames of the calibration excerpts; remaining steps: decoder on "
            "quantised frames, loss = multi-resolution log-STFT L1 + spectral convergence + "
            f"{cfg['codec_wave_l1']:g}·waveform L1 + {cfg['codec_cycle']:g}·cycle term "
            "(‖enc(dec(q)) − q‖² over the frames' variance)")
    if cfg["codec_encoder_lr_scale"] > 0:
        text += (f"; encoder at {cfg['codec_encoder_lr_scale']:g}× the learning rate with "
                 f"{cfg['codec_commitment']:g}·commitment, codebooks by EMA (decay "
                 f"{cfg['codec_ema_decay']:g}) with dead-code restarts")
    else:
        text += "; encoder and codebooks frozen after the k-means seeding"
    return text


def _card(log: dict, catalog: Catalog) -> str:
    cfg = log["config"]
    lines = [
        f"# {TINY_NAME}",
        "",
        "The embedded default model of LUMINA: a tiny MusicGen decoder (transformers "
        "`MusicgenForCausalLM`) over the codes of a tiny EnCodec-architecture codec "
        "(`EncodecModel`), both trained from scratch on the procedural demo catalog by "
        "`python -m lumina.demo.train`. It exists so that the whole pipeline — fingerprint, "
        "library, attribution, generation of queries with a known source — runs offline on "
        "a CPU. It is not a music generator anyone should listen to for pleasure.",
        "",
        "## Weights",
        "",
        f"- SHA-256 (lumina's canonical tensor digest, `MusicGenModel.weights_sha256`): "
        f"`{log['weights_sha256']}`",
        f"- decoder: {cfg['layers']} layers × hidden {cfg['hidden']}, {cfg['heads']} heads, "
        f"{cfg['codebooks']} codebooks × {cfg['card']} codes; {log['decoder_params']:,} "
        "parameters",
        f"- codec: `tiny_codec_config()` (32 kHz mono, hop 640 = 50 Hz, 4-level RVQ); "
        f"{log['codec_params']:,} parameters",
        "",
        "## Training data",
        "",
        f"`lumina.demo.catalog.build_catalog(n_compositions={cfg['n_compositions']}, "
        f"n_timbres={cfg['n_timbres']}, seconds={cfg['seconds']}, seed={cfg['catalog_seed']})`"
        f": {len(catalog.songs)} songs ({cfg['n_compositions']} compositions × "
        f"{cfg['n_timbres']} timbres), {cfg['seconds']:g} s each, mono 32 kHz. Every song was "
        "used for both the codec and the decoder (nothing is held out: the point of the model "
        "is to have been influenced by known songs).",
        "",
        "## Training",
        "",
        f"- seed {cfg['seed']}; torch {torch.__version__}, {cfg['threads']} threads, "
        "deterministic algorithms; data order from seeded numpy Generators",
        f"- codec: {log['codec_steps_done']} of {cfg['codec_steps']} steps, batch "
        f"{cfg['codec_batch']} × {cfg['codec_segment_seconds']:g} s, Adam lr "
        f"{cfg['codec_lr']:g} (cosine); {_codec_recipe(cfg)}",
        f"- decoder: {log['lm_steps_done']} of {cfg['lm_steps']} steps, batch "
        f"{cfg['lm_batch']} × {cfg['lm_window']} frames (random windows), AdamW lr "
        f"{cfg['lm_lr']:g} (warm-up {cfg['lm_warmup']}, cosine), weight decay "
        f"{cfg['lm_weight_decay']:g}; loss = `MusicGenModel.per_example_loss` (delay "
        "pattern, null conditioning)",
        f"- stopped early by the time budget: {'yes' if log['stopped_by_budget'] else 'no'}",
        f"- wall time: {log['timings_s']['total']:.0f} s ({log['timings_s']})",
        f"- final decoder loss (mean of the last {cfg['log_every']} steps): "
        f"{log['lm_loss_curve'][-1][1]:.4f} nats/code"
        if log.get("lm_loss_curve") else "- final decoder loss: n/a",
        "",
    ]
    if "codec_after" in log:
        before, after = log["codec_before"], log["codec_after"]
        lines += [
            "## Measurements (first 10 s of 8 catalog songs)",
            "",
            "| | before training | after training |",
            "|---|---|---|",
            f"| spectral convergence | {before['spectral_convergence']:.3f} | "
            f"{after['spectral_convergence']:.3f} |",
            f"| log-STFT distance | {before['log_stft_distance']:.3f} | "
            f"{after['log_stft_distance']:.3f} |",
            f"| codes unchanged by decode → re-encode, per codebook | "
            f"{before['reencode_stability']} | {after['reencode_stability']} |",
            f"| distinct codes per codebook | {before['distinct_codes']} | "
            f"{after['distinct_codes']} |",
            "",
            f"Distinct codes per codebook over the whole catalog: "
            f"{log['distinct_codes_catalog']}.",
            "",
        ]
    if "catalog_loss" in log:
        lines += [
            f"Decoder loss on the first 10 s of every catalog song: {log['catalog_loss']:.4f} "
            f"nats/code; on the same codes shuffled in time: {log['shuffled_loss']:.4f}.",
            "",
        ]
    link = log.get("causal_link")
    if link:
        n = len(link["songs"])
        lines += [
            "## Causal link: continuations of catalog songs",
            "",
            f"For each of the {n} songs, the model continued the song's first "
            f"{link['prompt_seconds']:g} s for {link['seconds']:g} s (temperature "
            f"{link['temperature']:g}, top-k {link['top_k']}, seed {link['seed']} + song "
            "index); the continuation alone was fingerprinted and the catalog ranked by "
            "cosine. Top-1 accuracy (chance: song "
            f"{1 / n:.3f}, composition {1 / cfg['n_compositions']:.3f}, timbre "
            f"{1 / cfg['n_timbres']:.3f}):",
            "",
            "| channel | same song | same composition | same timbre |",
            "|---|---|---|---|",
        ]
        for ch in ("composition", "production"):
            if ch in link:
                r = link[ch]
                lines.append(f"| {ch} | {r['song']:.2f} | {r['composition']:.2f} | "
                             f"{r['timbre']:.2f} |")
        lines += [
            "",
            "Read these with care (diagnosis measured on the seed-0 model of 1500 codec + "
            "2000 decoder steps). The same fingerprints find a *real* 10 s excerpt of a song "
            "(3–13 s) as its source for 24/32 songs (composition channel) and 32/32 "
            "(production); what fails is the generated continuation: (1) free-running "
            "sampling follows the memorised song for only 1–4 s before it drifts "
            "(teacher-forced next-code accuracy ≈ 0.75 on codebook 0), and the expected "
            "gradient of the model's own samples is zero, so mostly the timbre is left — "
            "fingerprinting the generated codes directly, without the codec, gave 3/32; "
            "(2) the tiny codec's decode → re-encode trip changes many codes (table above): "
            "the real excerpt sent through it is found for only 3/32 (composition) and 7/32 "
            "(production).",
            "",
        ]
    lines += ["## Loss curves", "", "Decoder (step: mean loss of the preceding steps):", ""]
    lines.append(", ".join(f"{s}: {v:.3f}" for s, v in log["lm_loss_curve"]))
    lines += ["", "Codec:", ""]
    lines.append(", ".join(f"{s}: {v:.3f}" for s, v in log["codec_loss_curve"]))
    lines += ["", "The full per-step curves are in `training_log.json`.", ""]
    return "\n".join(lines)


def save_model(model: MusicGenModel, log: dict, catalog: Catalog, out: Path) -> Path:
    """Write the model folder: config.json, model.safetensors, MODEL_CARD.md,
    training_log.json."""
    from lumina.models.transformers_folder import save_transformers_folder

    out = Path(out)
    log = dict(log)
    log["decoder_params"] = sum(p.numel() for p in model.decoder.parameters())
    log["codec_params"] = sum(p.numel() for p in model.codec.parameters())
    cfg = log["config"]
    meta = {
        "name": TINY_NAME,
        "weights_sha256": model.weights_sha256,
        "seed": cfg["seed"],
        "threads": cfg["threads"],
        "catalog": {k: cfg[k] for k in ("n_compositions", "n_timbres", "seconds",
                                        "catalog_seed")},
        "codec_steps": log["codec_steps_done"],
        "lm_steps": log["lm_steps_done"],
        "final_lm_loss": log["lm_loss_curve"][-1][1] if log["lm_loss_curve"] else None,
        "torch": torch.__version__,
        "trained_by": "python -m lumina.demo.train",
    }
    save_transformers_folder(model, out, extra_config={"lumina": meta})
    (out / "MODEL_CARD.md").write_text(_card(log, catalog), encoding="utf-8")
    log["software"] = {"python": platform.python_version(), "torch": torch.__version__,
                       "numpy": np.__version__}
    with open(out / "training_log.json", "w", encoding="utf-8") as fh:
        json.dump(log, fh, indent=1)
    return out


def _printer(start: float, every: int) -> Progress:
    """Progress lines with the elapsed time and an estimate of what is left of the stage."""
    stage_start: dict[str, float] = {}

    def show(stage: str, step: int, total: int, loss: float) -> None:
        now = time.monotonic()
        stage_start.setdefault(stage, now)
        if step % every and step != total:
            return
        per_step = (now - stage_start[stage]) / max(step, 1)
        eta = per_step * (total - step)
        print(f"[{now - start:6.0f} s] {stage:5s} step {step:4d}/{total}  loss {loss:.4f}  "
              f"stage eta {eta:4.0f} s", flush=True)

    return show


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: train and write the embedded model."""
    defaults = TrainConfig()
    parser = argparse.ArgumentParser(prog="python -m lumina.demo.train",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: the embedded model's folder)")
    parser.add_argument("--codec-steps", type=int, default=defaults.codec_steps)
    parser.add_argument("--lm-steps", type=int, default=defaults.lm_steps)
    parser.add_argument("--seconds", type=float, default=defaults.seconds,
                        help="length of each catalog song")
    parser.add_argument("--compositions", type=int, default=defaults.n_compositions)
    parser.add_argument("--timbres", type=int, default=defaults.n_timbres)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--hidden", type=int, default=defaults.hidden)
    parser.add_argument("--layers", type=int, default=defaults.layers)
    parser.add_argument("--threads", type=int, default=defaults.threads)
    parser.add_argument("--minutes", type=float, default=None,
                        help="wall-clock budget; stages stop early when it is used up")
    parser.add_argument("--no-causal-link", dest="causal_link", action="store_false",
                        help="skip the final measurement (continue every song, attribute)")
    parser.add_argument("--card-only", action="store_true",
                        help="only rewrite MODEL_CARD.md of --out from its training_log.json")
    args = parser.parse_args(argv)
    if args.card_only:
        folder = args.out or default_output()
        with open(folder / "training_log.json", encoding="utf-8") as fh:
            log = json.load(fh)
        cfg = log["config"]
        catalog = build_catalog(cfg["n_compositions"], cfg["n_timbres"], cfg["seconds"],
                                seed=cfg["catalog_seed"])
        (folder / "MODEL_CARD.md").write_text(_card(log, catalog), encoding="utf-8")
        print(f"rewrote {folder / 'MODEL_CARD.md'}")
        return 0
    config = TrainConfig(seed=args.seed, threads=args.threads, n_compositions=args.compositions,
                         n_timbres=args.timbres, seconds=args.seconds,
                         codec_steps=args.codec_steps, lm_steps=args.lm_steps,
                         hidden=args.hidden, layers=args.layers)
    out = args.out or default_output()
    start = time.monotonic()
    catalog = build_catalog(config.n_compositions, config.n_timbres, config.seconds,
                            seed=config.catalog_seed)
    print(f"training {TINY_NAME} on {len(catalog.songs)} songs "
          f"({config.codec_steps} codec + {config.lm_steps} decoder steps, "
          f"{config.threads} threads) → {out}", flush=True)
    budget = None if args.minutes is None else 60.0 * args.minutes
    audio = render_catalog(catalog)
    model, log = train_tiny_model(catalog, config, _printer(start, config.log_every), budget,
                                  audio=audio)
    if args.causal_link:
        from lumina.demo.generate import causal_link

        t0 = time.monotonic()
        print("measuring the causal link (continue, fingerprint, rank every song) ...",
              flush=True)
        with deterministic(config.seed, config.threads):
            log["causal_link"] = causal_link(model, catalog, audio)
        log["timings_s"]["causal_link"] = round(time.monotonic() - t0, 1)
        for ch in model.channels:
            r = log["causal_link"][ch]
            print(f"  {ch}: top-1 song {r['song']:.2f}, composition {r['composition']:.2f}, "
                  f"timbre {r['timbre']:.2f}", flush=True)
    save_model(model, log, catalog, out)
    size = sum(f.stat().st_size for f in Path(out).iterdir() if f.is_file())
    print(f"wrote {out} ({size / 1e6:.1f} MB) in {time.monotonic() - start:.0f} s; "
          f"weights sha256 {model.weights_sha256}", flush=True)
    if "catalog_loss" in log:
        print(f"decoder loss: catalog {log['catalog_loss']:.3f}, shuffled "
              f"{log['shuffled_loss']:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())
