"""Continue a catalog song with the embedded model: queries whose true source is known.

The tiny model was trained on the demo catalog, so a continuation of a few seconds of a
catalog song draws on that song (and on its composition and timbre). The continuation,
without the prompt, is the query of the validation study's *causal link* test: attribution
must name the song the prompt came from.

Sampling follows MusicGen: the K codebooks are interleaved with the delay pattern
(codebook ``k`` lags ``k`` frames; BOS/pad where delayed), one decoder step predicts one
token per codebook, and the text condition is null (zero encoder states, zero mask) — what
the model saw in training (see :meth:`MusicGenModel.per_example_loss`).
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING

import numpy as np
import torch

from lumina.demo.catalog import Catalog, Song
from lumina.models.musicgen import MusicGenModel

if TYPE_CHECKING:
    from lumina.fingerprint.fingerprinter import Fingerprinter

DEFAULT_TOP_K = 32
UNKNOWN = -1


def _delayed_grid(model: MusicGenModel, prompt: torch.Tensor, total: int) -> torch.Tensor:
    """The delay-pattern grid of a ``total``-frame sequence with ``prompt`` filled in.

    Position ``p`` of codebook ``k`` holds frame ``p − 1 − k`` (position 0 is BOS); positions
    before a codebook's first frame or after its last hold the pad token, prompt frames
    their codes, and frames still to be sampled :data:`UNKNOWN`.

    Returns
    -------
    LongTensor (K, total + K).
    """
    k = model.num_codebooks
    grid = torch.full((k, total + k), UNKNOWN, dtype=torch.long)
    for level in range(k):
        frames = torch.arange(total + k) - 1 - level
        grid[level, (frames < 0) | (frames >= total)] = model.pad_token_id
        known = (frames >= 0) & (frames < prompt.shape[-1])
        grid[level, known] = prompt[level, frames[known]]
    return grid


def _sample(logits: torch.Tensor, temperature: float, top_k: int | None,
            gen: torch.Generator) -> torch.Tensor:
    """One token per row of ``logits`` (K, card); temperature 0 means greedy."""
    if temperature <= 0:
        return logits.argmax(dim=-1)
    logits = logits.float() / temperature
    if top_k is not None and 0 < top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    return torch.multinomial(probs, 1, generator=gen)[:, 0]


@torch.inference_mode()
def sample_codes(model: MusicGenModel, prompt_codes: torch.Tensor, n_frames: int,
                 seed: int = 0, temperature: float = 1.0,
                 top_k: int | None = DEFAULT_TOP_K) -> torch.Tensor:
    """Autoregressively extend ``prompt_codes`` by ``n_frames`` frames.

    Parameters
    ----------
    model : the MusicGen model (its decoder does the sampling).
    prompt_codes : LongTensor (K, T0), T0 ≥ 0.
    n_frames : frames to add.
    seed : seeds the sampler; same seed, same codes.
    temperature : softmax temperature (0 = greedy).
    top_k : sample among the ``top_k`` most likely codes (None = all).

    Returns
    -------
    LongTensor (K, T0 + n_frames): the prompt followed by the continuation.
    """
    k = model.num_codebooks
    prompt = torch.as_tensor(prompt_codes, dtype=torch.long).cpu()
    if prompt.ndim != 2 or prompt.shape[0] != k:
        raise ValueError(f"prompt codes must be (K={k}, T0), got {tuple(prompt.shape)}")
    if n_frames < 1:
        raise ValueError("n_frames must be at least 1")
    total = prompt.shape[-1] + n_frames
    grid = _delayed_grid(model, prompt, total)
    gen = torch.Generator().manual_seed(seed)
    device = model.device
    states, mask = model.null_condition(1)
    # Everything before the first unknown position is known: one forward fills the cache.
    first = prompt.shape[-1] + 1
    feed = grid[:, :first]
    cache = None
    # transformers ≥ 5.24 renamed past_key_values to cache (and warns on the old name).
    cache_arg = ("cache" if "cache" in inspect.signature(model.decoder.forward).parameters
                 else "past_key_values")
    for pos in range(first, total + k):
        out = model.decoder(input_ids=feed.to(device), encoder_hidden_states=states,
                            encoder_attention_mask=mask, use_cache=True,
                            **{cache_arg: cache})
        cache = out["cache"] if "cache" in out else out["past_key_values"]
        logits = out.logits[:, -1, :].cpu()  # (B·K = K, card): the next position
        column = grid[:, pos]
        todo = column == UNKNOWN
        if todo.any():
            column[todo] = _sample(logits, temperature, top_k, gen)[todo]
        feed = grid[:, pos:pos + 1]
    codes = torch.stack([grid[level, 1 + level:1 + level + total] for level in range(k)])
    if (codes < 0).any() or (codes >= model.card).any():
        raise RuntimeError("sampling left a frame without a valid code")
    return codes


def continue_song(model: MusicGenModel, prompt: np.ndarray | torch.Tensor, seconds: float,
                  seed: int = 0, temperature: float = 1.0,
                  top_k: int | None = DEFAULT_TOP_K) -> np.ndarray:
    """Continue a prompt for ``seconds`` and return only the new audio.

    Parameters
    ----------
    model : the MusicGen model.
    prompt : float audio (S0,) at ``model.sample_rate``, or codes (K, T0) (integer dtype).
    seconds : length of the continuation.
    seed, temperature, top_k : see :func:`sample_codes`.

    Returns
    -------
    float32 (round(seconds · frame_rate) · hop,) audio at ``model.sample_rate``, clipped to
    [−1, 1]. The whole sequence is decoded and the prompt's samples cut off, so the
    continuation starts with the codec's state after the prompt, not from silence.
    """
    prompt_t = torch.as_tensor(np.asarray(prompt) if isinstance(prompt, np.ndarray) else prompt)
    if prompt_t.is_floating_point():
        if prompt_t.ndim != 1:
            raise ValueError("prompt audio must be mono (S,)")
        prompt_codes = model.encode(prompt_t.float()[None])[0].cpu()
    else:
        prompt_codes = prompt_t.long()
    n_frames = int(round(seconds * model.frame_rate))
    codes = sample_codes(model, prompt_codes, n_frames, seed, temperature, top_k)
    audio = model.decode(codes[None])[0].cpu().numpy()
    hop = int(model.codec.config.hop_length)
    start = prompt_codes.shape[-1] * hop
    out = audio[start:start + n_frames * hop]
    return np.clip(out, -1.0, 1.0).astype(np.float32)


def generate_query(model: MusicGenModel, catalog: Catalog, song: Song,
                   prompt_seconds: float = 3.0, seconds: float = 10.0, seed: int = 0,
                   temperature: float = 1.0, top_k: int | None = DEFAULT_TOP_K,
                   audio: np.ndarray | None = None) -> np.ndarray:
    """A continuation of the first ``prompt_seconds`` of ``song``: a query whose source is
    ``song``.

    Parameters
    ----------
    audio : the rendered song (float32 (S,)), if already at hand.

    Returns
    -------
    float32 (≈ seconds · sample_rate,) audio, without the prompt.
    """
    if catalog.rate != model.sample_rate:
        raise ValueError(f"catalog rate {catalog.rate} Hz differs from the model's "
                         f"{model.sample_rate} Hz")
    audio = catalog.render(song) if audio is None else np.asarray(audio, dtype=np.float32)
    prompt = audio[: int(round(prompt_seconds * model.sample_rate))]
    return continue_song(model, prompt, seconds, seed, temperature, top_k)


def unit_song_matrices(fingerprinter: Fingerprinter,
                       audio: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Every song fingerprinted, per channel a (N, D) float64 matrix of unit rows: a
    query's cosines with all songs are one product."""
    library = [fingerprinter.fingerprint_audio(a) for a in audio]
    out = {}
    for ch in fingerprinter.model.channels:
        m = np.stack([f.channels[ch] for f in library]).astype(np.float64)
        out[ch] = m / np.linalg.norm(m, axis=1, keepdims=True).clip(1e-30)
    return out


def causal_link(model: MusicGenModel, catalog: Catalog, audio: list[np.ndarray] | None = None,
                prompt_seconds: float = 3.0, seconds: float = 10.0, seed: int = 0,
                temperature: float = 1.0, top_k: int | None = DEFAULT_TOP_K) -> dict:
    """Continue every catalog song and rank the catalog against each continuation.

    Every song is fingerprinted (:class:`lumina.fingerprint.Fingerprinter`, defaults), then
    for every song a continuation of its first ``prompt_seconds`` (seed ``seed + index``) is
    fingerprinted and the songs are ranked by cosine per channel. A hit counts at three
    levels: the top song is the source (``song``), has its composition (``composition``), or
    has its timbre (``timbre``).

    Returns
    -------
    ``{"songs": [...ids], channel: {"ranks": [rank of the source per query],
    "top_song": [...ids], "song": acc, "composition": acc, "timbre": acc}}``.
    """
    from lumina.fingerprint.fingerprinter import Fingerprinter

    audio = audio if audio is not None else [catalog.render(s) for s in catalog.songs]
    # As the shipped model card measured it: the audio at its own loudness.
    fp = Fingerprinter(model, device="cpu", loudness=None)
    mats = unit_song_matrices(fp, audio)
    out: dict = {"songs": [s.id for s in catalog.songs], "prompt_seconds": prompt_seconds,
                 "seconds": seconds, "seed": seed, "temperature": temperature, "top_k": top_k,
                 "output_function": fp.output.id}
    for ch in model.channels:
        out[ch] = {"ranks": [], "top_song": []}
    for i, song in enumerate(catalog.songs):
        query = generate_query(model, catalog, song, prompt_seconds, seconds, seed + i,
                               temperature, top_k, audio=audio[i])
        q = fp.fingerprint_audio(query)
        for ch in model.channels:
            v = q.channels[ch].astype(np.float64)
            order = np.argsort(-(mats[ch] @ (v / max(np.linalg.norm(v), 1e-30))),
                               kind="stable")
            out[ch]["ranks"].append(int(np.flatnonzero(order == i)[0]))
            out[ch]["top_song"].append(catalog.songs[int(order[0])].id)
    by_id = {s.id: s for s in catalog.songs}
    for ch in model.channels:
        tops = [by_id[t] for t in out[ch]["top_song"]]
        n = len(catalog.songs)
        out[ch]["song"] = sum(r == 0 for r in out[ch]["ranks"]) / n
        out[ch]["composition"] = sum(t.composition_id == s.composition_id
                                     for t, s in zip(tops, catalog.songs, strict=True)) / n
        out[ch]["timbre"] = sum(t.timbre_id == s.timbre_id
                                for t, s in zip(tops, catalog.songs, strict=True)) / n
    return out


@torch.inference_mode()
def follow_rate(model: MusicGenModel, audio: list[np.ndarray], prompt_seconds: float = 3.0,
                seconds: float = 10.0, seed: int = 0, temperature: float = 1.0,
                top_k: int | None = DEFAULT_TOP_K, block_seconds: float = 1.0) -> dict:
    """Does a continuation follow the song it continues? Measured on the codes, before any
    decoding: the song's first ``prompt_seconds`` of codes are continued for ``seconds``
    (seed ``seed + index``) and compared with the song's own next codes.

    A song counts as *followed* when, in every ``block_seconds`` block of the continuation,
    at least half of the first codebook's codes are the song's (a continuation that drifts
    after 4 s fails, one that slips by a frame or two does not).

    Returns
    -------
    ``{"agreement": [per codebook, mean over songs], "followed": fraction of songs,
    "per_song": [agreement of all codebooks per song], "prompt_seconds", "seconds"}``.
    """
    from lumina.demo.train_decoder import encode_song

    rate = model.frame_rate
    p0, n = int(round(prompt_seconds * rate)), int(round(seconds * rate))
    block = max(1, int(round(block_seconds * rate)))
    agreement, per_song, followed = [], [], []
    for i, x in enumerate(audio):
        codes = encode_song(model, np.asarray(x, np.float32)).cpu()
        if codes.shape[-1] < p0 + n:
            raise ValueError(f"song {i} is shorter than {prompt_seconds + seconds:g} s")
        sampled = sample_codes(model, codes[:, :p0], n, seed + i, temperature, top_k)
        same = (sampled[:, p0:p0 + n] == codes[:, p0:p0 + n]).float()
        agreement.append(same.mean(dim=-1).tolist())
        per_song.append(round(float(same.mean()), 4))
        first = same[0, : (n // block) * block].reshape(-1, block).mean(dim=-1)
        followed.append(bool((first >= 0.5).all()))
    return {"agreement": np.round(np.mean(agreement, axis=0), 4).tolist(),
            "followed": float(np.mean(followed)), "per_song": per_song,
            "prompt_seconds": prompt_seconds, "seconds": seconds}


def where_the_source_is_lost(model: MusicGenModel, audio: list[np.ndarray],
                             prompt_seconds: float = 3.0, seconds: float = 10.0,
                             seed: int = 0) -> dict:
    """Top-1 rate of the source song, per channel (plain mode: both channels on the codes),
    for three queries per song, to tell the model's part from the codec's and the
    fingerprint's: the continuation's sampled codes (no codec trip), the same continuation
    decoded and encoded again (what a user's file gives), and the song's own excerpt at the
    same place (``prompt_seconds`` to ``prompt_seconds + seconds``).

    Returns
    -------
    ``{"sampled_codes": {channel: rate}, "round_trip": {...}, "real_excerpt": {...}}``.
    """
    from lumina.demo.train_decoder import encode_song
    from lumina.fingerprint.fingerprinter import Fingerprinter

    # Codes are compared as the model made them: no loudness normalisation on either side.
    fp = Fingerprinter(model, device="cpu", loudness=None)
    mats = unit_song_matrices(fp, audio)
    rate, hop = model.frame_rate, int(model.codec.config.hop_length)
    p0, n = int(round(prompt_seconds * rate)), int(round(seconds * rate))
    hits = {k: dict.fromkeys(model.channels, 0)
            for k in ("sampled_codes", "round_trip", "real_excerpt")}
    for i, x in enumerate(audio):
        x = np.asarray(x, np.float32)
        codes = encode_song(model, x).cpu()
        sampled = sample_codes(model, codes[:, :p0], n, seed + i)
        decoded = model.decode(sampled[None])[:, p0 * hop:(p0 + n) * hop]
        queries = {"sampled_codes": sampled[None, :, p0:p0 + n],
                   "round_trip": model.encode(decoded),
                   "real_excerpt": model.encode(torch.from_numpy(
                       x[p0 * hop:(p0 + n) * hop])[None])}
        for key, q in queries.items():
            vectors, _ = fp.fingerprint_codes(q)
            for ch in model.channels:
                v = vectors[ch][0]
                hits[key][ch] += int(np.argmax(mats[ch] @ (v / max(np.linalg.norm(v), 1e-30)))
                                     == i)
    return {k: {ch: c / len(audio) for ch, c in d.items()} for k, d in hits.items()}
