"""Model folders: transformers format, audiocraft import, and their one-line errors."""

from __future__ import annotations

import datetime
import json

import pytest
import torch

from lumina.errors import ModelError
from lumina.models import load_model
from lumina.models.audiocraft import (
    LM_FILE,
    lm_to_audiocraft,
    lm_to_transformers,
    save_audiocraft_folder,
)
from lumina.models.transformers_folder import save_transformers_folder


def _same_logits(a, b):
    codes = torch.randint(0, a.card, (2, a.num_codebooks, 25), generator=torch.Generator()
                          .manual_seed(3))
    states, mask = a.null_condition(2)
    inputs, _ = a.delayed_sequence(codes)
    la = a.decoder(input_ids=inputs, encoder_hidden_states=states,
                   encoder_attention_mask=mask, use_cache=False).logits
    lb = b.decoder(input_ids=inputs, encoder_hidden_states=states,
                   encoder_attention_mask=mask, use_cache=False).logits
    return torch.equal(la, lb)


def test_transformers_folder_round_trip(tiny_model, tmp_path):
    save_transformers_folder(tiny_model, tmp_path / "tf")
    loaded = load_model(tmp_path / "tf")
    assert loaded.weights_sha256 == tiny_model.weights_sha256
    assert _same_logits(tiny_model, loaded)
    audio = torch.randn(1, 16000)
    assert torch.equal(loaded.encode(audio), tiny_model.encode(audio))


def test_audiocraft_import_round_trips(tiny_model, tmp_path):
    folder = save_audiocraft_folder(tiny_model, tmp_path / "ac")
    raw = torch.load(folder / LM_FILE, weights_only=True)["best_state"]
    # really audiocraft's names: fused in_proj, linears, emb, transformer.*
    assert any(k.endswith("self_attn.in_proj_weight") for k in raw)
    assert any(k.startswith("linears.") for k in raw) and any(k.startswith("emb.") for k in raw)
    assert not any("q_proj" in k or "lm_heads" in k for k in raw)
    loaded = load_model(folder)
    assert loaded.weights_sha256 == tiny_model.weights_sha256
    assert _same_logits(tiny_model, loaded)
    audio = torch.randn(1, 16000)
    assert torch.equal(loaded.encode(audio), tiny_model.encode(audio))


def test_lm_key_map_is_invertible(tiny_model):
    state = tiny_model.decoder.state_dict()
    back = lm_to_transformers(lm_to_audiocraft(dict(state)))
    assert set(back) == set(state)
    assert all(torch.equal(back[k], state[k]) for k in state)


def test_missing_folder(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        load_model(tmp_path / "nope")


def test_unknown_format(tmp_path):
    (tmp_path / "weird").mkdir()
    (tmp_path / "weird" / "readme.txt").write_text("hi")
    with pytest.raises(ModelError, match="not a MusicGen model folder"):
        load_model(tmp_path / "weird")


def test_missing_weights(tiny_model, tmp_path):
    folder = save_transformers_folder(tiny_model, tmp_path / "tf")
    (folder / "model.safetensors").unlink()
    with pytest.raises(ModelError, match="no weights"):
        load_model(folder)


def test_missing_shard(tiny_model, tmp_path):
    folder = save_transformers_folder(tiny_model, tmp_path / "tf")
    (folder / "model.safetensors").rename(folder / "model-00001-of-00002.safetensors")
    index = {"weight_map": {"decoder.lm_heads.0.weight": "model-00001-of-00002.safetensors",
                            "audio_encoder.x": "model-00002-of-00002.safetensors"}}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(ModelError, match="missing weight shard model-00002-of-00002"):
        load_model(folder)


def test_incomplete_weights_name_the_missing_tensor(tiny_model, tmp_path):
    from safetensors.torch import load_file, save_file

    folder = save_transformers_folder(tiny_model, tmp_path / "tf")
    tensors = load_file(folder / "model.safetensors")
    del tensors["decoder.lm_heads.2.weight"]
    save_file(tensors, folder / "model.safetensors")
    with pytest.raises(ModelError, match="missing weight lm_heads.2.weight"):
        load_model(folder)


def test_not_musicgen_config(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ModelError, match="not 'musicgen'"):
        load_model(tmp_path / "m")


def test_corrupt_config(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text("{not json")
    with pytest.raises(ModelError, match="unreadable JSON"):
        load_model(tmp_path / "m")


def test_audiocraft_missing_compression(tiny_model, tmp_path):
    folder = save_audiocraft_folder(tiny_model, tmp_path / "ac")
    (folder / "compression_state_dict.bin").unlink()
    with pytest.raises(ModelError, match="missing compression_state_dict.bin"):
        load_model(folder)


def test_audiocraft_pickle_is_refused(tmp_path):
    """A checkpoint holding arbitrary objects is never unpickled."""
    folder = tmp_path / "ac"
    folder.mkdir()

    # Any class outside torch's allow-list stands for a malicious object.
    torch.save({"best_state": {}, "obj": datetime.date(2020, 1, 1)}, folder / LM_FILE)
    torch.save({"best_state": {}}, folder / "compression_state_dict.bin")
    with pytest.raises(ModelError, match="not a safe weights file"):
        load_model(folder)


def test_audiocraft_pretrained_codec_reference(tiny_model, tmp_path):
    folder = save_audiocraft_folder(tiny_model, tmp_path / "ac")
    torch.save({"pretrained": "facebook/encodec_32khz", "exported": True},
               folder / "compression_state_dict.bin")
    with pytest.raises(ModelError, match="refers to 'facebook/encodec_32khz'"):
        load_model(folder)
    # ... and loads once that codec sits beside it, in transformers format
    tiny_model.codec.save_pretrained(folder / "encodec_32khz")
    loaded = load_model(folder)
    assert loaded.weights_sha256 == tiny_model.weights_sha256


def test_channel_notes_come_from_the_model_folder(tmp_path, tiny_model):
    import dataclasses
    import json

    from lumina.models import channel_notes, load_model, model_scope

    embedded = load_model("lumina-tiny")
    # Every channel of the shipped model either separates (no note) or says what it was
    # measured to do, or that it was not measured; the model says it is a demonstration.
    for name, note in channel_notes(embedded, "shepard/1", "tempered/1").items():
        assert name in embedded.channels and ("%" in note or "not been measured" in note)
    assert "demonstration model" in model_scope(embedded)
    assert channel_notes(tiny_model) == {}  # built in memory: nothing measured
    assert model_scope(tiny_model) is None
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "channels.json").write_text(json.dumps({"channels": {
        "composition": {"separates": True, "note": "fine"},
        "production": {"separates": False, "note": "timbre only"}}}))
    model = dataclasses.replace(tiny_model, source=str(folder))
    assert channel_notes(model) == {"production": "timbre only"}
    # Notes measured on a rendering replace the composition channel's; none measured: say so.
    (folder / "channels.json").write_text(json.dumps({
        "channels": {"composition": {"separates": False, "note": "timbre"},
                     "production": {"separates": True, "note": "fine"}},
        "renderings": {"shepard/1": {"composition": {"separates": False,
                                                     "note": "rhythm more than melody"}}}}))
    assert channel_notes(model) == {"composition": "timbre"}
    assert channel_notes(model, "shepard/1") == {"composition": "rhythm more than melody"}
    assert channel_notes(model, "onset-clicks/1") == {"composition": (
        f"the composition channel on the onset-clicks/1 rendering has not been measured on "
        f"{model.name}")}
    (folder / "channels.json").write_text("{broken")
    assert channel_notes(model) == {}
