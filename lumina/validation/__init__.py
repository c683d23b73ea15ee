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
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

import numpy as np

from lumina import __version__
from lumina.errors import LuminaError
from lumina.fingerprint.rendering import rendering_words

__all__ = [
    "SCHEMA",
    "Study",
    "ValidationConfig",
    "chroma_mean",
    "format_table",
    "mfcc_mean",
    "mp3_roundtrip",
    "pitch_shift",
    "run_validation",
    "time_stretch",
    "to_markdown",
    "white_noise",
]

SCHEMA = "lumina.validation/1"
#: Bump when a change to this module changes cached intermediates.
CACHE_VERSION = 2
#: Marker in the Markdown output: a hand-written part after it survives regeneration.
NOTES_MARKER = "<!-- lumina validate: everything above is generated; notes below are kept -->"
#: "Reproducible" means the relative variance rounds to 0.000 %.
REPRO_TOLERANCE_PERCENT = 0.0005
HELDOUT_TIMBRES = (4, 5)  # timbres of make_timbres(6) that no catalog up to 4 timbres holds
TRANSFORMS = ("mp3_128k", "pitch_up_1", "pitch_down_1", "tempo_up_5", "tempo_down_5",
              "noise_20db", "excerpt_10s")
TRANSFORM_LABELS = {
    "mp3_128k": "MP3 128 kbit/s",
    "pitch_up_1": "pitch +1 semitone",
    "pitch_down_1": "pitch -1 semitone",
    "tempo_up_5": "tempo +5 %",
    "tempo_down_5": "tempo -5 %",
    "noise_20db": "white noise, 20 dB SNR",
    "excerpt_10s": "10 s excerpt",
}

ProgressFactory = Callable[[str], Callable[[int, int], None]]


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class ValidationConfig:
    """Sizes and seeds of one validation run (recorded in the JSON's ``protocol``)."""

    quick: bool = False
    catalog_seed: int = 0
    n_compositions: int = 8
    n_timbres: int = 4
    seconds: float = 24.0
    # row 2: continuations
    prompt_seconds: float = 3.0
    continuation_seconds: float = 10.0
    repeats: int = 4  # continuations per catalog song
    generation_seed: int = 0  # seed of song i, repeat r: generation_seed + 100 r + i
    temperature: float = 1.0
    top_k: int = 32
    # row 4: held-out queries
    n_heldout: int = 8  # held-out compositions, each in every held-out timbre
    # row 1
    repro_tracks: int = 4
    repro_seconds: float = 80.0
    repro_batch: int = 8
    # row 5
    mp3_kbps: int = 128
    pitch_semitones: float = 1.0
    tempo_change: float = 0.05
    noise_snr_db: float = 20.0
    noise_seed: int = 12345
    excerpt_seconds: float = 10.0
    # the composition channel's input: a rendering name, or "plain" for the audio itself
    composition_rendering: str = "plain"

    @classmethod
    def full(cls) -> ValidationConfig:
        """The demo catalog (8 × 4 songs of 24 s, what lumina-tiny was trained on)."""
        return cls()

    @classmethod
    def quick_config(cls) -> ValidationConfig:
        """A reduced study for tests and a first look: 4 × 2 songs of 8 s (the first
        compositions and timbres of the training catalog), one continuation per song."""
        return cls(quick=True, n_compositions=4, n_timbres=2, seconds=8.0, repeats=1,
                   n_heldout=4, repro_tracks=2, repro_seconds=30.0)

    @property
    def catalog_key(self) -> str:
        """The demo cache's catalog key (the same folder ``lumina demo`` uses)."""
        return (f"{self.n_compositions}x{self.n_timbres}x{self.seconds:g}s"
                f"-seed{self.catalog_seed}")

    def excerpt(self) -> tuple[float, float]:
        """(start, length) in seconds of the excerpt: ``excerpt_seconds`` (at most half the
        song), centred in the song."""
        length = min(self.excerpt_seconds, self.seconds / 2)
        return (self.seconds - length) / 2, length


# --------------------------------------------------------------------------- transforms


def _stft(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Centred, Hann-windowed STFT (F, T) complex128."""
    pad = n_fft // 2
    y = np.pad(np.asarray(x, dtype=np.float64), (pad, pad + n_fft))
    n_frames = 1 + (len(y) - n_fft) // hop
    frames = np.lib.stride_tricks.sliding_window_view(y, n_fft)[::hop][:n_frames]
    return np.fft.rfft(frames * np.hanning(n_fft + 1)[:-1], axis=1).T


def _istft(spec: np.ndarray, n_fft: int, hop: int, length: int) -> np.ndarray:
    """Weighted overlap-add inverse of :func:`_stft`, ``length`` samples."""
    window = np.hanning(n_fft + 1)[:-1]
    frames = np.fft.irfft(spec.T, n=n_fft, axis=1) * window
    total = n_fft + hop * (frames.shape[0] - 1)
    out = np.zeros(total)
    norm = np.zeros(total)
    for i, frame in enumerate(frames):
        out[i * hop:i * hop + n_fft] += frame
        norm[i * hop:i * hop + n_fft] += window ** 2
    out /= np.maximum(norm, 1e-8)
    pad = n_fft // 2
    out = out[pad:pad + length]
    return np.pad(out, (0, max(0, length - out.size)))


def time_stretch(x: np.ndarray, rate: float, n_fft: int = 2048, hop: int = 512) -> np.ndarray:
    """Change the tempo by ``rate`` (> 1 faster, < 1 slower) and keep the pitch.

    A plain phase vocoder in numpy: magnitudes interpolated between analysis frames at
    fractional positions, phases advanced by each bin's measured instantaneous frequency.
    Transients smear a little (the classic "phasiness"), as with any phase vocoder.

    Returns
    -------
    float32 (round(len(x) / rate),)
    """
    if rate <= 0:
        raise ValueError(f"rate must be positive, got {rate}")
    spec = _stft(x, n_fft, hop)
    n_bins, n_frames = spec.shape
    steps = np.arange(0.0, n_frames - 1, rate)
    spec = np.concatenate([spec, np.zeros((n_bins, 1))], axis=1)
    idx = steps.astype(int)
    frac = (steps - idx)[None, :]
    mag = (1 - frac) * np.abs(spec[:, idx]) + frac * np.abs(spec[:, idx + 1])
    expected = 2 * np.pi * hop * np.arange(n_bins) / n_fft
    dphi = np.angle(spec[:, idx + 1]) - np.angle(spec[:, idx]) - expected[:, None]
    dphi -= 2 * np.pi * np.round(dphi / (2 * np.pi))
    advance = expected[:, None] + dphi
    phase = np.angle(spec[:, :1]) + np.concatenate(
        [np.zeros((n_bins, 1)), np.cumsum(advance[:, :-1], axis=1)], axis=1)
    length = int(round(len(x) / rate))
    return _istft(mag * np.exp(1j * phase), n_fft, hop, length).astype(np.float32)


def pitch_shift(x: np.ndarray, rate: int, semitones: float) -> np.ndarray:
    """Shift the pitch by ``semitones`` and keep the tempo: a phase-vocoder time stretch by
    the pitch ratio, then a soxr resampling back to the original duration.

    Returns
    -------
    float32, same length as ``x``.
    """
    import soxr

    ratio = 2.0 ** (semitones / 12.0)
    longer = time_stretch(x, 1.0 / ratio)
    y = soxr.resample(longer.astype(np.float64), rate * ratio, rate, quality="HQ")
    y = y[:len(x)]
    return np.pad(y, (0, len(x) - len(y))).astype(np.float32)


def white_noise(x: np.ndarray, snr_db: float, seed: int) -> np.ndarray:
    """``x`` plus seeded Gaussian white noise at ``snr_db`` below the signal's mean power."""
    x = np.asarray(x, dtype=np.float64)
    power = float(np.mean(x ** 2))
    noise = np.random.default_rng(seed).standard_normal(x.shape)
    return (x + noise * math.sqrt(power / 10 ** (snr_db / 10))).astype(np.float32)


def mp3_roundtrip(x: np.ndarray, rate: int, kbps: int = 128) -> np.ndarray:
    """Encode mono float audio as MP3 (LAME through PyAV/FFmpeg) and decode it again.

    Raises
    ------
    LuminaError
        This FFmpeg build has no MP3 encoder.
    """
    import av

    if "libmp3lame" not in av.codecs_available:
        raise LuminaError("this FFmpeg build (PyAV) has no MP3 encoder (libmp3lame)")
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp3") as out:
        stream = out.add_stream("libmp3lame", rate=rate, layout="mono")
        stream.bit_rate = int(kbps) * 1000
        resampler = av.AudioResampler(format=stream.codec_context.format, layout="mono",
                                      rate=rate)
        frame = av.AudioFrame.from_ndarray(np.asarray(x, dtype=np.float32)[None], format="flt",
                                           layout="mono")
        frame.sample_rate = rate
        for source in (frame, None):
            for resampled in resampler.resample(source):
                for packet in stream.encode(resampled):
                    out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    pieces = []
    with av.open(io.BytesIO(buf.getvalue()), mode="r") as inp:
        for decoded in inp.decode(audio=0):
            a = decoded.to_ndarray()
            if decoded.format.is_planar:
                pieces.append(a.mean(axis=0))
            else:
                pieces.append(a.reshape(-1, len(decoded.layout.channels)).mean(axis=1))
    y = np.concatenate(pieces).astype(np.float64)
    if np.issubdtype(a.dtype, np.integer):
        y /= float(np.iinfo(a.dtype).max)
    y = y[:len(x)]
    return np.pad(y, (0, len(x) - len(y))).astype(np.float32)


def apply_transform(name: str, x: np.ndarray, rate: int, config: ValidationConfig,
                    index: int) -> np.ndarray:
    """One of :data:`TRANSFORMS` applied to song ``index`` of the catalog."""
    if name == "mp3_128k":
        return mp3_roundtrip(x, rate, config.mp3_kbps)
    if name == "pitch_up_1":
        return pitch_shift(x, rate, config.pitch_semitones)
    if name == "pitch_down_1":
        return pitch_shift(x, rate, -config.pitch_semitones)
    if name == "tempo_up_5":
        return time_stretch(x, 1.0 + config.tempo_change)
    if name == "tempo_down_5":
        return time_stretch(x, 1.0 - config.tempo_change)
    if name == "noise_20db":
        return white_noise(x, config.noise_snr_db, config.noise_seed + index)
    if name == "excerpt_10s":
        start, length = config.excerpt()
        a = int(round(start * rate))
        return np.asarray(x[a:a + int(round(length * rate))], dtype=np.float32)
    raise ValueError(f"unknown transform {name!r}")


# --------------------------------------------------------------------------- baseline features


@lru_cache(maxsize=8)
def _mel_filterbank(rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """Triangular filters (n_mels, n_fft // 2 + 1) on the HTK mel scale, area-normalised."""
    def mel(f):
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    def hz(m):
        return 700.0 * (10.0 ** (np.asarray(m) / 2595.0) - 1.0)

    freqs = np.fft.rfftfreq(n_fft, 1.0 / rate)
    edges = hz(np.linspace(mel(fmin), mel(fmax), n_mels + 2))
    fb = np.zeros((n_mels, freqs.size))
    for m in range(n_mels):
        lo, mid, hi = edges[m], edges[m + 1], edges[m + 2]
        rise = (freqs - lo) / (mid - lo)
        fall = (hi - freqs) / (hi - mid)
        fb[m] = np.maximum(0.0, np.minimum(rise, fall)) * 2.0 / (hi - lo)
    return fb


@lru_cache(maxsize=8)
def _dct_matrix(n_out: int, n_in: int) -> np.ndarray:
    """Orthonormal DCT-II (n_out, n_in)."""
    k = np.arange(n_out)[:, None]
    n = np.arange(n_in)[None, :]
    m = np.cos(np.pi * k * (2 * n + 1) / (2 * n_in)) * math.sqrt(2.0 / n_in)
    m[0] /= math.sqrt(2.0)
    return m


def mfcc_mean(x: np.ndarray, rate: int, n_mfcc: int = 20, n_mels: int = 40, n_fft: int = 2048,
              hop: int = 1024, fmin: float = 20.0) -> np.ndarray:
    """Mean MFCC of a mono signal, without c0 (loudness): float64 (n_mfcc − 1,).

    Hann-windowed power spectra, ``n_mels`` triangular mel filters from ``fmin`` to Nyquist,
    natural log (floored 80 dB below the loudest band), orthonormal DCT-II; the mean over
    frames.
    """
    y = np.asarray(x, dtype=np.float64).reshape(-1)
    if y.size < n_fft:
        y = np.pad(y, (0, n_fft - y.size))
    frames = np.lib.stride_tricks.sliding_window_view(y, n_fft)[::hop]
    power = np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=1)) ** 2
    mel = power @ _mel_filterbank(rate, n_fft, n_mels, fmin, rate / 2.0).T
    # Floor at 80 dB below the loudest band, so a change of level moves only c0.
    floor = max(float(mel.max()) * 1e-8, 1e-20)
    coeffs = np.log(np.maximum(mel, floor)) @ _dct_matrix(n_mfcc, n_mels).T
    return coeffs.mean(axis=0)[1:]


def chroma_mean(x: np.ndarray, rate: int) -> np.ndarray:
    """Time-averaged 12-bin chroma (the demo catalog's plain "what notes" feature)."""
    from lumina.demo.catalog import chroma

    return chroma(x, rate)


def _baseline_scores(query: dict[str, np.ndarray], library: dict[str, np.ndarray]
                     ) -> dict[str, np.ndarray]:
    """Cosine scores of the baseline: ``{"chroma", "mfcc", "combined"}`` → (N,).

    Chroma is centred on the library mean, MFCC standardised with the library's mean and
    standard deviation per coefficient; "combined" is the mean of the two cosines (the
    cosine of the two unit vectors concatenated).
    """
    out = {}
    for name in ("chroma", "mfcc"):
        lib = np.asarray(library[name], dtype=np.float64)
        mean = lib.mean(axis=0)
        scale = lib.std(axis=0) + 1e-9 if name == "mfcc" else 1.0
        rows = (lib - mean) / scale
        q = (np.asarray(query[name], dtype=np.float64) - mean) / scale
        rows /= np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
        q /= max(float(np.linalg.norm(q)), 1e-12)
        out[name] = rows @ q
    out["combined"] = 0.5 * (out["chroma"] + out["mfcc"])
    return out


# --------------------------------------------------------------------------- the cache


class _FeatureCache:
    """One ``.npz`` per item (fingerprints per channel and baseline features), keyed by a
    string holding every parameter the item depends on."""

    def __init__(self, folder: Path, prefix: str) -> None:
        self.folder = folder
        self.prefix = prefix
        self.hits = 0
        self.misses = 0

    def _path(self, key: str) -> Path:
        digest = hashlib.sha256(f"{self.prefix}|{key}".encode()).hexdigest()[:24]
        return self.folder / f"{digest}.npz"

    def get(self, key: str) -> dict[str, np.ndarray] | None:
        path = self._path(key)
        if not path.is_file():
            return None
        try:
            with np.load(path) as data:
                out = {k: np.array(data[k]) for k in data.files}
        except (OSError, ValueError, EOFError):
            return None
        self.hits += 1
        return out

    def put(self, key: str, values: dict[str, np.ndarray]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self._path(key)
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.part.npz")
        np.savez(tmp, **values)
        os.replace(tmp, path)
        self.misses += 1


# --------------------------------------------------------------------------- the study


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _relative_variance(a: np.ndarray, b: np.ndarray) -> float:
    """Between-run variance over the fingerprint's mean square, in %: for two runs
    ``Σ(a − b)² / Σ(a² + b²) · 100``."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    denom = float(np.sum(a * a + b * b))
    return 100.0 * float(np.sum((a - b) ** 2)) / denom if denom > 0 else 0.0


def _rank_desc(scores: np.ndarray) -> np.ndarray:
    return np.argsort(-np.asarray(scores), kind="stable")


def _fraction(flags: Iterable[bool]) -> float:
    flags = list(flags)
    return float(np.mean(flags)) if flags else float("nan")


@dataclass
class _Row:
    id: str
    row: int
    measure: str
    channel: str
    value: float | None
    unit: str = "fraction"
    chance: float | None = None
    goal: str | None = None
    goal_met: bool | None = None
    paper: str | None = None
    n: int | None = None
    note: str | None = None


def _goal(value: float | None, goal: str | None) -> bool | None:
    if value is None or goal is None or not math.isfinite(value):
        return None
    op, _, threshold = goal.partition(" ")
    limit = float(threshold.rstrip("%"))
    return value >= limit if op == ">=" else value <= limit


@dataclass
class Study:
    """One validation run: the engine, the library under test and the rows measured so far.

    :func:`run_validation` drives it on the demo catalog; ``bench/realdata.py`` attaches
    another library (:meth:`attach_library`), replaces :meth:`unrelated_items`, and runs
    rows 3–5 with the same code.
    """

    config: ValidationConfig
    model: object
    progress: ProgressFactory | None
    say: Callable[[str], None]
    rows: list[_Row] = field(default_factory=list)
    details: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)

    # -- helpers --------------------------------------------------------------------------
    def bar(self, label: str):
        return self.progress(label) if self.progress is not None else None

    def add(self, **kwargs) -> None:
        row = _Row(**kwargs)
        if row.goal_met is None:
            row.goal_met = _goal(row.value, row.goal)
        self.rows.append(row)

    # -- setup: catalog, library, caches ---------------------------------------------------
    def setup(self) -> None:
        from lumina.demo.catalog import build_catalog
        from lumina.demo.run import demo_cache

        cfg = self.config
        model = self.model
        self.catalog = build_catalog(cfg.n_compositions, cfg.n_timbres, seconds=cfg.seconds,
                                     seed=cfg.catalog_seed)
        if model.sample_rate != self.catalog.rate:
            raise LuminaError(f"the validation needs a {self.catalog.rate} Hz model; "
                              f"{model.name} runs at {model.sample_rate} Hz")
        self.init_engine(demo_cache(model.weights_sha256, cfg.catalog_key))
        self._build_library()

    def init_engine(self, cache: Path) -> None:
        """The fingerprinter (CPU, library defaults) and the feature cache under ``cache``."""
        from lumina.fingerprint.fingerprinter import Fingerprinter
        from lumina.library import composition_rendering_for
        from lumina.workspace import identity_of_fingerprinter

        self.rate = int(self.model.sample_rate)
        self.cache = Path(cache)
        self.rendering = composition_rendering_for(None, self.config.composition_rendering)
        self.fingerprinter = Fingerprinter(self.model, device="cpu",
                                           composition_rendering=self.rendering)
        identity = identity_of_fingerprinter(self.fingerprinter)
        self.identity = identity
        # None fields are left out so the paper's mode keeps the caches it had before the
        # rendering became part of the identity.
        ident = json.dumps({k: identity[k] for k in sorted(identity) if identity[k] is not None},
                           sort_keys=True, default=str)
        self.store = _FeatureCache(self.cache / "validation" / f"v{CACHE_VERSION}",
                                   hashlib.sha256(ident.encode()).hexdigest()[:16])

    def _build_library(self) -> None:
        """The demo library (the one ``lumina demo`` uses), built if missing."""
        from lumina.demo.run import prepare_demo_library

        cfg = self.config
        demo = prepare_demo_library(model=self.model, n_compositions=cfg.n_compositions,
                                    n_timbres=cfg.n_timbres, seconds=cfg.seconds,
                                    catalog_seed=cfg.catalog_seed, progress=self.bar,
                                    say=self.say,
                                    composition_rendering=cfg.composition_rendering)
        paths = [demo.cache / "catalog" / s.filename for s in self.catalog.songs]
        self.song_paths = paths
        self.attach_library(demo.path, paths, [s.id for s in self.catalog.songs])

    def attach_library(self, library_path: Path, paths: Sequence[Path],
                       names: Sequence[str]) -> None:
        """Load the prepared library's fingerprints in the order of ``paths`` (matched by
        file name), rebuild the channel indexes in memory, and compute the baseline features
        of the same files. ``names`` key the feature cache."""
        from lumina.attribution import build_channel_index
        from lumina.library import Library

        with Library.open(library_path) as lib:
            prepared = lib.prepare()
            by_file = {Path(s.source_path).name: s.id for s in lib.songs()}
            row_of_id = {int(sid): r for r, sid in enumerate(prepared.song_ids)}
            try:
                rows = [row_of_id[by_file[Path(p).name]] for p in paths]
            except KeyError:
                raise LuminaError(f"the library {lib.path} does not hold every song; delete "
                                  "the folder to rebuild it") from None
            self.library_digest = prepared.digest
            self.prepare_params = {"lambda": prepared.lam, "cohort_size": prepared.cohort_size,
                                   "cohort_seed": prepared.seed, "top_k": prepared.top_k}
            # Library rows in song order, copied out of the memory maps.
            self.library_unit = {ch: np.array(index.unit, dtype=np.float64)[rows]
                                 for ch, index in prepared.indexes.items()}
        self.song_paths = list(paths)
        self.indexes = {}
        for ch, mat in self.library_unit.items():
            self.indexes[ch] = build_channel_index(mat, lam=self.prepare_params["lambda"],
                                                   cohort_size=self.prepare_params["cohort_size"],
                                                   seed=self.prepare_params["cohort_seed"],
                                                   top_k=self.prepare_params["top_k"])
        # Baseline features of the library songs, from the same files.
        bar = self.bar("library features")
        self.library_features = []
        for i, (name, path) in enumerate(zip(names, paths, strict=True)):
            self.library_features.append(self._file_features("library", name, Path(path),
                                                             False))
            if bar is not None:
                bar(i + 1, len(paths))

    # -- fingerprints and features of queries ----------------------------------------------
    def _compute(self, audio: np.ndarray, fingerprints: bool = True) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {
            "chroma": chroma_mean(audio, self.rate),
            "mfcc": mfcc_mean(audio, self.rate),
        }
        if fingerprints:
            fp = self.fingerprinter.fingerprint_audio(audio)
            for ch, v in fp.channels.items():
                out[f"fp_{ch}"] = np.asarray(v, dtype=np.float64)
        return out

    def load(self, path: Path) -> np.ndarray:
        """Mono float32 samples of a file at the model's rate (as the engine decodes it)."""
        from lumina.audio import load_audio

        return load_audio(path, self.rate).samples

    @staticmethod
    def _file_key(section: str, name: str, path: Path, fingerprints: bool) -> str:
        return f"{section}|{name}|{path.name}|fp={fingerprints}"

    def _file_features(self, section: str, name: str, path: Path,
                       fingerprints: bool) -> dict[str, np.ndarray]:
        """Baseline features (and, if asked, fingerprints) of an audio file, cached."""
        key = self._file_key(section, name, path, fingerprints)
        values = self.store.get(key)
        if values is None:
            values = self._compute(self.load(path), fingerprints=False)
            if fingerprints:
                # From the file, as `lumina attribute` would read the track.
                fp = self.fingerprinter.fingerprint_file(path)
                for ch, v in fp.channels.items():
                    values[f"fp_{ch}"] = np.asarray(v, dtype=np.float64)
            self.store.put(key, values)
        return values

    def _features(self, section: str, items: Sequence[tuple[str, Callable[[], np.ndarray]]]
                  ) -> list[dict[str, np.ndarray]]:
        out = []
        bar = self.bar(section)
        for i, (key, make_audio) in enumerate(items):
            full_key = f"{section}|{key}"
            values = self.store.get(full_key)
            if values is None:
                values = self._compute(make_audio())
                self.store.put(full_key, values)
            out.append(values)
            if bar is not None:
                bar(i + 1, len(items))
        return out

    def z_scores(self, values: dict[str, np.ndarray], null: str,
                 index: dict | None = None) -> dict[str, np.ndarray]:
        from lumina.attribution import channel_scores

        index = index or self.indexes
        return {ch: channel_scores(values[f"fp_{ch}"], index[ch], null=null)[1]
                for ch in self.model.channels}

    # -- row 1 ----------------------------------------------------------------------------
    def reproducibility(self) -> None:
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
                            composition_rendering=self.rendering)
        many = Fingerprinter(self.model, device="cpu", batch_size=cfg.repro_batch,
                             composition_rendering=self.rendering)
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
                        results[kind][ch].append(_relative_variance(a.channels[ch],
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

    # -- row 2 ----------------------------------------------------------------------------
    def continuations(self) -> list[tuple[int, int, dict[str, np.ndarray]]]:
        """(catalog index, seed, features) of every continuation; WAVs cached."""
        import soundfile as sf

        from lumina.demo.generate import generate_query

        cfg = self.config
        folder = self.cache / "validation" / "continuations"
        folder.mkdir(parents=True, exist_ok=True)
        items = []
        for r in range(cfg.repeats):
            for i, song in enumerate(self.catalog.songs):
                seed = cfg.generation_seed + 100 * r + i
                name = (f"{song.id}-p{cfg.prompt_seconds:g}-s{cfg.continuation_seconds:g}"
                        f"-seed{seed}-t{cfg.temperature:g}-k{cfg.top_k}.wav")
                items.append((i, seed, song, folder / name))
        out = []
        bar = self.bar("continuations")
        for n, (i, seed, song, path) in enumerate(items):
            values = self.store.get(self._file_key("continuation", song.id, path, True))
            if values is None and not path.exists():
                audio = generate_query(self.model, self.catalog, song,
                                       prompt_seconds=cfg.prompt_seconds,
                                       seconds=cfg.continuation_seconds, seed=seed,
                                       temperature=cfg.temperature, top_k=cfg.top_k)
                tmp = path.with_name(path.stem + ".part.wav")
                sf.write(tmp, audio, self.rate, subtype="PCM_16")
                os.replace(tmp, path)
            if values is None:
                values = self._file_features("continuation", song.id, path, True)
            out.append((i, seed, values))
            if bar is not None:
                bar(n + 1, len(items))
        return out

    def causal_link(self) -> list[tuple[int, int, dict[str, np.ndarray]]]:
        from lumina.attribution import DEFAULT_NULL

        queries = self.continuations()
        n_lib = len(self.catalog.songs)
        songs = self.catalog.songs
        ranks: dict[str, list[int]] = {ch: [] for ch in self.model.channels}
        ranks_cos: dict[str, list[int]] = {ch: [] for ch in self.model.channels}
        level: dict[str, dict[str, list[bool]]] = {
            ch: {"composition": [], "timbre": []} for ch in self.model.channels}
        base_ranks: dict[str, list[int]] = {"chroma": [], "mfcc": [], "combined": []}
        for i, _seed, values in queries:
            z = self.z_scores(values, DEFAULT_NULL)
            z_cos = self.z_scores(values, "analytic")
            for ch in self.model.channels:
                order = _rank_desc(z[ch])
                ranks[ch].append(int(np.flatnonzero(order == i)[0]))
                ranks_cos[ch].append(int(np.flatnonzero(_rank_desc(z_cos[ch]) == i)[0]))
                top = songs[int(order[0])]
                level[ch]["composition"].append(top.composition_id == songs[i].composition_id)
                level[ch]["timbre"].append(top.timbre_id == songs[i].timbre_id)
            scores = _baseline_scores(values, self._library_matrix())
            for name, s in scores.items():
                base_ranks[name].append(int(np.flatnonzero(_rank_desc(s) == i)[0]))
        nq = len(queries)
        for k in (1, 3):
            for ch in self.model.channels:
                self.add(id=f"2.top{k}.{ch}", row=2,
                         measure=f"source song in top-{k}", channel=ch,
                         value=_fraction(r < k for r in ranks[ch]), chance=min(1.0, k / n_lib),
                         goal=">= 0.95" if k == 1 else None,
                         paper="94 % (ground-truth prompts)" if k == 1 else None, n=nq)
        for k in (1, 3):
            self.add(id=f"6.causal.top{k}", row=6,
                     measure=f"row 2: source song in top-{k} (MFCC+chroma)",
                     channel="baseline", value=_fraction(r < k for r in base_ranks["combined"]),
                     chance=min(1.0, k / n_lib), n=nq)
        self.details["causal_link"] = {
            "ranked_by": f"z of the default null ({DEFAULT_NULL}), as the product ranks",
            "source_rank": ranks,
            "top1_same_composition": {ch: _fraction(v["composition"]) for ch, v in level.items()},
            "top1_same_timbre": {ch: _fraction(v["timbre"]) for ch, v in level.items()},
            "top1_by_raw_cosine": {ch: _fraction(r == 0 for r in v)
                                   for ch, v in ranks_cos.items()},
            "baseline_top1": {k: _fraction(r == 0 for r in v) for k, v in base_ranks.items()},
            "baseline_top3": {k: _fraction(r < 3 for r in v) for k, v in base_ranks.items()},
            "chance": {"song": 1 / n_lib, "composition": 1 / self.config.n_compositions,
                       "timbre": 1 / self.config.n_timbres},
        }
        return queries

    def _library_matrix(self, drop: int | None = None) -> dict[str, np.ndarray]:
        feats = self.library_features
        keep = [j for j in range(len(feats)) if j != drop]
        return {name: np.stack([feats[j][name] for j in keep]) for name in ("chroma", "mfcc")}

    # -- row 3 ----------------------------------------------------------------------------
    def separation(self) -> None:
        from lumina.attribution import DEFAULT_NULL, build_channel_index, channel_scores

        songs = self.catalog.songs
        n = len(songs)
        hits = {ch: {"composition": [], "timbre": []} for ch in self.model.channels}
        hits_cos = {ch: {"composition": [], "timbre": []} for ch in self.model.channels}
        base = {name: {"composition": [], "timbre": []} for name in ("chroma", "mfcc",
                                                                      "combined")}
        p = self.prepare_params
        bar = self.bar("separation")
        for q in range(n):
            keep = np.array([j for j in range(n) if j != q])
            for ch in self.model.channels:
                index = build_channel_index(self.library_unit[ch][keep], lam=p["lambda"],
                                            cohort_size=p["cohort_size"],
                                            seed=p["cohort_seed"], top_k=p["top_k"])
                values = {f"fp_{ch}": self.library_unit[ch][q]}
                for null, store in ((DEFAULT_NULL, hits), ("analytic", hits_cos)):
                    z = channel_scores(values[f"fp_{ch}"], index, null=null)[1]
                    top = songs[int(keep[int(_rank_desc(z)[0])])]
                    store[ch]["composition"].append(top.composition_id == songs[q].composition_id)
                    store[ch]["timbre"].append(top.timbre_id == songs[q].timbre_id)
            scores = _baseline_scores(self.library_features[q], self._library_matrix(drop=q))
            for name, s in scores.items():
                top = songs[int(keep[int(_rank_desc(s)[0])])]
                base[name]["composition"].append(top.composition_id == songs[q].composition_id)
                base[name]["timbre"].append(top.timbre_id == songs[q].timbre_id)
            if bar is not None:
                bar(q + 1, n)
        # Chance: a random other song shares the query's composition (timbre).
        chance_comp = float(np.mean([
            sum(o.composition_id == s.composition_id for o in songs if o is not s) / (n - 1)
            for s in songs]))
        chance_timbre = float(np.mean([
            sum(o.timbre_id == s.timbre_id for o in songs if o is not s) / (n - 1)
            for s in songs]))
        self.add(id="3.composition", row=3,
                 measure="LOO top-1 has the same composition",
                 channel="composition", value=_fraction(hits["composition"]["composition"]),
                 chance=chance_comp, goal=">= 0.90", n=n)
        self.add(id="3.production", row=3,
                 measure="LOO top-1 has the same timbre",
                 channel="production", value=_fraction(hits["production"]["timbre"]),
                 chance=chance_timbre, goal=">= 0.90", n=n)
        self.add(id="6.separation.composition", row=6,
                 measure="row 3: same composition (chroma)",
                 channel="baseline", value=_fraction(base["chroma"]["composition"]),
                 chance=chance_comp, n=n)
        self.add(id="6.separation.production", row=6,
                 measure="row 3: same timbre (MFCC)",
                 channel="baseline", value=_fraction(base["mfcc"]["timbre"]),
                 chance=chance_timbre, n=n)
        self.details["separation"] = {
            "ranked_by": f"z of the default null ({DEFAULT_NULL}) on the library without the "
                         "query song (index rebuilt per query)",
            "top1_same": {ch: {k: _fraction(v) for k, v in d.items()} for ch, d in hits.items()},
            "top1_same_by_raw_cosine": {ch: {k: _fraction(v) for k, v in d.items()}
                                        for ch, d in hits_cos.items()},
            "baseline_top1_same": {name: {k: _fraction(v) for k, v in d.items()}
                                   for name, d in base.items()},
            "chance": {"composition": chance_comp, "timbre": chance_timbre},
        }

    # -- row 4 ----------------------------------------------------------------------------
    def unrelated_items(self) -> list[tuple[str, Callable[[], np.ndarray]]]:
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

    def gate_calibration(self, true_queries: Sequence[tuple[int, int, dict[str, np.ndarray]]],
                         true_sources: str = "the continuations of row 2 against the song "
                                             "they continue") -> None:
        from lumina.attribution import DEFAULT_NULL, NULLS, gate_z

        items = self.unrelated_items()
        unrelated = self._features("heldout", items)
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
        for null in (DEFAULT_NULL, *[x for x in NULLS if x != DEFAULT_NULL]):
            tag = " (default)" if null == DEFAULT_NULL else ""
            for ch in self.model.channels:
                self.add(id=f"4.fpr.{null}.{ch}", row=4,
                         measure=f"unrelated pairs passing 95 % gate, {null}{tag}",
                         channel=ch, value=fpr[null][ch], chance=0.05, goal="<= 0.05",
                         n=n_pairs, note="unrelated pairs: held-out compositions in held-out "
                                         "timbres vs every library song")
        for null in (DEFAULT_NULL, *[x for x in NULLS if x != DEFAULT_NULL]):
            tag = " (default)" if null == DEFAULT_NULL else ""
            for ch in self.model.channels:
                self.add(id=f"4.baseline_confidence_1sigma.{null}.{ch}", row=4,
                         measure=f"true source passes 1σ gate, {null}{tag}",
                         channel=ch, value=tpr_1sigma[null][ch],
                         chance=1 - _phi(1.0), paper="> 68 %", n=len(true_queries))
        for null in (DEFAULT_NULL, *[x for x in NULLS if x != DEFAULT_NULL]):
            tag = " (default)" if null == DEFAULT_NULL else ""
            for ch in self.model.channels:
                self.add(id=f"4.tpr.{null}.{ch}", row=4,
                         measure=f"true source passes 95 % gate, {null}{tag}",
                         channel=ch, value=tpr[null][ch], chance=0.05, n=len(true_queries))
        recommended, reason = _pick_null(fpr, tpr)
        self.details["gate_calibration"] = {
            "unrelated_queries": [k for k, _ in items],
            "unrelated_pairs_per_channel": n_pairs,
            "true_sources": true_sources,
            "fpr_95": fpr, "fpr_1sigma": fpr_1sigma, "tpr_95": tpr, "tpr_1sigma": tpr_1sigma,
            "z_gate_95": z95, "z_gate_1sigma": 1.0,
            "recommended_null": recommended, "reason": reason,
            "default_null": DEFAULT_NULL,
        }

    # -- row 5 ----------------------------------------------------------------------------
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
                  "excerpt_10s": f"{ex_start:g}+{ex_len:g}"}
        details: dict = {"top1": {}, "top1_by_raw_cosine": {}, "baseline_top1": {},
                         "source_rank": {}}
        mp3_error = None
        transformed: dict[str, list[dict[str, np.ndarray]]] = {}
        for name in TRANSFORMS:
            items = []
            for i, song in enumerate(songs):
                def make(i=i, name=name):
                    return apply_transform(name, audio_of(i), self.rate, cfg, i)
                items.append((f"{name}|{params[name]}|{song.id}", make))
            try:
                feats = self._features(f"robust {name}", items)
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
            top1_cos = {ch: [] for ch in self.model.channels}
            ranks = {ch: [] for ch in self.model.channels}
            base = {"chroma": [], "mfcc": [], "combined": []}
            for i, values in enumerate(feats):
                z = self.z_scores(values, DEFAULT_NULL)
                zc = self.z_scores(values, "analytic")
                for ch in self.model.channels:
                    order = _rank_desc(z[ch])
                    ranks[ch].append(int(np.flatnonzero(order == i)[0]))
                    top1[ch].append(int(order[0]) == i)
                    top1_cos[ch].append(int(_rank_desc(zc[ch])[0]) == i)
                for bname, s in _baseline_scores(values, self._library_matrix()).items():
                    base[bname].append(int(_rank_desc(s)[0]) == i)
            for ch in self.model.channels:
                self.add(id=f"5.{name}.{ch}", row=5,
                         measure=f"top-1 after {TRANSFORM_LABELS[name]}",
                         channel=ch, value=_fraction(top1[ch]), chance=1 / n, goal=">= 0.90",
                         n=n)
            self.add(id=f"6.robust.{name}", row=6,
                     measure=f"row 5: top-1 after {TRANSFORM_LABELS[name]}",
                     channel="baseline", value=_fraction(base["combined"]), chance=1 / n, n=n)
            details["top1"][name] = {ch: _fraction(v) for ch, v in top1.items()}
            details["top1_by_raw_cosine"][name] = {ch: _fraction(v) for ch, v in top1_cos.items()}
            details["baseline_top1"][name] = {k: _fraction(v) for k, v in base.items()}
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


def _phi(z: float) -> float:
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def _pick_null(fpr: dict[str, dict[str, float]], tpr: dict[str, dict[str, float]]
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
    study.rows.sort(key=lambda r: r.row)
    cfg = config
    n_songs = len(study.catalog.songs)
    protocol = {
        "command": "lumina validate" + (" --quick" if cfg.quick else "") + (
            f" --composition-rendering {cfg.composition_rendering}"),
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


# --------------------------------------------------------------------------- output


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit == "%":
        return f"{value:.3f} %" if value == 0 or value >= 0.001 else f"{value:.1e} %"
    return f"{value:.3f}"


def _fmt_chance(row: dict) -> str:
    return "" if row.get("chance") is None else f"{row['chance']:.3f}"


def _verdict(row: dict) -> str:
    met = row.get("goal_met")
    return "" if met is None else ("met" if met else "MISSED")


_ROW_TITLES = {
    1: "1 Reproducibility: relative variance of fingerprints between two runs",
    2: "2 Causal link: continuations of catalog songs, ranked against the library",
    3: "3 Dual-channel separation: leave-one-out on compositions x timbres",
    4: "4 Gate calibration: fraction of pairs whose confidence passes the gate",
    5: "5 Robustness: the transformed song's source is top-1",
    6: "6 Baseline: mean MFCC + chroma, cosine (MFCC+chroma unless named)",
    8: "8 Influence: linear datamodeling score (Spearman), from bench/lds.py",
}


def format_table(result: dict) -> str:
    """The plain-text table ``lumina validate`` prints: one number per line."""
    lines = []
    width = max(len(r["measure"]) for r in result["rows"]) + 2
    header = (f"{'measure':<{width}} {'channel':<12} {'value':>11} {'chance':>7}  "
              f"{'goal':<9} {'':<6}")
    current = None
    for r in result["rows"]:
        if r["row"] != current:
            current = r["row"]
            lines.append("")
            lines.append(_ROW_TITLES[current])
            lines.append(header)
        goal = r["goal"] or ""
        lines.append(f"{r['measure']:<{width}} {r['channel']:<12} "
                     f"{_fmt(r['value'], r['unit']):>11} {_fmt_chance(r):>7}  {goal:<9} "
                     f"{_verdict(r)}".rstrip())
    lines.append("")
    lines.append(f"default null: {result['default_null']}; the numbers support: "
                 f"{result['recommended_null']} ({result['recommended_null_reason']})")
    p = result["protocol"]
    lines.append(f"model {p['model']['name']} {p['model']['weights_sha256'][:12]}, catalog "
                 f"{p['catalog']['cache_key']} ({p['catalog']['songs']} songs), lumina "
                 f"{p['software_version']}, {p['elapsed_seconds']:.0f} s")
    return "\n".join(lines[1:])


def to_markdown(result: dict, notes: str = "") -> str:
    """The table and protocol as Markdown; ``notes`` (hand-written) follow the marker."""
    p = result["protocol"]
    cfg = p["config"]
    out = [
        "# Validation study",
        "",
        f"Generated by `{p['command']}` (lumina {p['software_version']}) on {p['created']}, "
        f"{p['elapsed_seconds']:.0f} s on {p['torch_threads']} CPU thread(s) "
        f"({p['platform']}, Python {p['python']}, torch {p['torch']}, numpy {p['numpy']}).",
        "",
        "Every line is one number. *Chance* is what a random ranking (rows 2, 3, 5, 6), a "
        "calibrated gate (row 4, false-positive rate) or a calibrated 1σ gate on unrelated "
        "pairs (row 4, 1σ) would give. *Goal* is the issue's target.",
        "",
        "| # | measure | channel | value | chance | goal | verdict | paper |",
        "|---|---|---|---:|---:|---|---|---|",
    ]
    for r in result["rows"]:
        out.append(f"| {r['row']} | {r['measure']} | {r['channel']} | "
                   f"{_fmt(r['value'], r['unit'])} | {_fmt_chance(r)} | {r['goal'] or ''} | "
                   f"{_verdict(r)} | {r['paper'] or ''} |")
    gate = result["details"]["gate_calibration"]
    out += [
        "",
        f"**Null model.** The product's default is `{result['default_null']}`. "
        f"The numbers support `{result['recommended_null']}`: {result['recommended_null_reason']}.",
        "",
        "## Protocol",
        "",
        f"- Model: `{p['model']['name']}`, weights SHA-256 `{p['model']['weights_sha256']}`; "
        f"fingerprints D = {p['fingerprint'].get('dim')}, projection seed "
        f"{p['fingerprint'].get('projection_seed')}, {p['fingerprint'].get('projection_blocks')} "
        f"Kronecker blocks, {p['fingerprint'].get('chunk_seconds')} s chunks; the composition "
        f"channel on {rendering_words(p['fingerprint'].get('composition_rendering'))}.",
        f"- Catalog: `build_catalog({cfg['n_compositions']}, {cfg['n_timbres']}, "
        f"seconds={cfg['seconds']:g}, seed={cfg['catalog_seed']})` — {p['catalog']['songs']} "
        f"songs, compositions × timbres, rendered to 16-bit WAV and indexed into the demo "
        f"library (digest `{p['catalog']['library_digest'][:16]}…`).",
        f"- Attribution: null `{p['attribution']['default_null']}` (default), gate "
        f"{p['attribution']['gate']} (z ≥ {p['attribution']['z_gate']:.4f}), λ = "
        f"{p['attribution']['lambda']}, cohort {p['attribution']['cohort_size']}. Rankings "
        "use the product's order (z of the default null); `details` in the JSON also has the "
        "raw-cosine order.",
        f"- Row 1: {cfg['repro_tracks']} catalog compositions rendered to "
        f"{cfg['repro_seconds']:g} s "
        f"({result['details']['reproducibility']['chunks_per_track']} chunks each), fingerprinted "
        f"twice with the same settings, with batch size 1 and {cfg['repro_batch']}, and with 1 "
        "and 2 torch threads. Relative variance = 100 · Σ(a − b)² / Σ(a² + b²), the maximum "
        f"over tracks. Devices: {result['details']['reproducibility']['devices']}.",
        f"- Row 2: every catalog song's first {cfg['prompt_seconds']:g} s continued for "
        f"{cfg['continuation_seconds']:g} s by the model ({cfg['repeats']} continuation(s) per "
        f"song, seed = {cfg['generation_seed']} + 100·repeat + song index, temperature "
        f"{cfg['temperature']:g}, top-k {cfg['top_k']}), written as 16-bit WAV; the "
        "continuation alone is fingerprinted and ranked against the whole library.",
        "- Row 3: each library song is the query; its row is removed and the channel index "
        "(centring, cohort statistics, regression) rebuilt on the other songs.",
        f"- Row 4: {cfg['n_heldout']} held-out compositions (`heldout_compositions`) × the "
        f"held-out timbres {list(HELDOUT_TIMBRES)}, {cfg['seconds']:g} s each: "
        f"{gate['unrelated_pairs_per_channel']} unrelated query–song pairs per channel. True "
        "sources: the continuations of row 2 against the song they continue. The 1σ gate is "
        "z ≥ 1 (confidence ≥ 0.841), the paper's \"baseline confidence\".",
        "- Row 5: " + "; ".join(f"{k}: {v}" for k, v in
                                result["details"]["robustness"]["transforms"].items()) + ".",
        f"- Row 6: {p['baseline']}. Chroma stands in for the composition channel, MFCC for the "
        "production channel.",
        f"- Cache: `{p['cache']}` under the cache root (`$LUMINA_CACHE` or the "
        "user cache folder): continuations, fingerprints and features, keyed by model digest "
        "and parameters.",
        "",
        "Diagnostic (JSON `details.robustness.codes_unchanged`): fraction of codec codes per "
        "codebook, first 10 s of the first 8 songs, that a sample-aligned transform leaves "
        "unchanged — " + "; ".join(
            f"{TRANSFORM_LABELS[k]}: {', '.join(f'{v:.2f}' for v in vals)}"
            for k, vals in result["details"]["robustness"].get("codes_unchanged", {}).items())
        + ". Unrelated pairs passing the 1σ gate: " + "; ".join(
            f"{null} {', '.join(f'{ch} {v:.3f}' for ch, v in per.items())}"
            for null, per in gate["fpr_1sigma"].items()) + ".",
        "",
        f"Timings (s): {', '.join(f'{k} {v}' for k, v in p['timings_seconds'].items())}.",
        "",
        NOTES_MARKER,
    ]
    text = "\n".join(out) + "\n"
    notes = notes.lstrip("\n")
    return text + "\n" + notes if notes else text


def _cache_label(path: str) -> str:
    parts = Path(path).parts
    return "/".join(parts[parts.index("demo"):]) if "demo" in parts else path


def write_markdown(result: dict, path: str | os.PathLike[str]) -> Path:
    """Write :func:`to_markdown`, keeping any hand-written notes after :data:`NOTES_MARKER`
    in an existing file."""
    path = Path(path)
    notes = ""
    if path.is_file():
        old = path.read_text(encoding="utf-8")
        if NOTES_MARKER in old:
            notes = old.split(NOTES_MARKER, 1)[1]
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(to_markdown(result, notes), encoding="utf-8")
    os.replace(tmp, path)
    return path


def write_json(result: dict, path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(result, indent=2, ensure_ascii=False, allow_nan=False,
                              default=_json_default) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def _json_default(obj: object) -> object:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def check_output_path(path: str | os.PathLike[str] | None, what: str) -> None:
    """Refuse an output path that cannot be written, before hours of work."""
    if path is None:
        return
    p = Path(path)
    if p.is_dir():
        raise LuminaError(f"{what} {p} is a folder; give a file name")
    if not p.parent.exists():
        raise LuminaError(f"{what} {p}: folder {p.parent} does not exist")
    if not os.access(p.parent, os.W_OK):
        raise LuminaError(f"{what} {p}: folder {p.parent} is not writable")


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use: lumina validate [--quick] [--json OUT] [--markdown OUT]")
