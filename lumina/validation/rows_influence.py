"""Rows 8 and 10, influence, read from the demo cache because the retraining behind them takes
hours, so the study reports it rather than runs it: the linear datamodeling score that
``bench/lds.py`` measured against decoders retrained on random halves of the catalog (row 8),
and the planted-influence recall that ``bench/planted.py`` measured with decoders fine-tuned
on held-out songs (row 10)."""

from __future__ import annotations

import json

from lumina.validation.study_base import StudyBase

__all__ = ["InfluenceRow"]


class InfluenceRow(StudyBase):
    """Rows 8 and 10 of :class:`~lumina.validation.Study`."""

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

    def planted_rows(self) -> None:
        """Row 10, only when ``bench/planted.py`` has left results in this demo cache (full
        study only): recall of a planted song in the samples of a decoder fine-tuned on it,
        against the shipped decoder's samples with the same seeds (the control)."""
        from lumina.validation.planted import PLANTED_RECIPE, load_results, planted_summary

        folder = self.cache / "planted" / PLANTED_RECIPE
        if self.config.quick or not folder.is_dir():
            return
        summary = planted_summary(load_results(folder))
        if not summary["models"]:
            return
        songs = len(self.catalog.songs) + 1
        note = (f"bench/planted.py, recipe {PLANTED_RECIPE}: {summary['models']} fine-tuned "
                f"decoders, {summary['planted']} planted songs; 95 % Wilson interval ")
        for kind, label in (("tuned", "fine-tuned on it"), ("control", "control: never saw it")):
            for method, r in summary["rates"][kind].items():
                channel = "baseline" if method == "baseline" else method
                for top in (1, 5):
                    lo, hi = r[f"recall@{top}_ci"]
                    self.add(id=f"10.planted.{kind}.recall{top}.{method}", row=10,
                             measure=f"planted song in the top {top}, samples of a decoder "
                                     f"{label}", channel=channel, value=r[f"recall@{top}"],
                             chance=top / songs, n=r["n"], note=note + f"[{lo:.3f}, {hi:.3f}]")
                if r["named"] is not None:
                    self.add(id=f"10.planted.{kind}.named.{method}", row=10,
                             measure=f"planted song named by the default gate, decoder {label}",
                             channel=channel, value=r["named"], n=r["n"])
        self.details["planted"] = {"source": str(folder), **{
            k: summary[k] for k in ("models", "planted", "loss_before", "loss_after")}}
