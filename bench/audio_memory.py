"""Peak memory of streaming a long file through ``lumina.audio.iter_chunks``.

Writes a long 44.1 kHz stereo file (2 hours by default) block by block into a temporary
folder, then streams it at 32 kHz in a fresh child process and reports how much that
process's peak RSS grew, against the size the whole decoded signal would take. The child
keeps the measurement free of the generator's own allocations and of import-time memory.

Usage::

    python bench/audio_memory.py [--minutes 120] [--format flac|wav] [--keep DIR]

The last line printed is ``ratio=<peak increase / full mono signal at 32 kHz>``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import soundfile as sf

SOURCE_RATE = 44100
CHANNELS = 2
TARGET_RATE = 32000
_GEN_BLOCK_SECONDS = 10


def _rss_kib(field: str) -> int:
    """A memory figure of this process from /proc (Linux), in KiB; ``VmRSS`` or ``VmHWM``."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def _peak_rss_kib() -> int:
    try:
        return _rss_kib("VmHWM")
    except (OSError, KeyError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        # ru_maxrss is KiB on Linux but bytes on macOS.
        return peak // 1024 if sys.platform == "darwin" else peak


def write_long_file(path: Path, seconds: int, fmt: str) -> None:
    """A tone glide plus a little noise (so FLAC cannot squeeze it to nothing), in blocks."""
    rng = np.random.default_rng(0)
    block = _GEN_BLOCK_SECONDS * SOURCE_RATE
    phase = 0.0
    subtype = "PCM_16"
    with sf.SoundFile(path, "w", SOURCE_RATE, CHANNELS, format=fmt.upper(), subtype=subtype) as out:
        for start in range(0, seconds * SOURCE_RATE, block):
            n = min(block, seconds * SOURCE_RATE - start)
            t_sec = (start + np.arange(n)) / SOURCE_RATE
            freq = 220.0 + 220.0 * (0.5 + 0.5 * np.sin(2 * np.pi * t_sec / 600.0))
            phases = phase + np.cumsum(2 * np.pi * freq / SOURCE_RATE)
            phase = float(phases[-1] % (2 * np.pi))
            mono = 0.4 * np.sin(phases) + 0.02 * rng.standard_normal(n)
            stereo = np.stack([mono, 0.8 * mono], axis=1).astype(np.float32)
            out.write(stereo)


def measure(path: Path) -> dict[str, float]:
    """Stream ``path`` and report memory; runs in the child process."""
    from lumina.audio import iter_chunks, probe

    info = probe(path)
    baseline_kib = _rss_kib("VmRSS")
    tracemalloc.start()
    t0 = time.perf_counter()
    n_chunks = 0
    n_samples = 0
    for chunk in iter_chunks(path, TARGET_RATE):
        n_chunks += 1
        n_samples += len(chunk.samples)
    elapsed = time.perf_counter() - t0
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    peak_kib = _peak_rss_kib()
    return {
        "source_seconds": info.duration,
        "source_frames": info.frames,
        "chunks": n_chunks,
        "samples": n_samples,
        "seconds": elapsed,
        "rss_increase": (peak_kib - baseline_kib) * 1024.0,
        "traced_peak": float(traced_peak),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=120.0)
    parser.add_argument("--format", choices=["flac", "wav"], default="flac")
    parser.add_argument("--keep", type=Path, help="write the test file here and keep it")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.measure is not None:
        print(json.dumps(measure(args.measure)))
        return

    seconds = round(args.minutes * 60)
    with tempfile.TemporaryDirectory(prefix="lumina-bench-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"long.{args.format}"
        t0 = time.perf_counter()
        write_long_file(path, seconds, args.format)
        print(
            f"wrote {path.name}: {seconds / 3600:.2f} h, {SOURCE_RATE} Hz, {CHANNELS} ch, "
            f"{path.stat().st_size / 2**20:.0f} MiB in {time.perf_counter() - t0:.1f} s"
        )
        child = subprocess.run(
            [sys.executable, __file__, "--measure", str(path)],
            check=True,
            capture_output=True,
            text=True,
        )
        result = json.loads(child.stdout.strip().splitlines()[-1])

    mib = 2.0**20
    frames = result["source_frames"]
    full_source = frames * CHANNELS * 4  # float32, all channels, at the source rate
    full_mono = round(frames * TARGET_RATE / SOURCE_RATE) * 4  # what load_audio would hold
    peak = result["rss_increase"]
    print(
        f"iter_chunks at {TARGET_RATE} Hz: {result['chunks']} chunks, "
        f"{result['samples'] / TARGET_RATE:.1f} s of audio in {result['seconds']:.1f} s "
        f"({result['source_seconds'] / result['seconds']:.0f}x real time)"
    )
    print(f"full decoded source (float32, {CHANNELS} ch): {full_source / mib:9.1f} MiB")
    print(f"full mono signal at {TARGET_RATE} Hz (float32): {full_mono / mib:9.1f} MiB")
    print(f"peak RSS increase while streaming:      {peak / mib:9.1f} MiB")
    print(f"peak traced (tracemalloc) allocations:  {result['traced_peak'] / mib:9.1f} MiB")
    print(f"ratio={peak / full_mono:.4f}")


if __name__ == "__main__":
    main()
