"""``lumina attribute`` and the verbs around it: ``fingerprint`` (one track's gradient
fingerprints), ``demo`` (the whole job on the embedded model) and ``validate`` (the study)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lumina.cli.output import ProgressBar, print_result, print_segments
from lumina.errors import LuminaError


def cmd_fingerprint(args: argparse.Namespace) -> int:
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


def cmd_attribute(args: argparse.Namespace) -> int:
    from lumina.analysis import analyze
    from lumina.attribution import AttributionParams
    from lumina.workspace import Workspace

    params = AttributionParams(null=args.null, top=args.top, gate=args.gate, level=args.level)
    # The workspace refuses an empty or mismatched library before the model loads.
    with Workspace.open(Path(args.library).expanduser(), model=args.model, device=args.device,
                        batch_size=args.batch_size) as ws:
        result = analyze(Path(args.track), ws.library, ws.fingerprinter, params=params,
                         progress=ProgressBar("fingerprint"))
    print_result(result)
    if args.segments:
        print_segments(result)
    if args.json or args.pdf:
        from lumina.reports.report import write_signed_reports

        for path in write_signed_reports(result.to_json(), json_path=args.json,
                                         pdf_path=args.pdf):
            print(f"wrote {path} (signed)")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from lumina.demo.run import run_demo

    demo = run_demo(Path(args.out), progress=ProgressBar,
                    say=lambda line: print(line, file=sys.stderr))
    print(f"Query: {demo.query_path.name} — the embedded model's continuation of "
          f"“{demo.source_title}” (the true source)\n")
    print_result(demo.result, top=args.top)
    print()
    for channel, rank in demo.source_ranks().items():
        where = f"ranks #{rank}" if rank else "is not among the listed songs"
        print(f"true source in the {channel} channel: {where}")
    print("(how often the embedded model's continuations are traced back to their source is "
          "measured by `lumina validate`, row 2; the published run is in docs/validation.md)")
    for path in demo.reports:
        print(f"wrote {path} (signed; check it with: lumina verify {path})")
    from lumina.settings import remember_library

    # The demo library becomes the default of `lumina attribute` / `audit` (cli/inputs.py).
    library = Path(demo.result.library.path)
    remember_library(library, demo=True)
    print(f"demo library: {library} (now the default: `lumina attribute TRACK` uses it; "
          "`--library demo` names it)")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
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
    if args.channel_notes and not Path(args.channel_notes).is_dir():
        # checked now, not after the hour the study takes
        raise LuminaError(f"--channel-notes: {args.channel_notes} is not a model folder")
    config = ValidationConfig.quick_config() if args.quick else ValidationConfig.full()
    config = dataclasses.replace(config, composition_rendering=args.composition_rendering,
                                 output_function=args.output_function,
                                 loudness=args.loudness)
    result = run_validation(config, progress=ProgressBar,
                            say=lambda line: print(line, file=sys.stderr))
    print(format_table(result))
    if args.json:
        print(f"wrote {write_json(result, args.json)}")
    if args.markdown:
        print(f"wrote {write_markdown(result, args.markdown)}")
    if args.channel_notes:
        from lumina.validation.channel_notes import write_channel_notes

        print(f"wrote {write_channel_notes(result, args.channel_notes)}")
    return 0
