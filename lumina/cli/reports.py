"""The verbs that write or check signed files: ``audit`` (a folder of tracks and its signed
summary), ``verify`` (a report or summary) and ``keys`` (the signing key)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lumina.cli.exit_codes import EXIT_ERROR
from lumina.cli.output import ProgressBar, clip, print_line


def cmd_audit(args: argparse.Namespace) -> int:
    from lumina.audit import load_policy, run_audit

    policy = load_policy(args.policy)
    bar = ProgressBar("audit")

    def on_row(row) -> None:
        if row.status == "error":
            print_line(bar, f"error: {row.file}: {row.error}")
        for warning in row.warnings:
            print_line(bar, f"warning: {row.file}: {warning}")

    summary = run_audit(args.inputs, Path(args.library).expanduser(), Path(args.out),
                        policy=policy, model=args.model, device=args.device,
                        write_pdf=not args.no_pdf, progress=bar, on_row=on_row)
    print(f"  {'track':<34} {'verdict':<8} {'composition':<30} {'production':<30}")
    for row in summary.rows:
        cells = []
        for name in ("composition", "production"):
            ch = row.channels.get(name)
            cells.append(f"{clip(ch.title, 18)} {ch.share:4.0%} {ch.confidence:.3f}"
                         if ch else "—")
        verdict = row.verdict if row.status != "error" else "ERROR"
        again = " (already audited)" if row.status == "skipped" else ""
        print(f"  {clip(row.file, 34):<34} {verdict:<8} {cells[0]:<30} {cells[1]:<30}{again}")
    c = summary.counts()
    print(f"{len(summary.rows)} track(s): {c['flag']} flag, {c['review']} review, "
          f"{c['clear']} clear, {c['error']} error(s), {c['warning']} with warnings, "
          f"{c['skipped']} already audited; {summary.seconds:.1f} s "
          f"(policy {policy.name}: alpha {policy.alpha:g}, {policy.correction}, "
          f"flag at share >= {policy.flag_share:.0%})")
    for path in summary.summary_files:
        print(f"wrote {path}" + (" (signed)" if path.suffix != ".csv" else ""))
    return EXIT_ERROR if c["error"] else 0


def cmd_verify(args: argparse.Namespace) -> int:
    from lumina.reports.verify import verify_report

    check = verify_report(Path(args.report), trusted_key=args.key, audio=args.audio)
    predicate = check.verified.predicate
    who = "the trusted key" if args.key else "an untrusted key (pass --key to pin the signer)"
    print(f"valid: {Path(args.report).name} — signed by {check.signer} ({who})")
    print(f"  guarantees: {check.guarantees}")
    if "rows" in predicate:  # an audit summary
        c = predicate["counts"]
        print(f"  audit summary of {len(predicate['rows'])} track(s): {c['flag']} flag, "
              f"{c['review']} review, {c['clear']} clear, {c['error']} error(s); library "
              f"{predicate['library']['name']}, model {predicate['model']['name']}, "
              f"created {predicate['created']} by the signer's clock")
        _print_summary_rows(predicate)
        return 0
    print(f"  audio {predicate['track']['source']} sha256 {check.audio_sha256[:16]}…"
          + (" (matches the given file)" if check.audio_matches else ""))
    print(f"  model {predicate['model']['name']} {predicate['model']['weights_sha256'][:16]}…, "
          f"library {predicate['library']['name']} ({predicate['library']['songs']} songs), "
          f"created {predicate['created']['time']} by the signer's clock")
    _print_findings(predicate)
    return 0


def _print_findings(predicate: dict) -> None:
    """The signed findings, so a reader can compare them with what the pages show."""
    from lumina.reports.findings import percent, signed_findings

    print("signed findings (compare them with the report's pages):")
    if predicate.get("audit"):
        print(f"  verdict: {predicate['audit']['verdict']} — {predicate['audit']['reason']}")
    for ch in signed_findings(predicate):
        if not ch.n_named:
            print(f"  {ch.channel}: no song named ({ch.gate})")
            continue
        listed = "" if len(ch.named) == ch.n_named else f", {len(ch.named)} listed"
        print(f"  {ch.channel}: {ch.n_named} song(s) named{listed} ({ch.gate})")
        for song in ch.named:
            print(f"    {percent(song.share):>8} share  {song.title} — {song.artist} "
                  f"(confidence {percent(song.confidence)})")


def _print_summary_rows(predicate: dict) -> None:
    from lumina.reports.findings import percent

    print("signed rows (compare them with the summary's pages):")
    for row in predicate["rows"]:
        cells = [f"{name} {ch['title']} {percent(ch['share'])}"
                 for name, ch in (row.get("channels") or {}).items() if ch]
        print(f"  {row['file']}: {(row.get('verdict') or row.get('status') or '').upper()}"
              + (f" — {'; '.join(cells)}" if cells else ""))


def cmd_keys(args: argparse.Namespace) -> int:
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
