"""Timbre-neutral renderings (lumina.fingerprint.rendering) and the fingerprinter's opt-in
``composition_rendering``."""

from __future__ import annotations

import numpy as np
import pytest

from lumina.demo.catalog import (
    SAMPLE_RATE,
    chroma,
    make_compositions,
    make_timbres,
    render_song,
    song_seed,
    spectral_envelope,
)
from lumina.errors import LuminaError
from lumina.fingerprint.rendering import (
    PEAK,
    RENDERINGS,
    Rendering,
    chroma_frames,
    get_rendering,
    onset_frames,
    render,
    rendered_length,
    rendering_id,
)

RATE = SAMPLE_RATE
SECONDS = 8.0
FULL_LENGTH = ("shepard", "onset-clicks", "shepard-onsets", "shepard-key")
COMPRESSED = {f"{name}-2x": name for name in FULL_LENGTH}  # 2x time-compressed → its base
PITCHED = ("shepard", "shepard-onsets", "shepard-2x", "shepard-onsets-2x")


@pytest.fixture(scope="module")
def songs() -> dict[tuple[int, int], np.ndarray]:
    """Compositions 0 and 1 of the demo catalog, each in timbres 0 (organ) and 1 (bell)."""
    comps = make_compositions(2, seed=0)
    timbres = make_timbres(2)
    return {(c.id, t.id): render_song(c, t, SECONDS, RATE, song_seed(0, c.id, t.id))
            for c in comps for t in timbres}


@pytest.fixture(scope="module")
def rendered(songs) -> dict[str, dict[tuple[int, int], np.ndarray]]:
    return {name: {k: render(x, RATE, name) for k, x in songs.items()} for name in RENDERINGS}


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1])


def _env_distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((spectral_envelope(a, RATE) - spectral_envelope(b, RATE)) ** 2)))


# --------------------------------------------------------------------------- renderings


def test_registry_names_versions_and_lookup():
    assert set(RENDERINGS) == set(FULL_LENGTH) | set(COMPRESSED)
    for name, r in RENDERINGS.items():
        assert r.name == name and r.version >= 1 and r.description
        assert r.id == f"{name}/{r.version}"
        assert r.time_scale == (0.5 if name in COMPRESSED else 1.0)
        assert get_rendering(name) is r and get_rendering(r.id) is r and get_rendering(r) is r
        assert rendering_id(name) == r.id
    assert rendering_id(None) is None
    with pytest.raises(ValueError, match="unknown rendering"):
        get_rendering("sine")
    with pytest.raises(ValueError, match="cannot be made"):
        get_rendering("shepard/99")


@pytest.mark.parametrize("name", sorted(RENDERINGS))
def test_deterministic_shape_and_level(name, songs):
    x = songs[(0, 0)]
    a = render(x, RATE, name)
    b = render(x.copy(), RATE, name)
    assert a.dtype == np.float32 and a.shape == (RENDERINGS[name].length(x.size),)
    assert np.array_equal(a, b)  # bit for bit
    assert np.all(np.isfinite(a)) and np.isclose(np.abs(a).max(), PEAK)
    # the analysis is relative to the clip: a quieter copy renders the same
    assert np.allclose(render(0.05 * x, RATE, name), a, atol=1e-3)
    assert np.array_equal(RENDERINGS[name](x, RATE), a)  # a Rendering is callable


@pytest.mark.parametrize("name", sorted(RENDERINGS))
def test_silence_short_and_bad_input(name):
    r = RENDERINGS[name]
    assert np.array_equal(render(np.zeros(RATE, np.float32), RATE, name),
                          np.zeros(r.length(RATE)))
    assert render(np.zeros(0, np.float32), RATE, name).shape == (0,)
    for n in (1, 100, 2000):  # shorter than every analysis window
        t = np.arange(n) / RATE
        y = render((0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), RATE, name)
        assert y.shape == (r.length(n),) and y.dtype == np.float32 and np.all(np.isfinite(y))
        assert np.abs(y).max() <= PEAK + 1e-6
    with pytest.raises(ValueError, match="NaN"):
        render(np.array([0.0, np.nan], np.float32), RATE, name)
    with pytest.raises(ValueError, match="mono"):
        render(np.zeros((2, 100), np.float32), RATE, name)
    with pytest.raises(ValueError, match="rate"):
        render(np.zeros(100, np.float32), 0, name)


@pytest.mark.parametrize("name", PITCHED)
def test_pitched_renderings_keep_chroma(name, songs, rendered):
    """A rendering keeps the song's pitch classes (chroma correlation with the original),
    and two timbres of one composition stay much closer in chroma than two compositions."""
    r = rendered[name]
    for comp in (0, 1):
        other = 1 - comp
        for timbre in (0, 1):
            kept = _corr(chroma(r[(comp, timbre)], RATE), chroma(songs[(comp, timbre)], RATE))
            assert kept > 0.85, (comp, timbre, kept)
        same = _corr(chroma(r[(comp, 0)], RATE), chroma(r[(comp, 1)], RATE))
        across = _corr(chroma(r[(comp, 0)], RATE), chroma(r[(other, 1)], RATE))
        assert same > across + 0.3, (comp, same, across)


@pytest.mark.parametrize("name", sorted(RENDERINGS))
def test_timbres_of_one_composition_render_alike(name, songs, rendered):
    """Spectral-envelope distance (the production baseline's "how it sounds") between two
    timbres of one composition shrinks by more than half once both are rendered."""
    r = rendered[name]
    for comp in (0, 1):
        before = _env_distance(songs[(comp, 0)], songs[(comp, 1)])
        after = _env_distance(r[(comp, 0)], r[(comp, 1)])
        assert after < 0.5 * before, (comp, before, after)


@pytest.mark.parametrize("name", sorted(COMPRESSED))
@pytest.mark.parametrize("rate", [RATE, 44100, 22050])
def test_time_compressed_length_is_half(name, rate):
    """Output length ⌈S / 2⌉ for even and odd S and any rate (44.1 kHz: the synthesis hop
    353 is not exactly half the analysis hop 706); the full-length base keeps S."""
    compressed, base = RENDERINGS[name], RENDERINGS[COMPRESSED[name]]
    for n in (1, 2, 3, 999, rate, 3 * rate + 1):
        x = (0.5 * np.sin(2 * np.pi * 330 * np.arange(n) / rate)).astype(np.float32)
        y = render(x, rate, compressed)
        assert y.shape == ((n + 1) // 2,) == (compressed.length(n),)
        assert np.all(np.isfinite(y)) and np.abs(y).max() <= PEAK + 1e-6
        assert render(x, rate, base).shape == (n,)


@pytest.mark.parametrize("name", sorted(COMPRESSED))
def test_time_compressed_is_deterministic_and_differs_from_its_base(name, songs):
    x = songs[(1, 1)]
    a = render(x, RATE, name)
    assert np.array_equal(a, render(x.copy(), RATE, name))  # bit for bit
    assert np.array_equal(a, render(x, RATE, get_rendering(f"{name}/1")))
    base = render(x, RATE, COMPRESSED[name])
    assert a.size < base.size and not np.array_equal(a, base[:a.size])


@pytest.mark.parametrize("name", PITCHED)
def test_pitched_renderings_keep_a_tone_sequence_in_time(name):
    """One second of A (440 Hz) then one of E (330 Hz), with harmonics: the rendering's
    chroma peaks at A then E — for ``-2x`` within the first and second half second."""
    t = np.arange(RATE) / RATE
    tone = [sum(np.sin(2 * np.pi * h * f * t) / h for h in (1, 2, 3)) for f in (440.0, 329.63)]
    x = (0.3 * np.concatenate(tone)).astype(np.float32)
    y = render(x, RATE, name)
    half = y.size // 2
    margin = int(0.15 * y.size / 2)  # away from the change and the edges
    for part, pc in ((y[margin:half - margin], 9), (y[half + margin:-margin], 4)):
        assert int(np.argmax(chroma_frames(part, RATE).mean(axis=0))) == pc, (name, pc)


def test_onset_clicks_2x_are_the_same_clicks_at_half_the_time(songs):
    """``onset-clicks-2x`` is ``onset-clicks`` with every click moved from sample t · 512 to
    t · 256, bit for bit: the same analysis, only the synthesis grid is halved."""
    x = songs[(0, 1)]
    full, half = render(x, RATE, "onset-clicks"), render(x, RATE, "onset-clicks-2x")
    hop, click = 512, int(round(0.012 * RATE))
    frames = np.flatnonzero(onset_frames(x, RATE))
    frames = frames[(frames * hop + click <= full.size)]
    assert frames.size > 2 * SECONDS
    inside = np.zeros(full.size, bool)
    for f in frames:
        assert np.array_equal(half[f * hop // 2:f * hop // 2 + click],
                              full[f * hop:f * hop + click])
        inside[f * hop:f * hop + click] = True
    assert not np.any(full[~inside])  # no sound but the clicks
    assert np.count_nonzero(half) == np.count_nonzero(full)


def test_rendered_length_and_time_scale_checks():
    assert rendered_length(7) == 7 and rendered_length(7, 0.5) == 4
    assert rendered_length(0, 0.5) == 0
    for bad in (0.0, -0.5, 1.5, float("nan")):
        with pytest.raises(ValueError, match="time_scale"):
            rendered_length(10, bad)
        with pytest.raises(ValueError, match="time_scale"):
            Rendering("bad", 1, lambda x, rate: x, "test", time_scale=bad)


def test_onset_clicks_keep_the_rhythm(songs, rendered):
    """Onsets found in two timbres of one composition coincide (±2 frames) mostly, and the
    clicks sit on them."""
    a = np.flatnonzero(onset_frames(songs[(0, 0)], RATE))
    b = np.flatnonzero(onset_frames(songs[(0, 1)], RATE))
    assert len(a) > 2 * SECONDS  # more than two notes a second in these songs
    hits = np.mean([np.min(np.abs(b - i)) <= 2 for i in a])
    assert hits > 0.8
    clicks = rendered["onset-clicks"][(0, 0)]
    hop = int(round(0.016 * RATE))
    energy = np.add.reduceat(clicks.astype(np.float64) ** 2, np.arange(0, clicks.size, hop))
    assert np.all(energy[a[a < energy.size]] > 0)


def test_custom_rendering_object_is_accepted():
    half = Rendering("half", 3, lambda x, rate: (0.5 * x).astype(np.float32), "test")
    x = np.ones(10, np.float32)
    assert np.array_equal(render(x, RATE, half), 0.5 * x)
    assert rendering_id(half) == "half/3"
    bad = Rendering("bad", 1, lambda x, rate: x[:-1], "test")
    with pytest.raises(ValueError, match="shape"):
        render(x, RATE, bad)
    # a rendering declares its length ratio, and render() holds it to it
    third = Rendering("third", 1, lambda x, rate: x[::3].copy(), "test", time_scale=1 / 3)
    assert render(x, RATE, third).shape == (4,) == (third.length(10),)
    unscaled = Rendering("unscaled", 1, lambda x, rate: x, "test", time_scale=0.5)
    with pytest.raises(ValueError, match="shape"):
        render(x, RATE, unscaled)


# --------------------------------------------------------------------------- fingerprinter


@pytest.fixture(scope="module")
def track():
    from lumina.demo.synth import random_music

    return random_music(14.0, RATE, seed=7)  # one 10 s chunk + a 4 s tail


def test_fingerprinter_renders_only_the_composition_channel(tiny_model, track):
    from lumina.audio import split_chunks
    from lumina.fingerprint.fingerprinter import Fingerprinter

    plain = Fingerprinter(tiny_model, device="cpu").fingerprint_audio(track)
    fp = Fingerprinter(tiny_model, device="cpu",
                       composition_rendering="shepard").fingerprint_audio(track)
    # production channel and loss: the audio itself, bit for bit
    assert np.array_equal(fp.channels["production"], plain.channels["production"])
    assert np.array_equal(fp.chunk_vectors["production"], plain.chunk_vectors["production"])
    assert np.array_equal(fp.loss, plain.loss)
    assert np.array_equal(fp.chunk_times, plain.chunk_times)
    # composition channel: the paper's gradient, of each chunk's rendering
    assert not np.allclose(fp.channels["composition"], plain.channels["composition"])
    rendered = np.concatenate([render(c.samples, RATE, "shepard")
                               for c in split_chunks(track, RATE)])
    # a rendering is level-invariant and not loudness-normalised again
    reference = Fingerprinter(tiny_model, device="cpu", loudness=None).fingerprint_audio(rendered)
    assert np.array_equal(fp.chunk_vectors["composition"],
                          reference.chunk_vectors["composition"])
    # parameters: recorded when set, absent in the paper's mode
    assert fp.composition_rendering == "shepard/1"
    assert fp.parameters()["composition_rendering"] == "shepard/1"
    assert fp.to_json()["composition_rendering"] == "shepard/1"
    assert "composition_rendering" not in plain.parameters()
    assert plain.composition_rendering is None


def test_fingerprinter_rendering_batch_size_and_errors(tiny_model, track):
    import torch

    from lumina.fingerprint.fingerprinter import Fingerprinter

    one = Fingerprinter(tiny_model, device="cpu", batch_size=1,
                        composition_rendering="onset-clicks").fingerprint_audio(track)
    many = Fingerprinter(tiny_model, device="cpu", batch_size=4,
                         composition_rendering="onset-clicks").fingerprint_audio(track)
    for ch in one.channels:
        x, y = one.chunk_vectors[ch], many.chunk_vectors[ch]
        assert np.max(np.abs(x - y)) <= 1e-5 * np.max(np.abs(x))
    assert Fingerprinter(tiny_model, device="cpu",
                         composition_rendering="onset-clicks/1").composition_rendering \
        == "onset-clicks/1"
    assert Fingerprinter(tiny_model, device="cpu").composition_rendering is None
    with pytest.raises(LuminaError, match="unknown rendering"):
        Fingerprinter(tiny_model, device="cpu", composition_rendering="sine")
    fp = Fingerprinter(tiny_model, device="cpu", composition_rendering="shepard")
    codes = torch.zeros(1, tiny_model.num_codebooks, 50, dtype=torch.long)
    with pytest.raises(LuminaError, match="rendering's codes"):
        fp.fingerprint_codes(codes)


def test_fingerprinter_with_a_time_compressed_rendering(tiny_model, track):
    """``shepard-onsets-2x``: the composition pass sees half the codec frames; the
    production channel is the paper's, bit for bit; the composition channel is the
    gradient of the half-length rendering."""
    import torch

    from lumina.audio import split_chunks
    from lumina.fingerprint.fingerprinter import Fingerprinter

    name = "shepard-onsets-2x"
    chunks = split_chunks(track, RATE)
    rendered = render(chunks[0].samples, RATE, name)
    assert rendered.size == chunks[0].samples.size // 2
    codes = tiny_model.encode(torch.from_numpy(chunks[0].samples)[None])
    rendered_codes = tiny_model.encode(torch.from_numpy(rendered)[None])
    assert rendered_codes.shape[-1] == codes.shape[-1] // 2  # half the tokens

    plain = Fingerprinter(tiny_model, device="cpu").fingerprint_audio(track)
    fp = Fingerprinter(tiny_model, device="cpu", composition_rendering=name
                       ).fingerprint_audio(track)
    assert np.array_equal(fp.chunk_vectors["production"], plain.chunk_vectors["production"])
    assert np.array_equal(fp.loss, plain.loss)
    assert np.array_equal(fp.chunk_times, plain.chunk_times)
    reference = Fingerprinter(tiny_model, device="cpu", loudness=None).fingerprint_audio(
        np.concatenate([render(c.samples, RATE, name) for c in chunks]))
    assert np.array_equal(fp.chunk_vectors["composition"],
                          reference.chunk_vectors["composition"])
    assert np.all(np.isfinite(fp.channels["composition"]))
    assert fp.parameters()["composition_rendering"] == "shepard-onsets-2x/1"


def test_fingerprinter_time_compressed_batches_chunks_of_two_lengths(tiny_model):
    """25 s = two 10 s chunks and a 5 s tail: the renderings of one batch share a length
    (5 s, 5 s), the tail's (2.5 s) goes in a batch of its own."""
    from lumina.demo.synth import random_music
    from lumina.fingerprint.fingerprinter import Fingerprinter

    x = random_music(25.0, RATE, seed=3)
    fp = Fingerprinter(tiny_model, device="cpu", batch_size=4,
                       composition_rendering="onset-clicks-2x").fingerprint_audio(x)
    assert fp.chunk_times.tolist() == [[0.0, 10.0], [10.0, 20.0], [20.0, 25.0]]
    for ch in fp.channels:
        assert fp.chunk_vectors[ch].shape[0] == 3
        assert np.all(np.isfinite(fp.chunk_vectors[ch]))


def test_projector_input_leaf_matches_embedding_leaf_for_heads(tiny_model):
    import torch

    from lumina.fingerprint.projection import GradientProjector

    torch.manual_seed(0)
    codes = torch.randint(0, tiny_model.card, (2, tiny_model.num_codebooks, 60))
    with GradientProjector(tiny_model, channels=("production",)) as proj:
        tiny_model.per_example_loss(codes).sum().backward()
        full = proj.collect()["production"]
    with GradientProjector(tiny_model, channels=("production",), leaf="inputs") as proj:
        tiny_model.per_example_loss(codes).sum().backward()
        heads = proj.collect()["production"]
    assert torch.equal(full, heads)
    with pytest.raises(ValueError, match="leaf"):
        GradientProjector(tiny_model, leaf="weights")
