"""Render the app's main states to PNG files, as a user would see them.

    xvfb-run -s "-screen 0 2000x1200x24" python docs/screenshots.py OUT_DIR [WxH ...]

Uses the demo library (built on first use, like ``lumina demo``) and the demo query: at each
window size (default 1280x720 and 1920x1080, the laptop and the desktop the app must fit),
the window is shown empty, with the track loaded, while an analysis runs, with results and a
selected song, with the A/B view of that song (its segment pairs on both waveforms, side B
playing), with the results of a track unrelated to the catalog (nothing named), with white
noise (the unusual-input warning of a calibrated library), with the audit queue after
auditing those three tracks, and on a first start (an empty cache: the demo library being
built, then cancelled by closing).
Playback goes to a silent stand-in stream, so the transport looks as on a machine with sound.
The PNGs are named ``WxH-N-state.png``; the ones in docs/images/ were made this way.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication


def _wait(app: QApplication, signal, timeout_ms: int = 600_000) -> list:
    got: list = []
    loop = QEventLoop()
    signal.connect(lambda *args: (got.extend(args), loop.quit()))
    QTimer.singleShot(timeout_ms, loop.quit)
    loop.exec()
    return got


def _settle(app: QApplication, ms: int = 400) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


class _SilentStream:
    """An output stream that plays nothing (a screenshot needs no sound device)."""

    def __init__(self, **_kwargs) -> None:
        pass

    def start(self) -> None:
        pass

    def abort(self) -> None:
        pass

    def close(self) -> None:
        pass


def main(out: Path, sizes: list[str]) -> None:
    import functools

    from lumina.demo.run import DEMO_SEED, DEMO_SONG
    from lumina_app import window as window_module
    from lumina_app.main import MainWindow, apply_dark_theme
    from lumina_app.player import Player
    from lumina_app.settings import AppSettings

    window_module.Player = functools.partial(Player, stream_factory=_SilentStream)

    out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication(sys.argv)
    apply_dark_theme(app)
    window = MainWindow(AppSettings(out / "screenshots.ini"), dialogs=False)
    window.show()
    while window.library is None:
        _settle(app, 500)
    lib = window.library
    query = next(Path(lib.path).parent.glob(f"query-{DEMO_SONG}-seed{DEMO_SEED}.wav"), None)
    if query is None:
        sys.exit(f"run `lumina demo` once first (no demo query in {lib.path.parent})")
    unrelated = out / "unrelated-track.wav"
    if not unrelated.exists():
        import soundfile as sf

        from lumina.demo.synth import random_music

        sf.write(unrelated, random_music(12.0, 32000, 4242), 32000)
    noise = out / "white-noise.wav"
    if not noise.exists():
        import numpy as np
        import soundfile as sf

        sf.write(noise, (0.2 * np.random.default_rng(7).standard_normal(20 * 32000))
                 .astype(np.float32), 32000)
    for size in sizes:
        width, height = (int(v) for v in size.split("x"))
        window.resize(width, height)
        _settle(app)

        def shot(name: str, size: str = size) -> None:
            window.grab().save(str(out / f"{size}-{name}.png"))

        def analyzed(track: Path, name: str) -> None:
            """Open ``track``, analyse it and shoot the results."""
            window.open_track(track)
            _wait(app, window.trackShown)
            window.analyze()
            _wait(app, window.analysisShown)
            _settle(app)
            shot(name)

        shot("1-start")
        window.open_track(query)
        _wait(app, window.trackShown)
        _settle(app)
        shot("2-track")
        window.analyze()
        _settle(app, 1500)
        shot("3-analyzing")
        if window.analysis_task is not None:  # a fast machine may be done already
            _wait(app, window.analysisShown)
        _settle(app)
        shot("4-results")
        window.table.select_song(window.table.song_ids()[0])
        if window.song_view.catalog is None:  # the catalog song loads on a worker
            _wait(app, window.song_view.catalogShown)
        window.views.setCurrentIndex(1)
        _settle(app)
        shot("5-selected-confidence")
        window.views.setCurrentIndex(0)
        window.song_view.ab.play_pair()
        window.song_view.ab.switch()
        _settle(app)
        shot("7-ab")
        window.song_view.ab.stop()
        analyzed(unrelated, "6-nothing-named")
        analyzed(noise, "8-unusual-input")
        if size == sizes[0]:
            folder = out / "audit-input"
            folder.mkdir(exist_ok=True)
            for track in (query, unrelated, noise):
                (folder / track.name).write_bytes(track.read_bytes())
            window.audit([folder], out / "audit-reports")
            while window.audit_task is not None:
                _settle(app, 500)
        window.audit_dock.raise_()
        _settle(app)
        shot("9-audit-queue")
        window.library_dock.raise_()
        if window.width() > width:
            print(f"warning: at {size} the window widened itself to {window.width()} px")
    window.close()
    _first_start(app, out, sizes, MainWindow, AppSettings)
    print("\n".join(str(p) for p in sorted(out.glob("*.png"))))


def _first_start(app: QApplication, out: Path, sizes: list[str], window_class,
                 settings_class) -> None:
    """A window on an empty cache, a few seconds into building the demo library."""
    import os
    import shutil

    from lumina_app import tasks

    cache = out / "empty-cache"
    shutil.rmtree(cache, ignore_errors=True)
    os.environ["LUMINA_CACHE"] = str(cache)
    for size in sizes:
        window = window_class(settings_class(out / f"first-{size}.ini"), dialogs=False)
        window.resize(*(int(v) for v in size.split("x")))
        window.show()
        _settle(app, 6000)
        window.grab().save(str(out / f"{size}-0-first-start.png"))
        window.close()
        tasks.finish()  # the cancelled build may still be ending: let it, then clear its cache
        shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "screenshots"),
         sys.argv[2:] or ["1280x720", "1920x1080"])
