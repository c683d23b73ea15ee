"""Train the embedded ``lumina-tiny`` model on the demo catalog, on a CPU, in minutes.

``python -m lumina.demo.train`` renders the procedural catalog (8 compositions × 4 timbres,
24 s each), then

1. trains a tiny EnCodec-architecture codec (:func:`lumina.models.tiny.tiny_codec_config`:
   25 Hz frames, 2 residual levels of 64 codes — fewer, coarser codes survive decode →
   re-encode better, measured in the model card) in two phases (see :func:`train_codec`):
   after a data-dependent initialisation (:func:`data_dependent_init`), a plain
   autoencoder; then residual VQ codebooks k-means seeded on the trained encoder's frames
   (:func:`lumina.models.tiny.seed_codebooks`), the encoder frozen, and the decoder trained
   on quantised frames with a multi-resolution log-STFT + waveform L1 loss and a *cycle*
   term asking that decoded audio encode back onto the frames it came from (generated audio
   is decoded and re-encoded before it is fingerprinted, so codes must survive that trip);
2. freezes the codec, encodes every song 10 s at a time (as the fingerprinter does), and
   trains the tiny MusicGen decoder with teacher forcing on random 16 s windows of those
   codes (longer than a query's 3 s prompt + 10 s continuation, so sampling never leaves
   the positions it was trained on), using :meth:`MusicGenModel.per_example_loss` itself
   as the loss, so training and fingerprinting see the same delay pattern and the same
   null conditioning;
3. writes ``config.json``, ``model.safetensors``, ``MODEL_CARD.md`` and ``training_log.json``
   to ``resources/models/lumina-tiny/``, which :func:`lumina.models.load_model` loads as
   ``lumina-tiny``.

Same seed, same loss curve: seeds for torch and for the data order (a ``numpy`` Generator),
deterministic algorithms and a fixed thread count; only a wall-clock budget (``--minutes``),
which stops a stage early when it is exceeded and says so in the log, can change the result.

The stages live in :mod:`lumina.demo.train_codec` and :mod:`lumina.demo.train_decoder`,
their shared loop, recipe and determinism in :mod:`lumina.demo.training`; this module runs
them in order and writes the model folder with its card.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from lumina.demo.catalog import Catalog, build_catalog
from lumina.demo.train_codec import (
    AudioSegments,
    at_reference_level,
    code_usage,
    codec_report,
    new_codec,
    train_codec,
)
from lumina.demo.train_decoder import (
    CHUNK_SECONDS,
    catalog_vs_shuffled_loss,
    encode_song,
    new_decoder,
    train_decoder,
)
from lumina.demo.training import Progress, TrainConfig, deterministic, loss_curve
from lumina.models.musicgen import MusicGenModel, weights_digest
from lumina.models.tiny import SAMPLE_RATE, TINY_NAME

__all__ = ["codec_calibration", "codec_settings", "default_output", "main", "render_catalog",
           "reuse_codec", "save_model", "train_tiny_model"]


def render_catalog(catalog: Catalog) -> list[np.ndarray]:
    """Every catalog song rendered: float32 (S,) each, in catalog order."""
    return [catalog.render(song) for song in catalog.songs]


def train_tiny_model(catalog: Catalog, config: TrainConfig | None = None,
                     progress: Progress | None = None, budget_s: float | None = None,
                     audio: Sequence[np.ndarray] | None = None,
                     evaluate: bool = True,
                     codec_from: Path | None = None) -> tuple[MusicGenModel, dict]:
    """Codec, then decoder, trained on ``catalog``; returns the model and the training log.

    Parameters
    ----------
    catalog : the songs to learn (rendered here unless ``audio`` is given).
    config : hyper-parameters and seeds (defaults: :class:`TrainConfig`).
    budget_s : wall-clock budget; the codec gets ``codec_steps / (codec_steps + lm_steps)``
        of it and the decoder what is left. A stage cut short is marked in the log.
    audio : the rendered songs (float32 (S,) each), if already at hand.
    evaluate : also measure the codec and the decoder (costs a few seconds).
    codec_from : a model folder this recipe wrote before: its codec is reused instead of
        trained again (the resume point of a run that needs more than one sitting). Every
        setting the codec depends on must be the same (:func:`codec_settings`).
    """
    config = config or TrainConfig()
    t_start = time.monotonic()
    log: dict = {"config": asdict(config), "timings_s": {}}
    with deterministic(config.seed, config.threads):
        audio = list(audio) if audio is not None else render_catalog(catalog)
        # What the codec trains on: every song at the level its encoder will see.
        codec_audio = at_reference_level(audio, config)
        calibration = codec_calibration(codec_audio, config)
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
        if codec_from is not None:
            earlier = reuse_codec(codec, Path(codec_from), config)
            for key in ("codec_steps_done", "codec_loss_curve"):
                log[key] = earlier[key]
            log["codec_from"] = {"weights_sha256": earlier["weights_sha256"],
                                 "codec_seconds": earlier["timings_s"].get("codec")}
        else:
            total_steps = max(1, config.codec_steps + config.lm_steps)
            codec_budget = (None if budget_s is None
                            else budget_s * config.codec_steps / total_steps)
            segments = AudioSegments(codec_audio,
                                     int(config.codec_segment_seconds * SAMPLE_RATE),
                                     config.seed + 4)
            codec_losses = train_codec(codec, segments, config.codec_steps, config,
                                       calibration, progress, codec_budget)
            log["codec_steps_done"] = len(codec_losses)
            log["codec_loss_curve"] = loss_curve(codec_losses, config.log_every)
        log["timings_s"]["codec"] = round(time.monotonic() - t0, 1)
        if evaluate:
            log["codec_after"] = codec_report(model, eval_audio, changes=True)

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
        log["lm_loss_curve"] = loss_curve(lm_losses, config.log_every)
        if evaluate:
            real, shuffled = catalog_vs_shuffled_loss(model, codes)
            log["catalog_loss"] = round(real, 4)
            log["shuffled_loss"] = round(shuffled, 4)
        log["stopped_by_budget"] = (log["codec_steps_done"] < config.codec_steps
                                    or len(lm_losses) < config.lm_steps)
    model.weights_sha256 = weights_digest({"decoder": decoder.state_dict(),
                                           "codec": codec.state_dict()})
    model.source = f"trained on the demo catalog, seed {config.seed}"
    log["weights_sha256"] = model.weights_sha256
    log["timings_s"]["total"] = round(time.monotonic() - t_start, 1)
    return model, log


def codec_calibration(codec_audio: Sequence[np.ndarray], config: TrainConfig) -> np.ndarray:
    """(N, S) float32: one ``codec_calibration_seconds`` excerpt of each song (S,) at a
    seeded offset, what the codebooks are k-means seeded on."""
    rng = np.random.default_rng(config.seed)
    cal_len = int(config.codec_calibration_seconds * SAMPLE_RATE)
    cal_len = min(cal_len, min(a.size for a in codec_audio))
    starts = [int(rng.integers(0, a.size - cal_len + 1)) for a in codec_audio]
    return np.stack([a[s:s + cal_len] for a, s in zip(codec_audio, starts, strict=True)])


def codec_settings(config: dict) -> dict:
    """The recorded settings a trained codec depends on: the seed, the catalog and every
    ``codec_*`` field, plus its codebooks and card."""
    keys = ("seed", "threads", "n_compositions", "n_timbres", "seconds", "catalog_seed",
            "codebooks", "card")
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in config.items()
            if k in keys or k.startswith("codec_")}


def reuse_codec(codec: torch.nn.Module, folder: Path, config: TrainConfig) -> dict:
    """Load the codec of ``folder`` (written by this recipe) into ``codec``; returns that
    folder's training log. Raises ValueError when the folder's codec was trained with other
    settings than ``config``'s."""
    from lumina.models.transformers_folder import load_transformers_folder

    with open(folder / "training_log.json", encoding="utf-8") as fh:
        earlier = json.load(fh)
    # A field added to the recipe after that run counts at its default (the old behaviour).
    want = codec_settings(asdict(config))
    have = codec_settings({**asdict(TrainConfig()), **earlier["config"]})
    if want != have:
        diff = sorted(k for k in set(want) | set(have) if want.get(k) != have.get(k))
        raise ValueError(f"{folder}: its codec was trained with other settings ({diff})")
    if earlier.get("codec_steps_done", 0) < config.codec_steps:
        raise ValueError(f"{folder}: its codec training was cut short")
    codec.load_state_dict(load_transformers_folder(folder).codec.state_dict())
    return earlier


# --------------------------------------------------------------------------- output


def default_output() -> Path:
    """The embedded model's folder, where :func:`lumina.models.load_model` looks."""
    from lumina.models import embedded_model_path

    return embedded_model_path()


def _codec_recipe(cfg: dict) -> str:
    """How the codec was trained, in words, from the recorded config."""
    ae = int(round(cfg["codec_steps"] * cfg["codec_ae_fraction"]))
    init = ("data-dependent initialisation of every convolution"
            if cfg.get("codec_init", "data") == "data" else "transformers' default init")
    invariance = cfg.get("codec_invariance", 0.0)
    ae_loss = "plain autoencoder (no quantiser)"
    if invariance > 0:
        low, high = cfg["codec_noise_snr_db"]
        ae_loss = (f"autoencoder (no quantiser) plus {invariance:g}·invariance term (how far "
                   f"the encoder's frames move under white noise at {low:g}–{high:g} dB SNR "
                   "and under decode → re-encode, over the frames' variance)")
    text = (f"{init}; steps 1–{ae}: {ae_loss}; then RVQ codebooks "
            f"k-means seeded ({cfg['codec_kmeans_iterations']} iterations) on the trained "
            "encoder's frames of the calibration excerpts; remaining steps: decoder on "
            "quantised frames, loss = multi-resolution log-STFT L1 + spectral convergence + "
            f"{cfg['codec_wave_l1']:g}·waveform L1 + {cfg['codec_cycle']:g}·cycle term "
            "(‖enc(dec(q)) − q‖² over the frames' variance)")
    if cfg.get("codec_chroma", 0.0) > 0:
        text += (f"; both phases add {cfg['codec_chroma']:g}·chroma term (1 − cosine of the "
                 "centred 12-class chroma at n_fft 4096, lumina.demo.pitch_loss)")
    if cfg["codec_encoder_lr_scale"] > 0:
        text += (f"; encoder at {cfg['codec_encoder_lr_scale']:g}× the learning rate with "
                 f"{cfg['codec_commitment']:g}·commitment, codebooks by EMA (decay "
                 f"{cfg['codec_ema_decay']:g}) with dead-code restarts")
    else:
        text += "; encoder and codebooks frozen after the k-means seeding"
    return text


def _card(log: dict, catalog: Catalog) -> str:
    cfg = log["config"]
    hop = int(np.prod(cfg.get("codec_ratios", (8, 5, 4, 4))))
    normalize = bool(cfg.get("codec_normalize", False))
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
        f"- codec: `tiny_codec_config()` (32 kHz mono, hop {hop} = {32000 / hop:g} Hz, "
        f"{cfg['codebooks']}-level RVQ of {cfg['card']} codes"
        f"{', loudness normalised to RMS 0.1 per encoded chunk' if normalize else ''}); "
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
            *(f"| codes unchanged by {label}, per codebook | | {after[key]} |"
              for key, label in (("mp3_survival", "MP3 128 kbit/s"),
                                 ("noise20_survival", "white noise at 20 dB SNR"),
                                 ("gain_minus6db_survival", "a −6 dB gain change"))
              if after.get(key) is not None),
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
            "index); the continuation alone was fingerprinted (gradients of the "
            f"{link.get('output_function', 'loss/1')} output function) and the catalog ranked "
            "by cosine. Top-1 accuracy (chance: song "
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
        lines += [""]
    follow = log.get("follow")
    if follow:
        lines += [
            "## Do continuations follow their song?",
            "",
            f"The same continuations, compared on the codes before any decoding: the song's "
            f"codes after its first {follow['prompt_seconds']:g} s against the "
            f"{follow['seconds']:g} s the model sampled. Codes equal to the song's, per "
            f"codebook: {follow['agreement']}; songs whose continuation follows them for the "
            f"whole {follow['seconds']:g} s (at least half of codebook 1 equal in every "
            f"second): {follow['followed']:.2f}.",
            "",
        ]
    lost = log.get("source_lost")
    if lost:
        words = {"sampled_codes": "the continuation's sampled codes, no codec trip",
                 "round_trip": "the same continuation decoded and encoded again (a file)",
                 "real_excerpt": "the song's own audio at the same place (3–13 s)"}
        lines += ["## Where the source is lost", "",
                  "Source song top-1, per channel (both on the audio, gradients of the "
                  f"{(link or {}).get('output_function', 'loss/1')} output function), for "
                  "three queries per song:",
                  "", "| query | " + " | ".join(lost[next(iter(lost))]) + " |",
                  "|---|" + "---|" * len(lost[next(iter(lost))])]
        for key, rates in lost.items():
            lines.append(f"| {words.get(key, key)} | "
                         + " | ".join(f"{v:.2f}" for v in rates.values()) + " |")
        lines.append("")
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


def measure_continuations(model: MusicGenModel, catalog: Catalog, audio: list[np.ndarray],
                          config: TrainConfig, log: dict) -> None:
    """Continue every catalog song: do the codes follow the song (:func:`follow_rate`), and
    is the song found from the continuation's fingerprints (:func:`causal_link`)? Adds
    ``follow`` and ``causal_link`` to ``log``."""
    from lumina.demo.generate import causal_link, follow_rate

    t0 = time.monotonic()
    print("measuring continuations (continue every song, compare codes, fingerprint, rank) "
          "...", flush=True)
    with deterministic(config.seed, config.threads):
        log["follow"] = follow_rate(model, audio)
        log["causal_link"] = causal_link(model, catalog, audio)
    log["timings_s"]["causal_link"] = round(time.monotonic() - t0, 1)
    print(f"  codes follow their song for the whole continuation: "
          f"{log['follow']['followed']:.2f} of songs; agreement per codebook "
          f"{log['follow']['agreement']}", flush=True)
    for ch in model.channels:
        r = log["causal_link"][ch]
        print(f"  {ch}: top-1 song {r['song']:.2f}, composition {r['composition']:.2f}, "
              f"timbre {r['timbre']:.2f}", flush=True)


def _remeasure(folder: Path) -> int:
    """Measure a trained model folder again with this code (codec report with MP3 / noise /
    gain survival, follow rate, causal link) and rewrite its log and card."""
    from lumina.demo.train_decoder import CHUNK_SECONDS as CHUNK
    from lumina.models.transformers_folder import load_transformers_folder

    with open(folder / "training_log.json", encoding="utf-8") as fh:
        log = json.load(fh)
    cfg = log["config"]
    config = TrainConfig(**{k: tuple(v) if isinstance(v, list) else v
                            for k, v in cfg.items()})
    catalog = build_catalog(cfg["n_compositions"], cfg["n_timbres"], cfg["seconds"],
                            seed=cfg["catalog_seed"])
    audio = render_catalog(catalog)
    model = load_transformers_folder(folder, name=TINY_NAME)
    eval_audio = [a[: int(CHUNK * SAMPLE_RATE)] for a in audio[:: max(1, len(audio) // 8)]]
    from lumina.demo.generate import where_the_source_is_lost
    from lumina.demo.train_decoder import catalog_vs_shuffled_loss, encode_song

    with deterministic(config.seed, config.threads):
        log["codec_after"] = codec_report(model, eval_audio, changes=True)
        real, shuffled = catalog_vs_shuffled_loss(model, [encode_song(model, a)
                                                          for a in audio])
        log["catalog_loss"], log["shuffled_loss"] = round(real, 4), round(shuffled, 4)
        log["source_lost"] = where_the_source_is_lost(model, audio)
    measure_continuations(model, catalog, audio, config, log)
    with open(folder / "training_log.json", "w", encoding="utf-8") as fh:
        json.dump(log, fh, indent=1)
    (folder / "MODEL_CARD.md").write_text(_card(log, catalog), encoding="utf-8")
    print(f"rewrote {folder / 'training_log.json'} and {folder / 'MODEL_CARD.md'}")
    return 0


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
    parser.add_argument("--codec-from", type=Path, default=None, metavar="FOLDER",
                        help="reuse the codec of a model folder this recipe wrote (same "
                             "settings) and train only the decoder: the resume point")
    parser.add_argument("--codec-chroma", type=float, default=defaults.codec_chroma,
                        help="weight of the codec's pitch-class loss (0: off)")
    parser.add_argument("--lm-window", type=int, default=defaults.lm_window,
                        help="frames per decoder training window")
    parser.add_argument("--remeasure", action="store_true",
                        help="measure the model in --out again (codec, continuations) and "
                             "rewrite its training_log.json and MODEL_CARD.md")
    args = parser.parse_args(argv)
    if args.remeasure:
        return _remeasure(args.out or default_output())
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
                         hidden=args.hidden, layers=args.layers, lm_window=args.lm_window,
                         codec_chroma=args.codec_chroma)
    out = args.out or default_output()
    start = time.monotonic()
    catalog = build_catalog(config.n_compositions, config.n_timbres, config.seconds,
                            seed=config.catalog_seed)
    print(f"training {TINY_NAME} on {len(catalog.songs)} songs "
          f"({config.codec_steps} codec + {config.lm_steps} decoder steps, "
          f"{config.threads} threads) → {out}", flush=True)
    budget = None if args.minutes is None else 60.0 * args.minutes
    audio = render_catalog(catalog)
    try:
        model, log = train_tiny_model(catalog, config, _printer(start, config.log_every),
                                      budget, audio=audio, codec_from=args.codec_from)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.causal_link:
        measure_continuations(model, catalog, audio, config, log)
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
