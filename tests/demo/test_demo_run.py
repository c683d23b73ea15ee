"""``lumina demo`` end to end on a reduced catalog."""

from __future__ import annotations

import pytest

from lumina.demo.run import run_demo
from lumina.reports.verify import verify_report


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    monkeypatch.setenv("LUMINA_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("LUMINA_HOME", str(tmp_path / "home"))


def test_demo_runs_end_to_end_and_reuses_its_cache(tmp_path, tiny_model):
    import torch

    torch.set_num_threads(1)
    lines: list[str] = []
    first = run_demo(tmp_path / "out", model=tiny_model, n_compositions=2, n_timbres=2,
                     seconds=6.0, song_id="c1-t0", say=lines.append)
    assert first.indexed == 4 and first.result.library.songs == 4
    assert any("Indexing" in line for line in lines)
    assert any("Calibrating the demo library" in line for line in lines)
    calibration = first.result.to_json()["library"]["calibration"]
    assert calibration["songs"] == 4 and calibration["summary"].startswith("On this library")
    assert set(first.result.channels) == {"composition", "production"}
    assert [p.suffix for p in first.reports] == [".json", ".pdf"]
    for report in first.reports:
        check = verify_report(report, audio=first.query_path)
        assert check.audio_matches
    lines.clear()
    again = run_demo(tmp_path / "out2", model=tiny_model, n_compositions=2, n_timbres=2,
                     seconds=6.0, song_id="c1-t0", say=lines.append)
    assert again.indexed == 0 and not lines  # catalog, library and query came from the cache
    assert again.query_path == first.query_path
