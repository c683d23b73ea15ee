"""What every row of the study works with (:class:`StudyBase`): the engine, the library
under test, cached features of queries, and the rows measured so far.

The rows themselves are mixins (``rows_*.py``) that :class:`lumina.validation.study.Study`
puts together; they reach the library and the engine only through this class.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lumina.errors import LuminaError
from lumina.validation.baselines import chroma_mean, mfcc_mean
from lumina.validation.config import ValidationConfig
from lumina.validation.feature_cache import CACHE_VERSION, FeatureCache
from lumina.validation.rows import Row

__all__ = ["AudioItem", "ProgressFactory", "Query", "StudyBase"]

ProgressFactory = Callable[[str], Callable[[int, int], None]]
#: (cache key, audio maker) of one query: the audio is made only on a cache miss.
AudioItem = tuple[str, Callable[[], np.ndarray]]
#: (library index of the true source, generation seed, features) of a query with a source.
Query = tuple[int, int, dict[str, np.ndarray]]


@dataclass
class StudyBase:
    """One validation run's engine, library and rows; see :class:`~lumina.validation.Study`."""

    config: ValidationConfig
    model: object
    progress: ProgressFactory | None
    say: Callable[[str], None]
    rows: list[Row] = field(default_factory=list)
    details: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)

    # -- helpers --------------------------------------------------------------------------
    def bar(self, label: str) -> Callable[[int, int], None] | None:
        """A ``progress(done, total)`` callback for a labelled step, or None."""
        return self.progress(label) if self.progress is not None else None

    def add(self, **kwargs: object) -> None:
        """Record one number of the table (the fields of :class:`Row`)."""
        self.rows.append(Row(**kwargs))

    # -- setup: catalog, library, caches ---------------------------------------------------
    def setup(self) -> None:
        """The demo catalog, the engine and the demo library (built if missing)."""
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
        from lumina.fingerprint.identity import identity_of_fingerprinter
        from lumina.library import composition_rendering_for, loudness_for, output_function_for

        self.rate = int(self.model.sample_rate)
        self.cache = Path(cache)
        self.rendering = composition_rendering_for(None, self.config.composition_rendering)
        self.output_function = output_function_for(None, self.config.output_function)
        self.loudness = loudness_for(None, self.config.loudness)
        self.fingerprinter = Fingerprinter(self.model, device="cpu",
                                           composition_rendering=self.rendering,
                                           output_function=self.output_function,
                                           loudness=self.loudness)
        identity = identity_of_fingerprinter(self.fingerprinter)
        self.identity = identity
        # None fields are left out so the paper's mode keeps the caches it had before the
        # rendering became part of the identity.
        ident = json.dumps({k: identity[k] for k in sorted(identity) if identity[k] is not None},
                           sort_keys=True, default=str)
        self.store = FeatureCache(self.cache / "validation" / f"v{CACHE_VERSION}",
                                   hashlib.sha256(ident.encode()).hexdigest()[:16])

    def _build_library(self) -> None:
        """The demo library (the one ``lumina demo`` uses), built if missing."""
        from lumina.demo.run import prepare_demo_library

        cfg = self.config
        demo = prepare_demo_library(model=self.model, n_compositions=cfg.n_compositions,
                                    n_timbres=cfg.n_timbres, seconds=cfg.seconds,
                                    catalog_seed=cfg.catalog_seed, progress=self.bar,
                                    say=self.say,
                                    composition_rendering=cfg.composition_rendering,
                                    output_function=cfg.output_function, loudness=cfg.loudness)
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

        self.library_path = Path(library_path)
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
            self.library_features.append(self.file_features("library", name, Path(path),
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
    def file_key(section: str, name: str, path: Path, fingerprints: bool) -> str:
        """The feature cache's key of an audio file's features."""
        return f"{section}|{name}|{path.name}|fp={fingerprints}"

    def file_features(self, section: str, name: str, path: Path,
                      fingerprints: bool) -> dict[str, np.ndarray]:
        """Baseline features (and, if asked, fingerprints) of an audio file, cached."""
        key = self.file_key(section, name, path, fingerprints)
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

    def features(self, section: str, items: Sequence[AudioItem]) -> list[dict[str, np.ndarray]]:
        """Baseline features and fingerprints of each item's audio, cached under
        ``section|key``."""
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
        """{channel: z of every library song} for a query's fingerprints under ``null``."""
        from lumina.attribution import channel_scores

        index = index or self.indexes
        return {ch: channel_scores(values[f"fp_{ch}"], index[ch], null=null)[1]
                for ch in self.model.channels}

    def library_matrix(self, drop: int | None = None) -> dict[str, np.ndarray]:
        """The library's baseline features stacked per name, without song ``drop``."""
        feats = self.library_features
        keep = [j for j in range(len(feats)) if j != drop]
        return {name: np.stack([feats[j][name] for j in keep]) for name in ("chroma", "mfcc")}

