"""The ``lumina`` command line: every verb, its arguments and the function that runs it."""

from __future__ import annotations

import argparse
from pathlib import Path

from lumina import __version__
from lumina.cli.attribute import cmd_attribute, cmd_demo, cmd_fingerprint, cmd_validate
from lumina.cli.index import cmd_index, cmd_library
from lumina.cli.reports import cmd_audit, cmd_keys, cmd_verify


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
    dm.set_defaults(func=cmd_demo)

    fp = sub.add_parser("fingerprint", help="gradient fingerprints of one track (two channels)")
    fp.add_argument("track", help="audio file (wav, flac, ogg, opus, mp3, m4a, mp4, aac)")
    fp.add_argument("--model", default="lumina-tiny",
                    help="lumina-tiny (default) or a local MusicGen folder "
                         "(transformers or audiocraft format)")
    fp.add_argument("--json", metavar="OUT", help="write both fingerprints and metadata as JSON")
    fp.add_argument("--device", default=None, help="cuda, mps or cpu (default: best available)")
    fp.add_argument("--batch-size", type=int, default=None,
                    help="chunks per forward pass (default: 4 on a CPU, what fits on a GPU)")
    fp.set_defaults(func=cmd_fingerprint)

    ix = sub.add_parser("index", help="create or extend a fingerprint library (resumable)")
    ix.add_argument("paths", nargs="+", metavar="FOLDER|FILE",
                    help="audio files, or folders searched recursively for audio files")
    ix.add_argument("--library", required=True, metavar="LIB", help="library folder")
    ix.add_argument("--model", default=None,
                    help="lumina-tiny or a local MusicGen folder (default: the library's "
                         "model, or lumina-tiny for a new library)")
    ix.add_argument("--device", default=None, help="cuda, mps or cpu (default: best available)")
    ix.add_argument("--batch-size", type=int, default=None,
                    help="chunks per forward pass (default: 4 on a CPU, what fits on a GPU)")
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
    ix.set_defaults(func=cmd_index)

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
        p.set_defaults(func=cmd_library)

    at = sub.add_parser("attribute", help="which library songs influenced a track")
    at.add_argument("track", help="audio file")
    at.add_argument("--library", required=True, metavar="LIB", help="library folder")
    at.add_argument("--top", type=int, default=20,
                    help="songs listed per channel beyond the qualifying ones (default 20)")
    at.add_argument("--null", default="empirical", choices=["empirical", "analytic"],
                    help="null model of the confidence (default empirical)")
    at.add_argument("--gate", default="fdr", choices=["fdr", "fwer", "per-song"],
                    help="which songs are named: fdr = at most LEVEL of the named songs are "
                         "expected to be wrong (Benjamini-Hochberg, default); fwer = an "
                         "unrelated track names any song with chance at most LEVEL (Sidak, "
                         "what lumina audit uses); per-song = each song's confidence >= "
                         "1 - LEVEL (the paper's 95 %% gate)")
    at.add_argument("--level", type=float, default=0.05,
                    help="the gate's level: q, alpha or 1 - confidence (default 0.05)")
    at.add_argument("--json", metavar="OUT", help="write the signed report as JSON")
    at.add_argument("--pdf", metavar="OUT", help="write the signed report as PDF")
    at.add_argument("--model", default=None,
                    help="the library's model (default: the one recorded in the library)")
    at.add_argument("--device", default=None, help="cuda, mps or cpu (default: best available)")
    at.add_argument("--batch-size", type=int, default=None,
                    help="chunks per forward pass (default: 4 on a CPU, what fits on a GPU)")
    at.set_defaults(func=cmd_attribute)

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
    va.set_defaults(func=cmd_validate)

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
    au.set_defaults(func=cmd_audit)

    ve = sub.add_parser("verify", help="check a signed report (exit 0 valid, 1 invalid, "
                                       "2 unreadable)")
    ve.add_argument("report", help="REPORT.json or REPORT.pdf")
    ve.add_argument("--key", type=Path, metavar="PUB",
                    help="the signer's public key (PEM); without it only integrity is checked")
    ve.add_argument("--audio", type=Path, metavar="TRACK",
                    help="also check that the report is about this audio file")
    ve.set_defaults(func=cmd_verify)

    ks = sub.add_parser("keys", help="your report-signing key")
    ks.add_argument("action", choices=["show", "export-public"])
    ks.add_argument("--out", metavar="FILE", help="where export-public writes the PEM")
    ks.set_defaults(func=cmd_keys)
    return parser
