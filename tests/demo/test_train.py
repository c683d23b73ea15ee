"""Training of the embedded model: same seed, same curve (on a toy run), and the shipped
``lumina-tiny`` weights: they load, match their model card, use their codes, and have
learned the catalog (loss far below the same codes shuffled in time)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

from lumina.demo.catalog import build_catalog
from lumina.demo.train import main, train_tiny_model
from lumina.demo.train_codec import code_usage
from lumina.demo.train_decoder import catalog_vs_shuffled_loss, encode_song
from lumina.demo.training import TrainConfig
from lumina.models import embedded_model_path, load_model

MAX_FOLDER_BYTES = 20 * 1024 * 1024


def _toy_config(seed: int = 0) -> TrainConfig:
    """A few steps of everything on a tiny decoder: seconds, not minutes."""
    return TrainConfig(seed=seed, seconds=3.0, n_compositions=2, n_timbres=2,
                       codec_steps=3, codec_batch=2, codec_segment_seconds=0.5,
                       codec_calibration_seconds=1.0, lm_steps=3, lm_batch=2, lm_window=40,
                       hidden=32, heads=2, layers=1, log_every=1)


@pytest.fixture(scope="module")
def toy_catalog():
    cat = build_catalog(n_compositions=2, n_timbres=2, seconds=3.0, seed=0)
    return cat, [cat.render(s) for s in cat.songs]


def _toy_run(toy_catalog, seed: int):
    cat, audio = toy_catalog
    return train_tiny_model(cat, _toy_config(seed), audio=audio, evaluate=False)


def test_same_seed_same_loss_curve(toy_catalog):
    before = (torch.are_deterministic_algorithms_enabled(), torch.get_num_threads())
    model_a, log_a = _toy_run(toy_catalog, seed=0)
    model_b, log_b = _toy_run(toy_catalog, seed=0)
    assert len(log_a["lm_losses"]) == 3
    assert log_a["lm_losses"] == log_b["lm_losses"]
    assert log_a["codec_loss_curve"] == log_b["codec_loss_curve"]
    assert model_a.weights_sha256 == model_b.weights_sha256
    assert all(np.isfinite(log_a["lm_losses"]))
    # Training must leave global torch settings as it found them.
    assert (torch.are_deterministic_algorithms_enabled(), torch.get_num_threads()) == before


def test_other_seed_other_curve(toy_catalog):
    _, log_a = _toy_run(toy_catalog, seed=0)
    _, log_c = _toy_run(toy_catalog, seed=1)
    assert log_a["lm_losses"] != log_c["lm_losses"]


def test_main_writes_a_loadable_folder(tmp_path, capsys):
    out = tmp_path / "model"
    argv = ["--out", str(out), "--codec-steps", "2", "--lm-steps", "2", "--seconds", "3",
            "--compositions", "2", "--timbres", "2", "--hidden", "32", "--layers", "1",
            "--no-causal-link"]
    assert main(argv) == 0
    assert "eta" in capsys.readouterr().out
    names = {p.name for p in out.iterdir()}
    assert {"config.json", "model.safetensors", "MODEL_CARD.md", "training_log.json"} <= names
    model = load_model(out)
    meta = json.loads((out / "config.json").read_text())["lumina"]
    assert meta["weights_sha256"] == model.weights_sha256
    assert model.weights_sha256 in (out / "MODEL_CARD.md").read_text()
    log = json.loads((out / "training_log.json").read_text())
    assert log["lm_steps_done"] == 2 and log["weights_sha256"] == model.weights_sha256


# --------------------------------------------------------------------------- shipped model


@pytest.fixture(scope="module")
def shipped():
    return load_model("lumina-tiny")


@pytest.fixture(scope="module")
def catalog_codes(shipped):
    """Codes of 8 catalog songs (one per composition, timbres cycling), as in training."""
    cat = build_catalog()
    songs = [s for s in cat.songs if s.timbre_id == s.composition_id % 4]
    return [encode_song(shipped, cat.render(s)) for s in songs]


def test_shipped_weights_match_the_model_card(shipped):
    folder = embedded_model_path()
    card = (folder / "MODEL_CARD.md").read_text(encoding="utf-8")
    digests = re.findall(r"`([0-9a-f]{64})`", card)
    assert digests and digests[0] == shipped.weights_sha256
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    assert config["lumina"]["weights_sha256"] == shipped.weights_sha256
    assert shipped.name == "lumina-tiny"
    recipe = TrainConfig()
    assert (shipped.num_codebooks, shipped.card, shipped.sample_rate) == (
        recipe.codebooks, recipe.card, 32000)
    assert shipped.codec.config.hop_length == int(np.prod(recipe.codec_ratios))
    size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
    assert size <= MAX_FOLDER_BYTES


def test_shipped_codes_use_many_values(catalog_codes):
    usage = code_usage(catalog_codes)
    assert len(usage) == TrainConfig().codebooks
    assert min(usage) >= 0.75 * TrainConfig().card, usage


def test_shipped_decoder_learned_the_catalog(shipped, catalog_codes):
    real, shuffled = catalog_vs_shuffled_loss(shipped, catalog_codes)
    assert real < 0.6 * shuffled, (real, shuffled)


@pytest.fixture(scope="module")
def catalog_audio():
    """The first 10 s of 8 catalog songs (one per composition), as the model card measures."""
    cat = build_catalog()
    songs = [s for s in cat.songs if s.timbre_id == s.composition_id % 4]
    return cat, [cat.render(s) for s in songs]


def test_shipped_codec_codes_survive_a_round_trip(shipped, catalog_audio):
    from lumina.demo.train_codec import code_stability

    _, audio = catalog_audio
    kept = code_stability(shipped, [a[: 10 * 32000] for a in audio])
    # Measured on the shipped weights (model card): codebook 1 keeps ~0.87, all ~0.76.
    # Floors, not the goals (0.95 / 0.80, missed and reported): a regression trips.
    assert kept[0] >= 0.80 and float(np.mean(kept)) >= 0.70, kept


def test_shipped_continuations_follow_their_song(shipped, catalog_audio):
    from lumina.demo.generate import follow_rate

    torch.set_num_threads(1)
    _, audio = catalog_audio
    follow = follow_rate(shipped, audio)
    # Measured on all 32 songs: 0.69 followed for the whole 10 s (the former model: drift
    # after 1-4 s, because sampling ran past the positions it was trained on).
    assert follow["followed"] >= 0.5, follow
