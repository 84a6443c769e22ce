"""The package's exports: one list, lazy names, ``__all__`` and type-checking imports agree."""

from __future__ import annotations

import ast
import builtins
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import solaredge_async

INIT = Path(solaredge_async.__file__)


def _type_checking_imports() -> dict[str, str]:
    """Name -> module of the imports under ``if TYPE_CHECKING:`` in ``__init__.py``."""
    tree = ast.parse(INIT.read_text(encoding="utf-8"))
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for stmt in node.body:
                assert isinstance(stmt, ast.ImportFrom), ast.dump(stmt)
                for alias in stmt.names:
                    # `import X as X`: an explicit re-export for type checkers.
                    assert alias.asname == alias.name, alias.name
                    found[alias.name] = str(stmt.module)
    return found


def test_lazy_names_all_and_type_checking_imports_agree() -> None:
    """The one list builds `__all__`; the type-checking imports name the same modules."""
    lazy = solaredge_async._LAZY
    assert sorted(solaredge_async.__all__) == solaredge_async.__all__
    assert set(solaredge_async.__all__) == {*lazy, "__version__"}
    assert _type_checking_imports() == dict(lazy)
    assert {n for names in solaredge_async._EXPORTS.values() for n in names} == set(lazy)
    counted = sum(len(names) for names in solaredge_async._EXPORTS.values())
    assert counted == len(lazy), "a name is listed twice"


@pytest.mark.parametrize("name", solaredge_async.__all__)
def test_every_name_resolves(name: str) -> None:
    """Each exported name resolves, to the object its module defines."""
    value = getattr(solaredge_async, name)
    if name != "__version__":
        module = importlib.import_module(solaredge_async._LAZY[name])
        assert getattr(module, name) is value
    assert name in dir(solaredge_async)


def test_no_public_name_equals_a_builtin() -> None:
    """`from solaredge_async import *` cannot shadow a builtin (e.g. TimeoutError)."""
    assert not set(solaredge_async.__all__) & set(dir(builtins))


def test_unknown_name_raises_attribute_error() -> None:
    """A missing name is an AttributeError that names it."""
    with pytest.raises(AttributeError, match="NoSuchThing"):
        _ = solaredge_async.NoSuchThing  # type: ignore[attr-defined]


def test_import_stays_cheap() -> None:
    """Importing the package loads neither the client, httpx, trio nor the simulator."""
    code = (
        "import sys, solaredge_async; "
        "print(sorted(m for m in ('httpx', 'trio', 'solaredge_async.client', "
        "'solaredge_async.testing', 'solaredge_async.fleet') if m in sys.modules))"
    )
    out = subprocess.run(  # noqa: S603 - our own interpreter, a fixed script
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize(
    "module",
    [
        "solaredge_async.fleet",
        "solaredge_async.models",
        "solaredge_async.errors",
        "solaredge_async.client",
    ],
)
def test_no_subpackage_export_equals_a_builtin(module: str) -> None:
    """The public modules' `__all__` shadow no builtin either."""
    names = set(importlib.import_module(module).__all__)
    assert names
    assert not names & set(dir(builtins))
