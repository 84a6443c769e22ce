"""Turning response bodies into the records of `solaredge_async.models` (cattrs).

Built like cattrs' ``preconf`` modules: `configure_converter` registers the hooks on
a `cattrs.Converter` and `make_converter` returns a configured one. Two modes:

* **lenient** (the default, for production): unknown keys are ignored (a device
  keeps them in `Device.extra`), an unknown enum value is kept as its raw string,
  timestamps without a UTC offset are accepted (as naive datetimes), booleans pass
  as numbers and whole numbers as strings. Types are still checked: a string where a
  number belongs is an error.
* **strict** (for tests and fixtures): unknown keys, unknown enum values, naive
  timestamps, booleans as numbers and anything else outside the API reference are
  errors.

`ResponseParser` is what the client calls: one method per response shape, each
taking the decoded body and the request path, and raising one
`solaredge_async.errors.ResponseValidationError` whose message points at the bad
field (``expected float, got string '1.5' @ $.values[3].value``) for any body that
does not fit. No other exception escapes it, whatever the input.

Series (``values: [{"timestamp", "value"}]``) are the hot path of every response and
are parsed by a dedicated loop into columns (`Measurements.timestamps`,
`Measurements.values`) rather than through a generic hook per point.
"""

from __future__ import annotations

import functools
import json
import math
import re
import types
from collections.abc import Callable, Mapping
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, Final, NoReturn, TypeVar, Union, cast, get_args, get_origin

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
from cattrs.gen import make_dict_structure_fn, override

from solaredge_async.errors import ResponseValidationError
from solaredge_async.models import (
    Alert,
    AlertComponent,
    Consumption,
    Device,
    EnvironmentalBenefits,
    Location,
    Measurements,
    OverviewPerformance,
    Performance,
    Period,
    PowerFlow,
    Production,
    Resolution,
    Site,
    SiteOverview,
    SitesPage,
    Telemetry,
    TelemetrySeries,
    Unit,
)
from solaredge_async.models._json import FrozenDict, freeze_object

if TYPE_CHECKING:
    from solaredge_async.models import JSONValue

__all__ = [
    "ResponseParser",
    "configure_converter",
    "decode_json",
    "make_converter",
    "parse_timestamp",
]

T = TypeVar("T")
_Hook = Callable[[Any, Any], Any]

#: The most problems one `ResponseValidationError` lists in ``errors``.
MAX_ERRORS: Final = 20

# --- leaf errors and their descriptions ---------------------------------------------


class _InvalidValueError(ValueError):
    """One value that does not fit; the message says what was expected."""


def _describe(value: object) -> str:
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


_JSON_KINDS: Final = (
    (type(None), "null"),
    (int | float, "number"),
    (Mapping, "object"),
    (list | tuple, "array"),
)


def _expected(what: str, value: object) -> NoReturn:
    raise _InvalidValueError(f"expected {what}, got {_describe(value)}")


def _format_exception(exc: BaseException, _type: object) -> str:
    """Describe one leaf problem (the part before ``@`` in a message)."""
    if isinstance(exc, _InvalidValueError):
        return str(exc)
    if isinstance(exc, KeyError):
        return "required field missing"
    if isinstance(exc, ForbiddenExtraKeysError):
        keys = ", ".join(sorted(repr(k)[:40] for k in exc.extra_fields))
        return f"unknown fields {keys}"
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return f"invalid value ({type(exc).__name__})"


# --- timestamps -------------------------------------------------------------------

_fromisoformat = datetime.fromisoformat

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
        _expected("an ISO 8601 timestamp string", text)
    except ValueError:
        stamp = _parse_timestamp_fallback(text)
    if strict and stamp.tzinfo is None:
        raise _InvalidValueError(f"timestamp without a UTC offset: {text[:40]!r}")
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
            raise _InvalidValueError(f"invalid timestamp {_describe(text)} ({exc})") from None
    raise _InvalidValueError(f"expected an ISO 8601 timestamp, got {_describe(text)}")


# --- scalar hooks -----------------------------------------------------------------


def _make_float_hook(strict: bool) -> Callable[[object, object], float]:
    def structure_float(value: object, _: object = None) -> float:
        if value.__class__ is float:
            if value - value == 0.0:  # false for nan and inf
                return value
            _expected("a finite number", value)
        if isinstance(value, bool):
            if strict:
                _expected("float", value)
            return float(value)
        if isinstance(value, int | float):
            try:
                number = float(value)
            except OverflowError:
                raise _InvalidValueError("number out of range for a float") from None
            if math.isfinite(number):
                return number
            _expected("a finite number", value)
        _expected("float", value)

    return structure_float


def _make_int_hook(strict: bool) -> Callable[[object, object], int]:
    def structure_int(value: object, _: object = None) -> int:
        if value.__class__ is int:
            return value
        if isinstance(value, bool):
            if strict:
                _expected("int", value)
            return int(value)
        if isinstance(value, int):
            return int(value)
        if not strict and isinstance(value, float) and value.is_integer():
            return int(value)
        _expected("int", value)

    return structure_int


def _make_str_hook(strict: bool) -> Callable[[object, object], str]:
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
        _expected("string", value)

    return structure_str


def _structure_bool(value: object, _: object = None) -> bool:
    if isinstance(value, bool):
        return value
    _expected("boolean", value)


def _make_datetime_hook(strict: bool) -> Callable[[object, object], datetime]:
    def structure_datetime(value: object, _: object = None) -> datetime:
        if isinstance(value, str):
            return parse_timestamp(value, strict=strict)
        _expected("an ISO 8601 timestamp string", value)

    return structure_datetime


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


def _open_enum_hook_factory(strict: bool) -> Callable[[object], _Hook]:
    """A hook factory for ``E | str`` unions: known values → members, others kept raw.

    In strict mode an unknown value is an error.
    """

    def factory(tp: object) -> _Hook:
        found = _open_enum_of(tp)
        if found is None:  # pragma: no cover - guarded by the predicate
            raise TypeError(f"not an open enum: {tp!r}")
        enum, nullable = found
        members: Mapping[str, Enum] = enum._value2member_map_
        name = enum.__name__
        known = ", ".join(m.value for m in enum)

        def structure_open_enum(value: object, _: object = None) -> Enum | str | None:
            if isinstance(value, str):
                member = members.get(value)
                if member is not None:
                    return member
                if strict:
                    raise _InvalidValueError(f"unknown {name} {_describe(value)} (known: {known})")
                return str(value)
            if value is None and nullable:
                return None
            _expected(f"a {name} string" + (" or null" if nullable else ""), value)

        return structure_open_enum

    return factory


def _is_optional(tp: object) -> bool:
    args = _union_args(tp)
    return len(args) == 2 and type(None) in args  # noqa: PLR2004


def _optional_hook_factory(converter: cattrs.Converter) -> Callable[[object], _Hook]:
    """``X | None``: null → None, else X's hook, resolved once (cattrs looks it up per call).

    For ``str``, ``int`` and ``float`` the common case (a value of exactly that type)
    is answered without calling the inner hook: these are most fields of every record.
    """

    def factory(tp: object) -> _Hook:
        inner = next(a for a in get_args(tp) if a is not type(None))
        hook = converter.get_structure_hook(inner)

        if inner is str or inner is int:

            def structure_optional_exact(value: object, _: object = None) -> object:
                if value is None or value.__class__ is inner:
                    return value
                return hook(value, inner)

            return structure_optional_exact

        if inner is float:

            def structure_optional_float(value: object, _: object = None) -> object:
                if value is None or (value.__class__ is float and value - value == 0.0):
                    return value
                return hook(value, float)

            return structure_optional_float

        def structure_optional(value: object, _: object = None) -> object:
            return None if value is None else hook(value, inner)

        return structure_optional

    return factory


# --- records ----------------------------------------------------------------------


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


#: JSON names that are not the camelCase of the attribute name.
_RENAMES: Final[Mapping[type, Mapping[str, str]]] = {Period: {"start": "from", "end": "to"}}

#: Fields that are not read from a JSON key of their own.
_NOT_JSON: Final = frozenset({"extra", "raw"})

#: The records whose hooks are generated by cattrs (`make_dict_structure_fn`).
_GENERATED: Final = (
    Alert,
    AlertComponent,
    Consumption,
    Device,
    Location,
    Performance,
    Period,
    Production,
    Site,
    SiteOverview,
)


@functools.cache
def _json_names(cl: type) -> Mapping[str, str]:
    """Attribute name → JSON key, for every field read from a key of its own."""
    renames = _RENAMES.get(cl, {})
    return {
        a.name: renames.get(a.name, _camel(a.name))
        for a in attrs.fields(cl)
        if a.name not in _NOT_JSON
    }


def _as_object(value: object) -> Mapping[str, object]:
    if isinstance(value, Mapping):
        return value
    _expected("an object", value)


def _record_hook_factory(converter: cattrs.Converter, strict: bool) -> Callable[[type], _Hook]:
    """Hooks reading camelCase keys, by `make_dict_structure_fn` with ``override(rename=...)``.

    Strict hooks forbid extra keys; a lenient `Device` hook keeps them in ``extra``.
    """

    def factory(cl: type) -> _Hook:
        names = _json_names(cl)
        overrides = {attr: override(rename=key) for attr, key in names.items()}
        for a in attrs.fields(cl):
            if a.name in _NOT_JSON:
                overrides[a.name] = override(omit=True)
        fn: Callable[[Mapping[str, object], type], object] = make_dict_structure_fn(
            cl, converter, _cattrs_forbid_extra_keys=strict, **cast("dict[str, Any]", overrides)
        )

        if cl is Device and not strict:
            known = frozenset(names.values())

            def structure_device(value: object, _: object = None) -> Device:
                obj = value if value.__class__ is dict else _as_object(value)
                device = cast("Device", fn(obj, cl))
                if obj.keys() - known:
                    extra = freeze_object((k, v) for k, v in obj.items() if k not in known)
                    device = attrs.evolve(device, extra=extra)
                return device

            return structure_device

        def structure_record(value: object, _: object = None) -> object:
            return fn(value if value.__class__ is dict else _as_object(value), cl)

        return structure_record

    return factory


# --- building error trees ---------------------------------------------------------


class _Key(str):
    """A mapping key in an error path (shown as ``['key']``, not ``.key``)."""

    __slots__ = ()


def _at(exc: Exception, part: str | int) -> Exception:
    """Attach a path step to ``exc``: a field name, a list index or a `_Key`."""
    note: str
    if isinstance(part, int | _Key):
        note = IterableValidationNote(
            f"at {part!r}", str(part) if isinstance(part, _Key) else part, object
        )
    else:
        note = AttributeValidationNote(f"at {part}", part, object)
    exc.__notes__ = [*getattr(exc, "__notes__", ()), note]
    return exc


def _nest(exc: Exception, parts: tuple[str | int, ...]) -> Exception:
    """Place ``exc`` at a path of several steps (outermost first)."""
    exc = _at(exc, parts[-1])
    for part in reversed(parts[:-1]):
        exc = _at(_group([exc]), part)
    return exc


def _group(errors: list[Exception], *, items: bool = False) -> BaseValidationError:
    """Bundle noted errors as cattrs does, so `cattrs.transform_error` can walk them."""
    if items:
        return IterableValidationError("While structuring items", errors, list)
    return ClassValidationError("While structuring an object", errors, dict)


def _check_keys(
    obj: Mapping[str, object], allowed: frozenset[str], errors: list[Exception]
) -> None:
    unknown = obj.keys() - allowed
    if unknown:
        errors.append(ForbiddenExtraKeysError("", dict, set(unknown)))


def _rename_notes(exc: BaseException) -> None:
    """Make every path step of a cattrs error tree use JSON names, not attribute names."""
    if not isinstance(exc, BaseValidationError):
        return
    names = _json_names(exc.cl) if exc.cl in _GENERATED else {}
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


# --- series -----------------------------------------------------------------------

_POINT_KEYS: Final = frozenset({"timestamp", "value"})


#: Parsed timestamps by their text. The series of one day carry the same stamps in
#: every metric of a body and in every response of a sweep, so most are parsed once;
#: the records then share the (immutable) datetime objects, which also saves memory.
_STAMPS: dict[str, datetime] = {}
_STAMPS_MAX: Final = 4096


class _SeriesParser:
    """``[{"timestamp": ts, "value": number | null}, ...]`` → two tuples, fast.

    The loop handles well-formed points only; anything unusual (a missing key, a
    wrong type, a naive stamp in strict mode) makes it start over in `careful`,
    which either accepts the input (lenient cases) or raises an error tree naming
    every bad point.
    """

    __slots__ = ("_float", "_strict", "_timestamp")

    def __init__(self, strict: bool) -> None:
        self._strict = strict
        self._float = _make_float_hook(strict)
        self._timestamp = _make_datetime_hook(strict)

    def __call__(
        self, points: object, _: object = None
    ) -> tuple[tuple[datetime, ...], tuple[float | None, ...]]:
        if points.__class__ is not list:
            return self.careful(points)
        to_float = self._float
        cache = _STAMPS
        cached = cache.get
        stamps: list[datetime] = []
        values: list[float | None] = []
        add_stamp = stamps.append
        add_value = values.append
        try:
            for point in points:
                text = point["timestamp"]
                stamp = cached(text)
                if stamp is None:
                    stamp = _fromisoformat(text)
                    if len(cache) >= _STAMPS_MAX:
                        cache.clear()
                    cache[text] = stamp
                value = point["value"]
                if value is not None and (value.__class__ is not float or value - value):
                    value = to_float(value, float)
                if self._strict and (stamp.tzinfo is None or len(point) != 2):  # noqa: PLR2004
                    raise ValueError  # noqa: TRY301 - start over carefully
                add_stamp(stamp)
                add_value(value)
        except Exception:  # noqa: BLE001 - any surprise is diagnosed by the careful pass
            return self.careful(points)
        return tuple(stamps), tuple(values)

    def careful(
        self, points: object, _: object = None
    ) -> tuple[tuple[datetime, ...], tuple[float | None, ...]]:
        """Parse point by point, collecting every problem with its index.

        Raises:
            _InvalidValueError: ``points`` is not an array.
            IterableValidationError: One or more bad points.
        """
        if points is None and not self._strict:
            return (), ()
        if not isinstance(points, list | tuple):
            _expected("an array", points)
        stamps: list[datetime] = []
        values: list[float | None] = []
        errors: list[Exception] = []
        for index, point in enumerate(points):
            try:
                stamp, value = self._point(point)
            except Exception as exc:  # noqa: BLE001
                errors.append(_at(exc, index))
                continue
            stamps.append(stamp)
            values.append(value)
        if errors:
            raise _group(errors, items=True)
        return tuple(stamps), tuple(values)

    def _point(self, point: object) -> tuple[datetime, float | None]:
        fields = _Fields(_as_object(point))
        if self._strict:
            fields.check_keys(_POINT_KEYS)
        stamp: datetime = fields.get("timestamp", self._timestamp, datetime, required=True)
        value: float | None = fields.get("value", self._value, float, required=self._strict)
        fields.done()
        return stamp, value

    def _value(self, value: object, _: object = None) -> float | None:
        return None if value is None else self._float(value, float)


# --- hand-written hooks: series records and raw passthrough ------------------------

_MEASUREMENTS_KEYS: Final = frozenset({"period", "unit", "resolution", "values"})
_SERIES_KEYS: Final = frozenset({"unit", "resolution", "values"})


class _Fields:
    """Structure the fields of one object, collecting each failure with its JSON name."""

    __slots__ = ("errors", "obj")

    def __init__(self, obj: Mapping[str, object]) -> None:
        self.obj = obj
        self.errors: list[Exception] = []

    def get(self, key: str, hook: _Hook, tp: object, *, required: bool = False) -> Any:  # noqa: ANN401
        obj = self.obj
        if key not in obj:
            if required:
                self.errors.append(_at(KeyError(key), key))
            return None
        try:
            return hook(obj[key], tp)
        except Exception as exc:  # noqa: BLE001
            self.errors.append(_at(exc, key))
            return None

    def check_keys(self, allowed: frozenset[str]) -> None:
        _check_keys(self.obj, allowed, self.errors)

    def done(self) -> None:
        if self.errors:
            raise _group(self.errors)


def _make_series_hooks(
    converter: cattrs.Converter, strict: bool
) -> tuple[Callable[[object, object], Measurements], Callable[[object, object], TelemetrySeries]]:
    series = _SeriesParser(strict)
    period_hook = converter.get_structure_hook(Period | None)
    unit_hook = converter.get_structure_hook(Unit | str | None)
    resolution_hook = converter.get_structure_hook(Resolution | str | None)

    def structure_measurements(value: object, _: object = None) -> Measurements:
        fields = _Fields(_as_object(value))
        if strict:
            fields.check_keys(_MEASUREMENTS_KEYS)
        period = fields.get("period", period_hook, Period | None)
        unit = fields.get("unit", unit_hook, Unit | str | None)
        resolution = fields.get("resolution", resolution_hook, Resolution | str | None)
        columns = fields.get("values", series, list, required=strict)
        fields.done()
        stamps, values = columns or ((), ())
        return Measurements(
            period=period, unit=unit, resolution=resolution, timestamps=stamps, values=values
        )

    def structure_series(value: object, _: object = None) -> TelemetrySeries:
        fields = _Fields(_as_object(value))
        if strict:
            fields.check_keys(_SERIES_KEYS)
        unit = fields.get("unit", unit_hook, Unit | str | None)
        resolution = fields.get("resolution", resolution_hook, Resolution | str | None)
        columns = fields.get("values", series, list, required=strict)
        fields.done()
        stamps, values = columns or ((), ())
        return TelemetrySeries(unit=unit, resolution=resolution, timestamps=stamps, values=values)

    return structure_measurements, structure_series


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

#: Wrappers the known fields may sit in (V1-like shapes); the first one present wins.
_RAW_WRAPPERS: Final[Mapping[type, tuple[str, ...]]] = {
    EnvironmentalBenefits: ("envBenefits", "environmentalBenefits"),
    PowerFlow: ("siteCurrentPowerFlow",),
    OverviewPerformance: ("performance", "overviewPerformance"),
}


def _make_raw_hook(converter: cattrs.Converter, cl: type, strict: bool) -> _Hook:
    """Keep the whole body in ``raw``; fill the known fields where they fit.

    Lenient: a known field of an unexpected type is left `None` (``raw`` still holds
    it). Strict: it is an error. Unknown keys are fine in both modes.
    """
    # Units of these unverified shapes are kept raw in both modes (V1 sent "kW").
    open_unit = _open_enum_hook_factory(strict=False)(Unit | str)
    spec = [
        (attr, path, tp, open_unit if tp == Unit | str else converter.get_structure_hook(tp))
        for attr, path, tp in _RAW_FIELDS[cl]
    ]
    wrappers = _RAW_WRAPPERS[cl]

    def structure_raw(value: object, _: object = None) -> object:
        obj = _as_object(value)
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
                    errors.append(_nest(exc, (*prefix, *path)))
        if errors:
            raise _group(errors)
        return cl(raw=raw, **kwargs)

    return structure_raw


# --- the converter ----------------------------------------------------------------


def configure_converter(converter: cattrs.Converter, *, strict: bool) -> None:
    """Register the hooks that structure API bodies into `solaredge_async.models`.

    * ``float``, ``int``, ``str``, ``bool`` and ``datetime`` hooks that check JSON
      types (ints pass as floats; strict refuses booleans as numbers);
    * an ``X | None`` factory and an open-enum factory for ``E | str [| None]``;
    * camelCase renames for every record by a `make_dict_structure_fn` hook factory,
      with ``forbid_extra_keys`` when ``strict``;
    * dedicated hooks for the columnar series (`Measurements`, `TelemetrySeries`) and
      the raw-passthrough records.

    Args:
        converter: The converter to configure (a `cattrs.Converter`).
        strict: Refuse what the lenient mode tolerates (see the module docstring).
    """
    converter.register_structure_hook(float, _make_float_hook(strict))
    converter.register_structure_hook(int, _make_int_hook(strict))
    converter.register_structure_hook(str, _make_str_hook(strict))
    converter.register_structure_hook(bool, _structure_bool)
    converter.register_structure_hook(datetime, _make_datetime_hook(strict))
    converter.register_structure_hook_func(
        lambda tp: tp == tuple[int | str, ...], _make_error_codes_hook(strict)
    )
    converter.register_structure_hook_factory(_is_optional, _optional_hook_factory(converter))
    converter.register_structure_hook_factory(
        lambda tp: _open_enum_of(tp) is not None, _open_enum_hook_factory(strict)
    )
    converter.register_structure_hook_factory(
        lambda tp: tp in _GENERATED, _record_hook_factory(converter, strict)
    )
    for cl in _RAW_FIELDS:
        converter.register_structure_hook(cl, _make_raw_hook(converter, cl, strict))
    measurements, series = _make_series_hooks(converter, strict)
    converter.register_structure_hook(Measurements, measurements)
    converter.register_structure_hook(TelemetrySeries, series)


def _make_error_codes_hook(strict: bool) -> Callable[[object, object], tuple[int | str, ...]]:
    to_int = _make_int_hook(strict)

    def structure_error_codes(value: object, _: object = None) -> tuple[int | str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list | tuple):
            _expected("an array", value)
        codes: list[int | str] = []
        errors: list[Exception] = []
        for index, code in enumerate(value):
            if isinstance(code, str):
                codes.append(str(code))
                continue
            try:
                codes.append(to_int(code, int))
            except _InvalidValueError:
                errors.append(
                    _at(_InvalidValueError(f"expected int or string, got {_describe(code)}"), index)
                )
        if errors:
            raise _group(errors, items=True)
        return tuple(codes)

    return structure_error_codes


def make_converter(*, strict: bool = False, detailed_validation: bool = True) -> cattrs.Converter:
    """Return a `cattrs.Converter` configured by `configure_converter`.

    Args:
        strict: Forbid unknown keys, unknown enum values and naive timestamps.
        detailed_validation: Collect every problem with its path (cattrs' detailed
            validation); off is slightly faster and reports less precisely.
    """
    converter = cattrs.Converter(forbid_extra_keys=strict, detailed_validation=detailed_validation)
    configure_converter(converter, strict=strict)
    return converter


@functools.cache
def _shared_converter(strict: bool) -> cattrs.Converter:
    # Hooks are generated once per process and mode, then shared by every parser.
    return make_converter(strict=strict)


# --- decoding ---------------------------------------------------------------------


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    number = float(text)
    if math.isfinite(number):
        return number
    raise ValueError(f"number out of range: {text[:40]}")


def _decode_stdlib(content: bytes) -> JSONValue:
    result: JSONValue = json.loads(
        content.decode("utf-8"), parse_constant=_refuse_constant, parse_float=_finite_float
    )
    return result


def _pick_decoder() -> Callable[[bytes], JSONValue]:
    # orjson is 3-4x faster than json on telemetry bodies; it is optional.
    try:
        import orjson  # noqa: PLC0415
    except ImportError:  # pragma: no cover - the stdlib path is tested directly
        return _decode_stdlib
    return orjson.loads


_decode: Callable[[bytes], JSONValue] = _pick_decoder()


def decode_json(content: bytes, path: str) -> JSONValue:
    """Decode a response body (UTF-8 JSON) with orjson when installed, else `json`.

    Refuses what is not strict JSON: ``NaN``, ``Infinity``, numbers beyond a float's
    range, and bytes that are not UTF-8.

    Args:
        content: The body.
        path: The request path, for the error message.

    Raises:
        ResponseValidationError: An empty body or one that is not valid JSON.
    """
    if not content:
        raise ResponseValidationError(
            f"{path}: the response body is empty, expected JSON", path=path, errors=("empty body",)
        )
    try:
        return _decode(content)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError
        reason = str(exc)[:200] or type(exc).__name__
        raise ResponseValidationError(
            f"{path}: the response body is not valid JSON ({reason})", path=path, errors=(reason,)
        ) from None


def _items(data: object, hook: Callable[[object, type[T]], T], cl: type[T]) -> tuple[T, ...]:
    """A JSON array of objects → tuple, noting the index of each bad item."""
    if not isinstance(data, list | tuple):
        _expected("an array", data)
    items: list[T] = []
    errors: list[Exception] = []
    for index, item in enumerate(data):
        try:
            items.append(hook(item, cl))
        except Exception as exc:  # noqa: BLE001 - name every bad item
            errors.append(_at(exc, index))
    if errors:
        raise _group(errors, items=True)
    return tuple(items)


def _hook(converter: cattrs.Converter, cl: type[T]) -> Callable[[object, type[T]], T]:
    """The converter's hook for a record class, typed."""
    return converter.get_structure_hook(cl)


# --- the parser the client calls -----------------------------------------------------

_SITES_KEYS: Final = frozenset({"sites"})
_SITES_INNER_KEYS: Final = frozenset({"count", "site"})
_SITE_WRAPPER_KEYS: Final = frozenset({"site"})
_FAMILIES: Final = frozenset({"inverters", "meters", "storage"})


class ResponseParser:
    """Structures decoded response bodies into records, one method per shape.

    Every method takes the decoded body (`decode_json`) and the request path (for
    messages), and raises `solaredge_async.errors.ResponseValidationError`, and
    nothing else, for a body that does not fit; its message points at the first bad
    field and its ``errors`` list every one found (at most `MAX_ERRORS`).

    Args:
        strict: Refuse unknown keys, unknown enum values and naive timestamps (for
            tests and fixtures); lenient by default.
    """

    def __init__(self, strict: bool = False) -> None:
        self.strict = strict
        converter = _shared_converter(strict)
        self._converter = converter
        self._site = _hook(converter, Site)
        self._overview = _hook(converter, SiteOverview)
        self._measurements = _hook(converter, Measurements)
        self._series = _hook(converter, TelemetrySeries)
        self._device = _hook(converter, Device)
        self._alert = _hook(converter, Alert)
        self._benefits = _hook(converter, EnvironmentalBenefits)
        self._power_flow = _hook(converter, PowerFlow)
        self._performance = _hook(converter, OverviewPerformance)
        self._period = converter.get_structure_hook(Period | None)
        self._resolution = converter.get_structure_hook(Resolution | str | None)
        self._count = converter.get_structure_hook(int | None)

    def __repr__(self) -> str:
        return f"ResponseParser(strict={self.strict})"

    # -- error handling --

    def _fail(self, exc: Exception, path: str) -> NoReturn:
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
        if isinstance(
            exc, BaseValidationError | _InvalidValueError | KeyError | ForbiddenExtraKeysError
        ):
            raise error from None
        raise error from exc  # an unexpected failure: keep it for debugging

    def _run(self, fn: Callable[[object], T], data: object, path: str) -> T:
        try:
            return fn(data)
        except Exception as exc:  # noqa: BLE001 - every failure becomes one error type
            self._fail(exc, path)

    # -- the shapes --

    def sites_page(self, data: object, path: str) -> SitesPage:
        """``GET /sites``: ``{"sites": {"count": N, "site": [...]}}`` or a bare array.

        Raises:
            ResponseValidationError: The body does not fit.
        """
        return self._run(self._structure_sites_page, data, path)

    def _structure_sites_page(self, data: object) -> SitesPage:
        if isinstance(data, list | tuple):
            return SitesPage(sites=_items(data, self._site, Site), count=None)
        outer = _Fields(_as_object(data))
        if self.strict:
            outer.check_keys(_SITES_KEYS)
        page = outer.get("sites", self._structure_sites_inner, object, required=True)
        outer.done()
        if page is None:  # pragma: no cover - "sites" is required
            _expected("an object with a 'sites' member", data)
        result: SitesPage = page
        return result

    def _structure_sites_inner(self, data: object, _: object = None) -> SitesPage:
        if isinstance(data, list | tuple) and not self.strict:
            return SitesPage(sites=_items(data, self._site, Site), count=None)
        if data is None and not self.strict:
            return SitesPage()
        inner = _Fields(_as_object(data))
        if self.strict:
            inner.check_keys(_SITES_INNER_KEYS)
        count = inner.get("count", self._count, int | None)
        sites = inner.get("site", self._site_list, object, required=self.strict)
        inner.done()
        return SitesPage(sites=sites or (), count=count)

    def _site_list(self, data: object, _: object = None) -> tuple[Site, ...]:
        if data is None and not self.strict:
            return ()
        return _items(data, self._site, Site)

    def site(self, data: object, path: str) -> Site:
        """``GET /sites/{siteId}``: the site object, bare or as ``{"site": {...}}``.

        Raises:
            ResponseValidationError: The body does not fit.
        """
        return self._run(self._structure_site, data, path)

    def _structure_site(self, data: object) -> Site:
        obj = _as_object(data)
        if "site" in obj and "siteId" not in obj:
            wrapper = _Fields(obj)
            if self.strict:
                wrapper.check_keys(_SITE_WRAPPER_KEYS)
            site = wrapper.get("site", self._site, Site)
            wrapper.done()
            result: Site = site
            return result
        site_: Site = self._site(obj, Site)
        return site_

    def overview(self, data: object, path: str) -> SiteOverview:
        """``/overview``: production and consumption totals.

        Raises:
            ResponseValidationError: The body does not fit.
        """
        return self._run(lambda d: self._overview(d, SiteOverview), data, path)

    def measurements(self, data: object, path: str) -> Measurements:
        """``/energy``, ``/power`` and device metrics: one columnar series.

        Raises:
            ResponseValidationError: The body does not fit.
        """
        return self._run(lambda d: self._measurements(d, Measurements), data, path)

    def devices(self, data: object, path: str) -> tuple[Device, ...]:
        """``/devices``: a bare array of devices.

        Raises:
            ResponseValidationError: The body does not fit.
        """
        return self._run(lambda d: _items(d, self._device, Device), data, path)

    def alerts(self, data: object, path: str) -> tuple[Alert, ...]:
        """``/alerts`` and ``/sites/{siteId}/alerts``: a bare array of alerts.

        Raises:
            ResponseValidationError: The body does not fit.
        """
        return self._run(lambda d: _items(d, self._alert, Alert), data, path)

    def environmental_benefits(self, data: object, path: str) -> EnvironmentalBenefits:
        """``/environmental-benefits``: raw passthrough plus the known figures.

        Raises:
            ResponseValidationError: The body is not an object (strict: or a known
                field has the wrong type).
        """
        return self._run(lambda d: self._benefits(d, EnvironmentalBenefits), data, path)

    def power_flow(self, data: object, path: str) -> PowerFlow:
        """``/power-flow``: raw passthrough plus the known powers.

        Raises:
            ResponseValidationError: As `environmental_benefits`.
        """
        return self._run(lambda d: self._power_flow(d, PowerFlow), data, path)

    def overview_performance(self, data: object, path: str) -> OverviewPerformance:
        """``/overview/performance``: raw passthrough plus the yield figures.

        Raises:
            ResponseValidationError: As `environmental_benefits`.
        """
        return self._run(lambda d: self._performance(d, OverviewPerformance), data, path)

    def telemetry(self, data: object, path: str, family: str) -> Telemetry:
        """Bulk telemetry: ``{"period"?, "resolution"?, "<family>": {serial: {metric: series}}}``.

        A missing family, or ``{}``, gives no devices.

        Args:
            data: The decoded body.
            path: The request path.
            family: ``"inverters"``, ``"meters"`` or ``"storage"``.

        Raises:
            ResponseValidationError: The body does not fit.
            ValueError: ``family`` is not one of the three.
        """
        if family not in _FAMILIES:
            raise ValueError(f"family must be one of {sorted(_FAMILIES)}, not {family!r}")
        return self._run(lambda d: self._structure_telemetry(d, family), data, path)

    def _structure_telemetry(self, data: object, family: str) -> Telemetry:
        fields = _Fields(_as_object(data))
        if self.strict:
            fields.check_keys(frozenset({"period", "resolution", family}))
        period = fields.get("period", self._period, Period | None)
        resolution = fields.get("resolution", self._resolution, Resolution | str | None)
        devices = fields.get(family, self._structure_devices, object)
        fields.done()
        return Telemetry(
            family=family, period=period, resolution=resolution, devices=devices or FrozenDict()
        )

    def _structure_devices(
        self, data: object, _: object = None
    ) -> FrozenDict[str, FrozenDict[str, TelemetrySeries]]:
        if data is None and not self.strict:
            return FrozenDict()
        series_hook = self._series
        devices: dict[str, FrozenDict[str, TelemetrySeries]] = {}
        errors: list[Exception] = []
        for serial, metrics in _as_object(data).items():
            try:
                if not isinstance(serial, str):
                    _expected("string keys", serial)
                out: dict[str, TelemetrySeries] = {}
                metric_errors: list[Exception] = []
                for name, series in _as_object(metrics).items():
                    try:
                        if not isinstance(name, str):
                            _expected("string keys", name)
                        out[name] = series_hook(series, TelemetrySeries)
                    except Exception as exc:  # noqa: BLE001
                        metric_errors.append(_at(exc, _Key(name)))
                if metric_errors:
                    raise _group(metric_errors, items=True)  # noqa: TRY301
                devices[serial] = FrozenDict(out)
            except Exception as exc:  # noqa: BLE001
                errors.append(_at(exc, _Key(serial)))
        if errors:
            raise _group(errors, items=True)
        return FrozenDict(devices)
