"""The selected song's segment pairs on both waveforms, the catalog song's audio (and the
prompt when it moved), and A/B listening — offscreen, with a fake output stream.

Every wait is on a signal or a condition; nothing sleeps for a fixed time.
"""

from __future__ import annotations

import functools
import shutil
import threading
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from lumina.attribution.segments import SegmentMatch
from lumina_app import jobs, tasks
from lumina_app.ab_player import ABPlayer
from lumina_app.player import Player
from lumina_app.settings import AppSettings
from lumina_app.song_view import SongView
from lumina_app.waveform import WaveformView

RATE = 8000
SLOW = 120_000  # ms: a model load plus an analysis on a busy two-core machine


class FakeStream:
    """Stands in for ``sounddevice.OutputStream``: the test pulls blocks through the player's
    callback, as PortAudio's thread would."""

    def __init__(self, *, samplerate: int, channels: int, dtype: str, callback) -> None:
        self.channels, self.callback = channels, callback
        self.active = False

    def start(self) -> None:
        self.active = True

    def abort(self) -> None:
        self.active = False

    def close(self) -> None:
        self.active = False

    def pull(self, frames: int) -> np.ndarray:
        out = np.full((frames, self.channels), np.nan, np.float32)
        self.callback(out, frames, None, None)
        return out


def fake_player(streams: list[FakeStream], parent=None) -> Player:
    def factory(**kwargs) -> FakeStream:
        streams.append(FakeStream(**kwargs))
        return streams[-1]

    return Player(parent, stream_factory=factory, device_rate=RATE)


def pair(qs: float, qe: float, ss: float, se: float, z: float = 3.0) -> SegmentMatch:
    return SegmentMatch(query_chunk=0, song_chunk=0, query_start=qs, query_end=qe,
                        song_start=ss, song_end=se, cosine=0.5, z=z)


def fake_result(library: Path, song_id: int, pairs, title: str = "Tune") -> SimpleNamespace:
    """What SongView reads of an AnalysisResult: the library, the channels' segments and
    influences."""
    influence = SimpleNamespace(song_id=song_id, title=title, artist="Band")
    channel = SimpleNamespace(segments={song_id: tuple(pairs)}, influences=(influence,))
    return SimpleNamespace(library=SimpleNamespace(path=str(library)),
                           channels={"production": channel})


def load(path: Path, player: Player) -> jobs.TrackData:
    return jobs.load_track(path, player.prepare, lambda *_: None, threading.Event())


# -- A/B playback ---------------------------------------------------------------------------
@pytest.fixture
def ab(qtbot):
    streams: list[FakeStream] = []
    player = ABPlayer(fake_player(streams))
    # Distinct values everywhere: A is 0..1, B is 10..11, so any misplaced copy shows.
    a = (np.arange(4 * RATE, dtype=np.float32) / (4 * RATE))[:, None]
    b = 10 + (np.arange(6 * RATE, dtype=np.float32) / (6 * RATE))[:, None]
    player.set_source("query", a, RATE)
    player.set_source("song", b, RATE)
    player.set_pair((1.0, 2.0), (3.0, 5.0))  # the song's span is twice as long
    yield player, streams, a[:, 0], b[:, 0]
    player.close()


def test_ab_switch_keeps_the_relative_position(ab):
    player, streams, a, b = ab
    assert player.play_pair() and player.side == "query"
    stream = streams[0]
    np.testing.assert_array_equal(stream.pull(800)[:, 0], a[RATE:RATE + 800])  # 10 % into A
    player.switch()
    assert player.side == "song" and player.state() == "playing"
    # 10 % into B's 2 s span: 3.2 s of the song
    np.testing.assert_array_equal(stream.pull(400)[:, 0], b[3 * RATE + 1600:3 * RATE + 2000])
    assert player.position() == pytest.approx(3.25)
    player.switch()  # 12.5 % into B → 12.5 % into A
    assert player.side == "query"
    np.testing.assert_array_equal(stream.pull(100)[:, 0], a[RATE + 1000:RATE + 1100])
    player.toggle()
    assert player.state() == "paused"
    player.switch()  # paused: the side changes, playback does not start
    assert player.side == "song" and player.state() == "paused" and not stream.active
    player.toggle()  # resumes on B where the switch put it
    np.testing.assert_array_equal(stream.pull(10)[:, 0],
                                  b[3 * RATE + 2200:3 * RATE + 2210])


def test_ab_plays_the_track_span_then_the_song_span(qtbot, ab):
    player, streams, a, b = ab
    sides = []
    player.sideChanged.connect(sides.append)
    player.play_pair()
    stream = streams[0]
    np.testing.assert_array_equal(stream.pull(RATE)[:, 0], a[RATE:2 * RATE])  # all of A
    assert np.all(stream.pull(16)[:, 0] == 0)  # and not a sample past its end
    qtbot.waitUntil(lambda: player.side == "song" and player.state() == "playing",
                    timeout=10_000)
    np.testing.assert_array_equal(stream.pull(2 * RATE)[:, 0], b[3 * RATE:5 * RATE])
    qtbot.waitUntil(lambda: player.state() == "stopped", timeout=10_000)
    assert sides == ["song", "query"]  # back to A for the next play


# -- the view against a real library ---------------------------------------------------------
@pytest.fixture
def moved(catalog, tmp_path):
    """A copy of the catalog library whose songs point at copies of their audio that have
    since moved: ``(library, {song_id: moved file}, song ids)``."""
    from lumina.indexing.relink import relink_library
    from lumina.library import Library

    lib = tmp_path / "lib"
    shutil.copytree(catalog[0], lib, ignore=shutil.ignore_patterns("cache", "writer.lock"))
    music = tmp_path / "music"
    music.mkdir()
    for song in catalog[1]:
        shutil.copy(song, music / song.name)
    relink_library(lib, music)
    with Library.open(lib) as opened:
        songs = {s.id: Path(s.source_path).name for s in opened.songs()}
    music.rename(tmp_path / "moved")
    return lib, {sid: tmp_path / "moved" / name for sid, name in songs.items()}


@pytest.fixture
def view(qtbot):
    streams: list[FakeStream] = []
    query_view = WaveformView()
    main = fake_player(streams)
    song_view = SongView(query_view, main, make_player=functools.partial(fake_player, streams))
    qtbot.addWidget(query_view)
    qtbot.addWidget(song_view)
    yield song_view
    song_view.shutdown()
    main.close()


def _show(qtbot, view, result, song_id, track=None):
    with qtbot.waitSignal(view.catalogShown, timeout=SLOW) as blocker:
        view.show_song(result, song_id, "production", track)
    return blocker.args[0]


def test_a_moved_catalog_song_asks_for_its_file_and_accepts_only_its_audio(qtbot, view, moved):
    from lumina.analysis import song_source

    lib, files = moved
    sid, other = sorted(files)[:2]
    old = song_source(lib, sid).source_path
    result = fake_result(lib, sid, [pair(0.0, 2.0, 1.0, 3.0)])
    catalog = _show(qtbot, view, result, sid)
    assert catalog.missing and not view.message.isHidden()
    assert view.message.text() == f"Catalog audio not found at {old} —"
    assert not view.locate_button.isHidden() and view.locate_button.text() == "Locate it…"
    assert view.waveform.levels is None and not view.switch_button.isEnabled()

    with qtbot.waitSignal(view.relinkRefused, timeout=SLOW) as refused:
        view.relink(files[other])  # another song's audio
    assert "is not the audio of" in refused.args[0] and "\n" not in refused.args[0]
    assert refused.args[0] in view.message.text()
    assert song_source(lib, sid).source_path == old  # nothing written

    with qtbot.waitSignal(view.catalogShown, timeout=SLOW) as shown:
        view.relink(files[sid])
    assert not shown.args[0].missing and view.message.isHidden()
    assert view.locate_button.isHidden() and view.waveform.drawn_points() > 0
    assert song_source(lib, sid).source_path == str(files[sid].resolve())
    assert view.song_spans.spans == [(1.0, 3.0)]


def test_another_file_at_the_recorded_path_is_not_drawn_as_the_song(qtbot, view, moved):
    from lumina.analysis import song_source

    lib, files = moved
    sid, other = sorted(files)[:2]
    old = Path(song_source(lib, sid).source_path)
    old.parent.mkdir(parents=True)
    shutil.copy(files[other], old)  # same name, another song's audio
    catalog = _show(qtbot, view, fake_result(lib, sid, [pair(0.0, 2.0, 1.0, 3.0)]), sid)
    assert catalog.missing and catalog.changed and view.waveform.levels is None
    assert "is not the audio that was indexed" in view.message.text()
    assert not view.locate_button.isHidden()


def test_locate_it_opens_a_file_dialog(qtbot, view, moved, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    lib, files = moved
    sid = sorted(files)[0]
    _show(qtbot, view, fake_result(lib, sid, [pair(0.0, 2.0, 0.0, 2.0)]), sid)
    asked = []
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        lambda *args: (asked.append(args) or str(files[sid]), ""))
    with qtbot.waitSignal(view.catalogShown, timeout=SLOW) as shown:
        view.locate_button.click()
    assert asked and not shown.args[0].missing


def test_a_present_song_loads_and_ab_plays_both_files(qtbot, view, catalog):
    from lumina.library import Library

    lib, songs = catalog
    with Library.open(lib) as opened:
        sid = next(s.id for s in opened.songs() if Path(s.source_path).name == songs[-1].name)
    track = load(songs[0], view.ab.player)
    pairs = [pair(0.5, 2.5, 10.0, 12.0, z=4.0), pair(1.0, 3.0, 2.0, 4.0)]
    catalog_song = _show(qtbot, view, fake_result(lib, sid, pairs), sid, track)
    assert not catalog_song.missing and view.message.isHidden()
    assert view.query_spans.spans == [(0.5, 2.5), (1.0, 3.0)]
    assert view.song_spans.spans == [(10.0, 12.0), (2.0, 4.0)]
    assert view.pair_box.count() == 2 and "z 4.0" in view.pair_box.itemText(0)
    view.set_pair(1)
    assert view.ab.span("query") == (1.0, 3.0) and view.ab.span("song") == (2.0, 4.0)
    assert view.play_button.isEnabled()
    view.play_button.click()
    stream = view.ab.player._stream
    rate = view.ab.player.device_rate
    np.testing.assert_array_equal(stream.pull(100)[:, 0], track.playback[rate:rate + 100, 0])
    assert "A · the track" in view.side_label.text()
    view.switch_button.click()
    song_buffer = catalog_song.track.playback
    np.testing.assert_array_equal(stream.pull(100)[:, 0],
                                  song_buffer[2 * rate + 100:2 * rate + 200, 0])
    qtbot.waitUntil(lambda: "B · the song" in view.side_label.text(), timeout=10_000)
    view.show_song(None, None, "production", None)
    assert view.isHidden() and view.query_spans.spans == [] and not view.ab.ready()


# -- in the window ---------------------------------------------------------------------------
@pytest.fixture
def window(qtbot, tmp_path, catalog, monkeypatch):
    from lumina_app import window as window_module
    from lumina_app.main import MainWindow

    streams: list[FakeStream] = []
    monkeypatch.setattr(window_module, "Player", functools.partial(fake_player, streams))
    win = MainWindow(AppSettings(tmp_path / "app.ini"), library=catalog[0], dialogs=False)
    qtbot.addWidget(win)
    qtbot.waitUntil(lambda: win.library is not None, timeout=SLOW)
    yield win
    win.close()


def test_selecting_a_song_shows_its_pairs_on_both_waveforms(qtbot, window, catalog):
    with qtbot.waitSignal(window.trackShown, timeout=SLOW):
        window.open_track(catalog[1][-1])  # the 16 s song: two chunks
    with qtbot.waitSignal(window.analysisShown, timeout=SLOW) as analysed:
        window.analyze()
    result = analysed.args[0]
    channel = window._timeline_channel()
    sid = window.table.song_ids()[0]
    pairs = result.channels[channel].segments[sid]
    assert pairs and window.song_view.isHidden()
    with qtbot.waitSignal(window.song_view.catalogShown, timeout=SLOW):
        window.table.select_song(sid)
    view = window.song_view
    assert not view.isHidden() and view.pairs == pairs
    assert view.query_spans.spans == [(p.query_start, p.query_end) for p in pairs]
    assert view.song_spans.spans == [(p.song_start, p.song_end) for p in pairs]
    assert all(item.scene() is window.waveform.wave_plot.scene()
               for item in view.query_spans.items)
    assert view.waveform.drawn_points() > 0 and view.play_button.isEnabled()
    window.player.play()  # the track plays …
    view.ab.toggle()  # … until A/B starts: one sound at a time
    assert view.ab.state() == "playing" and window.player.state() == "paused"
    assert view.ab.side == "query" and "A · the track" in view.side_label.text()
    window.show()
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=10_000)
    qtbot.keyClick(window.table, Qt.Key.Key_Tab)  # the key, wherever the focus is
    assert view.ab.side == "song" and "B · the song" in view.side_label.text()
    window.table.select_song(None)
    assert view.isHidden() and view.query_spans.items == []


def test_close_while_the_catalog_song_loads(qtbot, window, monkeypatch):
    from lumina.errors import Cancelled

    started = threading.Event()

    def slow_load(library, song_id, prepare, progress, cancel):
        started.set()
        cancel.wait(60)  # a long decode that stops at its next check
        raise Cancelled("cancelled")

    monkeypatch.setattr(jobs, "load_catalog_song", slow_load)
    window.song_view.show_song(fake_result(window.library.path, 1, [pair(0, 1, 0, 1)]), 1,
                               "production", None)
    assert started.wait(30) and window.song_view.task is not None
    window.close()
    assert not window.isVisible()
    qtbot.waitUntil(lambda: not tasks.live_tasks(), timeout=SLOW)
    assert AppSettings(window.settings.path).geometry is not None
