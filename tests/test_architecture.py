"""The layout rules of docs/architecture.md, checked: the import contracts declared in
pyproject.toml (import-linter), no import circle inside the engine, and no module over the
size a reader can hold in their head."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 600
#: The procedural catalog is one piece of data-making code (issue 18 lets it stay whole).
SIZE_EXEMPT = {"lumina/demo/catalog.py"}


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def test_no_module_is_over_the_size_limit():
    too_long = []
    for path in _modules("lumina") + _modules("lumina_app"):
        rel = path.relative_to(ROOT).as_posix()
        n = len(path.read_text(encoding="utf-8").splitlines())
        if n > MAX_LINES and rel not in SIZE_EXEMPT:
            too_long.append(f"{rel}: {n} lines")
    assert not too_long, "split these modules: " + "; ".join(too_long)


def test_import_contracts_hold():
    pytest.importorskip("importlinter")
    from importlinter.cli import lint_imports

    # lint_imports reads pyproject.toml from the working directory.
    cwd = Path.cwd()
    sys.path.insert(0, str(ROOT))
    try:
        os.chdir(ROOT)
        code = lint_imports(no_cache=True)
    finally:
        os.chdir(cwd)
        sys.path.remove(str(ROOT))
    assert code == 0, "an import contract of pyproject.toml is broken (run lint-imports)"


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iteratively (the engine has a few hundred modules)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        out.append(sorted(component))
    return out


def test_the_engine_has_no_import_circle():
    grimp = pytest.importorskip("grimp")
    graph = grimp.build_graph("lumina")
    # A package's own __init__ re-exporting its submodules is not a circle of concepts:
    # only edges between modules that are not parent and child count.
    edges: dict[str, set[str]] = {}
    for module in graph.modules:
        targets = set()
        for imported in graph.find_modules_directly_imported_by(module):
            if imported.startswith(module + ".") or module.startswith(imported + "."):
                continue
            targets.add(imported)
        edges[module] = targets
    circles = _strongly_connected(edges)
    assert not circles, "import circles: " + " | ".join(" ↔ ".join(c) for c in circles)


def test_strongly_connected_finds_a_planted_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _strongly_connected(graph) == [["a", "b", "c"]]
    assert _strongly_connected({"a": {"b"}, "b": set()}) == []
