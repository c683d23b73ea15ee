"""The arithmetic of the planted-influence ground truth, shared by ``bench/planted.py`` (which
fine-tunes, generates and ranks) and the study's row 10 (which reads what the bench left).

A result file holds, per generated sample, the rank of the planted song among the library's
songs plus itself (0 = first) for each channel and the MFCC + chroma baseline, and whether the
default gate named it; ``tuned`` samples come from a decoder fine-tuned on the planted song,
``control`` samples from the shipped decoder with the same seeds. Pure Python and numpy.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path

__all__ = ["METHODS", "PLANTED_RECIPE", "load_results", "planted_summary", "wilson"]

METHODS = ("composition", "production", "baseline")
#: The recipe the study reads (bench/planted.py's defaults): results folder name under
#: the demo cache's ``planted/``.
PLANTED_RECIPE = "v1-steps150-share1-lr0.001-prompt0"


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95 % Wilson score interval of ``k`` successes in ``n`` (NaNs for n = 0)."""
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def load_results(folder: Path) -> list[dict]:
    """Every (planted song, seed) result in ``folder``, in file-name order."""
    return [json.loads(p.read_text(encoding="utf-8"))
            for p in sorted(Path(folder).glob("p*-seed*.json"))]


def planted_summary(results: Iterable[Mapping]) -> dict:
    """Recall@1, recall@5 (with Wilson intervals) and the gate's naming rate of the planted
    song, per sample kind (``tuned``, ``control``) and method.

    Returns
    -------
    dict: ``models``, ``planted``, ``loss_before``, ``loss_after`` and
    ``rates[kind][method] = {"n", "recall@1", "recall@1_ci", "recall@5", "recall@5_ci",
    "named"}`` (``named`` None for the baseline, which has no gate).
    """
    results = list(results)
    out: dict = {"models": len(results), "planted": len({r["planted"] for r in results}),
                 "rates": {}}
    if not results:
        return out
    out["loss_before"] = sum(r["planted_loss_before"] for r in results) / len(results)
    out["loss_after"] = sum(r["planted_loss_after"] for r in results) / len(results)
    for kind in ("tuned", "control"):
        rows = [row for r in results for row in r[kind]]
        per = {}
        for method in METHODS:
            ranks = [row[method]["rank"] for row in rows]
            n = len(ranks)
            entry: dict = {"n": n}
            for top in (1, 5):
                k = sum(rank < top for rank in ranks)
                entry[f"recall@{top}"] = k / n if n else float("nan")
                entry[f"recall@{top}_ci"] = list(wilson(k, n))
            named = [row[method]["named"] for row in rows if row[method]["named"] is not None]
            entry["named"] = sum(named) / len(named) if named else None
            per[method] = entry
        out["rates"][kind] = per
    return out
