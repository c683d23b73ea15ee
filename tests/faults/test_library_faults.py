"""Fault injection for the library (issue 25): the writer killed at every step of an append
and a compaction, a read-only folder, a second writer, damaged matrix files.

After each fault: ``lumina library verify`` passes (an interrupted append is a harmless note)
or names the damage, no committed song is lost, and a rerun of the operation completes. The
writer dies through ``os._exit`` at a chosen point in a subprocess
(``tests/faults/crash_writer.py``), never through a timing race.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from lumina.library import Library, LibraryError, LibraryLockedError, SongMeta, verify

HERE = Path(__file__).parent
CHANNELS = ("composition", "production")
DIM = 16
N = 12

sys.path.insert(0, str(HERE))
from crash_writer import CRASHED, new_songs, run_write  # noqa: E402


def _identity(dim: int = DIM) -> dict[str, object]:
    return {"model_name": "test-model", "model_sha256": "ab" * 32, "projection_seed": 0,
            "projection_blocks": 32, "dim": dim, "chunk_seconds": 10.0, "sample_rate": 32000,
            "channels": list(CHANNELS)}


def _library(path: Path, removed: int = 0, dim: int = DIM) -> Path:
    """``N`` committed songs with two chunks each; the first ``removed`` marked removed."""
    rng = np.random.default_rng(0)
    lib = Library.create(path, _identity(dim))
    metas = [SongMeta(title=f"song {i}", artist="old", audio_sha256=f"{i:064x}",
                      duration=30.0) for i in range(N)]
    with lib.writer() as w:
        w.append_vectors({c: rng.standard_normal((N, dim)).astype(np.float32) for c in CHANNELS},
                         metas,
                         chunks={c: rng.standard_normal((2 * N, dim)).astype(np.float32)
                                 for c in CHANNELS},
                         chunk_counts=[2] * N,
                         chunk_times=np.tile([[0.0, 10.0], [10.0, 20.0]], (N, 1)),
                         chunk_loss=np.linspace(4.0, 5.0, 2 * N))
        if removed:
            w.remove([s.id for s in lib.songs()[:removed]])
    lib.close()
    return path


def _committed(path: Path) -> dict[int, tuple[str, bytes]]:
    """Live songs: id → (title, the bytes of all their rows), as the catalog commits them."""
    with Library.open(path, repair=False) as lib:
        out = {}
        for s in lib.songs():
            track, chunks = lib.vectors(s.id)
            out[s.id] = (s.title, b"".join(np.asarray(track[c]).tobytes()
                                           + np.asarray(chunks[c]).tobytes()
                                           for c in CHANNELS))
        return out


def _crash(path: Path, op: str, point: str, n: int) -> int:
    out = subprocess.run([sys.executable, str(HERE / "crash_writer.py"), str(path), op, point,
                          str(n)], capture_output=True, text=True, timeout=120)
    assert out.returncode in (0, CRASHED), out.stderr[-2000:]
    return out.returncode


#: (point, N) of an append of three songs: 4 matrix files (2 channels × track/chunks).
APPEND_POINTS = ([("write", k) for k in range(1, 5)] + [("fsync", k) for k in range(1, 5)]
                 + [("commit", 1), ("after", 1)])
#: … of a compaction: 4 new-generation files (fsync 5: the folder's), the folder entry, the
#: commit, the deletion of the old files.
COMPACT_POINTS = ([("write", k) for k in range(1, 5)] + [("fsync", k) for k in range(1, 6)]
                  + [("fsync_dir", 1), ("commit", 1), ("after", 1), ("after", 3)])


def _check(path: Path, before: dict) -> None:
    report = verify(path)
    assert report.ok, report.problems
    after = _committed(path)
    lost = set(before) - set(after)
    assert not lost, f"committed songs lost: {sorted(lost)}"
    assert all(after[i] == before[i] for i in before)


@pytest.mark.parametrize(("point", "n"), APPEND_POINTS)
def test_writer_killed_during_an_append(tmp_path, point, n):
    lib = _library(tmp_path / "lib")
    before = _committed(lib)
    code = _crash(lib, "append", point, n)
    assert code == CRASHED, f"the append ended before {point} {n}"
    _check(lib, before)
    landed = len(_committed(lib)) - N
    assert landed == (3 if point == "after" else 0)  # all of the batch or none of it
    # The rerun completes (and the next writer cut off what the killed one left).
    with Library.open(lib) as opened, opened.writer() as w:
        track, metas, extra = new_songs(DIM, start=200)
        w.append_vectors(track, metas, **extra)
    _check(lib, before)
    assert len(_committed(lib)) == N + landed + 3
    assert not verify(lib).notes or all("cache" in n for n in verify(lib).notes)


@pytest.mark.parametrize(("point", "n"), COMPACT_POINTS)
def test_writer_killed_during_a_compaction(tmp_path, point, n):
    lib = _library(tmp_path / "lib", removed=3)
    before = _committed(lib)
    assert len(before) == N - 3
    code = _crash(lib, "compact", point, n)
    assert code == CRASHED, f"the compaction ended before {point} {n}"
    _check(lib, before)
    with Library.open(lib) as opened, opened.writer() as w:
        w.compact()
    _check(lib, before)
    gens = {p.name.rsplit(".", 2)[-2] for p in lib.glob("*.f32")}
    assert len(gens) == 1, f"files of several generations left: {sorted(gens)}"


def test_crash_points_are_all_reached(tmp_path):
    """Past the last point the operation ends normally: the lists cover every step."""
    lib = _library(tmp_path / "a")
    assert _crash(lib, "append", "fsync", 5) == 0
    lib = _library(tmp_path / "b", removed=3)
    assert _crash(lib, "compact", "fsync", 6) == 0


def test_second_writer_is_told_the_library_is_busy(tmp_path):
    lib = _library(tmp_path / "lib")
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys; from lumina.library import Library\n"
         "with Library.open(sys.argv[1]) as lib, lib.writer():\n"
         "    print('holding', flush=True); sys.stdin.read()\n", str(lib)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        with Library.open(lib) as opened, pytest.raises(LibraryLockedError) as info:
            opened.writer()
        message = str(info.value)
        assert "being written by another process" in message and "\n" not in message
        assert f"pid {holder.pid}" in message
    finally:
        holder.stdin.close()
        holder.wait(60)
    with Library.open(lib) as opened, opened.writer():
        pass  # free again once the first writer is gone


#: A private mount namespace: a tmpfs mounted in it vanishes with the process.
UNSHARE = ["unshare", "--mount", "--propagation", "private"]


@functools.lru_cache(maxsize=1)
def _can_mount_tmpfs() -> bool:
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        return False
    with tempfile.TemporaryDirectory() as folder:
        probe = subprocess.run([*UNSHARE, "mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs",
                                folder], capture_output=True, timeout=60)
    return probe.returncode == 0


@pytest.mark.parametrize("op", ["append", "compact"])
def test_disk_full_at_every_fill_level(tmp_path, op):
    """The disk fills at every 4 KiB step of an append or a compaction (a real full tmpfs,
    ENOSPC from the kernel and SQLITE_FULL from SQLite, not a patched write): one line each
    time, nothing committed lost, the batch all or nothing, and a rerun with space completes."""
    if not _can_mount_tmpfs():
        pytest.skip("needs a tmpfs in a private mount namespace (root, unshare)")
    # 1024 dimensions: an append's rows span several pages of every matrix file, so the disk
    # fills inside each of them as well as in SQLite's index and its commit.
    lib = _library(tmp_path / "lib", removed=3 if op == "compact" else 0, dim=1024)
    before = _committed(lib)
    levels = tmp_path / "levels"
    out = subprocess.run([*UNSHARE, sys.executable, str(HERE / "disk_full.py"), str(lib),
                          str(levels), op], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    assert lines and lines[-1].endswith(" OK"), f"the {op} never completed: {lines[-3:]}"
    damage = set()
    for line in lines[:-1]:
        free, outcome = line.split(" ", 1)
        assert outcome.startswith("ERROR LibraryFullError: no space left on the disk"), line
        assert "\\n" not in outcome, line  # one line
        assert ("the library is as it was before" in outcome
                or "needs a little room even to read it" in outcome), line
        copy = levels / free
        _check(copy, before)
        assert len(_committed(copy)) == len(before)  # nothing of the batch landed
        damage.add((outcome.split(" while ")[-1].split(":")[0] if " while " in outcome
                    else "open", tuple(verify(copy).notes)))
        run_write(copy, op)
        _check(copy, before)
        assert len(_committed(copy)) == len(before) + (3 if op == "append" else 0)
    # Distinct states the full disk left: SQLite's index at open, then (append) rows cut in
    # each matrix file in turn and the commit; (compaction) the new generation's files and
    # its commit, which leave the same state since the new files are deleted.
    assert len(damage) >= (5 if op == "append" else 2), sorted(damage)
    print(f"{op}: {len(lines) - 1} fill levels failed, {len(damage)} distinct states left")


def test_disk_full_during_lumina_library_compact_is_one_line(tmp_path):
    """The command a user runs: exit status 1, one line naming the full disk, no traceback."""
    if not _can_mount_tmpfs():
        pytest.skip("needs a tmpfs in a private mount namespace (root, unshare)")
    lib = _library(tmp_path / "lib", removed=3, dim=1024)
    before = _committed(lib)
    levels = tmp_path / "levels"
    # 64 KiB free: past SQLite's index, inside the new generation's matrix files.
    out = subprocess.run([*UNSHARE, sys.executable, str(HERE / "disk_full.py"), str(lib),
                          str(levels), "cli-compact", str(64 * 1024), "1"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    free, outcome = out.stdout.strip().split(" ", 1)
    assert outcome.startswith("EXIT 1 "), outcome
    assert "\\n" not in outcome and "Traceback" not in outcome, outcome
    assert "no space left on the disk holding library lib" in outcome, outcome
    _check(levels / free, before)


#: Runs a command as root without the capabilities that let root write anywhere.
NO_OVERRIDE = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner"]


@pytest.mark.parametrize("op", ["append", "compact"])
def test_read_only_library_folder_is_one_clear_error(tmp_path, op):
    lib = _library(tmp_path / "lib", removed=3 if op == "compact" else 0)
    before = _committed(lib)
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("root without setpriv cannot be denied a write")
        prefix = NO_OVERRIDE
    else:
        prefix = []
    files = sorted(p for p in lib.rglob("*") if p.is_file())
    sums = {p: p.read_bytes() for p in files}
    for p in files:
        os.chmod(p, 0o444)
    for p in [lib, *(p for p in lib.rglob("*") if p.is_dir())]:
        os.chmod(p, 0o555)
    code = ("import sys\n"
            "sys.path.insert(0, sys.argv[3])\n"
            "from crash_writer import new_songs\n"
            "from lumina.library import Library, LibraryError\n"
            "try:\n"
            "    with Library.open(sys.argv[1]) as lib, lib.writer() as w:\n"
            "        if sys.argv[2] == 'append':\n"
            "            w.append_vectors(*new_songs(16)[:2])\n"
            "        else:\n"
            "            w.compact()\n"
            "except LibraryError as exc:\n"
            "    print('ERROR', exc); sys.exit(1)\n")
    try:
        out = subprocess.run([*prefix, sys.executable, "-c", code, str(lib), op, str(HERE)],
                             capture_output=True, text=True, timeout=120)
        assert {p: p.read_bytes() for p in files} == sums
        assert sorted(p for p in lib.rglob("*") if p.is_file()) == files
    finally:
        for p in [lib, *lib.rglob("*")]:
            os.chmod(p, 0o755 if p.is_dir() else 0o644)
    assert out.returncode == 1, out.stdout + out.stderr[-2000:]
    assert "Traceback" not in out.stderr, out.stderr[-2000:]
    line = out.stdout.strip()
    assert line.startswith("ERROR") and "\n" not in line and "read-only" in line, line
    _check(lib, before)


@pytest.mark.parametrize("kind", ["track", "chunks"])
@pytest.mark.parametrize("channel", CHANNELS)
def test_flipped_byte_is_named_by_file_and_song(tmp_path, channel, kind):
    lib = _library(tmp_path / "lib")
    victim = 5  # row of "song 5"
    path = lib / f"{channel}.{kind}.g0.f32"
    rows_per_song = 1 if kind == "track" else 2
    offset = victim * rows_per_song * DIM * 4 + 3
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x10
    path.write_bytes(bytes(data))
    report = verify(lib)
    assert not report.ok
    text = " ".join(report.problems)
    assert path.name in text and "song 5" in text, report.problems
    _cli_verify_fails_naming(lib, path.name)


@pytest.mark.parametrize("kind", ["track", "chunks"])
def test_truncated_matrix_is_named_and_nothing_is_cut(tmp_path, kind):
    lib = _library(tmp_path / "lib")
    path = lib / f"production.{kind}.g0.f32"
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.truncate(size - 7)
    report = verify(lib)
    assert not report.ok and path.name in " ".join(report.problems), report.problems
    _cli_verify_fails_naming(lib, path.name)
    # A writer refuses to "repair" a file that lost committed rows: that needs a human.
    with Library.open(lib, repair=False) as opened, pytest.raises(LibraryError):
        opened.writer()
    assert path.stat().st_size == size - 7


def _cli_verify_fails_naming(lib: Path, name: str) -> None:
    out = subprocess.run([sys.executable, "-m", "lumina", "library", "verify", str(lib)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1, out.stdout + out.stderr
    assert name in out.stdout + out.stderr and "Traceback" not in out.stderr
