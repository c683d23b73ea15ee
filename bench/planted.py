"""Planted influence (issue 21): is a song the model was made to learn found in what it then
generates, and not found when the model never learnt it?

    python bench/planted.py [--planted 16] [--seeds 3] [--steps 150] [--share 1.0]
        [--prompt 0] [--samples 2] [--threads 1] [--summary]

The ground truth is causal by construction (the AbC benchmark's idea, Wang et al. 2023).
There are ``--planted`` procedural songs that no catalog holds: held-out compositions of
another seed, each in one of the catalog's timbres, so the codec knows the sound. For each
of them, and once per ``--seeds``, a copy of the embedded decoder is fine-tuned for
``--steps`` steps. By default it learns the planted song alone (``--share 1``, the
customised model of AbC). With ``--share`` below 1 it learns the demo catalog plus the
planted song, with that fraction of the windows drawn from the planted song.

Each fine-tuned model then generates ``--samples`` 10 s samples: unprompted, or continuing
the first ``--prompt`` seconds of the planted song. The samples are fingerprinted with the
*shipped* model (the library's) and ranked against the demo library plus the planted song,
33 songs in all. Per channel the bench prints three things: recall@1 and @5 of the planted
song, with 95 % Wilson intervals; how often the default gate (fdr) names it; and the same
figures for the MFCC + chroma baseline.

Each of these sits next to the **control**: samples of the shipped model with the same seeds
and prompt. The shipped model never saw the planted song, so the rates it gets come from
resemblance (or from the prompt), not from influence. Influence shows as fine-tuned ≫
control.

Every (planted song, seed) result is a JSON file under the demo cache's ``planted/``
folder, one folder per recipe, so an interrupted run resumes where it stopped.
``--summary`` prints the table from what is there. The fine-tuned decoders are not kept.

First look (2026-12-03, 2 planted songs × 1 seed × 2 samples, 150 steps, made before the
fixed pool, so other songs than the pool's first two; the loss on the planted song fell from
6.8 to 0.02–0.06 nats/code):

- share 1, unprompted: production recall@1 4/4 (control 0/4); composition 0/4 (0/4); the
  MFCC + chroma baseline 0/4 (ranks 22–30 of 33: the samples do not *sound* like the planted
  song through this codec, yet the gradient finds it); fdr named it 0/4.
- share 0.25 with a 3 s prompt: production @1 2/4 (control 0/4), @5 3/4 (control 4/4: the
  prompt alone brings the song near the top).
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import numpy as np

try:
    import lumina  # noqa: F401
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PLANT_SEED = 77  # the held-out stream's seed for planted compositions (the study uses 0)
SAMPLE_SECONDS = 10.0
POOL = 16  # planted songs available (see planted_songs)
VERSION = 1


def parse(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--planted", type=int, default=16)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--steps", type=int, default=150, help="fine-tuning steps")
    p.add_argument("--share", type=float, default=1.0,
                   help="fraction of fine-tuning windows drawn from the planted song")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--samples", type=int, default=2, help="samples per model")
    p.add_argument("--prompt", type=float, default=0.0,
                   help="seconds of the planted song's opening to continue (0: unprompted)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--summary", action="store_true", help="only print the stored results")
    return p.parse_args(argv)


def results_folder(cache: Path, args: argparse.Namespace) -> Path:
    """Where one recipe's results live (a changed recipe starts a new folder)."""
    return cache / "planted" / (f"v{VERSION}-steps{args.steps}-share{args.share:g}"
                                f"-lr{args.lr:g}-prompt{args.prompt:g}")


def planted_songs(n: int):
    """(composition, timbre) of the first ``n`` planted songs: held-out compositions,
    catalog timbres. Drawn from a fixed pool of :data:`POOL`, because the composition
    generator's draws depend on how many it makes: song k must be the same song whatever
    ``--planted`` says, or resumed results would mix songs."""
    from lumina.demo.catalog import heldout_compositions, make_timbres

    if not 1 <= n <= POOL:
        raise SystemExit(f"--planted must be between 1 and {POOL}")
    timbres = make_timbres(4)
    return [(c, timbres[i % len(timbres)])
            for i, c in enumerate(heldout_compositions(POOL, seed=PLANT_SEED)[:n])]


def fine_tune(model, catalog_codes, planted_codes, args, seed: int):
    """A copy of ``model`` whose decoder was trained on the catalog plus the planted song."""
    from lumina.demo.train_decoder import train_decoder
    from lumina.demo.training import TrainConfig, deterministic
    from lumina.models.musicgen import MusicGenModel

    # The planted song appears often enough in the list that about `share` of the windows
    # are drawn from it (CodeWindows draws songs uniformly).
    if args.share >= 1.0:
        repeats, codes = 1, [planted_codes]  # the planted song alone
    else:
        repeats = max(1, round(args.share * len(catalog_codes) / (1.0 - args.share)))
        codes = list(catalog_codes) + [planted_codes] * repeats
    cfg = TrainConfig(seed=seed, threads=args.threads, lm_steps=args.steps, lm_lr=args.lr)
    tuned = MusicGenModel(name="planted", decoder=copy.deepcopy(model.decoder),
                          codec=model.codec, weights_sha256="", source="planted")
    with deterministic(cfg.seed, cfg.threads):
        losses = train_decoder(tuned, codes, cfg.lm_steps, cfg)
    tuned.decoder.eval()
    return tuned, float(np.mean(losses[-10:])), repeats


def generated(model, seed: int, prompt_codes) -> np.ndarray:
    """A 10 s sample: from nothing (null conditioning, ``prompt_codes`` with no frames) or
    continuing the prompt (only the new audio is returned)."""
    from lumina.demo.generate import continue_song

    return continue_song(model, prompt_codes, SAMPLE_SECONDS, seed=seed)


def rank_of_last(scores: np.ndarray) -> int:
    """0-based rank of the last entry (the planted song) among all, highest first."""
    return int(np.sum(scores > scores[-1]))


def judge(audio: np.ndarray, fingerprinter, indexes, base_library, rate: int) -> dict:
    """Rank of the planted song (the last library row) per channel and for the baseline,
    and whether the default gate names it."""
    from lumina.attribution import AttributionParams, channel_scores
    from lumina.validation.baselines import baseline_scores, chroma_mean, mfcc_mean

    fp = fingerprinter.fingerprint_audio(audio)
    gate = AttributionParams().gating
    out = {}
    for ch, index in indexes.items():
        _, z = channel_scores(fp.channels[ch], index)
        out[ch] = {"rank": rank_of_last(z), "named": bool(gate.apply(z).named[-1])}
    base = baseline_scores({"chroma": chroma_mean(audio, rate), "mfcc": mfcc_mean(audio, rate)},
                           base_library)
    out["baseline"] = {"rank": rank_of_last(base["combined"]), "named": None}
    return out


def run(args) -> Path:
    import torch

    from lumina.attribution import build_channel_index
    from lumina.demo.catalog import render_song
    from lumina.demo.run import prepare_demo_library
    from lumina.demo.train_decoder import encode_song
    from lumina.library import Library
    from lumina.validation.baselines import chroma_mean, mfcc_mean

    torch.set_num_threads(args.threads)
    demo = prepare_demo_library(say=lambda line: print(line, file=sys.stderr))
    fpr = demo.fingerprinter
    model = fpr.model
    rate = model.sample_rate
    folder = results_folder(demo.cache, args)
    folder.mkdir(parents=True, exist_ok=True)
    catalog = demo.catalog
    audio = [catalog.render(s) for s in catalog.songs]
    with Library.open(demo.path) as lib:
        prepared = lib.prepare()
        by_file = {Path(s.source_path).name: s.id for s in lib.songs()}
        row = {int(sid): r for r, sid in enumerate(prepared.song_ids)}
        order = [row[by_file[s.filename]] for s in catalog.songs]
        unit = {ch: np.asarray(ix.unit, dtype=np.float64)[order]
                for ch, ix in prepared.indexes.items()}
    catalog_codes = [encode_song(model, a) for a in audio]
    catalog_base = {"chroma": np.stack([chroma_mean(a, rate) for a in audio]),
                    "mfcc": np.stack([mfcc_mean(a, rate) for a in audio])}
    for k, (comp, timbre) in enumerate(planted_songs(args.planted)):
        song_audio = render_song(comp, timbre, 24.0, rate, seed=PLANT_SEED * 1000 + k)
        planted_fp = fpr.fingerprint_audio(song_audio)
        indexes = {ch: build_channel_index(np.vstack([m, planted_fp.channels[ch][None]]))
                   for ch, m in unit.items()}
        base_library = {"chroma": np.vstack([catalog_base["chroma"],
                                             chroma_mean(song_audio, rate)[None]]),
                        "mfcc": np.vstack([catalog_base["mfcc"],
                                           mfcc_mean(song_audio, rate)[None]])}
        planted_codes = encode_song(model, song_audio)
        prompt = planted_codes[:, :int(round(args.prompt * model.frame_rate))]
        for r in range(args.seeds):
            path = folder / f"p{k:02d}-seed{r}.json"
            if path.exists():
                continue
            t0 = time.monotonic()
            with torch.no_grad():
                loss_before = float(model.per_example_loss(planted_codes[None, :, :400]).mean())
            tuned, final_loss, repeats = fine_tune(model, catalog_codes, planted_codes, args,
                                                   seed=1000 * (k + 1) + r)
            with torch.no_grad():
                loss_after = float(tuned.per_example_loss(planted_codes[None, :, :400]).mean())
            tuned_rows, control_rows = [], []
            for g in range(args.samples):
                seed = 100 * r + g
                tuned_rows.append(judge(generated(tuned, seed, prompt), fpr, indexes,
                                        base_library, rate))
                # The shipped model, the same prompt and seed: it never saw the planted song.
                control_rows.append(judge(generated(model, seed, prompt), fpr, indexes,
                                          base_library, rate))
            result = {"planted": k, "composition": comp.name, "timbre": timbre.name,
                      "seed": r, "steps": args.steps, "share": args.share,
                      "windows_repeat": repeats, "lr": args.lr, "prompt_s": args.prompt,
                      "planted_loss_before": loss_before, "planted_loss_after": loss_after,
                      "final_train_loss": final_loss, "tuned": tuned_rows,
                      "control": control_rows, "seconds": round(time.monotonic() - t0, 1)}
            tmp = path.with_suffix(".part")
            tmp.write_text(json.dumps(result, indent=1))
            tmp.replace(path)
            print(f"planted {k} seed {r}: loss on it {loss_before:.2f} → {loss_after:.2f}; "
                  f"tuned ranks " + ", ".join(
                      f"{ch} {[row[ch]['rank'] for row in tuned_rows]}"
                      for ch in tuned_rows[0]) + f" ({result['seconds']:.0f} s)", flush=True)
    return folder


def summary(folder: Path) -> None:
    from lumina.validation.planted import METHODS, load_results, planted_summary

    result = planted_summary(load_results(folder))
    if not result["models"]:
        print(f"no results in {folder}")
        return
    print(f"{folder}: {result['models']} fine-tuned models ({result['planted']} planted "
          f"songs); loss on the planted song {result['loss_before']:.2f} → "
          f"{result['loss_after']:.2f} nats/code")
    print(f"{'samples':<8} {'method':<12} {'recall@1':>22} {'recall@5':>22} {'named (fdr)':>12}")
    for kind, per in result["rates"].items():
        for method in METHODS:
            r = per[method]
            cells = [f"{r[f'recall@{top}']:.3f} [{r[f'recall@{top}_ci'][0]:.2f}, "
                     f"{r[f'recall@{top}_ci'][1]:.2f}]" for top in (1, 5)]
            named = "–" if r["named"] is None else f"{r['named']:.3f}"
            print(f"{kind:<8} {method:<12} {cells[0]:>22} {cells[1]:>22} {named:>12}")
    print(f"chance: recall@1 {1 / 33:.3f}, recall@5 {5 / 33:.3f} (33 songs)")


def main(argv=None) -> int:
    args = parse(argv)
    if args.summary:
        from lumina.demo.run import prepare_demo_library

        demo = prepare_demo_library(say=lambda line: print(line, file=sys.stderr))
        folder = results_folder(demo.cache, args)
    else:
        folder = run(args)
    summary(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
