"""Is the empirical null calibrated on *small* libraries?

    python bench/small_library.py [--sizes 4 6 8 12 16 24 32] [--draws 40]
        [--composition-rendering NAME]

The empirical null S-normalises every score against a cohort of library songs (adaptive: the
upper half of the cohort's scores). With a handful of songs those statistics come from two or
three numbers, and the gate may pass far more than the 5 % it promises. This script measures
it: from the demo library (32 songs, built like ``lumina demo``) it draws random sub-libraries
of each size, prepares them exactly as a library of that size is prepared
(:func:`lumina.attribution.build_channel_index`), and scores 16 unrelated queries against
them — 8 compositions × 2 timbres that are in neither the library nor the embedded model's
training set (the queries of ``lumina validate`` row 4). Printed per size and channel: the
fraction of query–song pairs passing the 95 % gate (a calibrated null: 0.05) and the fraction
of queries with *any* song passing (what a per-track verdict sees; calibrated:
1 − 0.95^N).

The query fingerprints are cached under the demo cache (``small-library/``).

Measured 2026-11-24 (lumina-tiny, ``--composition-rendering plain``, 40 draws per size; pairs
passing the 95 % gate, composition / production), before and after the Student-t correction
of the empirical null (:func:`lumina.attribution.small_cohort_z`):

=====  =================  ===============
songs  plain z            corrected z
=====  =================  ===============
4      0.425 / 0.892      0.003 / 0.000
6      0.193 / 0.461      0.049 / 0.045
8      0.113 / 0.225      0.043 / 0.053
12     0.063 / 0.092      0.031 / 0.045
16     0.046 / 0.058      0.027 / 0.034
24     0.035 / 0.043      0.026 / 0.030
32     0.025 / 0.037      0.023 / 0.029
=====  =================  ===============

Before, a four-song library flagged 91 % / 100 % of unrelated queries with at least one
song; after, 1 % / 0 %. Four songs (a top-2 cohort, one degree of freedom) are now
conservative rather than permissive; from six songs on the gate holds its 5 %.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time

import numpy as np


def unrelated_queries(demo, say) -> dict[str, np.ndarray]:
    """Track fingerprints (Q, D) per channel of the 16 unrelated queries, cached."""
    from lumina.demo.catalog import build_catalog
    from lumina.workspace import identity_of_fingerprinter

    fp = demo.fingerprinter
    ident = json.dumps(identity_of_fingerprinter(fp), sort_keys=True, default=str)
    path = demo.cache / "small-library" / (
        hashlib.sha256(ident.encode()).hexdigest()[:16] + ".npz")
    if path.exists():
        with np.load(path) as data:
            return {k: data[k] for k in data.files}
    wider = build_catalog(16, 6, seconds=24.0)
    songs = [s for s in wider.songs if s.composition_id >= 8 and s.timbre_id >= 4]
    out: dict[str, list[np.ndarray]] = {}
    for i, song in enumerate(songs):
        say(f"fingerprinting unrelated query {i + 1}/{len(songs)}")
        f = fp.fingerprint_audio(wider.render(song))
        for ch, v in f.channels.items():
            out.setdefault(ch, []).append(np.asarray(v, dtype=np.float64))
    arrays = {ch: np.stack(v) for ch, v in out.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return arrays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[4, 6, 8, 12, 16, 24, 32])
    parser.add_argument("--draws", type=int, default=40, help="random sub-libraries per size")
    parser.add_argument("--composition-rendering", default=None, metavar="NAME")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    import torch

    from lumina.attribution import build_channel_index, channel_scores, gate_z
    from lumina.demo.run import prepare_demo_library
    from lumina.library import Library

    torch.set_num_threads(args.threads)
    t0 = time.monotonic()
    demo = prepare_demo_library(say=print, composition_rendering=args.composition_rendering)
    with Library.open(demo.path) as lib:
        prepared = lib.prepare()
        library = {ch: np.asarray(ix.unit) for ch, ix in prepared.indexes.items()}
    queries = unrelated_queries(demo, print)
    z_gate = gate_z(0.95)
    n_total = next(iter(library.values())).shape[0]
    print(f"composition channel on: {demo.fingerprinter.composition_rendering or 'the audio'}; "
          f"{len(next(iter(queries.values())))} unrelated queries; {args.draws} draws per size")
    print(f"{'songs':>5}  {'channel':<12} {'pairs passing':>13} {'queries with any':>16} "
          f"{'calibrated any':>14} {'mean max z':>10}")
    rng = np.random.default_rng(0)
    for n in args.sizes:
        n = min(n, n_total)
        for ch, mat in library.items():
            passing = any_passing = pairs = 0
            max_z = []
            for _ in range(args.draws if n < n_total else 1):
                rows = rng.choice(n_total, size=n, replace=False)
                index = build_channel_index(mat[rows])
                for q in queries[ch]:
                    _, z = channel_scores(q, index)
                    passing += int(np.sum(z >= z_gate))
                    any_passing += int(np.any(z >= z_gate))
                    pairs += n
                    max_z.append(float(np.max(z)))
            n_queries = len(max_z)
            print(f"{n:>5}  {ch:<12} {passing / pairs:>13.3f} {any_passing / n_queries:>16.3f} "
                  f"{1 - 0.95 ** n:>14.3f} {np.mean(max_z):>10.2f}")
    print(f"{time.monotonic() - t0:.0f} s")


if __name__ == "__main__":
    main()
