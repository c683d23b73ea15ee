"""The ``lumina`` command.

Each verb is a small function that parses nothing itself: argparse does that, the engine
does the work. Errors the user can cause arrive as :class:`~lumina.errors.LuminaError` and are
printed as one line; nothing reaches the terminal as a traceback unless ``LUMINA_DEBUG=1``.

Verbs live by subject in :mod:`~lumina.cli.index`, :mod:`~lumina.cli.attribute` and
:mod:`~lumina.cli.reports`; :mod:`~lumina.cli.parser` wires them to argparse,
:mod:`~lumina.cli.inputs` checks their inputs before anything heavy loads and
:mod:`~lumina.cli.output` holds what they print with. This module only runs a verb (after its
input checks) and turns what escapes it into one line and an exit status.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence

from lumina.cli.exit_codes import (
    EXIT_BROKEN_PIPE,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
)
from lumina.cli.inputs import Preflight
from lumina.cli.parser import build_parser
from lumina.errors import LuminaError, one_line

__all__ = ["EXIT_ERROR", "EXIT_INTERRUPTED", "EXIT_TERMINATED", "build_parser", "main"]


class Terminated(KeyboardInterrupt):
    """SIGTERM, delivered like Ctrl-C: it unwinds through every ``with`` block, so a library
    writer commits the songs it finished and an interrupted index resumes on the next run."""


def _raise_terminated(_signum: int, _frame: object) -> None:
    raise Terminated


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """Turn SIGTERM into :class:`Terminated` while a verb runs (main thread only: Python
    installs signal handlers nowhere else), then restore the previous handler."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return EXIT_ERROR
    # Inputs are checked before the verb so a typo fails before a model loads (cli/inputs.py).
    preflight: Preflight | None = getattr(args, "preflight", None)
    try:
        with _sigterm_as_interrupt():
            if preflight is not None:
                preflight.check(args)
            code = func(args)
            if preflight is not None:
                preflight.finish(args)
            # A reader that stopped early (`| head`) shows here, not as a warning at exit.
            sys.stdout.flush()
            return code
    except BrokenPipeError:
        # Quiet, as any Unix tool: later writes and the exit-time flush go nowhere.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except Terminated:
        print("lumina: terminated (finished work is kept; run the same command again to "
              "resume)", file=sys.stderr)
        return EXIT_TERMINATED
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
