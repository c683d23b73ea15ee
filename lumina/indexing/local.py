"""Indexing on this machine: audio files in, one committed library song per file out.

:func:`index_files` hashes, reads tags and decodes the next file on a prefetch thread while
the model fingerprints the current one. :class:`IndexRun` is the bookkeeping (skips, counts,
events, commits) shared with the cluster driver (:mod:`lumina.indexing.ray_driver`), and
:func:`fingerprint_for_index` is what a cluster worker runs per file, so a song is handled
the same way wherever it was fingerprinted.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from lumina.errors import LuminaError, one_line
from lumina.library import LibraryError, LibraryWriter, SongMeta, read_song_meta
from lumina.readahead import ReadAhead

if TYPE_CHECKING:
    from lumina.fingerprint.fingerprinter import Fingerprint, Fingerprinter
    from lumina.fingerprint.identity import FingerprinterLike

__all__ = [
    "IndexEvent",
    "IndexRun",
    "IndexSummary",
    "PreparedFile",
    "SkipCheck",
    "collect_audio_files",
    "fingerprint_for_index",
    "fingerprint_prepared",
    "index_files",
    "prepare_file",
    "song_meta_of",
]

#: Songs at most this long are decoded by the prefetch thread ahead of the model; longer ones
#: are streamed on the main thread so memory stays bounded (15 min of 32 kHz float32 ≈ 115 MB).
_PREFETCH_MAX_SECONDS = 900.0


@dataclass(frozen=True)
class IndexEvent:
    """One file's outcome: ``kind`` is ``indexed``, ``skipped``, ``failed`` or ``warning``."""

    kind: str
    path: Path
    message: str
    song_id: int | None = None


@dataclass
class IndexSummary:
    """Counts of one :func:`index_files` run; ``events`` keeps failures, warnings and
    duplicates within the run (every event goes to the ``report`` callback)."""

    indexed: int = 0
    skipped: int = 0
    failed: int = 0
    already_indexed: int = 0
    duplicates: int = 0
    seconds: float = 0.0
    cancelled: bool = False
    events: list[IndexEvent] = field(default_factory=list)


def collect_audio_files(inputs: Iterable[str | os.PathLike[str]]) -> tuple[list[Path], list[str]]:
    """Expand folders (recursively, audio extensions only) and files into a sorted file list.

    Files given explicitly are kept whatever their extension (the decoder decides); hidden
    files and macOS ``._`` resource forks found in folders are ignored.

    Returns
    -------
    files : list of Path
        In a stable order (each input in turn; folders sorted), without repeats.
    errors : list of str
        One line per input that does not exist.
    """
    from lumina.audio import SUPPORTED_EXTENSIONS

    files: list[Path] = []
    seen: set[Path] = set()
    errors: list[str] = []

    def add(p: Path) -> None:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            files.append(p)

    for item in inputs:
        p = Path(item).expanduser()
        if p.is_dir():
            found = sorted(
                (q for q in p.rglob("*")
                 if q.suffix.lower() in SUPPORTED_EXTENSIONS and not q.name.startswith(".")
                 and q.is_file()),
                key=lambda q: str(q.relative_to(p)).lower())
            for q in found:
                add(q)
        elif p.is_file():
            add(p)
        else:
            errors.append(f"{p}: no such file or folder")
    return files, errors


@dataclass
class PreparedFile:
    """One file on its way into the library: what is known before it is fingerprinted.

    ``error`` (one line) or ``skip`` (why it is not fingerprinted) end its way early;
    ``chunks`` holds the decoded audio of a song short enough to decode ahead.
    """

    path: Path
    sha256: str = ""
    meta: SongMeta | None = None
    chunks: list | None = None
    expected: int = 0
    warnings: list[str] = field(default_factory=list)
    error: str = ""
    skip: str = ""
    existing_id: int | None = None


class SkipCheck:
    """Which files are not fingerprinted, decided from the audio SHA-256 alone: audio that is
    already a live song of the library, and audio seen earlier in the same run (the first
    file of a run with that audio is the one indexed). Call it on files in run order."""

    def __init__(self, known: Mapping[str, int]) -> None:
        self._known = known
        self._seen: dict[str, Path] = {}

    def __call__(self, item: PreparedFile) -> bool:
        """Fill ``item.skip`` (and ``item.existing_id``) and return True when ``item`` is
        not to be fingerprinted; otherwise remember its audio and return False."""
        sha = item.sha256
        if sha in self._known:
            item.existing_id = self._known[sha]
            item.skip = f"{item.path.name}: already in the library (song {item.existing_id})"
            return True
        if sha in self._seen:
            item.skip = f"{item.path.name}: same audio as {self._seen[sha].name}"
            return True
        self._seen[sha] = item.path
        return False


def prepare_file(path: Path, rate: int, chunk_seconds: float,
                  skip: SkipCheck | None = None) -> PreparedFile:
    """Hash a file, check whether it is to be skipped, read its tags and length, and decode
    it when it is short enough to hold in memory. Errors end up in ``item.error``."""
    from lumina.audio import chunk_bounds, file_sha256, iter_chunks, probe

    item = PreparedFile(path=path)
    try:
        item.sha256 = file_sha256(path)
        if skip is not None and skip(item):
            return item
        info = probe(path)
        title, artist, isrc = read_song_meta(path)
        item.meta = SongMeta(title=title, artist=artist, isrc=isrc,
                             source_path=str(path.resolve()), audio_sha256=item.sha256,
                             duration=float(info.duration))
        item.expected = len(chunk_bounds(int(round(info.duration * rate)), rate, chunk_seconds))
        if info.duration <= _PREFETCH_MAX_SECONDS:
            item.chunks = list(iter_chunks(path, rate, chunk_seconds,
                                           warnings_out=item.warnings))
    except LuminaError as exc:
        item.error = one_line(exc)
    except (OSError, ValueError, RuntimeError, MemoryError) as exc:
        item.error = f"{path.name}: {one_line(exc)}"
    return item


class IndexRun:
    """The bookkeeping of one indexing run: which files to skip, counts, events, and the
    commit of one fingerprinted song through the writer.

    :func:`index_files` and the cluster driver (:mod:`lumina.indexing.cluster`) both use it, so a
    song is skipped, committed and reported the same way wherever it was fingerprinted.
    Feed it the files in run order.

    Attributes
    ----------
    summary : IndexSummary
    skip_check : callable(PreparedFile) -> bool
        Fills ``skip`` for audio already in the library (as of the run's start) or seen
        earlier in the run.
    """

    def __init__(self, writer: LibraryWriter,
                 report: Callable[[IndexEvent], None] | None = None) -> None:
        self.writer = writer
        self.summary = IndexSummary()
        self._report = report
        self.skip_check = SkipCheck(writer.live_audio_hashes())

    def emit(self, event: IndexEvent) -> None:
        # Successes are only counted: a run over a million files keeps no list of them.
        if event.kind in ("failed", "warning") or (event.kind == "skipped"
                                                    and event.song_id is None):
            self.summary.events.append(event)
        if self._report is not None:
            self._report(event)

    def failed(self, path: Path, message: str) -> None:
        self.summary.failed += 1
        if not message.startswith(path.name):
            message = f"{path.name}: {message}"
        self.emit(IndexEvent("failed", path, message))

    def skipped(self, item: PreparedFile) -> None:
        self.summary.skipped += 1
        if item.existing_id is not None:
            self.summary.already_indexed += 1
        else:
            self.summary.duplicates += 1
        self.emit(IndexEvent("skipped", item.path, item.skip, item.existing_id))

    def add(self, item: PreparedFile, fp: object) -> int:
        """Append one fingerprinted song (see :func:`fingerprint_prepared`); its id."""
        return self.writer.add_fingerprint(fp, song_meta_of(item, fp))

    def add_many(self, songs: Sequence[tuple[PreparedFile, object]]) -> list[int]:
        """Append fingerprinted songs in one transaction, in order; their ids. The library
        ends up as with :meth:`add` on each in turn."""
        ids = self.writer.add_fingerprints([fp for _, fp in songs],
                                           [song_meta_of(item, fp) for item, fp in songs])
        return [int(i) for i in ids]

    def indexed(self, item: PreparedFile, song_id: int) -> None:
        self.summary.indexed += 1
        for w in item.warnings:
            self.emit(IndexEvent("warning", item.path, w, song_id))
        title = item.meta.title if item.meta else item.path.name
        self.emit(IndexEvent("indexed", item.path,
                             f"{item.path.name}: song {song_id} ({title})", song_id))

    def commit(self, item: PreparedFile, fp: object) -> int:
        """:meth:`add` and :meth:`indexed`: the new song id."""
        song_id = self.add(item, fp)
        self.indexed(item, song_id)
        return song_id


def index_files(writer: LibraryWriter, paths: Sequence[str | os.PathLike[str]],
                fingerprinter: FingerprinterLike, *,
                progress: Callable[[int, int], None] | None = None,
                report: Callable[[IndexEvent], None] | None = None,
                cancel: threading.Event | Callable[[], bool] | None = None) -> IndexSummary:
    """Fingerprint audio files into a library, one committed song at a time.

    Files whose audio (SHA-256 of the bytes) is already a live song are skipped without
    decoding, so a run interrupted at any point — ``kill -9`` included — is resumed by
    running it again: only the song in flight is redone. A file that cannot be decoded or
    fingerprinted is reported in one line and the run goes on.

    Parameters
    ----------
    writer : LibraryWriter
    paths : sequence of audio files (see :func:`collect_audio_files` for folders).
    fingerprinter : lumina.fingerprint.Fingerprinter
        Must match the library's manifest.
    progress : callable(done, total), optional
        Called after each file.
    report : callable(IndexEvent), optional
        Called for every file's outcome and for audio warnings.
    cancel : threading.Event or callable, optional
        Stop before the next file (and between batches of the current one).

    Returns
    -------
    IndexSummary
    """
    from lumina.fingerprint.fingerprinter import Cancelled, is_cancelled
    from lumina.fingerprint.identity import identity_of_fingerprinter

    lib = writer.library
    writer.manifest.check_compatible(identity_of_fingerprinter(fingerprinter), "this model",
                                     f"library {lib.name}")
    files = [Path(p) for p in paths]
    run = IndexRun(writer, report)
    summary = run.summary
    t0 = time.monotonic()
    model = fingerprinter.model
    rate = int(model.sample_rate)
    chunk_seconds = float(fingerprinter.chunk_seconds)

    # Hash, read tags and decode the next file while the model fingerprints this one.
    prefetch = ReadAhead(
        files, lambda path: prepare_file(path, rate, chunk_seconds, run.skip_check),
        lambda path, exc: PreparedFile(path=path, error=f"{path.name}: {type(exc).__name__}: "
                                                     f"{one_line(exc)}"),
        name="lumina-prefetch")
    try:
        for done, item in enumerate(prefetch, start=1):
            if is_cancelled(cancel):
                summary.cancelled = True
                break
            if item.error:
                run.failed(item.path, item.error)
            elif item.skip:
                run.skipped(item)
            else:
                try:
                    fp = fingerprint_prepared(fingerprinter, item, rate, chunk_seconds, cancel)
                    song_id = run.add(item, fp)
                except Cancelled:
                    summary.cancelled = True
                    break
                except LibraryError:
                    raise  # the library itself is in trouble: stop, do not skip past it
                except LuminaError as exc:
                    run.failed(item.path, one_line(exc))
                except (RuntimeError, ValueError, MemoryError) as exc:
                    # torch raises RuntimeError on pathological input; one song must not end
                    # a run over thousands.
                    run.failed(item.path, f"fingerprinting failed: {one_line(exc)}")
                else:
                    run.indexed(item, song_id)
                item.chunks = None  # free the decoded audio now, not when the loop moves on
            if progress is not None:
                progress(done, len(files))
    finally:
        prefetch.stop()
    summary.seconds = time.monotonic() - t0
    return summary


def fingerprint_prepared(fingerprinter: Fingerprinter, item: PreparedFile, rate: int,
                          chunk_seconds: float,
                          cancel: threading.Event | Callable[[], bool] | None) -> object:
    """Fingerprint one prepared file (its decoded chunks, or streamed from the file)."""
    from lumina.audio import iter_chunks

    assert item.meta is not None
    stream = (item.chunks if item.chunks is not None else
              iter_chunks(item.path, rate, chunk_seconds, warnings_out=item.warnings))
    fp = fingerprinter.fingerprint_chunks(
        stream, total=item.expected, cancel=cancel)
    fp.audio_sha256 = item.sha256
    fp.source = item.path.name
    fp.duration = item.meta.duration or float(fp.chunk_times[-1, 1])
    fp.warnings = list(item.warnings)
    return fp


def song_meta_of(item: PreparedFile, fp: Fingerprint) -> SongMeta:
    """The catalog row of a fingerprinted file."""
    assert item.meta is not None
    return SongMeta(title=item.meta.title, artist=item.meta.artist, isrc=item.meta.isrc,
                    source_path=item.meta.source_path, audio_sha256=item.sha256,
                    duration=fp.duration, warnings=tuple(item.warnings))


def fingerprint_for_index(fingerprinter: FingerprinterLike, path: str | os.PathLike[str],
                          model_lock: threading.Lock | None = None) -> tuple[PreparedFile, object]:
    """Everything :func:`index_files` does to one file except the skip check and the commit.

    What a cluster worker runs (:mod:`lumina.indexing.cluster`): hash, tags, length, decode and
    fingerprint, with the same error handling and messages as a local run. The chunks are
    freed before returning; the fingerprint's ``audio_sha256``, ``duration`` and
    ``warnings`` are filled in as for a commit.

    Parameters
    ----------
    fingerprinter : lumina.fingerprint.Fingerprinter
    path : the audio file.
    model_lock : threading.Lock, optional
        Held while fingerprinting (not while decoding), so two calls in two threads overlap
        one file's decoding with another's fingerprinting on one model.

    Returns
    -------
    (item, fingerprint)
        ``fingerprint`` is None and ``item.error`` says why (one line) when the file failed.
    """
    model = fingerprinter.model
    rate = int(model.sample_rate)
    chunk_seconds = float(fingerprinter.chunk_seconds)
    item = prepare_file(Path(path), rate, chunk_seconds)
    fp = None
    if not item.error:
        try:
            with model_lock if model_lock is not None else contextlib.nullcontext():
                fp = fingerprint_prepared(fingerprinter, item, rate, chunk_seconds, None)
        except LuminaError as exc:
            item.error = one_line(exc)
        except (RuntimeError, ValueError, MemoryError) as exc:
            item.error = f"fingerprinting failed: {one_line(exc)}"
        finally:
            item.chunks = None
    if item.error and not item.error.startswith(item.path.name):
        item.error = f"{item.path.name}: {item.error}"
    return item, fp
