"""Is a copy of a library song named, whatever the library's size? (issue 20)

    python bench/copies_by_size.py [--sizes 4 8 32 1000] [--threads 2] [--json OUT]

For each of the demo catalog's 32 songs (the library ``lumina demo`` builds, default
settings) and each size N, a library of N songs that holds it: for N ≤ 32 the song and N − 1
other demo songs drawn with a fixed seed (one library per song); for N > 32 all 32 demo
songs plus procedural songs in no catalog (held-out compositions in the catalog's four
timbres, ``--extra-seconds`` long, rendered and fingerprinted once and cached under the demo
cache, ``copies-by-size/``). Each library is prepared as a library of that size is
(:func:`lumina.attribution.build_channel_index`, the empirical null, the default cohort).

Queries of the song: a **byte-identical copy** (deterministic fingerprinting gives the
library's own fingerprint, study row 1), an **MP3 copy** at 128 kbit/s and a **10 s
excerpt** from the middle (study row 5's transforms). Printed per size, kind and channel:
the fraction whose top song is the original (*first*) and whose original is also named by
the default gate, Benjamini–Hochberg at q = 0.05 (*named*). And, on the same libraries, the
16 unrelated queries of ``bench/small_library.py`` (held-out compositions in held-out
timbres): the fraction naming any song under fdr (the default) and fwer (Šidák, α = 0.05).

Issue 20's goal: first and named for every kind at 4, 8, 32 and 1,000 songs; unrelated
queries naming any song ≤ 0.05 under fwer.

Measured 2026-12-04 (lumina-tiny, the demo library's defaults: shepard/1, tempered/1, no
loudness normalisation; 968 songs beyond the catalog of 10 s; 857 s on 2 threads, most of it
fingerprinting those songs once). First / named by the default fdr gate, over the 32 songs:

=====  ===========  ===========  ===========  ===========  ==================
songs  channel      exact        MP3          10 s excerpt unrelated: fdr/fwer
=====  ===========  ===========  ===========  ===========  ==================
4      composition  1.00 / 0.00  0.97 / 0.00  0.50 / 0.00  0.000 / 0.000
4      production   1.00 / 0.00  1.00 / 0.00  1.00 / 0.00  0.000 / 0.000
8      composition  1.00 / 0.09  0.97 / 0.06  0.19 / 0.00  0.002 / 0.002
8      production   1.00 / 0.34  1.00 / 0.31  1.00 / 0.31  0.012 / 0.014
32     composition  1.00 / 0.09  0.97 / 0.06  0.06 / 0.00  0.000 / 0.000
32     production   1.00 / 0.69  1.00 / 0.53  1.00 / 0.50  0.062 / 0.062
1000   composition  0.94 / 0.12  0.91 / 0.06  0.00 / 0.00  0.000 / 0.000
1000   production   1.00 / 0.81  1.00 / 0.75  1.00 / 0.78  0.562 / 0.500
=====  ===========  ===========  ===========  ===========  ==================

The production channel ranks every copy first at every size, but names it only 0.00 (4
songs), ~0.3 (8), ~0.5–0.7 (32) and ~0.8 (1,000) of the time: the goal is missed at every
size. Worse, at 1,000 songs half of the unrelated queries name a song under fwer, whose
promise is 5 %: the calibrated z has a heavier upper tail than the Gaussian the gate reads
it with, and among 1,000 songs the largest of them passes z 3.88 (p 5e-5) for 7 of 16
queries even when the library holds only the 10 s procedural songs (so it is not the mix of
song lengths). The synthetic null of ``bench/query_scale.py`` (random unit vectors) cannot
show this; real fingerprints do. The gate needs a tail fitted on the library's own held-out
songs (``lumina library calibrate`` already measures the rate) before it can promise a rate
at this size.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

KINDS = ("exact", "mp3", "excerpt")


def _cached(path: Path, make) -> dict[str, np.ndarray]:
    if path.exists():
        with np.load(path) as data:
            return {k: data[k] for k in data.files}
    arrays = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return arrays


def _fingerprints(fp, signals, say, what: str) -> dict[str, np.ndarray]:
    """(Q, D) per channel of ``signals`` (callables giving mono float32 audio)."""
    out: dict[str, list[np.ndarray]] = {}
    for i, make in enumerate(signals):
        if i % 25 == 0:
            say(f"fingerprinting {what} {i + 1}/{len(signals)}")
        f = fp.fingerprint_audio(make())
        for ch, v in f.channels.items():
            out.setdefault(ch, []).append(np.asarray(v, dtype=np.float64))
    return {ch: np.stack(v) for ch, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[4, 8, 32, 1000])
    parser.add_argument("--extra-seconds", type=float, default=10.0,
                        help="length of the songs beyond the demo catalog (default: one chunk)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    import torch
    from small_library import unrelated_queries

    from lumina.attribution import Gate, build_channel_index, channel_scores
    from lumina.demo.catalog import heldout_compositions, make_timbres, render_song, song_seed
    from lumina.demo.run import prepare_demo_library
    from lumina.library import Library
    from lumina.validation.config import ValidationConfig
    from lumina.validation.transforms import apply_transform
    from lumina.workspace import identity_of_fingerprinter

    torch.set_num_threads(args.threads)
    t0 = time.monotonic()
    demo = prepare_demo_library(say=print)
    fp = demo.fingerprinter
    rate = int(fp.model.sample_rate)
    with Library.open(demo.path) as lib:
        prepared = lib.prepare()
        # the library's rows in catalog order (the demo indexes the catalog in order, so its
        # song ids ascend with it)
        ids = [int(s) for s in prepared.song_ids]
        order = [ids.index(sid) for sid in sorted(ids)]
        assert len(order) == len(demo.catalog.songs)
        demo_rows = {ch: np.asarray(ix.unit)[order] for ch, ix in prepared.indexes.items()}
    n_demo = len(demo.catalog.songs)
    ident = json.dumps(identity_of_fingerprinter(fp), sort_keys=True, default=str)
    key = hashlib.sha256(ident.encode()).hexdigest()[:16]
    root = demo.cache / "copies-by-size"
    config = ValidationConfig.full()

    def copies() -> dict[str, np.ndarray]:
        # rendered only when the copies are not cached yet
        audio = [demo.catalog.render(s) for s in demo.catalog.songs]
        out = {}
        for kind, name in (("mp3", "mp3_128k"), ("excerpt", "excerpt_10s")):
            made = _fingerprints(fp, [lambda i=i, name=name: apply_transform(
                name, audio[i], rate, config, i) for i in range(n_demo)], print, kind)
            out.update({f"{kind}:{ch}": v for ch, v in made.items()})
        return out

    queries = _cached(root / f"{key}-copies.npz", copies)
    unrelated = unrelated_queries(demo, print)
    n_extra = max(0, max(args.sizes) - n_demo)
    extra: dict[str, np.ndarray] = {}
    if n_extra:
        timbres = make_timbres(4)
        comps = heldout_compositions(-(-n_extra // len(timbres)), seed=2026)
        songs = [(c, t) for c in comps for t in timbres][:n_extra]

        def make_extra() -> dict[str, np.ndarray]:
            return _fingerprints(fp, [lambda c=c, t=t: render_song(
                c, t, args.extra_seconds, rate, song_seed(2026, c.id, t.id))
                for c, t in songs], print, "songs beyond the catalog")

        extra = _cached(root / f"{key}-extra-{n_extra}x{args.extra_seconds:g}s.npz",
                        make_extra)
    fdr, fwer = Gate("fdr", 0.05), Gate("fwer", 0.05)
    rng = np.random.default_rng(20)
    results: dict = {"sizes": {}, "protocol": {
        "demo_library": str(demo.path), "songs": n_demo, "extra_songs": n_extra,
        "extra_seconds": args.extra_seconds, "unrelated_queries": len(unrelated["production"]),
        "gate": fdr.describe(), "fwer": fwer.describe()}}
    print(f"{'songs':>5}  {'channel':<12}" + "".join(f" {k + ' first/named':>22}" for k in KINDS)
          + f" {'unrelated fdr':>14} {'fwer':>6}")
    for n in args.sizes:
        per = results["sizes"].setdefault(str(n), {})
        for ch in demo_rows:
            pool = (np.concatenate([demo_rows[ch], extra[ch][: n - n_demo]])
                    if n > n_demo else demo_rows[ch])
            first = {k: 0 for k in KINDS}
            named = {k: 0 for k in KINDS}
            any_fdr = any_fwer = n_unrelated = 0
            shared = build_channel_index(pool) if n >= n_demo else None
            for target in range(n_demo):
                if shared is None:
                    others = rng.choice(np.delete(np.arange(n_demo), target), size=n - 1,
                                        replace=False)
                    rows = np.concatenate([[target], others])
                    index, where = build_channel_index(pool[rows]), 0
                else:
                    index, where = shared, target
                for kind in KINDS:
                    q = pool[target] if kind == "exact" else queries[f"{kind}:{ch}"][target]
                    _, z = channel_scores(q, index)
                    top = int(np.argmax(z)) == where
                    first[kind] += int(top)
                    named[kind] += int(top and bool(fdr.apply(z).named[where]))
                if shared is None or target == 0:  # each library once
                    for q in unrelated[ch]:
                        _, z = channel_scores(q, index)
                        any_fdr += int(fdr.apply(z).named.any())
                        any_fwer += int(fwer.apply(z).named.any())
                        n_unrelated += 1
            row = {k: {"first": first[k] / n_demo, "named": named[k] / n_demo} for k in KINDS}
            row["unrelated_any_fdr"] = any_fdr / n_unrelated
            row["unrelated_any_fwer"] = any_fwer / n_unrelated
            per[ch] = row
            print(f"{n:>5}  {ch:<12}" + "".join(
                f" {row[k]['first']:>11.2f} / {row[k]['named']:<8.2f}" for k in KINDS)
                + f" {row['unrelated_any_fdr']:>14.3f} {row['unrelated_any_fwer']:>6.3f}")
    results["seconds"] = round(time.monotonic() - t0, 1)
    print(f"{results['seconds']:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
