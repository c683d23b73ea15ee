"""The model object: a MusicGen decoder LM, its EnCodec compression model, and metadata.

Every backend (transformers folder, audiocraft checkpoint, the embedded ``lumina-tiny``)
produces a :class:`MusicGenModel`; the fingerprinting code sees nothing else.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch
from torch import nn
from transformers import EncodecModel, MusicgenDecoderConfig, MusicgenForCausalLM

#: Channel name → regular expression over the decoder's module names (DESIGN §1 step 2).
#: Patterns, not lists, so the same definition covers every model size.
CHANNEL_PATTERNS: dict[str, str] = {
    "composition": r"^model\.decoder\.layers\.\d+\.self_attn\.(q|k|v|out)_proj$",
    "production": r"^lm_heads\.\d+$",
}


def decoder_config(*, layers: int, hidden: int, heads: int, codebooks: int, card: int,
                   ffn: int | None = None) -> MusicgenDecoderConfig:
    """A mono MusicGen decoder config for inference: no dropout, pad = BOS = ``card`` (the
    extra embedding row MusicGen reserves for the delay pattern's special token)."""
    return MusicgenDecoderConfig(
        vocab_size=card,
        max_position_embeddings=2048,
        num_hidden_layers=layers,
        ffn_dim=ffn if ffn is not None else 4 * hidden,
        num_attention_heads=heads,
        hidden_size=hidden,
        num_codebooks=codebooks,
        pad_token_id=card,
        bos_token_id=card,
        dropout=0.0,
        attention_dropout=0.0,
        activation_dropout=0.0,
        layerdrop=0.0,
        audio_channels=1,
        tie_word_embeddings=False,
    )


def weights_digest(state_dicts: Mapping[str, Mapping[str, torch.Tensor]]) -> str:
    """SHA-256 over named tensors, independent of the file format they came from.

    The digest covers, in sorted order, each tensor's qualified name, dtype, shape and
    little-endian bytes, so a checkpoint imported from audiocraft and the same weights in
    a transformers folder hash alike, and a library or report can name the weights exactly.

    Parameters
    ----------
    state_dicts : mapping of part name (e.g. ``"decoder"``) → state dict.
    """
    digest = hashlib.sha256()
    for part in sorted(state_dicts):
        sd = state_dicts[part]
        for name in sorted(sd):
            tensor = sd[name].detach().to("cpu").contiguous()
            header = f"{part}.{name}|{tensor.dtype}|{tuple(tensor.shape)}\n"
            digest.update(header.encode())
            if tensor.dtype == torch.bfloat16:  # numpy has no bfloat16; hash the raw bits
                tensor = tensor.view(torch.int16)
            digest.update(tensor.numpy().astype(tensor.numpy().dtype.newbyteorder("<")).tobytes())
    return digest.hexdigest()


@dataclass
class MusicGenModel:
    """A MusicGen language model over EnCodec codes, ready for teacher forcing.

    Attributes
    ----------
    name : short name (``lumina-tiny`` or the folder name).
    decoder : the transformers ``MusicgenForCausalLM`` (no text encoder: null conditioning).
    codec : the transformers ``EncodecModel`` used to turn audio into codes.
    weights_sha256 : :func:`weights_digest` of decoder and codec.
    source : where it was loaded from (a folder path, or ``embedded``).
    """

    name: str
    decoder: MusicgenForCausalLM
    codec: EncodecModel
    weights_sha256: str
    source: str = ""
    channel_patterns: dict[str, str] = field(default_factory=lambda: dict(CHANNEL_PATTERNS))

    def __post_init__(self) -> None:
        self.decoder.eval()
        self.codec.eval()

    # -- metadata -------------------------------------------------------------------------
    @property
    def sample_rate(self) -> int:
        return int(self.codec.config.sampling_rate)

    @property
    def frame_rate(self) -> float:
        return float(self.codec.config.sampling_rate) / float(self.codec.config.hop_length)

    @property
    def num_codebooks(self) -> int:
        return int(self.decoder.config.num_codebooks)

    @property
    def card(self) -> int:
        """Number of codes per codebook."""
        return int(self.decoder.config.vocab_size)

    @property
    def pad_token_id(self) -> int:
        return int(self.decoder.config.pad_token_id)

    @property
    def hidden_size(self) -> int:
        return int(self.decoder.config.hidden_size)

    @property
    def device(self) -> torch.device:
        return next(self.decoder.parameters()).device

    def to(self, device: torch.device | str) -> MusicGenModel:
        self.decoder.to(device)
        self.codec.to(device)
        return self

    def metadata(self) -> dict[str, object]:
        return {
            "name": self.name,
            "weights_sha256": self.weights_sha256,
            "sample_rate": self.sample_rate,
            "frame_rate": self.frame_rate,
            "num_codebooks": self.num_codebooks,
            "card": self.card,
        }

    # -- channels -------------------------------------------------------------------------
    def channel_modules(self, channel: str) -> dict[str, nn.Linear]:
        """The decoder's Linear layers of one channel, by qualified module name."""
        try:
            pattern = re.compile(self.channel_patterns[channel])
        except KeyError:
            raise KeyError(f"unknown channel {channel!r}") from None
        modules = {
            name: module
            for name, module in self.decoder.named_modules()
            if isinstance(module, nn.Linear) and pattern.match(name)
        }
        if not modules:
            raise RuntimeError(f"channel {channel!r} matches no Linear layer of {self.name}")
        return modules

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(self.channel_patterns)

    # -- codec ----------------------------------------------------------------------------
    @torch.no_grad()
    def encode(self, audio: torch.Tensor) -> torch.Tensor:
        """Audio at :attr:`sample_rate` → codes.

        Parameters
        ----------
        audio : float tensor (B, S), mono.

        Returns
        -------
        LongTensor (B, K, T) with K = :attr:`num_codebooks`, T = ceil(S / hop).
        """
        x = audio.to(self.device, torch.float32).unsqueeze(1)
        if self.codec.config.normalize:
            scale = x.pow(2).mean(dim=-1, keepdim=True).sqrt() + 1e-8
            # EnCodec scales to RMS 1; a codec may name another level (lumina-tiny: 0.1).
            x = x / scale * float(getattr(self.codec.config, "reference_rms", 1.0))
        residual = self.codec.encoder(x)
        codes = []
        # Residual quantisation level by level, for exactly the decoder's number of
        # codebooks (the codec may have more levels than the LM uses).
        for layer in self.codec.quantizer.layers[: self.num_codebooks]:
            idx = layer.encode(residual)
            residual = residual - layer.decode(idx)
            codes.append(idx)
        return torch.stack(codes, dim=1)

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes (B, K, T) → audio (B, S) at :attr:`sample_rate`."""
        codes = codes.to(self.device)
        emb = 0.0
        for k, layer in enumerate(self.codec.quantizer.layers[: codes.shape[1]]):
            emb = emb + layer.decode(codes[:, k])
        return self.codec.decoder(emb)[:, 0]

    # -- teacher forcing ------------------------------------------------------------------
    def delayed_sequence(self, codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """MusicGen's delay pattern applied to whole code sequences.

        Parameters
        ----------
        codes : LongTensor (B, K, T).

        Returns
        -------
        inputs : LongTensor (B·K, T+K−1), the decoder's input (BOS/pad where delayed).
        targets : LongTensor (B, K, T+K−1), the next token at each position; pad
            positions hold :attr:`pad_token_id` and are ignored by the loss.
        """
        b, k, t = codes.shape
        pad = self.pad_token_id
        bos = torch.full((b, k, 1), pad, dtype=torch.long, device=codes.device)
        with_bos = torch.cat([bos, codes.long()], dim=-1).reshape(b * k, t + 1)
        # The second return value is the full pattern up to max_length; the first is cut
        # at the first position left for generation, which teacher forcing never has.
        _, pattern = self.decoder.build_delay_pattern_mask(with_bos, pad, max_length=t + k)
        pattern = pattern.reshape(b, k, t + k)
        return pattern[..., :-1].reshape(b * k, t + k - 1), pattern[..., 1:]

    def null_condition(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Zero encoder states and a zero attention mask: what the LM saw under condition
        dropout, so no text encoder is needed."""
        device = self.device
        dtype = next(self.decoder.parameters()).dtype
        states = torch.zeros(batch, 1, self.hidden_size, device=device, dtype=dtype)
        mask = torch.zeros(batch, 1, dtype=torch.long, device=device)
        return states, mask

    def teacher_forced_logits(self, codes: torch.Tensor
                              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The decoder's logits for every code of ``codes`` given the codes before it.

        Parameters
        ----------
        codes : LongTensor (B, K, T).

        Returns
        -------
        logits : float32 (B, K, T+K−1, card), the next-code logits (delay pattern).
        targets : LongTensor (B, K, T+K−1), the code each logit predicts (0 where padded).
        valid : bool (B, K, T+K−1), False at the delay pattern's pad positions.
        """
        codes = codes.to(self.device)
        b = codes.shape[0]
        inputs, targets = self.delayed_sequence(codes)
        states, mask = self.null_condition(b)
        out = self.decoder(
            input_ids=inputs,
            encoder_hidden_states=states,
            encoder_attention_mask=mask,
            use_cache=False,
        )
        logits = out.logits.reshape(b, self.num_codebooks, targets.shape[-1], -1).float()
        valid = targets != self.pad_token_id
        return logits, torch.where(valid, targets, torch.zeros_like(targets)), valid

    def per_example_loss(self, codes: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
        """Teacher-forced cross-entropy, one value per example (DESIGN §1 step 1).

        Parameters
        ----------
        codes : LongTensor (B, K, T).
        temperature : T of softmax(logits / T); 1 (default) is the model's own loss, what
            training minimises (:mod:`lumina.fingerprint.output`).

        Returns
        -------
        Tensor (B,): −(1/#valid) Σ log p(c_k,t | c_<t) over valid (non-pad) positions.
        """
        return mean_nll(*self.teacher_forced_logits(codes), temperature=temperature)


def mean_nll(logits: torch.Tensor, targets: torch.Tensor, valid: torch.Tensor,
             temperature: float = 1.0) -> torch.Tensor:
    """Mean negative log-likelihood of ``targets`` under softmax(logits / T) per example.

    Parameters
    ----------
    logits : float (B, K, L, V); targets : LongTensor (B, K, L); valid : bool (B, K, L),
        as :meth:`MusicGenModel.teacher_forced_logits` returns them.
    temperature : T > 0.

    Returns
    -------
    Tensor (B,): the mean over valid positions.
    """
    scaled = logits if temperature == 1.0 else logits / temperature
    nll = -torch.log_softmax(scaled, dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    nll = nll * valid
    return nll.sum(dim=(1, 2)) / valid.sum(dim=(1, 2)).clamp(min=1)
