"""Run one library write on a disk that fills up, at every fill level — a fault-injection
helper for ``tests/faults/test_library_faults.py``, run as a subprocess in its own mount
namespace:

    unshare --mount --propagation private python tests/faults/disk_full.py SRC OUT OP \
        [FIRST [COUNT]]

A tmpfs is mounted at ``OUT/mnt``. For FREE = FIRST, FIRST + 4 KiB, … (FIRST defaults to 0)
it copies the library SRC onto it, fills the rest of the tmpfs (``posix_fallocate``) until FREE
bytes are left, and runs OP there (``append`` of three songs, ``compact``, or ``cli-compact``:
the ``lumina library compact`` command), in a forked child, printing ``FREE OK``,
``FREE ERROR <class>: <message>`` or, for the command, ``FREE EXIT <status> <stderr>``. Then it
deletes the filler and copies the library's files, as the failed write left them, to
``OUT/FREE`` on the real disk (the space comes back, the bytes stay: a user freeing space after
a "disk full"). It stops after the first OK or COUNT levels. The mount dies with the
namespace, so a killed test leaves nothing mounted.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from crash_writer import run_write  # noqa: E402

#: Room for the library, its SQLite side files and the filler; the filler takes the rest.
MOUNT_BYTES = 16 * 1024 * 1024
PAGE = 4096
MAX_LEVELS = 400


def free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def run_once(src: Path, mount: Path, op: str, free: int) -> str:
    lib = mount / "lib"
    shutil.copytree(src, lib)
    filler = mount / "filler"
    with open(filler, "wb") as fh:
        room = free_bytes(mount) - free
        if room > 0:
            os.posix_fallocate(fh.fileno(), 0, room)
    try:
        return run_op(lib, op)
    finally:
        filler.unlink()


def run_op(lib: Path, op: str) -> str:
    if op == "cli-compact":
        done = subprocess.run([sys.executable, "-m", "lumina", "library", "compact", str(lib)],
                              capture_output=True, text=True, timeout=300)
        if done.returncode == 0:
            return "OK"
        return f"EXIT {done.returncode} {done.stderr.strip()}".replace("\n", "\\n")
    try:
        run_write(lib, op)
    except Exception as exc:  # noqa: BLE001 - reported to the test, which judges it
        return f"ERROR {type(exc).__name__}: {exc}".replace("\n", "\\n")
    return "OK"


def in_child(fn, *args) -> str:
    """``fn(*args)`` in a forked child: each level starts without SQLite's per-process state
    (its file descriptors outlive a closed connection while the process holds locks on the
    inode, and would skew the fill of the next level)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            os.write(write, fn(*args).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as fh:
        text = fh.read().decode()
    os.waitpid(pid, 0)
    return text or "ERROR child died"


def main() -> int:
    src, out, op = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    first = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    count = int(sys.argv[5]) if len(sys.argv) > 5 else MAX_LEVELS
    mount = out / "mnt"
    mount.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={MOUNT_BYTES}", "tmpfs", str(mount)],
                   check=True)
    try:
        for level in range(count):
            free = first + level * PAGE
            outcome = in_child(run_once, src, mount, op, free)
            shutil.copytree(mount / "lib", out / str(free))
            shutil.rmtree(mount / "lib")
            print(f"{free} {outcome}", flush=True)
            if outcome == "OK":
                break
    finally:
        subprocess.run(["umount", str(mount)], check=False)
        mount.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
