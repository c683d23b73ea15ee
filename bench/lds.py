"""Influence, not resemblance: the linear datamodeling score (LDS) of LUMINA's scores.

    python bench/lds.py [--models 32] [--steps 200] [--phase all|train|analyze]

Not run in CI: the training phase takes about 30-40 minutes on one CPU thread.

Ground truth (issue 12). The embedded model's codec is kept FIXED (the shipped lumina-tiny
codec and its codes of the 8 × 4 demo catalog); only the decoder is retrained, from the same
init seed as lumina-tiny's (``TrainConfig.seed`` 0), with a short recipe (``--steps`` AdamW
steps, batch 8 × ``--window`` frames, lr 3e-3, warm-up 20, cosine), each of ``--models``
copies on a random half of the 32 catalog songs (subset j drawn from ``[--subset-seed, j]``).
One more decoder, trained the same way on all 32 songs, is the model whose fingerprints the
attribution methods use ("short-full"); the shipped lumina-tiny (4000 steps) is scored too.
Every gradient method is scored twice in one run: on fingerprints of the default `tempered`
output function and of the paper's `loss` (labels ending in ", loss").

Queries, none in any training set: compositions 0-7 in timbres 4-5 (new timbre), compositions
8-11 in timbres 0-3 (new composition), compositions 8-11 in timbres 4-5 (both new) — all from
``build_catalog(12, 6)``, the middle 10 s — and 8 continuations sampled by lumina-tiny from
3 s prompts of catalog songs (10 s of codes, fingerprinted as codes, decoded for the
baselines). The actual outcome of query q under subset model m is −(teacher-forced loss).

Methods: gradient cosine (the paper's score), kernel-regression weights (λ = 0.01, the
paper's, on raw and on library-centred fingerprints; a sweep over λ), the calibrated
empirical-null z scores; per channel and combined (the mean of the two channels' scores).
Baselines: MFCC / chroma cosine (``lumina.validation``), a bag-of-codes histogram cosine,
and the metadata indicators "same timbre" and "same composition". The predicted effect of a
subset is the sum of the method's scores over its songs; LDS = Spearman(predicted, −loss)
across subsets, mean over queries, 95 % bootstrap interval over queries (``lumina.validation.lds``).

Everything is cached under the demo cache folder (``<cache>/lds/<key>/``, the key hashing
every parameter): one ``model-XXX.pt`` + ``.json`` per trained decoder, written as it
finishes, so an interrupted run resumes where it stopped. ``results.json`` there (and a copy
at ``<cache>/lds/results.json`` for ``lumina validate``) holds the table.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from lumina.validation.lds import bootstrap_mean, lds, sample_subsets  # noqa: E402

CATALOG_KEY = "8x4x24s-seed0"
# Seconds, turned into frames at the model's frame rate (:func:`frames`): the middle 10 s of
# a 24 s song, and the prompt of a continuation.
QUERY_START_S, QUERY_S, PROMPT_S, CHUNK_S = 7.0, 10.0, 3.0, 10.0
LAMBDAS = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)
N_CONTINUATIONS = 8
CONTINUATION_SEED = 1000
RECIPE_VERSION = 2  # 2: positions in seconds (lumina-tiny's codec went from 50 to 25 Hz)
#: Output functions whose fingerprints are scored side by side (lumina.fingerprint.output).
OUTPUT_FUNCTIONS = ("tempered", "loss")


def frames(model, seconds: float) -> int:
    """``seconds`` of codes at the model's frame rate."""
    return int(round(seconds * model.frame_rate))


def parse(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", type=int, default=32, help="subset models M (≥ 32 for issue 12)")
    p.add_argument("--steps", type=int, default=200, help="decoder steps per model")
    p.add_argument("--window", type=int, default=250,
                   help="frames per training window (250: 10 s at lumina-tiny's 25 Hz)")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--fraction", type=float, default=0.5, help="share of songs per subset")
    p.add_argument("--subset-seed", type=int, default=12)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--boot", type=int, default=2000)
    p.add_argument("--phase", choices=("all", "train", "analyze"), default="all")
    p.add_argument("--headline", default="short-full",
                   help="fingerprint model whose rows `lumina validate` shows")
    p.add_argument("--cache", type=Path, default=None, help="default: the demo cache folder")
    return p.parse_args(argv)


# --------------------------------------------------------------------------- setup


def shipped():
    from lumina.models import load_model

    return load_model()


def run_folder(args, model) -> Path:
    from lumina.demo.run import demo_cache

    params = {"v": RECIPE_VERSION, "steps": args.steps, "window": args.window,
              "batch": args.batch, "fraction": args.fraction, "subset_seed": args.subset_seed,
              "threads": args.threads, "init_seed": 0, "codec": model.weights_sha256}
    key = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]
    base = args.cache or demo_cache(model.weights_sha256, CATALOG_KEY)
    folder = Path(base) / "lds" / key
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "params.json").write_text(json.dumps(params, indent=1))
    return folder


def catalog_codes(model, folder: Path):
    """(catalog, rendered audio, codes (32, K, 24 s)) of the training catalog, codes cached."""
    import torch

    from lumina.demo.catalog import build_catalog
    from lumina.demo.train import render_catalog
    from lumina.demo.train_decoder import encode_song

    catalog = build_catalog(8, 4, 24.0, 0)
    audio = render_catalog(catalog)
    path = folder / "catalog-codes.pt"
    if path.exists():
        codes = torch.load(path)
    else:
        with torch.no_grad():
            codes = torch.stack([encode_song(model, a) for a in audio])
        torch.save(codes, path)
    return catalog, audio, codes


def _atomic_save(obj, path: Path) -> None:
    import torch

    tmp = path.with_name(path.name + ".part")
    torch.save(obj, tmp)
    os.replace(tmp, path)


# --------------------------------------------------------------------------- training


def train_one(model, codes, songs: np.ndarray, args, checkpoints=()):
    """A fresh decoder (init seed 0) trained on ``codes[songs]``; returns (state, log,
    {step: state} at ``checkpoints``)."""
    from lumina.demo.train_decoder import new_decoder, train_decoder
    from lumina.demo.training import TrainConfig, deterministic
    from lumina.models.musicgen import MusicGenModel

    cfg = TrainConfig(seed=0, threads=args.threads, lm_steps=args.steps, lm_batch=args.batch,
                      lm_window=args.window)
    snaps = {}
    with deterministic(cfg.seed, cfg.threads):
        dec = new_decoder(cfg)
        m = MusicGenModel(name="lds", decoder=dec, codec=model.codec, weights_sha256="",
                          source="lds")

        def progress(_stage, step, _total, _loss):
            if step in checkpoints:
                snaps[step] = {k: v.detach().clone() for k, v in dec.state_dict().items()}

        t0 = time.monotonic()
        losses = train_decoder(m, [codes[i] for i in songs], cfg.lm_steps, cfg, progress)
    log = {"songs": [int(i) for i in songs], "seconds": round(time.monotonic() - t0, 1),
           "final_loss": float(np.mean(losses[-10:])), "init_seed": cfg.seed,
           "data_seed": cfg.seed + 3, "steps": len(losses)}
    return {k: v.detach().clone() for k, v in dec.state_dict().items()}, log, snaps


def train_all(args, model, folder: Path, codes) -> None:
    masks = sample_subsets(codes.shape[0], args.models, args.fraction, args.subset_seed)
    todo = ["full"] + list(range(args.models))
    t_start = time.monotonic()
    done_now = 0
    for n, j in enumerate(todo):
        name = "full" if j == "full" else f"model-{j:03d}"
        if (folder / f"{name}.json").exists():
            continue
        songs = np.arange(codes.shape[0]) if j == "full" else np.flatnonzero(masks[j])
        ckpts = tuple(args.steps * k // 4 for k in (1, 2, 3)) if j == "full" else ()
        state, log, snaps = train_one(model, codes, songs, args, ckpts)
        log["subset_seed"] = [args.subset_seed, j] if j != "full" else None
        _atomic_save(state, folder / f"{name}.pt")
        for step, snap in snaps.items():
            _atomic_save(snap, folder / f"{name}-step{step}.pt")
        (folder / f"{name}.json").write_text(json.dumps(log, indent=1))
        done_now += 1
        per = (time.monotonic() - t_start) / done_now
        left = sum(1 for k in todo[n + 1:]
                   if not (folder / f"{'full' if k == 'full' else f'model-{k:03d}'}.json")
                   .exists())
        print(f"[lds] {name}: {log['seconds']:.0f} s, final loss {log['final_loss']:.3f}; "
              f"{left} left, ~{left * per / 60:.1f} min", flush=True)


# --------------------------------------------------------------------------- queries


def build_queries(model, folder: Path, cat_codes, catalog):
    """[(name, group, composition, timbre, codes (K, 10 s), audio)] of every query, cached."""
    import torch

    from lumina.demo.catalog import build_catalog
    from lumina.demo.generate import sample_codes
    from lumina.demo.train import render_catalog
    from lumina.demo.train_decoder import encode_song

    path = folder / "queries.pt"
    if path.exists():
        return torch.load(path, weights_only=False)
    big = build_catalog(12, 6, 24.0, 0)
    songs = [s for s in big.songs if s.composition_id >= 8 or s.timbre_id >= 4]
    sub = type(big)(songs=songs, compositions=big.compositions, timbres=big.timbres,
                    rate=big.rate, seed=big.seed)
    audio = render_catalog(sub)
    hop = int(model.codec.config.hop_length)
    start, n, p0 = frames(model, QUERY_START_S), frames(model, QUERY_S), frames(model, PROMPT_S)
    out = []
    with torch.no_grad():
        for s, a in zip(songs, audio, strict=True):
            c = encode_song(model, a)[:, start:start + n]
            group = ("new-timbre" if s.composition_id < 8 else
                     "new-composition" if s.timbre_id < 4 else "both-new")
            seg = a[start * hop:(start + n) * hop]
            out.append((s.id, group, s.composition_id, s.timbre_id, c, seg))
        for k in range(N_CONTINUATIONS):
            i = k * 4 + k % 4  # c{k}-t{k % 4}: every composition, every timbre twice
            s = catalog.songs[i]
            prompt = cat_codes[i][:, :p0]
            gen = sample_codes(model, prompt, n, seed=CONTINUATION_SEED + k)
            c = gen[:, p0:]
            a = model.decode(c[None])[0].cpu().numpy()
            out.append((f"gen-{s.id}", "continuation", s.composition_id, s.timbre_id, c, a))
    torch.save(out, path)
    return out


# --------------------------------------------------------------------------- analysis


def query_losses(model, folder: Path, names: list[str], qcodes) -> np.ndarray:
    """(Q, len(names)) teacher-forced loss of every query under every saved decoder."""
    import torch

    from lumina.demo.train_decoder import new_decoder
    from lumina.demo.training import TrainConfig
    from lumina.models.musicgen import MusicGenModel

    path = folder / "losses.npz"
    if path.exists():
        z = np.load(path)
        if list(z["names"]) == names and z["losses"].shape[0] == qcodes.shape[0]:
            return z["losses"]
    dec = new_decoder(TrainConfig())
    m = MusicGenModel(name="lds", decoder=dec, codec=model.codec, weights_sha256="", source="")
    out = np.zeros((qcodes.shape[0], len(names)))
    with torch.no_grad():
        for j, name in enumerate(names):
            dec.load_state_dict(torch.load(folder / f"{name}.pt"))
            dec.eval()
            for s in range(0, qcodes.shape[0], 16):
                out[s:s + 16, j] = m.per_example_loss(qcodes[s:s + 16]).numpy()
    np.savez(path, names=np.array(names), losses=out)
    return out


def fingerprints(model, state, cat_codes, qcodes, dim: int = 512,
                 output_function: str = "tempered"):
    """{channel: (library (32, D), queries (Q, D))} with ``state`` loaded into a decoder
    (None: the shipped lumina-tiny), gradients of ``output_function``. Catalog songs: mean of
    the two whole 10 s chunks (the library also fingerprints the 4 s tail); queries: their
    10 s of codes."""
    from lumina.demo.train_decoder import new_decoder
    from lumina.demo.training import TrainConfig
    from lumina.fingerprint.fingerprinter import Fingerprinter
    from lumina.models.musicgen import MusicGenModel

    if state is None:
        m = model
    else:
        dec = new_decoder(TrainConfig())
        dec.load_state_dict(state)
        dec.eval()
        m = MusicGenModel(name="lds", decoder=dec, codec=model.codec, weights_sha256="",
                          source="")
    fp = Fingerprinter(m, device="cpu", dim=dim, output_function=output_function)
    qs: dict[str, list] = {}
    c = frames(model, CHUNK_S)
    chunks = [cat_codes[:, :, 0:c], cat_codes[:, :, c:2 * c]]
    per_chunk = []
    for ch in chunks:
        vecs = {}
        for s in range(0, ch.shape[0], 8):
            v, _ = fp.fingerprint_codes(ch[s:s + 8])
            for c, x in v.items():
                vecs.setdefault(c, []).append(x)
        per_chunk.append({c: np.concatenate(x) for c, x in vecs.items()})
    lib = {c: 0.5 * (per_chunk[0][c] + per_chunk[1][c]) for c in per_chunk[0]}
    for s in range(0, qcodes.shape[0], 8):
        v, _ = fp.fingerprint_codes(qcodes[s:s + 8])
        for c, x in v.items():
            qs.setdefault(c, []).append(x)
    return {c: (lib[c], np.concatenate(qs[c])) for c in lib}


def gradient_scores(fps, lambdas=LAMBDAS) -> dict[str, dict[str, np.ndarray]]:
    """{method: {channel: (Q, N)}} for the gradient methods; "combined" = mean of channels.

    "dot product" is the unnormalised inner product of projected gradients (a one-checkpoint
    TracIn up to the learning rate): the first-order change of the query's loss."""
    from lumina.attribution import build_channel_index, channel_scores, unit_rows

    out: dict[str, dict[str, np.ndarray]] = {}

    def put(method, channel, value):
        out.setdefault(method, {})[channel] = value

    for ch, (lib, q) in fps.items():
        index = build_channel_index(lib, lam=0.01)
        cos = np.stack([channel_scores(x, index, null="analytic")[0] for x in q])
        emp = [channel_scores(x, index, null="empirical") for x in q]
        put("cosine", ch, cos)
        put("dot product (TracIn-like)", ch, q @ lib.T)
        put("centred cosine", ch, np.stack([s for s, _ in emp]))
        put("calibrated z", ch, np.stack([z for _, z in emp]))
        qu = unit_rows(q)
        qc = unit_rows(qu - index.mean)
        for lam in lambdas:
            idx = index if lam == 0.01 else build_channel_index(lib, lam=lam)
            put(f"KR λ={lam:g}", ch, np.stack([idx.regression("analytic").weights(x)
                                               for x in qu]))
            put(f"KR centred λ={lam:g}", ch, np.stack([idx.regression("empirical").weights(x)
                                                       for x in qc]))
    for per in out.values():
        per["combined"] = np.mean([per[c] for c in fps], axis=0)
    return out


def baseline_scores(cat_audio, q_audio, cat_codes, qcodes, catalog, queries
                    ) -> dict[str, np.ndarray]:
    # Aliased: this function, which adds bag-of-codes, is itself named baseline_scores.
    from lumina.validation import baseline_scores as feature_cosines
    from lumina.validation import chroma_mean, mfcc_mean

    rate = 32000
    lib = {"chroma": np.stack([chroma_mean(a, rate) for a in cat_audio]),
           "mfcc": np.stack([mfcc_mean(a, rate) for a in cat_audio])}
    per_q = [feature_cosines({"chroma": chroma_mean(a, rate), "mfcc": mfcc_mean(a, rate)}, lib)
             for a in q_audio]
    out = {f"{k} cosine": np.stack([p[k] for p in per_q]) for k in ("mfcc", "chroma",
                                                                     "combined")}
    out["MFCC+chroma"] = out.pop("combined cosine")

    def hist(c):  # (K, T) → (K·card,)
        k = c.shape[0]
        return np.concatenate([np.bincount(c[i].numpy(), minlength=256) for i in range(k)]
                              ).astype(np.float64)

    h_lib = np.stack([hist(c) for c in cat_codes])
    h_q = np.stack([hist(c) for c in qcodes])

    def cos(a, b):
        a = a / np.linalg.norm(a, axis=1, keepdims=True)
        b = b / np.linalg.norm(b, axis=1, keepdims=True)
        return b @ a.T

    out["bag-of-codes cosine"] = cos(h_lib, h_q)
    mean = h_lib.mean(axis=0)
    out["bag-of-codes centred cosine"] = cos(h_lib - mean, h_q - mean)
    comp = np.array([s.composition_id for s in catalog.songs])
    timb = np.array([s.timbre_id for s in catalog.songs])
    out["same timbre (metadata)"] = np.stack([(timb == q[3]).astype(float) for q in queries])
    out["same composition (metadata)"] = np.stack([(comp == q[2]).astype(float)
                                                   for q in queries])
    return out


def _fmt(r) -> str:
    if r is None or not np.isfinite(r["mean"]):
        return "—"
    return f"{r['mean']:+.3f} [{r['low']:+.3f}, {r['high']:+.3f}]"


def analyze(args, model, folder: Path, catalog, cat_audio, cat_codes) -> dict:
    import torch

    torch.set_num_threads(args.threads)
    masks = sample_subsets(cat_codes.shape[0], args.models, args.fraction, args.subset_seed)
    names = [f"model-{j:03d}" for j in range(args.models)]
    have = [n for n in names if (folder / f"{n}.json").exists()]
    if len(have) < len(names):
        print(f"[lds] only {len(have)} of {len(names)} subset models trained; analysing those")
    keep = np.array([n in have for n in names])
    masks = masks[keep]
    queries = build_queries(model, folder, cat_codes, catalog)
    qcodes = torch.stack([q[4] for q in queries])
    groups = np.array([q[1] for q in queries])
    losses = query_losses(model, folder, have, qcodes)
    # sanity: does membership matter? loss of catalog songs in vs out of the subset
    cat_l = query_losses_catalog(model, folder, have, cat_codes)
    in_out = [float(cat_l[masks.T].mean()), float(cat_l[~masks.T].mean())]

    fp_models = {"short-full": torch.load(folder / "full.pt"), "lumina-tiny (shipped)": None}
    ckpts = sorted(folder.glob("full-step*.pt"))
    table: dict[str, dict] = {}
    scores_by_model = {}
    for label, state in fp_models.items():
        for function in OUTPUT_FUNCTIONS:
            # the default output function keeps the plain label (what `lumina validate` shows)
            name = label if function == OUTPUT_FUNCTIONS[0] else f"{label}, {function}"
            scores_by_model[name] = gradient_scores(
                fingerprints(model, state, cat_codes, qcodes, output_function=function))
    try:
        scores_by_model["short-full, D=2048"] = gradient_scores(
            fingerprints(model, fp_models["short-full"], cat_codes, qcodes, dim=2048),
            lambdas=(0.01,))
    except Exception as exc:  # a bench: report and carry on with D = 512
        print(f"[lds] D=2048 skipped: {exc}")
    ens = [gradient_scores(fingerprints(model, torch.load(p), cat_codes, qcodes),
                           lambdas=(0.01,)) for p in ckpts]
    ens.append({k: v for k, v in scores_by_model["short-full"].items()
                if k in ens[0]} if ens else {})
    if ckpts:
        scores_by_model["short-full, 4 checkpoints"] = {
            method: {ch: np.mean([e[method][ch] for e in ens], axis=0)
                     for ch in ens[0][method]} for method in ens[0]}

    def score(s):
        r = lds(s, masks, losses, n_boot=args.boot)
        pq = np.array([np.nan if v is None else v for v in r["per_query"]])
        by_group = {str(g): bootstrap_mean(pq[groups == g], args.boot)[0]
                    for g in dict.fromkeys(groups)}
        return {**r, "by_group": by_group}

    for label, methods in scores_by_model.items():
        for method, per in methods.items():
            for ch, s in per.items():
                table.setdefault(label, {}).setdefault(method, {})[ch] = score(s)
    q_audio = [q[5] for q in queries]
    base = baseline_scores(cat_audio, q_audio, cat_codes, qcodes, catalog, queries)
    table["baseline"] = {name: {"-": score(s)} for name, s in base.items()}
    result = {
        "protocol": {
            "subset_models": int(keep.sum()), "steps": args.steps, "batch": args.batch,
            "window": args.window, "fraction": args.fraction, "subset_seed": args.subset_seed,
            "init_seed": 0, "data_seed": 3, "threads": args.threads,
            "codec": "lumina-tiny's, fixed", "queries": len(queries),
            "query_groups": {str(g): int((groups == g).sum()) for g in dict.fromkeys(groups)},
            "train_seconds": sum(json.loads((folder / f"{n}.json").read_text())["seconds"]
                                 for n in have + ["full"]),
            "catalog_loss_in_vs_out_of_subset": in_out,
            "query_loss_std_across_subsets": float(losses.std(axis=1).mean()),
            "query_loss_mean": float(losses.mean()),
        },
        "anchors": {"gradient cosine (dattri, MAESTRO)": 0.065, "TRAK, 1 model": 0.07,
                    "TRAK, 50 models": 0.32},
        "headline": args.headline,
        "table": table,
    }
    for path in (folder / "results.json", folder.parent / "results.json"):
        path.write_text(json.dumps(result, indent=1, default=float))
    return result


def query_losses_catalog(model, folder: Path, names: list[str], cat_codes) -> np.ndarray:
    sub = folder / "catalog"
    sub.mkdir(exist_ok=True)
    start = frames(model, QUERY_START_S)
    return query_losses(model, sub_proxy(folder, sub), names,
                        cat_codes[:, :, start:start + frames(model, QUERY_S)])


def sub_proxy(folder: Path, sub: Path) -> Path:
    """``query_losses`` reads ``<folder>/<name>.pt`` and caches into ``<folder>/losses.npz``;
    for the catalog sanity check the weights are linked into ``sub``."""
    for p in folder.glob("model-*.pt"):
        link = sub / p.name
        if not link.exists():
            os.symlink(p, link)
    return sub


def print_table(result: dict) -> None:
    p = result["protocol"]
    print(f"\nLDS, {p['subset_models']} subset models × {p['queries']} queries "
          f"({p['query_groups']}); {p['steps']} steps of batch {p['batch']}×{p['window']}; "
          f"training {p['train_seconds'] / 60:.1f} min")
    print(f"catalog-song loss in / out of the subset: {p['catalog_loss_in_vs_out_of_subset']}")
    print("anchors:", ", ".join(f"{k} {v}" for k, v in result["anchors"].items()))
    for label, methods in result["table"].items():
        print(f"\n## fingerprints of {label}" if label != "baseline" else "\n## baselines")
        chans = list(next(iter(methods.values())))
        print("| method | " + " | ".join(chans) + " |")
        print("|---|" + "---|" * len(chans))
        for method, per in methods.items():
            print(f"| {method} | " + " | ".join(_fmt(per[c]) for c in chans) + " |")
    head = result["table"][result["headline"]]
    groups = list(p["query_groups"])
    print(f"\n## mean LDS by query group ({result['headline']}, combined channel)")
    print("| method | " + " | ".join(groups) + " |")
    print("|---|" + "---|" * len(groups))
    rows = [(m, head[m]["combined"]) for m in ("cosine", "dot product (TracIn-like)",
                                               "KR λ=0.01", "calibrated z") if m in head]
    rows += [(m, per["-"]) for m, per in result["table"]["baseline"].items()]
    for m, r in rows:
        print(f"| {m} | " + " | ".join(
            "—" if not np.isfinite(r["by_group"][g]) else f"{r['by_group'][g]:+.3f}"
            for g in groups) + " |")


def main(argv=None) -> int:
    args = parse(argv)
    import torch

    torch.set_num_threads(args.threads)
    model = shipped()
    folder = run_folder(args, model)
    print(f"[lds] cache: {folder}", flush=True)
    catalog, cat_audio, cat_codes = catalog_codes(model, folder)
    if args.phase in ("all", "train"):
        train_all(args, model, folder, cat_codes)
    if args.phase in ("all", "analyze"):
        print_table(analyze(args, model, folder, catalog, cat_audio, cat_codes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
