"""``lumina library relink`` (issue 23): songs found again by their audio's SHA-256 after the
catalog moved, through the library's writer, and a failed or interrupted run changes
nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from lumina.audio import file_sha256
from lumina.cli import EXIT_ERROR, main
from lumina.indexing.relink import match_files, relink_library
from lumina.library import Library, LibraryLockedError, SongMeta, verify
from tests.conftest import write_song

CHANNELS = ("composition", "production")
DIM = 8


def _library(tmp_path: Path) -> tuple[Path, list[Path]]:
    """Three short songs under old/ in a library of random vectors whose catalog records
    their paths and audio hashes as indexing does."""
    songs = [write_song(tmp_path / "old" / f"Band {i} - Tune {i}.wav", 1.0 + i, 500 + i,
                        rate=8000) for i in range(3)]
    identity = {"model_name": "test-model", "model_sha256": "ab" * 32, "projection_seed": 0,
                "projection_blocks": 32, "dim": DIM, "chunk_seconds": 10.0,
                "sample_rate": 32000, "channels": list(CHANNELS)}
    rng = np.random.default_rng(0)
    lib = Library.create(tmp_path / "lib", identity)
    with lib, lib.writer() as w:
        w.append_vectors({c: rng.standard_normal((3, DIM)).astype(np.float32)
                          for c in CHANNELS},
                         [SongMeta(title=p.stem, source_path=str(p.resolve()),
                                   audio_sha256=file_sha256(p), duration=1.0 + i)
                          for i, p in enumerate(songs)])
    return tmp_path / "lib", songs


def _paths(lib_path: Path) -> dict[str, str]:
    with Library.open(lib_path) as lib:
        return {s.title: s.source_path for s in lib.songs()}


def _move_catalog(tmp_path: Path, songs: list[Path]) -> Path:
    """Move the catalog to new/, in a subfolder and with one file renamed: a match is by
    content, not name."""
    new = tmp_path / "new"
    (new / "disc 1").mkdir(parents=True)
    shutil.move(songs[0], new / "disc 1" / songs[0].name)
    shutil.move(songs[1], new / "renamed.wav")
    shutil.move(songs[2], new / songs[2].name)
    shutil.rmtree(tmp_path / "old")
    return new


def test_relink_points_songs_at_the_moved_files(tmp_path, capsys):
    lib_path, songs = _library(tmp_path)
    new = _move_catalog(tmp_path, songs)
    before = _paths(lib_path)
    with Library.open(lib_path) as lib:
        digest = lib.digest()
    capsys.readouterr()
    assert main(["library", "relink", str(lib_path), str(new), "-v"]) == 0
    out = capsys.readouterr().out
    assert f"relinked 3 of 3 songs; 0 not found under {new}" in out
    assert out.count("relinked ") == 4  # a line per song with -v, then the summary
    after = _paths(lib_path)
    assert after == {"Band 0 - Tune 0": str((new / "disc 1" / songs[0].name).resolve()),
                     "Band 1 - Tune 1": str((new / "renamed.wav").resolve()),
                     "Band 2 - Tune 2": str((new / songs[2].name).resolve())}
    assert all(Path(p).exists() for p in after.values()) and after != before
    assert verify(lib_path).ok
    with Library.open(lib_path) as lib:
        assert lib.digest() == digest  # the source path is no part of the library's identity
    assert main(["library", "verify", str(lib_path)]) == 0

    # Again: every song is already there; nothing to print per song, the same summary.
    capsys.readouterr()
    assert main(["library", "relink", str(lib_path), str(new), "-v"]) == 0
    out = capsys.readouterr().out
    assert out.strip().splitlines() == [f"relinked 3 of 3 songs; 0 not found under {new}"]


def test_a_song_without_its_file_is_counted_and_keeps_its_path(tmp_path, capsys):
    lib_path, songs = _library(tmp_path)
    new = _move_catalog(tmp_path, songs)
    (new / "renamed.wav").unlink()
    (new / "notes.wav").write_bytes(b"not the audio of any song")
    old = _paths(lib_path)["Band 1 - Tune 1"]
    capsys.readouterr()
    assert main(["library", "relink", str(lib_path), str(new), "--verbose"]) == 0
    out = capsys.readouterr().out
    assert f"relinked 2 of 3 songs; 1 not found under {new}" in out
    assert f"not found 2 Band 1 - Tune 1: {old}" in out
    assert _paths(lib_path)["Band 1 - Tune 1"] == old
    assert verify(lib_path).ok


@pytest.mark.parametrize("what", ["missing", "file"])
def test_a_bad_folder_is_one_error_line(tmp_path, capsys, what):
    lib_path, songs = _library(tmp_path)
    folder = tmp_path / "nope" if what == "missing" else songs[0]
    before = _paths(lib_path)
    capsys.readouterr()
    assert main(["library", "relink", str(lib_path), str(folder)]) == EXIT_ERROR
    out = capsys.readouterr()
    reason = "no such folder" if what == "missing" else "not a folder"
    assert out.err.strip().splitlines() == [f"lumina: error: {folder}: {reason}"
                                            + ("" if what == "missing" else
                                               " (relink looks for audio files inside one)")]
    assert out.out == ""
    assert _paths(lib_path) == before


def test_an_interrupted_relink_changes_nothing(tmp_path, monkeypatch):
    lib_path, songs = _library(tmp_path)
    new = _move_catalog(tmp_path, songs)
    before = _paths(lib_path)
    calls = []

    def killed_on_the_second_file(path):
        calls.append(path)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return file_sha256(path)

    monkeypatch.setattr("lumina.audio.file_sha256", killed_on_the_second_file)
    with pytest.raises(KeyboardInterrupt):
        relink_library(lib_path, new)
    monkeypatch.undo()
    assert _paths(lib_path) == before and verify(lib_path).ok
    # The writer lock was released: the next run works.
    assert len(relink_library(lib_path, new).relinked) == 3


def test_relink_refuses_a_library_another_writer_holds(tmp_path):
    lib_path, songs = _library(tmp_path)
    new = _move_catalog(tmp_path, songs)
    before = _paths(lib_path)
    with Library.open(lib_path) as lib, lib.writer(), pytest.raises(LibraryLockedError):
        relink_library(lib_path, new)
    assert _paths(lib_path) == before


def test_writer_updates_a_song_only_while_it_holds_that_audio(tmp_path):
    lib_path, _ = _library(tmp_path)
    with Library.open(lib_path) as lib, lib.writer() as w:
        s1, s2 = lib.songs()[:2]
        done = w.set_source_paths({s1.id: (s1.audio_sha256, "/x/a.wav"),
                                   s2.id: ("00" * 32, "/x/b.wav"), 999: ("11" * 32, "/x/c")})
        assert done == [s1.id]
        assert lib.song(s1.id).source_path == "/x/a.wav"
        assert lib.song(s2.id).source_path == s2.source_path


def test_match_files_hashes_likely_names_first_and_stops_when_all_are_found(tmp_path):
    lib_path, songs = _library(tmp_path)
    with Library.open(lib_path) as lib:
        catalog = lib.songs()
    others = [write_song(tmp_path / "x" / f"a{i}.wav", 1.0, 900 + i, rate=8000)
              for i in range(4)]
    hashed = []

    def record(path):
        hashed.append(path)
        return file_sha256(path)

    found, count, unreadable = match_files(catalog, [*others, *songs], hash_file=record)
    assert {sid: p.name for sid, p in found.items()} == {s.id: Path(s.source_path).name
                                                         for s in catalog}
    assert hashed == songs and count == 3 and unreadable == []
