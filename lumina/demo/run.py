"""``lumina demo``: the embedded default, end to end, with no arguments.

First run: render the procedural catalog into the user cache folder, index it into a
fingerprint library with the embedded model, let the model continue the opening seconds of
one catalog song (a query whose true source we know), attribute that continuation, and write
the signed JSON and PDF reports. Later runs reuse the catalog and the library.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import soundfile as sf

from lumina.errors import LuminaError

ProgressFactory = Callable[[str], Callable[[int, int], None]]

#: The catalog song whose continuation is the demo query.
DEMO_SONG = "c1-t0"
DEMO_SEED = 7
PROMPT_SECONDS = 3.0
QUERY_SECONDS = 10.0


def demo_cache(model_sha256: str, catalog_key: str) -> Path:
    """``$LUMINA_CACHE`` or the user cache folder, one subfolder per model and catalog."""
    base = os.environ.get("LUMINA_CACHE")
    if base:
        root = Path(base).expanduser()
    else:
        from platformdirs import user_cache_dir

        root = Path(user_cache_dir("lumina", appauthor=False))
    return root / "demo" / f"{model_sha256[:12]}-{catalog_key}"


@dataclass
class DemoResult:
    """What the demo produced, for printing and for tests."""

    result: object  # lumina.analysis.AnalysisResult
    query_path: Path
    source_song: str
    source_title: str
    reports: list[Path] = field(default_factory=list)
    cache: Path | None = None
    indexed: int = 0

    def source_ranks(self) -> dict[str, int | None]:
        """Where the true source ranks per channel (None: not among the listed songs)."""
        ranks: dict[str, int | None] = {}
        for name, channel in self.result.channels.items():
            ranks[name] = next((i.rank for i in channel.influences
                                if i.title == self.source_title), None)
        return ranks


@dataclass
class DemoLibrary:
    """The demo catalog rendered and indexed in the cache, ready to attribute against."""

    path: Path
    catalog: object  # lumina.demo.catalog.Catalog
    fingerprinter: object  # lumina.fingerprint.Fingerprinter
    cache: Path
    indexed: int = 0


def prepare_demo_library(*, model=None, n_compositions: int = 8, n_timbres: int = 4,
                         seconds: float = 24.0, catalog_seed: int = 0,
                         progress: ProgressFactory | None = None,
                         say: Callable[[str], None] = print,
                         cancel: object | None = None,
                         composition_rendering: str | None = None,
                         output_function: str | None = None,
                         loudness: str | None = None) -> DemoLibrary:
    """Render the demo catalog and index it with the embedded model, once per cache.

    The desktop app opens this library on first start; ``lumina demo`` attributes against
    it. Both are resumable: an interrupted run indexes only the songs still missing.
    ``composition_rendering``: a rendering name or ``"plain"`` (default: the default of a
    new library); ``output_function``: ``tempered``, ``loss`` … (default: a new library's);
    ``loudness``: ``rms``, ``none`` (default: a new library's). Each rendering, output function
    and loudness normalisation has its own library in the cache.
    """
    from lumina.demo.catalog import build_catalog
    from lumina.fingerprint.fingerprinter import Cancelled
    from lumina.indexing import index_files
    from lumina.library import composition_rendering_for, loudness_for, output_function_for
    from lumina.models import DEFAULT_MODEL, load_model
    from lumina.workspace import Workspace

    def bar(label: str):
        return progress(label) if progress is not None else None

    model = model or load_model(DEFAULT_MODEL)
    catalog = build_catalog(n_compositions, n_timbres, seconds=seconds, seed=catalog_seed)
    if model.sample_rate != catalog.rate:
        raise LuminaError(f"the demo needs a {catalog.rate} Hz model; {model.name} runs at "
                          f"{model.sample_rate} Hz")
    cache = demo_cache(model.weights_sha256,
                       f"{n_compositions}x{n_timbres}x{seconds:g}s-seed{catalog.seed}")
    songs_dir = cache / "catalog"
    if not (songs_dir / "catalog.json").exists():
        say(f"Rendering the demo catalog ({len(catalog.songs)} songs) into {songs_dir}")
        catalog.write(songs_dir, progress=bar("catalog"), cancel=cancel)
    paths = [songs_dir / s.filename for s in catalog.songs]

    rendering = composition_rendering_for(None, composition_rendering)
    output = output_function_for(None, output_function)
    normalisation = loudness_for(None, loudness)
    # A library made before output functions (or loudness normalisation) existed keeps its
    # folder.
    library_dir = cache / "-".join(["demo-catalog"] + [
        part.replace("/", "-") for part in (rendering, output, normalisation)
        if part is not None])
    indexed = 0
    with Workspace.open_or_create(
            library_dir, model=DEFAULT_MODEL if model.name == DEFAULT_MODEL else model.source,
            loaded_model=model, composition_rendering=composition_rendering,
            output_function=output_function, loudness=loudness) as ws:
        lib, fingerprinter = ws.library, ws.fingerprinter
        if len(lib) < len(paths):
            say(f"Indexing the catalog into {library_dir} (first run only)")
            with lib.writer() as writer:
                summary = index_files(writer, paths, fingerprinter, progress=bar("index"),
                                      cancel=cancel)
            if summary.cancelled:
                raise Cancelled("cancelled")
            indexed = summary.indexed
            if summary.failed:
                raise LuminaError(f"{summary.failed} demo song(s) failed to index")
    return DemoLibrary(path=library_dir, catalog=catalog, fingerprinter=fingerprinter,
                       cache=cache, indexed=indexed)


#: Songs held out and songs copied when the demo library is calibrated (first run only):
#: about a minute on a laptop for the 32-song catalog.
DEMO_CALIBRATION_SAMPLE = 8


def calibrate_demo(demo: DemoLibrary, *, progress: ProgressFactory | None = None,
                   say: Callable[[str], None] = print) -> None:
    """Calibrate the demo library (:mod:`lumina.calibration`) unless a current calibration
    is stored, so the demo report cites figures measured on its own library."""
    from lumina.calibration import CalibrationPlan, calibrate_library, read_calibration
    from lumina.workspace import Workspace

    with Workspace.open(demo.path, fingerprinter=demo.fingerprinter) as ws:
        found = read_calibration(demo.path, ws.library.digest())
        if found is not None and found.current:
            return
        say("Calibrating the demo library on held-out songs and copies (first run only)")
        calibrate_library(ws, CalibrationPlan(sample=DEMO_CALIBRATION_SAMPLE),
                          progress=progress("calibrate") if progress is not None else None)


def run_demo(out: Path, *, model=None, n_compositions: int = 8, n_timbres: int = 4,
             seconds: float = 24.0, song_id: str = DEMO_SONG, seed: int = DEMO_SEED,
             progress: ProgressFactory | None = None, write_pdf: bool = True,
             say: Callable[[str], None] = print) -> DemoResult:
    """Run the demo and write its reports into ``out``.

    Parameters
    ----------
    model : a :class:`~lumina.models.MusicGenModel`; default the embedded ``lumina-tiny``.
    n_compositions, n_timbres, seconds : the catalog's size (the tests use a small one).
    song_id : the catalog song whose opening the model continues.
    progress : makes a ``progress(done, total)`` callback for a labelled step.
    """
    from lumina.analysis import analyze
    from lumina.demo.generate import generate_query
    from lumina.reports.report import write_signed_reports

    demo = prepare_demo_library(model=model, n_compositions=n_compositions,
                                n_timbres=n_timbres, seconds=seconds, progress=progress,
                                say=say)
    calibrate_demo(demo, progress=progress, say=say)
    catalog, fingerprinter = demo.catalog, demo.fingerprinter
    model = fingerprinter.model
    try:
        song = catalog.song(song_id)
    except KeyError:
        raise LuminaError(f"no song {song_id!r} in the demo catalog") from None
    query_path = demo.cache / f"query-{song.id}-seed{seed}.wav"
    if not query_path.exists():
        say(f"Generating the query: {model.name} continues the first "
            f"{PROMPT_SECONDS:g} s of “{song.title}”")
        audio = generate_query(model, catalog, song, prompt_seconds=PROMPT_SECONDS,
                               seconds=QUERY_SECONDS, seed=seed)
        tmp = query_path.with_suffix(".part.wav")
        sf.write(tmp, audio, model.sample_rate, subtype="PCM_16")
        os.replace(tmp, query_path)
    result = analyze(query_path, demo.path, fingerprinter,
                     progress=progress("attribute") if progress is not None else None)

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"lumina-demo-{song.id}"
    reports = write_signed_reports(
        result.to_json(), json_path=out / f"{stem}.json",
        pdf_path=out / f"{stem}.pdf" if write_pdf else None)
    return DemoResult(result=result, query_path=query_path, source_song=song.id,
                      source_title=song.title, reports=reports, cache=demo.cache,
                      indexed=demo.indexed)
