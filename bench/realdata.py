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
  and a 10 s excerpt of every library recording; top-1 must be the recording itself.

The embedded model ``lumina-tiny`` was trained on the procedural demo catalog only, so here it
is a feature extractor meeting music it never saw; pass ``--model FOLDER`` for a real MusicGen
checkpoint (transformers or audiocraft format; it must run at 32 kHz like the renderings).

Set up (Debian/Ubuntu)::

    sudo apt-get install fluidsynth fluid-soundfont-gm
    python -m pip install music21

Run (about 15 minutes on two CPU cores with the defaults; renderings, the library and every
fingerprint are cached under ``--work``, so a rerun takes about a minute)::

    python bench/realdata.py --json realdata.json --markdown realdata.md [--threads 1]

Protocol: chorales are the corpus's ``bach/bwv*`` files with exactly four parts, in file-name
order, long enough for ``--seconds`` at the fixed tempo; the first ``--chorales`` form the
library, the next ``--heldout`` are the unrelated queries. Every part gets the same program,
tempo marks are replaced by one fixed tempo (``--bpm``), and FluidSynth renders at 32 kHz with
its default reverb and chorus. Each rendering is cut to ``--seconds`` with a 1.5 s fade-out,
mixed to mono and peak-normalised to 0.9, then indexed with ``lumina``'s own library code.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
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


def run(args: argparse.Namespace) -> dict:
    import torch

    from lumina.attribution import DEFAULT_NULL, GATE, gate_z
    from lumina.library import Library, identity_of_fingerprinter, index_files
    from lumina.models import DEFAULT_MODEL, load_model
    from lumina.validation import Study, ValidationConfig

    if shutil.which("fluidsynth") is None:
        raise SetupError("fluidsynth not found (apt-get install fluidsynth)")
    try:
        import music21  # noqa: F401
    except ImportError:
        raise SetupError("music21 is not installed (python -m pip install music21)") from None
    soundfont = _soundfont(args.soundfont)
    programs = _programs(args.programs)
    held_programs = _programs(args.heldout_programs)
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

    cfg = ValidationConfig(seconds=args.seconds, n_compositions=args.chorales,
                           n_timbres=len(programs))
    study = Study(config=cfg, model=model, progress=None,
                   say=lambda line: print(line, file=sys.stderr))
    study.init_engine(work)
    lib = Library.open_or_create(work / "library", identity_of_fingerprinter(study.fingerprinter),
                                 model_spec=DEFAULT_MODEL if model.name == DEFAULT_MODEL
                                 else str(Path(args.model).resolve()))
    paths = [s.path for s in library_songs]
    with lib:
        if len(lib) < len(paths):
            print(f"indexing {len(paths)} recordings into {lib.path}", file=sys.stderr)
            with lib.writer() as writer:
                summary = index_files(writer, paths, study.fingerprinter)
            if summary.failed:
                raise SetupError(f"{summary.failed} recording(s) failed to index")
    study.catalog = SimpleNamespace(songs=library_songs)
    study.attach_library(work / "library", paths, [s.id for s in library_songs])
    study.unrelated_items = lambda: [
        (f"realdata|{s.id}", lambda s=s: study.load(s.path)) for s in heldout_songs]
    timings = {}
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
    rows = sorted(study.rows, key=lambda r: r.row)
    gate = study.details["gate_calibration"]
    from dataclasses import asdict

    import music21

    from lumina import __version__

    return {
        "schema": "lumina.validation.realdata/1",
        "protocol": {
            "command": "python bench/realdata.py " + " ".join(sys.argv[1:]),
            "software_version": __version__, "music21": music21.__version__,
            "fluidsynth": subprocess.run(["fluidsynth", "--version"], capture_output=True,
                                         text=True).stdout.splitlines()[0:1],
            "soundfont": str(soundfont), "torch": torch.__version__, "numpy": np.__version__,
            "model": {"name": model.name, "weights_sha256": model.weights_sha256},
            "fingerprint": {k: study.identity[k] for k in sorted(study.identity)},
            "catalog": {"cache_key": key, "songs": len(library_songs),
                        "chorales": [c.stem for c in chorales[:args.chorales]],
                        "heldout_chorales": [c.stem for c in chorales[args.chorales:]],
                        "programs": list(programs), "heldout_programs": list(held_programs),
                        "seconds": args.seconds, "bpm": args.bpm,
                        "library_digest": study.library_digest},
            "attribution": {"default_null": DEFAULT_NULL, "gate": GATE, "z_gate": gate_z(GATE),
                            **study.prepare_params},
            "transforms": study.details["robustness"]["transforms"],
            "elapsed_seconds": round(time.monotonic() - t0, 1),
            "timings_seconds": timings,
            "work": str(work),
        },
        "rows": [asdict(r) for r in rows],
        "default_null": DEFAULT_NULL,
        "recommended_null": gate["recommended_null"],
        "recommended_null_reason": gate["reason"],
        "details": study.details,
    }


def to_markdown(result: dict) -> str:
    from lumina.validation import _fmt, _fmt_chance, _verdict

    p = result["protocol"]
    cat = p["catalog"]
    out = ["# Validation on real scores and instruments (row 7)", "",
           f"Generated by `{p['command']}` (lumina {p['software_version']}, music21 "
           f"{p['music21']}, soundfont `{Path(p['soundfont']).name}`), "
           f"{p['elapsed_seconds']:.0f} s.", "",
           f"Library: {len(cat['chorales'])} Bach chorales × GM programs {cat['programs']} = "
           f"{cat['songs']} recordings of {cat['seconds']:g} s at {cat['bpm']:g} bpm. Unrelated "
           f"queries: {len(cat['heldout_chorales'])} held-out chorales × programs "
           f"{cat['heldout_programs']}. Model `{p['model']['name']}` "
           f"(`{p['model']['weights_sha256'][:16]}…`).", "",
           "| # | measure | channel | value | chance | goal | verdict |",
           "|---|---|---|---:|---:|---|---|"]
    for r in result["rows"]:
        out.append(f"| {r['row']} | {r['measure']} | {r['channel']} | "
                   f"{_fmt(r['value'], r['unit'])} | {_fmt_chance(r)} | {r['goal'] or ''} | "
                   f"{_verdict(r)} |")
    out += ["", f"Default null `{result['default_null']}`; the numbers support "
            f"`{result['recommended_null']}`: {result['recommended_null_reason']}.", ""]
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
    # format_table reads these protocol fields.
    result["protocol"].setdefault("catalog", {}).setdefault("songs", 0)
    print(format_table(result).replace("3 Dual-channel separation: leave-one-out on "
                                       "compositions x timbres",
                                       "3 Separation: leave-one-out on chorales x programs"))
    if args.json:
        print(f"wrote {write_json(result, args.json)}")
    if args.markdown:
        args.markdown.write_text(to_markdown(result), encoding="utf-8")
        print(f"wrote {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
