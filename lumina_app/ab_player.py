"""A/B listening of one segment pair: a span of the open track (side A, ``"query"``) and the
matching span of the catalog song (side B, ``"song"``).

One :class:`lumina_app.player.Player` plays whichever side is current, fed the side's span of
its prepared playback buffer (a slice: the audio thread still only copies frames), so the end
of the span is the end of what the player holds. :meth:`ABPlayer.play_pair` plays A, then B;
:meth:`ABPlayer.switch` jumps to the other side at the same relative position within its span
(40 % into the track's span → 40 % into the song's), playing or paused.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal

from lumina_app.player import Player

__all__ = ["SIDES", "ABPlayer"]

#: The two sides, A then B.
SIDES = ("query", "song")


class ABPlayer(QObject):
    """Plays a segment pair's two spans through one player.

    Parameters
    ----------
    player : Player
        Plays the spans (its own output stream; the main player is another).

    Signals
    -------
    sideChanged(str)
        ``"query"`` or ``"song"``: the side now loaded (and playing, when playing).
    positionChanged(str, float)
        The side and the play position in seconds of *that side's file*.
    stateChanged(str)
        The player's ``"playing"``, ``"paused"`` or ``"stopped"``.
    errorOccurred(str)
        One sentence when playback cannot happen.
    """

    sideChanged = Signal(str)  # noqa: N815 - Qt naming
    positionChanged = Signal(str, float)  # noqa: N815
    stateChanged = Signal(str)  # noqa: N815
    errorOccurred = Signal(str)  # noqa: N815

    def __init__(self, player: Player, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.player = player
        self._buffers: dict[str, tuple[np.ndarray, int] | None] = dict.fromkeys(SIDES)
        self._spans: dict[str, tuple[float, float] | None] = dict.fromkeys(SIDES)
        self._side = "query"
        self._state = "stopped"
        self._loaded = False  # whether the player holds the current side's span
        self._quiet = False  # swallow the player's own stop/rewind while switching
        player.positionChanged.connect(self._on_position)
        player.stateChanged.connect(self._on_state)
        player.errorOccurred.connect(self.errorOccurred)
        player.ended.connect(self._on_ended)

    # -- what to play ----------------------------------------------------------------------
    @property
    def available(self) -> bool:
        return self.player.available

    @property
    def unavailable_reason(self) -> str:
        return self.player.unavailable_reason

    @property
    def side(self) -> str:
        """``"query"`` (A) or ``"song"`` (B)."""
        return self._side

    def ready(self) -> bool:
        """Whether both sides have audio and a span."""
        return all(self._buffers[s] is not None and self._spans[s] is not None for s in SIDES)

    def set_source(self, side: str, buffer: np.ndarray | None, source_rate: int = 0) -> None:
        """The prepared playback buffer of a side (what ``Player.prepare`` returned for audio at
        ``source_rate``), or None. Stops playback."""
        self._check(side)
        self.stop()
        self._buffers[side] = None if buffer is None else (buffer, int(source_rate))
        self._loaded = False

    def set_pair(self, query_span: tuple[float, float] | None,
                 song_span: tuple[float, float] | None) -> None:
        """The pair's spans ``(start, end)`` in seconds of each file; back to side A."""
        self.stop()
        self._spans = {"query": query_span, "song": song_span}
        self._loaded = False
        self._set_side("query")

    def span(self, side: str) -> tuple[float, float] | None:
        self._check(side)
        return self._spans[side]

    # -- controls --------------------------------------------------------------------------
    def state(self) -> str:
        """``"playing"``, ``"paused"`` (also after a switch while paused) or ``"stopped"``."""
        return self._state

    def position(self) -> float:
        """Play position in seconds of the current side's file."""
        span = self._spans[self._side]
        return (0.0 if span is None else span[0]) + self.player.position()

    def play_pair(self) -> bool:
        """Play A's span from its start, then B's; returns whether it plays."""
        if not self.ready():
            return False
        self._load("query", 0.0)
        return self.player.play()

    def toggle(self) -> None:
        """Pause; resume where it was paused (or switched to); else :meth:`play_pair`."""
        if self.player.state() == "playing":
            self.player.pause()
        elif self._loaded:
            self.player.play()
        else:
            self.play_pair()

    def switch(self) -> None:
        """Go to the other side at the same relative position within its span; keeps
        playing when playing."""
        if not self.ready():
            return
        playing = self.player.state() == "playing"
        fraction = 0.0
        if self._loaded:
            length = self._span_length(self._side)
            fraction = min(max(self.player.position() / length, 0.0), 1.0) if length else 0.0
        other = SIDES[1 - SIDES.index(self._side)]
        self._load(other, fraction * self._span_length(other))
        if playing:
            self.player.play()

    def stop(self) -> None:
        """Stop; the next play starts the pair again from A."""
        self.player.stop()
        self._loaded = False
        self._set_side("query")

    def close(self) -> None:
        self.player.close()

    # -- internals -------------------------------------------------------------------------
    @staticmethod
    def _check(side: str) -> None:
        if side not in SIDES:
            raise ValueError(f"side must be one of {SIDES}, not {side!r}")

    def _rate(self, side: str) -> int:
        # Player.prepare resamples to the device rate, or leaves the source rate when
        # nothing can play.
        got = self._buffers[side]
        assert got is not None
        return self.player.device_rate if self.player.available else got[1]

    def _frames(self, side: str) -> tuple[int, int]:
        got, span = self._buffers[side], self._spans[side]
        assert got is not None and span is not None
        rate, n = self._rate(side), len(got[0])
        a = min(max(round(span[0] * rate), 0), n)
        return a, min(max(round(span[1] * rate), a), n)

    def _span_length(self, side: str) -> float:
        a, b = self._frames(side)
        return (b - a) / self._rate(side)

    def _load(self, side: str, offset: float) -> None:
        buffer, source_rate = self._buffers[side]  # type: ignore[misc]
        a, b = self._frames(side)
        self._quiet = True
        try:
            self.player.load_prepared(buffer[a:b], source_rate)
            self.player.seek(offset)
        finally:
            self._quiet = False
        self._loaded = True
        self._set_side(side)
        self._on_position(self.player.position())

    def _set_side(self, side: str) -> None:
        if side != self._side:
            self._side = side
            self.sideChanged.emit(side)

    def _on_position(self, seconds: float) -> None:
        span = self._spans[self._side]
        if not self._quiet and span is not None:
            self.positionChanged.emit(self._side, span[0] + float(seconds))

    def _on_state(self, state: str) -> None:
        if not self._quiet and state != self._state:
            self._state = state
            self.stateChanged.emit(state)

    def _on_ended(self) -> None:
        if self._side == "query" and self.ready():
            self._load("song", 0.0)  # A has played: now B
            self.player.play()
        else:
            self._loaded = False
            self._set_side("query")
