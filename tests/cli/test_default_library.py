"""``--library`` defaults to the library used last, else the demo library, with real
libraries: the session's small catalog and a reduced ``lumina demo``."""

from __future__ import annotations

import functools
import json
import shutil

import pytest

from lumina.cli import main
from lumina.settings import (
    demo_library,
    read_settings,
    remember_library,
    remembered_library,
    settings_path,
)


def test_without_a_library_one_line_says_what_to_run(catalog, capsys):
    _, songs = catalog
    assert main(["attribute", str(songs[0])]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "run `lumina demo`" in err and "--library LIB" in err
    assert main(["attribute", str(songs[0]), "--library", "demo"]) == 1
    assert "no demo library yet: run `lumina demo`" in capsys.readouterr().err


def test_the_library_used_last_is_the_default(catalog, tmp_path, capsys):
    lib_path, songs = catalog
    assert main(["attribute", str(songs[1]), "--library", str(lib_path)]) == 0
    capsys.readouterr()
    assert read_settings()["last_library"] == str(lib_path.resolve())
    assert main(["attribute", str(songs[1])]) == 0
    out, err = capsys.readouterr()
    assert f"library: {lib_path.resolve()} (the library used last;" in err
    assert f"library {lib_path.name}: 5 song(s)" in out and "Tune 1" in out
    # A library deleted since is skipped, not handed on to fail as "not found".
    gone = tmp_path / "gone"
    shutil.copytree(lib_path, gone)
    remember_library(gone)
    shutil.rmtree(gone)
    assert remembered_library() is None
    assert main(["attribute", str(songs[1])]) == 1
    assert "run `lumina demo`" in capsys.readouterr().err


def test_index_remembers_the_library_it_wrote(tmp_path, model_dir, capsys):
    from tests.conftest import write_song

    song = write_song(tmp_path / "a.wav", 3.0, 7)
    lib = tmp_path / "mine"
    assert main(["index", str(song), "--library", str(lib), "--model", str(model_dir)]) == 0
    assert remembered_library() == (lib.resolve(), "the library used last")


def test_a_damaged_settings_file_is_no_default(tmp_path):
    settings_path().parent.mkdir(parents=True, exist_ok=True)
    settings_path().write_text("{not json")
    assert read_settings() == {} and remembered_library() is None
    settings_path().write_text(json.dumps(["a list"]))
    assert read_settings() == {}


@pytest.fixture
def demo_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LUMINA_CACHE", str(tmp_path / "cache"))


def test_attribute_needs_no_library_after_the_demo(demo_cache, model_dir, catalog, tmp_path,
                                                   monkeypatch, capsys):
    import lumina.demo.run
    from lumina.models import load_model

    # `lumina demo` as it runs, on a reduced catalog and the session's tiny model.
    monkeypatch.setattr(lumina.demo.run, "run_demo", functools.partial(
        lumina.demo.run.run_demo, model=load_model(str(model_dir)), n_compositions=2,
        n_timbres=2, seconds=6.0, song_id="c1-t0"))
    assert main(["demo", "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    built = demo_library()
    assert built is not None and f"demo library: {built} (now the default" in out
    _, songs = catalog
    assert main(["attribute", str(songs[0])]) == 0
    out, err = capsys.readouterr()
    assert f"library: {built} (the library used last;" in err
    assert f"library {built.name}: 4 song(s)" in out
    # Another library used since is the default now; the demo library stays one word away.
    lib_path, _ = catalog
    assert main(["attribute", str(songs[0]), "--library", str(lib_path)]) == 0
    assert main(["attribute", str(songs[0]), "--library", "demo"]) == 0
    out, err = capsys.readouterr()
    assert f"library: {built} (the demo library)" in err
    assert f"library {built.name}: 4 song(s)" in out
    # The demo library is the fallback when the library used last is gone.
    remember_library(tmp_path / "deleted")
    assert remembered_library() == (built, "the demo library")
