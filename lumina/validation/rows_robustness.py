"""Row 5, robustness: is a transformed copy of every library song (MP3, pitch, tempo,
noise, excerpt) still attributed to the original first? With its row-6 baseline, and a
diagnostic of how many codec codes a transform changes."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lumina.errors import LuminaError
from lumina.validation.baselines import baseline_scores
from lumina.validation.rows import fraction, rank_desc
from lumina.validation.study_base import StudyBase
from lumina.validation.transforms import TRANSFORM_LABELS, TRANSFORMS, apply_transform

__all__ = ["RobustnessRow"]


class RobustnessRow(StudyBase):
    """Row 5 of :class:`~lumina.validation.Study`."""

    def robustness(self) -> dict[str, list[dict[str, np.ndarray]]]:
        """Row 5 (and its baseline); returns the features of every transformed copy."""
        cfg = self.config
        songs = self.catalog.songs
        n = len(songs)
        audio_cache: dict[int, np.ndarray] = {}

        def audio_of(i: int) -> np.ndarray:
            if i not in audio_cache:
                audio_cache.clear()
                audio_cache[i] = self.load(self.song_paths[i])
            return audio_cache[i]

        from lumina.attribution import DEFAULT_NULL

        ex_start, ex_len = cfg.excerpt()
        params = {"mp3_128k": f"{cfg.mp3_kbps}k", "pitch_up_1": f"+{cfg.pitch_semitones:g}",
                  "pitch_down_1": f"-{cfg.pitch_semitones:g}",
                  "tempo_up_5": f"+{cfg.tempo_change:g}", "tempo_down_5": f"-{cfg.tempo_change:g}",
                  "noise_20db": f"{cfg.noise_snr_db:g}dB-seed{cfg.noise_seed}",
                  "excerpt_10s": f"{ex_start:g}+{ex_len:g}",
                  "gain_down_6": f"-{cfg.gain_db:g}dB", "gain_up_6": f"+{cfg.gain_db:g}dB"}
        details: dict = {"top1": {}, "top1_same_composition": {}, "top1_by_raw_cosine": {},
                         "baseline_top1": {}, "source_rank": {}}
        # The composition channel is meant to find the composition, which four recordings
        # share: a song-level top-1 caps it near 1/timbres, so the composition is counted too.
        comps = np.array([s.composition_id for s in songs])
        mp3_error = None
        transformed: dict[str, list[dict[str, np.ndarray]]] = {}
        for name in TRANSFORMS:
            items = []
            for i, song in enumerate(songs):
                def make(i=i, name=name):
                    return apply_transform(name, audio_of(i), self.rate, cfg, i)
                items.append((f"{name}|{params[name]}|{song.id}", make))
            try:
                feats = self.features(f"robust {name}", items)
            except LuminaError as exc:
                if name != "mp3_128k":
                    raise
                mp3_error = str(exc)
                feats = None
            if feats is None:
                for ch in self.model.channels:
                    self.add(id=f"5.{name}.{ch}", row=5,
                             measure=f"top-1 after {TRANSFORM_LABELS[name]}",
                             channel=ch, value=None, chance=1 / n, goal=">= 0.90", n=0,
                             note=f"not measured: {mp3_error}")
                continue
            transformed[name] = feats
            top1 = {ch: [] for ch in self.model.channels}
            top1_comp = {ch: [] for ch in self.model.channels}
            top1_cos = {ch: [] for ch in self.model.channels}
            ranks = {ch: [] for ch in self.model.channels}
            base = {"chroma": [], "mfcc": [], "combined": []}
            for i, values in enumerate(feats):
                z = self.z_scores(values, DEFAULT_NULL)
                zc = self.z_scores(values, "analytic")
                for ch in self.model.channels:
                    order = rank_desc(z[ch])
                    ranks[ch].append(int(np.flatnonzero(order == i)[0]))
                    top1[ch].append(int(order[0]) == i)
                    top1_comp[ch].append(bool(comps[int(order[0])] == comps[i]))
                    top1_cos[ch].append(int(rank_desc(zc[ch])[0]) == i)
                for bname, s in baseline_scores(values, self.library_matrix()).items():
                    base[bname].append(int(rank_desc(s)[0]) == i)
            for ch in self.model.channels:
                self.add(id=f"5.{name}.{ch}", row=5,
                         measure=f"top-1 after {TRANSFORM_LABELS[name]}",
                         channel=ch, value=fraction(top1[ch]), chance=1 / n, goal=">= 0.90",
                         n=n)
            if "composition" in top1_comp:
                self.add(id=f"5.{name}.composition.same_composition", row=5,
                         measure=f"top-1 has the composition, after {TRANSFORM_LABELS[name]}",
                         channel="composition", value=fraction(top1_comp["composition"]),
                         chance=1 / len(set(comps.tolist())), n=n)
            self.add(id=f"6.robust.{name}", row=6,
                     measure=f"row 5: top-1 after {TRANSFORM_LABELS[name]}",
                     channel="baseline", value=fraction(base["combined"]), chance=1 / n, n=n)
            details["top1"][name] = {ch: fraction(v) for ch, v in top1.items()}
            details["top1_same_composition"][name] = {ch: fraction(v)
                                                      for ch, v in top1_comp.items()}
            details["top1_by_raw_cosine"][name] = {ch: fraction(v) for ch, v in top1_cos.items()}
            details["baseline_top1"][name] = {k: fraction(v) for k, v in base.items()}
            details["source_rank"][name] = ranks
        details["codes_unchanged"] = self._codec_stability(audio_of)
        details["transforms"] = {
            "mp3_128k": f"LAME MP3 at {cfg.mp3_kbps} kbit/s through PyAV (FFmpeg), decoded "
                        "again with PyAV",
            "pitch": f"±{cfg.pitch_semitones:g} semitone: numpy phase-vocoder time stretch "
                     "(n_fft 2048, hop 512) by the pitch ratio, then soxr (HQ) resampling back "
                     "to the original duration",
            "tempo": f"±{100 * cfg.tempo_change:g} %: the same phase vocoder, pitch kept",
            "noise": f"seeded Gaussian white noise at {cfg.noise_snr_db:g} dB below the song's "
                     f"mean power (seed {cfg.noise_seed} + song index)",
            "excerpt": f"{ex_len:g} s from {ex_start:g} s (centred in the song)",
            "gain": f"±{cfg.gain_db:g} dB: the samples scaled, not clipped",
        }
        if mp3_error:
            details["not_measured"] = {"mp3_128k": mp3_error}
        self.details["robustness"] = details
        return transformed

    def _codec_stability(self, audio_of: Callable[[int], np.ndarray],
                         max_songs: int = 8) -> dict[str, list[float]]:
        """Diagnostic: the fraction of codec codes (per codebook) that stay the same when a
        song goes through a sample-aligned transform (MP3, noise), over the first 10 s of up
        to ``max_songs`` songs. A fingerprint is a gradient of the loss of these codes, so a
        transform that changes many codes changes the fingerprint."""
        import torch

        out: dict[str, list[float]] = {}
        n = min(max_songs, len(self.song_paths))
        span = int(round(min(10.0, self.config.seconds) * self.rate))
        for name in ("mp3_128k", "noise_20db"):
            same = []
            try:
                for i in range(n):
                    x = audio_of(i)[:span]
                    y = apply_transform(name, x, self.rate, self.config, i)
                    with torch.no_grad():
                        cx = self.model.encode(torch.from_numpy(np.ascontiguousarray(x))[None])
                        cy = self.model.encode(torch.from_numpy(np.ascontiguousarray(y))[None])
                    same.append((cx[0] == cy[0]).float().mean(dim=-1).cpu().numpy())
            except LuminaError:
                continue
            out[name] = [round(float(v), 4) for v in np.mean(same, axis=0)]
        return out
