"""Stage 1 of training ``lumina-tiny``: the tiny EnCodec-architecture codec.

A data-dependent initialisation (:func:`data_dependent_init`), a plain autoencoder, then
residual-VQ codebooks k-means seeded on the trained encoder's frames and the decoder trained
on quantised frames with a multi-resolution log-STFT + waveform L1 loss and a cycle term
(:func:`train_codec`); and the measurements of a codec that the model card reports
(:func:`codec_report`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch.nn import functional as F  # noqa: N812 - the usual alias
from transformers import EncodecModel

from lumina.demo.pitch_loss import chroma_loss
from lumina.demo.training import Progress, TrainConfig, cosine_lr, run_steps
from lumina.models.musicgen import MusicGenModel
from lumina.models.tiny import REFERENCE_RMS, seed_codebooks, tiny_codec_config

__all__ = [
    "STFT_SIZES",
    "AudioSegments",
    "at_reference_level",
    "code_stability",
    "code_survival",
    "code_usage",
    "invariance_loss",
    "codec_report",
    "data_dependent_init",
    "multires_stft_loss",
    "new_codec",
    "reconstruction_metrics",
    "stft_logmag",
    "train_codec",
]

STFT_SIZES = (256, 512, 1024, 2048)


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


def at_reference_level(audio: Sequence[np.ndarray], config: TrainConfig) -> list[np.ndarray]:
    """The songs a codec trains on: each scaled to :data:`REFERENCE_RMS` when the codec
    normalises (its encoder then only ever sees that level), else unchanged."""
    if not config.codec_normalize:
        return [np.asarray(a, dtype=np.float32) for a in audio]
    return [(a * (REFERENCE_RMS / max(float(np.sqrt(np.mean(np.square(a, dtype=np.float64)))),
                                      1e-8))).astype(np.float32) for a in audio]


def new_codec(config: TrainConfig, calibration: np.ndarray) -> EncodecModel:
    """The untrained tiny codec, codebooks k-means-seeded on ``calibration`` (B, S)."""
    torch.manual_seed(config.seed)
    codec = EncodecModel(tiny_codec_config(card=config.card, codebooks=config.codebooks,
                                           ratios=tuple(config.codec_ratios),
                                           normalize=config.codec_normalize,
                                           filters=config.codec_filters))
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
    # The codec may sit on an accelerator (bench/codec_capacity.py); random numbers still come
    # from the CPU generator, so a run's data and restarts do not depend on the device.
    device = next(codec.parameters()).device
    levels = config.codebooks
    ae_steps = int(round(steps * config.codec_ae_fraction))
    enc_params = list(codec.encoder.parameters())
    dec_params = list(codec.decoder.parameters())
    opt = torch.optim.Adam([{"params": enc_params}, {"params": dec_params}],
                           lr=config.codec_lr, betas=(0.9, 0.99))
    scale_enc = config.codec_encoder_lr_scale

    def enc_lambda(s: int) -> float:
        return cosine_lr(s, steps, 10) * (1.0 if s < ae_steps else scale_enc)

    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, [enc_lambda, lambda s: cosine_lr(s, steps, 10)])

    def step_loss(step: int) -> torch.Tensor:
        if step == ae_steps:
            codec.eval()
            seed_codebooks(codec, torch.from_numpy(np.asarray(calibration, np.float32)),
                           levels=levels, seed=config.seed,
                           iterations=config.codec_kmeans_iterations)
            codec.train()
            for p in enc_params:
                p.requires_grad_(scale_enc > 0)
        x = segments.batch(config.codec_batch).to(device)
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
        if config.codec_chroma > 0:
            loss = loss + config.codec_chroma * chroma_loss(x, y)
        if not quantised and config.codec_invariance > 0:
            loss = loss + config.codec_invariance * invariance_loss(codec, x, z, y, config, gen)
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
        return loss

    try:
        return run_steps(codec, step_loss, opt, sched, enc_params + dec_params, 1.0, steps,
                         "codec", progress, budget_s)
    finally:
        # The second phase froze the encoder; a caller may train or probe it again.
        for p in enc_params:
            p.requires_grad_(True)


def invariance_loss(codec: EncodecModel, x: torch.Tensor, z: torch.Tensor, y: torch.Tensor,
                    config: TrainConfig, gen: torch.Generator) -> torch.Tensor:
    """How far the encoder's frames move under white noise and under decode → re-encode,
    over the frames' spread in time (scale-free).

    Why: a code is only as stable as the frame it quantises. Frames that barely move when
    20 dB of noise is added, or when the decoder's rendering of them is encoded again,
    keep their codes through both trips once the codebooks are fitted.

    Parameters
    ----------
    x : (B, S) audio; z : (B, D, T) ``encoder(x)``; y : (B, S) the decoder's output.
    """
    low, high = config.codec_noise_snr_db
    snr = low + (high - low) * torch.rand(x.shape[0], 1, generator=gen).to(x.device)
    power = x.pow(2).mean(dim=-1, keepdim=True)
    noise = (torch.randn(x.shape, generator=gen).to(x.device)
             * (power / 10.0 ** (snr / 10.0)).sqrt())
    target = z.detach()
    spread = target.var(dim=(0, 2)).mean() + 1e-12
    noisy = codec.encoder((x + noise).unsqueeze(1))
    again = codec.encoder(y.unsqueeze(1))
    return (F.mse_loss(noisy, target) + F.mse_loss(again, target)) / spread


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
        same += (codes[..., :t] == again[..., :t])[0].float().sum(dim=-1).cpu()
        total += t
    return (same / max(total, 1)).tolist()


@torch.no_grad()
def code_survival(model: MusicGenModel, audio: Sequence[np.ndarray],
                  change: Callable[[np.ndarray], np.ndarray]) -> list[float]:
    """Per codebook, the fraction of codes of each signal (S,) that ``change`` leaves alone
    (``encode(change(x))`` against ``encode(x)``)."""
    same = torch.zeros(model.num_codebooks)
    total = 0
    for x in audio:
        x = np.asarray(x, np.float32)
        codes = model.encode(torch.from_numpy(x)[None])
        y = np.asarray(change(x), np.float32)[: x.size]
        again = model.encode(torch.from_numpy(np.ascontiguousarray(y))[None])
        t = min(codes.shape[-1], again.shape[-1])
        same += (codes[..., :t] == again[..., :t])[0].float().sum(dim=-1).cpu()
        total += t
    return [round(v, 4) for v in (same / max(total, 1)).tolist()]


@torch.no_grad()
def codec_report(model: MusicGenModel, audio: Sequence[np.ndarray],
                 changes: bool = False) -> dict[str, object]:
    """Reconstruction quality, re-encode stability and code usage on ``audio``; with
    ``changes``, also the codes' survival of MP3 128 kbit/s, white noise at 20 dB SNR and a
    −6 dB gain change (what the study's robustness row does to a track)."""
    recon = []
    codes = []
    for x in audio:
        c = model.encode(torch.from_numpy(np.asarray(x, np.float32))[None])
        codes.append(c[0])
        recon.append(reconstruction_metrics(x, model.decode(c)[0].numpy()))
    report: dict[str, object] = {
        "spectral_convergence": float(np.mean([r["spectral_convergence"] for r in recon])),
        "log_stft_distance": float(np.mean([r["log_stft_distance"] for r in recon])),
        "reencode_stability": [round(v, 4) for v in code_stability(model, audio)],
        "distinct_codes": code_usage(codes),
    }
    if changes:
        from lumina.errors import LuminaError
        from lumina.validation.transforms import mp3_roundtrip, white_noise

        rate = model.sample_rate
        try:
            report["mp3_survival"] = code_survival(model, audio,
                                                   lambda x: mp3_roundtrip(x, rate, 128))
        except LuminaError:  # an FFmpeg build without an MP3 encoder: not measured
            report["mp3_survival"] = None
        report["noise20_survival"] = code_survival(model, audio,
                                                   lambda x: white_noise(x, 20.0, 0))
        report["gain_minus6db_survival"] = code_survival(model, audio, lambda x: 0.5 * x)
    return report
