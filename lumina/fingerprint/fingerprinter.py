"""Audio → chunks → codes → teacher-forced loss → per-channel gradient fingerprints.

DESIGN §1 steps 1–4. A track is cut into 10 s chunks (:func:`lumina.audio.chunk_bounds`),
each chunk is encoded to EnCodec codes, chunks of equal length are batched through the LM,
and one backward per batch yields every chunk's projected gradient per channel (the hooks
of :mod:`lumina.fingerprint.projection`). The track fingerprint is the mean of its chunks'
fingerprints,
which — projection being linear — is the projection of the mean gradient.

The function whose gradient is taken is the fingerprinter's output function
(:mod:`lumina.fingerprint.output`): by default the cross-entropy at temperature 20
(``tempered/1``), which finds the source of a continuation where the paper's plain loss
does not; ``output_function="loss"`` is the paper's. Fingerprints record it.

Opt-in (issue 11, part 2): with ``composition_rendering`` the composition channel is the
gradient on a timbre-neutral rendering of each chunk (:mod:`lumina.fingerprint.rendering`) while the
production channel keeps the original audio; the rendering's ``name/version`` is recorded
in :meth:`Fingerprint.parameters`. The default (None) is the paper's mode.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from lumina import __version__
from lumina.audio import (
    CHUNK_SECONDS,
    MIN_SECONDS,
    Chunk,
    LoadedAudio,
    chunk_bounds,
    file_sha256,
    iter_chunks,
    load_audio,
    probe,
)
from lumina.errors import CancelFlag, Cancelled, LuminaError, is_cancelled
from lumina.fingerprint.loudness import DEFAULT_LOUDNESS, Loudness, get_loudness
from lumina.fingerprint.output import (
    DEFAULT_OUTPUT_FUNCTION,
    OutputFunction,
    get_output_function,
)
from lumina.fingerprint.precision import (
    DEFAULT_PRECISION,
    check_precision,
    default_batch_size,
    forward_context,
    is_out_of_memory,
    precision_context,
)
from lumina.fingerprint.projection import (
    DEFAULT_BLOCKS,
    DEFAULT_DIM,
    DEFAULT_SEED,
    GradientProjector,
)
from lumina.fingerprint.rendering import Rendering, get_rendering, render
from lumina.models.musicgen import MusicGenModel, mean_nll

#: The channel a ``composition_rendering`` applies to; every other channel sees the audio.
RENDERED_CHANNEL = "composition"

ProgressCallback = Callable[[int, int], None]


def choose_device(preferred: str | None = None) -> torch.device:
    """``preferred`` if given, else CUDA, then MPS, then CPU."""
    if preferred:
        try:
            device = torch.device(preferred)
        except RuntimeError:
            raise LuminaError(f"unknown device {preferred!r} (use cuda, mps or cpu)") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise LuminaError("CUDA was requested but this torch build sees no CUDA GPU")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise LuminaError("MPS was requested but is not available on this machine")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def device_label(device: torch.device) -> str:
    """A human name for the status bar and reports, e.g. ``NVIDIA H200`` or ``CPU``."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return "Apple GPU (MPS)" if device.type == "mps" else "CPU"


@dataclass
class Fingerprint:
    """Both channels' fingerprints of one track, with what is needed to reproduce them.

    Attributes
    ----------
    channels : ``{channel: (D,) float32}``, the track fingerprints (mean of chunks).
    chunk_vectors : ``{channel: (C, D) float32}``, one fingerprint per chunk.
    chunk_times : (C, 2) float64, start and end of each chunk in seconds.
    loss : (C,) float32, the teacher-forced loss of each chunk (nats per code; the
        model's own loss, whatever the output function).
    """

    channels: dict[str, np.ndarray]
    chunk_vectors: dict[str, np.ndarray]
    chunk_times: np.ndarray
    loss: np.ndarray
    dim: int
    projection_seed: int
    projection_blocks: int
    chunk_seconds: float
    sample_rate: int
    model_name: str
    model_sha256: str
    audio_sha256: str = ""
    source: str = ""
    duration: float = 0.0
    software_version: str = __version__
    warnings: list[str] = field(default_factory=list)
    #: ``(start, end)`` seconds of the file that were fingerprinted; None: all of it.
    span: tuple[float, float] | None = None
    #: ``name/version`` of the rendering the composition channel saw; None: the audio itself
    #: (the paper's mode).
    composition_rendering: str | None = None
    #: ``float32`` (default), ``bfloat16`` or ``tf32``: how the decoder pass ran
    #: (:mod:`lumina.fingerprint.precision`). Provenance, not identity.
    precision: str = DEFAULT_PRECISION
    #: ``name/version`` of the output function the gradient is of
    #: (:mod:`lumina.fingerprint.output`); None: the paper's loss.
    output_function: str | None = None
    #: ``name/version`` of the loudness normalisation the audio got before the codec
    #: (:mod:`lumina.fingerprint.loudness`); None: none (the paper's mode).
    loudness: str | None = None

    @property
    def n_chunks(self) -> int:
        return int(self.chunk_times.shape[0])

    def parameters(self) -> dict[str, object]:
        """What decides whether two fingerprints are comparable, plus provenance.

        ``composition_rendering`` (``name/version``) is present only when the composition
        channel was computed on a rendering, so the paper's mode keeps its parameters;
        likewise ``output_function`` only when it is not the paper's loss, ``loudness`` only
        when the audio was loudness-normalised, and
        ``precision`` only when it is not float32 (the library's identity check ignores
        it: bf16 and TF32 fingerprints are comparable with float32 ones).
        """
        out: dict[str, object] = {
            "dim": self.dim,
            "projection_seed": self.projection_seed,
            "projection_blocks": self.projection_blocks,
            "chunk_seconds": self.chunk_seconds,
            "sample_rate": self.sample_rate,
            "model_name": self.model_name,
            "model_sha256": self.model_sha256,
            "software_version": self.software_version,
        }
        if self.composition_rendering is not None:
            out["composition_rendering"] = self.composition_rendering
        if self.output_function is not None:
            out["output_function"] = self.output_function
        if self.loudness is not None:
            out["loudness"] = self.loudness
        if self.precision != DEFAULT_PRECISION:
            out["precision"] = self.precision
        return out

    def to_json(self, include_chunks: bool = False) -> dict[str, object]:
        out: dict[str, object] = {
            "source": self.source,
            "audio_sha256": self.audio_sha256,
            "duration": self.duration,
            **self.parameters(),
            "chunks": [
                {"start": float(a), "end": float(b), "loss": float(lo)}
                for (a, b), lo in zip(self.chunk_times, self.loss, strict=True)
            ],
            "warnings": list(self.warnings),
        }
        for channel, vector in self.channels.items():
            out[channel] = [float(x) for x in vector]
        if include_chunks:
            out["chunk_vectors"] = {c: v.tolist() for c, v in self.chunk_vectors.items()}
        return out


class Fingerprinter:
    """Computes :class:`Fingerprint` objects with one model, device and projection.

    Parameters
    ----------
    model : the MusicGen model (moved to ``device``).
    device : ``cuda``, ``mps``, ``cpu`` or None for the best available.
    batch_size : chunks per forward/backward pass; None: 4 on CPU and MPS, on CUDA as many
        as fit a memory budget (:func:`lumina.fingerprint.precision.default_batch_size`). A
        batch that runs out of device memory is split in halves and the batch size lowered.
    precision : ``float32`` (default, bit-identical to earlier releases), ``bfloat16``
        (autocast) or ``tf32`` (:mod:`lumina.fingerprint.precision`); recorded in the
        fingerprints' parameters when not float32.
    dim : projection dimension D per channel.
    seed : projection seed.
    blocks : independent Kronecker blocks per layer (see
        :data:`lumina.fingerprint.projection.DEFAULT_BLOCKS`).
    composition_rendering : None (default, the paper's mode) or a rendering of
        :data:`lumina.fingerprint.rendering.RENDERINGS` (name, ``name/version`` or a
        :class:`~lumina.fingerprint.rendering.Rendering`): the composition channel is then the
        gradient
        on each chunk's rendering, the other channels the gradient on the chunk itself
        (output heads only: a forward pass and the heads' backward), and fingerprints
        record the rendering's ``name/version``. Costs a second encode, the rendering and
        a forward pass per chunk (``bench/composition_rendering.py``).
    output_function : the function whose gradient is the fingerprint, a name of
        :data:`lumina.fingerprint.output.OUTPUT_FUNCTIONS` (``name/version`` accepted), an
        :class:`~lumina.fingerprint.output.OutputFunction`, or None for the paper's loss;
        default ``tempered``.
    loudness : the loudness normalisation of the audio before the codec, a name of
        :data:`lumina.fingerprint.loudness.LOUDNESSES` (``name/version`` accepted), a
        :class:`~lumina.fingerprint.loudness.Loudness`, or None for none (the paper's mode);
        default :data:`~lumina.fingerprint.loudness.DEFAULT_LOUDNESS`. Renderings are
        level-invariant and do not get it.
    """

    def __init__(self, model: MusicGenModel, device: str | torch.device | None = None,
                 batch_size: int | None = None, dim: int = DEFAULT_DIM,
                 seed: int = DEFAULT_SEED, chunk_seconds: float = CHUNK_SECONDS,
                 blocks: int = DEFAULT_BLOCKS,
                 composition_rendering: str | Rendering | None = None,
                 precision: str = DEFAULT_PRECISION,
                 output_function: str | OutputFunction | None = DEFAULT_OUTPUT_FUNCTION,
                 loudness: str | Loudness | None = DEFAULT_LOUDNESS) -> None:
        if batch_size is not None and batch_size < 1:
            raise LuminaError("batch size must be at least 1")
        try:
            self.rendering = (None if composition_rendering is None
                              else get_rendering(composition_rendering))
            self.output = get_output_function(output_function)
            self.normaliser = get_loudness(loudness)
        except ValueError as exc:
            raise LuminaError(str(exc)) from None
        if self.rendering is not None and RENDERED_CHANNEL not in model.channels:
            raise LuminaError(f"{model.name} has no {RENDERED_CHANNEL} channel to render")
        self.device = choose_device(str(device) if device is not None else None)
        self.model = model.to(self.device)
        self.precision = check_precision(precision)
        self.batch_size = (batch_size if batch_size is not None else
                           default_batch_size(model, self.device, chunk_seconds, precision))
        self.dim = dim
        self.seed = seed
        self.chunk_seconds = chunk_seconds
        self.blocks = blocks
        self.projector = GradientProjector(model, dim=dim, seed=seed, blocks=blocks)
        if self.rendering is not None:
            others = tuple(c for c in model.channels if c != RENDERED_CHANNEL)
            self._rendered_projector = GradientProjector(
                model, dim=dim, seed=seed, blocks=blocks, channels=(RENDERED_CHANNEL,))
            self._audio_projector = (GradientProjector(model, dim=dim, seed=seed, blocks=blocks,
                                                       channels=others, leaf="inputs")
                                     if others else None)

    @property
    def composition_rendering(self) -> str | None:
        """``name/version`` of the composition channel's rendering; None in the paper's mode
        (what a library manifest records)."""
        return None if self.rendering is None else self.rendering.id

    @property
    def output_function(self) -> str | None:
        """``name/version`` of the output function; None for the paper's loss (what a
        library manifest records)."""
        return self.output.recorded

    @property
    def loudness(self) -> str | None:
        """``name/version`` of the loudness normalisation; None for none (what a library
        manifest records)."""
        return self.normaliser.recorded

    # -- core -----------------------------------------------------------------------------
    def fingerprint_codes(self, codes: torch.Tensor, rendered_codes: torch.Tensor | None = None
                          ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Per-example fingerprints of a batch of equal-length code sequences.

        Parameters
        ----------
        codes : LongTensor (B, K, T), the codes of the audio.
        rendered_codes : LongTensor (B, K, T'), the codes of each example's rendering;
            required when the fingerprinter has a ``composition_rendering``, ignored
            otherwise.

        Returns
        -------
        ``{channel: (B, D) float64}`` and the per-example loss of ``codes`` (B,), the
        model's own (temperature 1) whatever the output function.
        """
        with precision_context(self.precision, self.device):
            if self.rendering is None:
                with self.projector as proj:
                    output, loss = self._loss(codes)
                    output.sum().backward()
                    return self._to_host(proj.collect(), loss)
            if rendered_codes is None:
                raise LuminaError(f"this fingerprinter renders the {RENDERED_CHANNEL} channel "
                                  f"({self.rendering.id}): pass the rendering's codes too")
            found: dict[str, torch.Tensor] = {}
            if self._audio_projector is not None:
                with self._audio_projector as proj:
                    output, loss = self._loss(codes)
                    output.sum().backward()
                    found.update(proj.collect())
            else:
                with torch.no_grad():
                    _, loss = self._loss(codes)
            with self._rendered_projector as proj:
                self._loss(rendered_codes)[0].sum().backward()
                found.update(proj.collect())
            return self._to_host(found, loss)

    def _loss(self, codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The per-example output function (B,) to take the gradient of, and the model's
        own loss (B,), from one forward in the fingerprinter's precision (the backward
        runs outside the autocast)."""
        with forward_context(self.precision, self.device):
            logits, targets, valid = self.model.teacher_forced_logits(codes.to(self.device))
            loss = mean_nll(logits, targets, valid)
            temperature = self.output.temperature
            if temperature == 1.0:
                return loss, loss
            return mean_nll(logits, targets, valid, temperature), loss

    def _to_host(self, vectors: dict[str, torch.Tensor], loss: torch.Tensor
                 ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """One device→host transfer per batch: every channel's (B, D) and the loss, packed."""
        channels = self.model.channels
        packed = torch.cat([vectors[c] for c in channels] + [loss.detach().double()[:, None]],
                           dim=1).cpu().numpy()
        dim = self.dim
        return ({c: packed[:, i * dim:(i + 1) * dim] for i, c in enumerate(channels)},
                packed[:, -1].astype(np.float32))

    def _encode(self, samples: np.ndarray) -> torch.Tensor:
        # Encoding one chunk at a time keeps codes independent of the batch size.
        return self.model.encode(torch.from_numpy(samples)[None])[0]

    def _batches(self, chunks: Iterable[Chunk]
                 ) -> Iterator[list[tuple[Chunk, torch.Tensor, torch.Tensor | None]]]:
        """Group encoded chunks into batches of equal length (the tail chunk is shorter);
        each entry is ``(chunk, codes, codes of its rendering or None)``."""
        batch: list[tuple[Chunk, torch.Tensor, torch.Tensor | None]] = []
        rate = self.model.sample_rate
        for chunk in chunks:
            codes = self._encode(self.normaliser.apply(chunk.samples))
            rendered = (None if self.rendering is None else
                        self._encode(render(chunk.samples, rate, self.rendering)))
            if batch and (len(batch) >= self.batch_size or
                          batch[0][0].samples.shape != chunk.samples.shape):
                yield batch
                batch = []
            batch.append((chunk, codes, rendered))
        if batch:
            yield batch

    def fingerprint_chunks(self, chunks: Iterable[Chunk], total: int | None = None,
                           progress: ProgressCallback | None = None,
                           cancel: CancelFlag = None) -> Fingerprint:
        """Fingerprint an iterable of chunks (in memory or streamed from a file)."""
        vectors: dict[str, list[np.ndarray]] = {c: [] for c in self.model.channels}
        times: list[tuple[float, float]] = []
        losses: list[np.ndarray] = []
        done = 0
        for batch in self._batches(chunks):
            if is_cancelled(cancel):
                raise Cancelled("cancelled")
            codes = torch.stack([c for _, c, _ in batch])
            rendered = (None if self.rendering is None
                        else torch.stack([r for _, _, r in batch]))  # type: ignore[misc]
            batch_vectors, batch_loss = self._fingerprint_batch(codes, rendered)
            for channel, v in batch_vectors.items():
                vectors[channel].append(v)
            losses.append(batch_loss)
            times.extend((chunk.start, chunk.end) for chunk, _, _ in batch)
            done += len(batch)
            if progress is not None:
                progress(done, max(done, total or done))
        if not times:
            raise LuminaError("no audio chunk to fingerprint")
        chunk_vectors = {c: np.concatenate(v).astype(np.float64) for c, v in vectors.items()}
        return Fingerprint(
            channels={c: v.mean(axis=0).astype(np.float32) for c, v in chunk_vectors.items()},
            chunk_vectors={c: v.astype(np.float32) for c, v in chunk_vectors.items()},
            chunk_times=np.asarray(times, dtype=np.float64),
            loss=np.concatenate(losses).astype(np.float32),
            dim=self.dim,
            projection_seed=self.seed,
            projection_blocks=self.blocks,
            chunk_seconds=self.chunk_seconds,
            sample_rate=self.model.sample_rate,
            model_name=self.model.name,
            model_sha256=self.model.weights_sha256,
            composition_rendering=self.composition_rendering,
            precision=self.precision,
            output_function=self.output_function,
            loudness=self.loudness,
        )

    def _fingerprint_batch(self, codes: torch.Tensor, rendered: torch.Tensor | None
                           ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """:meth:`fingerprint_codes`, split in halves (and the batch size lowered for the
        rest of the run) when the device runs out of memory; examples never mix, so the
        halves give each chunk its own fingerprint as the whole batch would."""
        try:
            return self.fingerprint_codes(codes, rendered)
        except RuntimeError as exc:
            if not is_out_of_memory(exc) or codes.shape[0] == 1:
                raise
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        half = codes.shape[0] // 2
        self.batch_size = max(1, min(self.batch_size, half))
        parts = [self._fingerprint_batch(codes[s], None if rendered is None else rendered[s])
                 for s in (slice(0, half), slice(half, None))]
        return ({c: np.concatenate([p[0][c] for p in parts]) for c in parts[0][0]},
                np.concatenate([p[1] for p in parts]))

    # -- entry points ---------------------------------------------------------------------
    def fingerprint_audio(self, samples: np.ndarray, *, progress: ProgressCallback | None = None,
                          cancel: CancelFlag = None, source: str = "") -> Fingerprint:
        """Fingerprint mono float32 samples (S,) already at the model's sample rate."""
        from lumina.audio import split_chunks

        samples = np.asarray(samples, dtype=np.float32)
        chunks = split_chunks(samples, self.model.sample_rate, self.chunk_seconds)
        fp = self.fingerprint_chunks(chunks, total=len(chunks), progress=progress, cancel=cancel)
        fp.duration = len(samples) / self.model.sample_rate
        fp.source = source
        return fp

    def fingerprint_file(self, path: str | Path, *, progress: ProgressCallback | None = None,
                         cancel: CancelFlag = None,
                         span: tuple[float, float] | None = None) -> Fingerprint:
        """Fingerprint an audio file, streaming it chunk by chunk (bounded memory).

        ``span=(start, end)`` fingerprints only that part of the file (seconds, at least
        :data:`~lumina.audio.MIN_SECONDS` long); chunk times stay in the file's time, so a
        timeline lines up with the whole track.
        """
        path = Path(path)
        if span is not None:
            return self._fingerprint_span(path, span, progress=progress, cancel=cancel)
        info = probe(path)
        rate = self.model.sample_rate
        expected = len(chunk_bounds(int(round(info.duration * rate)), rate, self.chunk_seconds))
        warnings: list[str] = []
        stream = iter_chunks(path, rate, self.chunk_seconds, warnings_out=warnings)
        fp = self.fingerprint_chunks(stream, total=expected, progress=progress, cancel=cancel)
        fp.audio_sha256 = file_sha256(path)
        fp.source = path.name
        fp.duration = float(fp.chunk_times[-1, 1]) if info.duration <= 0 else info.duration
        fp.warnings = warnings
        return fp

    def fingerprint_loaded(self, audio: LoadedAudio, *,
                           progress: ProgressCallback | None = None,
                           cancel: CancelFlag = None) -> Fingerprint:
        """Fingerprint a track already decoded by :func:`lumina.audio.load_audio` at the
        model's rate — bit-identical to :meth:`fingerprint_file` of the same file, so a batch
        can decode the next track while the model works on this one."""
        if audio.sample_rate != self.model.sample_rate:
            raise LuminaError(f"{audio.path.name}: decoded at {audio.sample_rate} Hz, the model "
                              f"needs {self.model.sample_rate} Hz")
        fp = self.fingerprint_audio(audio.samples, progress=progress, cancel=cancel,
                                    source=Path(audio.path).name)
        fp.audio_sha256 = audio.sha256
        fp.warnings = list(audio.warnings)
        return fp

    def _fingerprint_span(self, path: Path, span: tuple[float, float], *,
                          progress: ProgressCallback | None, cancel: CancelFlag) -> Fingerprint:
        start, end = (float(span[0]), float(span[1]))
        if not (np.isfinite(start) and np.isfinite(end)) or start < 0 or end - start < MIN_SECONDS:
            raise LuminaError(f"a selection must be at least {MIN_SECONDS:g} s long and inside "
                              f"the track, got {start:.2f}–{end:.2f} s")
        rate = self.model.sample_rate
        # A selection is short next to a whole track and the user is waiting on it, so decode
        # up to its end in one go instead of streaming.
        audio = load_audio(path, rate, max_seconds=end)
        if start >= audio.duration - MIN_SECONDS:
            raise LuminaError(f"{path.name}: the selection starts at {start:.2f} s but the "
                              f"track is {audio.duration:.2f} s long")
        end = min(end, audio.duration)
        part = audio.samples[int(round(start * rate)):int(round(end * rate))]
        fp = self.fingerprint_audio(part, progress=progress, cancel=cancel, source=path.name)
        fp.chunk_times = fp.chunk_times + start
        fp.audio_sha256 = audio.sha256
        fp.warnings = list(audio.warnings)
        fp.span = (start, end)
        return fp
