"""The fingerprint library: format, crash safety, concurrency, verification, maintenance,
indexing from audio and the ``index`` / ``library`` verbs."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from lumina.attribution import AttributionParams, attribute, build_channel_index
from lumina.cli import main
from lumina.indexing import collect_audio_files, index_files
from lumina.library import (
    CATALOG_NAME,
    Library,
    LibraryError,
    LibraryLockedError,
    LibraryWriter,
    SongMeta,
    read_song_meta,
    verify,
)

CHANNELS = ("composition", "production")


def _identity(dim: int = 16, **changes: object) -> dict[str, object]:
    ident: dict[str, object] = {
        "model_name": "test-model", "model_sha256": "ab" * 32, "projection_seed": 0,
        "projection_blocks": 32, "dim": dim, "chunk_seconds": 10.0, "sample_rate": 32000,
        "channels": list(CHANNELS),
    }
    ident.update(changes)
    return ident


def _vectors(n: int, dim: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {c: rng.standard_normal((n, dim)).astype(np.float32) for c in CHANNELS}


def _metas(start: int, n: int) -> list[SongMeta]:
    return [SongMeta(title=f"song {i}", artist=f"artist {i % 3}",
                     audio_sha256=f"{i:064x}", duration=30.0) for i in range(start, start + n)]


def _vector_library(path: Path, n: int = 12, dim: int = 16, seed: int = 0,
                    chunks: bool = True) -> tuple[Library, dict[str, np.ndarray]]:
    """A library of ``n`` random songs with two chunks each, built through the bulk API."""
    lib = Library.create(path, _identity(dim))
    x = _vectors(n, dim, seed)
    kwargs = {}
    if chunks:
        kwargs = {"chunks": _vectors(2 * n, dim, seed + 1), "chunk_counts": [2] * n,
                  "chunk_times": np.tile([[0.0, 10.0], [10.0, 20.0]], (n, 1)),
                  "chunk_loss": np.linspace(4.0, 5.0, 2 * n)}
    with lib.writer() as w:
        w.append_vectors(x, _metas(0, n), **kwargs)
    return lib, x


def _query(dim: int, seed: int = 99) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {c: rng.standard_normal(dim).astype(np.float32) for c in CHANNELS}


def _by_song(lib_attr) -> dict[str, list[tuple]]:
    """Attribution keyed by song id instead of prepared row, to compare two libraries."""
    ids = lib_attr.prepared.song_ids
    return {name: [(int(ids[i.index]), i.cosine, i.raw_cosine, i.z, i.confidence, i.weight,
                    i.share, i.qualifies) for i in ch.influences]
            for name, ch in lib_attr.attribution.channels.items()}


def _write_song(path: Path, seconds: float, seed: int, rate: int = 32000) -> Path:
    from lumina.demo.synth import random_music

    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, random_music(seconds, rate, seed), rate)
    return path


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    """One torch thread for the fingerprinting here: on a shared 2-core machine torch's
    OpenMP threads slow down by orders of magnitude when another process holds a core."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def model_dir(tiny_model, tmp_path_factory) -> Path:
    from lumina.models.transformers_folder import save_transformers_folder

    return save_transformers_folder(tiny_model, tmp_path_factory.mktemp("model") / "tiny")


@pytest.fixture(scope="module")
def fingerprinter(tiny_model):
    from lumina.fingerprint.fingerprinter import Fingerprinter

    return Fingerprinter(tiny_model, device="cpu")


# --------------------------------------------------------------------------- format


def test_create_writes_manifest_catalog_and_matrices(tmp_path):
    lib, x = _vector_library(tmp_path / "lib", n=5)
    manifest = json.loads((tmp_path / "lib" / "manifest.json").read_text())
    assert manifest["format"] == "lumina-library" and manifest["format_version"] == 1
    assert manifest["dim"] == 16 and manifest["channels"] == list(CHANNELS)
    assert manifest["model_sha256"] == "ab" * 32 and manifest["dtype"] == "<f4"
    conn = sqlite3.connect(tmp_path / "lib" / CATALOG_NAME)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    # Raw float32 rows, exactly what was appended.
    raw = np.fromfile(lib.matrix_path("composition"), dtype="<f4").reshape(-1, 16)
    assert np.array_equal(raw, x["composition"])
    assert (lib.matrix_path("production", "chunks").stat().st_size == 10 * 16 * 4)
    again = Library.open(tmp_path / "lib")
    assert again.manifest == lib.manifest and len(again) == 5
    track, chunks = again.vectors(3)
    assert np.array_equal(track["production"], x["production"][2])
    assert chunks["composition"].shape == (2, 16)
    assert np.allclose(again.chunk_times(3)[:, :2], [[0, 10], [10, 20]])


def test_open_refuses_non_libraries(tmp_path):
    with pytest.raises(LibraryError, match="not found"):
        Library.open(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(LibraryError, match="not a LUMINA library"):
        Library.open(tmp_path / "empty")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "thesis.docx").write_text("x")
    with pytest.raises(LibraryError, match="not empty"):
        Library.create(tmp_path / "busy", _identity())
    bad = tmp_path / "bad"
    Library.create(bad, _identity()).close()
    data = json.loads((bad / "manifest.json").read_text())
    data["format_version"] = 99
    (bad / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(LibraryError, match="format version 99"):
        Library.open(bad)


def test_attribution_equals_in_memory_index(tmp_path):
    lib, x = _vector_library(tmp_path / "lib", n=30, dim=16)
    q = _query(16)
    chunks = {c: np.random.default_rng(5).standard_normal((3, 16)) for c in CHANNELS}
    indexes = {c: build_channel_index(x[c]) for c in CHANNELS}
    for null in ("empirical", "analytic"):
        got = lib.attribute(q, chunks=chunks, options=AttributionParams(null=null, top=5))
        want = attribute(q, indexes, chunks=chunks, params=AttributionParams(null=null, top=5))
        assert got.attribution == want  # bit-identical: same math on the same rows
    assert np.array_equal(got.prepared.song_ids, np.arange(1, 31))


def test_cache_is_rebuilt_only_when_rows_change(tmp_path, monkeypatch):
    lib, _ = _vector_library(tmp_path / "lib", n=10)
    builds = []
    original = Library._build_cache

    def counting(self, *args, **kwargs):
        builds.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Library, "_build_cache", counting)
    key = lib.prepare().key
    assert Library.open(tmp_path / "lib").prepare().key == key  # another process: on disk
    assert len(builds) == 1
    with lib.writer() as w:
        w.append_vectors(_vectors(1, 16, 7), _metas(100, 1))
        key2 = lib.prepare().key
        assert key2 != key and len(builds) == 2
        w.remove([1])
        key3 = lib.prepare().key
        assert key3 != key2 and len(builds) == 3
        w.compact()  # same live rows in the same order: the cache stays valid
    assert lib.prepare().key == key3 and len(builds) == 3
    caches = [p.name for p in (tmp_path / "lib" / "cache").iterdir()]
    assert caches == [key3]  # older rows versions were pruned


# --------------------------------------------------------------------------- maintenance


def test_remove_and_compact_keep_the_other_songs_attributions(tmp_path):
    lib, x = _vector_library(tmp_path / "full", n=12)
    q = _query(16)
    with lib.writer() as w:
        w.remove([3, 8])
    digest = lib.digest()
    # The same songs indexed without the removed ones, in the same order, same ids.
    keep = [i for i in range(12) if i + 1 not in (3, 8)]
    ref = Library.create(tmp_path / "ref", _identity())
    with ref.writer() as w:
        for i in range(12):  # append all, remove the same two: ids line up with ``lib``
            w.append_vectors({c: x[c][i : i + 1] for c in CHANNELS}, _metas(i, 1))
        w.remove([3, 8])
    for null in ("empirical", "analytic"):
        every = AttributionParams(null=null, top=None)
        removed = _by_song(lib.attribute(q, options=every))
        assert removed == _by_song(ref.attribute(q, options=every))
        assert {s for s, *_ in removed["composition"]} == {i + 1 for i in keep}
    size = lib.matrix_path("composition").stat().st_size
    with lib.writer() as w:
        stats = w.compact()
    assert stats["removed_rows"] == 2 and stats["removed_chunk_rows"] == 4
    assert lib.matrix_path("composition").stat().st_size == size * 10 // 12
    compacted = Library.open(tmp_path / "full")
    for null in ("empirical", "analytic"):
        every = AttributionParams(null=null, top=None)
        assert _by_song(compacted.attribute(q, options=every)) == _by_song(
            ref.attribute(q, options=every))
    assert [s.id for s in compacted.songs()] == [i + 1 for i in keep]
    assert compacted.digest() == digest  # compaction changes no live row
    track, _ = compacted.vectors(12)
    assert np.array_equal(track["composition"], x["composition"][11])
    report = verify(tmp_path / "full")
    assert report.ok, report.problems
    assert report.songs == 10 and report.removed == 0
    with pytest.raises(LibraryError, match="no song with id 3"), compacted.writer() as w:
        w.remove([3])


def test_remove_unknown_or_removed_song_changes_nothing(tmp_path):
    lib, _ = _vector_library(tmp_path / "lib", n=4)
    with lib.writer() as w:
        w.remove([2])
        with pytest.raises(LibraryError, match="already removed"):
            w.remove([1, 2])
        with pytest.raises(LibraryError, match="no song with id 99"):
            w.remove([99])
    assert [s.id for s in lib.songs()] == [1, 3, 4]


def test_digest_binds_identity_and_live_rows(tmp_path):
    a, x = _vector_library(tmp_path / "a", n=6, chunks=False)
    b = Library.create(tmp_path / "b", _identity())
    with b.writer() as w:
        w.append_vectors(x, _metas(0, 6))
    assert a.digest() == b.digest()  # library ids differ; content does not
    c = Library.create(tmp_path / "c", _identity(projection_seed=1))
    with c.writer() as w:
        w.append_vectors(x, _metas(0, 6))
    assert c.digest() != a.digest()
    with b.writer() as w:
        w.remove([6])
    assert b.digest() != a.digest()


def test_empty_library_is_refused(tmp_path, capsys):
    lib = Library.create(tmp_path / "lib", _identity())
    with pytest.raises(LibraryError, match="empty"):
        lib.attribute(_query(16))
    track = _write_song(tmp_path / "q.wav", 3.0, 1)
    assert main(["attribute", str(track), "--library", str(tmp_path / "lib")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("lumina: error: library lib is empty") and "\n" not in err


def test_mismatched_parameters_are_refused(tmp_path, fingerprinter, model_dir, capsys):
    lib = Library.create(tmp_path / "other", _identity(dim=512, model_sha256="00" * 32))
    fp = fingerprinter.fingerprint_file(_write_song(tmp_path / "s.wav", 3.0, 2))
    with lib.writer() as w, pytest.raises(LibraryError, match="model_sha256"):
        w.add_fingerprint(fp, SongMeta(title="s"))
    params = {**fp.parameters(), "model_sha256": "00" * 32, "projection_seed": 7}
    with pytest.raises(LibraryError, match="projection_seed=0.*projection_seed=7"):
        lib.attribute(_query(512), params=params)
    with pytest.raises(LibraryError, match="dim=512.*dim=256"):
        lib.manifest.check_compatible({**params, "projection_seed": 0, "dim": 256})
    rc = main(["index", str(tmp_path / "s.wav"), "--library", str(tmp_path / "other"),
               "--model", str(model_dir)])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and "\n" not in err
    assert err.startswith("lumina: error: library other was built with another model")
    assert len(Library.open(tmp_path / "other")) == 0


# --------------------------------------------------------------------------- crash safety


def test_interrupted_append_is_cut_off_and_redone(tmp_path, monkeypatch):
    lib, x = _vector_library(tmp_path / "lib", n=5)
    digest = lib.digest()

    def crash(self, *args, **kwargs):
        raise KeyboardInterrupt  # killed between the matrix write and the commit

    monkeypatch.setattr(LibraryWriter, "_commit_rows", crash)
    with lib.writer() as w, pytest.raises(KeyboardInterrupt):
        w.append_vectors(_vectors(3, 16, 3), _metas(50, 3), chunks=_vectors(3, 16, 4),
                         chunk_counts=[1, 1, 1])
    monkeypatch.undo()
    path = lib.matrix_path("composition")
    assert path.stat().st_size == 8 * 16 * 4  # rows written, never committed
    report = verify(tmp_path / "lib")
    assert report.ok and any("interrupted append" in n for n in report.notes)
    reopened = Library.open(tmp_path / "lib")  # idle library: open repairs
    assert path.stat().st_size == 5 * 16 * 4
    assert len(reopened) == 5 and reopened.digest() == digest
    with reopened.writer() as w:
        w.append_vectors(_vectors(3, 16, 3), _metas(50, 3))
    assert len(reopened) == 8 and verify(tmp_path / "lib").ok


def test_interrupted_compaction_leaves_the_old_generation(tmp_path, monkeypatch):
    lib, _ = _vector_library(tmp_path / "lib", n=6)
    with lib.writer() as w:
        w.remove([2])
    import lumina.library.writer as library_module

    calls = []
    original = library_module.set_meta

    def crash(conn, **values):
        if "generation" in values:
            calls.append(values)
            raise KeyboardInterrupt
        return original(conn, **values)

    monkeypatch.setattr(library_module, "set_meta", crash)
    with lib.writer() as w, pytest.raises(KeyboardInterrupt):
        w.compact()
    monkeypatch.undo()
    assert calls and len(lib.songs(include_removed=True)) == 6  # rolled back
    # Simulate a kill after the new files were written: they must not confuse anything.
    (tmp_path / "lib" / "composition.track.g1.f32").write_bytes(b"\0" * 64)
    report = verify(tmp_path / "lib")
    assert report.ok and any("interrupted compaction" in n for n in report.notes)
    with lib.writer() as w:
        assert any("g1.f32" in r for r in w.repairs)
        w.compact()
    assert verify(tmp_path / "lib").ok and len(lib) == 5


def test_one_writer_at_a_time_and_stale_locks_do_not_block(tmp_path):
    lib, _ = _vector_library(tmp_path / "lib", n=2)
    (tmp_path / "lib" / "writer.lock").write_text("999999\n")  # left by a kill -9
    with lib.writer():
        other = Library.open(tmp_path / "lib")
        with pytest.raises(LibraryLockedError, match=r"another process \(pid \d+\)"):
            other.writer()
    with other.writer() as w:
        w.append_vectors(_vectors(1, 16, 9), _metas(9, 1))
    assert len(lib) == 3


def test_reader_works_while_a_writer_appends(tmp_path):
    lib, _ = _vector_library(tmp_path / "lib", n=4, dim=32)
    stop = threading.Event()
    errors: list[BaseException] = []

    def write() -> None:
        try:
            with Library.open(tmp_path / "lib").writer() as w:
                for i in range(25):
                    w.append_vectors(_vectors(2, 32, 100 + i), _metas(100 + 2 * i, 2),
                                     chunks=_vectors(2, 32, 200 + i), chunk_counts=[1, 1])
                    time.sleep(0.01)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            stop.set()

    thread = threading.Thread(target=write)
    thread.start()
    seen = []
    while not stop.is_set() or not seen:
        reader = Library.open(tmp_path / "lib")
        result = reader.attribute(_query(32), options=AttributionParams(top=3))
        n = result.prepared.n
        assert result.attribution.channels["composition"].n_library == n
        assert len(set(result.prepared.song_ids.tolist())) == n
        seen.append(n)
        reader.close()
    thread.join()
    assert not errors
    assert seen == sorted(seen) and seen[-1] <= 54
    assert len(Library.open(tmp_path / "lib")) == 54 and verify(tmp_path / "lib").ok


# --------------------------------------------------------------------------- verify


def _flip_byte(path: Path, offset: int) -> None:
    with open(path, "r+b") as fh:
        fh.seek(offset)
        byte = fh.read(1)
        fh.seek(offset)
        fh.write(bytes([byte[0] ^ 0x10]))


def test_verify_detects_a_flipped_byte(tmp_path, capsys):
    lib, _ = _vector_library(tmp_path / "lib", n=6)
    assert verify(tmp_path / "lib").ok
    _flip_byte(lib.matrix_path("production"), 2 * 16 * 4 + 5)  # row 2 = song 3
    report = verify(tmp_path / "lib")
    assert not report.ok
    assert report.problems == [
        "production.track.g0.f32 row 2 (song 3 'song 2') does not match its checksum: "
        "the bytes changed since indexing"]
    _flip_byte(lib.matrix_path("composition", "chunks"), 9 * 16 * 4)  # chunk row 9 = song 5
    problems = verify(tmp_path / "lib").problems
    assert any(p.startswith("composition.chunks.g0.f32 rows 8..9 (song 5") for p in problems)
    assert main(["library", "verify", str(tmp_path / "lib")]) == 1
    out = capsys.readouterr().out
    assert "problem: production.track.g0.f32 row 2" in out and "2 problem(s) found" in out


def test_verify_detects_nan_deleted_rows_and_truncation(tmp_path):
    lib, _ = _vector_library(tmp_path / "lib", n=6)
    with open(lib.matrix_path("composition"), "r+b") as fh:
        fh.seek(1 * 16 * 4)
        fh.write(np.float32(np.nan).tobytes())
    problems = verify(tmp_path / "lib").problems
    assert "composition.track.g0.f32 row 1 (song 2 'song 1') is NaN or Inf" in problems

    lib2, _ = _vector_library(tmp_path / "lib2", n=6)
    conn = sqlite3.connect(tmp_path / "lib2" / CATALOG_NAME)
    conn.execute("DELETE FROM songs WHERE id = 4")
    conn.commit()
    conn.close()
    problems = verify(tmp_path / "lib2").problems
    assert any("1 committed matrix row(s) have no song row (row 3)" in p for p in problems)

    lib3, _ = _vector_library(tmp_path / "lib3", n=6)
    path = lib3.matrix_path("production")
    with open(path, "r+b") as fh:
        fh.truncate(5 * 16 * 4)
    problems = verify(tmp_path / "lib3").problems
    assert problems == ["production.track.g0.f32 holds 5 rows but the catalog commits 6: rows "
                        "were lost (file truncated)"]
    with pytest.raises(LibraryError, match="holds 5 rows but the catalog commits 6"):
        lib3.writer()
    (tmp_path / "lib3" / "manifest.json").write_text("{broken")
    assert "unreadable" in verify(tmp_path / "lib3").problems[0]


# --------------------------------------------------------------------------- metadata


def test_tags_from_mutagen_and_file_name_fallback(tmp_path):
    from mutagen.flac import FLAC

    flac = _write_song(tmp_path / "track01.flac", 2.0, 3)
    tags = FLAC(flac)
    tags["title"] = "Blue Hour"
    tags["artist"] = "The Testers"
    tags["isrc"] = "us-abc-12-34567"
    tags.save()
    assert read_song_meta(flac) == ("Blue Hour", "The Testers", "USABC1234567")
    named = _write_song(tmp_path / "Some Artist - Some Title.wav", 2.0, 4)
    assert read_song_meta(named) == ("Some Title", "Some Artist", "")
    plain = _write_song(tmp_path / "plain_name.wav", 2.0, 5)
    assert read_song_meta(plain) == ("plain_name", "", "")
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(b"\xff" * 100)
    assert read_song_meta(junk) == ("junk", "", "")


def test_collect_audio_files(tmp_path):
    for name in ("b.wav", "a/c.FLAC", "a/.hidden.wav", "a/notes.txt", "d/e.ogg"):
        p = tmp_path / "in" / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
    files, errors = collect_audio_files([tmp_path / "in", tmp_path / "in" / "b.wav",
                                         tmp_path / "missing.wav"])
    assert [f.relative_to(tmp_path / "in").as_posix() for f in files] == [
        "a/c.FLAC", "b.wav", "d/e.ogg"]
    assert errors == [f"{tmp_path / 'missing.wav'}: no such file or folder"]


# --------------------------------------------------------------------------- indexing


def test_index_files_skips_bad_and_duplicate_audio(tmp_path, fingerprinter):
    folder = tmp_path / "music"
    _write_song(folder / "Ann - One.wav", 3.0, 11)
    _write_song(folder / "Bob - Two.wav", 4.0, 12)
    (folder / "broken.wav").write_bytes(b"RIFF\0\0\0\0WAVEjunk" * 20)
    (folder / "dupe.wav").write_bytes((folder / "Ann - One.wav").read_bytes())
    from mutagen.flac import FLAC

    tagged = _write_song(folder / "sub" / "x.flac", 3.0, 13)
    tags = FLAC(tagged)
    tags["title"], tags["artist"], tags["isrc"] = "Tagged", "Cleo", "GBAAA2400001"
    tags.save()
    files, _ = collect_audio_files([folder])
    lib = Library.create(tmp_path / "lib", {
        "model_name": "lumina-tiny", "model_sha256": fingerprinter.model.weights_sha256,
        "projection_seed": 0, "projection_blocks": fingerprinter.blocks, "dim": 512,
        "chunk_seconds": 10.0, "sample_rate": 32000, "channels": list(CHANNELS),
        "output_function": fingerprinter.output_function, "loudness": fingerprinter.loudness})
    events = []
    progress = []
    with lib.writer() as w:
        summary = index_files(w, files, fingerprinter, report=events.append,
                              progress=lambda d, t: progress.append((d, t)))
    assert (summary.indexed, summary.skipped, summary.failed) == (3, 1, 1)
    assert summary.duplicates == 1 and progress[-1] == (5, 5)
    failed = [e.message for e in events if e.kind == "failed"]
    assert len(failed) == 1 and failed[0].startswith("broken.wav: ")
    assert [e.message for e in events if e.kind == "skipped"] == [
        "dupe.wav: same audio as Ann - One.wav"]
    songs = {s.title: s for s in lib.songs()}
    assert set(songs) == {"One", "Two", "Tagged"}
    assert songs["Tagged"].artist == "Cleo" and songs["Tagged"].isrc == "GBAAA2400001"
    assert songs["One"].artist == "Ann" and songs["Two"].n_chunks == 1
    track, chunks = lib.vectors(songs["Two"].id)
    fp = fingerprinter.fingerprint_file(folder / "Bob - Two.wav")
    assert np.array_equal(track["composition"], fp.channels["composition"])
    assert np.array_equal(chunks["production"], fp.chunk_vectors["production"])
    with lib.writer() as w:  # a second run finds everything already there
        again = index_files(w, files, fingerprinter)
    assert (again.indexed, again.already_indexed, again.failed) == (0, 4, 1)
    assert verify(tmp_path / "lib").ok


def test_index_cli_summary_and_library_verbs(tmp_path, model_dir, capsys):
    folder = tmp_path / "music"
    for i in range(3):
        _write_song(folder / f"Artist {i} - Song {i}.wav", 3.0 + i, 20 + i)
    (folder / "broken.flac").write_bytes(b"fLaC" + b"\0" * 300)
    (folder / "readme.txt").write_text("not audio")
    lib = tmp_path / "lib"
    rc = main(["index", str(folder), "--library", str(lib), "--model", str(model_dir)])
    out, err = capsys.readouterr()
    assert rc == 1  # one file failed
    assert out.startswith("indexed 3, skipped 0, failed 1 in ")
    summary, hint = out.rstrip().splitlines()
    assert summary.endswith("library lib holds 3 song(s)")
    # A library without a current calibration points at the command that measures it.
    assert hint.startswith("next: ") and f"lumina library calibrate {lib}" in hint
    assert err.count("failed: broken.flac:") == 1
    assert main(["index", str(folder / "Artist 1 - Song 1.wav"), "--library", str(lib)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("indexed 0, skipped 1 (1 already in the library), failed 0")
    assert main(["library", "list", str(lib)]) == 0
    out = capsys.readouterr().out
    assert "Song 1" in out and "Artist 1" in out and "3 song(s)" in out
    assert main(["library", "info", str(lib)]) == 0
    out = capsys.readouterr().out
    assert "3 live, 0 removed" in out and Library.open(lib).digest() in out
    assert "\nloudness    no loudness normalisation\n" in out
    assert main(["library", "remove", str(lib), "2"]) == 0
    assert "removed 1 song(s) (2); 2 remain" in capsys.readouterr().out
    assert main(["library", "list", str(lib), "--removed"]) == 0
    assert "(removed)" in capsys.readouterr().out
    assert main(["library", "compact", str(lib)]) == 0
    assert "dropped 1 removed song row(s)" in capsys.readouterr().out
    assert main(["library", "verify", str(lib)]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("ok: lib: 2 song(s), 0 removed")
    assert main(["library", "remove", str(lib), "2"]) == 1
    assert capsys.readouterr().err.strip() == (
        "lumina: error: library lib has no song with id 2")
    assert main(["library", "info", str(tmp_path / "nowhere")]) == 1
    assert "library not found" in capsys.readouterr().err


def test_kill_9_during_indexing_then_resume(tmp_path, model_dir, capsys):
    folder = tmp_path / "music"
    n_songs = 24  # enough that the writer is still busy after the reader's first query
    for i in range(n_songs):
        _write_song(folder / f"song{i:02d}.wav", 3.0, 40 + i)
    lib_path = tmp_path / "lib"
    # One torch thread: the test machine is shared, and it keeps the run modest.
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "lumina.cli", "index", str(folder), "--library", str(lib_path),
         "--model", str(model_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    seen: dict[str, object] = {}

    def read_while_writing() -> None:
        # A reader working while the writer indexes: it sees committed songs only.
        try:
            with Library.open(lib_path) as reader:
                result = reader.attribute(_query(512), options=AttributionParams(top=2))
                seen["n"] = result.prepared.n
                seen["ids"] = result.prepared.song_ids.tolist()
        except BaseException as exc:  # pragma: no cover - reported below
            seen["error"] = exc

    reader = threading.Thread(target=read_while_writing)
    committed = 0
    deadline = time.monotonic() + 120
    try:
        # Cheap polling only, so the kill lands early in the run however slow the reader is.
        while time.monotonic() < deadline and proc.poll() is None:
            if (lib_path / "manifest.json").exists():
                with Library.open(lib_path) as lib:
                    committed = len(lib)
                if committed and not reader.is_alive() and not seen:
                    reader.start()
                if committed >= 3:
                    break
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if reader.is_alive() or seen:
            reader.join()
    assert committed >= 3, proc.stderr.read().decode()[-2000:]
    assert "error" not in seen, seen.get("error")
    assert 1 <= seen["n"] < n_songs and len(set(seen["ids"])) == seen["n"]
    report = verify(lib_path)
    assert report.ok, report.problems
    with Library.open(lib_path) as lib:
        before = len(lib)
        assert before < n_songs  # it really was interrupted
    capsys.readouterr()
    assert main(["index", str(folder), "--library", str(lib_path)]) == 0
    assert capsys.readouterr().out.startswith(
        f"indexed {n_songs - before}, skipped {before} ({before} already in the library), "
        "failed 0")
    with Library.open(lib_path) as lib:
        songs = lib.songs(include_removed=True)
        assert len(songs) == n_songs
        assert len({s.audio_sha256 for s in songs}) == n_songs
        assert sorted(s.title for s in songs) == [f"song{i:02d}" for i in range(n_songs)]
    report = verify(lib_path)
    assert report.ok, report.problems


# --------------------------------------------------------------------------- rendering


def test_composition_rendering_is_part_of_the_identity(tmp_path):
    plain, x = _vector_library(tmp_path / "plain", n=4, chunks=False)
    assert "composition_rendering" not in json.loads(
        (tmp_path / "plain" / "manifest.json").read_text())  # old manifests stay as they were
    rendered = Library.create(tmp_path / "rendered",
                              _identity(composition_rendering="shepard-onsets/1"))
    with rendered.writer() as w:
        w.append_vectors(x, _metas(0, 4))
    assert Library.open(tmp_path / "rendered").manifest.composition_rendering == (
        "shepard-onsets/1")
    assert rendered.digest() != plain.digest()
    with pytest.raises(LibraryError, match="of the audio itself, the fingerprints of the "
                                           "shepard-onsets/1 rendering"):
        plain.manifest.check_compatible(_identity(composition_rendering="shepard-onsets/1"))
    with pytest.raises(LibraryError, match="shepard-onsets/1 rendering, the fingerprints of "
                                           "the audio itself"):
        rendered.manifest.check_compatible(_identity())
    rendered.manifest.check_compatible(_identity(composition_rendering="shepard-onsets/1"))
    # A manifest naming a rendering this software cannot make is refused in one line.
    path = tmp_path / "rendered" / "manifest.json"
    rendered.close()
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "composition_rendering": "shepard-onsets/9"}))
    with pytest.raises(LibraryError, match=r"rendering 'shepard-onsets/9' is not one this "):
        Library.open(tmp_path / "rendered")


def test_index_cli_keeps_the_library_s_rendering(tmp_path, model_dir, capsys):
    from lumina.workspace import fingerprinter_for

    songs = [_write_song(tmp_path / f"s{i}.wav", 3.0, 40 + i) for i in range(3)]
    lib_dir = tmp_path / "lib"
    assert main(["index", str(songs[0]), "--library", str(lib_dir), "--model", str(model_dir),
                 "--composition-rendering", "shepard-onsets"]) == 0
    # Extending it without the option uses the library's rendering …
    assert main(["index", str(songs[1]), "--library", str(lib_dir)]) == 0
    assert main(["library", "info", str(lib_dir)]) == 0
    assert "composition on the shepard-onsets/1 rendering" in capsys.readouterr().out
    # … asking for another one fails before anything is fingerprinted.
    for other, words in (("plain", "not of the audio itself"), ("shepard", "shepard/1")):
        rc = main(["index", str(songs[2]), "--library", str(lib_dir),
                   "--composition-rendering", other])
        err = capsys.readouterr().err.strip()
        assert rc == 1 and "\n" not in err and words in err, err
    rc = main(["index", str(songs[2]), "--library", str(tmp_path / "new"),
               "--composition-rendering", "chroma"])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and "unknown rendering 'chroma'" in err and "'plain'" in err
    assert not (tmp_path / "new" / "manifest.json").exists()
    with Library.open(lib_dir) as lib:
        assert len(lib) == 2
        fingerprinter = fingerprinter_for(lib)
        assert fingerprinter.composition_rendering == "shepard-onsets/1"
        # Songs fingerprinted by the library's own fingerprinter find themselves.
        fp = fingerprinter.fingerprint_file(songs[1])
        result = lib.attribute(fp.channels, params=fp.parameters())
        assert result.attribution.channels["composition"].influences[0].raw_cosine > 0.999
    # The signed report records the rendering, in the schema and in the PDF's words.
    import base64

    import jsonschema
    import pypdf

    from lumina.reports.report import schema
    from lumina.reports.verify import read_envelope

    out = tmp_path / "r.json"
    assert main(["attribute", str(songs[1]), "--library", str(lib_dir), "--json", str(out),
                 "--pdf", str(tmp_path / "r.pdf")]) == 0
    predicate = json.loads(base64.b64decode(read_envelope(out)["payload"]))["predicate"]
    jsonschema.Draft202012Validator(schema()).validate(predicate)
    assert predicate["parameters"]["composition_rendering"] == "shepard-onsets/1"
    text = " ".join(" ".join(page.extract_text().split())
                    for page in pypdf.PdfReader(tmp_path / "r.pdf").pages)
    assert "timbre-neutral rendering of the audio (shepard-onsets/1" in text
