"""The engine calls the app makes on its worker threads — Qt-free, one function per job.

Each job has the :data:`lumina_app.tasks.Work` shape ``(progress, cancel) -> result`` once its
arguments are bound with :func:`functools.partial`; the numbers all come from :mod:`lumina`.
Loaded models are kept in an :class:`EngineCache` so analysing a second track against the
same library does not load the model again.

The engine is reached only through its façade modules (:mod:`lumina.workspace`,
:mod:`lumina.analysis`, :mod:`lumina.audit`, :mod:`lumina.calibration`, the report modules,
:mod:`lumina.audio`, :mod:`lumina.paths`, :mod:`lumina.demo.run`), never through its
internals.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lumina.errors import Cancelled, LuminaError

if TYPE_CHECKING:
    from lumina.analysis import AnalysisResult
    from lumina.audio import WaveformLevels
    from lumina.audit import AuditRow, AuditSummary
    from lumina.calibration import CalibrationPlan, LibraryCalibration
    from lumina.reports.verify import ReportCheck
    from lumina.workspace import FingerprinterLike, IndexEventLike, ModelLike

__all__ = [
    "PLAYBACK_RATE",
    "CatalogSong",
    "EngineCache",
    "IndexOutcome",
    "LibrarySummary",
    "TrackData",
    "analyze_track",
    "audit_output_folder",
    "audit_tracks",
    "calibrate_library",
    "create_library",
    "device_arg",
    "export_report",
    "index_folder",
    "library_summary",
    "load_catalog_song",
    "load_track",
    "open_library",
    "probe_device",
    "prepare_demo",
    "relink_catalog_song",
    "verify_report_file",
]

#: Tracks are decoded once at this rate for both the waveform and playback.
PLAYBACK_RATE = 44_100

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class TrackData:
    """A decoded track, ready to draw and to play."""

    path: Path
    duration: float
    levels: WaveformLevels
    playback: np.ndarray  # what Player.prepare returned
    rate: int
    source_rate: int
    source_channels: int
    warnings: tuple[str, ...] = ()


def load_track(path: Path, prepare_playback: Callable[[np.ndarray, int], np.ndarray],
               progress: Progress, cancel: threading.Event) -> TrackData:
    """Decode ``path``, build its waveform levels and its playback buffer."""
    from lumina.audio import load_audio, waveform_levels

    progress(0, 3)
    audio = load_audio(path, PLAYBACK_RATE)
    progress(1, 3)
    levels = waveform_levels(audio.samples, PLAYBACK_RATE)
    progress(2, 3)
    playback = prepare_playback(audio.samples, PLAYBACK_RATE)
    progress(3, 3)
    return TrackData(path=Path(path), duration=audio.duration, levels=levels, playback=playback,
                     rate=PLAYBACK_RATE, source_rate=audio.source_rate,
                     source_channels=audio.source_channels, warnings=tuple(audio.warnings))


@dataclass(frozen=True)
class CatalogSong:
    """A library song's own audio for the A/B view: decoded, or where it was not found."""

    song_id: int
    title: str
    #: Where the library says the audio is.
    source_path: Path
    #: None when the song's audio is not at ``source_path`` (ask the user for it).
    track: TrackData | None = None
    #: A file is at ``source_path`` but it is not the audio indexed (its SHA-256 differs).
    changed: bool = False

    @property
    def missing(self) -> bool:
        return self.track is None


def load_catalog_song(library_path: Path, song_id: int,
                      prepare_playback: Callable[[np.ndarray, int], np.ndarray],
                      progress: Progress, cancel: threading.Event) -> CatalogSong:
    """Decode the audio a library song was indexed from, as :func:`load_track` does; no file
    at the recorded path, or one whose SHA-256 is not the song's (replaced since), is not an
    error but a :attr:`CatalogSong.missing` song."""
    from lumina.analysis import song_source
    from lumina.audio import file_sha256

    song = song_source(library_path, song_id)
    source = Path(song.source_path)
    if cancel.is_set():
        raise Cancelled("cancelled")
    if not source.is_file():
        return CatalogSong(song_id=song.id, title=song.title, source_path=source)
    if file_sha256(source) != song.audio_sha256:
        return CatalogSong(song_id=song.id, title=song.title, source_path=source, changed=True)
    track = load_track(source, prepare_playback, progress, cancel)
    if cancel.is_set():
        raise Cancelled("cancelled")
    return CatalogSong(song_id=song.id, title=song.title, source_path=source, track=track)


def relink_catalog_song(library_path: Path, song_id: int, file: Path,
                        prepare_playback: Callable[[np.ndarray, int], np.ndarray],
                        progress: Progress, cancel: threading.Event) -> CatalogSong:
    """Point the song at ``file`` when its audio SHA-256 is the library's record of the song
    (:func:`lumina.analysis.relink_song`: one sentence otherwise, nothing written), then
    load it."""
    from lumina.analysis import relink_song

    relink_song(library_path, song_id, file)
    return load_catalog_song(library_path, song_id, prepare_playback, progress, cancel)


@dataclass(frozen=True)
class LibrarySummary:
    """What the library panel and status bar show about a library."""

    path: Path
    name: str
    songs: int
    model_name: str
    model_sha256: str
    dim: int
    size_bytes: int
    is_demo: bool = False
    #: ``name/version`` of the composition channel's rendering; None: the audio itself
    composition_rendering: str | None = None
    #: The library's stored calibration (``current`` False: songs changed since); None: none
    calibration: LibraryCalibration | None = None

    @property
    def label(self) -> str:
        return f"{self.name} · {self.songs} songs · {self.model_name}"


def library_summary(path: Path, is_demo: bool = False) -> LibrarySummary:
    """Read a library folder's summary (opening, and so checking, the library) and its
    stored calibration."""
    from lumina.calibration import read_calibration
    from lumina.workspace import library_info

    info = library_info(path)
    size = sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())
    return LibrarySummary(path=Path(path), name=str(info["name"]) if info.get("name") else
                          Path(path).name, songs=int(info["songs"]),
                          model_name=str(info["model_name"]),
                          model_sha256=str(info["model_sha256"]), dim=int(info["dim"]),
                          size_bytes=size, is_demo=is_demo,
                          composition_rendering=info.get("composition_rendering"),
                          calibration=read_calibration(path, str(info["digest"])))


def open_library(path: Path, progress: Progress, cancel: threading.Event,
                 is_demo: bool = False) -> LibrarySummary:
    """Open (and so check) a library folder; a bad folder raises one-line LibraryError."""
    progress(0, 1)
    summary = library_summary(Path(path), is_demo)
    progress(1, 1)
    return summary


def create_library(path: Path, progress: Progress, cancel: threading.Event,
                   cache: EngineCache, model: str | None = None,
                   device: str = "auto",
                   composition_rendering: str | None = None) -> LibrarySummary:
    """Create an empty library for the embedded model (or ``model``) at ``path``, its
    composition channel on ``composition_rendering`` (a name, ``"plain"``, or None: the
    default)."""
    from lumina.workspace import Workspace, default_model

    path = Path(path)
    if path.exists() and any(path.iterdir()):
        raise LuminaError(f"{path} is not empty: choose a new folder for the library")
    spec = model or default_model()
    Workspace.open_or_create(path, model=spec, loaded_model=cache.model(spec),
                             device=device_arg(device),
                             composition_rendering=composition_rendering).close()
    return library_summary(path)


def prepare_demo(progress: Progress, cancel: threading.Event,
                 say: Callable[[str], None] | None = None) -> LibrarySummary:
    """Render and index the demo catalog in the user cache (first time only)."""
    from lumina.demo.run import prepare_demo_library

    steps = {"catalog": 0, "index": 1}

    def factory(label: str) -> Progress:
        # Two steps on one bar: rendering the catalog, then indexing it.
        def report(done: int, total: int) -> None:
            progress(steps.get(label, 1) * total + done, 2 * total)
        return report

    demo = prepare_demo_library(progress=factory, say=say or (lambda _line: None),
                                cancel=cancel)
    return library_summary(demo.path, is_demo=True)


@dataclass
class IndexOutcome:
    """Counts of one folder indexing run plus the one-line failures."""

    indexed: int = 0
    skipped: int = 0
    failed: int = 0
    cancelled: bool = False
    messages: list[str] = field(default_factory=list)
    library: LibrarySummary | None = None


def index_folder(library_path: Path, inputs: list[Path], progress: Progress,
                 cancel: threading.Event, cache: EngineCache,
                 device: str = "auto") -> IndexOutcome:
    """Index audio files and folders into a library; resumable like ``lumina index``."""
    from lumina.workspace import Workspace, find_audio_files, index_into

    files, missing = find_audio_files(inputs)
    outcome = IndexOutcome(messages=list(missing), failed=len(missing))
    if not files:
        raise LuminaError("no audio files found in " + ", ".join(str(p) for p in inputs))
    fingerprinter = cache.fingerprinter(library_path, device)

    def report(event: IndexEventLike) -> None:
        if event.kind in ("failed", "warning"):
            outcome.messages.append(event.message)

    with Workspace.open(library_path, fingerprinter=fingerprinter,
                        require_songs=False) as workspace:
        summary = index_into(workspace, files, progress=progress, report=report,
                             cancel=cancel)
    outcome.indexed, outcome.skipped = summary.indexed, summary.skipped
    outcome.failed += summary.failed
    outcome.cancelled = summary.cancelled
    outcome.library = library_summary(library_path)
    return outcome


def calibrate_library(library_path: Path, progress: Progress, cancel: threading.Event,
                      cache: EngineCache, device: str = "auto",
                      plan: CalibrationPlan | None = None,
                      is_demo: bool = False) -> LibrarySummary:
    """Measure false names and copy detection on the library with its model
    (:func:`lumina.calibration.calibrate_library`, ``plan`` None: the engine's default) and
    store ``calibration.json`` in it; returns the library's summary with the new calibration.
    A cancel raises :class:`Cancelled` and stores nothing."""
    from lumina.calibration import calibrate_library as calibrate
    from lumina.calibration import write_calibration
    from lumina.workspace import Workspace

    fingerprinter = cache.fingerprinter(library_path, device)
    with Workspace.open(library_path, fingerprinter=fingerprinter) as workspace:
        result = calibrate(workspace, plan, progress=progress, cancel=cancel, write=False)
    # A cancel that came during the last copy still stores nothing.
    if cancel.is_set():
        raise Cancelled("cancelled")
    write_calibration(Path(library_path), result)
    return library_summary(library_path, is_demo)


def analyze_track(track: Path, library_path: Path, progress: Progress,
                  cancel: threading.Event, cache: EngineCache, device: str = "auto",
                  span: tuple[float, float] | None = None) -> AnalysisResult:
    """Attribute a track (or the selected ``span`` of it) against a library.

    Returns a :class:`lumina.analysis.AnalysisResult`.
    """
    from lumina.analysis import analyze

    fingerprinter = cache.fingerprinter(library_path, device)
    return analyze(track, library_path, fingerprinter, progress=progress, cancel=cancel,
                   span=span)


def audit_output_folder(inputs: list[Path]) -> Path:
    """Where the app writes an audit: ``<user data>/audits/<first input's name>``."""
    from lumina.paths import user_data_folder

    first = Path(inputs[0])
    name = first.name if first.is_dir() else (first.parent.name or "tracks")
    return user_data_folder() / "audits" / (name or "tracks")


def audit_tracks(inputs: list[Path], library_path: Path, out: Path, progress: Progress,
                 cancel: threading.Event, cache: EngineCache, device: str = "auto",
                 on_row: Callable[[AuditRow], None] | None = None) -> AuditSummary:
    """Run :func:`lumina.audit.run_audit` with the app's cached fingerprinter."""
    from lumina.audit import run_audit

    fingerprinter = cache.fingerprinter(library_path, device)
    return run_audit(inputs, library_path, out, fingerprinter=fingerprinter,
                     progress=progress, on_row=on_row, cancel=cancel)


def probe_device(choice: str, progress: Progress, cancel: threading.Event) -> str:
    """The compute device's name for the status bar (imports torch: run it on a worker)."""
    from lumina.workspace import compute_device_label

    return compute_device_label(device_arg(choice))


def export_report(result: AnalysisResult, json_path: Path, pdf_path: Path, progress: Progress,
                  cancel: threading.Event) -> list[Path]:
    """Write ``result`` as a signed JSON report and a signed PDF report; returns the paths."""
    from lumina.reports.report import write_signed_reports

    return write_signed_reports(result.to_json(), json_path=Path(json_path),
                                pdf_path=Path(pdf_path))


def verify_report_file(path: Path, progress: Progress, cancel: threading.Event) -> ReportCheck:
    """Verify a signed report; raises InvalidReport / UnreadableReport with the reason."""
    from lumina.reports.verify import verify_report

    return verify_report(Path(path))


def device_arg(choice: str) -> str | None:
    """The engine's ``device`` argument for a settings choice ("auto" → None)."""
    return None if choice in ("", "auto") else choice


class EngineCache:
    """Loaded models and fingerprinters, shared by the app's worker threads.

    One lock serialises loading, so two jobs never load the same model twice.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: dict[str, ModelLike] = {}
        self._fingerprinters: dict[tuple[str, str, str], FingerprinterLike] = {}

    def model(self, spec: str) -> ModelLike:
        """The model ``spec`` names, loaded once."""
        from lumina.workspace import load_model

        with self._lock:
            if spec not in self._models:
                self._models[spec] = load_model(spec)
            return self._models[spec]

    def fingerprinter(self, library_path: Path, device: str = "auto") -> FingerprinterLike:
        """A fingerprinter the library accepts, built once per library state and device."""
        from lumina.workspace import Workspace, default_model, library_manifest

        manifest = library_manifest(library_path)
        spec = manifest.model_spec or default_model()
        key = (str(Path(library_path).resolve()), manifest.model_sha256, device)
        with self._lock:
            found = self._fingerprinters.get(key)
        if found is not None:
            return found
        with Workspace.open(library_path, model=self.model(spec), device=device_arg(device),
                            require_songs=False) as workspace:
            made = workspace.fingerprinter
        with self._lock:
            return self._fingerprinters.setdefault(key, made)
