"""Attribution: cosine scores, kernel-regression credit, null models, the confidence gate,
influence shares and the chunk timeline (DESIGN §1, steps 5-8).

numpy only. Everything a library channel needs per query is prepared once by
:func:`build_channel_index`; a query then costs one pass over the library matrix (O(N·D)),
so the same code serves a demo catalog of 24 songs and a catalog of millions.

Two null models turn a score into a z value (every result records which one was used):

``"analytic"``
    The paper: ``z = s / σ`` with ``s`` the raw cosine and ``σ = 1/√D``, the spread of the
    cosine between two independent random directions. It models the projection noise only.
``"empirical"`` (the default)
    Calibrated on the library itself (DESIGN §1 step 7): fingerprints are centred on the
    library mean and unit-normalised, and each centred cosine is normalised against a cohort
    of library songs from the query's side and from the song's side (adaptive S-norm: only the
    ``top_k`` highest cohort scores, by default the upper half — see :data:`TOP_K_FRACTION`).
    The two normalised scores are averaged into ``z``. Real gradient fingerprints share a
    common direction (measured: unrelated pairs at cosine +0.04…+0.24), which the analytic
    null mistakes for influence.

Confidence is ``Φ(z)`` and a song qualifies when ``z ≥ Φ⁻¹(gate)``; see :func:`gate_z` for
why the gate is applied on ``z`` rather than on the rounded confidence.

Modules, one job each: :mod:`~lumina.attribution.params` (:class:`AttributionParams`, the
defaults), :mod:`~lumina.attribution.vectors` (unit rows, cosine),
:mod:`~lumina.attribution.regression` (kernel regression), :mod:`~lumina.attribution.null`
(confidence, gate, cohort statistics), :mod:`~lumina.attribution.channel_index` (prepare a
channel once, score a query) and :mod:`~lumina.attribution.attribute` (ranked influences,
shares, timeline). This package never imports torch or the library.
"""

from lumina.attribution.attribute import (
    Attribution,
    ChannelAttribution,
    ChunkScores,
    Influence,
    TimelineEntry,
    attribute,
    attribute_channel,
    influence_shares,
    timeline,
    timeline_with_scores,
)
from lumina.attribution.channel_index import (
    ChannelIndex,
    build_channel_index,
    channel_scores,
    null_cohort_count,
)
from lumina.attribution.gate import DEFAULT_GATE_RULE, DEFAULT_LEVEL, GATE_RULES, Gate, gate_z
from lumina.attribution.null import (
    cohort_indices,
    confidence_from_z,
    small_cohort_z,
    song_null_stats,
)
from lumina.attribution.params import (
    DEFAULT_COHORT_SIZE,
    DEFAULT_LAMBDA,
    DEFAULT_NULL,
    DEFAULT_TOP,
    DEFAULT_TOP_K,
    GATE,
    NULLS,
    TOP_K_FRACTION,
    AttributionParams,
    resolve_top_k,
)
from lumina.attribution.regression import KernelRegression, kernel_regression_weights_dual
from lumina.attribution.vectors import cosine_scores, noise_floor, unit_rows

__all__ = [
    "DEFAULT_COHORT_SIZE",
    "DEFAULT_LAMBDA",
    "DEFAULT_NULL",
    "DEFAULT_TOP",
    "DEFAULT_TOP_K",
    "GATE",
    "GATE_RULES",
    "DEFAULT_GATE_RULE",
    "DEFAULT_LEVEL",
    "Gate",
    "TOP_K_FRACTION",
    "NULLS",
    "Attribution",
    "AttributionParams",
    "ChannelAttribution",
    "ChannelIndex",
    "ChunkScores",
    "Influence",
    "KernelRegression",
    "TimelineEntry",
    "attribute",
    "attribute_channel",
    "build_channel_index",
    "channel_scores",
    "cohort_indices",
    "confidence_from_z",
    "small_cohort_z",
    "null_cohort_count",
    "cosine_scores",
    "gate_z",
    "influence_shares",
    "kernel_regression_weights_dual",
    "noise_floor",
    "resolve_top_k",
    "song_null_stats",
    "timeline",
    "timeline_with_scores",
    "unit_rows",
]
