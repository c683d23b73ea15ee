"""The unusual-input reference and check (lumina.typicality) on vectors with a known answer."""

from __future__ import annotations

import numpy as np
import pytest

from lumina.typicality import UNUSUAL_INPUT, best_matches, typicality_reference, unusual_input


def _units(rows):
    a = np.asarray(rows, dtype=np.float32)
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def test_reference_holds_out_each_song_with_its_relatives():
    # Songs 0 and 1 are relatives (near-identical); 2 is alone; 3 is far from everything.
    unit = _units([[1, 0.01, 0], [1, 0, 0.01], [0.6, 0.8, 0], [0, 0, 1]])
    groups = [np.array([0, 1]), np.array([0, 1]), np.array([2]), np.array([3])]
    ref = typicality_reference({"production": unit}, groups, np.arange(4))
    best = [max(float(unit[j] @ unit[k]) for k in range(4) if k not in groups[j])
            for j in range(4)]
    # Without the relative, song 0's best match is song 2 (0.6), not song 1 (≈ 1).
    assert best[0] == pytest.approx(0.6, abs=0.01)
    assert ref["production"]["lowest"] == pytest.approx(min(best), abs=1e-6)
    assert ref["production"]["median"] == pytest.approx(float(np.median(best)), abs=1e-6)
    assert ref["production"]["songs"] == 4


def test_a_song_with_nothing_left_to_match_is_not_counted():
    unit = _units([[1, 0], [0, 1]])
    ref = typicality_reference({"c": unit}, [np.array([0, 1])] * 2, np.arange(2))
    assert ref == {}


def test_cancel_between_songs():
    unit = _units([[1, 0], [0, 1], [1, 1]])
    with pytest.raises(InterruptedError):
        typicality_reference({"c": unit}, [np.array([i]) for i in range(3)], np.arange(3),
                             cancelled=lambda: True)


def test_best_matches_and_the_warning():
    unit = _units([[1, 0, 0], [0, 1, 0]])
    best = best_matches({"production": np.array([1.0, 1.0, 0.0]), "other": np.ones(3)},
                        {"production": unit})
    assert best == {"production": pytest.approx(np.sqrt(0.5))}
    ref = {"production": {"lowest": 0.8, "median": 0.9, "songs": 12}}
    line = unusual_input(best, ref)
    assert line is not None and line.startswith(UNUSUAL_INPUT) and "\n" not in line
    assert "production best match 0.71" in line and "12 songs" in line and "(0.80)" in line
    assert unusual_input({"production": 0.85}, ref) is None
    assert unusual_input({"composition": 0.1}, ref) is None  # no reference: no claim
