"""The tiny MusicGen architecture behind ``lumina-tiny``, built from a config with a seed.

transformers initialises EnCodec codebooks to zero, so a codec built from a config maps
every frame to code 0. :func:`seed_codebooks` fills each residual level with centroids of
real encoder frames (a few seeded k-means steps on the residual left by the levels above),
which makes the codes informative even before any training.
"""

from __future__ import annotations

import numpy as np
import torch
from transformers import EncodecConfig, EncodecModel, MusicgenDecoderConfig, MusicgenForCausalLM

from lumina.models.musicgen import MusicGenModel, decoder_config, weights_digest

TINY_NAME = "lumina-tiny"
SAMPLE_RATE = 32_000
CARD = 256


def tiny_decoder_config(layers: int = 3, hidden: int = 128, heads: int = 4,
                        codebooks: int = 4, card: int = CARD) -> MusicgenDecoderConfig:
    return decoder_config(layers=layers, hidden=hidden, heads=heads, codebooks=codebooks,
                          card=card)


#: The codec's strides, encoder order reversed (EnCodec's ``upsampling_ratios``): their
#: product is the hop. 640 = 50 Hz frames at 32 kHz, as in MusicGen's codec (the shipped
#: lumina-tiny uses 1280 = 25 Hz, see :class:`lumina.demo.training.TrainConfig`).
DEFAULT_RATIOS = (8, 5, 4, 4)
#: RMS a normalising tiny codec scales every encoded chunk to: the demo catalog's level
#: (songs peak at 0.9 with an RMS of 0.09–0.22), so decoded audio stays inside [−1, 1].
REFERENCE_RMS = 0.1


def tiny_codec_config(card: int = CARD, codebooks: int = 4,
                      ratios: tuple[int, ...] = DEFAULT_RATIOS,
                      normalize: bool = False, filters: int = 8) -> EncodecConfig:
    """The tiny EnCodec config: ``codebooks`` residual levels of ``card`` codes each, one
    frame per ``prod(ratios)`` samples; ``normalize``: the encoder sees audio scaled to unit
    RMS (:meth:`MusicGenModel.encode`), so a gain change leaves the codes alone; ``filters``:
    channels of the first convolution (doubled at every stride; EnCodec's ``num_filters``)."""
    frame_rate = SAMPLE_RATE / float(np.prod(ratios))
    bits = int(np.log2(card))
    return EncodecConfig(
        sampling_rate=SAMPLE_RATE,
        audio_channels=1,
        num_filters=filters,
        num_residual_layers=1,
        upsampling_ratios=list(ratios),
        codebook_size=card,
        hidden_size=32,
        codebook_dim=32,
        # exactly `codebooks` levels at this bandwidth (kbps)
        target_bandwidths=[codebooks * frame_rate * bits / 1000.0],
        num_lstm_layers=1,
        normalize=normalize,
        # read by MusicGenModel.encode; EnCodec's own normalisation scales to RMS 1
        reference_rms=REFERENCE_RMS if normalize else 1.0,
        use_causal_conv=True,
    )


@torch.no_grad()
def seed_codebooks(codec: EncodecModel, audio: torch.Tensor, levels: int, seed: int,
                   iterations: int = 8) -> None:
    """Fill the first ``levels`` codebooks with k-means centroids of encoder frames.

    Parameters
    ----------
    codec : the EnCodec model whose ``quantizer.layers[i].codebook`` buffers are filled.
    audio : float tensor (B, S) of music-like audio at the codec's rate.
    levels : number of residual levels to seed, level by level on the residual.
    seed : seeds the choice of initial centroids.
    """
    gen = torch.Generator().manual_seed(seed)
    device = next(codec.parameters()).device
    frames = codec.encoder(audio.float().to(device).unsqueeze(1))  # (B, dim, T)
    residual = frames.permute(0, 2, 1).reshape(-1, frames.shape[1])  # (N, dim)
    for level in range(levels):
        book = codec.quantizer.layers[level].codebook
        card = book.embed.shape[0]
        # Add a pinch of jitter so that fewer distinct frames than codes still give
        # distinct centroids.
        pick = torch.randint(0, residual.shape[0], (card,), generator=gen)
        centroids = residual[pick] + 1e-4 * torch.randn(card, residual.shape[1],
                                                         generator=gen).to(device)
        for _ in range(iterations):
            assign = torch.cdist(residual, centroids).argmin(dim=1)
            counts = torch.bincount(assign, minlength=card).float()
            sums = torch.zeros_like(centroids).index_add_(0, assign, residual)
            used = counts > 0
            centroids[used] = sums[used] / counts[used, None]
            # Re-seed dead centroids on random frames: every code should be reachable.
            dead = int((~used).sum())
            if dead:
                repick = torch.randint(0, residual.shape[0], (dead,), generator=gen)
                centroids[~used] = residual[repick]
        book.embed.copy_(centroids)
        book.embed_avg.copy_(centroids)
        book.cluster_size.fill_(1.0)
        book.inited.fill_(1.0)
        assign = torch.cdist(residual, centroids).argmin(dim=1)
        residual = residual - centroids[assign]


def build_tiny_model(seed: int = 0, calibration: np.ndarray | None = None,
                     decoder_config: MusicgenDecoderConfig | None = None) -> MusicGenModel:
    """An untrained tiny MusicGen with seeded codebooks; same seed, same weights.

    Parameters
    ----------
    seed : seeds the weights and the codebook initialisation.
    calibration : float32 (B, S) audio at 32 kHz for the codebooks; by default 4 × 6 s
        of :func:`lumina.demo.synth.random_music`.
    """
    from lumina.demo.synth import random_music

    torch.manual_seed(seed)
    dec_cfg = decoder_config or tiny_decoder_config()
    decoder = MusicgenForCausalLM(dec_cfg)
    codec = EncodecModel(tiny_codec_config(card=dec_cfg.vocab_size,
                                           codebooks=dec_cfg.num_codebooks))
    if calibration is None:
        calibration = np.stack([random_music(6.0, SAMPLE_RATE, seed + i) for i in range(4)])
    seed_codebooks(codec, torch.from_numpy(np.asarray(calibration, dtype=np.float32)),
                   levels=dec_cfg.num_codebooks, seed=seed)
    decoder.eval()
    codec.eval()
    digest = weights_digest({"decoder": decoder.state_dict(), "codec": codec.state_dict()})
    return MusicGenModel(name=TINY_NAME, decoder=decoder, codec=codec,
                         weights_sha256=digest, source=f"built from config, seed {seed}")
