"""Row 1, reproducibility: the relative variance between two fingerprints of the same audio
(a rerun, batch size 1 vs 8, 1 vs 2 torch threads); the paper claims "< 0.1 %"."""

from __future__ import annotations

import numpy as np

from lumina.validation.study_base import StudyBase

__all__ = ["REPRO_TOLERANCE_PERCENT", "ReproducibilityRow", "relative_variance"]

#: "Reproducible" means the relative variance rounds to 0.000 %.
REPRO_TOLERANCE_PERCENT = 0.0005


def relative_variance(a: np.ndarray, b: np.ndarray) -> float:
    """Between-run variance over the fingerprint's mean square, in %: for two runs
    ``Σ(a − b)² / Σ(a² + b²) · 100``."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    denom = float(np.sum(a * a + b * b))
    return 100.0 * float(np.sum((a - b) ** 2)) / denom if denom > 0 else 0.0


class ReproducibilityRow(StudyBase):
    """Row 1 of :class:`~lumina.validation.Study`."""

    def reproducibility(self) -> None:
        """Fingerprint ``repro_tracks`` long renderings in every pair of settings."""
        import torch

        from lumina.demo.catalog import make_timbres, render_song, song_seed
        from lumina.fingerprint.fingerprinter import Fingerprinter

        cfg = self.config
        comps = self.catalog.compositions
        timbres = make_timbres(cfg.n_timbres)
        tracks = []
        for i in range(cfg.repro_tracks):
            comp = comps[i % len(comps)]
            timbre = timbres[(i * 3 + 1) % len(timbres)]
            tracks.append(render_song(comp, timbre, cfg.repro_seconds, self.rate,
                                      song_seed(cfg.catalog_seed, comp.id, timbre.id)))
        base = self.fingerprinter
        one = Fingerprinter(self.model, device="cpu", batch_size=1,
                            composition_rendering=self.rendering,
                            output_function=self.output_function, loudness=self.loudness)
        many = Fingerprinter(self.model, device="cpu", batch_size=cfg.repro_batch,
                             composition_rendering=self.rendering,
                             output_function=self.output_function, loudness=self.loudness)
        threads_before = torch.get_num_threads()
        results: dict[str, dict[str, list[float]]] = {
            k: {ch: [] for ch in self.model.channels} for k in ("rerun", "batch", "threads")}
        identical: dict[str, bool] = {k: True for k in results}
        bar = self.bar("reproducibility")
        n_chunks = 0
        try:
            for i, audio in enumerate(tracks):
                torch.set_num_threads(1)
                first = base.fingerprint_audio(audio)
                n_chunks = first.n_chunks
                pairs = {"rerun": (first, base.fingerprint_audio(audio)),
                         "batch": (one.fingerprint_audio(audio), many.fingerprint_audio(audio))}
                torch.set_num_threads(2)
                pairs["threads"] = (first, base.fingerprint_audio(audio))
                torch.set_num_threads(1)
                for kind, (a, b) in pairs.items():
                    for ch in self.model.channels:
                        results[kind][ch].append(relative_variance(a.channels[ch],
                                                                   b.channels[ch]))
                        identical[kind] &= bool(np.array_equal(a.channels[ch], b.channels[ch]))
                if bar is not None:
                    bar(i + 1, len(tracks))
        finally:
            torch.set_num_threads(threads_before)
        labels = {"rerun": "rerun, same settings",
                  "batch": f"batch size 1 vs {cfg.repro_batch}",
                  "threads": "1 vs 2 torch threads"}
        for kind, per_channel in results.items():
            for ch, values in per_channel.items():
                self.add(id=f"1.{kind}.{ch}", row=1, measure=f"variance: {labels[kind]}",
                         channel=ch, value=max(values), unit="%",
                         goal=f"<= {REPRO_TOLERANCE_PERCENT}%", paper="< 0.1 %",
                         n=len(values))
        self.details["reproducibility"] = {
            "definition": "100 * sum((a - b)^2) / sum(a^2 + b^2) per track and channel; the "
                          "row is the maximum over tracks",
            "bit_identical": identical,
            "per_track_percent": results,
            "tracks": cfg.repro_tracks, "seconds": cfg.repro_seconds,
            "chunks_per_track": n_chunks,
            "devices": "cpu only (no GPU on the measuring machine: cpu vs cuda not measured)"
            if not torch.cuda.is_available() else "cpu (cuda present but not compared)",
        }
