"""Module attributes imported on first use (PEP 562), so that importing a package stays cheap."""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = ["lazy_getattr"]


def lazy_getattr(module: str, lazy: Mapping[str, str]) -> Callable[[str], object]:
    """A module ``__getattr__`` that imports ``lazy[name]`` and returns its ``name``.

    Use it as ``__getattr__ = lazy_getattr(__name__, {"Name": "package._module"})``.
    A name found is kept in ``module``'s namespace, so it is looked up once.

    The hook raises `AttributeError` (naming the module and the attribute) for a name
    that is not in ``lazy``, and `ImportError` when the module holding it cannot be
    imported (an optional extra that is not installed).
    """

    def module_getattr(name: str) -> object:
        source = lazy.get(name)
        if source is None:
            msg = f"module {module!r} has no attribute {name!r}"
            raise AttributeError(msg)
        value = getattr(importlib.import_module(source), name)
        setattr(sys.modules[module], name, value)
        return value

    return module_getattr
