"""docs/architecture.md §2's import rules, read from the source with `ast`, and no import cycle.

Every import statement counts, those under `TYPE_CHECKING` and inside functions too: a cycle
that only type checking or a lazy import hides is still two modules that cannot be read (or
moved) one without the other. `from a.b import c` is an edge to `a.b.c` when that is a module,
else to `a.b`; a package's `__init__` is not an edge of its submodules' imports.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("sandbox", "service")

# What each part may import of the rest of the house (besides itself); None: no rule.
# The parts are the top-level packages and service's subpackages.
MAY_IMPORT: Mapping[str, tuple[str, ...]] = {
    "sandbox": (),
    "service.errors": (),
    "service.config": ("sandbox", "service.errors"),
    "service.engine": ("service.config", "service.errors"),
    "service.solver": ("sandbox", "service.config", "service.errors", "service.engine.types"),
    # The engine's torch-free parts: its types, and the checkpoint folder's layout (the API
    # serves a job's adapter from it).
    "service.store": (
        "service.config",
        "service.errors",
        "service.solver",
        "service.engine.types",
        "service.engine.layout",
    ),
    "service.bus": ("service.config", "service.errors"),
}
# What each part must never import.
MUST_NOT_IMPORT: Mapping[str, tuple[str, ...]] = {
    "service.api": ("service.engine", "service.probe", "service.cli"),
    "service.probe": ("service.store", "service.api", "service.jobs", "service.cli"),
    "service.jobs": ("service.api", "service.probe", "service.cli"),
}


@cache
def modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _resolve(name: str) -> str | None:
    """The house's module that `name` is or lies in; None for one outside the house."""
    known = modules()
    while name not in known:
        if "." not in name:
            return None
        name = name.rsplit(".", 1)[0]
    return name


def _imported(module: str, path: Path) -> Iterator[str]:
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            for alias in node.names:
                yield f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules() else base


@cache
def graph() -> dict[str, frozenset[str]]:
    """Each module of the house and the modules of the house it imports."""
    edges: dict[str, frozenset[str]] = {}
    for module, path in modules().items():
        targets = {_resolve(name) for name in _imported(module, path)}
        edges[module] = frozenset(t for t in targets if t is not None and t != module)
    return edges


def part(module: str) -> str:
    """`sandbox`, `service` (its top-level modules: `service.config`...) or a subpackage."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "service" and len(parts) > 1 else parts[0]


def within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def test_each_part_imports_only_what_the_architecture_allows() -> None:
    broken = []
    for module, targets in graph().items():
        own = part(module)
        for target in targets:
            if part(target) == own:
                continue
            allowed = MAY_IMPORT.get(own)
            if allowed is not None and not within(target, allowed):
                broken.append(f"{module} imports {target}")
            if within(target, MUST_NOT_IMPORT.get(own, ())):
                broken.append(f"{module} imports {target}")
    assert broken == []


def _reachable(start: str) -> set[str]:
    edges, seen, todo = graph(), set(), list(graph()[start])
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(edges[module])
    return seen


def in_cycles() -> list[str]:
    """The modules that import themselves back through others."""
    return sorted(module for module in graph() if module in _reachable(module))


def test_the_house_has_no_import_cycle() -> None:
    assert in_cycles() == []


def test_the_checks_see_the_imports_they_judge() -> None:
    # A rule that reads nothing passes vacuously: these edges must be seen, and a cycle must
    # be found where there is one.
    edges = graph()
    assert "service.solver.request" in edges["service.solver.spec"]
    assert "service.store.models" in edges["service.store.transitions"]
    assert "service.solver.spec" in edges["service.solver.strategies"]  # a real import now
    assert part("service.config") == "service.config" and part("sandbox.problem") == "sandbox"
    edges["service.solver.request"] = edges["service.solver.request"] | {"service.solver.spec"}
    try:
        assert in_cycles() == ["service.solver.request", "service.solver.spec"]
    finally:
        graph.cache_clear()
