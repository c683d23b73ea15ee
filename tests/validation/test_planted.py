"""The planted-influence arithmetic (lumina.validation.planted) and the study's row 10."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from lumina.validation.planted import PLANTED_RECIPE, load_results, planted_summary, wilson


def _sample(comp: int, prod: int, base: int, named: bool) -> dict:
    return {"composition": {"rank": comp, "named": False},
            "production": {"rank": prod, "named": named},
            "baseline": {"rank": base, "named": None}}


def _result(k: int, seed: int, tuned: list[dict], control: list[dict]) -> dict:
    return {"planted": k, "seed": seed, "planted_loss_before": 7.0,
            "planted_loss_after": 0.5, "tuned": tuned, "control": control}


def test_wilson_interval_known_values():
    lo, hi = wilson(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-4) and hi == pytest.approx(0.9433, abs=1e-4)
    assert wilson(0, 10)[0] == pytest.approx(0.0, abs=1e-12)
    assert all(v != v for v in wilson(0, 0))  # NaN for no trials


def test_summary_counts_ranks_and_gate():
    results = [_result(0, 0, [_sample(3, 0, 9, True), _sample(0, 4, 0, False)],
                       [_sample(7, 2, 1, False), _sample(9, 9, 9, False)]),
               _result(1, 0, [_sample(12, 0, 5, True), _sample(1, 6, 2, False)],
                       [_sample(0, 8, 3, False), _sample(4, 1, 9, False)])]
    s = planted_summary(results)
    assert s["models"] == 2 and s["planted"] == 2
    assert s["loss_before"] == 7.0 and s["loss_after"] == 0.5
    tuned, control = s["rates"]["tuned"], s["rates"]["control"]
    assert tuned["production"]["recall@1"] == 0.5 and tuned["production"]["recall@5"] == 0.75
    assert tuned["production"]["named"] == 0.5 and tuned["baseline"]["named"] is None
    assert control["composition"]["recall@1"] == 0.25
    assert control["composition"]["recall@5"] == 0.5
    lo, hi = tuned["production"]["recall@1_ci"]
    assert lo < 0.5 < hi
    assert planted_summary([]) == {"models": 0, "planted": 0, "rates": {}}


def test_study_row_10_reads_the_bench_results(tmp_path):
    from lumina.validation.config import ValidationConfig
    from lumina.validation.study import Study

    folder = tmp_path / "planted" / PLANTED_RECIPE
    folder.mkdir(parents=True)
    (folder / "p00-seed0.json").write_text(json.dumps(
        _result(0, 0, [_sample(0, 0, 5, True)], [_sample(3, 9, 1, False)])))
    assert len(load_results(folder)) == 1
    study = Study(config=ValidationConfig(), model=None, progress=None, say=print)
    study.cache = tmp_path
    study.catalog = SimpleNamespace(songs=[object()] * 32)
    study.planted_rows()
    by_id = {r.id: r for r in study.rows}
    assert by_id["10.planted.tuned.recall1.production"].value == 1.0
    assert by_id["10.planted.control.recall1.production"].value == 0.0
    assert by_id["10.planted.tuned.named.production"].value == 1.0
    assert by_id["10.planted.tuned.recall5.baseline"].channel == "baseline"
    assert by_id["10.planted.tuned.recall1.production"].chance == pytest.approx(1 / 33)
    # The quick study, or no bench results: no row.
    quick = Study(config=ValidationConfig.quick_config(), model=None, progress=None, say=print)
    quick.cache, quick.catalog = tmp_path, study.catalog
    quick.planted_rows()
    assert not quick.rows
