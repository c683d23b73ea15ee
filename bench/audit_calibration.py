"""How often does the audit call an *unrelated* track "not clear", and do copies still flag?

    python bench/audit_calibration.py [--alphas 0.05 0.01 0.001] [--composition-rendering NAME]

Library: the demo library (32 songs: 8 compositions x 4 timbres, built like `lumina demo`,
with a new library's default composition rendering unless ``--composition-rendering`` names
another or ``plain``).
Unrelated queries: songs of compositions 8-11 in timbres 4-5 of the same generator, none of
which is in the library or in the embedded model's training set. Copies: library songs
themselves. Prints, per policy alpha, the fraction of unrelated queries with a verdict
other than clear (per channel and overall) and the smallest max-z of the copies. These are
the numbers behind AuditPolicy's default alpha.
"""

from __future__ import annotations

import argparse
from statistics import NormalDist

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alphas", type=float, nargs="+", default=[0.05, 0.01, 0.001])
    parser.add_argument("--queries", type=int, default=8)
    parser.add_argument("--composition-rendering", default=None, metavar="NAME")
    args = parser.parse_args()

    import torch

    from lumina.analysis import analyze_fingerprint
    from lumina.audit import AuditPolicy, track_verdict
    from lumina.demo.catalog import build_catalog
    from lumina.demo.run import prepare_demo_library

    torch.set_num_threads(1)
    demo = prepare_demo_library(say=print, composition_rendering=args.composition_rendering)
    fp = demo.fingerprinter
    print(f"composition channel on: {fp.composition_rendering or 'the audio itself'}")
    wider = build_catalog(12, 6, seconds=24.0)
    unrelated = [s for s in wider.songs if s.composition_id >= 8 and s.timbre_id >= 4]
    unrelated = unrelated[: args.queries]
    results = []
    for song in unrelated:
        results.append(analyze_fingerprint(fp.fingerprint_audio(wider.render(song)),
                                           demo.path).to_json())
        print(f"  unrelated {song.id}: max z " + ", ".join(
            f"{c} {max(i['z'] for i in ch['influences']):.2f}"
            for c, ch in results[-1]["channels"].items()), flush=True)
    copies = [analyze_fingerprint(fp.fingerprint_file(demo.cache / "catalog" / s.filename),
                                  demo.path).to_json() for s in demo.catalog.songs[:: 4]]
    copy_z = {c: min(max(i["z"] for i in r["channels"][c]["influences"]) for r in copies)
              for c in ("composition", "production")}
    print(f"\nlibrary: {results[0]['library']['songs']} songs; {len(results)} unrelated "
          f"queries; {len(copies)} copies (smallest max-z of a copy: composition "
          f"{copy_z['composition']:.2f}, production {copy_z['production']:.2f})")
    print(f"{'alpha':>8} {'gate z':>7} {'not clear':>10} {'comp':>6} {'prod':>6} "
          f"{'copies flagged':>15} {'comp':>6} {'prod':>6}")
    for alpha in args.alphas:
        policy = AuditPolicy(alpha=alpha)
        n = results[0]["library"]["songs"]
        gate_z = NormalDist().inv_cdf(policy.verdict_gate(n))
        verdicts = [track_verdict(r, policy) for r in results]
        not_clear = np.mean([v != "clear" for v, _, _ in verdicts])
        per = {c: np.mean([bool(s.get(c) and s[c].counts) for _, _, s in verdicts])
               for c in ("composition", "production")}
        copy_verdicts = [track_verdict(r, policy) for r in copies]
        flagged = np.mean([v == "flag" for v, _, _ in copy_verdicts])
        flag_per = {c: np.mean([bool(s.get(c) and s[c].counts
                                     and s[c].share >= policy.flag_share)
                                for _, _, s in copy_verdicts])
                    for c in ("composition", "production")}
        print(f"{alpha:>8g} {gate_z:>7.2f} {not_clear:>10.2f} {per['composition']:>6.2f} "
              f"{per['production']:>6.2f} {flagged:>15.2f} {flag_per['composition']:>6.2f} "
              f"{flag_per['production']:>6.2f}")


if __name__ == "__main__":
    main()
