"""One prepared GPU check of the fingerprint path (issue 24). Not run by CI (a CPU smoke run is).

For each size — ``small`` / ``medium`` / ``large``: randomly initialised MusicGen decoders
built from the public configs below (no download), with one EnCodec of the 32 kHz model's
configuration (random weights, codebooks seeded by k-means on synthetic music, as for
lumina-tiny); ``tiny``: the embedded lumina-tiny — it fingerprints one synthetic track
(:func:`lumina.demo.synth.random_music`, ``--seconds``) in each precision and prints
seconds per track (after one warm-up), peak device memory, the fraction of the H200's bf16
dense peak, the bf16-vs-float32 cosine per channel and the host syncs of one pass. Then, on
CUDA, for lumina-tiny: CPU-vs-CUDA fingerprint cosine per channel, and whether two CUDA runs
with deterministic algorithms on are bit-identical. An out-of-memory stops that model's
measurement and the script goes on.

FLOPs per track = 6 × decoder parameters × positions (chunks × (frames + codebooks − 1))
+ the codec's encode (counted with ``torch.utils.flop_counter``): the issue's formula; with
weight gradients off the pass does closer to 4 × parameters × positions, so the fraction of
peak overstates the work done by up to 1.5×.

    python bench/gpu_check.py [--device cuda] [--sizes small,medium,large] [--seconds 180]
                              [--precisions float32,bfloat16] [--json OUT] [--budget 420]
    python bench/gpu_check.py --device cpu --sizes tiny --seconds 20     # CPU smoke test
"""

from __future__ import annotations

import os

# Must be set before cuBLAS starts for deterministic CUDA matmuls.
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

try:
    import lumina  # noqa: F401
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lumina.demo.synth import random_music  # noqa: E402
from lumina.fingerprint.fingerprinter import Fingerprinter  # noqa: E402
from lumina.fingerprint.precision import PRECISIONS, is_out_of_memory  # noqa: E402

#: MusicGen decoders' public configs: (layers, d_model, heads, ffn); 4 codebooks × 2048 codes,
#: 50 Hz frames of the 32 kHz EnCodec.
SIZES = {"small": (24, 1024, 16, 4096), "medium": (48, 1536, 24, 6144),
         "large": (48, 2048, 32, 8192)}
CODEBOOKS, CARD, RATE = 4, 2048, 32_000
H200_BF16_PEAK = 989e12  # dense bf16 tensor-core FLOP/s of one H200 SXM
CODEC_WORDS = ("EnCodec with facebook/encodec_32khz's configuration (random weights, codebooks "
               "seeded by k-means on synthetic music), shared by small/medium/large; tiny uses "
               "lumina-tiny's own codec")


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-30))


def _agreement(fp, ref) -> dict[str, dict[str, float]]:
    """Per channel: cosine of the track fingerprints and the lowest chunk cosine."""
    return {c: {"track": _cos(fp.channels[c], ref.channels[c]),
                "min_chunk": min(_cos(x, y) for x, y in
                                 zip(fp.chunk_vectors[c], ref.chunk_vectors[c], strict=True))}
            for c in ref.channels}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _free(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def build_codec(device: torch.device):
    from transformers import EncodecConfig, EncodecModel

    from lumina.models.tiny import seed_codebooks

    torch.manual_seed(0)
    codec = EncodecModel(EncodecConfig(
        sampling_rate=RATE, audio_channels=1, num_filters=64, upsampling_ratios=[8, 5, 4, 4],
        hidden_size=128, codebook_size=CARD, codebook_dim=128, num_lstm_layers=2,
        num_residual_layers=1, target_bandwidths=[2.2], normalize=False,
        use_causal_conv=False, pad_mode="reflect", norm_type="weight_norm", compress=2))
    codec.eval().to(device)
    calibration = np.stack([random_music(6.0, RATE, 100 + i) for i in range(4)])
    seed_codebooks(codec, torch.from_numpy(calibration).to(device), levels=CODEBOOKS, seed=0)
    return codec


def build_model(size: str, device: torch.device, codec_cache: dict):
    """lumina-tiny, or a random MusicGen-``size``-sized decoder built on ``device``."""
    from transformers import MusicgenForCausalLM

    from lumina.models import load_model
    from lumina.models.musicgen import MusicGenModel, decoder_config

    if size == "tiny":
        return load_model("lumina-tiny")
    if "codec" not in codec_cache:
        codec_cache["codec"] = build_codec(device)
    layers, hidden, heads, ffn = SIZES[size]
    config = decoder_config(layers=layers, hidden=hidden, heads=heads, codebooks=CODEBOOKS,
                            card=CARD, ffn=ffn)
    torch.manual_seed(0)
    with torch.device(device):
        decoder = MusicgenForCausalLM(config)
    return MusicGenModel(name=f"musicgen-{size}-random", decoder=decoder,
                         codec=codec_cache["codec"], weights_sha256=f"random-{size}",
                         source="random init from the public config")


def encode_flops(model, track: np.ndarray, chunk_seconds: float = 10.0) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    from lumina.audio import split_chunks

    counter = FlopCounterMode(display=False)
    with counter:
        for chunk in split_chunks(track, model.sample_rate, chunk_seconds):
            model.encode(torch.from_numpy(chunk.samples)[None])
    return float(counter.get_total_flops())


def count_host_syncs(fingerprinter: Fingerprinter, track: np.ndarray) -> int | None:
    """Host syncs CUDA reports during one pass over one 10 s chunk (None off CUDA)."""
    if fingerprinter.device.type != "cuda":
        return None
    codes = fingerprinter._encode(track[: 10 * fingerprinter.model.sample_rate])[None]
    _sync(fingerprinter.device)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            fingerprinter.fingerprint_codes(codes)
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return sum("synchroniz" in str(w.message).lower() for w in caught)


def measure(size: str, device: torch.device, track: np.ndarray, precisions: list[str],
            batch_size: int | None, codec_cache: dict) -> dict:
    row: dict = {"size": size, "runs": {}}
    try:
        t0 = time.perf_counter()
        model = build_model(size, device, codec_cache)
        model.to(device)
        row["build_s"] = time.perf_counter() - t0
        row["parameters"] = sum(p.numel() for p in model.decoder.parameters())
        row["attention"] = str(getattr(model.decoder.config, "_attn_implementation", "?"))
        chunks = -(-len(track) // (10 * model.sample_rate))
        frames = int(round(model.frame_rate * 10.0))
        row["positions"] = chunks * (frames + model.num_codebooks - 1)
        row["encode_flops"] = encode_flops(model, track)
        row["flops"] = 6.0 * row["parameters"] * row["positions"] + row["encode_flops"]
    except Exception as exc:  # noqa: BLE001 — report and go on to the next size
        row["error"] = "out of memory" if is_out_of_memory(exc) else f"{type(exc).__name__}: {exc}"
        _free(device)
        return row
    fingerprints = {}
    for precision in precisions:
        run: dict = {}
        row["runs"][precision] = run
        try:
            fingerprinter = Fingerprinter(model, device=device, batch_size=batch_size,
                                          precision=precision)
            run["batch"] = fingerprinter.batch_size
            fingerprinter.fingerprint_audio(track)  # warm-up
            _sync(device)
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            t0 = time.perf_counter()
            fp = fingerprinter.fingerprint_audio(track)
            _sync(device)
            run["seconds"] = time.perf_counter() - t0
            run["batch_after"] = fingerprinter.batch_size
            if device.type == "cuda":
                run["peak_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
            run["bf16_peak_fraction"] = row["flops"] / run["seconds"] / H200_BF16_PEAK
            run["host_syncs_per_pass"] = count_host_syncs(fingerprinter, track)
            run["finite"] = bool(all(np.isfinite(v).all() for v in fp.chunk_vectors.values())
                                 and np.isfinite(fp.loss).all())
            run["mean_loss"] = float(np.mean(fp.loss))
            fingerprints[precision] = fp
        except Exception as exc:  # noqa: BLE001
            run["error"] = ("out of memory" if is_out_of_memory(exc)
                            else f"{type(exc).__name__}: {exc}")
        finally:
            fingerprinter = None  # noqa: F841
            _free(device)
    if "float32" in fingerprints:
        for precision, fp in fingerprints.items():
            if precision != "float32":
                row["runs"][precision]["cosine_to_float32"] = _agreement(
                    fp, fingerprints["float32"])
    del model, fingerprints
    _free(device)
    return row


def tiny_checks(device: torch.device, track: np.ndarray) -> dict:
    """lumina-tiny: CPU vs CUDA cosine per channel; CUDA run-to-run bit identity with
    deterministic algorithms on."""
    from lumina.models import load_model

    if device.type != "cuda":
        return {"skipped": "no CUDA device"}
    out: dict = {}
    cpu_fp = Fingerprinter(load_model("lumina-tiny"), device="cpu").fingerprint_audio(track)
    model = load_model("lumina-tiny")
    cuda_fp = Fingerprinter(model, device=device).fingerprint_audio(track)
    out["cpu_vs_cuda"] = _agreement(cuda_fp, cpu_fp)
    out["cpu_vs_cuda_bit_identical"] = all(
        np.array_equal(cpu_fp.chunk_vectors[c], cuda_fp.chunk_vectors[c]) for c in cpu_fp.channels)
    torch.use_deterministic_algorithms(True)
    try:
        runs = [Fingerprinter(model, device=device).fingerprint_audio(track) for _ in range(2)]
        out["deterministic_reruns_bit_identical"] = bool(
            all(np.array_equal(runs[0].chunk_vectors[c], runs[1].chunk_vectors[c])
                for c in runs[0].channels) and np.array_equal(runs[0].loss, runs[1].loss))
    except RuntimeError as exc:
        out["deterministic_reruns_bit_identical"] = None
        out["deterministic_error"] = str(exc).splitlines()[0]
    finally:
        torch.use_deterministic_algorithms(False)
    return out


def _fmt(value, spec: str, missing: str = "—") -> str:
    return missing if value is None else format(value, spec)


def print_table(result: dict) -> None:
    print(f"\n{'size':<7} {'params':>7} {'precision':<9} {'batch':>5} {'s/track':>8} "
          f"{'peak GiB':>8} {'TFLOP':>7} {'%bf16pk':>7} {'syncs':>5}  cosine to float32")
    for row in result["rows"]:
        n = row.get("parameters", 0)
        params = f"{n / 1e9:.2f}B" if n >= 1e9 else f"{n / 1e6:.1f}M"
        if "error" in row:
            print(f"{row['size']:<7} {'':>7} {'':<9} model not built: {row['error']}")
            continue
        for precision, run in row["runs"].items():
            if "error" in run:
                print(f"{row['size']:<7} {params:>7} {precision:<9} {run.get('batch', ''):>5} "
                      f"stopped: {run['error']}")
                continue
            cos = run.get("cosine_to_float32")
            words = "" if run["finite"] else "NOT FINITE  "
            words += ("  ".join(f"{c} {v['track']:.6f} (min chunk {v['min_chunk']:.6f})"
                               for c, v in cos.items()) if cos else "")
            print(f"{row['size']:<7} {params:>7} {precision:<9} {run['batch']:>5} "
                  f"{run['seconds']:8.2f} {_fmt(run.get('peak_gib'), '8.1f'):>8} "
                  f"{row['flops'] / 1e12:7.2f} {100 * run['bf16_peak_fraction']:6.2f}% "
                  f"{_fmt(run.get('host_syncs_per_pass'), 'd'):>5}  {words}")
    tiny = result["tiny_checks"]
    print("\nlumina-tiny:", end=" ")
    if "skipped" in tiny:
        print(f"CPU vs CUDA skipped ({tiny['skipped']})")
    else:
        print("CPU vs CUDA cosine " + ", ".join(
            f"{c} {v['track']:.7f} (min chunk {v['min_chunk']:.7f})"
            for c, v in tiny["cpu_vs_cuda"].items())
            + f"; bit-identical: {tiny['cpu_vs_cuda_bit_identical']}")
        print(f"CUDA reruns with deterministic algorithms bit-identical: "
              f"{tiny['deterministic_reruns_bit_identical']}"
              + (f" ({tiny['deterministic_error']})" if "deterministic_error" in tiny else ""))
    print(f"codec: {result['codec']}\nFLOPs: {result['flop_formula']}")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--sizes", default="small,medium,large",
                        help="comma-separated: tiny, small, medium, large")
    parser.add_argument("--seconds", type=float, default=180.0, help="track length")
    parser.add_argument("--precisions", default="float32,bfloat16",
                        help=f"comma-separated, of {', '.join(PRECISIONS)}")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="chunks per pass (default: chosen by the fingerprinter)")
    parser.add_argument("--budget", type=float, default=420.0,
                        help="seconds; sizes not started by then are skipped")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    device = torch.device(args.device)
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    precisions = [p.strip() for p in args.precisions.split(",") if p.strip()]
    for s in sizes:
        if s != "tiny" and s not in SIZES:
            parser.error(f"unknown size {s!r}")
    track = random_music(args.seconds, RATE, 24)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"gpu_check on {name}: torch {torch.__version__}, {args.seconds:g} s synthetic "
          f"track, sizes {', '.join(sizes)}, precisions {', '.join(precisions)}", flush=True)
    result: dict = {
        "device": name, "torch": torch.__version__, "track_seconds": args.seconds,
        "codec": CODEC_WORDS,
        "flop_formula": "6 × decoder parameters × positions (chunks × (500 + 4 − 1)) + "
                        "counted EnCodec encode FLOPs; fraction of 989 TFLOP/s",
        "rows": [],
    }
    codec_cache: dict = {}
    for size in sizes:
        if time.perf_counter() - start > args.budget:
            result["rows"].append({"size": size, "error": "skipped: time budget spent"})
            continue
        row = measure(size, device, track, precisions, args.batch_size, codec_cache)
        result["rows"].append(row)
        print(f"  {size}: done at {time.perf_counter() - start:.0f} s", flush=True)
    codec_cache.clear()
    _free(device)
    result["tiny_checks"] = tiny_checks(device, track)
    result["wall_s"] = time.perf_counter() - start
    print_table(result)
    print(f"wall {result['wall_s']:.0f} s")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    main()
