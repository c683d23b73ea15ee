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
from lumina.errors import LuminaError

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
    from lumina.fingerprint import Fingerprinter
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lumina",
        description="Which catalog songs influenced a piece of AI-generated music, how much, "
                    "and how sure we are.",
    )
    parser.add_argument("--version", action="version", version=f"lumina {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    fp = sub.add_parser("fingerprint", help="gradient fingerprints of one track (two channels)")
    fp.add_argument("track", help="audio file (wav, flac, ogg, opus, mp3, m4a, mp4, aac)")
    fp.add_argument("--model", default="lumina-tiny",
                    help="lumina-tiny (default) or a local MusicGen folder "
                         "(transformers or audiocraft format)")
    fp.add_argument("--json", metavar="OUT", help="write both fingerprints and metadata as JSON")
    fp.add_argument("--device", default=None, help="cuda, mps or cpu (default: best available)")
    fp.add_argument("--batch-size", type=int, default=4, help="chunks per forward pass")
    fp.set_defaults(func=_cmd_fingerprint)
    return parser


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


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
        print(f"lumina: error: {_one_line(exc)}", file=sys.stderr)
        return getattr(exc, "exit_code", EXIT_ERROR)
    except KeyboardInterrupt:
        print("lumina: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # a bug, not bad input: still one line, details on request
        if os.environ.get("LUMINA_DEBUG"):
            raise
        print(f"lumina: internal error: {type(exc).__name__}: {_one_line(exc)} "
              "(set LUMINA_DEBUG=1 for details)", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
