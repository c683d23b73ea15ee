"""What the ``lumina`` command prints beyond one verb: progress (a bar on a terminal, a line a
minute in a log), messages that must not garble it, clipped table cells and the per-channel
tables of an attribution."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import IO, TYPE_CHECKING

from lumina.progress import ProgressClock, ProgressState, format_clock

if TYPE_CHECKING:
    from lumina.analysis import AnalysisResult

#: Seconds between progress lines when the stream is not a terminal (a log, CI, a pipe):
#: often enough that a long run is visibly alive, rare enough that a log stays readable.
LOG_INTERVAL = 60.0
#: Seconds between redraws of a status on a terminal.
TTY_INTERVAL = 0.1
_BAR_WIDTH = 28


def is_terminal(stream: IO[str]) -> bool:
    """Whether ``stream`` is an interactive terminal (False for files, pipes, capture)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class StatusLine:
    """The status of one piece of long work on stderr: the command line's one progress
    mechanism, shared by the bars of local work and the status of a Ray run.

    On a terminal the status is redrawn in place (at most every ``TTY_INTERVAL``). Anywhere
    else it is a plain line: the first status, then one about every ``LOG_INTERVAL``, and
    the finished one — so a log shows a long run is alive without a bar's ``\r`` clutter.

    Parameters
    ----------
    stream : where it writes (default stderr).
    interactive : draw in place; default: whether ``stream`` is a terminal.
    clock : monotonic seconds (tests pass a fake one).
    interval : seconds between statuses (default by ``interactive``, see above).
    """

    def __init__(self, stream: IO[str] | None = None, *, interactive: bool | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 interval: float | None = None) -> None:
        self.stream = stream or sys.stderr
        self.interactive = is_terminal(self.stream) if interactive is None else interactive
        self.interval = interval if interval is not None else (
            TTY_INTERVAL if self.interactive else LOG_INTERVAL)
        self.clock = clock
        self._last: float | None = None  # when a status was last shown
        self._drawn = False  # a status without its newline is on the terminal
        self._finished = False  # the finished status has been shown

    def show(self, text: str, *, finished: bool = False) -> None:
        """Show ``text`` if one is due: the first, the finished one, or ``interval`` after
        the last (a repeated finished status is shown once)."""
        now = self.clock()
        if finished and self._finished:
            return
        if not finished and self._last is not None and now - self._last < self.interval:
            return
        self._last = now
        self._finished = finished
        if self.interactive:
            self.stream.write(f"\r\033[K{text}" + ("\n" if finished else ""))
            self._drawn = not finished
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def line(self, text: str) -> None:
        """Print a message on its own line without garbling a status drawn in place."""
        if self._drawn:
            self.stream.write("\r\033[K")
            self._drawn = False
        self.stream.write(text + "\n")
        self.stream.flush()

    def end(self) -> None:
        """End a status left drawn in place (work that stopped before finishing)."""
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False


class ProgressBar(StatusLine):
    """``label``'s progress with elapsed time and time left, usable as the engine's
    ``progress(done, total)`` callback: a bar on a terminal, a plain line elsewhere.

    Time left is :class:`~lumina.progress.ProgressClock`'s, the rate measured since the
    bar was made (as the app's), never a fixed promise.
    """

    def __init__(self, label: str, stream: IO[str] | None = None, *,
                 interactive: bool | None = None, clock: Callable[[], float] = time.monotonic,
                 interval: float | None = None) -> None:
        super().__init__(stream, interactive=interactive, clock=clock, interval=interval)
        self.label = label
        self.progress = ProgressClock(clock)

    def __call__(self, done: int, total: int) -> None:
        if total <= 0:
            return
        self.show(self.text(self.progress.reading(done, total)), finished=done >= total)

    def text(self, state: ProgressState) -> str:
        """``"index [#####---…] 3/12 · 4 s elapsed · about 12 s left"`` on a terminal,
        ``"index: 3/12 · …"`` elsewhere."""
        if not self.interactive:
            return f"{self.label}: {state.describe()}"
        filled = int(state.fraction * _BAR_WIDTH)
        return f"{self.label} [{'#' * filled}{'-' * (_BAR_WIDTH - filled)}] {state.describe()}"


def print_line(bar: StatusLine | None, text: str, stream: IO[str] | None = None) -> None:
    """Print a message on its own line without garbling a progress bar drawn in place."""
    stream = stream or sys.stderr
    if bar is not None and bar.stream is stream:
        bar.line(text)
        return
    print(text, file=stream)
    stream.flush()


def clip(text: str, width: int) -> str:
    """``text`` on one line, cut to ``width`` characters with ``~`` marking the cut."""
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "~"


def print_result(result: AnalysisResult, stream: IO[str] | None = None,
                 top: int | None = None) -> None:
    """The readable per-channel tables of ``lumina attribute`` (``top`` rows at most, but
    never fewer than the qualifying songs)."""
    from lumina.reports.findings import answer_lines, percent

    out = stream or sys.stdout
    fp = result.fingerprint
    lib = result.library
    # The answer first, in the words the PDF and the app use; the evidence follows.
    for line in answer_lines(result):
        print(line, file=out)
    print(file=out)
    print(f"{fp.source}: {fp.n_chunks} chunk(s), {fp.duration:.1f} s | model {fp.model_name} "
          f"({fp.model_sha256[:12]}) | library {lib.name}: {lib.songs} song(s), digest "
          f"{lib.digest[:12]} | null {result.null}", file=out)
    if result.model_scope:
        print(f"model: {result.model_scope}", file=out)
    if lib.calibration:
        print(f"calibration: {lib.calibration['summary']}", file=out)
    for name, ch in result.channels.items():
        print(file=out)
        print(f"{name}: {ch.n_qualifying} of {ch.n_library} song(s) qualify — "
              f"{ch.gate_description}: z >= {ch.z_gate:.3f} here; * = qualifies", file=out)
        if name in result.channel_notes:
            print(f"  note: {result.channel_notes[name]}", file=out)
        print(f"  {'#':>3}    {'id':>5}  {'title':<28} {'artist':<20} {'cosine':>7} {'z':>7} "
              f"{'conf':>8} {'share':>7}", file=out)
        rows = ch.influences if top is None else ch.influences[:max(top, ch.n_qualifying)]
        for inf in rows:
            mark = "*" if inf.qualifies else " "
            share = f"{100 * inf.share:6.1f}%" if inf.qualifies else f"{'-':>7}"
            print(f"  {inf.rank:>3} {mark}  {inf.song_id:>5}  {clip(inf.title, 28):<28} "
                  f"{clip(inf.artist, 20):<20} {inf.cosine:>7.3f} {inf.z:>7.2f} "
                  f"{percent(inf.confidence):>8} {share}", file=out)
    for name, rows in result.timeline.items():
        print(file=out)
        print(f"timeline ({name}): best match per chunk", file=out)
        for row in rows:
            mark = "*" if row.qualifies else " "
            print(f"  {format_clock(row.start):>7}-{format_clock(row.end):<7} {mark} "
                  f"{row.song_id:>5}  {clip(row.title, 28):<28} {clip(row.artist, 20):<20} "
                  f"z {row.z:6.2f}  conf {percent(row.confidence)}", file=out)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)


def print_segments(result: AnalysisResult, stream: IO[str] | None = None,
                   top: int | None = None) -> None:
    """Where the track meets each listed song (``lumina attribute --segments``): per channel
    and song, in the order of the tables, its strongest (track chunk, song chunk) pairs."""
    out = stream or sys.stdout
    for name, ch in result.channels.items():
        print(file=out)
        if not ch.segments:
            print(f"segments ({name}): none computed", file=out)
            continue
        print(f"segments ({name}): per listed song, its best pairs of a track chunk and a "
              "song chunk, by the pair's z", file=out)
        rows = ch.influences if top is None else ch.influences[:max(top, ch.n_qualifying)]
        for inf in rows:
            pairs = ch.segments.get(inf.song_id, ())
            mark = "*" if inf.qualifies else " "
            print(f"  {inf.rank:>3} {mark}  {inf.song_id:>5}  {clip(inf.title, 40)}", file=out)
            if not pairs:
                print("         (no stored chunks)", file=out)
            for p in pairs:
                print(f"         {format_clock(p.query_start)}-{format_clock(p.query_end)} of "
                      f"the track <-> {format_clock(p.song_start)}-{format_clock(p.song_end)} "
                      f"of the song  cosine {p.cosine:6.3f}  z {p.z:6.2f}", file=out)
