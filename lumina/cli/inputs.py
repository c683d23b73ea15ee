"""A verb's inputs checked before anything heavy loads, and the library it works on.

Loading a model imports torch and reads weights: seconds a user should not wait to learn
that a path has a typo. Each verb declares in the parser what it takes (a
:class:`Preflight`); :func:`lumina.cli.main` runs :meth:`Preflight.check` before the verb and
:meth:`Preflight.finish` after it returns. Nothing here imports torch: the audio checks read
file headers only (libsndfile or FFmpeg), and the library default comes from
:mod:`lumina.settings`.

The rule for inputs: what the user typed is checked up front (every path exists, a folder
can be read, a named file is audio, and there is at least one audio file in all); what a
folder holds is checked file by file as the run goes, so one bad file among thousands is a
failed row of an index or an audit, not a reason to refuse the whole run.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lumina.errors import AudioError, LuminaError

__all__ = ["DEMO_NAME", "Preflight", "check_inputs", "check_track", "resolve_library"]

#: ``--library demo`` names the library ``lumina demo`` built (unless a folder of that name
#: exists here, which wins: a path the user typed always means that path).
DEMO_NAME = "demo"

_NO_LIBRARY = ("no library given and none used before: run `lumina demo` once to build the "
               "demo library, or pass --library LIB (make one with `lumina index FOLDER "
               "--library LIB`)")


def check_track(path: str) -> Path:
    """The audio file ``path`` as a Path, after checking it exists, is readable and has an
    audio header.

    Raises
    ------
    AudioError
        One line naming the file and what is wrong with it.
    """
    p = Path(path).expanduser()
    # Tested before importing the decoders (lumina.audio loads FFmpeg and libsndfile): a
    # typo fails at once.
    if not p.exists():
        raise AudioError(f"{path}: file not found")
    from lumina.audio import probe

    probe(p)
    return p


def check_inputs(paths: Sequence[str]) -> None:
    """Check the files and folders of a batch verb (``index``, ``audit``).

    Raises
    ------
    LuminaError
        A path that does not exist (all such paths in one line), a folder that cannot be
        read, a named file that is not audio, or no audio file in all the inputs.
    """
    missing = [p for p in paths if not Path(p).expanduser().exists()]
    if missing:
        raise LuminaError(f"{', '.join(missing)}: no such file or folder")
    for item in paths:
        p = Path(item).expanduser()
        if not p.is_dir():
            check_track(item)
        elif not os.access(p, os.R_OK | os.X_OK):
            raise LuminaError(f"{item}: folder cannot be read (permission denied)")
    from lumina.audio import SUPPORTED_EXTENSIONS
    from lumina.indexing import collect_audio_files

    files, _ = collect_audio_files(paths)
    if not files:
        kinds = ", ".join(sorted(SUPPORTED_EXTENSIONS))
        raise LuminaError(f"no audio files in {', '.join(paths)} (looked for {kinds})")


def resolve_library(given: str | None, *, use_default: bool) -> tuple[Path, str | None]:
    """The library folder a verb works on, and a line saying which one when the user did
    not type its path (None when they did).

    ``use_default``: the verb queries a library, so an omitted ``--library`` means the
    library used last (else the demo library) and ``demo`` means the demo library. A verb
    that writes (``index``) takes the path as given.
    """
    from lumina.settings import demo_library, remembered_library

    if given is None:
        if not use_default:
            raise LuminaError("--library LIB is required")
        found = remembered_library()
        if found is None:
            raise LuminaError(_NO_LIBRARY)
        path, why = found
        return path, f"library: {path} ({why}; --library LIB to choose another)"
    path = Path(given).expanduser()
    if use_default and given == DEMO_NAME and not path.exists():
        demo = demo_library()
        if demo is None:
            raise LuminaError("no demo library yet: run `lumina demo` once to build it")
        return demo, f"library: {demo} (the demo library)"
    return path, None


@dataclass(frozen=True)
class Preflight:
    """What a verb's arguments must pass before the verb runs.

    Attributes
    ----------
    track : name of the argument holding one audio file (:func:`check_track`).
    inputs : name of the argument holding files and folders (:func:`check_inputs`).
    library : the verb works on ``args.library``: ``"query"`` (may be omitted, see
        :func:`resolve_library`) or ``"write"`` (as given); either way it is remembered
        as the library used last once the verb returns.
    """

    track: str | None = None
    inputs: str | None = None
    library: str | None = None

    def check(self, args: argparse.Namespace) -> None:
        """Check the inputs and settle ``args.library`` to a path (a note on stderr when
        the user did not type it)."""
        if self.track is not None:
            check_track(getattr(args, self.track))
        if self.inputs is not None:
            check_inputs(getattr(args, self.inputs))
        if self.library is not None:
            path, note = resolve_library(args.library, use_default=self.library == "query")
            args.library = str(path)
            if note is not None:
                print(note, file=sys.stderr)

    def finish(self, args: argparse.Namespace) -> None:
        """After the verb returned: remember its library for the next command."""
        if self.library is not None:
            from lumina.settings import remember_library

            remember_library(args.library)
