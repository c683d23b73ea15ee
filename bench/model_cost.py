"""Fingerprint cost of one 10 s chunk: a model folder against a baseline model folder.

Both fingerprint the same catalog audio (the whole chunk path a user pays for: decode
is skipped, encode + rendering + forward/backward + projection are timed) with the
library default (the ``shepard/1`` composition rendering), one torch thread, and the
medians of a few repeats in one run are compared. The last line is
``ratio=<model/baseline>`` (issue 19's goal for a new embedded model: ≤ 1.5).

    git archive <old commit> resources/models/lumina-tiny | tar -x -C /tmp/old
    python bench/model_cost.py --baseline /tmp/old/resources/models/lumina-tiny \\
        [--model resources/models/lumina-tiny] [--chunks 8] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from lumina.demo.catalog import build_catalog
from lumina.fingerprint.fingerprinter import Fingerprinter
from lumina.library import DEFAULT_COMPOSITION_RENDERING
from lumina.models import embedded_model_path, load_model


def seconds_per_chunk(folder: Path, audio: np.ndarray, chunks: int, repeats: int) -> float:
    """Median seconds to fingerprint ``audio`` divided by its ``chunks`` 10 s chunks."""
    model = load_model(folder)
    fp = Fingerprinter(model, device="cpu", composition_rendering=DEFAULT_COMPOSITION_RENDERING)
    fp.fingerprint_audio(audio[: 10 * model.sample_rate])  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fp.fingerprint_audio(audio)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) / chunks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", type=Path, required=True)
    parser.add_argument("--model", type=Path, default=None,
                        help="default: the embedded lumina-tiny")
    parser.add_argument("--chunks", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    catalog = build_catalog(8, 4, 24.0, seed=0)
    songs = [catalog.render(s) for s in catalog.songs[: (args.chunks + 1) // 2]]
    audio = np.concatenate([s[: 20 * catalog.rate] for s in songs])[: args.chunks * 10
                                                                      * catalog.rate]
    model = args.model or embedded_model_path()
    new = seconds_per_chunk(model, audio, args.chunks, args.repeats)
    old = seconds_per_chunk(args.baseline, audio, args.chunks, args.repeats)
    print(f"model    {model}: {1000 * new:.0f} ms per 10 s chunk")
    print(f"baseline {args.baseline}: {1000 * old:.0f} ms per 10 s chunk")
    print(f"ratio={new / old:.2f}")


if __name__ == "__main__":
    main()
