"""What the ``lumina`` command prints beyond one verb: the progress bar, messages that must
not garble it, clipped table cells and the per-channel tables of an attribution."""

from __future__ import annotations

import sys
from typing import IO, TYPE_CHECKING

from lumina.progress import format_clock

if TYPE_CHECKING:
    from lumina.analysis import AnalysisResult


class ProgressBar:
    """A one-line text progress bar with ETA on stderr (silent when not a terminal unless
    ``force``), usable as the engine's ``progress(done, total)`` callback."""

    def __init__(self, label: str, stream: IO[str] | None = None, force: bool = False) -> None:
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


def print_line(bar: ProgressBar | None, text: str, stream: IO[str] | None = None) -> None:
    """Print a message on its own line without garbling a progress bar drawn with ``\\r``."""
    stream = stream or sys.stderr
    if bar is not None and bar.enabled and bar.stream is stream:
        stream.write("\r\033[K")
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
    out = stream or sys.stdout
    fp = result.fingerprint
    lib = result.library
    print(f"{fp.source}: {fp.n_chunks} chunk(s), {fp.duration:.1f} s | model {fp.model_name} "
          f"({fp.model_sha256[:12]}) | library {lib.name}: {lib.songs} song(s), digest "
          f"{lib.digest[:12]} | null {result.null}", file=out)
    for name, ch in result.channels.items():
        print(file=out)
        print(f"{name}: {ch.n_qualifying} of {ch.n_library} song(s) qualify — "
              f"{ch.gate_description}: z >= {ch.z_gate:.3f} here; * = qualifies", file=out)
        if name in result.channel_notes:
            print(f"  note: {result.channel_notes[name]}", file=out)
        print(f"  {'#':>3}    {'id':>5}  {'title':<28} {'artist':<20} {'cosine':>7} {'z':>7} "
              f"{'conf':>6} {'share':>7}", file=out)
        rows = ch.influences if top is None else ch.influences[:max(top, ch.n_qualifying)]
        for inf in rows:
            mark = "*" if inf.qualifies else " "
            share = f"{100 * inf.share:6.1f}%" if inf.qualifies else f"{'-':>7}"
            print(f"  {inf.rank:>3} {mark}  {inf.song_id:>5}  {clip(inf.title, 28):<28} "
                  f"{clip(inf.artist, 20):<20} {inf.cosine:>7.3f} {inf.z:>7.2f} "
                  f"{inf.confidence:>6.3f} {share}", file=out)
    for name, rows in result.timeline.items():
        print(file=out)
        print(f"timeline ({name}): best match per chunk", file=out)
        for row in rows:
            mark = "*" if row.qualifies else " "
            print(f"  {format_clock(row.start):>7}-{format_clock(row.end):<7} {mark} "
                  f"{row.song_id:>5}  {clip(row.title, 28):<28} {clip(row.artist, 20):<20} "
                  f"z {row.z:6.2f}  conf {row.confidence:.3f}", file=out)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
