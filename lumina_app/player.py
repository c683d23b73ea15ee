"""Playback of the open track through PortAudio (``sounddevice``).

The audio callback runs on PortAudio's thread and must never wait on Python work, so it
only copies the next frames of a buffer prepared at load time (already resampled to the
device's rate and laid out as the stream wants it) and advances an integer frame position.
Everything else happens on the UI thread: a ~30 Hz :class:`QTimer` publishes the position
and notices the end of the buffer, where playback stops and rewinds.

Playback is optional. When PortAudio is missing or there is no output device the player
says so in :attr:`Player.unavailable_reason` and every control is a harmless no-op, so the
rest of the app works on a headless machine.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import soxr
from PySide6.QtCore import QObject, QTimer, Signal

__all__ = ["FALLBACK_RATE", "Player", "StreamFactory"]

#: Device rate used when the device does not report one (and for injected streams).
FALLBACK_RATE = 48_000
#: Playhead updates per second while playing.
POSITION_HZ = 30

#: Opens an output stream: called with the keyword arguments of
#: ``sounddevice.OutputStream`` (``samplerate``, ``channels``, ``dtype``, ``callback``) and
#: returning an object with ``start()``, ``abort()`` (or ``stop()``) and ``close()``.
StreamFactory = Callable[..., Any]

_NO_MODULE = "Playback unavailable: the sounddevice package is not installed."
_NO_PORTAUDIO = ("Playback unavailable: PortAudio is not installed "
                 "(Debian: apt-get install libportaudio2).")
_NO_DEVICE = "Playback unavailable: no audio output device found."


def _probe_backend() -> tuple[StreamFactory | None, int, int, str]:
    """Find the default output device.

    Returns
    -------
    (factory, rate, channels, reason)
        ``factory`` is ``sounddevice.OutputStream`` or None when playback is impossible, in
        which case ``reason`` says why in one sentence.
    """
    try:
        import sounddevice as sd
    except OSError:  # the module imports but cannot load the PortAudio library
        return None, FALLBACK_RATE, 2, _NO_PORTAUDIO
    except ImportError:
        return None, FALLBACK_RATE, 2, _NO_MODULE
    try:
        device = sd.query_devices(kind="output")
    except Exception:  # PortAudioError when there is no default output device
        return None, FALLBACK_RATE, 2, _NO_DEVICE
    channels = int(device.get("max_output_channels", 0) or 0)
    if channels < 1:
        return None, FALLBACK_RATE, 2, _NO_DEVICE
    rate = int(device.get("default_samplerate", 0) or 0) or FALLBACK_RATE
    return sd.OutputStream, rate, min(channels, 2), ""


class Player(QObject):
    """Plays one track; the UI drives it with :meth:`toggle`, :meth:`stop` and :meth:`seek`.

    Parameters
    ----------
    parent : QObject, optional
    stream_factory : StreamFactory, optional
        Opens the output stream instead of ``sounddevice.OutputStream`` (tests use a fake
        stream that calls the real callback). With a factory no device is queried.
    device_rate : int, optional
        Rate the factory's stream runs at (default :data:`FALLBACK_RATE`).
    device_channels : int
        Channels of the factory's stream (1 or 2).

    Signals
    -------
    positionChanged(float)
        The play position in seconds: ~30 times a second while playing, and after a seek,
        stop or load.
    stateChanged(str)
        ``"playing"``, ``"paused"`` or ``"stopped"``.
    errorOccurred(str)
        One sentence when playback was asked for but cannot happen (no device, the stream
        failed to open or start).
    ended()
        Playback reached the end of the buffer (after the stop and rewind it causes).
    """

    positionChanged = Signal(float)
    stateChanged = Signal(str)
    errorOccurred = Signal(str)
    ended = Signal()

    def __init__(self, parent: QObject | None = None, *,
                 stream_factory: StreamFactory | None = None,
                 device_rate: int | None = None, device_channels: int = 2) -> None:
        super().__init__(parent)
        if stream_factory is not None:
            factory, rate, channels, reason = (stream_factory, device_rate or FALLBACK_RATE,
                                               device_channels, "")
        else:
            factory, rate, channels, reason = _probe_backend()
        if channels not in (1, 2):
            raise ValueError("device_channels must be 1 or 2")
        self._factory = factory
        self._device_rate = int(rate)
        self._device_channels = int(channels)
        self.unavailable_reason: str = reason
        self._stream: Any = None
        self._state = "stopped"
        # Shared with the audio thread: the buffer, the frame position, whether to play, and
        # whether the end was reached. The lock is held only for a copy of one block.
        self._lock = threading.Lock()
        self._buffer: np.ndarray | None = None
        self._rate = self._device_rate
        self._pos = 0
        self._playing = False
        self._ended = False
        self._timer = QTimer(self)
        self._timer.setInterval(round(1000 / POSITION_HZ))
        self._timer.timeout.connect(self._tick)

    # -- properties ------------------------------------------------------------------------
    @property
    def available(self) -> bool:
        """Whether there is an output stream to play through."""
        return self._factory is not None

    @property
    def device_rate(self) -> int:
        """Rate in Hz of the output stream and of the prepared buffer."""
        return self._device_rate

    @property
    def duration(self) -> float:
        """Length of the loaded track in seconds (0 when none)."""
        buf = self._buffer
        return 0.0 if buf is None else len(buf) / self._rate

    def state(self) -> str:
        """``"playing"``, ``"paused"`` or ``"stopped"``."""
        return self._state

    def position(self) -> float:
        """Play position in seconds: the frames handed to the device so far."""
        return self._pos / self._rate

    # -- loading ---------------------------------------------------------------------------
    def prepare(self, samples: np.ndarray, rate: int) -> np.ndarray:
        """The playback buffer for ``samples``; pure, so a worker thread may call it.

        Parameters
        ----------
        samples : np.ndarray
            Shape ``(S,)`` or ``(S, C)``, float, at ``rate`` Hz.
        rate : int
            Sample rate of ``samples`` in Hz.

        Returns
        -------
        np.ndarray
            float32, C-contiguous, shape ``(S', C')`` at :attr:`device_rate` (left at ``rate``
            when playback is unavailable: nothing will play it, so resampling is skipped);
            ``C'`` is 1 or the stream's channel count (more channels than the stream has are
            averaged to mono, which the callback then copies to every output channel).
        """
        x = np.asarray(samples, dtype=np.float32)
        if x.ndim == 1:
            x = x[:, None]
        if x.ndim != 2 or x.shape[1] < 1 or rate <= 0:
            raise ValueError("samples must have shape (S,) or (S, C) and rate must be > 0")
        if x.shape[1] > self._device_channels:
            x = x.mean(axis=1, keepdims=True, dtype=np.float32)
        if self.available and rate != self._device_rate and len(x):
            x = soxr.resample(x, rate, self._device_rate, quality="HQ")
        return np.ascontiguousarray(x, dtype=np.float32)

    def load(self, samples: np.ndarray, rate: int) -> None:
        """Stop, then make ``samples`` (``(S,)`` or ``(S, C)`` at ``rate`` Hz) the track.

        Resamples to the device rate here (about a second for 10 minutes); call
        :meth:`prepare` on a worker and :meth:`load_prepared` to keep the UI responsive.
        """
        self.load_prepared(self.prepare(samples, rate), rate)

    def load_prepared(self, buffer: np.ndarray, source_rate: int | None = None) -> None:
        """Stop, then play ``buffer`` (what :meth:`prepare` returned) from now on.

        ``source_rate`` is the ``rate`` given to :meth:`prepare`; it only matters when
        playback is unavailable, where the buffer stays at that rate.
        """
        buf = np.asarray(buffer, dtype=np.float32)
        if buf.ndim != 2 or buf.shape[1] not in (1, self._device_channels):
            raise ValueError("buffer must come from Player.prepare")
        rate = self._device_rate if self.available or source_rate is None else int(source_rate)
        self.stop()
        with self._lock:
            self._buffer = buf
            self._rate = rate
            self._pos = 0
            self._ended = False

    def unload(self) -> None:
        """Stop and drop the track."""
        self.stop()
        with self._lock:
            self._buffer = None

    # -- controls --------------------------------------------------------------------------
    def play(self) -> bool:
        """Start or resume playback; returns whether it is playing (never raises)."""
        if self._state == "playing":
            return True
        if self._buffer is None or len(self._buffer) == 0:
            return False
        if self._factory is None:
            self.errorOccurred.emit(self.unavailable_reason)
            return False
        try:
            if self._stream is None:
                self._stream = self._factory(samplerate=self._device_rate,
                                             channels=self._device_channels,
                                             dtype="float32", callback=self._callback)
            with self._lock:
                if self._pos >= len(self._buffer):
                    self._pos = 0
                self._ended = False
                self._playing = True
            self._stream.start()
        except Exception as exc:  # a device that vanished or refuses the format
            with self._lock:
                self._playing = False
            self._close_stream()
            self.errorOccurred.emit(f"Playback failed: {exc}")
            return False
        self._timer.start()
        self._set_state("playing")
        return True

    def pause(self) -> None:
        """Pause at the current position."""
        if self._state != "playing":
            return
        with self._lock:
            self._playing = False
        self._stop_stream()
        self._timer.stop()
        self._set_state("paused")
        self.positionChanged.emit(self.position())

    def toggle(self) -> None:
        """Play when paused or stopped, pause when playing."""
        if self._state == "playing":
            self.pause()
        else:
            self.play()

    def stop(self) -> None:
        """Stop and rewind to the start."""
        with self._lock:
            self._playing = False
            self._pos = 0
            self._ended = False
        self._stop_stream()
        self._timer.stop()
        self.positionChanged.emit(0.0)
        self._set_state("stopped")

    def seek(self, seconds: float) -> None:
        """Move the play position to ``seconds`` (clipped to the track), playing or not."""
        buf = self._buffer
        if buf is None:
            return
        frame = min(max(round(float(seconds) * self._rate), 0), len(buf))
        with self._lock:
            self._pos = frame
            self._ended = frame >= len(buf) and self._playing
        self.positionChanged.emit(frame / self._rate)

    def close(self) -> None:
        """Stop and release the output stream (call when the app quits)."""
        self.stop()
        self._close_stream()

    # -- the audio thread ------------------------------------------------------------------
    def fill(self, out: np.ndarray) -> int:
        """Write the next ``len(out)`` frames into ``out`` and advance; silence when paused.

        This is all the audio callback does: a copy from the prepared buffer, zeros past its
        end or while not playing.

        Parameters
        ----------
        out : np.ndarray
            float32, shape ``(F, C)`` with ``C`` the stream's channel count; overwritten.

        Returns
        -------
        int
            Frames of the track copied (``F`` except at the end or while not playing).
        """
        with self._lock:
            buf = self._buffer
            if not self._playing or buf is None:
                out.fill(0.0)
                return 0
            pos = self._pos
            n = max(0, min(len(out), len(buf) - pos))
            out[:n] = buf[pos:pos + n]  # a mono buffer broadcasts to every output channel
            out[n:] = 0.0
            self._pos = pos + n
            if self._pos >= len(buf):
                self._ended = True
            return n

    def _callback(self, outdata: np.ndarray, frames: int, time: Any, status: Any) -> None:
        # PortAudio's thread: under/overflow flags in ``status`` need no action here.
        self.fill(outdata)

    # -- UI thread internals ---------------------------------------------------------------
    def _tick(self) -> None:
        if self._ended:
            self.stop()  # end of the track: stop the stream and rewind
            self.ended.emit()
            return
        self.positionChanged.emit(self.position())

    def _set_state(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self.stateChanged.emit(state)

    def _stop_stream(self) -> None:
        if self._stream is None:
            return
        try:
            # abort() drops what is queued in the device, so pause is immediate; stop() would
            # block the UI until those buffers have played.
            halt = getattr(self._stream, "abort", None) or self._stream.stop
            halt()
        except Exception:  # stopping a stream whose device is gone: it is stopped anyway
            self._close_stream()

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            with contextlib.suppress(Exception):  # closing must never take the app down
                stream.close()
