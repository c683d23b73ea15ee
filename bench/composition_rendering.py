"""A timbre-invariant composition channel: the paper's mode against rendered inputs.

Issue 11, part 2 (with the measurements of part 3 for it). The composition fingerprint stays
the model's self-attention gradient, but of a *timbre-neutral rendering* of each chunk
(:mod:`lumina.fingerprint.rendering`,
``Fingerprinter(..., composition_rendering=NAME)``); the production
channel keeps the original audio. For the paper's mode (``plain``) and every rendering this
script measures, with the validation harness (:class:`lumina.validation.Study`) on the demo
catalog and the embedded model ``lumina-tiny``, all in memory (no library on disk changes):

- **row 3, leave-one-out**: each of the 32 catalog songs (8 compositions × 4 timbres) is the
  query against the other 31; does the composition channel's top song (product ranking: z of
  the default null) share the query's composition? its timbre? Chance: a random other song.
- **row 4, gate**: 8 held-out compositions × the held-out timbres 4 and 5 (512 unrelated
  query–song pairs): the fraction passing the 95 % gate, default (empirical) and analytic
  null; true sources: the row-2 continuations of catalog songs (128) against the song they
  continue (``--no-true-sources`` skips them).
- **row 2, causal link** (with the true sources): is the continued song top-1 in the
  composition channel, and does the top-1 share its composition?
- **pitch vs rhythm** (diagnostic): 8 hybrids, each with composition A's key, chords and
  melody but composition B's tempo, drum groove, comping and bass rhythm (B = A + 1 mod 8),
  in the held-out timbre 4. Which of A and B does the composition channel put first? A
  rendering that keeps pitch content should answer A at least as often as B (chroma: A).
- **held-out leave-one-out**: row 3 on 48 songs the model never saw (the 8 held-out
  compositions of row 4 in all 6 timbres), against the other 47.
- **cost**: wall time of ``fingerprint_file`` over ``--cost-songs`` catalog songs per mode,
  modes interleaved, median of ``--cost-repeats`` rounds, as a ratio to ``plain``.
  ``--cost-large`` adds the language model's share for a MusicGen-small-sized random decoder
  (24 layers × 1024, 2048 codes) and the encode time of a MusicGen-32 kHz-sized random EnCodec,
  to estimate the ratio on a real checkpoint.

The production channel is unchanged by construction (bit-identical to ``plain``; the script
checks it on the library).

Run (one CPU thread; about 4 min the first time, 6 min with ``--cost-large``, 1 min cached)::

    python bench/composition_rendering.py [--modes plain,shepard,onset-clicks,shepard-onsets]
        [--threads 1] [--json OUT] [--no-true-sources] [--no-heldout-loo] [--cost-large]

Intermediates (fingerprints and baseline features per mode) are cached under the demo cache
(``$LUMINA_CACHE`` or the user cache folder) in ``validation/composition-rendering/``, keyed
by the model digest, the fingerprint identity, the rendering's ``name/version`` and a digest
of ``lumina/rendering.py``'s source. The continuations of row 2 are the validation's (made
by ``lumina validate`` if missing, which takes a few minutes).

Measured (lumina 0.1.0, lumina-tiny ``cf7e4824d713``, one CPU thread, 2 shared cores;
composition channel; FP/TP at the 95 % gate, default null unless "ana"):

================= ========= =========== ========= ======= ====== ======= ======== =========
mode              same comp same timbre held-out  FP emp  FP ana TP emp  melody/  cost
                  (catalog) (catalog)    comp/tim                          rhythm   (tiny)
================= ========= =========== ========= ======= ====== ======= ======== =========
plain             0.188     0.688       0.00/1.00 0.039   0.404  0.102   2/8, 2/8 1.00×
shepard           0.688     0.125       0.90/0.04 0.014   1.000  0.000   3/8, 0/8 1.9–2.0×
onset-clicks      0.969     0.000       0.92/0.06 0.006   1.000  0.008   0/8, 8/8 1.5–1.8×
shepard-onsets    0.938     0.031       0.77/0.06 0.002   0.916  0.008   0/8, 4/8 2.0–2.1×
shepard-2x        0.594     0.094       0.60/0.10 0.020   1.000  0.008   6/8, 0/8 1.75–1.79×
onset-clicks-2x   0.938     0.000       0.94/0.06 0.008   0.832  0.008   0/8, 8/8 1.19–1.20×
shepard-onsets-2x 0.938     0.000       0.75/0.02 0.008   1.000  0.047   0/8, 6/8 1.82–1.91×
chance            0.097     0.226       .11/.15   0.050   0.050
goal              ≥ 0.85    ≤ 0.326               ≤ 0.05                          ≤ 1.3×
================= ========= =========== ========= ======= ====== ======= ======== =========

Cost: two runs on a shared machine. MusicGen-small-sized estimate (``--cost-large``): the
language model costs 1.43–1.53× (the extra forward pass on the audio for the production
channel), the codec 2×; 1.49–1.58× in all. Chroma puts the melody donor first for 8/8
hybrids. ``plain`` reproduces ``lumina validate``'s rows 3 and 4 (``docs/validation.md``:
0.188, FP 0.039 / 0.041).

The ``-2x`` rows (2026-11-24, two runs, the second from the cache; accuracy identical in
both)::

    python bench/composition_rendering.py --threads 1 --modes \
        plain,shepard-onsets,shepard-onsets-2x,onset-clicks-2x,shepard-2x --cost-large

``-2x`` is the same analysis synthesised in half the time (:mod:`lumina.fingerprint.rendering`,
``time_scale`` 0.5): half the codec frames for the composition pass. In these runs
``shepard-onsets`` itself cost 2.36–2.41× on lumina-tiny and 1.53–1.62× by
``--cost-large`` (the machine was busier than for the rows above). MusicGen-small-sized
estimate: ``shepard-onsets-2x`` 0.98–1.00× (LM 0.91–0.94×: the full backward runs over
half the frames, the audio's pass is a forward plus the output heads' backward; codec
1.5×), ``onset-clicks-2x`` 1.04–1.09×, ``shepard-2x`` 1.01–1.02×. On lumina-tiny the
tokens are cheap and the rendering is not: per 10 s chunk ``plain`` takes about 0.12 s,
the pitch analysis (:func:`lumina.fingerprint.rendering.pitch_salience`, a 256 ms STFT every 16 ms)
about 0.04–0.05 s of the 0.06–0.07 s a Shepard rendering takes, so only ``onset-clicks-2x``
(rendering 0.01 s) meets 1.3× there. TP emp of ``shepard-onsets-2x`` (0.047) and its
rhythm-donor count (6/8) are the only columns where it differs much from
``shepard-onsets``; ``shepard-2x`` loses pitch-only accuracy against ``shepard``.

Tried and dropped before this script, by the same leave-one-out on the catalog (composition
channel, same composition / same timbre): Shepard tones under the
frame's loudness envelope (power 0.5) 0.56 / 0.16 (the envelope carries the instrument's
attack and decay); salient pitches with their octave kept, one sine with a fixed
attack/decay restarted at onsets, 0.28 / 0.56; the same held at constant level 0.09 / 0.69
(which octaves are salient depends on the instrument: a timbre detector);
chroma held in one fixed octave 0.28 / 0.25; chroma smoothed over 80–500 ms or binarised:
0.41–0.81 on the catalog, no gain on the held-out songs. A 2× time-compressed rendering
(the same analysis, synthesised in half the time: half the tokens for the composition pass)
kept onset-clicks at 0.94 / 0.00 (held-out 0.94 / 0.06) and shepard-onsets at 0.94 / 0.00
(held-out 0.75 / 0.02); implemented since as the ``-2x`` renderings and measured in the
table above (``shepard-onsets-2x`` costs 1.82–1.91× on lumina-tiny, not the 1.15–1.35×
estimated from the token count alone: the rendering's own analysis dominates there).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import inspect
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

DEFAULT_MODES = ("plain", "shepard", "onset-clicks", "shepard-onsets")
HYBRID_TIMBRE = 4  # Marimba: in no catalog, not seen in training


def _mode_rendering(mode: str) -> str | None:
    return None if mode == "plain" else mode


def _source_digest() -> str:
    import lumina.fingerprint.rendering

    return hashlib.sha256(inspect.getsource(lumina.fingerprint.rendering).encode()).hexdigest()[:12]


def _hybrids(catalog, seconds: float, seed: int) -> list[tuple[int, int, object]]:
    """``(pitch donor A, rhythm donor B, composition)``: A's key, chords and melody with B's
    tempo, drum groove, comping and bass rhythm."""
    comps = catalog.compositions
    out = []
    for i, a in enumerate(comps):
        b = comps[(i + 1) % len(comps)]
        hybrid = dataclasses.replace(
            a, id=10_000 + i, name=f"{a.name} x {b.name}", tempo_bpm=b.tempo_bpm,
            groove=b.groove, kick=b.kick, snare=b.snare, hat=b.hat,
            comp_rhythm=b.comp_rhythm, bass_rhythm=b.bass_rhythm)
        out.append((a.id, b.id, hybrid))
    return out


def _heldout_loo(study) -> dict:
    """Row 3's leave-one-out on songs the model never saw: the 8 held-out compositions of
    row 4 in all 6 timbres (48 songs), the index rebuilt on the other 47 per query."""
    from lumina.attribution import DEFAULT_NULL, build_channel_index, channel_scores
    from lumina.demo.catalog import heldout_compositions, make_timbres, render_song, song_seed
    from lumina.validation import rank_desc

    cfg = study.config
    pairs = [(c, t) for c in heldout_compositions(cfg.n_heldout, cfg.catalog_seed)
             for t in make_timbres(6)]
    items = []
    for comp, timbre in pairs:
        def make(comp=comp, timbre=timbre):
            return render_song(comp, timbre, cfg.seconds, study.rate,
                               song_seed(cfg.catalog_seed, comp.id, timbre.id))
        items.append((f"c{comp.id}-t{timbre.id}-{cfg.seconds:g}s-seed{cfg.catalog_seed}",
                      make))
    feats = study.features("heldout-loo", items)
    p = study.prepare_params
    n = len(pairs)
    hits = {ch: {"composition": [], "timbre": []} for ch in study.model.channels}
    for q in range(n):
        keep = np.array([j for j in range(n) if j != q])
        for ch in study.model.channels:
            mat = np.stack([feats[j][f"fp_{ch}"] for j in keep])
            index = build_channel_index(mat, lam=p["lambda"], cohort_size=p["cohort_size"],
                                        seed=p["cohort_seed"], top_k=p["top_k"])
            z = channel_scores(feats[q][f"fp_{ch}"], index, null=DEFAULT_NULL)[1]
            comp, timbre = pairs[int(keep[int(rank_desc(z)[0])])]
            hits[ch]["composition"].append(comp.id == pairs[q][0].id)
            hits[ch]["timbre"].append(timbre.id == pairs[q][1].id)
    n_t = len(make_timbres(6))
    return {"top1_same": {ch: {k: float(np.mean(v)) for k, v in d.items()}
                          for ch, d in hits.items()},
            "chance": {"composition": (n_t - 1) / (n - 1),
                       "timbre": (cfg.n_heldout - 1) / (n - 1)},
            "songs": n}


def run_mode(study, mode: str, *, true_sources: bool, say, heldout_loo: bool = True,
             dim: int = 512) -> dict:
    """All measurements of one mode; ``study`` is rewired to the mode's fingerprinter."""
    from lumina.attribution import DEFAULT_NULL, build_channel_index
    from lumina.demo.catalog import make_timbres, render_song, song_seed
    from lumina.fingerprint.fingerprinter import Fingerprinter
    from lumina.validation import CACHE_VERSION, FeatureCache, rank_desc

    rendering = _mode_rendering(mode)
    fp = Fingerprinter(study.model, device="cpu", composition_rendering=rendering, dim=dim)
    ident = json.dumps({**{k: study.identity[k] for k in sorted(study.identity)},
                        "dim": dim,
                        "composition_rendering": fp.composition_rendering,
                        "rendering_source": _source_digest() if rendering else None},
                       sort_keys=True, default=str)
    study.fingerprinter = fp
    study.store = FeatureCache(study.cache / "validation" / "composition-rendering"
                               / f"v{CACHE_VERSION}",
                               hashlib.sha256(ident.encode()).hexdigest()[:16])
    study.rows = []
    study.details = {}
    t0 = time.monotonic()
    # Library fingerprints, in memory, from the same files the demo library indexes.
    lib = []
    for song, path in zip(study.catalog.songs, study.song_paths, strict=True):
        key = f"library-fp|{song.id}|{Path(path).name}"
        values = study.store.get(key)
        if values is None:
            f = fp.fingerprint_file(path)
            values = {f"fp_{c}": np.asarray(v, dtype=np.float64) for c, v in f.channels.items()}
            study.store.put(key, values)
        lib.append(values)
    study.library_raw = {ch: np.stack([v[f"fp_{ch}"] for v in lib])
                         for ch in study.model.channels}
    p = study.prepare_params
    study.library_unit = {}
    study.indexes = {}
    for ch, mat in study.library_raw.items():
        study.indexes[ch] = build_channel_index(mat, lam=p["lambda"],
                                                cohort_size=p["cohort_size"],
                                                seed=p["cohort_seed"], top_k=p["top_k"])
        study.library_unit[ch] = np.array(study.indexes[ch].unit, dtype=np.float64)
    say(f"{mode}: library fingerprints {time.monotonic() - t0:.0f} s")

    study.separation()
    true_queries = study.causal_link() if true_sources else []
    if true_sources:
        study.gate_calibration(true_queries)
    else:
        _gate_without_true_sources(study)
    # Pitch vs rhythm: hybrids in a held-out timbre.
    cfg = study.config
    timbre = [t for t in make_timbres(6) if t.id == HYBRID_TIMBRE][0]
    hybrids = _hybrids(study.catalog, cfg.seconds, cfg.catalog_seed)
    items = []
    for a, b, comp in hybrids:
        def make(comp=comp):
            return render_song(comp, timbre, cfg.seconds, study.rate,
                               song_seed(cfg.catalog_seed, comp.id, timbre.id))
        items.append((f"hybrid-a{a}-b{b}-t{timbre.id}-{cfg.seconds:g}s", make))
    feats = study.features("hybrids", items)
    songs = study.catalog.songs
    follows = {"pitch": [], "rhythm": []}
    base = {"pitch": [], "rhythm": []}
    from lumina.validation import baseline_scores

    for (a, b, _), values in zip(hybrids, feats, strict=True):
        z = study.z_scores(values, DEFAULT_NULL)["composition"]
        top = songs[int(rank_desc(z)[0])].composition_id
        follows["pitch"].append(top == a)
        follows["rhythm"].append(top == b)
        chroma = baseline_scores(values, study.library_matrix())["chroma"]
        top = songs[int(rank_desc(chroma)[0])].composition_id
        base["pitch"].append(top == a)
        base["rhythm"].append(top == b)
    study.details["pitch_vs_rhythm"] = {
        "composition_top1_melody_donor": float(np.mean(follows["pitch"])),
        "composition_top1_rhythm_donor": float(np.mean(follows["rhythm"])),
        "chroma_top1_melody_donor": float(np.mean(base["pitch"])),
        "chroma_top1_rhythm_donor": float(np.mean(base["rhythm"])),
        "queries": len(hybrids), "timbre": timbre.name,
    }
    if heldout_loo:
        study.details["heldout_loo"] = _heldout_loo(study)
    study.details["elapsed_seconds"] = round(time.monotonic() - t0, 1)
    return {"rows": [dataclasses.asdict(r) for r in study.rows], "details": study.details,
            "library_raw": study.library_raw}


def _gate_without_true_sources(study) -> None:
    """Row 4's false-positive rates only (no continuations)."""
    from lumina.attribution import NULLS, gate_z

    unrelated = study.features("heldout", study.unrelated_items())
    z95 = gate_z(0.95)
    fpr = {null: {} for null in NULLS}
    for null in NULLS:
        zu = [study.z_scores(v, null) for v in unrelated]
        for ch in study.model.channels:
            fpr[null][ch] = float(np.mean(np.concatenate([z[ch] for z in zu]) >= z95))
    study.details["gate_calibration"] = {
        "fpr_95": fpr, "tpr_95": None, "tpr_1sigma": None,
        "unrelated_pairs_per_channel": len(unrelated) * len(study.catalog.songs)}


def measure_cost(model, paths, modes, repeats: int) -> dict:
    """Median wall time of ``fingerprint_file`` over ``paths`` per mode, modes interleaved."""
    from lumina.fingerprint.fingerprinter import Fingerprinter

    fps = {m: Fingerprinter(model, device="cpu", composition_rendering=_mode_rendering(m))
           for m in modes}
    for m in modes:  # warm-up: caches, allocator
        fps[m].fingerprint_file(paths[0])
    times: dict[str, list[float]] = {m: [] for m in modes}
    for _ in range(repeats):
        for m in modes:
            t0 = time.perf_counter()
            for path in paths:
                fps[m].fingerprint_file(path)
            times[m].append(time.perf_counter() - t0)
    med = {m: statistics.median(v) for m, v in times.items()}
    return {"seconds": med, "ratio": {m: med[m] / med["plain"] for m in modes},
            "songs": len(paths), "repeats": repeats, "all_seconds": times}


def measure_cost_large(repeats: int, rendering: str) -> dict:
    """The language model's share on a MusicGen-small-sized random decoder, and the encode
    time of a MusicGen-32 kHz-sized random EnCodec, for one 10 s chunk."""
    import torch
    from transformers import EncodecConfig, EncodecModel

    from lumina.fingerprint.fingerprinter import Fingerprinter
    from lumina.fingerprint.rendering import get_rendering, render
    from lumina.models.tiny import build_tiny_model, tiny_decoder_config

    config = tiny_decoder_config(layers=24, hidden=1024, heads=16, codebooks=4, card=2048)
    model = build_tiny_model(0, decoder_config=config)
    torch.manual_seed(0)
    frames = 500  # 10 s at 50 Hz
    # A time-compressed rendering has fewer codec frames: the composition pass is shorter.
    rendered_frames = int(np.ceil(frames * get_rendering(rendering).time_scale))
    codes = torch.randint(0, model.card, (1, model.num_codebooks, frames))
    rcodes = torch.randint(0, model.card, (1, model.num_codebooks, rendered_frames))
    plain = Fingerprinter(model, device="cpu", batch_size=1)
    rend = Fingerprinter(model, device="cpu", batch_size=1, composition_rendering=rendering)

    def med(fn):
        fn()
        out = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
        return statistics.median(out)

    lm_plain = med(lambda: plain.fingerprint_codes(codes))
    lm_rend = med(lambda: rend.fingerprint_codes(codes, rcodes))
    # facebook/encodec_32khz's architecture (random weights: only the time matters).
    codec = EncodecModel(EncodecConfig(
        sampling_rate=32000, audio_channels=1, num_filters=64, upsampling_ratios=[8, 5, 4, 4],
        hidden_size=128, codebook_size=2048, num_lstm_layers=2, normalize=False,
        use_causal_conv=False, target_bandwidths=[2.2])).eval()
    audio = torch.from_numpy(
        (0.1 * np.sin(np.arange(320000) * 0.05)).astype(np.float32))[None, None]
    samples = audio[0, 0].numpy()
    ren = med(lambda: render(samples, 32000, rendering))
    rendered = torch.from_numpy(render(samples, 32000, rendering))[None, None]
    with torch.no_grad():
        enc = med(lambda: codec.encode(audio, bandwidth=2.2))
        enc_rend = med(lambda: codec.encode(rendered, bandwidth=2.2))
    total_plain = enc + lm_plain
    total_rend = enc + enc_rend + ren + lm_rend
    return {"lm_plain_s": lm_plain, "lm_rendering_s": lm_rend, "encode_s": enc,
            "encode_rendering_s": enc_rend, "render_s": ren, "lm_ratio": lm_rend / lm_plain,
            "estimated_ratio": total_rend / total_plain, "rendering": rendering,
            "rendered_frames": rendered_frames}


def summarise(mode: str, result: dict) -> dict:
    d = result["details"]
    sep = d["separation"]
    gate = d["gate_calibration"]
    out = {
        "mode": mode,
        "comp_same_composition": sep["top1_same"]["composition"]["composition"],
        "comp_same_timbre": sep["top1_same"]["composition"]["timbre"],
        "comp_same_composition_raw_cosine": sep["top1_same_by_raw_cosine"]["composition"][
            "composition"],
        "prod_same_timbre": sep["top1_same"]["production"]["timbre"],
        "chance_composition": sep["chance"]["composition"],
        "chance_timbre": sep["chance"]["timbre"],
        "fpr_empirical": gate["fpr_95"]["empirical"]["composition"],
        "fpr_analytic": gate["fpr_95"]["analytic"]["composition"],
        "fpr_empirical_production": gate["fpr_95"]["empirical"]["production"],
        "tpr_empirical": (gate["tpr_95"] or {}).get("empirical", {}).get("composition"),
        "tpr_1sigma_empirical": (gate["tpr_1sigma"] or {}).get("empirical", {}).get(
            "composition"),
        "pitch_vs_rhythm": d["pitch_vs_rhythm"],
    }
    if "heldout_loo" in d:
        h = d["heldout_loo"]
        out["heldout_same_composition"] = h["top1_same"]["composition"]["composition"]
        out["heldout_same_timbre"] = h["top1_same"]["composition"]["timbre"]
        out["heldout_chance"] = h["chance"]
    if "causal_link" in d:
        out["causal_top1"] = float(np.mean([r == 0 for r in
                                            d["causal_link"]["source_rank"]["composition"]]))
        out["causal_same_composition"] = d["causal_link"]["top1_same_composition"][
            "composition"]
    return out


def format_table(summary: list[dict], cost: dict | None) -> str:
    def f(x):
        return "  n/a" if x is None else f"{x:5.3f}"

    lines = [
        "composition channel per mode (lumina-tiny, demo catalog 8 x 4; ranking = z of the "
        "default null)",
        f"{'mode':<16} {'same comp':>9} {'same timbre':>11} {'FP@95 emp':>9} {'FP@95 ana':>9} "
        f"{'TP@95':>6} {'melody/rhythm':>13} {'cost':>6}",
    ]
    for s in summary:
        pr = s["pitch_vs_rhythm"]
        ratio = None if cost is None else cost["ratio"].get(s["mode"])
        lines.append(
            f"{s['mode']:<16} {f(s['comp_same_composition']):>9} {f(s['comp_same_timbre']):>11} "
            f"{f(s['fpr_empirical']):>9} {f(s['fpr_analytic']):>9} {f(s['tpr_empirical']):>6} "
            f"{pr['composition_top1_melody_donor']:>6.2f}/"
            f"{pr['composition_top1_rhythm_donor']:.2f} "
            f"{'' if ratio is None else f'{ratio:5.2f}x':>6}")
    s0 = summary[0]
    lines.append(f"{'chance':<16} {f(s0['chance_composition']):>9} {f(s0['chance_timbre']):>11} "
                 f"{0.05:9.3f} {0.05:9.3f}")
    timbre_goal = "<= " + format(s0["chance_timbre"] + 0.1, ".3f")
    lines.append(f"{'goal':<16} {'>= 0.85':>9} {timbre_goal:>11}"
                 f" {'<= 0.05':>9} {'':>9} {'':>6} {'':>13} {'<= 1.3x':>6}")
    pr = s0["pitch_vs_rhythm"]
    lines.append(f"chroma baseline on the hybrids: melody donor "
                 f"{pr['chroma_top1_melody_donor']:.2f}, rhythm donor "
                 f"{pr['chroma_top1_rhythm_donor']:.2f}")
    if "heldout_chance" in s0:
        ch = s0["heldout_chance"]
        lines.append(f"held-out leave-one-out (8 held-out compositions x 6 timbres, chance "
                     f"{ch['composition']:.3f} / {ch['timbre']:.3f}), composition channel "
                     "same composition / same timbre: " + ", ".join(
                         f"{s['mode']} {s['heldout_same_composition']:.3f} / "
                         f"{s['heldout_same_timbre']:.3f}" for s in summary))
    for s in summary:
        extra = (f", causal link top-1 {s['causal_top1']:.3f} (top-1 same composition "
                 f"{s['causal_same_composition']:.3f})" if "causal_top1" in s else "")
        lines.append(f"{s['mode']}: production same timbre {s['prod_same_timbre']:.3f}, "
                     f"production FP@95 {s['fpr_empirical_production']:.3f}, composition same "
                     f"comp by raw cosine {s['comp_same_composition_raw_cosine']:.3f}{extra}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", default=",".join(DEFAULT_MODES),
                        help="comma-separated: plain and rendering names")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-true-sources", action="store_true",
                        help="skip row 2 and the true-source half of row 4")
    parser.add_argument("--cost-songs", type=int, default=8)
    parser.add_argument("--cost-repeats", type=int, default=3)
    parser.add_argument("--no-cost", action="store_true")
    parser.add_argument("--no-heldout-loo", action="store_true",
                        help="skip the leave-one-out on 48 held-out songs")
    parser.add_argument("--cost-large", action="store_true",
                        help="also estimate the ratio for a MusicGen-small-sized model")
    parser.add_argument("--dim", type=int, default=512,
                        help="fingerprint dimension D per channel (part 3: 512 vs 2048)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    import torch

    from lumina.attribution import DEFAULT_COHORT_SIZE, DEFAULT_LAMBDA, DEFAULT_TOP_K
    from lumina.demo.catalog import build_catalog
    from lumina.demo.run import demo_cache
    from lumina.fingerprint.rendering import get_rendering
    from lumina.models import DEFAULT_MODEL, load_model
    from lumina.validation import Study, ValidationConfig

    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if "plain" not in modes:
        modes.insert(0, "plain")
    for m in modes:
        if m != "plain":
            get_rendering(m)
    torch.set_num_threads(args.threads)

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    t0 = time.monotonic()
    model = load_model(DEFAULT_MODEL)
    cfg = ValidationConfig.full()
    study = Study(config=cfg, model=model, progress=None, say=say)
    study.catalog = build_catalog(cfg.n_compositions, cfg.n_timbres, seconds=cfg.seconds,
                                  seed=cfg.catalog_seed)
    study.init_engine(demo_cache(model.weights_sha256, cfg.catalog_key))
    songs_dir = study.cache / "catalog"
    if not (songs_dir / "catalog.json").exists():
        say(f"rendering the demo catalog into {songs_dir}")
        study.catalog.write(songs_dir)
    paths = [songs_dir / s.filename for s in study.catalog.songs]
    study.song_paths = paths
    study.prepare_params = {"lambda": DEFAULT_LAMBDA, "cohort_size": DEFAULT_COHORT_SIZE,
                            "cohort_seed": 0, "top_k": DEFAULT_TOP_K}
    study.library_features = [study.file_features("library", s.id, p, False)
                              for s, p in zip(study.catalog.songs, paths, strict=True)]

    results = {}
    for mode in modes:
        results[mode] = run_mode(study, mode, true_sources=not args.no_true_sources, say=say,
                                 heldout_loo=not args.no_heldout_loo, dim=args.dim)
    plain_prod = results["plain"]["library_raw"]["production"]
    for res in results.values():
        res["production_identical_to_plain"] = bool(
            np.array_equal(res.pop("library_raw")["production"], plain_prod))
    summary = [summarise(m, results[m]) for m in modes]
    cost = None
    if not args.no_cost:
        say("timing fingerprint_file per mode")
        cost = measure_cost(model, paths[:args.cost_songs], modes, args.cost_repeats)
    large = None
    if args.cost_large:
        say("timing a MusicGen-small-sized decoder and codec (slow)")
        large = {m: measure_cost_large(args.cost_repeats, m) for m in modes if m != "plain"}
    print(format_table(summary, cost))
    if cost is not None:
        print("cost: " + ", ".join(f"{m} {cost['seconds'][m]:.2f} s" for m in modes)
              + f" for {cost['songs']} songs of {cfg.seconds:g} s (median of "
                f"{cost['repeats']})")
    for m, est in (large or {}).items():
        print(f"MusicGen-small-sized estimate, {m}: LM {est['lm_rendering_s']:.2f} s vs "
              f"{est['lm_plain_s']:.2f} s ({est['lm_ratio']:.2f}x), encode {est['encode_s']:.2f}"
              f" s + {est['encode_rendering_s']:.2f} s, render {est['render_s']:.3f} s -> "
              f"{est['estimated_ratio']:.2f}x")
    print("production channel bit-identical to plain: "
          + ", ".join(f"{m} {results[m]['production_identical_to_plain']}" for m in modes))
    print(f"{time.monotonic() - t0:.0f} s")
    if args.json:
        out = {"schema": "lumina.bench.composition_rendering/1", "modes": modes,
               "summary": summary, "cost": cost, "cost_large": large,
               "rendering_source": _source_digest(),
               "results": {m: {"rows": r["rows"], "details": r["details"],
                               "production_identical_to_plain":
                                   r["production_identical_to_plain"]}
                           for m, r in results.items()}}
        args.json.write_text(json.dumps(out, indent=2, default=_json_default) + "\n",
                             encoding="utf-8")
        print(f"wrote {args.json}")
    return 0


def _json_default(obj: object) -> object:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(type(obj).__name__)


if __name__ == "__main__":
    sys.exit(main())
