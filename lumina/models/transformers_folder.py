"""Load and save MusicGen models in transformers' folder format, local files only.

A folder holds ``config.json`` (``model_type: musicgen`` with ``decoder`` and
``audio_encoder`` sections) and the weights as ``model.safetensors``, sharded safetensors
(``model.safetensors.index.json``) or, for old exports, ``pytorch_model.bin`` read with
``weights_only=True``. Only the decoder and the audio encoder are read: null conditioning
needs no text encoder, and skipping it saves most of the memory and load time.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from transformers import EncodecConfig, EncodecModel, MusicgenDecoderConfig, MusicgenForCausalLM

from lumina.errors import ModelError
from lumina.models.musicgen import MusicGenModel, weights_digest

DECODER_PREFIX = "decoder."
CODEC_PREFIX = "audio_encoder."

# A minimal text-encoder section keeps our folders loadable by transformers' own
# MusicgenConfig, which insists on one; LUMINA never reads it.
_PLACEHOLDER_TEXT_ENCODER = {
    "model_type": "t5", "d_model": 32, "d_ff": 64, "num_layers": 1, "num_heads": 2,
    "d_kv": 16, "vocab_size": 32,
}


def read_json(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        raise ModelError(f"{path.parent.name}: missing {path.name}") from None
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path.parent.name}/{path.name}: unreadable JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ModelError(f"{path.parent.name}/{path.name}: expected a JSON object")
    return data


def _weight_files(folder: Path, wanted: tuple[str, ...]) -> tuple[str, list[Path]]:
    """Which files hold the tensors whose names start with one of ``wanted``."""
    single = folder / "model.safetensors"
    index = folder / "model.safetensors.index.json"
    bin_single = folder / "pytorch_model.bin"
    bin_index = folder / "pytorch_model.bin.index.json"
    if single.is_file():
        return "safetensors", [single]
    for kind, idx in (("safetensors", index), ("bin", bin_index)):
        if idx.is_file():
            weight_map = read_json(idx).get("weight_map")
            if not isinstance(weight_map, dict):
                raise ModelError(f"{folder.name}/{idx.name}: no weight_map")
            shards = sorted({f for k, f in weight_map.items() if k.startswith(wanted)})
            missing = [s for s in shards if not (folder / s).is_file()]
            if missing:
                raise ModelError(f"{folder.name}: missing weight shard {missing[0]}")
            return kind, [folder / s for s in shards]
    if bin_single.is_file():
        return "bin", [bin_single]
    raise ModelError(f"{folder.name}: no weights (model.safetensors or its index) in the folder")


def read_prefixed_tensors(
    folder: Path, prefixes: Iterable[str]
) -> dict[str, dict[str, torch.Tensor]]:
    """Tensors under each prefix, with the prefix stripped: ``{prefix: {name: tensor}}``."""
    prefixes = tuple(prefixes)
    kind, files = _weight_files(folder, prefixes)
    out: dict[str, dict[str, torch.Tensor]] = {p: {} for p in prefixes}
    for path in files:
        try:
            if kind == "safetensors":
                with safe_open(str(path), framework="pt") as fh:
                    for key in fh.keys():  # noqa: SIM118 - safe_open is not a dict
                        for p in prefixes:
                            if key.startswith(p):
                                out[p][key[len(p):]] = fh.get_tensor(key)
            else:
                state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
                for key, value in state.items():
                    for p in prefixes:
                        if key.startswith(p):
                            out[p][key[len(p):]] = value
        except ModelError:
            raise
        except Exception as exc:  # corrupt or truncated weight files
            raise ModelError(f"{folder.name}/{path.name}: unreadable weights ({exc})") from None
    return out


def _legacy_weight_norm_names(state: Mapping[str, torch.Tensor], expected: set[str]) -> dict:
    """Map ``weight_g``/``weight_v`` (old weight-norm names) to parametrization names when the
    module expects the latter, so checkpoints from either era load."""
    out = {}
    for key, value in state.items():
        if key.endswith(".weight_g"):
            alt = key[: -len("weight_g")] + "parametrizations.weight.original0"
            key = alt if alt in expected else key
        elif key.endswith(".weight_v"):
            alt = key[: -len("weight_v")] + "parametrizations.weight.original1"
            key = alt if alt in expected else key
        out[key] = value
    return out


def load_state_into(module: torch.nn.Module, state: Mapping[str, torch.Tensor], what: str) -> None:
    """Load ``state`` strictly enough to catch an incomplete checkpoint, with a one-line error."""
    expected = set(module.state_dict())
    state = _legacy_weight_norm_names(state, expected)
    missing = sorted(expected - set(state))
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise ModelError(f"{what}: missing weight {missing[0]}{more}")
    try:
        module.load_state_dict({k: v for k, v in state.items() if k in expected}, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        detail = first[-1].strip() if first else "shape mismatch"
        raise ModelError(f"{what}: weights do not fit the config ({detail})") from None


def build_model(
    decoder_config: MusicgenDecoderConfig,
    codec_config: EncodecConfig,
    decoder_state: Mapping[str, torch.Tensor],
    codec_state: Mapping[str, torch.Tensor],
    *,
    name: str,
    source: str,
) -> MusicGenModel:
    """Modules from configs and state dicts → :class:`MusicGenModel` (float32, CPU)."""
    if getattr(decoder_config, "audio_channels", 1) != 1:
        raise ModelError(f"{name}: stereo MusicGen models are not supported (mono only)")
    decoder = MusicgenForCausalLM(decoder_config)
    load_state_into(decoder, decoder_state, f"{name} decoder")
    codec = EncodecModel(codec_config)
    load_state_into(codec, codec_state, f"{name} compression model")
    decoder.float()
    codec.float()
    digest = weights_digest({"decoder": decoder.state_dict(), "codec": codec.state_dict()})
    return MusicGenModel(name=name, decoder=decoder, codec=codec, weights_sha256=digest,
                         source=source)


def configs_from_dict(config: dict, folder: Path) -> tuple[MusicgenDecoderConfig, EncodecConfig]:
    if config.get("model_type") != "musicgen":
        raise ModelError(
            f"{folder.name}/config.json: model_type {config.get('model_type')!r} is not 'musicgen'"
        )
    for section in ("decoder", "audio_encoder"):
        if not isinstance(config.get(section), dict):
            raise ModelError(f"{folder.name}/config.json: missing the {section!r} section")
    try:
        return (MusicgenDecoderConfig.from_dict(config["decoder"]),
                EncodecConfig.from_dict(config["audio_encoder"]))
    except Exception as exc:
        raise ModelError(f"{folder.name}/config.json: invalid model config ({exc})") from None


def load_transformers_folder(folder: Path, name: str | None = None) -> MusicGenModel:
    """Load decoder and audio encoder of a transformers-format MusicGen folder."""
    folder = Path(folder)
    decoder_config, codec_config = configs_from_dict(read_json(folder / "config.json"), folder)
    tensors = read_prefixed_tensors(folder, (DECODER_PREFIX, CODEC_PREFIX))
    return build_model(decoder_config, codec_config, tensors[DECODER_PREFIX],
                       tensors[CODEC_PREFIX], name=name or folder.name, source=str(folder))


def save_transformers_folder(model: MusicGenModel, folder: Path,
                             extra_config: dict | None = None) -> Path:
    """Write ``model`` as a transformers-format folder (config.json + model.safetensors)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for prefix, module in ((DECODER_PREFIX, model.decoder), (CODEC_PREFIX, model.codec)):
        for key, value in module.state_dict().items():
            tensors[prefix + key] = value.detach().to("cpu").contiguous().clone()
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    config = {
        "model_type": "musicgen",
        "architectures": ["MusicgenForConditionalGeneration"],
        "decoder": model.decoder.config.to_dict(),
        "audio_encoder": model.codec.config.to_dict(),
        "text_encoder": dict(_PLACEHOLDER_TEXT_ENCODER),
        **(extra_config or {}),
    }
    with open(folder / "config.json", "w", encoding="utf-8") as fh:
        json.dump(config, fh, indent=2, sort_keys=True)
    return folder
