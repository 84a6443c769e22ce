"""JSON values as the records hold them: `JSONValue` and a read-only mapping."""

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, NoReturn, TypeAlias, TypeVar

__all__ = [
    "EMPTY_OBJECT",
    "FrozenDict",
    "JSONValue",
    "empty_object",
    "freeze_json",
    "freeze_object",
]

#: Any JSON value: an object, an array, a string, a number, a boolean or null.
#: Decoded bodies hold ``dict`` and ``list``; values kept inside records are frozen
#: into read-only mappings and tuples (`freeze_json`).
if TYPE_CHECKING:
    JSONValue: TypeAlias = (
        "Mapping[str, JSONValue] | Sequence[JSONValue] | str | int | float | bool | None"
    )
else:
    # The same without recursion, so that `typing.get_type_hints` can resolve the
    # fields of records in any module.
    JSONValue = Mapping[str, Any] | Sequence[Any] | str | int | float | bool | None

_K = TypeVar("_K")
_V = TypeVar("_V")


class FrozenDict(dict[_K, _V]):
    """A ``dict`` that refuses changes, so records holding one stay immutable.

    It is still a ``dict``: it compares, prints and serialises (``json``, ``orjson``)
    like one, and is hashable when its values are. Copies (``dict(frozen)``) are
    ordinary, mutable dicts.
    """

    __slots__ = ()

    def _refuse(self, *_args: object, **_kwargs: object) -> NoReturn:
        raise TypeError(f"{type(self).__name__} is read-only; copy it with dict() to change it")

    __setitem__ = _refuse
    __delitem__ = _refuse
    __ior__ = _refuse
    clear = _refuse
    pop = _refuse
    popitem = _refuse
    setdefault = _refuse
    update = _refuse

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(frozenset(self.items()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({dict.__repr__(self)})"

    def __reduce__(self) -> tuple[type["FrozenDict[_K, _V]"], tuple[dict[_K, _V]]]:
        # The default pickling of dict subclasses sets items one by one, which
        # __setitem__ refuses: rebuild from a plain dict instead.
        return (type(self), (dict(self),))

    def __copy__(self) -> "FrozenDict[_K, _V]":
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> "FrozenDict[_K, _V]":
        return self


_EMPTY: FrozenDict[str, JSONValue] = FrozenDict()

#: The shared empty `FrozenDict`: the default of ``extra`` and ``raw`` fields. A plain
#: default rather than a factory, because it is immutable and a factory would cost a
#: call for every record built.
EMPTY_OBJECT: Final[FrozenDict[str, JSONValue]] = _EMPTY


def freeze_json(value: object) -> JSONValue:
    """Return ``value`` with every dict made a `FrozenDict` and every list a tuple.

    Raises:
        TypeError: A value that is not JSON data (a set, bytes, an object), or an
            object key that is not a string.
        RecursionError: Nesting deeper than the interpreter's recursion limit.
    """
    if value is None or isinstance(value, str | int | float):  # bool is an int
        return value
    if isinstance(value, Mapping):
        return freeze_object(value.items())
    if isinstance(value, list | tuple):
        return tuple([freeze_json(item) for item in value])
    raise TypeError(f"not JSON data: {type(value).__name__}")


def freeze_object(items: Iterable[tuple[object, object]]) -> FrozenDict[str, JSONValue]:
    """Return a `FrozenDict` of ``(key, value)`` pairs, each value frozen (`freeze_json`).

    Raises:
        TypeError: A key that is not a string, or a value that is not JSON data.
    """
    out: dict[str, JSONValue] = {}
    for key, item in items:
        if not isinstance(key, str):
            raise TypeError(f"object keys must be strings, not {type(key).__name__}")
        out[key] = freeze_json(item)
    return FrozenDict(out) if out else _EMPTY


def empty_object() -> FrozenDict[str, JSONValue]:
    """The shared empty `FrozenDict` (the default of ``extra`` and ``raw`` fields)."""
    return _EMPTY
