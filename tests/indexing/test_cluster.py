"""Indexing on Ray (``lumina index … --ray``) against a local Ray instance with 2 CPUs: the
library equals a local run's bit for bit, a killed actor's songs are re-run elsewhere, a
corrupt file is reported after its retries, and a driver killed with ``kill -9`` leaves a
library that verifies and that a rerun completes. Without Ray, ``--ray`` says how to get it."""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from lumina.cli import main
from lumina.library import Library, verify
from tests.conftest import wait_for_committed_songs

CHANNELS = ("composition", "production")


def _write_song(path: Path, seconds: float, seed: int, rate: int = 32000) -> Path:
    from lumina.demo.synth import random_music

    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, random_music(seconds, rate, seed), rate)
    return path


@pytest.fixture(scope="module")
def ray_address():
    """One local Ray instance for the module: 2 CPUs, so 2 single-threaded CPU actors."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             logging_level=logging.ERROR)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def songs(tmp_path_factory) -> Path:
    """Six generated songs of 4 to 9 s (the 9 s one ends in a short chunk)."""
    folder = tmp_path_factory.mktemp("ray-music")
    for i in range(6):
        _write_song(folder / f"Band {i} - Tune {i}.wav", 4.0 + i, 700 + i)
    return folder


@pytest.fixture(scope="module")
def local_library(songs, model_dir, tmp_path_factory) -> Path:
    """The reference: the same songs indexed locally (one torch thread, like the actors)."""
    lib = tmp_path_factory.mktemp("ray-ref") / "local"
    assert main(["index", str(songs), "--library", str(lib), "--model", str(model_dir)]) == 0
    return lib


def _contents(path: Path) -> dict[str, object]:
    """Everything a library holds about its songs, except when they were added."""
    with Library.open(path) as lib:
        songs = [dataclasses.replace(s, added_at="") for s in lib.songs(include_removed=True)]
        out: dict[str, object] = {"digest": lib.digest(), "songs": songs,
                                  "identity": lib.manifest.identity()}
        gen = lib.snapshot().generation
    for channel in CHANNELS:
        for kind in ("track", "chunks"):
            name = f"{channel}.{kind}.g{gen}.f32"
            out[name] = (path / name).read_bytes()
    conn = sqlite3.connect(path / "catalog.sqlite")
    try:
        out["chunks"] = conn.execute("SELECT * FROM chunks ORDER BY song_id, idx").fetchall()
        out["sums"] = conn.execute(
            "SELECT id, row, track_sha256, chunks_sha256, crc FROM songs ORDER BY id").fetchall()
    finally:
        conn.close()
    return out


def _assert_same_library(a: Path, b: Path) -> None:
    ca, cb = _contents(a), _contents(b)
    assert ca.keys() == cb.keys()
    for key in ca:
        assert ca[key] == cb[key], f"{key} differs between {a.name} and {b.name}"


# --------------------------------------------------------------------------- tests


def test_ray_index_equals_local_bit_for_bit(ray_address, songs, local_library, model_dir,
                                            tmp_path, capsys):
    lib = tmp_path / "ray"
    rc = main(["index", str(songs), "--library", str(lib), "--model", str(model_dir),
               "--ray", ray_address])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert out.startswith("indexed 6, skipped 0, failed 0 in ")
    assert "ray: 2 CPU worker(s)" in err and "6/6 songs" in err and "songs/h" in err
    _assert_same_library(lib, local_library)
    assert verify(lib).ok
    # A rerun skips everything (without waiting for the workers to load the model).
    assert main(["index", str(songs), "--library", str(lib), "--ray", ray_address]) == 0
    assert capsys.readouterr().out.startswith(
        "indexed 0, skipped 6 (6 already in the library), failed 0")
    _assert_same_library(lib, local_library)


def test_killed_actor_songs_are_rerun_elsewhere(ray_address, songs, local_library, model_dir,
                                                tmp_path):
    from lumina.indexing.cluster import index_on_ray

    killed: list[int] = []
    notes: list[str] = []

    def progress(status) -> None:
        # After the first commit, kill the busiest worker's process, songs still in it.
        if killed or status.done == 0 or status.done >= status.total:
            return
        busy = max((w for w in status.workers if w.state == "ready"), key=lambda w: w.busy)
        os.kill(busy.pid, signal.SIGKILL)
        killed.append(busy.pid)

    files = sorted(songs.iterdir())
    # Hashed by Ray tasks rather than the driver's threads (what a multi-node cluster does).
    summary = index_on_ray(tmp_path / "lib", files, model=str(model_dir), progress=progress,
                           say=notes.append, hash_on="cluster")
    assert killed, "the run ended before a worker could be killed"
    assert summary.workers_lost == 1 and summary.retries >= 1, notes
    assert any("re-run elsewhere" in n for n in notes), notes
    assert any("files hashed on the cluster" in n for n in notes), notes
    assert (summary.indexed, summary.failed, summary.skipped) == (6, 0, 0)
    assert verify(tmp_path / "lib").ok
    with Library.open(tmp_path / "lib") as lib:  # complete, nothing twice
        assert len({s.audio_sha256 for s in lib.songs(include_removed=True)}) == 6 == len(lib)
    _assert_same_library(tmp_path / "lib", local_library)


def test_corrupt_file_is_reported_after_its_retries(ray_address, songs, local_library,
                                                    model_dir, tmp_path):
    from lumina.indexing.cluster import index_on_ray

    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF\0\0\0\0WAVEjunk" * 20)
    good = sorted(songs.iterdir())
    events = []
    # The driver ships the bytes (workers then read no shared path): the same library.
    summary = index_on_ray(tmp_path / "lib", [*good[:2], broken, *good[2:]],
                           model=str(model_dir), ship_audio=True, report=events.append)
    assert (summary.indexed, summary.failed) == (6, 1)
    assert summary.retries == 2  # tried three times in all
    failed = [e for e in events if e.kind == "failed"]
    assert len(failed) == 1 and failed[0].path == broken
    assert failed[0].message.startswith("broken.wav: ")
    assert failed[0].message.endswith("(failed 3 times, skipped)")
    assert [e.kind for e in events] == ["indexed"] * 2 + ["failed"] + ["indexed"] * 4
    assert verify(tmp_path / "lib").ok
    _assert_same_library(tmp_path / "lib", local_library)


def test_driver_kill_9_leaves_a_verifiable_library_and_a_rerun_finishes(
        ray_address, model_dir, tmp_path, capsys):
    folder = tmp_path / "music"
    n_songs = 16
    for i in range(n_songs):
        _write_song(folder / f"song{i:02d}.wav", 3.0, 900 + i)
    lib_path = tmp_path / "lib"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "lumina.cli", "index", str(folder), "--library", str(lib_path),
         "--model", str(model_dir), "--ray", ray_address],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        committed = wait_for_committed_songs(proc, lib_path, at_least=2, timeout_s=300)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert committed >= 2, proc.stderr.read().decode()[-2000:]
    report = verify(lib_path)
    assert report.ok, report.problems
    with Library.open(lib_path) as lib:
        before = len(lib)
    assert before < n_songs, "the driver finished before it was killed"
    capsys.readouterr()
    assert main(["index", str(folder), "--library", str(lib_path), "--ray", ray_address]) == 0
    assert capsys.readouterr().out.startswith(
        f"indexed {n_songs - before}, skipped {before} ({before} already in the library), "
        "failed 0")
    with Library.open(lib_path) as lib:
        songs = lib.songs(include_removed=True)
        assert len(songs) == n_songs == len({s.audio_sha256 for s in songs})
        assert [s.title for s in songs] == [f"song{i:02d}" for i in range(n_songs)]
    assert verify(lib_path).ok


def test_without_ray_the_option_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    _write_song(tmp_path / "a.wav", 2.0, 1)
    rc = main(["index", str(tmp_path / "a.wav"), "--library", str(tmp_path / "lib"), "--ray"])
    out, err = capsys.readouterr()
    assert rc == 1 and out == ""
    assert err.strip().splitlines() == [
        "lumina: error: --ray needs Ray, which is not installed: "
        "pip install 'lumina-attribution[cluster]'"]
    assert not (tmp_path / "lib").exists()


def test_importing_lumina_does_not_import_ray():
    code = ("import sys, lumina, lumina.cli, lumina.library, lumina.indexing.cluster; "
            "sys.exit('ray' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0


def test_a_batch_commit_writes_what_song_by_song_commits_write(tmp_path, fingerprinter, songs):
    """The driver commits songs that are ready together in one transaction: same library."""
    from lumina.indexing import IndexRun, PreparedFile, fingerprint_for_index
    from lumina.workspace import identity_of_fingerprinter

    prepared = [fingerprint_for_index(fingerprinter, p) for p in sorted(songs.iterdir())[:3]]
    for name, batched in (("one", False), ("batch", True)):
        lib = Library.create(tmp_path / name, identity_of_fingerprinter(fingerprinter))
        with lib, lib.writer() as w:
            run = IndexRun(w)
            items = [(PreparedFile(path=i.path, sha256=i.sha256, meta=i.meta), fp)
                     for i, fp in prepared]
            ids = run.add_many(items) if batched else [run.add(i, fp) for i, fp in items]
            assert ids == [1, 2, 3]
    _assert_same_library(tmp_path / "one", tmp_path / "batch")
