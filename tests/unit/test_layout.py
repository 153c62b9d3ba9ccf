"""The layout docs/architecture.md describes, checked: no import cycle, settings that know nothing of families,
a small package root, no module named family.py, command modules that stay small (the layers:
test_architecture.py)."""

from __future__ import annotations

import grimp
import pytest

from conftest import PROJECT

PACKAGE = PROJECT / "src" / "ocrops"


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(edges.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph("ocrops", exclude_type_checking_imports=True)


def test_no_import_cycle(graph):
    edges = {m: graph.find_modules_directly_imported_by(m) for m in graph.modules}
    assert cycles(edges) == []


def test_the_cycle_check_finds_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_settings_know_nothing_of_families():
    """Parsing params.yaml imports no family, not even for type checking (a broken plug-in cannot break it)."""
    graph = grimp.build_graph("ocrops", exclude_type_checking_imports=False)
    assert graph.find_modules_directly_imported_by("ocrops.config") <= {"ocrops.errors"}


def test_a_small_package_root():
    modules = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(modules) <= 8, modules


def test_no_module_named_family():
    assert not list(PACKAGE.rglob("family.py"))


def test_command_modules_stay_small():
    long = {p.name: n for p in (PACKAGE / "cli").glob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 250}
    assert not long, long
