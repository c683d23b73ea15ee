"""The procedural demo catalog: determinism, metadata, sane audio, and that its two factors
(composition, timbre) are really in the sound, checked with plain numpy features."""

from __future__ import annotations

import hashlib
import json
import re

import numpy as np
import pytest
import soundfile as sf

from lumina.demo.catalog import (
    HELDOUT_ID_BASE,
    N_TIMBRES,
    Catalog,
    build_catalog,
    chroma,
    heldout_compositions,
    make_compositions,
    make_timbres,
    render_song,
    render_stems,
    spectral_envelope,
)
from lumina.demo.synth import midi_to_hz, pluck, random_music, saw_blep

RATE = 32000
SECONDS = 8.0


@pytest.fixture(scope="module")
def small() -> tuple[Catalog, list[np.ndarray]]:
    """4 compositions × the 4 default timbres, 8 s each, rendered once for the module."""
    cat = build_catalog(n_compositions=4, n_timbres=4, seconds=SECONDS, seed=0)
    return cat, [cat.render(song) for song in cat.songs]


def _sha(x: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest()


def _centred_cosine(features: np.ndarray) -> np.ndarray:
    """(N, N) cosine of mean-removed rows (Pearson correlation)."""
    z = features - features.mean(axis=1, keepdims=True)
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    return z @ z.T


# --------------------------------------------------------------------------- determinism


def test_same_seed_same_bytes_and_other_seed_differs(small):
    cat, audio = small
    again = build_catalog(n_compositions=4, n_timbres=4, seconds=SECONDS, seed=0)
    assert again.songs == cat.songs and again.compositions == cat.compositions
    for i in (0, 5, 15):
        assert _sha(again.render(again.songs[i])) == _sha(audio[i])
    other = build_catalog(n_compositions=4, n_timbres=4, seconds=SECONDS, seed=1)
    assert other.compositions != cat.compositions
    assert not np.array_equal(other.render(other.songs[0]), audio[0])


def test_song_seed_changes_only_the_noise(small):
    cat, audio = small
    song = cat.songs[2]  # a Pluck song: its strings are seeded noise
    a = render_song(cat.composition(song), cat.timbre(song), SECONDS, RATE, seed=song.seed)
    b = render_song(cat.composition(song), cat.timbre(song), SECONDS, RATE, seed=song.seed + 1)
    assert np.array_equal(a, audio[2])
    assert not np.array_equal(a, b)
    # Different noise, same music: the pitch content hardly moves.
    assert float(chroma(a, RATE) @ chroma(b, RATE)) > 0.98


def test_compositions_are_deterministic_and_distinct():
    a, b = make_compositions(8, seed=3), make_compositions(8, seed=3)
    assert a == b
    assert a != make_compositions(8, seed=4)
    assert [c.id for c in a] == list(range(8))
    assert len({c.key_root for c in a}) == 8  # distinct keys while there are keys left
    assert len({c.name for c in a}) == 8
    assert len({c.melody for c in a}) == 8


def test_written_files_are_byte_identical(tmp_path):
    cat = build_catalog(n_compositions=2, n_timbres=2, seconds=2.0, seed=5)
    calls: list[tuple[int, int]] = []
    first = cat.write(tmp_path / "a", progress=lambda done, total: calls.append((done, total)))
    second = build_catalog(n_compositions=2, n_timbres=2, seconds=2.0, seed=5).write(
        tmp_path / "b")
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert [p.name for p in first] == [f"{s.id}.wav" for s in cat.songs]
    for p, q in zip(first, second, strict=True):
        assert p.read_bytes() == q.read_bytes()
    meta_a = (tmp_path / "a" / "catalog.json").read_bytes()
    assert meta_a == (tmp_path / "b" / "catalog.json").read_bytes()
    assert not list((tmp_path / "a").glob("*.part"))

    info = sf.info(first[0])
    assert (info.samplerate, info.channels, info.frames, info.subtype) == (RATE, 1, 2 * RATE,
                                                                            "PCM_16")
    decoded, _ = sf.read(first[0], dtype="float32")
    assert np.abs(decoded - cat.render(cat.songs[0])).max() <= 1.0 / 32768 + 1e-6

    meta = json.loads(meta_a)
    assert meta["seed"] == 5 and meta["rate"] == RATE
    assert [s["id"] for s in meta["songs"]] == [s.id for s in cat.songs]
    assert meta["songs"][0]["file"] == first[0].name
    assert {"title", "artist", "isrc", "composition_id", "timbre_id", "duration", "seed"} \
        <= set(meta["songs"][0])
    assert len(meta["compositions"]) == 2 and len(meta["timbres"]) == 2
    assert meta["compositions"][0]["melody"]


# --------------------------------------------------------------------------- metadata


def test_metadata(small):
    cat, _ = small
    songs = cat.songs
    assert len(songs) == 16
    assert len({s.id for s in songs}) == len({s.title for s in songs}) == 16
    assert len({s.isrc for s in songs}) == 16
    assert all(re.fullmatch(r"ZZLUM26\d{5}", s.isrc) for s in songs)
    assert [s.isrc for s in songs[:2]] == ["ZZLUM2600001", "ZZLUM2600002"]
    for s in songs:
        assert s.id == f"c{s.composition_id}-t{s.timbre_id}"
        assert 0 <= s.composition_id < 4 and 0 <= s.timbre_id < 4
        assert s.artist == cat.timbre(s).artist
        assert cat.composition(s).name in s.title and cat.timbre(s).name in s.title
        assert s.duration == SECONDS
    # One act per timbre, each act on every composition.
    by_artist = {a: {s.composition_id for s in songs if s.artist == a}
                 for a in {s.artist for s in songs}}
    assert len(by_artist) == 4 and all(v == {0, 1, 2, 3} for v in by_artist.values())
    assert cat.song("c2-t3").title == songs[11].title


def test_timbres_table():
    timbres = make_timbres(N_TIMBRES)
    assert len(timbres) >= 6  # held-out timbres exist beyond the default four
    assert make_timbres() == timbres[:4]
    assert [t.name for t in timbres[:4]] == ["Organ", "Bell", "Pluck", "Pad"]
    assert len({t.name for t in timbres}) == len({t.artist for t in timbres}) == len(timbres)
    assert [t.id for t in timbres] == list(range(len(timbres)))
    assert [t.name for t in build_catalog(1, seconds=1.0).timbres] == \
        ["Organ", "Bell", "Pluck", "Pad"]
    for bad in (0, N_TIMBRES + 1):
        with pytest.raises(ValueError):
            make_timbres(bad)


def test_heldout_compositions_never_coincide_with_catalog():
    for seed in range(3):
        catalog = make_compositions(8, seed)
        held = heldout_compositions(4, seed)
        assert held == heldout_compositions(4, seed)
        assert all(c.id >= HELDOUT_ID_BASE for c in held)
        assert not {c.name for c in held} & {c.name for c in catalog}
        assert not {c.melody for c in held} & {c.melody for c in make_compositions(8, seed + 1000)}
        assert not {c.melody for c in held} & {c.melody for c in catalog}


def test_compositions_are_music():
    for comp in make_compositions(8, seed=0):
        assert 60 <= comp.key_root <= 71 and comp.mode in ("major", "minor")
        assert 60 <= comp.tempo_bpm <= 140
        assert len(comp.kick) == len(comp.snare) == len(comp.hat) == 16
        notes = [m for _, _, m in comp.melody]
        assert min(notes) >= 55 and max(notes) <= 88  # about G3–E6: a singable register
        steps = np.abs(np.diff(notes))
        assert np.mean(steps <= 2) > 0.4  # mostly stepwise
        assert max(start + dur for start, dur, _ in comp.melody) <= comp.bars * 4
        # Strong beats (1 and 3) land on chord tones.
        for start, _, midi in comp.melody:
            if start % 2 == 0:
                assert midi % 12 in {n % 12 for n in comp.chord_at(int(start // 4))}
        # The second phrase opens like the first (A A' form).
        first = [n for n in comp.melody if n[0] < 8]
        assert [(s + 16, d, m) for s, d, m in first] == [n for n in comp.melody
                                                        if 16 <= n[0] < 24]


# --------------------------------------------------------------------------- sane audio


def test_audio_is_sane(small):
    cat, audio = small
    for song, x in zip(cat.songs, audio, strict=True):
        assert x.dtype == np.float32 and x.shape == (int(SECONDS * RATE),)
        assert np.isfinite(x).all()
        peak = float(np.abs(x).max())
        assert 0.85 <= peak <= 0.9 + 1e-6, song.id
        rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
        assert rms > 0.05, song.id  # not silent, not a lone transient
        assert abs(float(x[-1])) < 1e-3  # faded out
    with pytest.raises(ValueError):
        render_song(cat.compositions[0], cat.timbres[0], seconds=0.0)


def test_stems_are_balanced(small):
    cat, _ = small
    # Drums must not bury the tune: the lead stays within a few dB of the drums.
    for timbre in cat.timbres:
        stems = render_stems(cat.compositions[0], timbre, SECONDS, RATE, seed=0)
        level = {k: 10 * np.log10(np.mean(v ** 2) + 1e-20) for k, v in stems.items()}
        assert level["lead"] > level["chords"], timbre.name
        assert level["drums"] - level["lead"] < 12.0, timbre.name
        assert all(np.isfinite(v).all() for v in stems.values())


def test_render_length_is_exact_for_odd_durations():
    comp, timbre = make_compositions(1)[0], make_timbres(N_TIMBRES)[4]
    assert render_song(comp, timbre, seconds=1.2345, rate=16000).shape == (19752,)


# --------------------------------------------------------------------------- the two factors


def test_same_composition_shares_pitch_content(small):
    cat, audio = small
    comp = np.array([s.composition_id for s in cat.songs])
    sim = _centred_cosine(np.stack([chroma(x, RATE) for x in audio]))
    off = ~np.eye(len(audio), dtype=bool)
    same = (comp[:, None] == comp[None, :]) & off
    differ = comp[:, None] != comp[None, :]
    assert sim[same].mean() - sim[differ].mean() > 0.4  # measured ≈ 0.8
    np.fill_diagonal(sim, -np.inf)
    assert np.mean(comp[sim.argmax(axis=1)] == comp) >= 0.75  # measured 0.9–1.0


def test_same_timbre_shares_spectral_envelope(small):
    cat, audio = small
    tim = np.array([s.timbre_id for s in cat.songs])
    env = np.stack([spectral_envelope(x, RATE) for x in audio])
    dist = np.linalg.norm(env[:, None, :] - env[None, :, :], axis=2)
    off = ~np.eye(len(audio), dtype=bool)
    same = (tim[:, None] == tim[None, :]) & off
    differ = tim[:, None] != tim[None, :]
    assert dist[same].mean() < 0.7 * dist[differ].mean()  # measured ratio ≈ 0.4–0.5
    np.fill_diagonal(dist, np.inf)
    assert np.mean(tim[dist.argmin(axis=1)] == tim) >= 0.75  # measured 1.0


# --------------------------------------------------------------------------- features, synth


def test_chroma_names_the_note():
    t = np.arange(RATE) / RATE
    for midi in (57, 60, 64, 70):
        tone = np.sin(2 * np.pi * midi_to_hz(midi) * t)
        c = chroma(tone, RATE)
        assert c.shape == (12,) and int(np.argmax(c)) == midi % 12
        assert np.isclose(np.linalg.norm(c), 1.0)
    assert not chroma(np.zeros(RATE), RATE).any()


def test_spectral_envelope_sees_brightness():
    rng = np.random.default_rng(0)
    noise = rng.standard_normal(RATE)
    dark = np.cumsum(noise) * 0.01  # brown noise
    env_white, env_dark = spectral_envelope(noise, RATE), spectral_envelope(dark, RATE)
    assert env_white.shape == (24,) and abs(env_white.mean()) < 1e-9
    assert np.polyfit(np.arange(24), env_dark, 1)[0] < np.polyfit(np.arange(24), env_white, 1)[0]


def test_pluck_is_in_tune_and_saw_is_bounded():
    for freq in (65.41, 261.63, 987.77):
        x = pluck(freq, RATE, RATE, np.random.default_rng(1), brightness=3.0)
        spec = np.abs(np.fft.rfft(x * np.hanning(x.size), 1 << 18))
        f = np.fft.rfftfreq(1 << 18, 1 / RATE)
        band = (f > freq * 0.9) & (f < freq * 1.1)
        peak = f[band][np.argmax(spec[band])]
        assert abs(1200 * np.log2(peak / freq)) < 5  # cents
    y = saw_blep(440.0, RATE, RATE)
    assert np.abs(y).max() <= 1.0 and abs(float(y.mean())) < 0.01


def test_random_music_still_deterministic():
    # lumina.models.tiny seeds its codebooks with this; it must not drift.
    a, b = random_music(1.0, RATE, 7), random_music(1.0, RATE, 7)
    assert np.array_equal(a, b) and a.dtype == np.float32 and np.abs(a).max() <= 0.8 + 1e-6


def test_write_stops_between_songs_when_cancelled(tmp_path):
    """Closing the app during a first start cancels the catalog's rendering at the next
    song; the folder then has no catalog.json, so the next start renders it again."""
    import threading

    from lumina.fingerprint.fingerprinter import Cancelled

    cat = build_catalog(n_compositions=2, n_timbres=2, seconds=2.0, seed=5)
    stop = threading.Event()
    with pytest.raises(Cancelled):
        cat.write(tmp_path / "c", progress=lambda done, _total: stop.set() if done == 2 else None,
                  cancel=stop)
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == sorted(
        s.filename for s in cat.songs[:2])
