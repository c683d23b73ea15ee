"""Row 7 of the validation study: real scores, real instruments (not run by CI).

Bach chorales from music21's corpus, rendered with FluidSynth and a General MIDI soundfont
under several instrument programs, make a catalog of compositions × timbres that nobody
synthesised for LUMINA. On it this script measures rows 3, 4 and 5 of ``lumina validate``
(with the row-6 baseline on rows 3 and 5):

- **3 separation** (leave-one-out): with the query recording removed from the library, does
  the composition channel's top song play the same chorale, the production channel's top
  song use the same instrument program?
- **4 gate calibration**: held-out chorales under held-out programs, against every library
  song: the fraction of pairs passing the 95 % gate with the analytic and the empirical null;
  true sources: a 10 s excerpt of each library recording against that recording, at the 1σ
  and 95 % gates.
- **5 robustness**: MP3 128 kbit/s, pitch ±1 semitone, tempo ±5 %, white noise at 20 dB SNR
  and a 10 s excerpt of every library recording; top-1 must be the recording itself. Also
  reported: does the top song play the same chorale? (A timbre-neutral composition channel
  cannot tell a recording from the same chorale under another program.)

All of it is measured once per composition rendering in ``--modes`` (default all four:
``plain``, the paper's mode with the composition channel on the audio, and ``shepard``,
``onset-clicks``, ``shepard-onsets`` of :mod:`lumina.fingerprint.rendering`), each mode with its own
library and feature cache under ``--work`` (``<cache key>/plain``, ``<cache key>/<rendering>-
<digest of lumina/rendering.py>``; the FluidSynth renderings in ``<cache key>/audio`` are
shared). Queries use the library's fingerprinter (:func:`lumina.library.fingerprinter_for`).
The production channel does not depend on the mode (the script checks that its library
fingerprints are bit-identical to the first mode's), so the console and Markdown show it once
and the composition channel per mode; the JSON keeps every mode's full rows.

The embedded model ``lumina-tiny`` was trained on the procedural demo catalog only, so here it
is a feature extractor meeting music it never saw; pass ``--model FOLDER`` for a real MusicGen
checkpoint (transformers or audiocraft format; it must run at 32 kHz like the renderings).

Set up (Debian/Ubuntu)::

    sudo apt-get install fluidsynth fluid-soundfont-gm
    python -m pip install music21

Run (about 40 minutes for the four modes on one thread of two shared CPU cores: FluidSynth
1.5 min, plain 8, shepard 12, onset-clicks 8, shepard-onsets 11; renderings, libraries and
every fingerprint are cached under ``--work``, so a rerun takes about a minute)::

    python bench/realdata.py --json realdata.json --markdown realdata.md [--threads 1]
        [--modes plain,shepard,onset-clicks,shepard-onsets]

Protocol: chorales are the corpus's ``bach/bwv*`` files with exactly four parts, in file-name
order, long enough for ``--seconds`` at the fixed tempo; the first ``--chorales`` form the
library, the next ``--heldout`` are the unrelated queries. Every part gets the same program,
tempo marks are replaced by one fixed tempo (``--bpm``), and FluidSynth renders at 32 kHz with
its default reverb and chorus. Each rendering is cut to ``--seconds`` with a 1.5 s fade-out,
mixed to mono and peak-normalised to 0.9, then indexed with ``lumina``'s own library code.

Measured 2026-11-24 (lumina 0.1.0, lumina-tiny ``cf7e4824d713``, default null empirical with
adaptive S-norm: top_k auto = 40 of the 80-song cohort; one torch thread, two cores shared
with another benchmark)::

    python bench/realdata.py --threads 1 --work /tmp/w/realdata-work \
        --json /tmp/w/realdata.json --markdown /tmp/w/realdata.md

with the defaults otherwise: 20 chorales × programs 0, 19, 48, 73 = 80 recordings of 30 s at
90 bpm; 6 held-out chorales × programs 56, 24 = 12 unrelated queries (960 pairs). Composition
channel; LOO: leave-one-out top-1 (z of the default null) plays the same chorale / uses the
same program; FP: unrelated pairs passing the 95 % gate, empirical and analytic null; TP: a
10 s excerpt of each recording passing the 95 % gate against that recording; robust: row-5
top-1 is the recording itself / plays the same chorale, mean over the 7 transforms; wall: the
mode's time from an empty cache:

=============== ======== ======== ====== ====== ====== ====== =========== =====
mode            LOO same LOO same FP emp FP ana TP emp TP ana robust      wall
                chorale  program                              rec/chorale
=============== ======== ======== ====== ====== ====== ====== =========== =====
plain           0.000    0.975    0.023  1.000  0.450  1.000  0.318/0.325 500 s
shepard         0.525    0.188    0.006  1.000  0.287  1.000  0.414/0.537 715 s
onset-clicks    0.062    0.812    0.000  1.000  0.537  1.000  0.320/0.346 465 s
shepard-onsets  0.013    0.625    0.000  1.000  0.312  1.000  0.330/0.371 648 s
chance          0.038    0.241    0.050  0.050                0.013/0.050
goal            ≥ 0.75   ≤ 0.341  ≤ 0.05
=============== ======== ======== ====== ====== ====== ====== =========== =====

Robustness per transform (composition channel, recording / same chorale): MP3 0.875–0.988
(recording) in every mode; white noise at 20 dB 0.787 / 0.863 with ``shepard``, at most 0.013 /
0.113 otherwise; pitch +1 semitone plain 0.312 / 0.312, shepard 0.087 / 0.175; pitch −1 at most
0.212 / 0.237; tempo ±5 % 0.11–0.25 / 0.11–0.50 (shepard 0.45 and 0.50 by chorale); 10 s excerpt
0.562–0.713 (recording). Production channel (bit-identical library fingerprints in every mode):
LOO same program 0.988, FP 0.036 empirical / 0.676 analytic, TP 0.588. Row-6 baseline: chroma
LOO same chorale 0.912, MFCC same program 1.000. A cached rerun took 58 s with identical
numbers.

What the numbers mean. In the paper's mode the composition channel is a timbre detector on the
chorales (same program 0.975, same chorale 0.000), as on the demo catalog. The renderings rank
the other way round from the demo catalog (``bench/composition_rendering.py``: onset-clicks
0.969, shepard-onsets 0.938, shepard 0.688). The chorales share a rhythm — four-part homophony,
mostly quarter notes, one fixed tempo — so the rhythm-only ``onset-clicks`` has next to nothing
to tell them apart (same chorale 0.062) and instead follows the program (0.812), probably
because which onsets it finds depends on the instrument (struck piano against the soft attacks
of organ, strings and flute — our reading, not measured). ``shepard-onsets`` inherits the leak
(0.013 / 0.625): its click layer seems to dominate. ``shepard``, the only rendering that follows
pitch, is the only one that finds the chorale (0.525, 14× chance) with the program below chance
(0.188), but it misses the 0.75 goal; chroma finds the chorale 0.912 of the time on the same
audio, so the pitch-class content is there and the fingerprint of its Shepard rendering with
lumina-tiny (trained on the demo catalog only) keeps part of it. The empirical null keeps
unrelated pairs at or under 0.023 in every mode (goal met); the analytic null passes every
unrelated composition pair (1.000) and must not be used here. No mode meets all three goals;
``shepard`` meets the program and false-positive goals.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import soundfile as sf

RATE = 32000
SOUNDFONTS = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/default-GM.sf2",
              "/usr/share/soundfonts/FluidR3_GM.sf2", "/usr/share/soundfonts/default.sf2")
# General MIDI programs (0-based): library timbres, then held-out timbres.
LIBRARY_PROGRAMS = (0, 19, 48, 73)  # acoustic grand piano, church organ, strings, flute
HELDOUT_PROGRAMS = (56, 24)  # trumpet, nylon-string guitar
#: ``plain`` is the paper's mode (the composition channel on the audio); the others are
#: :data:`lumina.fingerprint.rendering.RENDERINGS`.
DEFAULT_MODES = ("plain", "shepard", "onset-clicks", "shepard-onsets")
#: This study's goals for the composition channel: same chorale top-1 at least, same program
#: top-1 at most this far above chance, unrelated pairs passing the 95 % gate at most.
GOAL_CHORALE = 0.75
GOAL_PROGRAM_ABOVE_CHANCE = 0.1
GOAL_FPR = 0.05
PROGRAM_NAMES = {0: "Piano", 19: "Church Organ", 48: "String Ensemble", 73: "Flute",
                 56: "Trumpet", 24: "Nylon Guitar", 40: "Violin", 71: "Clarinet"}


class SetupError(Exception):
    """A missing tool or bad argument: printed as one line."""


def _soundfont(path: str | None) -> Path:
    candidates = [path] if path else list(SOUNDFONTS)
    for c in candidates:
        if c and Path(c).is_file():
            return Path(c)
    raise SetupError("no General MIDI soundfont found (apt-get install fluid-soundfont-gm, or "
                     "pass --soundfont FILE.sf2)")


def pick_chorales(n: int, bpm: float, seconds: float) -> list[Path]:
    """The first ``n`` four-part chorales (by file name) at least ``seconds`` long at ``bpm``."""
    from music21 import corpus

    picked = []
    for path in sorted(corpus.getComposer("bach"), key=lambda p: p.name):
        if not re.match(r"bwv\d", path.name):
            continue
        score = corpus.parse(path)
        if len(score.parts) != 4:
            continue
        if float(score.highestTime) * 60.0 / bpm < seconds + 1.0:
            continue
        picked.append(path)
        if len(picked) == n:
            break
    if len(picked) < n:
        raise SetupError(f"only {len(picked)} four-part chorales of at least {seconds:g} s")
    return picked


def write_midi(chorale: Path, program: int, bpm: float, out: Path) -> None:
    """The chorale with every part on ``program`` and one tempo, as a MIDI file."""
    from music21 import corpus, instrument, tempo

    score = corpus.parse(chorale)
    for part in score.parts:
        for inst in list(part.recurse().getElementsByClass(instrument.Instrument)):
            inst.activeSite.remove(inst)
        part.insert(0, instrument.instrumentFromMidiProgram(program))
    for mark in list(score.recurse().getElementsByClass(tempo.MetronomeMark)):
        mark.activeSite.remove(mark)
    score.parts[0].insert(0, tempo.MetronomeMark(number=bpm))
    score.write("midi", fp=str(out))


def render(midi: Path, wav: Path, soundfont: Path, seconds: float, title: str,
           artist: str) -> None:
    """FluidSynth → mono, ``seconds`` long with a 1.5 s fade-out, peak 0.9, 16-bit WAV,
    tagged with title and artist (what ``lumina index`` files it under)."""
    raw = wav.with_suffix(".raw.wav")
    proc = subprocess.run(["fluidsynth", "-ni", "-q", "-g", "0.5", "-r", str(RATE), "-F",
                           str(raw), str(soundfont), str(midi)], capture_output=True, text=True)
    if proc.returncode != 0 or not raw.exists():
        raise SetupError(f"fluidsynth failed on {midi.name}: {proc.stderr.strip()[-200:]}")
    audio, rate = sf.read(raw, dtype="float64", always_2d=True)
    raw.unlink()
    if rate != RATE:
        raise SetupError(f"fluidsynth wrote {rate} Hz instead of {RATE}")
    x = audio.mean(axis=1)[: int(seconds * RATE)]
    t = np.arange(x.size) / RATE
    x = x * np.clip((seconds - t) / 1.5, 0.0, 1.0)
    x = 0.9 * x / max(float(np.abs(x).max()), 1e-9)
    tmp = wav.with_name(wav.name + ".part")
    sf.write(tmp, x.astype(np.float32), RATE, subtype="PCM_16", format="WAV")
    from mutagen.id3 import TIT2, TPE1
    from mutagen.wave import WAVE

    tags = WAVE(str(tmp))
    tags.add_tags()
    tags.tags.add(TIT2(encoding=3, text=title))
    tags.tags.add(TPE1(encoding=3, text=artist))
    tags.save()
    os.replace(tmp, wav)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--chorales", type=int, default=20, help="library chorales (default 20)")
    p.add_argument("--heldout", type=int, default=6, help="held-out chorales (default 6)")
    p.add_argument("--seconds", type=float, default=30.0, help="length of each rendering")
    p.add_argument("--bpm", type=float, default=90.0, help="fixed tempo (quarter notes/min)")
    p.add_argument("--programs", default=",".join(map(str, LIBRARY_PROGRAMS)),
                   help="library GM programs, 0-based, comma-separated (default 0,19,48,73)")
    p.add_argument("--heldout-programs", default=",".join(map(str, HELDOUT_PROGRAMS)),
                   help="held-out GM programs (default 56,24)")
    p.add_argument("--modes", default=",".join(DEFAULT_MODES),
                   help="composition renderings to measure, comma-separated: plain (the "
                        "paper's mode) and names of "
                        "lumina.fingerprint.rendering.RENDERINGS (default: "
                        f"{','.join(DEFAULT_MODES)}); one library per mode")
    p.add_argument("--soundfont", help="a General MIDI .sf2 (default: FluidR3_GM)")
    p.add_argument("--model", default="lumina-tiny", help="lumina-tiny or a MusicGen folder")
    p.add_argument("--work", type=Path, help="cache folder (default: $LUMINA_CACHE or the "
                                             "user cache, subfolder realdata/)")
    p.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    p.add_argument("--json", type=Path, metavar="OUT")
    p.add_argument("--markdown", type=Path, metavar="OUT")
    return p


def _programs(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise SetupError(f"programs must be comma-separated integers, got {text!r}") from None
    if not values or any(not 0 <= v <= 127 for v in values):
        raise SetupError(f"GM programs are 0-127, got {text!r}")
    return values


def _modes(text: str) -> list[str]:
    from lumina.fingerprint.rendering import get_rendering

    modes = list(dict.fromkeys(m.strip() for m in text.split(",") if m.strip()))
    if not modes:
        raise SetupError("--modes is empty")
    for m in modes:
        if m != "plain":
            try:
                get_rendering(m)
            except ValueError as exc:
                raise SetupError(f"--modes: {exc}") from None
    return modes


def _rendering_of(mode: str) -> str | None:
    return None if mode == "plain" else mode


def _rendering_digest() -> str:
    """Of ``lumina/rendering.py``'s source: a rendering mode's caches follow the code, not
    only the rendering's version number."""
    import inspect

    import lumina.fingerprint.rendering

    return hashlib.sha256(inspect.getsource(lumina.fingerprint.rendering).encode()).hexdigest()[:12]


def _render_catalog(args, chorales, programs, held_programs, soundfont, audio_dir):
    """The FluidSynth renderings (cached, shared by every mode): library and held-out songs."""
    library_songs, heldout_songs = [], []
    plan = [(c, p, False) for c in chorales[:args.chorales] for p in programs]
    plan += [(c, p, True) for c in chorales[args.chorales:] for p in held_programs]
    fresh = 0
    for chorale, program, held in plan:
        stem = f"{chorale.stem}-p{program}"
        wav = audio_dir / f"{stem}.wav"
        if not wav.exists():
            midi = audio_dir / f"{stem}.mid"
            write_midi(chorale, program, args.bpm, midi)
            render(midi, wav, soundfont, args.seconds,
                   title=f"{chorale.stem.upper()} ({PROGRAM_NAMES.get(program, program)})",
                   artist=f"GM program {program}")
            midi.unlink()
            fresh += 1
            print(f"\rrendered {fresh} recording(s)", end="", file=sys.stderr)
        song = SimpleNamespace(id=stem, composition_id=chorale.stem, timbre_id=program, path=wav)
        (heldout_songs if held else library_songs).append(song)
    print(f"\r{fresh} recording(s) rendered, {len(plan) - fresh} from the cache", file=sys.stderr)
    return library_songs, heldout_songs


def run_mode(args, mode: str, model, mode_dir: Path, library_songs, heldout_songs) -> dict:
    """Rows 3–5 (and the row-6 baseline) on the library of one composition rendering."""
    from lumina.fingerprint.fingerprinter import Fingerprinter
    from lumina.indexing import index_files
    from lumina.library import Library
    from lumina.models import DEFAULT_MODEL
    from lumina.validation import CACHE_VERSION, FeatureCache, Study, ValidationConfig, rank_desc
    from lumina.workspace import fingerprinter_for, identity_of_fingerprinter

    t0 = time.monotonic()
    timings = {}
    cfg = ValidationConfig(seconds=args.seconds, n_compositions=args.chorales,
                           n_timbres=len({s.timbre_id for s in library_songs}))
    study = Study(config=cfg, model=model, progress=None,
                  say=lambda line: print(f"{mode}: {line}", file=sys.stderr))
    study.init_engine(mode_dir)
    wanted = Fingerprinter(model, device="cpu", composition_rendering=_rendering_of(mode))
    lib = Library.open_or_create(mode_dir / "library", identity_of_fingerprinter(wanted),
                                 model_spec=DEFAULT_MODEL if model.name == DEFAULT_MODEL
                                 else str(Path(args.model).resolve()))
    paths = [s.path for s in library_songs]
    with lib:
        # The library's own fingerprinter, as `lumina attribute` would build it for queries.
        fingerprinter = fingerprinter_for(lib, model=model, device="cpu")
        if len(lib) < len(paths):
            print(f"{mode}: indexing {len(paths)} recordings into {lib.path}", file=sys.stderr)
            start = time.monotonic()
            with lib.writer() as writer:
                summary = index_files(writer, paths, fingerprinter)
            timings["index"] = round(time.monotonic() - start, 1)
            if summary.failed:
                raise SetupError(f"{summary.failed} recording(s) failed to index")
    # Queries use the library's fingerprinter; the feature cache is keyed by its identity.
    study.fingerprinter = fingerprinter
    study.identity = identity_of_fingerprinter(fingerprinter)
    ident = json.dumps({k: study.identity[k] for k in sorted(study.identity)}, sort_keys=True,
                       default=str)
    study.store = FeatureCache(mode_dir / "validation" / f"v{CACHE_VERSION}",
                               hashlib.sha256(ident.encode()).hexdigest()[:16])
    study.catalog = SimpleNamespace(songs=library_songs)
    study.attach_library(mode_dir / "library", paths, [s.id for s in library_songs])
    study.unrelated_items = lambda: [
        (f"realdata|{s.id}", lambda s=s: study.load(s.path)) for s in heldout_songs]
    start = time.monotonic()
    study.separation()
    timings["separation"] = round(time.monotonic() - start, 1)
    start = time.monotonic()
    transformed = study.robustness()
    timings["robustness"] = round(time.monotonic() - start, 1)
    start = time.monotonic()
    true_queries = [(i, 0, values) for i, values in enumerate(transformed["excerpt_10s"])]
    study.gate_calibration(true_queries, true_sources="a 10 s excerpt of each library "
                                                      "recording against that recording")
    timings["gate_calibration"] = round(time.monotonic() - start, 1)
    # Robustness by chorale: a timbre-neutral channel cannot tell a recording from the same
    # chorale under another program, so row 5 (the recording itself top-1) is joined by
    # "the top song plays the same chorale".
    from lumina.attribution import DEFAULT_NULL

    same = {}
    for name, feats in transformed.items():
        hits = {ch: [] for ch in model.channels}
        for i, values in enumerate(feats):
            z = study.z_scores(values, DEFAULT_NULL)
            for ch in model.channels:
                top = library_songs[int(rank_desc(z[ch])[0])]
                hits[ch].append(top.composition_id == library_songs[i].composition_id)
        same[name] = {ch: float(np.mean(v)) for ch, v in hits.items()}
    study.details["robustness"]["top1_same_chorale"] = same
    rows = sorted(study.rows, key=lambda r: r.row)
    gate = study.details["gate_calibration"]
    return {
        "mode": mode,
        "composition_rendering": fingerprinter.composition_rendering,
        "fingerprint": {k: study.identity[k] for k in sorted(study.identity)},
        "library": str(mode_dir / "library"),
        "library_digest": study.library_digest,
        "attribution": dict(study.prepare_params),
        "rows": [asdict(r) for r in rows],
        "recommended_null": gate["recommended_null"],
        "recommended_null_reason": gate["reason"],
        "details": study.details,
        "timings_seconds": timings,
        "elapsed_seconds": round(time.monotonic() - t0, 1),
        "_production": np.array(study.library_unit["production"]),
    }


def summarise(res: dict) -> dict:
    """One mode's headline numbers (composition channel unless named)."""
    from lumina.attribution import DEFAULT_NULL

    d = res["details"]
    sep = d["separation"]
    gate = d["gate_calibration"]
    rob = d["robustness"]
    return {
        "mode": res["mode"],
        "loo_same_chorale": sep["top1_same"]["composition"]["composition"],
        "loo_same_program": sep["top1_same"]["composition"]["timbre"],
        "chance_chorale": sep["chance"]["composition"],
        "chance_program": sep["chance"]["timbre"],
        "fpr_95_empirical": gate["fpr_95"]["empirical"]["composition"],
        "fpr_95_analytic": gate["fpr_95"]["analytic"]["composition"],
        "tpr_95_empirical": gate["tpr_95"]["empirical"]["composition"],
        "tpr_95_analytic": gate["tpr_95"]["analytic"]["composition"],
        "tpr_1sigma_empirical": gate["tpr_1sigma"]["empirical"]["composition"],
        "robust_top1_recording": {k: v["composition"] for k, v in rob["top1"].items()},
        "robust_top1_same_chorale": {k: v["composition"]
                                     for k, v in rob["top1_same_chorale"].items()},
        "production": {
            "loo_same_program": sep["top1_same"]["production"]["timbre"],
            "loo_same_chorale": sep["top1_same"]["production"]["composition"],
            "fpr_95_empirical": gate["fpr_95"]["empirical"]["production"],
            "fpr_95_analytic": gate["fpr_95"]["analytic"]["production"],
            "tpr_95_empirical": gate["tpr_95"]["empirical"]["production"],
            "robust_top1_recording": {k: v["production"] for k, v in rob["top1"].items()},
        },
        "default_null": DEFAULT_NULL,
        "goals_met": {
            "loo_same_chorale": sep["top1_same"]["composition"]["composition"] >= GOAL_CHORALE,
            "loo_same_program": sep["top1_same"]["composition"]["timbre"]
            <= sep["chance"]["timbre"] + GOAL_PROGRAM_ABOVE_CHANCE,
            "fpr_95_empirical": gate["fpr_95"]["empirical"]["composition"] <= GOAL_FPR,
        },
        "elapsed_seconds": res["elapsed_seconds"],
    }


def run(args: argparse.Namespace) -> dict:
    import torch

    from lumina.attribution import DEFAULT_NULL, GATE, gate_z
    from lumina.models import load_model

    if shutil.which("fluidsynth") is None:
        raise SetupError("fluidsynth not found (apt-get install fluidsynth)")
    try:
        import music21  # noqa: F401
    except ImportError:
        raise SetupError("music21 is not installed (python -m pip install music21)") from None
    soundfont = _soundfont(args.soundfont)
    programs = _programs(args.programs)
    held_programs = _programs(args.heldout_programs)
    modes = _modes(args.modes)
    digest = _rendering_digest()  # right after the import: the code the renderings run
    if set(programs) & set(held_programs):
        raise SetupError("held-out programs must differ from the library programs")
    if args.chorales < 2 or args.heldout < 1:
        raise SetupError("need at least 2 library chorales and 1 held-out chorale")
    t0 = time.monotonic()
    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_model(args.model)
    if model.sample_rate != RATE:
        raise SetupError(f"the renderings are {RATE} Hz; {model.name} runs at "
                         f"{model.sample_rate} Hz")
    if args.work:
        work = args.work
    else:
        base = os.environ.get("LUMINA_CACHE")
        if base:
            root = Path(base).expanduser()
        else:
            from platformdirs import user_cache_dir

            root = Path(user_cache_dir("lumina", appauthor=False))
        work = root / "realdata"
    key = (f"{model.weights_sha256[:12]}-{args.chorales}+{args.heldout}ch-{args.seconds:g}s-"
           f"{args.bpm:g}bpm-p{'.'.join(map(str, programs))}-h{'.'.join(map(str, held_programs))}"
           f"-{soundfont.stem}")
    work = work / key
    audio_dir = work / "audio"
    audio_dir.mkdir(parents=True, exist_ok=True)
    print(f"work folder {work}", file=sys.stderr)

    chorales = pick_chorales(args.chorales + args.heldout, args.bpm, args.seconds)
    start = time.monotonic()
    library_songs, heldout_songs = _render_catalog(args, chorales, programs, held_programs,
                                                   soundfont, audio_dir)
    render_seconds = round(time.monotonic() - start, 1)
    results = {}
    for mode in modes:
        # One library (and feature cache) per mode; a rendering's folder follows its code.
        folder = work / (mode if mode == "plain" else f"{mode}-{digest}")
        results[mode] = run_mode(args, mode, model, folder, library_songs, heldout_songs)
        print(f"{mode}: {results[mode]['elapsed_seconds']:.0f} s", file=sys.stderr)
    first = results[modes[0]]["_production"]
    for res in results.values():
        res["production_identical_to_first_mode"] = bool(
            np.array_equal(res.pop("_production"), first))
    import music21

    from lumina import __version__

    return {
        "schema": "lumina.validation.realdata/2",
        "protocol": {
            "command": "python bench/realdata.py " + " ".join(sys.argv[1:]),
            "software_version": __version__, "music21": music21.__version__,
            "fluidsynth": subprocess.run(["fluidsynth", "--version"], capture_output=True,
                                         text=True).stdout.splitlines()[0:1],
            "soundfont": str(soundfont), "torch": torch.__version__, "numpy": np.__version__,
            "torch_threads": torch.get_num_threads(),
            "model": {"name": model.name, "weights_sha256": model.weights_sha256},
            "modes": modes, "rendering_source": digest,
            "catalog": {"cache_key": key, "songs": len(library_songs),
                        "chorales": [c.stem for c in chorales[:args.chorales]],
                        "heldout_chorales": [c.stem for c in chorales[args.chorales:]],
                        "programs": list(programs), "heldout_programs": list(held_programs),
                        "seconds": args.seconds, "bpm": args.bpm},
            "attribution": {"default_null": DEFAULT_NULL, "gate": GATE, "z_gate": gate_z(GATE),
                            **results[modes[0]]["attribution"]},
            "goals": {"composition_loo_same_chorale": f">= {GOAL_CHORALE}",
                      "composition_loo_same_program": f"<= chance + {GOAL_PROGRAM_ABOVE_CHANCE}",
                      "composition_fpr_95": f"<= {GOAL_FPR}"},
            "transforms": results[modes[0]]["details"]["robustness"]["transforms"],
            "elapsed_seconds": round(time.monotonic() - t0, 1),
            "render_seconds": render_seconds,
            "mode_seconds": {m: r["elapsed_seconds"] for m, r in results.items()},
            "work": str(work),
        },
        "default_null": DEFAULT_NULL,
        "summary": [summarise(results[m]) for m in modes],
        "results": results,
    }


def _f(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def _robust_cell(s: dict, name: str) -> str:
    return f"{_f(s['robust_top1_recording'][name])}/{_f(s['robust_top1_same_chorale'][name])}"


def summary_rows(result: dict) -> tuple[list[str], list[list[str]]]:
    """The per-mode table (composition channel), with chance and goal lines."""
    from lumina.validation import TRANSFORMS

    head = ["mode", "LOO same chorale", "LOO same program", "FP@95 emp", "FP@95 ana",
            "TP@95 emp", "TP@95 ana", "robust rec/chorale (mean)", "seconds"]
    rows = []
    for s in result["summary"]:
        rec = float(np.mean([s["robust_top1_recording"][t] for t in TRANSFORMS]))
        cho = float(np.mean([s["robust_top1_same_chorale"][t] for t in TRANSFORMS]))
        rows.append([s["mode"], _f(s["loo_same_chorale"]), _f(s["loo_same_program"]),
                     _f(s["fpr_95_empirical"]), _f(s["fpr_95_analytic"]),
                     _f(s["tpr_95_empirical"]), _f(s["tpr_95_analytic"]),
                     f"{rec:.3f}/{cho:.3f}", f"{s['elapsed_seconds']:.0f}"])
    s0 = result["summary"][0]
    n = result["protocol"]["catalog"]["songs"]
    chorales = len(result["protocol"]["catalog"]["chorales"])
    rows.append(["chance", _f(s0["chance_chorale"]), _f(s0["chance_program"]), "0.050",
                 "0.050", "", "", f"{1 / n:.3f}/{1 / chorales:.3f}", ""])
    rows.append(["goal", f">= {GOAL_CHORALE}",
                 f"<= {s0['chance_program'] + GOAL_PROGRAM_ABOVE_CHANCE:.3f}",
                 f"<= {GOAL_FPR}", "", "", "", "", ""])
    return head, rows


def robust_rows(result: dict) -> tuple[list[str], list[list[str]]]:
    from lumina.validation import TRANSFORM_LABELS, TRANSFORMS

    head = ["mode", *[TRANSFORM_LABELS[t] for t in TRANSFORMS]]
    rows = [[s["mode"], *[_robust_cell(s, t) for t in TRANSFORMS]] for s in result["summary"]]
    return head, rows


def _production_line(result: dict) -> str:
    s0 = result["summary"][0]
    pr = s0["production"]
    same = all(r["production_identical_to_first_mode"] for r in result["results"].values())
    return (f"production channel ({s0['mode']}; library fingerprints bit-identical in every "
            f"mode: {'yes' if same else 'NO'}): LOO same program {pr['loo_same_program']:.3f} "
            f"(same chorale {pr['loo_same_chorale']:.3f}), FP@95 emp "
            f"{pr['fpr_95_empirical']:.3f} / ana {pr['fpr_95_analytic']:.3f}, TP@95 emp "
            f"{pr['tpr_95_empirical']:.3f}")


def format_summary(result: dict) -> str:
    lines = []
    for head, rows in (summary_rows(result), robust_rows(result)):
        widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
        for r in [head, *rows]:
            lines.append("  ".join(c.rjust(w) if i else c.ljust(w)
                                   for i, (c, w) in enumerate(zip(r, widths, strict=True))))
        lines.append("")
    lines.append(_production_line(result))
    return "\n".join(lines)


def _mode_result(result: dict, mode: str, channels: set[str] | None) -> dict:
    """One mode's rows in the shape :func:`lumina.validation.format_table` reads."""
    res = result["results"][mode]
    p = result["protocol"]
    return {"rows": [r for r in res["rows"] if channels is None or r["channel"] in channels],
            "default_null": result["default_null"],
            "recommended_null": res["recommended_null"],
            "recommended_null_reason": res["recommended_null_reason"],
            "protocol": {"model": p["model"], "software_version": p["software_version"],
                         "catalog": {"cache_key": f"{p['catalog']['cache_key']} / {mode}",
                                     "songs": p["catalog"]["songs"]},
                         "elapsed_seconds": res["elapsed_seconds"]}}


def to_markdown(result: dict) -> str:
    from lumina.validation import format_chance, format_value, format_verdict

    p = result["protocol"]
    cat = p["catalog"]
    modes = p["modes"]

    def table(head, rows):
        return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head),
                *["| " + " | ".join(r) + " |" for r in rows]]

    out = ["# Validation on real scores and instruments (row 7)", "",
           f"Generated by `{p['command']}` (lumina {p['software_version']}, music21 "
           f"{p['music21']}, soundfont `{Path(p['soundfont']).name}`, "
           f"{p['torch_threads']} torch thread(s)), {p['elapsed_seconds']:.0f} s "
           f"(renderings {p['render_seconds']:.0f} s; per mode: "
           + ", ".join(f"{m} {s:.0f} s" for m, s in p["mode_seconds"].items()) + ").", "",
           f"Library: {len(cat['chorales'])} Bach chorales × GM programs {cat['programs']} = "
           f"{cat['songs']} recordings of {cat['seconds']:g} s at {cat['bpm']:g} bpm, one "
           f"library per composition rendering ({', '.join(modes)}). Unrelated "
           f"queries: {len(cat['heldout_chorales'])} held-out chorales × programs "
           f"{cat['heldout_programs']}. Model `{p['model']['name']}` "
           f"(`{p['model']['weights_sha256'][:16]}…`); default null "
           f"`{result['default_null']}` (top_k {p['attribution']['top_k']}).", "",
           "## Composition channel per mode", "",
           "LOO: leave-one-out top-1 (z of the default null). FP: unrelated pairs passing the "
           "95 % gate. TP: a 10 s excerpt of each recording against that recording. Robust: "
           "top-1 is the recording itself / plays the same chorale, mean over the row-5 "
           "transforms.", ""]
    out += table(*summary_rows(result))
    out += ["", "Robustness, composition channel: top-1 is the recording / the same chorale.",
            ""]
    out += table(*robust_rows(result))
    out += ["", _production_line(result) + ".", "", "## Rows per mode", ""]
    for i, mode in enumerate(modes):
        res = result["results"][mode]
        shown = _mode_result(result, mode, None if i == 0 else {"composition"})["rows"]
        out += [f"### {mode} (composition rendering "
                f"`{res['composition_rendering'] or 'none: the audio'}`)", ""]
        if i:
            out += ["Composition channel only: the production channel and the baseline are "
                    f"those of `{modes[0]}` (production library fingerprints identical: "
                    f"{'yes' if res['production_identical_to_first_mode'] else 'NO'}).", ""]
        out += ["| # | measure | channel | value | chance | goal | verdict |",
                "|---|---|---|---:|---:|---|---|"]
        for r in shown:
            out.append(f"| {r['row']} | {r['measure']} | {r['channel']} | "
                       f"{format_value(r['value'], r['unit'])} | {format_chance(r)} | "
                       f"{r['goal'] or ''} | {format_verdict(r)} |")
        out += ["", f"The numbers support `{res['recommended_null']}`: "
                f"{res['recommended_null_reason']}.", ""]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from lumina.errors import LuminaError
    from lumina.validation import check_output_path, format_table, write_json

    try:
        check_output_path(args.json, "--json")
        check_output_path(args.markdown, "--markdown")
        result = run(args)
    except (SetupError, LuminaError) as exc:
        print(f"realdata: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    modes = result["protocol"]["modes"]
    for i, mode in enumerate(modes):
        print(f"== {mode}" + ("" if i == 0 else " (composition channel)") + " ==")
        print(format_table(_mode_result(result, mode, None if i == 0 else {"composition"}))
              .replace("3 Dual-channel separation: leave-one-out on compositions x timbres",
                       "3 Separation: leave-one-out on chorales x programs"))
        print()
    print("== composition channel per mode ==")
    print(format_summary(result))
    print(f"{result['protocol']['elapsed_seconds']:.0f} s")
    if args.json:
        print(f"wrote {write_json(result, args.json)}")
    if args.markdown:
        args.markdown.write_text(to_markdown(result), encoding="utf-8")
        print(f"wrote {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
