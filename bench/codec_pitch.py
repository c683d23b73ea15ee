"""How much pitch a codec keeps: does the demo catalog's composition survive encode → decode?

The composition channel needs the notes of a track. If the codec's decoder renders codes as
unpitched sound, a decoded continuation (or any audio sent through the codec) no longer says
which composition it came from, whatever the language model did. This probe measures that
on the 32 songs of the demo catalog (8 compositions × 4 timbres, 24 s, seed 0), for a model
folder's codec only (the language model is not used):

- **chroma std**: per 0.26 s frame, the unit-norm 12-bin chroma's standard deviation over
  the pitch classes (0 = every class equal, i.e. no pitch; 0.28 = one class), mean over
  frames and songs, for the real 10 s excerpts and for the same excerpts through the codec;
- **composition top-1**: a 10 s excerpt of each song at a seeded offset, through the codec,
  its mean chroma (:func:`lumina.validation.baselines.chroma_mean`) against the 32 real songs'
  mean chroma (cosine, centred on the library mean as the validation baseline does; raw
  cosine too): is the top song of the same composition? The real excerpt without the codec
  is the oracle. Chance: 0.125;
- **code stability**: per codebook, codes unchanged by decode → re-encode
  (:func:`lumina.demo.train_codec.code_stability`) on the same excerpts;
- **reconstruction**: spectral convergence and log-STFT distance
  (:func:`lumina.demo.train_codec.reconstruction_metrics`), mean over the excerpts.

``--unquantised`` adds the same chroma rows for ``decoder(encoder(x))`` without the
quantiser (is the pitch lost in the bottleneck's codes or already in the autoencoder?).

Run (one thread, well under a minute)::

    python bench/codec_pitch.py [--model resources/models/lumina-tiny] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = ROOT / "resources" / "models" / "lumina-tiny"
EXCERPT_SECONDS = 10.0
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def frame_chroma_std(x: np.ndarray, rate: int, n_fft: int = 8192, hop: int = 4096,
                     fmin: float = 60.0, fmax: float = 2100.0) -> float:
    """Mean over non-silent frames of the std over pitch classes of each frame's unit-norm
    chroma (the folding of :func:`lumina.demo.catalog.chroma`, frame by frame)."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    if x.size < n_fft:
        x = np.pad(x, (0, n_fft - x.size))
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop] * np.hanning(n_fft)
    mag = np.abs(np.fft.rfft(frames, axis=1))
    freqs = np.fft.rfftfreq(n_fft, 1.0 / rate)
    keep = (freqs >= fmin) & (freqs <= fmax)
    pcs = np.round(12 * np.log2(freqs[keep] / 440.0) + 69).astype(int) % 12
    fold = np.zeros((keep.sum(), 12))
    fold[np.arange(keep.sum()), pcs] = 1.0
    chroma = mag[:, keep] @ fold
    norm = np.linalg.norm(chroma, axis=1)
    live = norm > 1e-6 * max(float(norm.max()), 1e-30)
    if not live.any():
        return 0.0
    return float((chroma[live] / norm[live, None]).std(axis=1).mean())


def top1_composition(queries: np.ndarray, library: np.ndarray, comps: np.ndarray,
                     centred: bool) -> float:
    """Fraction of queries (N, 12) whose best library row (N, 12) by cosine has the query's
    composition (``comps``: composition id per row, queries in library order)."""
    lib = library.astype(np.float64)
    q = queries.astype(np.float64)
    if centred:
        mean = lib.mean(axis=0)
        lib, q = lib - mean, q - mean
    lib = lib / np.maximum(np.linalg.norm(lib, axis=1, keepdims=True), 1e-12)
    q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
    best = np.argmax(q @ lib.T, axis=1)
    return float(np.mean(comps[best] == comps))


@torch.no_grad()
def probe(model_dir: Path, seed: int = 0, unquantised: bool = False) -> dict:
    """All the measurements of the module docstring for one model folder."""
    from lumina.models.transformers_folder import load_transformers_folder

    t0 = time.monotonic()
    model = load_transformers_folder(Path(model_dir))
    audio, comps = demo_catalog_audio()
    out = {"model": str(model_dir), **measure(model, audio, comps, seed, unquantised)}
    out["seconds"] = round(time.monotonic() - t0, 1)
    return out


def demo_catalog_audio() -> tuple[list[np.ndarray], np.ndarray]:
    """The demo catalog's 32 songs (float32 (S,) each) and their composition ids (32,)."""
    from lumina.demo.catalog import build_catalog
    from lumina.demo.train import render_catalog

    catalog = build_catalog(n_compositions=8, n_timbres=4, seconds=24.0, seed=0)
    return render_catalog(catalog), np.array([s.composition_id for s in catalog.songs])


@torch.no_grad()
def measure(model, audio: list[np.ndarray], comps: np.ndarray, seed: int = 0,
            unquantised: bool = False) -> dict:
    """The module docstring's measurements of ``model``'s codec (a
    :class:`lumina.models.musicgen.MusicGenModel` on any device) on ``audio`` (S,) each,
    whose compositions are ``comps`` (N,)."""
    from lumina.demo.train_codec import code_stability, reconstruction_metrics
    from lumina.models.tiny import SAMPLE_RATE
    from lumina.validation.baselines import chroma_mean

    rng = np.random.default_rng(seed)
    n = int(EXCERPT_SECONDS * SAMPLE_RATE)
    starts = [int(rng.integers(0, a.size - n + 1)) for a in audio]
    excerpts = [a[s:s + n] for a, s in zip(audio, starts, strict=True)]
    decoded = [model.decode(model.encode(torch.from_numpy(x)[None]))[0, :n].cpu().numpy()
               for x in excerpts]
    library = np.stack([chroma_mean(a, SAMPLE_RATE) for a in audio])
    real_q = np.stack([chroma_mean(x, SAMPLE_RATE) for x in excerpts])
    codec_q = np.stack([chroma_mean(y, SAMPLE_RATE) for y in decoded])
    recon = [reconstruction_metrics(x, y) for x, y in zip(excerpts, decoded, strict=True)]
    out = {
        "chroma_std_real": float(np.mean([frame_chroma_std(x, SAMPLE_RATE) for x in excerpts])),
        "chroma_std_decoded": float(np.mean([frame_chroma_std(y, SAMPLE_RATE)
                                             for y in decoded])),
        "top1_codec": top1_composition(codec_q, library, comps, centred=True),
        "top1_oracle": top1_composition(real_q, library, comps, centred=True),
        "top1_codec_raw_cosine": top1_composition(codec_q, library, comps, centred=False),
        "top1_oracle_raw_cosine": top1_composition(real_q, library, comps, centred=False),
        "code_stability": [round(v, 4) for v in code_stability(model, excerpts)],
        "spectral_convergence": float(np.mean([r["spectral_convergence"] for r in recon])),
        "log_stft_distance": float(np.mean([r["log_stft_distance"] for r in recon])),
    }
    if unquantised:
        codec = model.codec
        ae = [codec.decoder(codec.encoder(torch.from_numpy(x)[None, None].to(model.device)))
              [0, 0, :n].cpu().numpy() for x in excerpts]
        out["chroma_std_unquantised"] = float(np.mean([frame_chroma_std(y, SAMPLE_RATE)
                                                       for y in ae]))
        out["top1_unquantised"] = top1_composition(
            np.stack([chroma_mean(y, SAMPLE_RATE) for y in ae]), library, comps, centred=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="model folder")
    parser.add_argument("--seed", type=int, default=0, help="seeds the excerpts' offsets")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--unquantised", action="store_true",
                        help="also decode the encoder's frames without the quantiser")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    r = probe(args.model, args.seed, args.unquantised)
    print(f"model {r['model']} ({r['seconds']} s)")
    print(f"  chroma std per frame: real {r['chroma_std_real']:.3f}, "
          f"decoded {r['chroma_std_decoded']:.3f}"
          + (f", unquantised {r['chroma_std_unquantised']:.3f}" if args.unquantised else ""))
    print(f"  composition top-1 (chance 0.125): codec {r['top1_codec']:.2f}, "
          f"oracle {r['top1_oracle']:.2f}"
          + (f", unquantised {r['top1_unquantised']:.2f}" if args.unquantised else "")
          + f"  [raw cosine: codec {r['top1_codec_raw_cosine']:.2f}, "
          f"oracle {r['top1_oracle_raw_cosine']:.2f}]")
    print(f"  codes unchanged by decode → re-encode, per codebook: {r['code_stability']}")
    print(f"  spectral convergence {r['spectral_convergence']:.3f}, "
          f"log-STFT distance {r['log_stft_distance']:.3f}")
    if args.json:
        args.json.write_text(json.dumps(r, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
