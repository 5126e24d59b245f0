"""No import cycle inside dflow_tui.

The graph comes from grimp (the library under import-linter), which reads every
`import` statement of every module: top-level ones, those inside functions (lazy
imports) and those under `if TYPE_CHECKING:`. A cycle is a set of modules that
all reach each other through such imports (a strongly connected component).
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable, Mapping

import grimp
import pytest

PACKAGE = "dflow_tui"


def build_graph() -> grimp.ImportGraph:
    return grimp.build_graph(PACKAGE, cache_dir=None)


def import_graph(graph: grimp.ImportGraph | None = None) -> dict[str, set[str]]:
    """Module → the modules of dflow_tui it imports directly."""
    graph = graph or build_graph()
    modules = {m for m in graph.modules if m == PACKAGE or m.startswith(PACKAGE + ".")}
    return {m: set(graph.find_modules_directly_imported_by(m)) & modules for m in modules}


def cycles(edges: Mapping[str, Iterable[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def a_loop(edges: Mapping[str, Iterable[str]], component: frozenset[str]) -> list[str]:
    """One concrete loop through the component, `a -> b -> ... -> a` (shortest from its first module)."""
    start = min(component)
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for child in sorted(edges[node]):
            if child not in component or child == node:
                continue
            if child == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [start, *reversed(path[:-1]), start]
            if child not in came_from:
                came_from[child] = node
                queue.append(child)
    return sorted(component)  # pragma: no cover - a component always holds a loop


def describe(graph: grimp.ImportGraph, edges: Mapping[str, Iterable[str]], component: frozenset[str]) -> str:
    """`a -> b (line 3) -> a (line 40, 52)`, then every module of the cycle."""
    loop = a_loop(edges, component)
    hops = [loop[0]]
    for importer, imported in itertools.pairwise(loop):
        details = graph.get_import_details(importer=importer, imported=imported)
        lines = ", ".join(str(d["line_number"]) for d in details)
        hops.append(f"{imported} (line {lines} of {importer.rsplit('.', 1)[-1]})" if lines else imported)
    return f"{' -> '.join(hops)}\n    all {len(component)} modules: {', '.join(sorted(component))}"


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return build_graph()


@pytest.fixture(scope="module")
def edges(graph) -> dict[str, set[str]]:
    return import_graph(graph)


def test_the_graph_sees_lazy_imports(edges):
    # remote.connect imports remote.ssh inside open_transport() only.
    assert "dflow_tui.remote.ssh" in edges["dflow_tui.remote.connect"]


def test_cycle_finder_names_every_cycle():
    toy = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"d", "a"}, "e": {"f"}, "f": {"e"}}
    assert sorted(map(sorted, cycles(toy))) == [["a", "b", "c"], ["e", "f"]]
    assert a_loop(toy, frozenset("abc")) == ["a", "b", "c", "a"]


def test_no_import_cycle_in_dflow_tui(graph, edges):
    found = cycles(edges)
    assert not found, "Import cycles inside dflow_tui:\n" + "\n".join(
        "  " + describe(graph, edges, c) for c in found
    )
