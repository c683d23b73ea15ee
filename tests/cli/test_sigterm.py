"""SIGTERM during ``lumina index``: the finished songs are committed, the library verifies,
the command exits 143 with one line, and the same command resumes where it stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import soundfile as sf

from lumina.cli import EXIT_TERMINATED, main
from lumina.library import Library, verify
from tests.conftest import wait_for_committed_songs


def test_sigterm_mid_index_keeps_finished_songs_and_a_rerun_resumes(
        model_dir, tmp_path, capsys):
    from lumina.demo.synth import random_music

    folder = tmp_path / "music"
    folder.mkdir()
    n_songs = 12
    for i in range(n_songs):
        sf.write(folder / f"song{i:02d}.wav", random_music(3.0, 32000, 700 + i), 32000)
    lib_path = tmp_path / "lib"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1",
           "LUMINA_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "lumina.cli", "index", str(folder), "--library", str(lib_path),
         "--model", str(model_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        # model load and the first songs can take minutes on a loaded machine
        committed = wait_for_committed_songs(proc, lib_path, at_least=2, timeout_s=240)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err_text = err.decode()
    assert committed >= 2, err_text[-2000:]
    assert proc.returncode == EXIT_TERMINATED, err_text[-2000:]
    assert "lumina: terminated" in err_text and "Traceback" not in err_text
    report = verify(lib_path)
    assert report.ok, report.problems
    with Library.open(lib_path) as lib:
        before = len(lib)
    assert 2 <= before < n_songs, "the index finished before it was terminated"
    capsys.readouterr()
    assert main(["index", str(folder), "--library", str(lib_path)]) == 0
    assert capsys.readouterr().out.startswith(
        f"indexed {n_songs - before}, skipped {before} ({before} already in the library)")
