"""Inputs are checked before any model loads: one line, a non-zero exit, torch not imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lumina.cli import main
from lumina.cli.inputs import check_inputs, check_track
from lumina.errors import AudioError, LuminaError
from tests.conftest import write_song

ROOT = Path(__file__).resolve().parents[2]


def _run_in_fresh_python(calls: list[list[str]], cwd: Path, home: Path) -> list[dict]:
    """Run ``main(args)`` for each of ``calls`` in a new interpreter; per call its exit
    status, its stderr and whether torch had been imported by then."""
    code = """
import contextlib, io, json, sys
from lumina.cli import main
results = []
for args in json.loads(sys.argv[1]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = main(args)
    results.append({"rc": rc, "err": err.getvalue(), "torch": "torch" in sys.modules})
print(json.dumps(results))
"""
    env = dict(os.environ, LUMINA_HOME=str(home), PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", code, json.dumps(calls)], cwd=cwd, env=env,
                         capture_output=True, text=True, timeout=120, check=True)
    return json.loads(out.stdout)


def test_bad_inputs_fail_in_one_line_before_torch_is_imported(tmp_path, catalog):
    lib_path, _ = catalog
    (tmp_path / "notes.wav").write_text("not audio")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no audio here")
    cases = [  # (the error line's start, the command)
        ("nothere.wav: file not found", ["attribute", "nothere.wav"]),
        ("nothere.wav: file not found", ["attribute", "nothere.wav", "--library",
                                         str(lib_path)]),
        ("notes.wav: unsupported container: a text file, not audio",
         ["attribute", "notes.wav", "--library", str(lib_path)]),
        ("nowhere, gone.mp3: no such file or folder",
         ["audit", "nowhere", "gone.mp3", "--library", str(lib_path), "--out", "audit"]),
        ("no audio files in empty (looked for .aac, ", ["index", "empty", "--library", "lib"]),
        ("notes.wav: unsupported container", ["index", "empty", "notes.wav", "--library", "lib"]),
        ("nothere.wav: file not found", ["fingerprint", "nothere.wav"]),
    ]
    results = _run_in_fresh_python([args for _, args in cases], tmp_path, tmp_path / "home")
    for (expected, args), result in zip(cases, results, strict=True):
        err = result["err"]
        assert result["rc"] == 1, (args, result)
        assert err.startswith("lumina: error: " + expected), (args, err)
        assert err.count("\n") == 1, err  # one line
    assert not any(r["torch"] for r in results)  # no model was loaded for any of them
    assert not (tmp_path / "lib").exists() and not (tmp_path / "audit").exists()


def test_check_track_names_what_is_wrong(tmp_path):
    with pytest.raises(AudioError, match="^nothere.wav: file not found$"):
        check_track("nothere.wav")
    (tmp_path / "silence.wav").write_bytes(b"")
    with pytest.raises(AudioError, match="empty file"):
        check_track(str(tmp_path / "silence.wav"))
    with pytest.raises(AudioError, match="is a directory"):
        check_track(str(tmp_path))
    song = write_song(tmp_path / "a.wav", 1.0, 1)
    assert check_track(str(song)) == song


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any folder")
def test_an_unreadable_folder_is_refused(tmp_path):
    folder = tmp_path / "locked"
    write_song(folder / "a.wav", 1.0, 1)
    folder.chmod(0)
    try:
        with pytest.raises(LuminaError, match="locked: folder cannot be read"):
            check_inputs([str(folder)])
    finally:
        folder.chmod(0o755)


def test_folder_contents_are_left_to_the_run(tmp_path):
    # One bad file in a folder is a failed row of the run, not a refusal up front.
    write_song(tmp_path / "music" / "a.wav", 1.0, 1)
    (tmp_path / "music" / "broken.flac").write_bytes(b"fLaC" + b"\0" * 300)
    check_inputs([str(tmp_path / "music")])


def test_a_missing_path_among_good_ones_stops_the_index_before_it_starts(tmp_path, capsys):
    song = write_song(tmp_path / "a.wav", 1.0, 1)
    rc = main(["index", str(song), str(tmp_path / "typo.wav"), "--library",
               str(tmp_path / "lib")])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and err == f"lumina: error: {tmp_path / 'typo.wav'}: no such file or folder"
    assert not (tmp_path / "lib").exists()
