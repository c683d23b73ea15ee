"""``lumina index`` (local or on Ray) and ``lumina library`` (info, list, remove, verify,
compact, relink)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from lumina.cli.exit_codes import EXIT_ERROR, EXIT_INTERRUPTED
from lumina.cli.output import ProgressBar, StatusLine, clip, print_line
from lumina.progress import format_clock

if TYPE_CHECKING:
    from lumina.indexing.local import IndexEvent, IndexSummary
    from lumina.indexing.ray_status import ClusterStatus


def index_event_text(event: IndexEvent, verbose: bool) -> str | None:
    """The line an indexing event prints (None: say nothing), for local and Ray runs."""
    if event.kind in ("failed", "warning"):
        return f"{event.kind}: {event.message}"
    if event.kind == "skipped" and (verbose or event.song_id is None):
        return f"skipped: {event.message}"
    if event.kind == "indexed" and verbose:
        return f"indexed: {event.message}"
    return None


def index_outcome(summary: IndexSummary, missing: list[str], library_name: str,
                  songs: int) -> int:
    """Print an indexing run's one-line summary; its exit status."""
    detail = []
    if summary.already_indexed:
        detail.append(f"{summary.already_indexed} already in the library")
    if summary.duplicates:
        detail.append(f"{summary.duplicates} duplicate audio")
    skipped = f"skipped {summary.skipped}" + (f" ({', '.join(detail)})" if detail else "")
    failed = summary.failed + len(missing)
    print(f"indexed {summary.indexed}, {skipped}, failed {failed} in {summary.seconds:.1f} s; "
          f"library {library_name} holds {songs} song(s)")
    if summary.cancelled:
        return EXIT_INTERRUPTED
    return EXIT_ERROR if failed else 0


def cmd_index(args: argparse.Namespace) -> int:
    from lumina.indexing import collect_audio_files

    on_ray = getattr(args, "ray", None) is not None
    if on_ray:
        from lumina.indexing.cluster import import_ray

        import_ray()  # one line on how to install it, before anything else happens
    library_path = Path(args.library).expanduser()
    # The paths were checked before this ran (cli/inputs.py); one deleted since is a
    # failure of this run, counted in its summary.
    files, missing = collect_audio_files(args.paths)
    for line in missing:
        print(f"lumina: {line}", file=sys.stderr)
    if on_ray:
        return index_on_ray(args, library_path, files, missing)

    from lumina.indexing import index_files
    from lumina.workspace import Workspace

    # A rendering the library refuses fails before the model is loaded.
    ws = Workspace.open_or_create(library_path, model=args.model, device=args.device,
                                  batch_size=args.batch_size,
                                  composition_rendering=args.composition_rendering,
                                  output_function=args.output_function, loudness=args.loudness)
    lib = ws.library
    bar = ProgressBar("index")

    def report(event) -> None:
        text = index_event_text(event, args.verbose)
        if text is not None:
            print_line(bar, text)

    with lib, lib.writer() as writer:
        for line in writer.repairs:
            print(f"repaired: {line}", file=sys.stderr)
        summary = index_files(writer, files, ws.fingerprinter, progress=bar, report=report)
        total = len(lib)
        digest = lib.digest() if summary.indexed else ""
    code = index_outcome(summary, missing, library_path.name, total)
    if summary.indexed and total >= 2:
        from lumina.calibration import read_calibration

        found = read_calibration(library_path, digest)
        if found is None or not found.current:
            print(f"next: measure false names and copy detection on this library with "
                  f"'lumina library calibrate {library_path}'")
    return code


def index_on_ray(args: argparse.Namespace, library_path: Path, files: list[Path],
                  missing: list[str]) -> int:
    """``lumina index … --ray [ADDRESS] [--ship-audio]``: the same output and exit status as
    a local run, plus the cluster's progress and throughput."""
    from lumina.indexing.cluster import index_on_ray

    status = StatusLine()

    def progress(state: ClusterStatus) -> None:
        status.show(f"index (ray): {state.describe()}", finished=state.done >= state.total)

    def report(event) -> None:
        text = index_event_text(event, args.verbose)
        if text is not None:
            status.line(text)

    address = None if args.ray in (None, "", "local") else args.ray
    try:
        summary = index_on_ray(library_path, files, model=args.model, address=address,
                               composition_rendering=args.composition_rendering,
                               output_function=args.output_function, loudness=args.loudness,
                               ship_audio=args.ship_audio, device=args.device,
                               batch_size=args.batch_size, progress=progress, report=report,
                               say=status.line)
    finally:
        status.end()
    code = index_outcome(summary, missing, library_path.name, summary.library_songs)
    print(f"ray: {summary.workers} worker(s), {summary.songs_per_hour:.0f} songs/h, "
          f"{summary.retries} retried, {summary.workers_lost} worker(s) lost", file=sys.stderr)
    return code


def cmd_library(args: argparse.Namespace) -> int:
    from lumina.fingerprint.loudness import loudness_words
    from lumina.fingerprint.output import output_function_words
    from lumina.library import Library, verify

    path = Path(args.library).expanduser()
    if args.action == "relink":
        return cmd_relink(args)
    if args.action == "calibrate":
        return cmd_calibrate(args)
    if args.action == "verify":
        report = verify(path)
        for line in report.problems:
            print(f"problem: {line}")
        for line in report.notes:
            print(f"note: {line}")
        if report.ok:
            print(f"ok: {path.name}: {report.songs} song(s), {report.removed} removed, "
                  f"{report.chunk_rows} chunk row(s); manifest, catalog, counts, finiteness "
                  "and checksums verified")
            return 0
        print(f"{path.name}: {len(report.problems)} problem(s) found")
        return EXIT_ERROR
    with Library.open(path) as lib:
        if args.action == "info":
            info = lib.info()
            if args.json:
                from lumina.calibration import read_calibration

                found = read_calibration(path, str(info["digest"]))
                info["calibration"] = (None if found is None else
                                       {**found.to_json(), "current": found.current,
                                        "summary": found.summary()})
                print(json.dumps(info, indent=2))
                return 0
            size = info["matrix_bytes"]
            size_text = (f"{size / 2**20:.1f} MiB" if size >= 2**20 else f"{size / 2**10:.1f} KiB")
            print(f"library     {path.name} ({info['path']})")
            print(f"id          {info['library_id']}  (format {info['format_version']}, "
                  f"created {info['created']} by lumina {info['software_version']})")
            print(f"model       {info['model_name']}  sha256 {info['model_sha256']}")
            print(f"projection  D={info['dim']}, seed {info['projection_seed']}, "
                  f"{info['projection_blocks']} blocks; chunks of {info['chunk_seconds']:g} s "
                  f"at {info['sample_rate']} Hz; channels {', '.join(info['channels'])}")
            rendering = info.get("composition_rendering")
            print("composition " + (f"on the {rendering} rendering (timbre-neutral)"
                                    if rendering else "on the audio itself (the paper's mode)"))
            print(f"gradient    of {output_function_words(info.get('output_function'))}")
            print(f"loudness    {loudness_words(info.get('loudness'))}")
            print(f"songs       {info['songs']} live, {info['removed']} removed "
                  f"(compact to reclaim); {info['chunk_rows']} chunk rows; {size_text} "
                  "of matrices")
            print(f"digest      {info['digest']}")
            print(f"calibration {calibration_line(path, str(info['digest']))}")
            return 0
        if args.action == "list":
            songs = lib.songs(include_removed=args.removed)
            if args.json:
                print(json.dumps([s.__dict__ for s in songs], indent=2, default=list))
                return 0
            print(f"{'id':>6}  {'title':<32} {'artist':<24} {'isrc':<12} {'length':>7}  source")
            for s in songs:
                mark = "" if s.live else "  (removed)"
                print(f"{s.id:>6}  {clip(s.title, 32):<32} {clip(s.artist, 24):<24} "
                      f"{s.isrc:<12} {format_clock(s.duration):>7}  "
                      f"{Path(s.source_path).name}{mark}")
            print(f"{len(songs)} song(s)")
            return 0
        with lib.writer() as writer:
            if args.action == "remove":
                removed = writer.remove(args.ids)
                print(f"removed {len(removed)} song(s) ({', '.join(map(str, removed))}); "
                      f"{len(lib)} remain. Run 'lumina library compact {args.library}' to "
                      "reclaim their space.")
                return 0
            stats = writer.compact()
            print(f"compacted {path.name}: dropped {stats['removed_rows']} removed song row(s) "
                  f"and {stats['removed_chunk_rows']} chunk row(s), reclaimed "
                  f"{stats['bytes_reclaimed'] / 2**20:.2f} MiB; {len(lib)} song(s) remain")
            return 0


def calibration_line(path: Path, digest: str) -> str:
    """What ``library info`` says of the library's own calibration."""
    from lumina.calibration import read_calibration

    found = read_calibration(path, digest)
    if found is None:
        return f"none yet (lumina library calibrate {path})"
    return found.summary()


def cmd_relink(args: argparse.Namespace) -> int:
    """``lumina library relink LIB FOLDER [-v]``: one line per moved song with -v, a summary
    line always; 0 once the run completed, also when some songs were not found (a catalog
    split over several folders is relinked folder by folder)."""
    from lumina.indexing.relink import check_folder, relink_library

    check_folder(args.folder)  # a typo fails before the library is opened
    bar = ProgressBar("relink")
    summary = relink_library(args.library, args.folder, progress=bar)
    bar.end()
    for line in summary.unreadable:
        print(f"skipped: {line}", file=sys.stderr)
    if args.verbose:
        for song in summary.relinked:
            if song.new_path != song.old_path:
                print(f"relinked {song.song_id} {clip(song.title, 40)}: {song.old_path} -> "
                      f"{song.new_path}")
        for missing in summary.not_found:
            print(f"not found {missing.id} {clip(missing.title, 40)}: {missing.source_path}")
    found = len(summary.relinked)
    print(f"relinked {found} of {summary.songs} songs; {len(summary.not_found)} not found "
          f"under {args.folder}")
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    """``lumina library calibrate LIB [--sample N] [--seed S] [--json]``: measure, print a
    table, store the result in the library. Ctrl+C stops it and stores nothing."""
    from lumina.calibration import CalibrationPlan, calibrate_library
    from lumina.workspace import Workspace

    plan = CalibrationPlan(sample=args.sample, seed=args.seed)
    bar = ProgressBar("calibrate")
    with Workspace.open(Path(args.library).expanduser()) as ws:
        result = calibrate_library(ws, plan, progress=bar)
    bar.end()
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
        return 0
    print(calibration_table(result))
    print(f"stored in {Path(args.library).expanduser() / 'calibration.json'}; reports on this "
          "library cite it until songs are added or removed")
    return 0


def calibration_table(result) -> str:
    """The calibration as aligned text lines (``lumina library calibrate``)."""
    from lumina.attribution.gate import GATE_RULES
    from lumina.validation.transforms import TRANSFORM_LABELS

    channels = list(result.null)

    def pct(v: float | None) -> str:
        return "  –  " if v is None else f"{100 * v:4.0f} %"

    head = "".join(f"{ch:>22}" for ch in channels)
    lines = [f"calibrated {result.songs} songs in {result.seconds:.0f} s: {result.null_sample} "
             f"held out with their relatives ({result.null_skipped} skipped: too few "
             f"unrelated songs left), {result.copy_sample} copied ({result.copy_missing} "
             "with audio not found)",
             "",
             f"{'held-out songs naming any song':<34}{head}"]
    for rule in GATE_RULES:
        label = f"  {rule}" + (" (default)" if rule == result.default_gate else "")
        lines.append(f"{label:<34}" + "".join(
            f"{pct(result.null[ch].get(rule)):>22}" for ch in channels))
    chance = result.separation_chance
    lines += ["", f"{'each song left out alone':<34}{head}"]
    for kind in ("title", "artist"):
        base = chance.get(kind)
        label = f"  top match of the same {kind}"
        lines.append(f"{label:<34}" + "".join(
            f"{pct(result.separation[ch].get(kind)):>22}" for ch in channels)
            + f"   (chance {pct(base).strip()})")
    lines += ["", f"{'copies: ranked first / named':<34}{head}"]
    for name, per in result.copies.items():
        cells = "".join(f"{pct(per[ch]['first']) + ' / ' + pct(per[ch]['named']).strip():>22}"
                        for ch in channels)
        lines.append(f"  {TRANSFORM_LABELS.get(name, name):<32}{cells}")
    return "\n".join(lines)
