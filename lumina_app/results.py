"""Views of one :class:`lumina.analysis.AnalysisResult`: the influence table, the
per-channel share bars and the confidence view (score against the noise floor and the gate).

Views only: every number shown is read from the result (``AnalysisResult.songs()``, the
channels' ``z_gate`` and ``n_qualifying``, ``result.null``); nothing here computes a score.
Each view takes ``set_result(result | None)``; with None it shows one line saying there is
nothing to show yet.

The views live in :mod:`lumina_app.influence_table`, :mod:`lumina_app.channel_bars` and
:mod:`lumina_app.confidence_view` over :mod:`lumina_app.result_base`; this module gathers
their public names.
"""

from __future__ import annotations

from lumina_app.channel_bars import MAX_BARS, ChannelBars
from lumina_app.confidence_view import MAX_POINTS, ConfidenceView
from lumina_app.influence_table import InfluenceTable, InfluenceTableModel
from lumina_app.result_base import (
    ACCENT,
    BACKGROUND,
    CHANNEL_COLOURS,
    DIM,
    EMPTY_TEXT,
    HIGHLIGHT,
    NO_SONGS_TEXT,
    ORANGE,
    SORT_ROLE,
    TEXT,
    channel_colour,
)

__all__ = [
    "ACCENT",
    "BACKGROUND",
    "CHANNEL_COLOURS",
    "DIM",
    "EMPTY_TEXT",
    "HIGHLIGHT",
    "MAX_BARS",
    "MAX_POINTS",
    "NO_SONGS_TEXT",
    "ORANGE",
    "SORT_ROLE",
    "TEXT",
    "ChannelBars",
    "ConfidenceView",
    "InfluenceTable",
    "InfluenceTableModel",
    "channel_colour",
]
