"""The ``lumina`` command line: every verb, its arguments, its help page (what it does and
examples) and the function that runs it."""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

from lumina import __version__
from lumina.cli.attribute import cmd_attribute, cmd_demo, cmd_fingerprint, cmd_validate
from lumina.cli.index import cmd_index, cmd_library
from lumina.cli.inputs import Preflight
from lumina.cli.reports import cmd_audit, cmd_keys, cmd_verify

_DEFAULT_LIBRARY_HELP = ("library folder (default: the library used last, else the demo "
                         "library built by `lumina demo`; 'demo': the demo library)")


def add_verb(sub: argparse._SubParsersAction, name: str, summary: str, description: str,
             examples: str) -> argparse.ArgumentParser:
    """A subcommand whose ``--help`` says what it does and shows examples.

    ``summary`` is its line in the parent's list; ``description`` and ``examples`` are
    written as they will print (dedented, not rewrapped: examples keep their lines).
    """
    return sub.add_parser(
        name, help=summary, description=textwrap.dedent(description).strip(),
        epilog="Examples:\n" + textwrap.indent(textwrap.dedent(examples).strip(), "  "),
        formatter_class=argparse.RawDescriptionHelpFormatter)


def build_parser() -> argparse.ArgumentParser:
    from lumina.fingerprint.loudness import DEFAULT_LOUDNESS, LOUDNESSES
    from lumina.fingerprint.output import (
        DEFAULT_OUTPUT_FUNCTION,
        OUTPUT_FUNCTIONS,
        PAPER_OUTPUT_FUNCTION,
    )
    from lumina.fingerprint.rendering import RENDERINGS
    from lumina.library import DEFAULT_COMPOSITION_RENDERING, PLAIN_RENDERING

    parser = argparse.ArgumentParser(
        prog="lumina",
        description="Which catalog songs influenced a piece of AI-generated music, how much, "
                    "and how sure we are.",
        epilog="Start with `lumina demo`, then `lumina COMMAND --help` for each command.",
    )
    parser.add_argument("--version", action="version", version=f"lumina {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    dm = add_verb(sub, "demo", "the whole job on the embedded model and demo catalog", """
        Run the whole job on the embedded model (lumina-tiny) and a procedural catalog of
        32 songs with known ground truth: render and index the catalog into the user cache
        (first run: a few minutes; later runs reuse it), let the model continue the first
        3 s of one song, attribute that continuation and write a signed JSON and PDF
        report. Afterwards `lumina attribute TRACK` uses the demo library when no
        --library is given.""", """
        lumina demo
        lumina demo --out reports/ --top 5""")
    dm.add_argument("--out", default=".", metavar="DIR",
                    help="where the signed JSON and PDF go (default: current folder)")
    dm.add_argument("--top", type=int, default=8, help="rows printed per channel (default 8)")
    dm.set_defaults(func=cmd_demo)

    fp = add_verb(sub, "fingerprint", "gradient fingerprints of one track (two channels)", """
        Compute the two 512-number gradient fingerprints of one track, composition and
        production, with a MusicGen model: what a library stores per song.""", """
        lumina fingerprint track.wav
        lumina fingerprint track.wav --json track-fingerprint.json --device cpu""")
    fp.add_argument("track", help="audio file (wav, flac, ogg, opus, mp3, m4a, mp4, aac)")
    fp.add_argument("--model", default="lumina-tiny",
                    help="lumina-tiny (default) or a local MusicGen folder "
                         "(transformers or audiocraft format)")
    fp.add_argument("--json", metavar="OUT", help="write both fingerprints and metadata as JSON")
    fp.add_argument("--device", default=None, help="cuda, mps or cpu (default: best available)")
    fp.add_argument("--batch-size", type=int, default=None,
                    help="chunks per forward pass (default: 4 on a CPU, what fits on a GPU)")
    fp.set_defaults(func=cmd_fingerprint, preflight=Preflight(track="track"))

    ix = add_verb(sub, "index", "create or extend a fingerprint library (resumable)", """
        Fingerprint audio files into a library, creating it if needed. Rerunning is safe:
        audio already in the library is skipped and an interrupted run resumes. The paths
        you give are checked before the model loads; files found in folders are checked
        one by one as the run goes, and a bad one is reported and skipped.""", """
        lumina index ~/music/catalog --library ~/label.lumina
        lumina index new-song.wav other-song.flac --library ~/label.lumina -v
        lumina index ~/music/catalog --library ~/label.lumina --ray auto""")
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
    ix.add_argument("--output-function", default=None, metavar="NAME",
                    choices=list(OUTPUT_FUNCTIONS),
                    help="for a new library: the function the fingerprints are the gradient "
                         f"of ({', '.join(OUTPUT_FUNCTIONS)}; default: "
                         f"{DEFAULT_OUTPUT_FUNCTION}, '{PAPER_OUTPUT_FUNCTION}' is the "
                         "paper's); an existing library keeps its own"),
    ix.add_argument("--loudness", default=None, metavar="NAME", choices=list(LOUDNESSES),
                    help="for a new library: the loudness normalisation of the audio before "
                         f"the codec ({', '.join(LOUDNESSES)}; default: {DEFAULT_LOUDNESS}, "
                         "the audio's own level; 'rms' brings every chunk to one loudness so a "
                         "quieter copy is the same track, see docs/method.md); an existing "
                         "library keeps its own"),
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
    ix.set_defaults(func=cmd_index, preflight=Preflight(inputs="paths", library="write"))

    lb = add_verb(sub, "library", "inspect or maintain a fingerprint library", """
        Inspect, check and maintain a fingerprint library made by `lumina index`.""", """
        lumina library info ~/label.lumina
        lumina library list ~/label.lumina
        lumina library verify ~/label.lumina""")
    lsub = lb.add_subparsers(dest="action", metavar="ACTION", required=True)
    for action, text, description, example in (
            ("info", "manifest, counts and digest",
             "Print a library's identity (model, projection, chunking, composition "
             "rendering),\nits song and chunk counts, its size and its digest.",
             "lumina library info ~/label.lumina --json"),
            ("list", "the songs",
             "List a library's songs: id, title, artist, ISRC, length and source file.",
             "lumina library list ~/label.lumina --removed"),
            ("remove", "mark songs removed (by id)",
             "Mark songs removed by id (the ids `lumina library list` prints): attribution\n"
             "no longer sees them. `lumina library compact` reclaims their space.",
             "lumina library remove ~/label.lumina 12 13"),
            ("verify", "check manifest, counts, finiteness and checksums",
             "Check a library's manifest, catalog, counts, finiteness and checksums.\n"
             "Exit 0 when it verifies, 1 when it does not (each problem on a line).",
             "lumina library verify ~/label.lumina"),
            ("compact", "reclaim the space of removed songs",
             "Rewrite a library's matrices without its removed songs, reclaiming their space.",
             "lumina library compact ~/label.lumina"),
            ("relink", "find moved songs' audio again (by SHA-256)",
             "Point the songs at their audio files again after the catalog moved: every\n"
             "audio file under FOLDER (recursively) is matched to a song by the SHA-256 of\n"
             "its bytes, whatever its name, and the song's source path is updated. Songs\n"
             "with no matching file keep their old path and are counted as not found.",
             "lumina library relink ~/label.lumina /mnt/new-disk/catalog -v"),
            ("calibrate", "measure false names and copy detection on this library",
             "Measure, on this library with its own model, (a) how often a song held out\n"
             "together with its relatives (same artist, or same title without version\n"
             "qualifiers) names any remaining song, under each gate, and (b) how often a\n"
             "copy of a song (MP3, noise, 10 s excerpt, +/-1 semitone, +/-5 % tempo) is\n"
             "ranked first and named. Stored in the library; reports cite it until songs\n"
             "are added or removed.",
             "lumina library calibrate ~/label.lumina --sample 32")):
        p = add_verb(lsub, action, text, description, example)
        p.add_argument("library", metavar="LIB", help="library folder")
        if action == "remove":
            p.add_argument("ids", nargs="+", type=int, metavar="ID", help="song ids")
        if action == "relink":
            p.add_argument("folder", metavar="FOLDER",
                           help="folder where the catalog's audio files are now")
            p.add_argument("-v", "--verbose", action="store_true",
                           help="print a line per song whose path changed or whose audio "
                                "was not found")
        if action == "calibrate":
            p.add_argument("--sample", type=int, default=16, metavar="N",
                           help="songs held out, and songs copied (default 16; each at most "
                                "the library's size)")
            p.add_argument("--seed", type=int, default=0, help="seed of the samples and noise")
        if action in ("info", "list", "calibrate"):
            p.add_argument("--json", action="store_true", help="print JSON")
        if action == "list":
            p.add_argument("--removed", action="store_true", help="include removed songs")
        p.set_defaults(func=cmd_library)

    at = add_verb(sub, "attribute", "which library songs influenced a track", """
        Which songs of a library influenced a track, how much (their share of each
        channel's credit) and how sure that is (confidence against unrelated songs), with
        a signed JSON and PDF report on request. --segments also prints where: which
        chunk of the track meets which chunk of each listed song. Without --library it
        uses the library used last, else the demo library (after `lumina demo`).""", """
        lumina attribute track.wav
        lumina attribute track.wav --library ~/label.lumina --pdf track.pdf
        lumina attribute track.wav --library demo --gate fwer --level 0.01
        lumina attribute track.wav --library demo --segments""")
    at.add_argument("track", help="audio file")
    at.add_argument("--library", metavar="LIB", help=_DEFAULT_LIBRARY_HELP)
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
    at.add_argument("--segments", action="store_true",
                    help="also print, per channel and listed song, the strongest pairs of a "
                         "track chunk and a song chunk with their z, e.g. '0:20.0-0:30.0 of "
                         "the track <-> 1:10.0-1:20.0 of the song  z 4.10' (the JSON report "
                         "always has them)")
    at.add_argument("--json", metavar="OUT", help="write the signed report as JSON")
    at.add_argument("--pdf", metavar="OUT", help="write the signed report as PDF")
    at.add_argument("--model", default=None,
                    help="the library's model (default: the one recorded in the library)")
    at.add_argument("--device", default=None, help="cuda, mps or cpu (default: best available)")
    at.add_argument("--batch-size", type=int, default=None,
                    help="chunks per forward pass (default: 4 on a CPU, what fits on a GPU)")
    at.set_defaults(func=cmd_attribute, preflight=Preflight(track="track", library="query"))

    va = add_verb(sub, "validate", "the validation study: reproducibility, causal link, "
                                   "channel separation, gate calibration, robustness, "
                                   "baseline", """
        Measure, on the demo catalog whose ground truth is known, what the method claims:
        reproducibility, causal link, channel separation, gate calibration, robustness and
        a plain MFCC + chroma baseline. One number per line; the protocol and every number
        go to --json / --markdown (see docs/validation.md).""", """
        lumina validate --quick
        lumina validate --json validation.json --markdown validation.md""")
    va.add_argument("--quick", action="store_true",
                    help="a reduced study (4 x 2 songs of 8 s, under a minute) instead of the "
                         "demo catalog (8 x 4 songs of 24 s)")
    va.add_argument("--composition-rendering", metavar="NAME",
                    default=DEFAULT_COMPOSITION_RENDERING,
                    help="what the composition channel hears: a rendering "
                         f"({', '.join(RENDERINGS)}) or '{PLAIN_RENDERING}' for the audio "
                         "itself (default: %(default)s, as a new library)")
    va.add_argument("--output-function", metavar="NAME", default=DEFAULT_OUTPUT_FUNCTION,
                    choices=list(OUTPUT_FUNCTIONS),
                    help="the function the fingerprints are the gradient of "
                         f"({', '.join(OUTPUT_FUNCTIONS)}; default: %(default)s, as a new "
                         "library)")
    va.add_argument("--loudness", metavar="NAME", default=DEFAULT_LOUDNESS,
                    choices=list(LOUDNESSES),
                    help="the loudness normalisation of the audio before the codec "
                         f"({', '.join(LOUDNESSES)}; default: %(default)s, as a new library)")
    va.add_argument("--json", metavar="OUT", help="write every number and the protocol as JSON")
    va.add_argument("--markdown", metavar="OUT",
                    help="write the table and protocol as Markdown (notes after the marker "
                         "line of an existing file are kept)")
    va.add_argument("--channel-notes", metavar="MODEL_FOLDER",
                    help="also write the model folder's channels.json (what each channel was "
                         "measured to capture, shown beside it in every report) from row 3")
    va.set_defaults(func=cmd_validate)

    au = add_verb(sub, "audit", "attribute a folder of tracks: signed reports, verdicts "
                                "and a signed summary (resumable)", """
        Attribute every audio file of folders and files against a library: a signed
        report per track, a verdict under a policy (clear / review / flag), summary.csv
        and a signed summary.json and summary.pdf. Rerunning skips tracks already audited
        the same way. Without --library it uses the library used last, else the demo
        library.""", """
        lumina audit ~/submissions --library ~/label.lumina --out ~/audit-2026-11
        lumina audit a.wav b.mp3 --out audit --policy label.toml --no-pdf""")
    au.add_argument("inputs", nargs="+", metavar="FOLDER|FILE", help="audio files or folders")
    au.add_argument("--library", metavar="LIB", help=_DEFAULT_LIBRARY_HELP)
    au.add_argument("--out", required=True, metavar="DIR",
                    help="where the reports and summary.csv/json/pdf go")
    au.add_argument("--policy", metavar="FILE",
                    help="verdict policy (TOML); default alpha 0.01 with Sidak correction, "
                         "flag at share >= 50%%")
    au.add_argument("--no-pdf", action="store_true", help="JSON reports only (faster)")
    au.add_argument("--model", default=None,
                    help="the library's model (default: the one recorded in the library)")
    au.add_argument("--device", default=None, help="cuda, mps or cpu (default: best available)")
    au.set_defaults(func=cmd_audit, preflight=Preflight(inputs="inputs", library="query"))

    ve = add_verb(sub, "verify", "check a signed report (exit 0 valid, 1 invalid, "
                                 "2 unreadable)", """
        Check a signed report or audit summary offline: its signature, its statement and,
        with --audio, that it is about that file. Exit 0 valid, 1 invalid (says what
        failed), 2 unreadable.""", """
        lumina verify report.pdf --key label.pub
        lumina verify report.json --audio track.wav""")
    ve.add_argument("report", help="REPORT.json or REPORT.pdf")
    ve.add_argument("--key", type=Path, metavar="PUB",
                    help="the signer's public key (PEM); without it only integrity is checked")
    ve.add_argument("--audio", type=Path, metavar="TRACK",
                    help="also check that the report is about this audio file")
    ve.set_defaults(func=cmd_verify)

    ks = add_verb(sub, "keys", "your report-signing key", """
        Your report-signing key (Ed25519, made on first use in the user data folder,
        $LUMINA_HOME if set): show its fingerprint, or export the public key to hand to
        whoever verifies your reports.""", """
        lumina keys show
        lumina keys export-public --out label.pub""")
    ks.add_argument("action", choices=["show", "export-public"])
    ks.add_argument("--out", metavar="FILE", help="where export-public writes the PEM")
    ks.set_defaults(func=cmd_keys)
    return parser
