"""``lumina validate``: the validation study (DESIGN §6, issue "Validation study").

The LUMINA paper (§6) claims "< 0.1 % variance in signatures", "> 68 % baseline confidence
at the 1σ qualification gate" and "94 % accuracy in identifying ground-truth prompts",
without a protocol. This module measures those quantities — and what the paper does not —
on data whose ground truth is known by construction: the procedural demo catalog
(compositions × timbres) and the embedded model ``lumina-tiny``, which was trained on it.

Rows of the table (every entry of :func:`run_validation`'s ``rows`` is one number):

1. **Reproducibility** — relative variance (%) between two fingerprints of the same audio:
   a rerun, batch size 1 vs 8, 1 vs 2 torch threads.
2. **Causal link** — the embedded model continues the first seconds of every catalog song;
   the continuation alone is fingerprinted and ranked against the demo library with the
   product's ranking (z of the default null): top-1 and top-3 accuracy per channel.
3. **Dual-channel separation** — leave-one-out on the library: with the query song removed,
   does the composition channel's top song share the query's composition, the production
   channel's top song its timbre?
4. **Gate calibration** — queries made of compositions *and* timbres held out of training
   and library: the fraction of query–song pairs that pass the 95 % gate, for the analytic
   (paper) and the empirical (S-norm) null; and on true sources (the continuations of row 2)
   the fraction that passes the paper's 1σ gate ("baseline confidence") and the 95 % gate.
5. **Robustness** — transformed copies of every catalog song (MP3 128 kbit/s, pitch ±1
   semitone, tempo ±5 %, white noise at 20 dB SNR, a 10 s excerpt): top-1 = the original.
6. **Baseline** — a plain audio-feature method on rows 2, 3 and 5: mean MFCC and chroma,
   each centred on the library, scored by cosine (chroma plays the composition channel,
   MFCC the production channel; song identity uses the mean of the two cosines).
8. **Influence** (full study only, when ``bench/lds.py`` has been run into the same demo
   cache) — the linear datamodeling score of cosine, kernel-regression weights and the
   calibrated z against decoders retrained on random halves of the catalog, and of baselines.

Expensive intermediates (continuations as WAV, fingerprints and baseline features) are
cached in the demo cache folder (:func:`lumina.demo.run.demo_cache`, keyed by the model's
weights digest and the catalog) under ``validation/``, keyed by every parameter that
changes them, so a rerun only redoes row 1 (which measures reruns) and the arithmetic.

The package, one job a module: :mod:`~lumina.validation.config` (sizes and seeds),
:mod:`~lumina.validation.transforms` (row 5's transforms), :mod:`~lumina.validation.baselines`
(row 6's features), :mod:`~lumina.validation.feature_cache`, :mod:`~lumina.validation.rows`
(one number of the table), :mod:`~lumina.validation.study_base` (engine and library) and one
``rows_*`` mixin per row, put together in :mod:`~lumina.validation.study`;
:mod:`~lumina.validation.tables` writes the result, :mod:`~lumina.validation.lds` is row 8's
arithmetic.
"""

from __future__ import annotations

from lumina.validation.baselines import baseline_scores, chroma_mean, mfcc_mean
from lumina.validation.config import HELDOUT_TIMBRES, ValidationConfig
from lumina.validation.feature_cache import CACHE_VERSION, FeatureCache
from lumina.validation.rows import Row, fraction, rank_desc
from lumina.validation.rows_gate import pick_null
from lumina.validation.rows_reproducibility import REPRO_TOLERANCE_PERCENT, relative_variance
from lumina.validation.study import SCHEMA, Study, run_validation
from lumina.validation.study_base import ProgressFactory
from lumina.validation.tables import (
    NOTES_MARKER,
    check_output_path,
    format_chance,
    format_table,
    format_value,
    format_verdict,
    to_markdown,
    write_json,
    write_markdown,
)
from lumina.validation.transforms import (
    TRANSFORM_LABELS,
    TRANSFORMS,
    apply_transform,
    mp3_roundtrip,
    pitch_shift,
    time_stretch,
    white_noise,
)

__all__ = [
    "CACHE_VERSION",
    "HELDOUT_TIMBRES",
    "NOTES_MARKER",
    "REPRO_TOLERANCE_PERCENT",
    "SCHEMA",
    "TRANSFORMS",
    "TRANSFORM_LABELS",
    "FeatureCache",
    "ProgressFactory",
    "Row",
    "Study",
    "ValidationConfig",
    "apply_transform",
    "baseline_scores",
    "check_output_path",
    "chroma_mean",
    "format_chance",
    "format_table",
    "format_value",
    "format_verdict",
    "fraction",
    "mfcc_mean",
    "mp3_roundtrip",
    "pick_null",
    "pitch_shift",
    "rank_desc",
    "relative_variance",
    "run_validation",
    "time_stretch",
    "to_markdown",
    "white_noise",
    "write_json",
    "write_markdown",
]
