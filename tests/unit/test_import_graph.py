"""The package's import graph: no circle, and every import points down the floors.

Every ``import`` statement counts (module level, inside functions, under
``TYPE_CHECKING``), read with `ast` from the source, so a lazy import cannot hide an
upward arrow. The floors are those of ``architecture.md``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "solaredge_async"
ROOT = "solaredge_async"

#: Floor of each room (the longest matching prefix wins); ``testing`` stands apart.
FLOORS: dict[str, int] = {
    "solaredge_async": 10,  # the package's lazy re-exports sit on top
    "solaredge_async._version": 0,
    "solaredge_async._closing": 0,
    "solaredge_async._lazy": 0,
    "solaredge_async.models": 0,
    "solaredge_async.errors": 0,
    "solaredge_async._endpoints": 1,
    "solaredge_async._windows": 1,
    "solaredge_async._checks": 1,
    "solaredge_async._credentials": 2,
    "solaredge_async._usage": 2,
    "solaredge_async.limits": 2,
    "solaredge_async.transports": 2,
    "solaredge_async.converters": 2,
    "solaredge_async._retry": 3,
    "solaredge_async._engine": 3,
    "solaredge_async._series": 2,
    "solaredge_async._adaptive": 4,
    "solaredge_async._budget": 4,
    "solaredge_async._shared_state": 4,
    "solaredge_async._client_setup": 4,
    "solaredge_async._base_client": 4,
    "solaredge_async.client": 4,
    "solaredge_async.oauth": 4,
    "solaredge_async.fleet": 5,
    "solaredge_async.store": 6,
    "solaredge_async.sync": 7,
    "solaredge_async.poll": 8,
    "solaredge_async.cli": 9,
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: dict[str, Path] = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(name: str) -> str | None:
    """The library module an imported name lives in (a submodule, else its package)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str) -> set[str]:
    """Every library module ``module`` imports, anywhere in its source."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            # `from pkg import sub` imports the submodule; `from pkg import name`, pkg.
            names = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                for alias in node.names
            ]
        else:
            continue
        for name in names:
            if name == ROOT or name.startswith(ROOT + "."):
                target = _resolve(name)
                if target is not None and target != module:
                    found.add(target)
    return found


GRAPH: dict[str, set[str]] = {m: _imports(m) for m in MODULES}


def floor(module: str) -> int | None:
    """The module's floor, or None for the testing room (apart)."""
    if module == "solaredge_async.testing" or module.startswith("solaredge_async.testing."):
        return None
    best = max((p for p in FLOORS if module == p or module.startswith(p + ".")), key=len)
    return FLOORS[best]


def test_every_module_has_a_floor() -> None:
    """Each module of the package is placed (a new room must be added to FLOORS)."""
    for module in MODULES:
        if module == ROOT:
            continue
        assert floor(module) is None or floor(module) != FLOORS[ROOT], module


def test_the_graph_is_read() -> None:
    """The reader finds known arrows (so the checks below cannot pass vacuously)."""
    assert "solaredge_async._endpoints" in GRAPH["solaredge_async.client"]
    assert "solaredge_async.client" in GRAPH["solaredge_async.fleet._plan"]
    assert "solaredge_async.errors" in GRAPH["solaredge_async._checks"]
    assert "solaredge_async.fleet" in GRAPH["solaredge_async.cli._commands"]


def test_no_import_cycle() -> None:
    """No module reaches itself through its imports."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        stack.append(module)
        for target in sorted(GRAPH[module]):
            if state.get(target) == 1:
                cycle = [*stack[stack.index(target) :], target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        stack.pop()
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module)


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m != ROOT))
def test_imports_point_down(module: str) -> None:
    """A module imports only modules on its floor or below (floor 1: floor 0 only)."""
    mine = floor(module)
    for target in GRAPH[module]:
        theirs = floor(target)
        if mine is None:  # the simulator imports nothing of the library (its plugin aside)
            assert theirs is None or module.endswith("pytest_plugin"), (module, target)
            continue
        if theirs is None:  # only the CLI's `simulate` command runs the simulator
            assert mine == FLOORS["solaredge_async.cli"], f"{module} imports {target}"
            continue
        limit = 0 if mine == 1 else mine
        assert theirs <= limit, f"{module} (floor {mine}) imports {target} (floor {theirs})"


@pytest.mark.parametrize(
    ("lower", "upper"),
    [
        ("solaredge_async.client", "solaredge_async.fleet"),
        ("solaredge_async.client", "solaredge_async.cli"),
        ("solaredge_async.client", "solaredge_async.store"),
        ("solaredge_async.client", "solaredge_async.sync"),
        ("solaredge_async.client", "solaredge_async.poll"),
        ("solaredge_async._base_client", "solaredge_async.fleet"),
        ("solaredge_async.fleet", "solaredge_async.cli"),
        ("solaredge_async.models", "solaredge_async.client"),
        ("solaredge_async.errors", "solaredge_async.models"),
    ],
)
def test_named_rooms_never_import_upward(lower: str, upper: str) -> None:
    """The arrows the architecture forbids by name are absent."""
    sources = [m for m in MODULES if m == lower or m.startswith(lower + ".")]
    assert sources
    for module in sources:
        bad = {t for t in GRAPH[module] if t == upper or t.startswith(upper + ".")}
        assert not bad, f"{module} imports {sorted(bad)}"
