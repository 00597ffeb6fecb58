"""The house's layers only point down: no package-level import cycles, a pure bottom layer.

Computed from the source (every ``import``/``from … import`` statement, including ones inside
functions), so a cycle hidden in a function body or a lazy import is still found.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = (
    "optionshelper",
    *(f"apps.{p.name}" for p in sorted((ROOT / "apps").iterdir()) if (p / "__init__.py").exists()),
)
# The bottom layer never reaches Django, another app, the warehouse door or a database driver.
# (DuckDB itself is allowed there as an in-process compute engine: the set-based flow runs its SQL
# on whatever connection the caller hands it, or on an in-memory one over a frame.)
CORE_FORBIDDEN = ("django", "apps.", "optionshelper", "psycopg", "redis")


def _package_of(module: str) -> str | None:
    for package in sorted(PACKAGES, key=len, reverse=True):
        if module == package or module.startswith(package + "."):
            return package
    return None


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _source_files(package: str):
    base = ROOT.joinpath(*package.split("."))
    for path in base.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        if package == "apps.core" or _package_of(_module_name(path)) == package:
            yield path


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {package: set() for package in PACKAGES}
    for package in PACKAGES:
        for path in _source_files(package):
            for name in _imports(path):
                target = _package_of(name)
                if target and target != package:
                    graph[package].add(target)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_package_level_import_cycles():
    assert _cycle(_graph()) is None, " → ".join(_cycle(_graph()) or [])


def test_the_bottom_layer_imports_no_django_no_io_and_no_app():
    offenders = {
        f"{_module_name(path)} imports {name}"
        for path in (ROOT / "apps" / "core").rglob("*.py")
        for name in _imports(path)
        if name.startswith(CORE_FORBIDDEN) and not name.startswith("apps.core")
    }
    assert not offenders, sorted(offenders)


def test_layers_point_down():
    order = [
        "apps.core",
        "optionshelper",
        "apps.ledger",
        "apps.market",
        "apps.portfolio",
        "apps.analytics",
        "apps.pipeline",
        "apps.portal",
    ]
    rank = {package: i for i, package in enumerate(order)}
    upward = sorted(
        f"{src} → {dst}"
        for src, targets in _graph().items()
        for dst in targets
        if src in rank and dst in rank and rank[dst] > rank[src]
    )
    assert not upward, upward
