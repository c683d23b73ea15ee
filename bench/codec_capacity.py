"""Which codec keeps the demo catalog's pitch: a sweep of codec widths and losses.

``bench/codec_pitch.py`` showed that the shipped lumina-tiny codec (``num_filters`` 8) loses
the notes: an excerpt sent through it finds its own composition by mean chroma 0.16 of the
time (1.00 without it), and a chroma loss alone lifts that only to 0.5–0.6. This bench trains
codec variants with the recipe of ``python -m lumina.demo.train`` (:func:`train_codec`, the
same calibration, data order and schedule; only the named :class:`TrainConfig` fields
change) and measures each with ``codec_pitch``'s probe: composition top-1 through the codec
(goal ≥ 0.8 before a decoder is retrained on it), chroma spread per frame, decode → re-encode
stability per codebook (issue 19's goals: ≥ 0.95 codebook 1, ≥ 0.80 on average) and the
reconstruction distance; also the seconds per step and the parameter count (the encoder runs
once per fingerprinted chunk).

Every variant runs in its own process (``--jobs`` at a time, ``--threads`` each), so on a
machine with an accelerator (``--device cuda``) a sweep takes minutes; on the CPU one
variant of the default 1500 steps takes 20–60 min. ``--budget`` cuts each variant's training
at that many seconds (recorded as ``steps_done``). Results go to ``--out`` as one JSON line
per variant, written as each ends.

Measured 2026-12-04 on an H200 (``--device cuda --jobs 5 --threads 2``, 1500 steps each, the
shipped recipe otherwise; torch 2.11 there, so not the CPU's bits: the ``w8`` control lands
where the shipped CPU-trained codec does, stability 0.86/0.60 against 0.87/0.65). Composition
top-1 of a 10 s excerpt through the codec (oracle without it 1.00, chance 0.125), the same
through the autoencoder without its quantiser, chroma spread per decoded frame (real audio
0.190), decode → re-encode stability per codebook, log-STFT distance, parameters:

====================  =====  ===========  ======  ============  ========  ==========
variant               top-1  unquantised  chroma  stability     log-STFT  parameters
====================  =====  ===========  ======  ============  ========  ==========
w8 (shipped recipe)   0.12   0.12         0.067   0.86 / 0.60   0.90      0.67 M
w32                   0.12   0.12         0.052   0.70 / 0.54   1.32      10.0 M
w64                   0.12   0.16         0.064   0.61 / 0.20   1.32      39.5 M
w16-chroma1           0.12   0.12         0.097   0.75 / 0.37   1.48      2.6 M
w32-chroma1           0.12   0.12         0.103   1.00 / 1.00   1.56      10.0 M
====================  =====  ===========  ======  ============  ========  ==========

(w32-chroma1's stability of 1.00 is a collapse onto a few codes, not stability.) Sixty times
the parameters leave composition at chance, also *without* the quantiser: at this training
length (1500 steps of 8 × 1 s, the most two CPU cores give in the recipe's hour) the
autoencoder itself does not learn to carry pitch, whatever its width, and the wider codecs
reconstruct worse (further from converged). Width is not the lever; the training length is
(a real EnCodec trains for hundreds of thousands of steps). An earlier CPU run of the shipped
width with the chroma term reached 0.50 (``lumina/demo/pitch_loss.py``); this GPU run of
w16/w32 with it did not, so that figure does not carry over between runs either.

Run::

    python bench/codec_capacity.py --variants w8 w16 --steps 1500 --out /tmp/caps.jsonl
    python bench/codec_capacity.py --list
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

#: name → TrainConfig fields that differ from the shipped recipe.
VARIANTS: dict[str, dict] = {
    "w8": {},
    "w16": {"codec_filters": 16},
    "w32": {"codec_filters": 32},
    "w8-chroma1": {"codec_chroma": 1.0},
    "w16-chroma1": {"codec_filters": 16, "codec_chroma": 1.0},
    "w32-chroma1": {"codec_filters": 32, "codec_chroma": 1.0},
    "w32-card256": {"codec_filters": 32, "card": 256},
    "w32-card256-chroma1": {"codec_filters": 32, "card": 256, "codec_chroma": 1.0},
    "w16-cb4": {"codec_filters": 16, "codebooks": 4},
    "w32-ae70": {"codec_filters": 32, "codec_ae_fraction": 0.7},
    "w64": {"codec_filters": 64},
    "w32-chroma1-4k": {"codec_filters": 32, "codec_chroma": 1.0, "codec_steps": 4000},
}


def run_variant(name: str, steps: int, device: str, threads: int, budget: float | None,
                out: str) -> None:
    """Train one variant, probe it, append its JSON line to ``out``."""
    import numpy as np
    from codec_pitch import demo_catalog_audio, measure

    from lumina.demo.train import codec_calibration
    from lumina.demo.train_codec import AudioSegments, at_reference_level, new_codec, train_codec
    from lumina.demo.train_decoder import new_decoder
    from lumina.demo.training import TrainConfig, deterministic
    from lumina.models.musicgen import MusicGenModel
    from lumina.models.tiny import SAMPLE_RATE

    config = replace(TrainConfig(threads=threads), **{"codec_steps": steps, **VARIANTS[name]})
    steps = config.codec_steps
    t_start = time.monotonic()
    audio, comps = demo_catalog_audio()
    with deterministic(config.seed, config.threads):
        codec_audio = at_reference_level(audio, config)
        calibration = codec_calibration(codec_audio, config)
        codec = new_codec(config, calibration).to(device)
        segments = AudioSegments(codec_audio, int(config.codec_segment_seconds * SAMPLE_RATE),
                                 config.seed + 4)

        def progress(stage: str, step: int, total: int, loss: float) -> None:
            if step % 250 == 0 or step == total:
                print(f"[{name}] {stage} {step}/{total} loss {loss:.3f} "
                      f"({time.monotonic() - t_start:.0f} s)", flush=True)

        t0 = time.monotonic()
        losses = train_codec(codec, segments, steps, config, calibration, progress, budget)
        train_s = time.monotonic() - t0
        model = MusicGenModel(name=name, decoder=new_decoder(config).to(device), codec=codec,
                              weights_sha256="", source="bench")
        result = measure(model, audio, comps, unquantised=True)
    result.update({
        "variant": name, "overrides": VARIANTS[name], "device": device, "steps": steps,
        "steps_done": len(losses), "final_loss": float(np.mean(losses[-20:])),
        "seconds_per_step": round(train_s / max(1, len(losses)), 4),
        "codec_params": sum(p.numel() for p in codec.parameters()),
        "encoder_params": sum(p.numel() for p in codec.encoder.parameters()),
        "seconds": round(time.monotonic() - t_start, 1),
    })
    with open(out, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(result) + "\n")
    print(f"[{name}] top-1 through the codec {result['top1_codec']:.2f} "
          f"(unquantised {result['top1_unquantised']:.2f}), stability "
          f"{result['code_stability']}, chroma std {result['chroma_std_decoded']:.3f}",
          flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", nargs="*", default=["w8", "w16", "w32"],
                        choices=sorted(VARIANTS))
    parser.add_argument("--list", action="store_true", help="print the variants and exit")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--budget", type=float, default=None, help="seconds per variant")
    parser.add_argument("--out", type=Path, default=Path("codec_capacity.jsonl"))
    args = parser.parse_args(argv)
    if args.list:
        for name, fields in VARIANTS.items():
            print(f"{name:22s} {fields}")
        return 0
    ctx = mp.get_context("spawn")
    pending = list(args.variants)
    running: list[mp.process.BaseProcess] = []
    while pending or running:
        while pending and len(running) < args.jobs:
            proc = ctx.Process(target=run_variant, args=(pending.pop(0), args.steps, args.device,
                                                         args.threads, args.budget,
                                                         str(args.out)))
            proc.start()
            running.append(proc)
        time.sleep(1.0)
        running = [p for p in running if p.is_alive()]
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    sys.exit(main())
