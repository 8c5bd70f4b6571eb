"""The server's modules and packages import each other without a cycle, and the layers point inward.

Every import counts, wherever it stands: inside a function or behind
TYPE_CHECKING a cycle is only hidden, not gone.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import duckdb_spawn_server

ROOT = Path(duckdb_spawn_server.__file__).parent
PACKAGE = ROOT.name


def modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imported(name: str, path: Path, known: dict[str, Path]) -> Iterator[str]:
    """The server modules `name` imports (a `from package import module` counts as the module)."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[:len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets = [f"{module}.{alias.name}" if f"{module}.{alias.name}" in known else module
                       for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target.startswith(PACKAGE) and target != name:
                yield target


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: set(imported(name, path, known)) for name, path in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
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

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def package_of(module: str) -> str:
    """`duckdb_spawn_server.api.pipeline` -> `api`; the top-level modules each count as their own."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 else (parts[1] if len(parts) == 2 else "")


def test_no_module_imports_itself_round_about() -> None:
    assert cycles(graph()) == []


def test_no_package_cycle() -> None:
    packages: dict[str, set[str]] = {}
    for module, targets in graph().items():
        source = package_of(module)
        packages.setdefault(source, set()).update(package_of(t) for t in targets if package_of(t) != source)
    packages.pop("", None)
    for targets in packages.values():
        targets.discard("")
    assert cycles(packages) == []


def test_the_domain_imports_only_itself() -> None:
    edges = graph()
    outside = {(module, target) for module, targets in edges.items() if package_of(module) == "domain"
               for target in targets if package_of(target) != "domain"}
    assert outside == set()
    third_party = {module for module, path in modules().items() if package_of(module) == "domain"
                   and any(word in path.read_text() for word in ("import grpc", "import duckdb", "from grpc"))}
    assert third_party == set()
