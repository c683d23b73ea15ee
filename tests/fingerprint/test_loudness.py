"""Loudness normalisation before the codec (issue 22): a quieter or louder copy of a track
gives the same fingerprint, libraries record the normalisation, and libraries made before it
existed keep theirs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lumina.errors import LuminaError
from lumina.fingerprint.loudness import (
    DEFAULT_LOUDNESS,
    LOUDNESSES,
    get_loudness,
    loudness_id,
    loudness_words,
)
from lumina.library import LibraryError, loudness_for


def test_rms_brings_every_chunk_to_the_reference_and_keeps_silence_silent():
    rms = get_loudness("rms")
    rng = np.random.default_rng(0)
    x = (0.3 * rng.standard_normal(32000)).astype(np.float32)
    y = rms.apply(x)
    assert y.dtype == np.float32 and y.shape == x.shape
    assert np.sqrt(np.mean(y.astype(np.float64) ** 2)) == pytest.approx(0.1, rel=1e-5)
    # halving is exact in float32, so the normalised samples are the same bits
    assert np.array_equal(rms.apply(x * np.float32(0.5)), y)
    assert np.array_equal(rms.apply(np.zeros(100, np.float32)), np.zeros(100, np.float32))
    # near-silence is raised by at most max_gain_db, not to full level
    hum = np.full(1000, 1e-6, np.float32)
    assert np.max(np.abs(rms.apply(hum))) == pytest.approx(1e-6 * 10 ** (40 / 20), rel=1e-5)
    # louder than full scale is not clipped: the level, not the waveform, changes
    loud = rms.apply(np.full(10, 0.001, np.float32) * np.array([1, -50] * 5, np.float32))
    assert np.max(np.abs(loud)) > 0.1
    assert get_loudness(None).apply(x) is not None
    assert np.array_equal(get_loudness(None).apply(x), x)


def test_names_versions_and_words():
    # lumina-tiny learned its songs at their own level, so that stays the default
    assert DEFAULT_LOUDNESS == "none" and set(LOUDNESSES) == {"none", "rms"}
    assert loudness_id("rms") == loudness_id("rms/1") == "rms/1"
    assert loudness_id("none") is None and loudness_id(None) is None
    assert loudness_words("rms/1") == "loudness normalisation rms/1"
    assert loudness_words(None) == "no loudness normalisation"
    with pytest.raises(ValueError, match="unknown loudness normalisation 'lufs'"):
        get_loudness("lufs")
    with pytest.raises(ValueError, match="cannot be made: this software makes rms/1"):
        get_loudness("rms/2")


def test_a_quieter_copy_gives_the_same_fingerprint(tiny_model):
    from lumina.demo.synth import random_music
    from lumina.fingerprint.fingerprinter import Fingerprinter

    track = random_music(12.0, 32000, 7).astype(np.float32)
    quiet = track * np.float32(0.5)  # −6.02 dB
    fp = Fingerprinter(tiny_model, device="cpu", loudness="rms")
    assert fp.loudness == "rms/1"
    a, b = fp.fingerprint_audio(track), fp.fingerprint_audio(quiet)
    assert a.parameters()["loudness"] == "rms/1"
    for channel in tiny_model.channels:
        assert np.array_equal(a.channels[channel], b.channels[channel])
    # without the normalisation the codec hears another track
    native = Fingerprinter(tiny_model, device="cpu", loudness=None)
    c, d = native.fingerprint_audio(track), native.fingerprint_audio(quiet)
    assert "loudness" not in c.parameters()
    assert not np.array_equal(c.channels["production"], d.channels["production"])
    with pytest.raises(LuminaError, match="unknown loudness normalisation"):
        Fingerprinter(tiny_model, device="cpu", loudness="lufs")


def test_library_keeps_its_loudness_and_refuses_another(tmp_path, tiny_model, music_files):
    from lumina.fingerprint.fingerprinter import Fingerprinter
    from lumina.workspace import Workspace, fingerprinter_for

    # A library made without normalisation (the default, as before it existed) keeps a
    # manifest without the field, and every later fingerprinter of it hears the audio as
    # it is.
    with Workspace.open_or_create(tmp_path / "native", loaded_model=tiny_model) as ws:
        assert ws.fingerprinter.loudness is None
        manifest = json.loads((tmp_path / "native" / "manifest.json").read_text())
        assert "loudness" not in manifest
        assert fingerprinter_for(ws.library, model=tiny_model).loudness is None
    with Workspace.open_or_create(tmp_path / "new", loaded_model=tiny_model,
                                  loudness="rms") as ws:
        mf = ws.library.manifest
        assert ws.fingerprinter.loudness == mf.loudness == "rms/1"
        assert loudness_for(mf) == "rms/1"
        with pytest.raises(LibraryError, match="fingerprints are of loudness normalisation "
                                               "rms/1, not of no loudness normalisation"):
            loudness_for(mf, "none")
        fp = Fingerprinter(tiny_model, device="cpu", composition_rendering="shepard",
                           loudness=None).fingerprint_file(music_files[2])
        with pytest.raises(LibraryError, match="fingerprints of different loudness "
                                               "normalisations cannot be compared"):
            mf.check_compatible(fp.parameters())
        assert fingerprinter_for(ws.library, model=tiny_model).loudness == "rms/1"
    # an existing library keeps its normalisation when none is asked for
    with Workspace.open_or_create(tmp_path / "new", loaded_model=tiny_model) as ws:
        assert ws.fingerprinter.loudness == "rms/1"
    with pytest.raises(LibraryError,
                       match=r"unknown loudness normalisation 'lufs' \(known: none, rms\)$"):
        loudness_for(None, "lufs")


def test_manifest_with_an_unknown_loudness_is_one_line(tmp_path, tiny_model):
    from lumina.library import Library
    from lumina.workspace import Workspace

    with Workspace.open_or_create(tmp_path / "lib", loaded_model=tiny_model, loudness="rms"):
        pass
    path = tmp_path / "lib" / "manifest.json"
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "loudness": "lufs/3"}))
    with pytest.raises(LibraryError, match="loudness normalisation 'lufs/3' is not one this "
                                           "LUMINA knows"):
        Library.open(tmp_path / "lib")
