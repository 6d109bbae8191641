"""The dependency rule of docs/architecture.md: engine/ is plain Python and knows nothing of
Textual, Dramatiq, APScheduler or the packages built on it; workers/ never loads the console."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import setuptools

REPO = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "engine": {"textual", "rich", "dramatiq", "apscheduler", "workers", "console"},
    "workers": {"textual", "console"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_module_imports_what_its_layer_must_not_know(package: str) -> None:
    offending = {
        str(path.relative_to(REPO)): sorted(_imports(path) & FORBIDDEN[package])
        for path in sorted((REPO / package).rglob("*.py"))
    }
    assert {k: v for k, v in offending.items() if v} == {}


def test_importing_every_engine_module_loads_none_of_them() -> None:
    code = (
        "import importlib, pkgutil, sys, engine\n"
        "for m in pkgutil.walk_packages(engine.__path__, 'engine.'):\n"
        "    if '.migrations' not in m.name: importlib.import_module(m.name)\n"
        "print(sorted({n.split('.')[0] for n in sys.modules} & {'textual', 'dramatiq', 'apscheduler', 'console'}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"


OURS = ("engine", "workers", "console", "bench", "tests")
PRODUCT = ("engine", "workers", "console")


def _sources(*packages: str) -> list[Path]:
    return [path for package in packages for path in sorted((REPO / package).rglob("*.py"))]


def test_the_benchmarks_are_not_installed_with_the_product() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    installed = setuptools.find_packages(str(REPO), include=include)
    assert {"engine", "workers", "console"} <= set(installed)
    assert [p for p in installed if p.split(".")[0] in {"bench", "tests"}] == []
    assert set(config["tool"]["setuptools"].get("package-data", {})) <= set(installed)


def _run_on_import(tree: ast.Module, *, into_classes: bool = True) -> Iterator[ast.AST]:
    """The nodes of a module that run when it is imported (not the bodies of its functions;
    not its classes' bodies either unless `into_classes`)."""
    skip = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda) + (() if into_classes else (ast.ClassDef,))
    stack: list[ast.AST] = list(ast.iter_child_nodes(tree))
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, skip):
            stack.extend(ast.iter_child_nodes(node))


def _module_level_imports(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    return (node for node in _run_on_import(tree) if isinstance(node, ast.Import | ast.ImportFrom))


def test_no_product_module_imports_the_benchmarks_when_it_loads() -> None:
    offending = []
    for path in _sources(*PRODUCT):
        for node in _module_level_imports(ast.parse(path.read_text(), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if getattr(node, "level", 0) == 0 and any(n.split(".")[0] == "bench" for n in names):
                offending.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert offending == []


def _module_file(module: str) -> Path | None:
    """The source of one of our modules in this checkout (a package's __init__.py, or the
    folder of a namespace package), None when there is none."""
    base = REPO.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return base if base.is_dir() and any(base.glob("*.py")) else None


def _top_level_names(source: Path) -> set[str] | None:
    """Names a module defines or imports at module level; None when they cannot be known
    statically (`import *` or a module `__getattr__`)."""
    if source.is_dir():
        return set()
    names: set[str] = set()
    for node in _run_on_import(ast.parse(source.read_text(), str(source)), into_classes=False):
        if isinstance(node, ast.Import | ast.ImportFrom):
            if any(a.name == "*" for a in node.names):
                return None
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if node.name == "__getattr__":
                return None
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def _referenced_modules(path: Path) -> Iterator[tuple[int, str, str | None]]:
    """(line, module, name imported from it or None) for every import of one of our packages:
    import statements anywhere in the file, `importlib.import_module("…")` and `"-m", "…"`."""
    tree = ast.parse(path.read_text(), str(path))
    package = ".".join(path.relative_to(REPO).with_suffix("").parts[:-1])
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, None
        elif isinstance(node, ast.ImportFrom):
            parts = package.split(".")
            base = ".".join(parts[: len(parts) - node.level + 1]) if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            for alias in node.names:
                yield node.lineno, module, None if alias.name == "*" else alias.name
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module":
            if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                yield node.lineno, node.args[0].value, None
        elif isinstance(node, ast.List | ast.Tuple):
            items = node.elts
            for flag, value in zip(items, items[1:], strict=False):
                if (isinstance(flag, ast.Constant) and flag.value == "-m"
                        and isinstance(value, ast.Constant) and isinstance(value.value, str)):
                    yield node.lineno, value.value, None


def _unresolved(module: str, name: str | None) -> str | None:
    """Why `import module` / `from module import name` would fail in this checkout, or None."""
    if _module_file(module) is None:
        return f"no module {module}"
    if name is None or _module_file(f"{module}.{name}") is not None:
        return None
    defined = _top_level_names(_module_file(module))  # type: ignore[arg-type]
    return None if defined is None or name in defined else f"{module} has no {name}"


def test_every_import_of_our_packages_resolves() -> None:
    missing = [
        f"{path.relative_to(REPO)}:{line}: {why}"
        for path in _sources(*OURS)
        for line, module, name in _referenced_modules(path)
        if module.split(".")[0] in OURS and (why := _unresolved(module, name))
    ]
    assert missing == []


def test_every_benchmark_module_named_in_a_string_exists() -> None:
    from bench import console as console_scenario
    from bench.suite import SCENARIOS

    for module in [*SCENARIOS.values(), console_scenario.MODULE]:
        assert _module_file(module) is not None, module


def test_the_import_check_sees_a_missing_module_and_a_missing_name() -> None:
    assert _unresolved("workers.bench.processes", None) == "no module workers.bench.processes"
    assert _unresolved("engine.logsink", "lines_after") == "engine.logsink has no lines_after"
    assert _unresolved("engine.logsink", "LogFilter") is None
    assert _unresolved("engine.payer", "client") is None
    assert _unresolved("engine.migrations", None) is None


def test_every_document_the_code_cites_is_in_the_repository() -> None:
    """A clone is complete: each document named in the code or the documents (`docs/<name>.md`
    or `<name>.md`) is a file at the root or in docs/."""
    cited = {
        (str(path.relative_to(REPO)), name.removeprefix("docs/"))
        for path in [*_sources(*OURS), REPO / "pyproject.toml", REPO / "README.md", REPO / "BENCHMARKS.md",
                     *sorted((REPO / "docs").glob("*.md"))]
        for name in re.findall(r"(?<![\w./-])(?:docs/)?[\w-]+\.md\b", path.read_text())
    }
    assert cited, "no document cited: the pattern is wrong"
    missing = sorted((where, name) for where, name in cited
                     if not (REPO / name).is_file() and not (REPO / "docs" / name).is_file())
    assert missing == []
