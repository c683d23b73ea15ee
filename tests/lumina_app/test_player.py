"""The player with no sound device: its real callback driven by a fake output stream."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lumina_app.player import FALLBACK_RATE, Player

RATE = 8000


class FakeStream:
    """Stands in for ``sounddevice.OutputStream``: the test pulls blocks through the callback
    the player handed over, as PortAudio's thread would."""

    def __init__(self, *, samplerate: int, channels: int, dtype: str, callback) -> None:
        assert dtype == "float32"
        self.samplerate, self.channels, self.callback = samplerate, channels, callback
        self.active = False
        self.closed = False

    def start(self) -> None:
        self.active = True

    def abort(self) -> None:
        self.active = False

    def close(self) -> None:
        self.closed = True

    def pull(self, frames: int) -> np.ndarray:
        # NaN-filled, so a sample the callback forgot to write shows up.
        out = np.full((frames, self.channels), np.nan, np.float32)
        self.callback(out, frames, None, None)
        return out


@pytest.fixture
def streams() -> list[FakeStream]:
    return []


@pytest.fixture
def player(qtbot, streams) -> Player:
    def factory(**kwargs) -> FakeStream:
        streams.append(FakeStream(**kwargs))
        return streams[-1]

    p = Player(stream_factory=factory, device_rate=RATE)
    yield p
    p.close()


def ramp(n: int, channels: int = 0) -> np.ndarray:
    """Distinct values per frame (and per channel), so any misplaced copy is visible."""
    x = np.arange(n, dtype=np.float32) / n
    return x if channels == 0 else np.stack([x + c for c in range(channels)], axis=1)


def test_fill_copies_exact_samples_and_advances(player, streams):
    x = ramp(1000)
    player.load(x, RATE)
    assert player.duration == 1000 / RATE and player.state() == "stopped"
    assert player.play() and player.state() == "playing"
    stream = streams[0]
    assert stream.active and stream.samplerate == RATE and stream.channels == 2
    out = stream.pull(256)
    np.testing.assert_array_equal(out[:, 0], x[:256])
    np.testing.assert_array_equal(out[:, 1], x[:256])  # mono goes to both speakers
    np.testing.assert_array_equal(stream.pull(100)[:, 0], x[256:356])
    assert player.position() == 356 / RATE


def test_stereo_buffer_keeps_its_channels(player, streams):
    x = ramp(500, channels=2)
    player.load(x, RATE)
    player.play()
    np.testing.assert_array_equal(streams[0].pull(300), x[:300])


def test_more_channels_than_the_device_are_averaged(player, streams):
    x = ramp(400, channels=4)
    player.load(x, RATE)
    player.play()
    out = streams[0].pull(400)
    np.testing.assert_allclose(out[:, 0], x.mean(axis=1), rtol=0, atol=1e-6)
    np.testing.assert_array_equal(out[:, 0], out[:, 1])


def test_fill_called_directly(player):
    x = ramp(100)
    player.load(x, RATE)
    out = np.ones((40, 2), np.float32)
    assert player.fill(out) == 0 and not out.any()  # not playing: silence, no advance
    player.play()
    assert player.fill(out) == 40
    np.testing.assert_array_equal(out[:, 0], x[:40])
    out = np.ones((100, 2), np.float32)
    assert player.fill(out) == 60  # the rest of the track, then silence
    np.testing.assert_array_equal(out[:60, 1], x[40:])
    assert not out[60:].any()
    assert player.fill(out) == 0 and not out.any()


def test_pause_outputs_silence_and_resumes_where_it_was(qtbot, player, streams):
    x = ramp(1000)
    player.load(x, RATE)
    player.play()
    streams[0].pull(100)
    with qtbot.waitSignal(player.stateChanged) as blocker:
        player.toggle()
    assert blocker.args == ["paused"] and not streams[0].active
    assert not streams[0].pull(50).any()  # a block already in flight after pause is silent
    assert player.position() == 100 / RATE
    player.toggle()
    assert player.state() == "playing" and streams[0].active and len(streams) == 1
    np.testing.assert_array_equal(streams[0].pull(10)[:, 0], x[100:110])


def test_seek_moves_the_next_block(qtbot, player, streams):
    x = ramp(RATE * 2)
    player.load(x, RATE)
    with qtbot.waitSignal(player.positionChanged) as blocker:
        player.seek(0.5)
    assert blocker.args == [0.5] and player.position() == 0.5
    player.play()
    np.testing.assert_array_equal(streams[0].pull(8)[:, 0], x[4000:4008])
    player.seek(1.25)
    np.testing.assert_array_equal(streams[0].pull(8)[:, 0], x[10000:10008])
    player.seek(-3.0)
    assert player.position() == 0.0
    player.seek(99.0)
    assert player.position() == player.duration


def test_stop_rewinds(player, streams):
    player.load(ramp(1000), RATE)
    player.play()
    streams[0].pull(300)
    player.stop()
    assert player.state() == "stopped" and player.position() == 0.0 and not streams[0].active
    player.play()
    assert streams[0].pull(1)[0, 0] == 0.0


def test_end_of_buffer_stops_and_rewinds(qtbot, player, streams):
    x = ramp(1000)
    player.load(x, RATE)
    states: list[str] = []
    player.stateChanged.connect(states.append)
    player.play()
    out = streams[0].pull(1200)
    np.testing.assert_array_equal(out[:1000, 0], x)
    assert not out[1000:].any()
    qtbot.waitUntil(lambda: player.state() == "stopped", timeout=2000)
    assert states == ["playing", "stopped"]
    assert player.position() == 0.0 and not streams[0].active
    # Playing again starts from the top.
    player.play()
    np.testing.assert_array_equal(streams[0].pull(5)[:, 0], x[:5])


def test_position_is_published_while_playing(qtbot, player, streams):
    player.load(ramp(RATE * 4), RATE)
    player.play()
    streams[0].pull(RATE)  # one second handed to the "device"
    with qtbot.waitSignal(player.positionChanged, timeout=1000) as blocker:
        pass
    assert blocker.args == [1.0]


def test_load_resamples_to_the_device_rate(qtbot, streams):
    def factory(**kwargs) -> FakeStream:
        streams.append(FakeStream(**kwargs))
        return streams[-1]

    player = Player(stream_factory=factory, device_rate=48000, device_channels=1)
    src_rate, seconds, freq = 32000, 2.0, 440.0
    t = np.arange(int(src_rate * seconds)) / src_rate
    player.load((0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32), src_rate)
    assert player.duration == pytest.approx(seconds, abs=1e-4)
    player.play()
    assert streams[0].channels == 1
    out = streams[0].pull(48000)[:, 0]
    spectrum = np.abs(np.fft.rfft(out * np.hanning(len(out))))
    assert np.argmax(spectrum) * 48000 / len(out) == pytest.approx(freq, abs=1.0)
    assert 0.48 < np.abs(out).max() < 0.52
    player.close()
    assert streams[0].closed


def test_a_stream_that_fails_to_open_is_reported_not_raised(qtbot):
    def factory(**kwargs):
        raise RuntimeError("Error opening OutputStream: Invalid sample rate")

    player = Player(stream_factory=factory)
    player.load(ramp(100), FALLBACK_RATE)
    with qtbot.waitSignal(player.errorOccurred) as blocker:
        assert player.play() is False
    assert "Invalid sample rate" in blocker.args[0] and player.state() == "stopped"


def test_play_without_a_track_does_nothing(player, streams):
    assert player.play() is False and player.state() == "stopped" and not streams
    player.toggle()
    player.seek(3.0)
    player.pause()
    assert player.state() == "stopped" and player.position() == 0.0


NO_PORTAUDIO = ("Playback unavailable: PortAudio is not installed "
                "(Debian: apt-get install libportaudio2).")


def _expected_unavailable_reason() -> str | None:
    """What this machine's player should say, found without the player's own probe: no
    PortAudio (sounddevice raises OSError at import), or PortAudio without an output device;
    None when it can play."""
    try:
        import sounddevice as sd
    except OSError:
        return NO_PORTAUDIO
    except ImportError:
        return "Playback unavailable: the sounddevice package is not installed."
    try:
        sd.query_devices(kind="output")
    except Exception:
        return "Playback unavailable: no audio output device found."
    return None


def test_no_playback_is_a_plain_sentence_and_play_is_harmless(qtbot):
    # Fresh machines differ: with or without PortAudio, rarely with a sound card. Each case
    # that cannot play has its own sentence; the test checks the one this machine is in.
    expected = _expected_unavailable_reason()
    if expected is None:
        pytest.skip("this machine has an audio output device")
    player = Player()
    assert player.available is False
    assert player.unavailable_reason == expected
    x = ramp(32000)
    player.load(x, 32000)
    assert player.duration == 1.0
    with qtbot.waitSignal(player.errorOccurred) as blocker:
        assert player.play() is False
    assert blocker.args == [player.unavailable_reason]
    player.toggle()
    player.seek(0.25)
    assert player.position() == 0.25 and player.state() == "stopped"
    player.stop()
    player.close()


def test_missing_portaudio_is_explained(tmp_path):
    # sounddevice raises OSError at import when the PortAudio library is missing.
    (tmp_path / "sounddevice.py").write_text("raise OSError('PortAudio library not found')\n")
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen",
               PYTHONPATH=os.pathsep.join([str(tmp_path), str(root)]))
    code = ("from PySide6.QtCore import QCoreApplication; app = QCoreApplication([]); "
            "from lumina_app.player import Player; p = Player(); "
            "print(p.available, p.play(), p.unavailable_reason)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, timeout=60, check=True)
    assert out.stdout.strip() == f"False False {NO_PORTAUDIO}"
