"""The ``lumina`` command.

Each verb is a small function that parses nothing itself: argparse does that, the engine
does the work. Errors the user can cause arrive as :class:`~lumina.errors.LuminaError` and are
printed as one line; nothing reaches the terminal as a traceback unless ``LUMINA_DEBUG=1``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from lumina import __version__
from lumina.errors import LuminaError, one_line
from lumina.progress import format_clock

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130


class ProgressBar:
    """A one-line text progress bar with ETA on stderr (silent when not a terminal unless
    ``force``), usable as the engine's ``progress(done, total)`` callback."""

    def __init__(self, label: str, stream=None, force: bool = False) -> None:
        import time

        self._time = time.monotonic
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = force or self.stream.isatty()
        self.start = self._time()
        self._last = -1.0

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        now = self._time()
        if done < total and now - self._last < 0.1:
            return
        self._last = now
        frac = min(1.0, done / total)
        elapsed = now - self.start
        eta = elapsed / frac - elapsed if frac > 0 else 0.0
        width = 28
        bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
        end = "\n" if done >= total else ""
        self.stream.write(f"\r{self.label} [{bar}] {done}/{total}  ETA {eta:5.1f}s{end}")
        self.stream.flush()


def _cmd_fingerprint(args: argparse.Namespace) -> int:
    from lumina.fingerprint.fingerprinter import Fingerprinter
    from lumina.models import load_model

    model = load_model(args.model)
    fingerprinter = Fingerprinter(model, device=args.device, batch_size=args.batch_size)
    fp = fingerprinter.fingerprint_file(Path(args.track), progress=ProgressBar("fingerprint"))
    for warning in fp.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    payload = fp.to_json()
    if args.json:
        Path(args.json).write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
    else:
        print(f"{Path(args.track).name}: {fp.n_chunks} chunk(s), {fp.duration:.1f} s, "
              f"model {model.name} ({model.weights_sha256[:12]}), D={fp.dim}")
        for channel, vector in fp.channels.items():
            norm = float((vector.astype("float64") ** 2).sum() ** 0.5)
            print(f"  {channel:<12} |phi| = {norm:.4g}  mean chunk loss {fp.loss.mean():.3f}")
    return 0


def _print_line(bar: ProgressBar | None, text: str, stream=None) -> None:
    """Print a message on its own line without garbling a progress bar drawn with ``\\r``."""
    stream = stream or sys.stderr
    if bar is not None and bar.enabled and bar.stream is stream:
        stream.write("\r\033[K")
    print(text, file=stream)
    stream.flush()


def _index_event_text(event, verbose: bool) -> str | None:
    """The line an indexing event prints (None: say nothing), for local and Ray runs."""
    if event.kind in ("failed", "warning"):
        return f"{event.kind}: {event.message}"
    if event.kind == "skipped" and (verbose or event.song_id is None):
        return f"skipped: {event.message}"
    if event.kind == "indexed" and verbose:
        return f"indexed: {event.message}"
    return None


def _index_outcome(summary, missing: list[str], library_name: str, songs: int) -> int:
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


def _cmd_index(args: argparse.Namespace) -> int:
    from lumina.library import LibraryError, collect_audio_files

    on_ray = getattr(args, "ray", None) is not None
    if on_ray:
        from lumina.indexing.cluster import import_ray

        import_ray()  # one line on how to install it, before anything else happens
    library_path = Path(args.library).expanduser()
    files, missing = collect_audio_files(args.paths)
    for line in missing:
        print(f"lumina: {line}", file=sys.stderr)
    if not files and missing:
        raise LibraryError("nothing to index: " + missing[0])
    if on_ray:
        return _index_on_ray(args, library_path, files, missing)

    from lumina.library import index_files
    from lumina.workspace import Workspace

    # A rendering the library refuses fails before the model is loaded.
    ws = Workspace.open_or_create(library_path, model=args.model, device=args.device,
                                  batch_size=args.batch_size,
                                  composition_rendering=args.composition_rendering)
    lib = ws.library
    bar = ProgressBar("index")

    def report(event) -> None:
        text = _index_event_text(event, args.verbose)
        if text is not None:
            _print_line(bar, text)

    with lib, lib.writer() as writer:
        for line in writer.repairs:
            print(f"repaired: {line}", file=sys.stderr)
        summary = index_files(writer, files, ws.fingerprinter, progress=bar, report=report)
        total = len(lib)
    return _index_outcome(summary, missing, library_path.name, total)


def _index_on_ray(args: argparse.Namespace, library_path: Path, files: list[Path],
                  missing: list[str]) -> int:
    """``lumina index … --ray [ADDRESS] [--ship-audio]``: the same output and exit status as
    a local run, plus the cluster's progress and throughput."""
    from lumina.indexing.cluster import StatusLine, index_on_ray

    line = StatusLine()

    def report(event) -> None:
        text = _index_event_text(event, args.verbose)
        if text is not None:
            line.line(text)

    address = None if args.ray in (None, "", "local") else args.ray
    try:
        summary = index_on_ray(library_path, files, model=args.model, address=address,
                               composition_rendering=args.composition_rendering,
                               ship_audio=args.ship_audio, device=args.device,
                               batch_size=args.batch_size, progress=line, report=report,
                               say=line.line)
    finally:
        line.end()
    code = _index_outcome(summary, missing, library_path.name, summary.library_songs)
    print(f"ray: {summary.workers} worker(s), {summary.songs_per_hour:.0f} songs/h, "
          f"{summary.retries} retried, {summary.workers_lost} worker(s) lost", file=sys.stderr)
    return code


def _clip(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "~"


def _cmd_library(args: argparse.Namespace) -> int:
    from lumina.library import Library, verify

    path = Path(args.library).expanduser()
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
            print(f"songs       {info['songs']} live, {info['removed']} removed "
                  f"(compact to reclaim); {info['chunk_rows']} chunk rows; {size_text} "
                  "of matrices")
            print(f"digest      {info['digest']}")
            return 0
        if args.action == "list":
            songs = lib.songs(include_removed=args.removed)
            if args.json:
                print(json.dumps([s.__dict__ for s in songs], indent=2, default=list))
                return 0
            print(f"{'id':>6}  {'title':<32} {'artist':<24} {'isrc':<12} {'length':>7}  source")
            for s in songs:
                mark = "" if s.live else "  (removed)"
                print(f"{s.id:>6}  {_clip(s.title, 32):<32} {_clip(s.artist, 24):<24} "
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


def _print_result(result, stream=None, top: int | None = None) -> None:
    """The readable per-channel tables of ``lumina attribute`` (``top`` rows at most, but
    never fewer than the qualifying songs)."""
    out = stream or sys.stdout
    fp = result.fingerprint
    lib = result.library
    print(f"{fp.source}: {fp.n_chunks} chunk(s), {fp.duration:.1f} s | model {fp.model_name} "
          f"({fp.model_sha256[:12]}) | library {lib.name}: {lib.songs} song(s), digest "
          f"{lib.digest[:12]} | null {result.null}", file=out)
    for name, ch in result.channels.items():
        print(file=out)
        print(f"{name}: {ch.n_qualifying} of {ch.n_library} song(s) qualify "
              f"(confidence >= {ch.gate:g}, z >= {ch.z_gate:.3f}); * = qualifies", file=out)
        if name in result.channel_notes:
            print(f"  note: {result.channel_notes[name]}", file=out)
        print(f"  {'#':>3}    {'id':>5}  {'title':<28} {'artist':<20} {'cosine':>7} {'z':>7} "
              f"{'conf':>6} {'share':>7}", file=out)
        rows = ch.influences if top is None else ch.influences[:max(top, ch.n_qualifying)]
        for inf in rows:
            mark = "*" if inf.qualifies else " "
            share = f"{100 * inf.share:6.1f}%" if inf.qualifies else f"{'-':>7}"
            print(f"  {inf.rank:>3} {mark}  {inf.song_id:>5}  {_clip(inf.title, 28):<28} "
                  f"{_clip(inf.artist, 20):<20} {inf.cosine:>7.3f} {inf.z:>7.2f} "
                  f"{inf.confidence:>6.3f} {share}", file=out)
    for name, rows in result.timeline.items():
        print(file=out)
        print(f"timeline ({name}): best match per chunk", file=out)
        for row in rows:
            mark = "*" if row.qualifies else " "
            print(f"  {format_clock(row.start):>7}-{format_clock(row.end):<7} {mark} "
                  f"{row.song_id:>5}  {_clip(row.title, 28):<28} {_clip(row.artist, 20):<20} "
                  f"z {row.z:6.2f}  conf {row.confidence:.3f}", file=out)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)


def _cmd_attribute(args: argparse.Namespace) -> int:
    from lumina.analysis import analyze
    from lumina.attribution import AttributionParams
    from lumina.workspace import Workspace

    params = AttributionParams(null=args.null, top=args.top)
    # The workspace refuses an empty or mismatched library before the model loads.
    with Workspace.open(Path(args.library).expanduser(), model=args.model, device=args.device,
                        batch_size=args.batch_size) as ws:
        result = analyze(Path(args.track), ws.library, ws.fingerprinter, params=params,
                         progress=ProgressBar("fingerprint"))
    _print_result(result)
    if args.json or args.pdf:
        from lumina.reports.report import write_signed_reports

        for path in write_signed_reports(result.to_json(), json_path=args.json,
                                         pdf_path=args.pdf):
            print(f"wrote {path} (signed)")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from lumina.demo.run import run_demo

    demo = run_demo(Path(args.out), progress=ProgressBar,
                    say=lambda line: print(line, file=sys.stderr))
    print(f"Query: {demo.query_path.name} — the embedded model's continuation of "
          f"“{demo.source_title}” (the true source)\n")
    _print_result(demo.result, top=args.top)
    print()
    for channel, rank in demo.source_ranks().items():
        where = f"ranks #{rank}" if rank else "is not among the listed songs"
        print(f"true source in the {channel} channel: {where}")
    print("(how often the embedded model's continuations are traced back to their source is "
          "measured by `lumina validate`, row 2; the published run is in docs/validation.md)")
    for path in demo.reports:
        print(f"wrote {path} (signed; check it with: lumina verify {path})")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    import dataclasses

    from lumina.validation import (
        ValidationConfig,
        check_output_path,
        format_table,
        run_validation,
        write_json,
        write_markdown,
    )

    check_output_path(args.json, "--json")
    check_output_path(args.markdown, "--markdown")
    config = ValidationConfig.quick_config() if args.quick else ValidationConfig.full()
    config = dataclasses.replace(config, composition_rendering=args.composition_rendering)
    result = run_validation(config, progress=ProgressBar,
                            say=lambda line: print(line, file=sys.stderr))
    print(format_table(result))
    if args.json:
        print(f"wrote {write_json(result, args.json)}")
    if args.markdown:
        print(f"wrote {write_markdown(result, args.markdown)}")
    return 0


def _cmd_audit(args: argparse.Namespace) -> int:
    from lumina.audit import load_policy, run_audit

    policy = load_policy(args.policy)
    bar = ProgressBar("audit")

    def on_row(row) -> None:
        if row.status == "error":
            _print_line(bar, f"error: {row.file}: {row.error}")
        for warning in row.warnings:
            _print_line(bar, f"warning: {row.file}: {warning}")

    summary = run_audit(args.inputs, Path(args.library).expanduser(), Path(args.out),
                        policy=policy, model=args.model, device=args.device,
                        write_pdf=not args.no_pdf, progress=bar, on_row=on_row)
    print(f"  {'track':<34} {'verdict':<8} {'composition':<30} {'production':<30}")
    for row in summary.rows:
        cells = []
        for name in ("composition", "production"):
            ch = row.channels.get(name)
            cells.append(f"{_clip(ch.title, 18)} {ch.share:4.0%} {ch.confidence:.3f}"
                         if ch else "—")
        verdict = row.verdict if row.status != "error" else "ERROR"
        again = " (already audited)" if row.status == "skipped" else ""
        print(f"  {_clip(row.file, 34):<34} {verdict:<8} {cells[0]:<30} {cells[1]:<30}{again}")
    c = summary.counts()
    print(f"{len(summary.rows)} track(s): {c['flag']} flag, {c['review']} review, "
          f"{c['clear']} clear, {c['error']} error(s), {c['warning']} with warnings, "
          f"{c['skipped']} already audited; {summary.seconds:.1f} s "
          f"(policy {policy.name}: alpha {policy.alpha:g}, {policy.correction}, "
          f"flag at share >= {policy.flag_share:.0%})")
    for path in summary.summary_files:
        print(f"wrote {path}" + (" (signed)" if path.suffix != ".csv" else ""))
    return EXIT_ERROR if c["error"] else 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from lumina.reports.report import verify_report

    check = verify_report(Path(args.report), trusted_key=args.key, audio=args.audio)
    predicate = check.verified.predicate
    who = "the trusted key" if args.key else "an untrusted key (pass --key to pin the signer)"
    print(f"valid: {Path(args.report).name} — signed by {check.signer} ({who})")
    if "rows" in predicate:  # an audit summary
        c = predicate["counts"]
        print(f"  audit summary of {len(predicate['rows'])} track(s): {c['flag']} flag, "
              f"{c['review']} review, {c['clear']} clear, {c['error']} error(s); library "
              f"{predicate['library']['name']}, model {predicate['model']['name']}, "
              f"created {predicate['created']} by the signer's clock")
        return 0
    print(f"  audio {predicate['track']['source']} sha256 {check.audio_sha256[:16]}…"
          + (" (matches the given file)" if check.audio_matches else ""))
    print(f"  model {predicate['model']['name']} {predicate['model']['weights_sha256'][:16]}…, "
          f"library {predicate['library']['name']} ({predicate['library']['songs']} songs), "
          f"created {predicate['created']['time']} by the signer's clock")
    return 0


def _cmd_keys(args: argparse.Namespace) -> int:
    from lumina.reports.signing import (
        KEY_FILE,
        key_fingerprint,
        key_folder,
        load_or_create_key,
        public_key_pem,
    )

    key = load_or_create_key()
    if args.action == "show":
        print(key_fingerprint(key.public_key()))
        print(f"  private key: {key_folder() / KEY_FILE} (mode 0600; never share it)")
        return 0
    pem = public_key_pem(key.public_key())
    if args.out:
        Path(args.out).write_text(pem, encoding="utf-8")
        print(f"wrote {args.out} — give this file to whoever verifies your reports")
    else:
        sys.stdout.write(pem)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from lumina.fingerprint.rendering import RENDERINGS
    from lumina.library import DEFAULT_COMPOSITION_RENDERING, PLAIN_RENDERING

    parser = argparse.ArgumentParser(
        prog="lumina",
        description="Which catalog songs influenced a piece of AI-generated music, how much, "
                    "and how sure we are.",
    )
    parser.add_argument("--version", action="version", version=f"lumina {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    dm = sub.add_parser("demo", help="the whole job on the embedded model and demo catalog")
    dm.add_argument("--out", default=".", metavar="DIR",
                    help="where the signed JSON and PDF go (default: current folder)")
    dm.add_argument("--top", type=int, default=8, help="rows printed per channel (default 8)")
    dm.set_defaults(func=_cmd_demo)

    fp = sub.add_parser("fingerprint", help="gradient fingerprints of one track (two channels)")
    fp.add_argument("track", help="audio file (wav, flac, ogg, opus, mp3, m4a, mp4, aac)")
    fp.add_argument("--model", default="lumina-tiny",
                    help="lumina-tiny (default) or a local MusicGen folder "
                         "(transformers or audiocraft format)")
    fp.add_argument("--json", metavar="OUT", help="write both fingerprints and metadata as JSON")
    fp.add_argument("--device", default=None, help="cuda, mps or cpu (default: best available)")
    fp.add_argument("--batch-size", type=int, default=4, help="chunks per forward pass")
    fp.set_defaults(func=_cmd_fingerprint)

    ix = sub.add_parser("index", help="create or extend a fingerprint library (resumable)")
    ix.add_argument("paths", nargs="+", metavar="FOLDER|FILE",
                    help="audio files, or folders searched recursively for audio files")
    ix.add_argument("--library", required=True, metavar="LIB", help="library folder")
    ix.add_argument("--model", default=None,
                    help="lumina-tiny or a local MusicGen folder (default: the library's "
                         "model, or lumina-tiny for a new library)")
    ix.add_argument("--device", default=None, help="cuda, mps or cpu (default: best available)")
    ix.add_argument("--batch-size", type=int, default=4, help="chunks per forward pass")
    ix.add_argument("--composition-rendering", default=None, metavar="NAME",
                    help="for a new library: compute the composition channel on a "
                         f"timbre-neutral rendering ({', '.join(RENDERINGS)}) or "
                         f"'{PLAIN_RENDERING}' for the audio itself (default: "
                         f"{DEFAULT_COMPOSITION_RENDERING}); an existing "
                         "library keeps its own; see docs/method.md")
    ix.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                    help="fingerprint on Ray actors, this process writing the library: a "
                         "local Ray instance, or 'auto' / HOST:PORT for a running cluster "
                         "(needs lumina-attribution[cluster]; put --ray after the folders "
                         "or write --ray=ADDRESS)")
    ix.add_argument("--ship-audio", action="store_true",
                    help="with --ray: send each file's bytes to the workers instead of "
                         "letting them read a path all nodes see")
    ix.add_argument("-v", "--verbose", action="store_true",
                    help="also list indexed songs and songs already in the library")
    ix.set_defaults(func=_cmd_index)

    lb = sub.add_parser("library", help="inspect or maintain a fingerprint library")
    lsub = lb.add_subparsers(dest="action", metavar="ACTION", required=True)
    for action, text in (("info", "manifest, counts and digest"),
                         ("list", "the songs"),
                         ("remove", "mark songs removed (by id)"),
                         ("verify", "check manifest, counts, finiteness and checksums"),
                         ("compact", "reclaim the space of removed songs")):
        p = lsub.add_parser(action, help=text)
        p.add_argument("library", metavar="LIB", help="library folder")
        if action == "remove":
            p.add_argument("ids", nargs="+", type=int, metavar="ID", help="song ids")
        if action in ("info", "list"):
            p.add_argument("--json", action="store_true", help="print JSON")
        if action == "list":
            p.add_argument("--removed", action="store_true", help="include removed songs")
        p.set_defaults(func=_cmd_library)

    at = sub.add_parser("attribute", help="which library songs influenced a track")
    at.add_argument("track", help="audio file")
    at.add_argument("--library", required=True, metavar="LIB", help="library folder")
    at.add_argument("--top", type=int, default=20,
                    help="songs listed per channel beyond the qualifying ones (default 20)")
    at.add_argument("--null", default="empirical", choices=["empirical", "analytic"],
                    help="null model of the confidence (default empirical)")
    at.add_argument("--json", metavar="OUT", help="write the signed report as JSON")
    at.add_argument("--pdf", metavar="OUT", help="write the signed report as PDF")
    at.add_argument("--model", default=None,
                    help="the library's model (default: the one recorded in the library)")
    at.add_argument("--device", default=None, help="cuda, mps or cpu (default: best available)")
    at.add_argument("--batch-size", type=int, default=4, help="chunks per forward pass")
    at.set_defaults(func=_cmd_attribute)

    va = sub.add_parser("validate", help="the validation study: reproducibility, causal link, "
                                         "channel separation, gate calibration, robustness, "
                                         "baseline")
    va.add_argument("--quick", action="store_true",
                    help="a reduced study (4 x 2 songs of 8 s, under a minute) instead of the "
                         "demo catalog (8 x 4 songs of 24 s)")
    va.add_argument("--composition-rendering", metavar="NAME",
                    default=DEFAULT_COMPOSITION_RENDERING,
                    help="what the composition channel hears: a rendering "
                         f"({', '.join(RENDERINGS)}) or '{PLAIN_RENDERING}' for the audio "
                         "itself (default: %(default)s, as a new library)")
    va.add_argument("--json", metavar="OUT", help="write every number and the protocol as JSON")
    va.add_argument("--markdown", metavar="OUT",
                    help="write the table and protocol as Markdown (notes after the marker "
                         "line of an existing file are kept)")
    va.set_defaults(func=_cmd_validate)

    au = sub.add_parser("audit", help="attribute a folder of tracks: signed reports, verdicts "
                                      "and a signed summary (resumable)")
    au.add_argument("inputs", nargs="+", metavar="FOLDER|FILE", help="audio files or folders")
    au.add_argument("--library", required=True, metavar="LIB", help="library folder")
    au.add_argument("--out", required=True, metavar="DIR",
                    help="where the reports and summary.csv/json/pdf go")
    au.add_argument("--policy", metavar="FILE",
                    help="verdict policy (TOML); default alpha 0.01 with Sidak correction, "
                         "flag at share >= 50%%")
    au.add_argument("--no-pdf", action="store_true", help="JSON reports only (faster)")
    au.add_argument("--model", default=None,
                    help="the library's model (default: the one recorded in the library)")
    au.add_argument("--device", default=None, help="cuda, mps or cpu (default: best available)")
    au.set_defaults(func=_cmd_audit)

    ve = sub.add_parser("verify", help="check a signed report (exit 0 valid, 1 invalid, "
                                       "2 unreadable)")
    ve.add_argument("report", help="REPORT.json or REPORT.pdf")
    ve.add_argument("--key", type=Path, metavar="PUB",
                    help="the signer's public key (PEM); without it only integrity is checked")
    ve.add_argument("--audio", type=Path, metavar="TRACK",
                    help="also check that the report is about this audio file")
    ve.set_defaults(func=_cmd_verify)

    ks = sub.add_parser("keys", help="your report-signing key")
    ks.add_argument("action", choices=["show", "export-public"])
    ks.add_argument("--out", metavar="FILE", help="where export-public writes the PEM")
    ks.set_defaults(func=_cmd_keys)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return EXIT_ERROR
    try:
        return func(args)
    except LuminaError as exc:
        print(f"lumina: error: {one_line(exc)}", file=sys.stderr)
        return getattr(exc, "exit_code", EXIT_ERROR)
    except KeyboardInterrupt:
        print("lumina: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # a bug, not bad input: still one line, details on request
        if os.environ.get("LUMINA_DEBUG"):
            raise
        print(f"lumina: internal error: {type(exc).__name__}: {one_line(exc)} "
              "(set LUMINA_DEBUG=1 for details)", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
