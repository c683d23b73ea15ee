"""Fingerprinting cost against a plain teacher-forced forward+backward of the same chunk.

Prints, for the tiny model and for a random MusicGen-small-sized decoder (24 layers, hidden
1024, 16 heads, 2048 codes, 4 codebooks) on one 10 s chunk:
  plain   forward + backward with weight gradients on, no hooks
  hooks   LUMINA's fingerprint (hooks, weight gradients off)
and, for the tiny model, a dense projection baseline (flatten the exact gradient, multiply
by a seeded Gaussian generated in blocks). The last line is ``ratio=<hooks/plain>`` for the
small-sized model (goal ≤ 1.0). Times are medians of a few repeats in one run.

    python bench/fingerprint_overhead.py [--repeats 3] [--skip-large]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from lumina.fingerprint.fingerprinter import Fingerprinter
from lumina.models.tiny import build_tiny_model, tiny_decoder_config

FRAMES = 500  # 10 s at 50 Hz


def median_time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def plain_step(model, codes):
    def run():
        model.decoder.zero_grad(set_to_none=True)
        model.per_example_loss(codes).sum().backward()
    return run


def dense_step(model, codes, dim=512, block_rows=64):
    names = [n for c in model.channels for n in model.channel_modules(c)]
    modules = dict(model.decoder.named_modules())
    weights = [modules[n].weight for n in names]

    def run():
        grads = torch.autograd.grad(model.per_example_loss(codes).sum(), weights)
        flat = torch.cat([g.reshape(-1) for g in grads])
        gen = torch.Generator().manual_seed(0)
        out = torch.empty(dim)
        for start in range(0, dim, block_rows):
            rows = torch.randn(block_rows, flat.numel(), generator=gen) / dim ** 0.5
            out[start:start + block_rows] = rows @ flat
        return out
    return run


def measure(label, model, repeats, dense=False):
    torch.manual_seed(0)
    codes = torch.randint(0, model.card, (1, model.num_codebooks, FRAMES))
    fingerprinter = Fingerprinter(model, device="cpu", batch_size=1)
    for p in model.decoder.parameters():
        p.requires_grad_(True)
    plain = median_time(plain_step(model, codes), repeats)
    model.decoder.zero_grad(set_to_none=True)
    hooks = median_time(lambda: fingerprinter.fingerprint_codes(codes), repeats)
    params = sum(p.numel() for p in model.decoder.parameters())
    print(f"{label:<14} params={params / 1e6:7.1f}M  plain={plain:7.3f}s  hooks={hooks:7.3f}s  "
          f"hooks/plain={hooks / plain:5.2f}")
    if dense:
        dense_t = median_time(dense_step(model, codes), repeats)
        print(f"{label:<14} dense projection={dense_t:7.3f}s  hooks/dense={hooks / dense_t:5.3f}")
    return hooks / plain


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-large", action="store_true")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, one 10 s chunk")
    measure("tiny", build_tiny_model(0), args.repeats, dense=True)
    if args.skip_large:
        return
    config = tiny_decoder_config(layers=24, hidden=1024, heads=16, codebooks=4, card=2048)
    ratio = measure("small-sized", build_tiny_model(0, decoder_config=config), args.repeats)
    print(f"ratio={ratio:.3f}")


if __name__ == "__main__":
    main()
