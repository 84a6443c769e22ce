"""The cattrs hooks: scalars, timestamps, open enums, optionals and records.

Every hook takes ``(value, type)`` like cattrs' own and raises
`~solaredge_async.converters._errors.InvalidValueError` (or an error tree) for a
value that does not fit. Factories take ``strict``: the lenient hooks tolerate what
the live API is known to send (booleans as numbers, serials as numbers, naive
timestamps, unknown enum values, unknown keys); the strict ones refuse it.
"""

from __future__ import annotations

import re
import types
from collections.abc import Callable, Mapping
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, Final, Union, cast, get_args, get_origin

import attrs
from cattrs.gen import make_dict_structure_fn, override

from solaredge_async.converters._errors import (
    Hook,
    InvalidValueError,
    as_object,
    describe,
    each_item,
    expected,
    freeze_unknown,
    group,
    nest,
)
from solaredge_async.converters._names import NOT_JSON, json_names
from solaredge_async.models import EnvironmentalBenefits, OverviewPerformance, PowerFlow, Unit
from solaredge_async.models._json import freeze_object

if TYPE_CHECKING:
    import cattrs

__all__ = [
    "RAW_RECORDS",
    "is_open_enum",
    "is_optional",
    "make_datetime_hook",
    "make_error_codes_hook",
    "make_float_hook",
    "make_int_hook",
    "make_raw_hook",
    "make_str_hook",
    "open_enum_hook_factory",
    "optional_hook_factory",
    "optional_inner",
    "parse_timestamp",
    "record_hook_factory",
    "structure_bool",
]

_fromisoformat = datetime.fromisoformat

# --- timestamps -------------------------------------------------------------------

# What the fallback accepts: a date, T (or space), hh:mm[:ss[.fraction]], an offset.
_TIMESTAMP_RE: Final = re.compile(
    r"\s*(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2})(:\d{2})?(?:[.,](\d+))?\s*"
    r"([Zz]|[+-]\d{2}(?::?\d{2})?)?\s*\Z",
    re.ASCII,
)


def parse_timestamp(text: str, *, strict: bool = False) -> datetime:
    """Parse an API timestamp (ISO 8601) into a `datetime.datetime`.

    Accepts an offset (``+02:00``, ``+0200``, ``+02``) or ``Z``, missing seconds
    (``2026-05-12T10:00+02:00``) and fractions of any length (the server sends 9
    digits; they are cut to microseconds). Runs at the speed of
    `datetime.datetime.fromisoformat` (about 0.2 µs) for every well-formed stamp.

    Args:
        text: The timestamp.
        strict: Refuse a timestamp without an offset (the API always sends one).

    Returns:
        An aware datetime with a fixed offset; naive if ``text`` has no offset and
        ``strict`` is false.

    Raises:
        ValueError: Not an ISO 8601 timestamp, not a string, or (strict) no offset.
    """
    try:
        stamp = _fromisoformat(text)
    except TypeError:
        raise expected("an ISO 8601 timestamp string", text) from None
    except ValueError:
        stamp = _parse_timestamp_fallback(text)
    if strict and stamp.tzinfo is None:
        raise InvalidValueError(f"timestamp without a UTC offset: {text[:40]!r}")
    return stamp


def _parse_timestamp_fallback(text: str) -> datetime:
    """The forms `datetime.fromisoformat` refuses: lowercase ``z``, stray spaces."""
    match = _TIMESTAMP_RE.match(text)
    if match is not None:
        day, hhmm, seconds, fraction, offset = match.groups()
        canonical = f"{day}T{hhmm}{seconds or ':00'}"
        if fraction:
            canonical += "." + fraction[:6].ljust(6, "0")
        if offset:
            canonical += "+00:00" if offset in "Zz" else offset
        try:
            return _fromisoformat(canonical)
        except ValueError as exc:
            raise InvalidValueError(f"invalid timestamp {describe(text)} ({exc})") from None
    raise InvalidValueError(f"expected an ISO 8601 timestamp, got {describe(text)}")


def make_datetime_hook(strict: bool) -> Callable[[object, object], datetime]:
    """The ``datetime`` hook: an ISO 8601 string (`parse_timestamp`)."""

    def structure_datetime(value: object, _: object = None) -> datetime:
        if isinstance(value, str):
            return parse_timestamp(value, strict=strict)
        raise expected("an ISO 8601 timestamp string", value)

    return structure_datetime


# --- scalars ----------------------------------------------------------------------


def make_float_hook(strict: bool) -> Callable[[object, object], float]:
    """The ``float`` hook: a finite JSON number (lenient: a boolean too)."""

    def structure_float(value: object, _: object = None) -> float:
        if value.__class__ is float:
            if value - value == 0.0:  # false for nan and inf
                return value
            raise expected("a finite number", value)
        if isinstance(value, bool):
            if strict:
                raise expected("float", value)
            return float(value)
        if isinstance(value, int | float):
            try:
                number = float(value)
            except OverflowError:
                raise InvalidValueError("number out of range for a float") from None
            if number - number == 0.0:
                return number
            raise expected("a finite number", value)
        raise expected("float", value)

    return structure_float


def make_int_hook(strict: bool) -> Callable[[object, object], int]:
    """The ``int`` hook: a JSON integer (lenient: a boolean or a whole float too)."""

    def structure_int(value: object, _: object = None) -> int:
        if value.__class__ is int:
            return value
        if isinstance(value, bool):
            if strict:
                raise expected("int", value)
            return int(value)
        if isinstance(value, int):
            return int(value)
        if not strict and isinstance(value, float) and value.is_integer():
            return int(value)
        raise expected("int", value)

    return structure_int


def make_str_hook(strict: bool) -> Callable[[object, object], str]:
    """The ``str`` hook: a JSON string (lenient: an integer too, e.g. a serial)."""

    def structure_str(value: object, _: object = None) -> str:
        if value.__class__ is str:
            return value
        if isinstance(value, str):
            return str(value)
        if not strict and isinstance(value, int) and not isinstance(value, bool):
            # A serial or zip code sent as a number; lossless.
            try:
                return str(value)
            except ValueError:  # more digits than int->str conversion allows
                pass
        raise expected("string", value)

    return structure_str


def structure_bool(value: object, _: object = None) -> bool:
    """The ``bool`` hook: a JSON boolean, in both modes."""
    if isinstance(value, bool):
        return value
    raise expected("boolean", value)


def make_error_codes_hook(strict: bool) -> Callable[[object, object], tuple[int | str, ...]]:
    """The hook of ``Alert.error_codes``: an array of integers and strings; null is empty."""
    to_int = make_int_hook(strict)

    def error_code(code: object, _: object = None) -> int | str:
        if isinstance(code, str):
            return str(code)
        try:
            return to_int(code, int)
        except InvalidValueError:
            raise InvalidValueError(f"expected int or string, got {describe(code)}") from None

    def structure_error_codes(value: object, _: object = None) -> tuple[int | str, ...]:
        if value is None:
            return ()
        return tuple(each_item(value, error_code))

    return structure_error_codes


# --- open enums and optionals -----------------------------------------------------


def _union_args(tp: object) -> tuple[object, ...]:
    origin = get_origin(tp)
    if origin is Union or origin is types.UnionType:
        return get_args(tp)
    return ()


def _open_enum_of(tp: object) -> tuple[type[Enum], bool] | None:
    """``(E, nullable)`` for ``E | str`` and ``E | str | None``, where E is a str enum."""
    args = _union_args(tp)
    nullable = type(None) in args
    rest = [a for a in args if a is not type(None)]
    if len(rest) != 2 or str not in rest:  # noqa: PLR2004
        return None
    enum = next(a for a in rest if a is not str)
    if isinstance(enum, type) and issubclass(enum, Enum) and issubclass(enum, str):
        return enum, nullable
    return None


def is_open_enum(tp: object) -> bool:
    """Whether ``tp`` is ``E | str`` or ``E | str | None`` for a str enum E."""
    return _open_enum_of(tp) is not None


def open_enum_hook_factory(strict: bool) -> Callable[[object], Hook]:
    """A hook factory for ``E | str`` unions: known values → members, others kept raw.

    In strict mode an unknown value is an error.
    """

    def factory(tp: object) -> Hook:
        found = _open_enum_of(tp)
        if found is None:  # pragma: no cover - guarded by the predicate
            raise TypeError(f"not an open enum: {tp!r}")
        enum, nullable = found
        members: Mapping[str, Enum] = enum._value2member_map_
        name = enum.__name__
        known = ", ".join(m.value for m in enum)

        def structure_open_enum(value: object, _: object = None) -> Enum | str | None:
            member = members.get(value) if value.__class__ is str else None
            if member is not None:
                return member
            if isinstance(value, str):
                member = members.get(value)
                if member is not None:
                    return member
                if strict:
                    raise InvalidValueError(f"unknown {name} {describe(value)} (known: {known})")
                return str(value)
            if value is None and nullable:
                return None
            raise expected(f"a {name} string" + (" or null" if nullable else ""), value)

        return structure_open_enum

    return factory


def is_optional(tp: object) -> bool:
    """Whether ``tp`` is ``X | None`` for a single X."""
    args = _union_args(tp)
    return len(args) == 2 and type(None) in args  # noqa: PLR2004


def _optional_exact(hook: Hook, inner: object, _strict: bool) -> Hook:
    def structure_optional_exact(value: object, _: object = None) -> object:
        if value is None or value.__class__ is inner:
            return value
        return hook(value, inner)

    return structure_optional_exact


def _optional_float(hook: Hook, _inner: object, _strict: bool) -> Hook:
    def structure_optional_float(value: object, _: object = None) -> object:
        if value is None or (value.__class__ is float and value - value == 0.0):
            return value
        return hook(value, float)

    return structure_optional_float


def _optional_datetime(hook: Hook, _inner: object, strict: bool) -> Hook:
    def structure_optional_datetime(value: object, _: object = None) -> object:
        if value.__class__ is str:
            try:
                stamp = _fromisoformat(value)
            except ValueError:
                pass
            else:
                if stamp.tzinfo is not None or not strict:
                    return stamp
        return None if value is None else hook(value, datetime)

    return structure_optional_datetime


def _optional(hook: Hook, inner: object, _strict: bool) -> Hook:
    def structure_optional(value: object, _: object = None) -> object:
        return None if value is None else hook(value, inner)

    return structure_optional


#: Shortcuts for the commonest optionals: the usual value skips the inner hook.
_OPTIONALS: Final[Mapping[object, Callable[[Hook, object, bool], Hook]]] = {
    str: _optional_exact,
    int: _optional_exact,
    float: _optional_float,
    datetime: _optional_datetime,
}


def optional_hook_factory(converter: cattrs.Converter, strict: bool) -> Callable[[object], Hook]:
    """``X | None``: null → None, else X's hook, resolved once (cattrs looks it up per call).

    For ``str``, ``int`` and ``float`` the common case (a value of exactly that type)
    is answered without calling the inner hook: these are most fields of every record;
    a timestamp string goes straight to `parse_timestamp`.
    """

    def factory(tp: object) -> Hook:
        inner = optional_inner(tp)
        make = _OPTIONALS.get(inner, _optional)
        return make(converter.get_structure_hook(inner), inner, strict)

    return factory


# --- records ----------------------------------------------------------------------


def _set_extra(record: object, extra: object) -> None:
    # The record was created a moment ago and nobody else holds it: filling its
    # ``extra`` in place (as attrs' own __init__ does for frozen classes) spares a
    # second construction by `attrs.evolve`, which would double the cost of a record
    # that has unknown keys.
    object.__setattr__(record, "extra", extra)


def optional_inner(tp: object) -> object:
    """X for ``X | None``; ``tp`` itself for anything else."""
    if is_optional(tp):
        return next(a for a in get_args(tp) if a is not type(None))
    return tp


#: Inline checks for the commonest field types: the value passes without a hook call.
_INLINE: Final[Mapping[object, str]] = {
    str | None: "v is None or v.__class__ is str",
    int | None: "v is None or v.__class__ is int",
    float | None: "v is None or (v.__class__ is float and v - v == 0.0)",
}


def _fast_structure_fn(cl: type, converter: cattrs.Converter) -> Callable[[Any], object] | None:
    """A structure function for well-formed objects only: one expression, no bookkeeping.

    It reads absent optional keys as null (the same record: their defaults are
    `None`) and inlines the exact-type check of ``str | None``, ``int | None`` and
    ``float | None`` fields. It raises on anything unusual, and the caller then runs
    cattrs' detailed function to name the problem. `None` if a field's default is
    not `None` (then there is no fast form).
    """
    names = json_names(cl)
    scope: dict[str, object] = {"__cl": cl}
    args: list[str] = []
    for a in attrs.fields(attrs.resolve_types(cl)):
        if a.name not in names:
            continue
        key, hook, tp = names[a.name], f"__h_{a.name}", f"__t_{a.name}"
        scope[hook], scope[tp] = converter.get_structure_hook(a.type), a.type
        if a.default is attrs.NOTHING:
            args.append(f"{a.name}={hook}(o[{key!r}], {tp})")
        elif a.default is not None:
            return None
        elif a.type in _INLINE:
            check = _INLINE[a.type]
            args.append(
                f"{a.name}=(v if ((v := g({key!r})) is None or {check}) else {hook}(v, {tp}))"
            )
        else:
            args.append(f"{a.name}={hook}(g({key!r}), {tp})")
    source = f"def fast(o):\n    g = o.get\n    return __cl({', '.join(args)})\n"
    exec(compile(source, f"<fast structure {cl.__qualname__}>", "exec"), scope)  # noqa: S102
    return cast("Callable[[Any], object]", scope["fast"])


def record_hook_factory(converter: cattrs.Converter, strict: bool) -> Callable[[type], Hook]:
    """Hooks reading camelCase keys, by `make_dict_structure_fn` with ``override(rename=...)``.

    Strict hooks forbid unknown keys; a lenient hook keeps them, frozen, in the
    record's ``extra`` field when it has one. Serves ``R`` and ``R | None`` (null is
    None), so that a nested record costs one call, not two.
    """

    def factory(tp: object) -> Hook:
        cl = cast("type", optional_inner(tp))
        nullable = cl is not tp
        names = json_names(cl)
        overrides = {attr: override(rename=key) for attr, key in names.items()}
        fields = attrs.fields_dict(cl)
        for name in NOT_JSON & fields.keys():
            overrides[name] = override(omit=True)
        fn: Callable[[Mapping[str, object], type], object] = make_dict_structure_fn(
            cl, converter, _cattrs_forbid_extra_keys=strict, **cast("dict[str, Any]", overrides)
        )
        keep_unknown = not strict and "extra" in fields
        known = frozenset(names.values())
        all_known = known.issuperset

        fast = _fast_structure_fn(cl, converter)

        def structure_record(value: object, _: object = None) -> object:
            if fast is not None and value.__class__ is dict and all_known(value):
                try:
                    return fast(value)
                except Exception:  # noqa: BLE001, S110 - the detailed pass names the problem
                    pass
            if value.__class__ is not dict:
                if value is None and nullable:
                    return None
                value = as_object(value)
            record = fn(value, cl)
            if keep_unknown and not all_known(value):
                _set_extra(record, freeze_unknown(value, known))
            return record

        return structure_record

    return factory


# --- raw passthrough records ------------------------------------------------------

#: Raw-passthrough records: (attribute, JSON path below the base object, type).
_RAW_FIELDS: Final[Mapping[type, tuple[tuple[str, tuple[str, ...], object], ...]]] = {
    EnvironmentalBenefits: (
        ("co2_emissions", ("co2Emissions",), float),
        ("ev_miles", ("evMiles",), float),
        ("trees_planted", ("treesPlanted",), float),
        ("light_bulbs", ("lightBulbs",), float),
    ),
    PowerFlow: (
        ("unit", ("unit",), Unit | str),
        ("grid_power", ("GRID", "currentPower"), float),
        ("load_power", ("LOAD", "currentPower"), float),
        ("pv_power", ("PV", "currentPower"), float),
        ("storage_power", ("STORAGE", "currentPower"), float),
        ("storage_charge_level", ("STORAGE", "chargeLevel"), float),
    ),
    OverviewPerformance: (
        ("specific_yield", ("specificYield",), float),
        ("performance_ratio", ("performanceRatio",), float),
    ),
}

#: The records that keep the whole body in ``raw`` (shapes unverified).
RAW_RECORDS: Final = tuple(_RAW_FIELDS)

#: Wrappers the known fields may sit in (V1-like shapes); the first one present wins.
_RAW_WRAPPERS: Final[Mapping[type, tuple[str, ...]]] = {
    EnvironmentalBenefits: ("envBenefits", "environmentalBenefits"),
    PowerFlow: ("siteCurrentPowerFlow",),
    OverviewPerformance: ("performance", "overviewPerformance"),
}


def make_raw_hook(converter: cattrs.Converter, cl: type, strict: bool) -> Hook:
    """Keep the whole body in ``raw``; fill the known fields where they fit.

    Lenient: a known field of an unexpected type is left `None` (``raw`` still holds
    it). Strict: it is an error. Unknown keys are fine in both modes.
    """
    # Units of these unverified shapes are kept raw in both modes (V1 sent "kW").
    open_unit = open_enum_hook_factory(strict=False)(Unit | str)
    spec = [
        (attr, path, tp, open_unit if tp == Unit | str else converter.get_structure_hook(tp))
        for attr, path, tp in _RAW_FIELDS[cl]
    ]
    wrappers = _RAW_WRAPPERS[cl]

    def structure_raw(value: object, _: object = None) -> object:
        obj = as_object(value)
        raw = freeze_object(obj.items())
        base: Mapping[str, object] = obj
        prefix: tuple[str, ...] = ()
        for key in wrappers:
            inner = obj.get(key)
            if isinstance(inner, Mapping):
                base, prefix = inner, (key,)
                break
        kwargs: dict[str, Any] = {}
        errors: list[Exception] = []
        for attr, path, tp, hook in spec:
            found: object = base
            for key in path:
                found = found.get(key) if isinstance(found, Mapping) else None
            if found is None:
                continue
            try:
                kwargs[attr] = hook(found, tp)
            except Exception as exc:  # noqa: BLE001
                if strict:
                    errors.append(nest(exc, (*prefix, *path)))
        if errors:
            raise group(errors)
        return cl(raw=raw, **kwargs)

    return structure_raw
