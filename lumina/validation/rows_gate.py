"""Row 4, gate calibration: how often the confidence gate passes unrelated pairs (it should
be 5 % at the 95 % gate) and true sources, for every null model, and which null the
numbers support.

Unrelated queries are compositions *and* timbres held out of training and library; the
paper's "> 68 % baseline confidence" is the fraction of true sources passing the 1σ gate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from lumina.errors import LuminaError
from lumina.validation.config import HELDOUT_TIMBRES
from lumina.validation.study_base import AudioItem, Query, StudyBase

__all__ = ["GateCalibrationRow", "pick_null"]


class GateCalibrationRow(StudyBase):
    """Row 4 of :class:`~lumina.validation.Study`."""

    def unrelated_items(self) -> list[AudioItem]:
        """(cache key, audio maker) of queries unrelated to every library song: held-out
        compositions in held-out timbres, none of them seen in training or in the library."""
        from lumina.demo.catalog import heldout_compositions, make_timbres, render_song, song_seed

        cfg = self.config
        comps = heldout_compositions(cfg.n_heldout, cfg.catalog_seed)
        timbres = [t for t in make_timbres(6) if t.id in HELDOUT_TIMBRES]
        trained = {t.id for t in self.catalog.timbres}
        if trained & set(HELDOUT_TIMBRES):
            raise LuminaError("the held-out timbres are part of this catalog")
        items = []
        for comp in comps:
            for timbre in timbres:
                def make(comp=comp, timbre=timbre):
                    return render_song(comp, timbre, cfg.seconds, self.rate,
                                       song_seed(cfg.catalog_seed, comp.id, timbre.id))
                items.append((f"c{comp.id}-t{timbre.id}-{cfg.seconds:g}s-seed{cfg.catalog_seed}",
                              make))
        return items

    def gate_calibration(self, true_queries: Sequence[Query],
                         true_sources: str = "the continuations of row 2 against the song "
                                             "they continue") -> None:
        """Row 4: unrelated pairs and ``true_queries`` (source index, seed, features) against
        the 95 % and the 1σ gate, per null."""
        from lumina.attribution import DEFAULT_NULL, NULLS, gate_z

        items = self.unrelated_items()
        unrelated = self.features("heldout", items)
        z95 = gate_z(0.95)
        fpr = {null: {} for null in NULLS}
        fpr_1sigma = {null: {} for null in NULLS}
        tpr = {null: {} for null in NULLS}
        tpr_1sigma = {null: {} for null in NULLS}
        for null in NULLS:
            zu = [self.z_scores(v, null) for v in unrelated]
            zt = [(i, self.z_scores(v, null)) for i, _, v in true_queries]
            for ch in self.model.channels:
                all_u = np.concatenate([z[ch] for z in zu])
                fpr[null][ch] = float(np.mean(all_u >= z95))
                fpr_1sigma[null][ch] = float(np.mean(all_u >= 1.0))
                src = np.array([z[ch][i] for i, z in zt])
                tpr[null][ch] = float(np.mean(src >= z95))
                tpr_1sigma[null][ch] = float(np.mean(src >= 1.0))
        n_pairs = len(unrelated) * len(self.catalog.songs)
        default_first = (DEFAULT_NULL, *[x for x in NULLS if x != DEFAULT_NULL])
        for null in default_first:
            tag = " (default)" if null == DEFAULT_NULL else ""
            for ch in self.model.channels:
                self.add(id=f"4.fpr.{null}.{ch}", row=4,
                         measure=f"unrelated pairs passing 95 % gate, {null}{tag}",
                         channel=ch, value=fpr[null][ch], chance=0.05, goal="<= 0.05",
                         n=n_pairs, note="unrelated pairs: held-out compositions in held-out "
                                         "timbres vs every library song")
        for null in default_first:
            tag = " (default)" if null == DEFAULT_NULL else ""
            for ch in self.model.channels:
                self.add(id=f"4.baseline_confidence_1sigma.{null}.{ch}", row=4,
                         measure=f"true source passes 1σ gate, {null}{tag}",
                         channel=ch, value=tpr_1sigma[null][ch],
                         chance=1 - _phi(1.0), paper="> 68 %", n=len(true_queries))
        for null in default_first:
            tag = " (default)" if null == DEFAULT_NULL else ""
            for ch in self.model.channels:
                self.add(id=f"4.tpr.{null}.{ch}", row=4,
                         measure=f"true source passes 95 % gate, {null}{tag}",
                         channel=ch, value=tpr[null][ch], chance=0.05, n=len(true_queries))
        self._gate_rules(zu_default=[self.z_scores(v, DEFAULT_NULL) for v in unrelated],
                         zt_default=[(i, self.z_scores(v, DEFAULT_NULL))
                                     for i, _, v in true_queries])
        recommended, reason = pick_null(fpr, tpr)
        self.details["gate_calibration"] = {
            "unrelated_queries": [k for k, _ in items],
            "unrelated_pairs_per_channel": n_pairs,
            "true_sources": true_sources,
            "fpr_95": fpr, "fpr_1sigma": fpr_1sigma, "tpr_95": tpr, "tpr_1sigma": tpr_1sigma,
            "z_gate_95": z95, "z_gate_1sigma": 1.0,
            "recommended_null": recommended, "reason": reason,
            "default_null": DEFAULT_NULL,
        }


    def _gate_rules(self, zu_default: Sequence[dict[str, np.ndarray]],
                    zt_default: Sequence[tuple[int, dict[str, np.ndarray]]]) -> None:
        """Row 4, per gate rule (default null): how often an unrelated query names *any*
        song, and the share of wrong songs among all songs named for the true-source
        queries (what the fdr rule bounds) — with how often the true source is named."""
        from lumina.attribution import GATE_RULES, Gate

        for rule in GATE_RULES:
            gate = Gate(rule, 0.05)
            for ch in self.model.channels:
                any_named = [bool(gate.apply(z[ch]).named.any()) for z in zu_default]
                named_total = wrong_total = source_named = 0
                for source, z in zt_default:
                    named = gate.apply(z[ch]).named
                    named_total += int(named.sum())
                    wrong_total += int(named.sum()) - int(named[source])
                    source_named += int(named[source])
                self.add(id=f"4.gate.{rule}.any_named.{ch}", row=4,
                         measure=f"unrelated queries naming any song, gate {rule} at 0.05",
                         channel=ch, value=float(np.mean(any_named)) if any_named else None,
                         goal="<= 0.05" if rule == "fwer" else None,
                         n=len(any_named),
                         note="a query is a held-out composition in a held-out timbre, "
                              "against the whole library")
                self.add(id=f"4.gate.{rule}.false_share.{ch}", row=4,
                         measure=f"wrong songs among those named for true sources, gate {rule}",
                         channel=ch,
                         value=(wrong_total / named_total) if named_total else 0.0,
                         goal="<= 0.05" if rule == "fdr" else None, n=named_total,
                         note=f"{named_total} songs named over {len(zt_default)} queries")
                self.add(id=f"4.gate.{rule}.source_named.{ch}", row=4,
                         measure=f"true source named, gate {rule}", channel=ch,
                         value=source_named / len(zt_default) if zt_default else None,
                         n=len(zt_default))


def _phi(z: float) -> float:
    """The standard normal distribution function."""
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def pick_null(fpr: dict[str, dict[str, float]], tpr: dict[str, dict[str, float]]
              ) -> tuple[str, str]:
    """The null the numbers support: among nulls whose false-positive rate is ≤ 0.05 in
    every channel, the one that lets most true sources through; if none meets the target,
    the one with the lowest worst-channel false-positive rate."""
    from lumina.attribution import DEFAULT_NULL

    worst = {null: max(v.values()) for null, v in fpr.items()}
    passing = [null for null, w in worst.items() if w <= 0.05]
    if passing:
        best = max(passing, key=lambda n: (float(np.mean(list(tpr[n].values()))),
                                           n == DEFAULT_NULL))
        return best, (f"{best} keeps the false-positive rate at the 95 % gate at "
                      f"{worst[best]:.3f} or less in every channel (target 0.05) and passes "
                      f"{np.mean(list(tpr[best].values())):.2f} of true sources on average")
    best = min(worst, key=lambda n: (worst[n], n != DEFAULT_NULL))
    return best, (f"no null meets the 0.05 target; {best} has the lowest worst-channel "
                  f"false-positive rate ({worst[best]:.3f})")
