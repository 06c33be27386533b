"""The structure the README draws, checked on the code's own imports.

The layer order itself is an import-linter contract in pyproject.toml (run by the test command);
these tests add what a layers contract cannot see: import cycles between two modules of one
package, and files too long to read as one job.
"""

from __future__ import annotations

from pathlib import Path

import grimp
import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = (
    "core",
    "weights",
    "reconstruction",
    "pirender",
    "audio2motion",
    "pipeline",
    "training",
    "cli",
    "webui",
)
MAX_LINES = 650


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES)


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    modules = sorted(graph.modules)
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in modules:
        if root in index:
            continue
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges.get(child, ()))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _without_package_inits(graph: grimp.ImportGraph) -> grimp.ImportGraph:
    """A package's __init__ re-exporting its modules is not a cycle between two jobs: leave those edges out."""
    copy = grimp.build_graph(*PACKAGES)
    for module in list(copy.modules):
        children = copy.find_children(module) if module in copy.modules else set()
        for child in children:
            for imported in list(copy.find_modules_directly_imported_by(child)):
                if imported == module:
                    copy.remove_import(importer=child, imported=module)
    return copy


def test_no_two_modules_import_each_other(graph):
    cycles = _cycles(_without_package_inits(graph))
    assert not cycles, f"modules that import each other in a loop: {cycles}"


def test_no_source_file_is_too_long_to_read_as_one_job():
    long_files = {}
    for package in (*PACKAGES, "benchmarks"):
        for path in (REPO / package).rglob("*.py"):
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > MAX_LINES:
                long_files[str(path.relative_to(REPO))] = lines
    assert not long_files, f"files over {MAX_LINES} lines (split them by job): {long_files}"
