"""JSON names of record fields: camelCase by default, with a few renames."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Final

import attrs

from solaredge_async.models import Period

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["NOT_JSON", "json_names"]

#: JSON names that are not the camelCase of the attribute name.
_RENAMES: Final[Mapping[type, Mapping[str, str]]] = {Period: {"start": "from", "end": "to"}}

#: Fields that are not read from a JSON key of their own (unknown keys, the whole body).
NOT_JSON: Final = frozenset({"extra", "raw"})


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


@functools.cache
def json_names(cl: type) -> Mapping[str, str]:
    """Attribute name → JSON key, for every field of an attrs class read from a key of its own."""
    renames = _RENAMES.get(cl, {})
    return {
        a.name: renames.get(a.name, _camel(a.name))
        for a in attrs.fields(cl)
        if a.name not in NOT_JSON
    }
