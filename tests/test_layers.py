"""The import contract: one direction of flow between netc's layers, and no circles.

Floors, highest first; a module may import its own floor and the floors below it, never one
above, and no chain of imports (lazy, function-level ones included) may lead back to where it
started. The verifier (`netc.parity`) stands alone: it reads emitted text and imports nothing
of netc but itself, so it cannot be talked into agreeing with the compiler's model.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

FLOORS: list[tuple[str, ...]] = [
    ("netc.cli", "netc.commands", "netc.__main__"),  # the command line
    ("netc.host", "netc.verification"),  # acting on a host; checking compiled output
    ("netc.pipeline",),  # sources → Compiled → text, composed once
    ("netc.compiler", "netc.libvirt", "netc.emitters", "netc.grammar"),  # the stages
    ("netc.diagnostics", "netc.output", "netc.collector", "netc"),  # shared utilities
    ("netc.ir",),  # the data every stage speaks
]
STANDALONE = "netc.parity"


def _package_dirs() -> dict[str, Path]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return {
        pkg: ROOT / folder for pkg, folder in config["tool"]["setuptools"]["package-dir"].items()
    }


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module the package installs."""
    modules = {}
    for package, folder in _package_dirs().items():
        for path in folder.rglob("*.py"):
            parts = [p for p in path.relative_to(folder).with_suffix("").parts if p != "__init__"]
            modules[".".join([package, *parts])] = path
    return modules


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The longest netc module a dotted import name refers to (a name inside a module → it)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _imports(module: str, path: Path) -> set[str]:
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base if is_package else base[:-1]
                base = base[: len(base) - (node.level - 1)]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            names = [f"{stem}.{alias.name}" for alias in node.names] + [stem]
        else:
            continue
        for name in names:
            target = _resolve(name)
            if target is not None and target != module and name.startswith("netc"):
                found.add(target)
    return found


GRAPH = {module: _imports(module, path) for module, path in MODULES.items()}


def _floor(module: str) -> int:
    best = (-1, -1)  # (length of the matching prefix, floor)
    for level, prefixes in enumerate(FLOORS):
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + "."):
                best = max(best, (len(prefix), level))
    if best[1] < 0:
        raise AssertionError(f"{module} is on no floor: add it to FLOORS in {__file__}")
    return best[1]


def test_every_module_is_found() -> None:
    assert "netc.pipeline" in MODULES and "netc.compiler.api" in MODULES
    assert "netc.parity.equivalence" in MODULES and "netc.host.apply" in MODULES


@pytest.mark.parametrize("module", sorted(m for m in MODULES if not m.startswith(STANDALONE)))
def test_no_import_reaches_up(module: str) -> None:
    up = [
        target
        for target in sorted(GRAPH[module])
        if not target.startswith(STANDALONE) and _floor(target) < _floor(module)
    ]
    assert not up, f"{module} (floor {_floor(module)}) imports a higher floor: {up}"


def test_parity_imports_nothing_of_netc() -> None:
    outside = {
        (module, target)
        for module, targets in GRAPH.items()
        if module.startswith(STANDALONE)
        for target in targets
        if not target.startswith(STANDALONE)
    }
    assert not outside


def test_no_circles() -> None:
    """Strongly connected components of the import graph (Tarjan): every one a single module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in GRAPH[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(GRAPH):
        if node not in index:
            visit(node)
    assert not circles, f"import circles: {circles}"
