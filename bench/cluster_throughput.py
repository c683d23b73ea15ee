"""Indexing throughput on Ray, and what 10⁶ three-minute songs cost on 8 and 64 GPUs
(issue "catalog indexing at label scale on a Ray cluster"). Not run by CI.

Measured on this machine (a local Ray instance with 2 CPUs, the embedded model lumina-tiny,
``--songs`` generated songs of ``--seconds`` s stored as 44.1 kHz stereo FLAC):

* songs per hour of a plain local ``index_files`` (one torch thread) and of
  ``index_on_ray`` with 1 and 2 CPU workers (steady state, from the first commit to the
  last, and the wall time including Ray's start and the workers' model loading);
* the driver's own ceilings: songs per second it commits (one per transaction, and in the
  batches of up to 64 the cluster driver uses when results queue up), SHA-256 throughput
  of its hashing threads, and the CPU time to decode and resample one song (what a worker
  needs next to its GPU).

Estimated (there is no GPU here, so from FLOPs): the FLOPs of one fingerprint of a 10 s chunk
are counted with ``torch.utils.flop_counter`` on a MusicGen-small-sized decoder (24 layers,
hidden 1024, 4 codebooks of 2048) and on an EnCodec with the 32 kHz model's configuration,
both with random weights (FLOPs do not depend on the values); medium (48 × 1536) and large
(48 × 2048) are scaled from the small count with the per-token formula in
:func:`analytic_flops`. GPU time = FLOPs / (peak × utilisation), by default an H100/H200's
67 TFLOP/s of plain float32 (LUMINA runs the checkpoints' float32 weights, TF32 off) at 50 %.

    python bench/cluster_throughput.py [--songs 12] [--seconds 180] [--skip-ray]
                                       [--skip-flop-count] [--tflops 67] [--utilization 0.5]

The last line is ``songs_per_hour_1=<…> songs_per_hour_2=<…>`` (Ray, 1 and 2 workers).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

try:
    import lumina  # noqa: F401
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SONG_SECONDS = 180.0
CHUNKS_PER_SONG = 18  # 3 min in 10 s chunks
N_SONGS = 1_000_000
# (label, layers, hidden, heads): the decoders of MusicGen small / medium / large.
SIZES = (("small", 24, 1024, 16), ("medium", 48, 1536, 24), ("large", 48, 2048, 32))
# Positions of a 10 s chunk: 500 frames at 50 Hz + the delay pattern's 4 − 1.
POSITIONS = 503


def _write_songs(folder: Path, n: int, seconds: float) -> list[Path]:
    import soundfile as sf

    from lumina.demo.synth import random_music

    paths = []
    for i in range(n):
        x = random_music(seconds, 44100, 5000 + i)
        path = folder / f"Artist {i} - Song {i}.flac"
        sf.write(path, np.stack([x, np.roll(x, 11)], axis=1), 44100)
        paths.append(path)
    return paths


def _new_library(path: Path):
    from lumina.fingerprint.fingerprinter import Fingerprinter
    from lumina.library import Library
    from lumina.models import load_model
    from lumina.workspace import identity_of_fingerprinter

    fp = Fingerprinter(load_model("lumina-tiny"), device="cpu")
    return fp, Library.create(path, identity_of_fingerprinter(fp), model_spec="lumina-tiny")


def measure_local(files: list[Path], tmp: Path) -> float:
    import torch

    from lumina.indexing import index_files

    torch.set_num_threads(1)
    fp, lib = _new_library(tmp / "local")
    with lib, lib.writer() as w:
        summary = index_files(w, files, fp)
    assert summary.indexed == len(files), summary.events
    return summary.indexed / summary.seconds * 3600.0


def measure_ray(files: list[Path], tmp: Path, workers: int) -> tuple[float, float]:
    from lumina.indexing.cluster import index_on_ray

    commits: list[tuple[float, int]] = []

    def progress(status) -> None:
        if not commits or status.done != commits[-1][1]:
            commits.append((time.perf_counter(), status.done))

    t0 = time.perf_counter()
    summary = index_on_ray(tmp / f"ray{workers}", files, model="lumina-tiny", workers=workers,
                           progress=progress)
    wall = time.perf_counter() - t0
    assert summary.indexed == len(files), summary.events
    # Steady state: from the first commit to the last (every worker has loaded the model).
    (t_first, n_first), (t_last, n_last) = commits[0], commits[-1]
    return (n_last - n_first) / (t_last - t_first) * 3600.0, wall


def measure_commit(tmp: Path, songs: int = 512) -> dict[int, float]:
    """Songs per second the driver commits, one per transaction and in batches of 64."""
    from lumina.fingerprint.fingerprinter import Fingerprint
    from lumina.library import Library, SongMeta

    rng = np.random.default_rng(0)
    out = {}
    for batch in (1, 64):
        lib = Library.create(tmp / f"commit{batch}", {
            "model_name": "bench", "model_sha256": "ab" * 32, "projection_seed": 0,
            "projection_blocks": 32, "dim": 512, "chunk_seconds": 10.0, "sample_rate": 32000,
            "channels": ["composition", "production"]})

        def fingerprint(i: int) -> Fingerprint:
            chunks = {c: rng.standard_normal((CHUNKS_PER_SONG, 512)).astype(np.float32)
                      for c in ("composition", "production")}
            return Fingerprint(
                channels={c: v.mean(axis=0) for c, v in chunks.items()}, chunk_vectors=chunks,
                chunk_times=np.stack([np.arange(18) * 10.0, np.arange(1, 19) * 10.0], axis=1),
                loss=np.full(CHUNKS_PER_SONG, 5.0, dtype=np.float32), dim=512,
                projection_seed=0, projection_blocks=32, chunk_seconds=10.0, sample_rate=32000,
                model_name="bench", model_sha256="ab" * 32, audio_sha256=f"{i:064x}")

        fps = [fingerprint(i) for i in range(songs)]
        metas = [SongMeta(title=f"song {i}", audio_sha256=f"{i:064x}", duration=180.0)
                 for i in range(songs)]
        with lib, lib.writer() as w:
            t0 = time.perf_counter()
            for start in range(0, songs, batch):
                w.add_fingerprints(fps[start:start + batch], metas[start:start + batch])
            out[batch] = songs / (time.perf_counter() - t0)
    return out


def measure_hash(files: list[Path], threads: int = 8) -> float:
    """Bytes per second hashed by the driver's threads (files in the page cache)."""
    from lumina.audio import file_sha256

    size = sum(p.stat().st_size for p in files)
    for p in files:  # warm the page cache
        p.read_bytes()
    t0 = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(file_sha256, files * 4))
    return 4 * size / (time.perf_counter() - t0)


def measure_decode(path: Path) -> float:
    """CPU seconds to decode, downmix and resample one song to 32 kHz chunks."""
    from lumina.audio import iter_chunks

    t0 = time.process_time()
    list(iter_chunks(path, 32000, 10.0))
    return time.process_time() - t0


# --------------------------------------------------------------------------- FLOPs


def analytic_flops(layers: int, hidden: int, positions: int = POSITIONS,
                   codebooks: int = 4, card: int = 2048) -> float:
    """Forward + input-gradient backward of one chunk, per token: self-attention q/k/v/o
    (4d²), cross-attention q/o on null conditioning (2d²; k/v see one position), FFN
    (2 · 4d²), attention scores and mixing (2·T·d), output heads (K·card·d), as multiply-adds
    (×2 FLOPs), forward and backward alike (weight gradients are off)."""
    d = hidden
    per_token = layers * (14 * d * d + 2 * positions * d) + codebooks * card * d
    return 2 * 2 * per_token * positions


def counted_flops() -> tuple[float, float]:
    """(LM FLOPs of one fingerprinted 10 s chunk, small-sized; codec FLOPs of encoding it)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    from transformers import EncodecConfig, EncodecModel

    from lumina.fingerprint.fingerprinter import Fingerprinter
    from lumina.models.tiny import build_tiny_model, tiny_decoder_config

    torch.manual_seed(0)
    _, layers, hidden, heads = SIZES[0]
    config = tiny_decoder_config(layers=layers, hidden=hidden, heads=heads, codebooks=4,
                                 card=2048)
    model = build_tiny_model(0, decoder_config=config)
    fingerprinter = Fingerprinter(model, device="cpu", batch_size=1)
    codes = torch.randint(0, 2048, (1, 4, 500))
    counter = FlopCounterMode(display=False)
    with counter:
        fingerprinter.fingerprint_codes(codes)
    lm = float(counter.get_total_flops())
    del model, fingerprinter
    # facebook/encodec_32khz's configuration (random weights: FLOPs do not depend on them).
    codec = EncodecModel(EncodecConfig(
        sampling_rate=32000, audio_channels=1, num_filters=64, upsampling_ratios=[8, 5, 4, 4],
        hidden_size=128, codebook_size=2048, codebook_dim=128, num_lstm_layers=2,
        num_residual_layers=1, target_bandwidths=[2.2], normalize=False,
        use_causal_conv=False, pad_mode="reflect", norm_type="weight_norm", compress=2))
    codec.eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        codec.encode(torch.zeros(1, 1, 320000), bandwidth=2.2)
    return lm, float(counter.get_total_flops())


def _days(seconds: float) -> str:
    return f"{seconds / 3600:8.1f} h ({seconds / 86400:5.2f} d)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=SONG_SECONDS)
    parser.add_argument("--skip-ray", action="store_true", help="only the estimate")
    parser.add_argument("--skip-flop-count", action="store_true",
                        help="use the analytic FLOPs for every size (no 30 s count)")
    parser.add_argument("--tflops", type=float, default=67.0,
                        help="GPU peak in TFLOP/s for float32 (H100/H200 SXM: 67)")
    parser.add_argument("--utilization", type=float, default=0.5)
    args = parser.parse_args()

    rates = {1: float("nan"), 2: float("nan")}
    commit: dict[int, float] = {}
    hash_rate = decode_s = float("nan")
    song_bytes = 0.0
    with tempfile.TemporaryDirectory(prefix="lumina-cluster-bench-") as tmp_name:
        tmp = Path(tmp_name)
        if not args.skip_ray:
            import ray

            (tmp / "music").mkdir()
            t0 = time.perf_counter()
            files = _write_songs(tmp / "music", args.songs, args.seconds)
            song_bytes = sum(p.stat().st_size for p in files) / len(files)
            print(f"wrote {len(files)} songs of {args.seconds:g} s (44.1 kHz stereo FLAC, "
                  f"{song_bytes / 2**20:.1f} MiB each) in {time.perf_counter() - t0:.0f} s; "
                  f"{os.cpu_count()} CPU(s) here")
            local = measure_local(files, tmp)
            print(f"local index_files, 1 torch thread:  {local:8.0f} songs/h")
            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                     logging_level=logging.ERROR)
            try:
                for workers in (1, 2):
                    rate, wall = measure_ray(files, tmp, workers)
                    rates[workers] = rate
                    print(f"ray, {workers} CPU worker(s):            {rate:8.0f} songs/h steady; "
                          f"{wall:.1f} s wall for {len(files)} songs incl. start-up")
            finally:
                ray.shutdown()
            commit = measure_commit(tmp)
            print(f"driver commits: {commit[1]:.0f} songs/s one per transaction, "
                  f"{commit[64]:.0f} songs/s in batches of 64 (18 chunks, D=512, 2 channels)")
            hash_rate = measure_hash(files)
            print(f"driver hashing (8 threads, page cache): {hash_rate / 1e9:.2f} GB/s")
            decode_s = measure_decode(files[0])
            print(f"decode + resample one {args.seconds:g} s song: {decode_s:.2f} CPU s")

    if args.skip_flop_count:
        lm_small = analytic_flops(SIZES[0][1], SIZES[0][2])
        codec = 0.0
        print("\nFLOPs: analytic only (codec not counted)")
    else:
        t0 = time.perf_counter()
        lm_small, codec = counted_flops()
        print(f"\nFLOPs counted in {time.perf_counter() - t0:.0f} s: small-sized fingerprint of "
              f"one 10 s chunk {lm_small / 1e12:.3f} TFLOP (analytic "
              f"{analytic_flops(SIZES[0][1], SIZES[0][2]) / 1e12:.3f}), EnCodec 32 kHz encode "
              f"{codec / 1e9:.1f} GFLOP")
    scale = lm_small / analytic_flops(SIZES[0][1], SIZES[0][2])
    peak = args.tflops * 1e12 * args.utilization
    print(f"estimate at {args.tflops:g} TFLOP/s × {args.utilization:.0%} = {peak / 1e12:.1f} "
          f"TFLOP/s effective per GPU, {N_SONGS:,} songs of 3 min ({CHUNKS_PER_SONG} chunks):")
    print(f"{'model':<8} {'TFLOP/song':>10} {'s/song':>7} {'songs/h/GPU':>11} "
          f"{'8 GPUs':>22} {'64 GPUs':>22} {'songs/s @64':>11}")
    for label, layers, hidden, _ in SIZES:
        chunk = (lm_small if label == "small" else analytic_flops(layers, hidden) * scale) + codec
        per_song = chunk * CHUNKS_PER_SONG
        seconds = per_song / peak
        total = N_SONGS * seconds
        print(f"{label:<8} {per_song / 1e12:10.1f} {seconds:7.2f} {3600 / seconds:11.0f} "
              f"{_days(total / 8):>22} {_days(total / 64):>22} {64 / seconds:11.1f}")
    if commit:
        print(f"driver ceilings: {commit[64]:.0f} songs/s committed (batched); hashing "
              f"{hash_rate / 1e9:.2f} GB/s = {hash_rate / max(song_bytes, 1):.0f} songs/s of "
              f"{song_bytes / 2**20:.0f} MiB (3-min 44.1 kHz stereo WAV: 30 MiB, "
              f"{hash_rate / (30 * 2**20):.0f} songs/s); decode {decode_s:.2f} CPU s per song")
    print(f"songs_per_hour_1={rates[1]:.0f} songs_per_hour_2={rates[2]:.0f}")


if __name__ == "__main__":
    main()
