"""Import audiocraft MusicGen checkpoints into the transformers model, without audiocraft.

An audiocraft folder holds ``state_dict.bin`` (the LM) and ``compression_state_dict.bin``
(the EnCodec model, or a reference to a pretrained one), each a dict with ``best_state``
and ``xp.cfg`` (the training config as YAML). Both are read with
``torch.load(weights_only=True)``: a checkpoint can never run code on the user's machine.

The key map is one table used in both directions (:func:`lm_to_transformers` imports,
:func:`lm_to_audiocraft` exports for tests and for round trips), so they cannot drift apart.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
import yaml
from transformers import EncodecConfig, MusicgenDecoderConfig

from lumina.errors import ModelError
from lumina.models.musicgen import MusicGenModel, decoder_config

LM_FILE = "state_dict.bin"
COMPRESSION_FILE = "compression_state_dict.bin"

# (audiocraft name part, transformers name part): a part ending in "." at the start of a
# key is a prefix, one wrapped in dots is a component; swapping the pair inverts it.
_LM_RENAMES: tuple[tuple[str, str], ...] = (
    ("emb.", "model.decoder.embed_tokens."),
    ("transformer.layers.", "model.decoder.layers."),
    ("out_norm.", "model.decoder.layer_norm."),
    ("linears.", "lm_heads."),
    (".cross_attention.", ".encoder_attn."),
    (".linear1.", ".fc1."),
    (".linear2.", ".fc2."),
    (".norm1.", ".self_attn_layer_norm."),
    (".norm_cross.", ".encoder_attn_layer_norm."),
    (".norm2.", ".final_layer_norm."),
)

_LAYER = r"^(encoder|decoder)\.model\.(\d+)\."
_CODEC_RENAMES: tuple[tuple[str, str], ...] = (
    (_LAYER + r"conv\.conv\.", r"\1.layers.\2.conv."),
    (_LAYER + r"convtr\.convtr\.", r"\1.layers.\2.conv."),
    (_LAYER + r"conv\.norm\.", r"\1.layers.\2.norm."),
    (_LAYER + r"convtr\.norm\.", r"\1.layers.\2.norm."),
    (_LAYER + r"block\.(\d+)\.conv\.conv\.", r"\1.layers.\2.block.\3.conv."),
    (_LAYER + r"shortcut\.conv\.conv\.", r"\1.layers.\2.shortcut.conv."),
    (_LAYER + r"lstm\.", r"\1.layers.\2.lstm."),
    (r"^quantizer\.vq\.layers\.(\d+)\._codebook\.", r"quantizer.layers.\1.codebook."),
)

_IN_PROJ = re.compile(r"^(.*\.(?:self_attn|cross_attention))\.in_proj_weight$")
_QKV = re.compile(r"^(.*\.(?:self_attn|encoder_attn))\.(q|k|v)_proj\.weight$")
_IGNORED_LM_PREFIXES = ("condition_provider.", "fuser.")


def _rename(key: str, table: tuple[tuple[str, str], ...]) -> str:
    """Regex renames (codec table)."""
    for pattern, replacement in table:
        key = re.sub(pattern, replacement, key)
    return key


def _rename_parts(key: str, table: tuple[tuple[str, str], ...], inverse: bool = False) -> str:
    """Literal prefix/component renames (LM table), forward or inverse."""
    for src, dst in table:
        if inverse:
            src, dst = dst, src
        if src.startswith("."):
            key = key.replace(src, dst)
        elif key.startswith(src):
            key = dst + key[len(src):]
    return key


def lm_to_transformers(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """audiocraft LM state dict → ``MusicgenForCausalLM`` state dict.

    The fused ``in_proj_weight`` (3·d × d) is split by rows into q, k and v; the text
    conditioner's projection is dropped (null conditioning never uses it).
    """
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.startswith(_IGNORED_LM_PREFIXES):
            continue
        fused = _IN_PROJ.match(key)
        if fused:
            base = _rename_parts(fused.group(1) + ".", _LM_RENAMES)
            q, k, v = value.chunk(3, dim=0)
            for part, tensor in zip("qkv", (q, k, v), strict=True):
                out[f"{base}{part}_proj.weight"] = tensor.clone()
            continue
        out[_rename_parts(key, _LM_RENAMES)] = value
    return out


def lm_to_audiocraft(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Inverse of :func:`lm_to_transformers` (q, k, v fused back into ``in_proj_weight``)."""
    out: dict[str, torch.Tensor] = {}
    pending: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in state.items():
        qkv = _QKV.match(key)
        if qkv:
            pending.setdefault(qkv.group(1), {})[qkv.group(2)] = value
            continue
        out[_rename_parts(key, _LM_RENAMES, inverse=True)] = value
    for base, parts in pending.items():
        if set(parts) != {"q", "k", "v"}:
            raise ValueError(f"{base}: incomplete q/k/v projections")
        fused = torch.cat([parts["q"], parts["k"], parts["v"]], dim=0)
        out[_rename_parts(base + ".", _LM_RENAMES, inverse=True) + "in_proj_weight"] = fused
    return out


def codec_to_transformers(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """audiocraft EnCodec state dict → transformers ``EncodecModel`` state dict."""
    return {_rename(k, _CODEC_RENAMES): v for k, v in state.items()}


def _load_package(path: Path) -> dict:
    if not path.is_file():
        raise ModelError(f"{path.parent.name}: missing {path.name}")
    try:
        package = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{path.parent.name}/{path.name}: not a safe weights file ({first})") \
            from None
    if not isinstance(package, dict):
        raise ModelError(f"{path.parent.name}/{path.name}: expected a dict checkpoint")
    return package


def _config(package: dict, path: Path) -> dict:
    cfg = package.get("xp.cfg")
    if isinstance(cfg, str):
        try:
            cfg = yaml.safe_load(cfg)
        except yaml.YAMLError:
            raise ModelError(f"{path.parent.name}/{path.name}: xp.cfg is not valid YAML") from None
    if not isinstance(cfg, dict):
        raise ModelError(f"{path.parent.name}/{path.name}: missing xp.cfg (the model config)")
    return cfg


def _get(cfg: dict, dotted: str, path: Path):
    node = cfg
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise ModelError(f"{path.parent.name}/{path.name}: xp.cfg lacks {dotted}")
        node = node[part]
    return node


def _lm_config(cfg: dict, state: dict[str, torch.Tensor], path: Path) -> MusicgenDecoderConfig:
    card = int(_get(cfg, "transformer_lm.card", path))
    n_q = int(_get(cfg, "transformer_lm.n_q", path))
    dim = int(_get(cfg, "transformer_lm.dim", path))
    if sum(1 for k in state if re.match(r"^emb\.\d+\.weight$", k)) != n_q:
        raise ModelError(f"{path.parent.name}/{path.name}: n_q does not match the embeddings")
    return decoder_config(
        layers=int(_get(cfg, "transformer_lm.num_layers", path)),
        hidden=dim,
        heads=int(_get(cfg, "transformer_lm.num_heads", path)),
        codebooks=n_q,
        card=card,
        ffn=int(dim * float(cfg.get("transformer_lm", {}).get("hidden_scale", 4))),
    )


def _codec_config(cfg: dict, path: Path) -> EncodecConfig:
    seanet = _get(cfg, "seanet", path)
    rvq = _get(cfg, "rvq", path)
    rate = int(_get(cfg, "sample_rate", path))
    ratios = [int(r) for r in seanet.get("ratios", [8, 5, 4, 2])]
    frame_rate = rate / float(torch.tensor(ratios).prod())
    bins = int(rvq.get("bins", 1024))
    n_q = int(rvq.get("n_q", 8))
    return EncodecConfig(
        sampling_rate=rate,
        audio_channels=int(cfg.get("channels", 1)),
        num_filters=int(seanet.get("n_filters", 32)),
        num_residual_layers=int(seanet.get("n_residual_layers", 1)),
        upsampling_ratios=ratios,
        hidden_size=int(seanet.get("dimension", 128)),
        codebook_dim=int(seanet.get("dimension", 128)),
        codebook_size=bins,
        num_lstm_layers=int(seanet.get("lstm", 2)),
        kernel_size=int(seanet.get("kernel_size", 7)),
        last_kernel_size=int(seanet.get("last_kernel_size", 7)),
        residual_kernel_size=int(seanet.get("residual_kernel_size", 3)),
        dilation_growth_rate=int(seanet.get("dilation_base", 2)),
        use_causal_conv=bool(seanet.get("causal", False)),
        pad_mode=str(seanet.get("pad_mode", "reflect")),
        compress=int(seanet.get("compress", 2)),
        trim_right_ratio=float(seanet.get("trim_right_ratio", 1.0)),
        norm_type=str(seanet.get("norm", "weight_norm")),
        normalize=bool(cfg.get("normalize", False)),
        target_bandwidths=[n_q * frame_rate * (bins.bit_length() - 1) / 1000.0],
    )


def _pretrained_codec(folder: Path, reference: str):
    """audiocraft exports of MusicGen name their codec (``facebook/encodec_32khz``) instead
    of storing it; we look for that model, in transformers format, inside the folder."""
    from lumina.models.transformers_folder import load_state_into, read_json, read_prefixed_tensors

    candidates = [folder / reference.split("/")[-1], folder / "compression_model"]
    for candidate in candidates:
        if (candidate / "config.json").is_file():
            config = EncodecConfig.from_dict(read_json(candidate / "config.json"))
            state = read_prefixed_tensors(candidate, ("",))[""]
            return config, state, load_state_into
    raise ModelError(
        f"{folder.name}: {COMPRESSION_FILE} refers to {reference!r}; put that EnCodec model "
        f"(transformers format) in {folder.name}/{reference.split('/')[-1]}/"
    )


def load_audiocraft_folder(folder: Path, name: str | None = None) -> MusicGenModel:
    """Load an audiocraft MusicGen folder into the transformers model."""
    from lumina.models.transformers_folder import build_model

    folder = Path(folder)
    lm_path, codec_path = folder / LM_FILE, folder / COMPRESSION_FILE
    for path in (lm_path, codec_path):
        if not path.is_file():
            raise ModelError(f"{folder.name}: missing {path.name}")
    lm_pkg = _load_package(lm_path)
    lm_state = lm_pkg.get("best_state")
    if not isinstance(lm_state, dict):
        raise ModelError(f"{folder.name}/{LM_FILE}: no best_state weights")
    decoder_config = _lm_config(_config(lm_pkg, lm_path), lm_state, lm_path)

    codec_pkg = _load_package(codec_path)
    if isinstance(codec_pkg.get("pretrained"), str):
        codec_config, codec_state, _ = _pretrained_codec(folder, codec_pkg["pretrained"])
    else:
        raw = codec_pkg.get("best_state")
        if not isinstance(raw, dict):
            raise ModelError(f"{folder.name}/{COMPRESSION_FILE}: no best_state weights")
        codec_config = _codec_config(_config(codec_pkg, codec_path), codec_path)
        codec_state = codec_to_transformers(raw)
    return build_model(decoder_config, codec_config, lm_to_transformers(lm_state), codec_state,
                       name=name or folder.name, source=str(folder))


def codec_to_audiocraft(codec: torch.nn.Module) -> dict[str, torch.Tensor]:
    """transformers ``EncodecModel`` → audiocraft EnCodec state dict (inverse of
    :func:`codec_to_transformers`, weight norm stored as ``weight_g``/``weight_v``)."""
    from transformers.models.encodec.modeling_encodec import EncodecConvTranspose1d

    out: dict[str, torch.Tensor] = {}
    modules = dict(codec.named_modules())
    for key, value in codec.state_dict().items():
        new = key.replace("parametrizations.weight.original0", "weight_g")
        new = new.replace("parametrizations.weight.original1", "weight_v")
        m = re.match(r"^(encoder|decoder)\.layers\.(\d+)\.(.*)$", new)
        if m:
            part, idx, rest = m.groups()
            layer = modules[f"{part}.layers.{idx}"]
            if rest.startswith(("block.", "shortcut.")):
                rest = re.sub(r"^(block\.\d+|shortcut)\.conv\.", r"\1.conv.conv.", rest)
            elif rest.startswith("lstm."):
                pass
            elif isinstance(layer, EncodecConvTranspose1d):
                rest = re.sub(r"^conv\.", "convtr.convtr.", rest)
                rest = re.sub(r"^norm\.", "convtr.norm.", rest)
            else:
                rest = re.sub(r"^conv\.", "conv.conv.", rest)
                rest = re.sub(r"^norm\.", "conv.norm.", rest)
            new = f"{part}.model.{idx}.{rest}"
        new = re.sub(r"^quantizer\.layers\.(\d+)\.codebook\.", r"quantizer.vq.layers.\1._codebook.",
                     new)
        out[new] = value.detach().clone()
    return out


def save_audiocraft_folder(model: MusicGenModel, folder: Path) -> Path:
    """Write ``model`` as an audiocraft checkpoint folder (tests and round trips)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    dec = model.decoder.config
    lm_cfg = {"transformer_lm": {
        "card": dec.vocab_size, "n_q": dec.num_codebooks, "dim": dec.hidden_size,
        "num_heads": dec.num_attention_heads, "num_layers": dec.num_hidden_layers,
        "hidden_scale": dec.ffn_dim / dec.hidden_size,
    }}
    lm_state = lm_to_audiocraft({k: v.detach().clone()
                                 for k, v in model.decoder.state_dict().items()})
    torch.save({"best_state": lm_state, "xp.cfg": yaml.safe_dump(lm_cfg)}, folder / LM_FILE)
    c = model.codec.config
    codec_cfg = {
        "sample_rate": c.sampling_rate, "channels": c.audio_channels, "normalize": c.normalize,
        "seanet": {
            "dimension": c.hidden_size, "n_filters": c.num_filters,
            "n_residual_layers": c.num_residual_layers, "ratios": list(c.upsampling_ratios),
            "lstm": c.num_lstm_layers, "kernel_size": c.kernel_size,
            "last_kernel_size": c.last_kernel_size,
            "residual_kernel_size": c.residual_kernel_size, "dilation_base": c.dilation_growth_rate,
            "causal": c.use_causal_conv, "pad_mode": c.pad_mode, "compress": c.compress,
            "trim_right_ratio": c.trim_right_ratio, "norm": c.norm_type,
        },
        "rvq": {"bins": c.codebook_size, "n_q": c.num_quantizers},
    }
    torch.save({"best_state": codec_to_audiocraft(model.codec),
                "xp.cfg": yaml.safe_dump(codec_cfg)}, folder / COMPRESSION_FILE)
    return folder
