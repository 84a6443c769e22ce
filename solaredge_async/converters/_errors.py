"""Error trees and their rendering: every problem of a body as one line with its JSON path.

Hooks raise `InvalidValueError` for one bad value and bundle several with `group`,
placing each at its path step with `at` (a field name, a list index or a mapping
`Key`), the way cattrs' generated hooks do. `raise_validation_error` renders the
tree with `cattrs.transform_error` (``expected float, got string '1.5' @
$.values[3].value``) and raises one `solaredge_async.errors.ResponseValidationError`.

`Fields`, `each_item` and `each_value` structure the members of one object or array
and collect every failure with its place, instead of stopping at the first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final, NoReturn, TypeVar

import attrs
import cattrs
from cattrs.errors import (
    AttributeValidationNote,
    BaseValidationError,
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
)

from solaredge_async.converters._names import json_names
from solaredge_async.errors import ResponseValidationError
from solaredge_async.models._json import EMPTY_OBJECT, FrozenDict, JSONValue, freeze_object

__all__ = [
    "MAX_ERRORS",
    "Fields",
    "Hook",
    "InvalidValueError",
    "Key",
    "as_object",
    "at",
    "describe",
    "each_item",
    "each_value",
    "expected",
    "freeze_unknown",
    "group",
    "nest",
    "raise_validation_error",
]

T = TypeVar("T")

#: A structure hook: ``hook(value, type)``.
Hook = Callable[[Any, Any], Any]

#: The most problems one `ResponseValidationError` lists in ``errors``.
MAX_ERRORS: Final = 20


# --- leaf errors and their descriptions ---------------------------------------------


class InvalidValueError(ValueError):
    """One value that does not fit; the message says what was expected."""


_JSON_KINDS: Final = (
    (type(None), "null"),
    (int | float, "number"),
    (Mapping, "object"),
    (list | tuple, "array"),
)


def describe(value: object) -> str:
    """Name a JSON value for a message: its JSON type, and a short excerpt of strings."""
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:37] + "..."  # noqa: PLR2004
        return f"string {text!r}"
    if isinstance(value, bool):
        return f"boolean {'true' if value else 'false'}"
    for kinds, name in _JSON_KINDS:
        if isinstance(value, kinds):
            return name
    return type(value).__name__


def expected(what: str, value: object) -> InvalidValueError:
    """The error to raise for ``value``: ``expected <what>, got <value described>``."""
    return InvalidValueError(f"expected {what}, got {describe(value)}")


def as_object(value: object) -> Mapping[str, object]:
    """``value`` if it is a JSON object.

    Raises:
        InvalidValueError: It is not.
    """
    if isinstance(value, Mapping):
        return value
    raise expected("an object", value)


# --- placing errors on a path -------------------------------------------------------


class Key(str):
    """A mapping key in an error path (shown as ``['key']``, not ``.key``)."""

    __slots__ = ()


def at(exc: Exception, part: str | int) -> Exception:
    """Attach a path step to ``exc``: a field name, a list index or a `Key`."""
    note: str
    if isinstance(part, int | Key):
        note = IterableValidationNote(
            f"at {part!r}", str(part) if isinstance(part, Key) else part, object
        )
    else:
        note = AttributeValidationNote(f"at {part}", part, object)
    exc.__notes__ = [*getattr(exc, "__notes__", ()), note]
    return exc


def nest(exc: Exception, parts: tuple[str | int, ...]) -> Exception:
    """Place ``exc`` at a path of several steps (outermost first)."""
    exc = at(exc, parts[-1])
    for part in reversed(parts[:-1]):
        exc = at(group([exc]), part)
    return exc


def group(errors: list[Exception], *, items: bool = False) -> BaseValidationError:
    """Bundle noted errors as cattrs does, so `cattrs.transform_error` can walk them."""
    if items:
        return IterableValidationError("While structuring items", errors, list)
    return ClassValidationError("While structuring an object", errors, dict)


# --- collecting every failure of an object or array ---------------------------------


def freeze_unknown(obj: Mapping[str, object], known: frozenset[str]) -> FrozenDict[str, JSONValue]:
    """The members of ``obj`` whose keys are not in ``known``, frozen (`freeze_object`)."""
    return freeze_object((k, v) for k, v in obj.items() if k not in known)


class Fields:
    """Structure the members of one object, collecting each failure with its JSON name."""

    __slots__ = ("errors", "obj")

    def __init__(self, obj: Mapping[str, object]) -> None:
        self.obj = obj
        self.errors: list[Exception] = []

    def get(self, key: str, hook: Hook, tp: object, *, required: bool = False) -> Any:  # noqa: ANN401
        """``hook(obj[key], tp)``; `None` if the key is absent or the value is bad."""
        obj = self.obj
        if key not in obj:
            if required:
                self.errors.append(at(KeyError(key), key))
            return None
        try:
            return hook(obj[key], tp)
        except Exception as exc:  # noqa: BLE001
            self.errors.append(at(exc, key))
            return None

    def unknown(self, known: frozenset[str], *, strict: bool) -> FrozenDict[str, JSONValue]:
        """The members whose keys are not in ``known``: frozen, or (strict) an error."""
        obj = self.obj
        if known.issuperset(obj):
            return EMPTY_OBJECT
        if strict:
            self.errors.append(ForbiddenExtraKeysError("", dict, set(obj.keys() - known)))
            return EMPTY_OBJECT
        try:
            return freeze_unknown(obj, known)
        except (TypeError, RecursionError) as exc:
            self.errors.append(exc)
            return EMPTY_OBJECT

    def done(self) -> None:
        """Raise the failures collected so far, as one error tree.

        Raises:
            ClassValidationError: One or more members did not fit.
        """
        if self.errors:
            raise group(self.errors)


def each_item(data: object, hook: Callable[[object, Any], T], tp: object = None) -> list[T]:
    """``hook(item, tp)`` for each item of a JSON array, noting the index of each bad item.

    Raises:
        InvalidValueError: ``data`` is not an array.
        IterableValidationError: One or more items did not fit.
    """
    if data.__class__ is list:
        try:
            return [hook(item, tp) for item in data]
        except Exception:  # noqa: BLE001, S110 - start over to name every bad item
            pass
    if not isinstance(data, list | tuple):
        raise expected("an array", data)
    items: list[T] = []
    errors: list[Exception] = []
    for index, item in enumerate(data):
        try:
            items.append(hook(item, tp))
        except Exception as exc:  # noqa: BLE001 - name every bad item
            errors.append(at(exc, index))
    if errors:
        raise group(errors, items=True)
    return items


def each_value(data: object, hook: Callable[[object, Any], T], tp: object = None) -> dict[str, T]:
    """``hook(value, tp)`` for each member of a JSON object with string keys, noting bad keys.

    Raises:
        InvalidValueError: ``data`` is not an object.
        IterableValidationError: One or more members did not fit.
    """
    out: dict[str, T] = {}
    errors: list[Exception] = []
    for key, value in as_object(data).items():
        try:
            if not isinstance(key, str):
                raise expected("string keys", key)  # noqa: TRY301 - noted below
            out[key] = hook(value, tp)
        except Exception as exc:  # noqa: BLE001 - name every bad member
            errors.append(at(exc, Key(key)))
    if errors:
        raise group(errors, items=True)
    return out


# --- rendering ------------------------------------------------------------------------


def _format_exception(exc: BaseException, _type: object) -> str:
    """Describe one leaf problem (the part before ``@`` in a message)."""
    if isinstance(exc, InvalidValueError):
        return str(exc)
    if isinstance(exc, KeyError):
        return "required field missing"
    if isinstance(exc, ForbiddenExtraKeysError):
        keys = ", ".join(sorted(repr(k)[:40] for k in exc.extra_fields))
        return f"unknown fields {keys}"
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return f"invalid value ({type(exc).__name__})"


def _rename_notes(exc: BaseException) -> None:
    """Make every path step of a cattrs error tree use JSON names, not attribute names."""
    if not isinstance(exc, BaseValidationError):
        return
    names = json_names(exc.cl) if attrs.has(exc.cl) else {}
    for sub in exc.exceptions:
        notes = getattr(sub, "__notes__", None)
        if names and notes:
            sub.__notes__ = [
                AttributeValidationNote(str(n), names.get(n.name, n.name), n.type)
                if isinstance(n, AttributeValidationNote)
                else n
                for n in notes
            ]
        _rename_notes(sub)


def raise_validation_error(exc: Exception, path: str) -> NoReturn:
    """Raise ``exc`` (a failure while structuring a body) as one `ResponseValidationError`.

    Its message names the first problem and counts the others; its ``errors`` list
    each (at most `MAX_ERRORS`). A failure that is not a validation problem (a bug)
    stays attached as the cause.

    Raises:
        ResponseValidationError: Always.
    """
    _rename_notes(exc)
    lines = cattrs.transform_error(exc, format_exception=_format_exception)
    if not lines:  # pragma: no cover - transform_error always yields one line
        lines = [f"{_format_exception(exc, None)} @ $"]
    total = len(lines)
    if total > MAX_ERRORS:
        lines = [*lines[: MAX_ERRORS - 1], f"... and {total - MAX_ERRORS + 1} more"]
    more = f" (and {total - 1} more)" if total > 1 else ""
    error = ResponseValidationError(
        f"{path}: the response body does not fit the API reference: {lines[0]}{more}",
        path=path,
        errors=tuple(lines),
    )
    expected_kinds = BaseValidationError | InvalidValueError | KeyError | ForbiddenExtraKeysError
    if isinstance(exc, expected_kinds):
        raise error from None
    raise error from exc  # an unexpected failure: keep it for debugging
