"""The validation study end to end: :class:`Study` (every row) and :func:`run_validation`,
which runs it on the demo catalog and returns the JSON-ready result (schema
:data:`SCHEMA`)."""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from lumina import __version__
from lumina.validation.config import HELDOUT_TIMBRES, ValidationConfig
from lumina.validation.rows_gate import GateCalibrationRow
from lumina.validation.rows_influence import InfluenceRow
from lumina.validation.rows_reproducibility import ReproducibilityRow
from lumina.validation.rows_retrieval import RetrievalRows
from lumina.validation.rows_robustness import RobustnessRow
from lumina.validation.rows_segments import SegmentsRow
from lumina.validation.study_base import ProgressFactory

__all__ = ["SCHEMA", "Study", "run_validation"]

SCHEMA = "lumina.validation/1"


class Study(ReproducibilityRow, RetrievalRows, GateCalibrationRow, RobustnessRow,
            InfluenceRow, SegmentsRow):
    """One validation run: the engine, the library under test and the rows measured so far.

    :func:`run_validation` drives it on the demo catalog; ``bench/realdata.py`` attaches
    another library (:meth:`attach_library`), replaces :meth:`unrelated_items`, and runs
    rows 3–5 with the same code. Each row is a mixin over
    :class:`~lumina.validation.study_base.StudyBase`.
    """


def run_validation(config: ValidationConfig | None = None, *, model=None,
                   progress: ProgressFactory | None = None,
                   say: Callable[[str], None] = print) -> dict:
    """Run the study and return the JSON-ready result (schema :data:`SCHEMA`).

    Parameters
    ----------
    config : sizes and seeds (default :meth:`ValidationConfig.full`).
    model : a :class:`~lumina.models.MusicGenModel`; default the embedded ``lumina-tiny``
        (the catalog must be what the model was trained on for rows 2 and 4 to mean
        anything).
    progress : makes a ``progress(done, total)`` callback for a labelled step.
    say : receives one-line status messages.
    """
    import torch

    from lumina.attribution import DEFAULT_NULL, GATE, gate_z
    from lumina.models import DEFAULT_MODEL, load_model

    config = config or ValidationConfig.full()
    t0 = time.monotonic()
    model = model or load_model(DEFAULT_MODEL)
    study = Study(config=config, model=model, progress=progress, say=say)

    def timed(name: str, fn, *args):
        start = time.monotonic()
        out = fn(*args)
        study.timings[name] = round(time.monotonic() - start, 2)
        return out

    timed("setup", study.setup)
    timed("reproducibility", study.reproducibility)
    true_queries = timed("causal_link", study.causal_link)
    timed("separation", study.separation)
    timed("gate_calibration", study.gate_calibration, true_queries)
    timed("robustness", study.robustness)
    timed("lds", study.lds_rows)
    timed("planted", study.planted_rows)
    timed("segments", study.segments)
    study.rows.sort(key=lambda r: r.row)
    cfg = config
    n_songs = len(study.catalog.songs)
    protocol = {
        "command": "lumina validate" + (" --quick" if cfg.quick else "") + (
            f" --composition-rendering {cfg.composition_rendering}"
            f" --output-function {cfg.output_function} --loudness {cfg.loudness}"),
        "config": asdict(cfg),
        "software_version": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "platform": platform.platform(),
        "torch_threads": torch.get_num_threads(),
        "device": "cpu",
        "model": {"name": model.name, "weights_sha256": model.weights_sha256},
        "fingerprint": {k: study.identity[k] for k in sorted(study.identity)},
        "catalog": {"n_compositions": cfg.n_compositions, "n_timbres": cfg.n_timbres,
                    "seconds": cfg.seconds, "seed": cfg.catalog_seed, "songs": n_songs,
                    "cache_key": cfg.catalog_key, "library_digest": study.library_digest},
        "attribution": {"default_null": DEFAULT_NULL, "gate": GATE, "z_gate": gate_z(GATE),
                        **study.prepare_params},
        "causal_link": {"prompt_seconds": cfg.prompt_seconds,
                        "continuation_seconds": cfg.continuation_seconds,
                        "continuations_per_song": cfg.repeats,
                        "seeds": f"{cfg.generation_seed} + 100 * repeat + song index",
                        "temperature": cfg.temperature, "top_k": cfg.top_k,
                        "queries": cfg.repeats * n_songs},
        "heldout": {"compositions": cfg.n_heldout, "timbres": list(HELDOUT_TIMBRES),
                    "queries": cfg.n_heldout * len(HELDOUT_TIMBRES)},
        "baseline": "mean MFCC (20 coefficients without c0, 40 mel bands, n_fft 2048, hop "
                    "1024; standardised on the library) and 12-bin chroma (n_fft 8192, 60-2100 "
                    "Hz; centred on the library), cosine; song identity: mean of the two "
                    "cosines",
        "cache": _cache_label(str(study.cache / "validation")),  # under the cache root
        "cache_hits": study.store.hits, "cache_misses": study.store.misses,
        "created": _now(),
        "elapsed_seconds": round(time.monotonic() - t0, 1),
        "timings_seconds": study.timings,
    }
    gate = study.details["gate_calibration"]
    return {
        "schema": SCHEMA,
        "protocol": protocol,
        "rows": [asdict(r) for r in study.rows],
        "default_null": DEFAULT_NULL,
        "recommended_null": gate["recommended_null"],
        "recommended_null_reason": gate["reason"],
        "details": study.details,
    }


def _now() -> str:
    """UTC now, to the second, ISO 8601 with a Z."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _cache_label(path: str) -> str:
    """``path`` from its ``demo`` folder on (relative to the cache root), so the published
    protocol does not depend on the machine it ran on."""
    parts = Path(path).parts
    return "/".join(parts[parts.index("demo"):]) if "demo" in parts else path
