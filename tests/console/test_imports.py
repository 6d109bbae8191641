"""The console's modules import each other without a circle (TYPE_CHECKING imports count too):
views reach the App through console.app.host and typed requests, never by importing app.py."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "console.app"
ROOT = Path(__file__).resolve().parents[2] / "console" / "app"


def module_name(path: Path) -> str:
    return PACKAGE if path.stem == "__init__" else f"{PACKAGE}.{path.stem}"


def import_graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in ROOT.glob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # `from console.app import requests` imports the submodule, `... import ConsoleApp` the package
                submodules = [f"{node.module}.{alias.name}" for alias in node.names]
                targets = [t if t in modules else node.module for t in submodules]
            graph[name].update(t for t in targets if t in modules and t != name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph[node]):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_the_app_imports() -> None:
    graph = import_graph()
    assert "console.app.app" in graph["console.app"]
    assert "console.app.jobs_view" in graph["console.app.app"]


def test_no_import_circle_in_the_console() -> None:
    assert cycles(import_graph()) == []


def test_only_the_package_imports_the_app() -> None:
    graph = import_graph()
    assert sorted(name for name, targets in graph.items() if "console.app.app" in targets) == ["console.app"]
