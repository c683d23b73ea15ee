"""``lumina validate``: the study's building blocks, and the quick study end to end."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest

from lumina.attribution import NULLS
from lumina.cli import main
from lumina.library import DEFAULT_COMPOSITION_RENDERING, composition_rendering_for
from lumina.validation import (
    NOTES_MARKER,
    REPRO_TOLERANCE_PERCENT,
    SCHEMA,
    TRANSFORMS,
    ValidationConfig,
    apply_transform,
    baseline_scores,
    mfcc_mean,
    mp3_roundtrip,
    pick_null,
    pitch_shift,
    relative_variance,
    time_stretch,
    white_noise,
    write_markdown,
)

RATE = 32000


def _tone(freq: float, seconds: float = 3.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _peak_hz(x: np.ndarray) -> float:
    x = x[4000:-4000]
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spectrum) * RATE / len(x))


# --------------------------------------------------------------------------- transforms


@pytest.mark.parametrize("rate", [1.05, 0.95])
def test_time_stretch_changes_length_not_pitch(rate):
    x = _tone(440.0)
    y = time_stretch(x, rate)
    assert y.dtype == np.float32
    assert len(y) == round(len(x) / rate)
    assert abs(_peak_hz(y) - 440.0) < 2.0
    assert 0.4 < float(np.abs(y[4000:-4000]).max()) < 0.6


@pytest.mark.parametrize("semitones", [1.0, -1.0])
def test_pitch_shift_changes_pitch_not_length(semitones):
    x = _tone(440.0)
    y = pitch_shift(x, RATE, semitones)
    assert len(y) == len(x)
    assert abs(_peak_hz(y) - 440.0 * 2 ** (semitones / 12)) < 2.0


def test_white_noise_has_the_requested_snr_and_is_seeded():
    x = _tone(300.0)
    y = white_noise(x, 20.0, seed=3)
    snr = 10 * np.log10(np.mean(x.astype(np.float64) ** 2) / np.mean((y - x) ** 2.0))
    assert abs(snr - 20.0) < 0.2
    assert np.array_equal(y, white_noise(x, 20.0, seed=3))
    assert not np.array_equal(y, white_noise(x, 20.0, seed=4))


def test_mp3_roundtrip_keeps_length_and_content():
    pytest.importorskip("av")
    rng = np.random.default_rng(0)
    x = (_tone(440.0) + 0.05 * rng.standard_normal(3 * RATE)).astype(np.float32)
    y = mp3_roundtrip(x, RATE, 128)
    assert y.shape == x.shape and y.dtype == np.float32
    assert np.corrcoef(x[RATE:-RATE], y[RATE:-RATE])[0, 1] > 0.95
    assert not np.array_equal(x, y)


def test_excerpt_is_centred_and_at_most_half_the_song():
    cfg = ValidationConfig.full()
    assert cfg.excerpt() == (7.0, 10.0)
    quick = ValidationConfig.quick_config()
    start, length = quick.excerpt()
    assert length == quick.seconds / 2 and start == quick.seconds / 4
    x = np.arange(int(quick.seconds * RATE), dtype=np.float32)
    y = apply_transform("excerpt_10s", x, RATE, quick, 0)
    assert len(y) == int(length * RATE) and y[0] == int(start * RATE)


def test_every_transform_keeps_audio_finite():
    x = _tone(220.0, 4.0)
    cfg = ValidationConfig.quick_config()
    for name in TRANSFORMS:
        y = apply_transform(name, x, RATE, cfg, 0)
        assert y.ndim == 1 and np.isfinite(y).all() and len(y) > RATE, name
    with pytest.raises(ValueError):
        apply_transform("reverse", x, RATE, cfg, 0)


# --------------------------------------------------------------------------- baseline and math


def test_mfcc_mean_shape_and_timbre_sensitivity():
    a = mfcc_mean(_tone(440.0), RATE)
    assert a.shape == (19,) and np.isfinite(a).all()
    # Same spectrum at another level: c0 is dropped, the rest hardly moves.
    assert np.allclose(mfcc_mean(0.5 * _tone(440.0), RATE), a, atol=1e-6)
    square = np.sign(_tone(440.0)).astype(np.float32) * 0.5
    assert np.linalg.norm(mfcc_mean(square, RATE) - a) > 1.0


def test_baseline_scores_find_the_same_song():
    rng = np.random.default_rng(1)
    lib = {"chroma": rng.random((6, 12)), "mfcc": rng.standard_normal((6, 19))}
    query = {"chroma": lib["chroma"][2] + 0.01, "mfcc": lib["mfcc"][2] * 1.01}
    scores = baseline_scores(query, lib)
    assert set(scores) == {"chroma", "mfcc", "combined"}
    for s in scores.values():
        assert s.shape == (6,) and int(np.argmax(s)) == 2 and np.all(np.abs(s) <= 1 + 1e-9)


def test_relative_variance():
    a = np.array([1.0, 2.0, 3.0])
    assert relative_variance(a, a) == 0.0
    assert math.isclose(relative_variance(a, -a), 200.0)
    assert relative_variance(np.zeros(3), np.zeros(3)) == 0.0


def test_pick_null():
    fpr = {"empirical": {"a": 0.04, "b": 0.05}, "analytic": {"a": 0.5, "b": 0.01}}
    tpr = {"empirical": {"a": 0.2, "b": 0.3}, "analytic": {"a": 0.9, "b": 0.9}}
    assert pick_null(fpr, tpr)[0] == "empirical"
    fpr["analytic"]["a"] = 0.01
    assert pick_null(fpr, tpr)[0] == "analytic"  # both pass: more true sources get through
    fpr = {"empirical": {"a": 0.3, "b": 0.2}, "analytic": {"a": 0.6, "b": 0.1}}
    null, reason = pick_null(fpr, tpr)
    assert null == "empirical" and "no null meets" in reason


# --------------------------------------------------------------------------- the quick study


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """``lumina validate --quick`` once, then again on the warm cache."""
    folder = tmp_path_factory.mktemp("validate")
    mp = pytest.MonkeyPatch()
    mp.setenv("LUMINA_CACHE", str(folder / "cache"))
    try:
        start = time.monotonic()
        rc = main(["validate", "--quick", "--json", str(folder / "v.json"),
                   "--markdown", str(folder / "v.md")])
        first_seconds = time.monotonic() - start
        assert rc == 0
        first = json.loads((folder / "v.json").read_text(encoding="utf-8"))
        (folder / "v.md").write_text((folder / "v.md").read_text(encoding="utf-8")
                                     + "\nHand-written note.\n", encoding="utf-8")
        start = time.monotonic()
        rc = main(["validate", "--quick", "--json", str(folder / "v2.json"),
                   "--markdown", str(folder / "v.md")])
        second_seconds = time.monotonic() - start
        assert rc == 0
        second = json.loads((folder / "v2.json").read_text(encoding="utf-8"))
    finally:
        mp.undo()
    return {"first": first, "second": second, "folder": folder,
            "seconds": (first_seconds, second_seconds)}


def test_quick_json_has_one_number_per_row_and_the_protocol(quick_run):
    result = quick_run["first"]
    assert result["schema"] == SCHEMA
    rows = result["rows"]
    assert {r["row"] for r in rows} == {1, 2, 3, 4, 5, 6, 9}
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids))
    for ch in ("composition", "production"):
        for expected in (f"1.rerun.{ch}", f"1.batch.{ch}", f"1.threads.{ch}",
                         f"2.top1.{ch}", f"2.top3.{ch}", f"3.{ch}",
                         *(f"4.fpr.{null}.{ch}" for null in NULLS),
                         *(f"4.baseline_confidence_1sigma.{null}.{ch}" for null in NULLS),
                         *(f"5.{t}.{ch}" for t in TRANSFORMS),
                         f"9.segments.song_offset.{ch}", f"9.segments.song.{ch}"):
            assert expected in ids, expected
    by_id = {r["id"]: r for r in rows}
    # Row 9's offset lines are read against a chance computed from the songs' stored chunk
    # starts (a random chunk is within ±5 s about half the time), beside a plain-feature oracle.
    oracle = by_id["9.segments.offset_oracle"]
    assert 0.0 <= oracle["value"] <= 1.0 and 0.0 < oracle["chance"] <= 1.0
    for ch in ("composition", "production"):
        given = by_id[f"9.segments.offset_given_song.{ch}"]
        assert given["chance"] == oracle["chance"]
        assert by_id[f"9.segments.song_offset.{ch}"]["chance"] < given["chance"]
    for t in TRANSFORMS:  # the composition channel also counts the composition found
        same = by_id[f"5.{t}.composition.same_composition"]["value"]
        song = by_id[f"5.{t}.composition"]["value"]
        assert song is None or same >= song  # the source's song has its composition
    for expected in ("6.causal.top1", "6.causal.top3", "6.separation.composition",
                     "6.separation.production", *(f"6.robust.{t}" for t in TRANSFORMS)):
        assert expected in ids, expected
    for r in rows:
        value = r["value"]
        assert value is None or isinstance(value, float | int), r
        if value is None:
            assert r["note"], r  # a row not measured says why
            continue
        if r["unit"] == "%":
            assert 0.0 <= value <= 200.0, r
        else:
            assert r["unit"] == "fraction" and 0.0 <= value <= 1.0, r
        if r["chance"] is not None:
            assert 0.0 < r["chance"] <= 1.0, r
        if r["goal"] is not None:
            assert isinstance(r["goal_met"], bool), r
    p = result["protocol"]
    assert p["config"]["quick"] is True
    assert p["catalog"]["songs"] == 8 and p["model"]["name"] == "lumina-tiny"
    assert len(p["model"]["weights_sha256"]) == 64
    assert p["software_version"] and p["torch"] and p["numpy"]
    assert p["causal_link"]["queries"] == 8 and p["config"]["generation_seed"] == 0
    assert p["fingerprint"]["dim"] == 512
    # `lumina validate` measures what a new library would be: the default rendering.
    assert p["fingerprint"]["composition_rendering"] == composition_rendering_for(None)
    assert p["config"]["composition_rendering"] == (
        DEFAULT_COMPOSITION_RENDERING or "plain").partition("/")[0]
    assert p["cache"].startswith("demo/") and p["cache"].endswith("/validation")
    assert result["default_null"] in NULLS and result["recommended_null"] in NULLS
    assert result["recommended_null_reason"]


def test_quick_reproducibility_row_is_zero(quick_run):
    for result in (quick_run["first"], quick_run["second"]):
        repro = [r for r in result["rows"] if r["row"] == 1]
        assert len(repro) == 6
        for r in repro:
            assert r["value"] <= REPRO_TOLERANCE_PERCENT and r["goal_met"], r


def test_quick_rerun_comes_from_the_cache_with_the_same_numbers(quick_run):
    first, second = quick_run["first"], quick_run["second"]
    assert second["protocol"]["cache_misses"] == 0
    assert second["protocol"]["cache_hits"] > 0
    assert [(r["id"], r["value"]) for r in first["rows"]] == \
           [(r["id"], r["value"]) for r in second["rows"]]


def test_quick_markdown_has_the_table_and_keeps_notes(quick_run):
    text = (quick_run["folder"] / "v.md").read_text(encoding="utf-8")
    assert text.startswith("# Validation study")
    assert "| # | measure | channel | value | chance | goal | verdict | paper |" in text
    assert "## Protocol" in text and quick_run["first"]["protocol"]["model"]["weights_sha256"] \
        in text
    assert text.count(NOTES_MARKER) == 1
    assert text.rstrip().endswith("Hand-written note.")
    assert text.count("Hand-written note.") == 1


def test_write_markdown_into_a_new_file_and_again(quick_run, tmp_path):
    path = write_markdown(quick_run["first"], tmp_path / "new.md")
    first = path.read_text(encoding="utf-8")
    assert NOTES_MARKER in first
    path.write_text(first + "\nA note.\n", encoding="utf-8")
    write_markdown(quick_run["first"], path)
    again = path.read_text(encoding="utf-8")
    write_markdown(quick_run["first"], path)
    assert path.read_text(encoding="utf-8") == again  # regenerating changes nothing
    assert again.endswith(NOTES_MARKER + "\n\nA note.\n")


@pytest.mark.parametrize("args", [
    ["--json", "{missing}/out.json"],
    ["--markdown", "{missing}/out.md"],
    ["--json", "{folder}"],
])
def test_bad_output_paths_fail_in_one_line_before_any_work(args, tmp_path, capsys):
    args = [a.format(missing=tmp_path / "no" / "such", folder=tmp_path) for a in args]
    start = time.monotonic()
    assert main(["validate", "--quick", *args]) == 1
    assert time.monotonic() - start < 5
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("lumina: error:"), err
    assert "Traceback" not in err


def test_unknown_option_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["validate", "--fast"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "unrecognized arguments: --fast" in err.splitlines()[-1]
    assert "Traceback" not in err
