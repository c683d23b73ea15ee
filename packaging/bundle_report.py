"""Print what a LUMINA bundle weighs: its total size and its ten largest parts.

    python packaging/bundle_report.py DIST/lumina-VERSION-linux-ARCH [--top N]

A *part* is a package or library folder in ``_internal/`` (``torch``, ``PySide6``, …) or a
single file there (``libpython3.11.so.1.0``, the two executables' archives). The ten largest
single files are listed too, since one library (``libtorch_cpu.so``) dominates. Standard
library only, so it runs with any Python.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def tree_size(path: Path) -> int:
    if path.is_symlink():
        return 0
    if path.is_file():
        return path.stat().st_size
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            full = os.path.join(root, name)
            if not os.path.islink(full):
                total += os.path.getsize(full)
    return total


def mib(n: int) -> str:
    return f"{n / 2**20:8.1f} MiB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args(argv)
    bundle: Path = args.bundle
    internal = bundle / "_internal"
    if not internal.is_dir():
        print(f"bundle_report: {bundle} has no _internal/ folder", file=sys.stderr)
        return 2

    total = tree_size(bundle)
    print(f"bundle {bundle.name}: {mib(total).strip()} in all")
    parts = [(tree_size(p), f"_internal/{p.name}") for p in internal.iterdir()]
    parts += [(tree_size(p), p.name) for p in bundle.iterdir() if p.name != "_internal"]
    parts.sort(reverse=True)
    print(f"{args.top} largest parts")
    for size, name in parts[:args.top]:
        print(f"  {mib(size)}  {100 * size / total:5.1f} %  {name}")

    files = []
    for root, _dirs, names in os.walk(bundle):
        for name in names:
            full = Path(root, name)
            if not full.is_symlink():
                files.append((full.stat().st_size, str(full.relative_to(bundle))))
    files.sort(reverse=True)
    print(f"{args.top} largest files")
    for size, name in files[:args.top]:
        print(f"  {mib(size)}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
