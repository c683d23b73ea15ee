"""Query time vs library size, through the library's own API (DESIGN §6, issue "queries at a
million songs").

For each N it builds an on-disk library of N random unit fingerprints (D = 512, both
channels) with the bulk-append API, appends one more song on its own, prepares the query
cache (unit and centred matrices, kernel-regression factor, song null statistics), and then
times full attributions of random queries in a *fresh process* that opens the library: both
channels, cosine, empirical null, kernel regression, the 95 % gate, top-20 plus every
qualifying song, and the join with titles from the catalog. Each phase runs in its own
subprocess so that peak RSS is measured per phase.

Goals on the 2-core development machine at N = 10⁶: a query ≤ 1.0 s, cache build ≤ 60 s,
peak RSS ≤ 1.5 × the track matrices' size, appending one song ≤ 1 s, time linear in N.

    python bench/query_scale.py [--n N [N ...]] [--dir DIR] [--repeats 5] [--keep]

The last line is ``seconds=<median query time at the largest N>``. 10⁶ songs need about
12 GB of free disk (4 GB of matrices + 8 GB of prepared cache) and a few minutes.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

try:
    from lumina.attribution import AttributionParams
    from lumina.library import Library, SongMeta
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from lumina.attribution import AttributionParams
    from lumina.library import Library, SongMeta

CHANNELS = ("composition", "production")
BATCH = 50_000
GOALS = {"query_s": 1.0, "build_s": 60.0, "rss_ratio": 1.5, "append_one_s": 1.0}


def _peak_rss_bytes() -> int:
    # ru_maxrss is in kilobytes on Linux (bytes on macOS).
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _metas(start: int, n: int) -> list[SongMeta]:
    return [SongMeta(title=f"song {i}", artist=f"artist {i % 997}", audio_sha256=f"{i:064x}",
                     duration=180.0) for i in range(start, start + n)]


def _child_build(path: Path, n: int, dim: int, seed: int, cohort_size: int) -> dict:
    rng = np.random.default_rng(seed)
    identity = {"model_name": "bench", "model_sha256": "0" * 64, "projection_seed": 0,
                "projection_blocks": 32, "dim": dim, "chunk_seconds": 10.0,
                "sample_rate": 32000, "channels": list(CHANNELS)}
    lib = Library.create(path, identity)
    t0 = time.perf_counter()
    with lib.writer() as w:
        for start in range(0, n - 1, BATCH):
            b = min(BATCH, n - 1 - start)
            vecs = {c: _unit(rng.standard_normal((b, dim), dtype=np.float32)) for c in CHANNELS}
            w.append_vectors(vecs, _metas(start, b))
        bulk_s = time.perf_counter() - t0
        one = {c: _unit(rng.standard_normal((1, dim), dtype=np.float32)) for c in CHANNELS}
        t1 = time.perf_counter()
        w.append_vectors(one, _metas(n - 1, 1))
        append_one_s = time.perf_counter() - t1
    t2 = time.perf_counter()
    prepared = lib.prepare(AttributionParams(cohort_size=cohort_size))
    build_s = time.perf_counter() - t2
    assert prepared.n == n
    lib.close()
    return {"bulk_s": bulk_s, "append_one_s": append_one_s, "build_s": build_s,
            "build_rss": _peak_rss_bytes()}


def _child_query(path: Path, dim: int, seed: int, repeats: int, top: int, null: str,
                 cohort_size: int, gate: float) -> dict:
    rng = np.random.default_rng(seed + 1)
    queries = [{c: rng.standard_normal(dim).astype(np.float32) for c in CHANNELS}
               for _ in range(repeats + 1)]
    t_open = time.perf_counter()
    lib = Library.open(path)
    open_s = time.perf_counter() - t_open
    times, engine, qualifying = [], [], 0
    options = AttributionParams(null=null, top=top, cohort_size=cohort_size, gate=gate)
    for q in queries:
        t0 = time.perf_counter()
        result = lib.attribute(q, options=options)
        t1 = time.perf_counter()
        ids = result.prepared.song_ids
        wanted = {int(ids[i.index]) for ch in result.attribution.channels.values()
                  for i in ch.influences}
        titles = lib.song_labels(wanted)
        assert len(titles) == len(wanted)
        times.append(time.perf_counter() - t0)
        engine.append(t1 - t0)
        qualifying = result.attribution.channels["composition"].n_qualifying
    lib.close()
    # The first query maps the cache from disk (page faults); report it apart.
    return {"open_s": open_s, "first_s": times[0], "query_s": statistics.median(times[1:]),
            "engine_s": statistics.median(engine[1:]), "qualifying": qualifying,
            "query_rss": _peak_rss_bytes()}


def _run_child(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True,
                         text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+",
                        default=[1_000, 10_000, 100_000, 1_000_000], help="library sizes")
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=5, help="timed queries per size")
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--null", default="empirical", choices=["empirical", "analytic"])
    parser.add_argument("--gate", type=float, default=0.95,
                        help="confidence gate (0.95; every qualifying song is reported, so "
                             "at 10⁶ random songs ~5 %% of them are built into the result)")
    parser.add_argument("--cohort-size", type=int, default=2000,
                        help="empirical-null cohort (the library default is 2000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dir", type=Path, default=None,
                        help="where to build the libraries (default: a temp folder)")
    parser.add_argument("--keep", action="store_true", help="keep the libraries")
    parser.add_argument("--child", choices=["build", "query"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        path = args.dir / f"lib-{args.n[0]}"
        if args.child == "build":
            res = _child_build(path, args.n[0], args.dim, args.seed, args.cohort_size)
        else:
            res = _child_query(path, args.dim, args.seed, args.repeats, args.top, args.null,
                               args.cohort_size, args.gate)
        print(json.dumps(res))
        return 0

    root = args.dir or Path(tempfile.mkdtemp(prefix="lumina-query-scale-"))
    root.mkdir(parents=True, exist_ok=True)
    common = ["--dim", str(args.dim), "--seed", str(args.seed), "--dir", str(root),
              "--cohort-size", str(args.cohort_size)]
    print(f"D={args.dim}, two channels, float32 unit rows, null={args.null}, gate={args.gate}, "
          f"top={args.top}, "
          f"cohort={args.cohort_size}, median of {args.repeats} queries in a fresh process "
          f"(first query reported apart); library under {root}")
    header = (f"{'N':>9} {'matrices':>9} {'bulk s':>8} {'+1 song s':>9} {'cache s':>8} "
              f"{'build RSS':>9} {'open s':>7} {'1st q s':>8} {'query s':>8} {'engine s':>8} "
              f"{'query RSS':>9} {'RSS/mat':>7} {'qualify':>8}")
    print(header)
    last = None
    rows = []
    for n in args.n:
        path = root / f"lib-{n}"
        shutil.rmtree(path, ignore_errors=True)
        b = _run_child(["--child", "build", "--n", str(n), *common])
        q = _run_child(["--child", "query", "--n", str(n), "--repeats", str(args.repeats),
                        "--top", str(args.top), "--null", args.null, "--gate", str(args.gate),
                        *common])
        matrices = n * args.dim * 4 * len(CHANNELS)
        ratio = q["query_rss"] / matrices
        rows.append((n, b, q, matrices, ratio))
        print(f"{n:>9} {matrices / 2**20:>8.0f}M {b['bulk_s']:>8.2f} {b['append_one_s']:>9.3f} "
              f"{b['build_s']:>8.2f} {b['build_rss'] / 2**20:>8.0f}M {q['open_s']:>7.3f} "
              f"{q['first_s']:>8.3f} {q['query_s']:>8.3f} {q['engine_s']:>8.3f} "
              f"{q['query_rss'] / 2**20:>8.0f}M {ratio:>7.2f} {q['qualifying']:>8}",
              flush=True)
        last = q["query_s"]
        if not args.keep:
            shutil.rmtree(path, ignore_errors=True)
    if len(rows) >= 2:
        (n0, _, q0, *_), (n1, _, q1, *_) = rows[-2], rows[-1]
        print(f"scaling {n0}->{n1}: query time x{q1['query_s'] / q0['query_s']:.1f} "
              f"for N x{n1 / n0:.0f}")
    n, b, q, matrices, ratio = rows[-1]
    checks = [("query", q["query_s"], GOALS["query_s"], "s"),
              ("cache build", b["build_s"], GOALS["build_s"], "s"),
              ("query peak RSS / matrices", ratio, GOALS["rss_ratio"], "x"),
              ("append one song", b["append_one_s"], GOALS["append_one_s"], "s")]
    for name, value, goal, unit in checks:
        verdict = "met" if value <= goal else "MISSED"
        print(f"goal at N={n}: {name} {value:.3g} {unit} (goal <= {goal:g} {unit}): {verdict}")
    if not args.keep and args.dir is None:
        shutil.rmtree(root, ignore_errors=True)
    print(f"seconds={last:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
