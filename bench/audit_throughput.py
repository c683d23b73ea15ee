"""Tracks per minute: `lumina audit` on a folder versus `lumina attribute` once per track.

    python bench/audit_throughput.py [--tracks 20] [--seconds 20]

Both write one signed JSON report per track against the demo library (built like
`lumina demo`) with the embedded model on this machine's CPU. The audit loads the model and
library once and decodes ahead; the per-track loop pays process start-up, imports and model
loading every time. Prints both rates and their ratio, measured in this one run.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()

    import soundfile as sf

    from lumina.audit import run_audit
    from lumina.demo.run import prepare_demo_library
    from lumina.demo.synth import random_music

    demo = prepare_demo_library(say=print)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "tracks"
        folder.mkdir()
        for i in range(args.tracks):
            sf.write(folder / f"track{i:02d}.wav", random_music(args.seconds, 44100, 500 + i),
                     44100)
        t0 = time.perf_counter()
        for path in sorted(folder.glob("*.wav")):
            subprocess.run([sys.executable, "-m", "lumina", "attribute", str(path), "--library",
                            str(demo.path), "--json", str(Path(tmp) / f"{path.stem}.json")],
                           check=True, capture_output=True)
        single = time.perf_counter() - t0
        t0 = time.perf_counter()
        summary = run_audit([folder], demo.path, Path(tmp) / "audit", write_pdf=False)
        batch = time.perf_counter() - t0
    n = args.tracks
    assert summary.counts()["error"] == 0
    print(f"{n} tracks of {args.seconds:g} s against {demo.path.name} (32 songs):")
    print(f"  lumina attribute per track: {single:7.1f} s  ({60 * n / single:6.1f} tracks/min)")
    print(f"  lumina audit (one run):     {batch:7.1f} s  ({60 * n / batch:6.1f} tracks/min)")
    print(f"  audit is {single / batch:.1f}x faster (goal: >= 3x)")


if __name__ == "__main__":
    main()
