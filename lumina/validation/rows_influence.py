"""Row 8, influence: the linear datamodeling score (LDS) that ``bench/lds.py`` measured
against decoders retrained on random halves of the catalog, read from the demo cache (the
retraining takes hours, so the study reports it rather than runs it)."""

from __future__ import annotations

import json

from lumina.validation.study_base import StudyBase

__all__ = ["InfluenceRow"]


class InfluenceRow(StudyBase):
    """Row 8 of :class:`~lumina.validation.Study`."""

    def lds_rows(self) -> None:
        """Row 8, only when ``bench/lds.py`` has left its results in this demo cache (full
        study only): the linear datamodeling score of the main methods and baselines."""
        path = self.cache / "lds" / "results.json"
        if self.config.quick or not path.is_file():
            return
        try:
            res = json.loads(path.read_text())
            label = res["headline"]
            table, base = res["table"][label], res["table"]["baseline"]
        except (OSError, ValueError, KeyError, TypeError):
            return
        note = (f"fingerprints of {label}; {res['protocol']['subset_models']} subset models; "
                "95 % bootstrap interval over queries: ")
        picks = [("cosine", "cosine (paper)", None), ("KR λ=0.01", "KR weights λ=0.01", ">= 0.30"),
                 ("calibrated z", "calibrated z", None)]
        for key, measure, goal in picks:
            for ch, r in table.get(key, {}).items():
                self.add(id=f"8.lds.{key.split()[0].lower()}.{ch}", row=8, measure=measure,
                         channel=ch, value=r["mean"], unit="spearman", goal=goal,
                         n=r["n_queries"], note=note + f"[{r['low']:.3f}, {r['high']:.3f}]",
                         paper=None)
        for key in ("MFCC+chroma", "bag-of-codes cosine"):
            r = base.get(key, {}).get("-")
            if r is not None:
                self.add(id=f"8.lds.baseline.{key.split()[0].lower()}", row=8, measure=key,
                         channel="baseline", value=r["mean"], unit="spearman",
                         n=r["n_queries"], note=note + f"[{r['low']:.3f}, {r['high']:.3f}]")
        self.details["lds"] = {"source": str(path), "protocol": res["protocol"],
                               "anchors": res.get("anchors")}
