"""The series parser: ``[{"timestamp", "value"}, ...]`` into two columns, fast.

Series are the hot path of every response: a day of quarter hours is 96 points per
metric, and a fleet sweep parses millions. They are parsed by a hand-written loop
into the columnar records (`Measurements`, `TelemetrySeries`) rather than through a
generic hook per point; anything unusual sends the loop to a careful pass that names
every bad point.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from operator import attrgetter, itemgetter
from typing import TYPE_CHECKING, Any, Final, TypeVar

from solaredge_async.converters._errors import (
    Fields,
    as_object,
    each_item,
    each_value,
)
from solaredge_async.converters._hooks import make_datetime_hook, make_float_hook
from solaredge_async.models import Measurements, Period, Resolution, TelemetrySeries, Unit
from solaredge_async.models._json import EMPTY_OBJECT, FrozenDict

if TYPE_CHECKING:
    from collections.abc import Callable

    import cattrs


__all__ = ["SeriesParser", "make_devices_hook", "make_series_hooks"]

T = TypeVar("T")

_Columns = tuple[tuple[datetime, ...], tuple[float | None, ...]]

_POINT_KEYS: Final = frozenset({"timestamp", "value"})
_MEASUREMENTS_KEYS: Final = frozenset({"period", "unit", "resolution", "values"})
_SERIES_KEYS: Final = frozenset({"unit", "resolution", "values"})

_RESOLUTION: Final = Resolution | str | None
_UNIT: Final = Unit | str | None
_PERIOD: Final = Period | None

_fromisoformat = datetime.fromisoformat
_TIMESTAMP_OF: Final = itemgetter("timestamp")
_VALUE_OF: Final = itemgetter("value")
_TZINFO_OF: Final = attrgetter("tzinfo")
_FLOAT_OR_NULL: Final = frozenset({float, type(None)})

#: Parsed timestamps by their text. The series of one day carry the same stamps in
#: every metric of a body and in every response of a sweep, so most are parsed once;
#: the records then share the (immutable) datetime objects, which also saves memory.
_STAMPS: dict[str, datetime] = {}
_STAMPS_MAX: Final = 4096
#: One `tzinfo` object per UTC offset, so that comparing two parsed stamps of the
#: same offset is a plain comparison (different objects make Python ask both for
#: their offsets).
_ZONES: dict[tzinfo, tzinfo] = {}
#: Texts in the cache that parsed without an offset (strict mode refuses those); while
#: there are none, no stamp needs checking.
_NAIVE: set[str] = set()


def _parse_stamp(text: str) -> datetime:
    """An ISO 8601 stamp, through the cache (raises `ValueError`/`TypeError` if bad)."""
    stamp = _fromisoformat(text)
    if len(_STAMPS) >= _STAMPS_MAX:
        _STAMPS.clear()
        _NAIVE.clear()
    zone = stamp.tzinfo
    if zone is None:
        _NAIVE.add(text)
    else:
        shared = _ZONES.setdefault(zone, zone)
        if shared is not zone:
            stamp = stamp.replace(tzinfo=shared)
    _STAMPS[text] = stamp
    return stamp


class SeriesParser:
    """``[{"timestamp": ts, "value": number | null}, ...]`` → two tuples, fast.

    The loop handles well-formed points only; anything unusual (a missing key, a
    wrong type, a naive stamp in strict mode) makes it start over in `careful`,
    which either accepts the input (lenient cases) or raises an error tree naming
    every bad point.
    """

    __slots__ = ("_float", "_strict", "_timestamp")

    def __init__(self, strict: bool) -> None:
        self._strict = strict
        self._float = make_float_hook(strict)
        self._timestamp = make_datetime_hook(strict)

    def __call__(self, points: object, _: object = None) -> _Columns:
        columns = self._fast(points) if points.__class__ is list else None
        return self.careful(points) if columns is None else columns

    def _fast(self, points: list[Any]) -> _Columns | None:
        """Column by column with C-level maps (a few µs for a day of quarter hours).

        `None` for anything unusual (not an object, a missing key, an unhashable or
        unparsable stamp, a value that is not a finite float or null, and in strict
        mode an extra key or a naive stamp): the careful pass then decides.
        """
        try:
            stamps: tuple[Any, ...] = tuple(map(_STAMPS.get, map(_TIMESTAMP_OF, points)))
            values = tuple(map(_VALUE_OF, points))
            if not all(stamps):  # a stamp not parsed before (datetimes are all true)
                stamps = tuple(
                    _parse_stamp(point["timestamp"]) if stamp is None else stamp
                    for point, stamp in zip(points, stamps, strict=True)
                )
            if self._strict and (
                # Every point has both keys (read above): exactly two each, no extra.
                sum(map(len, points)) != 2 * len(points)
                or (_NAIVE and None in map(_TZINFO_OF, stamps))
            ):
                return None
            if _FLOAT_OR_NULL.issuperset(map(type, values)):
                total = sum(filter(None, values))
                if total - total == 0.0:  # false when a value is nan or inf
                    return stamps, values
            to_float = self._float
            return stamps, tuple(None if v is None else to_float(v, float) for v in values)
        except Exception:  # noqa: BLE001 - any surprise is diagnosed by the careful pass
            return None

    def careful(self, points: object, _: object = None) -> _Columns:
        """Parse point by point, collecting every problem with its index.

        Raises:
            InvalidValueError: ``points`` is not an array.
            IterableValidationError: One or more bad points.
        """
        if points is None and not self._strict:
            return (), ()
        pairs = each_item(points, self._point)
        return tuple(stamp for stamp, _ in pairs), tuple(value for _, value in pairs)

    def _point(self, point: object, _: object = None) -> tuple[datetime, float | None]:
        fields = Fields(as_object(point))
        if self._strict:
            fields.unknown(_POINT_KEYS, strict=True)
        stamp: datetime = fields.get("timestamp", self._timestamp, datetime, required=True)
        value: float | None = fields.get("value", self._value, float, required=self._strict)
        fields.done()
        return stamp, value

    def _value(self, value: object, _: object = None) -> float | None:
        return None if value is None else self._float(value, float)


def make_series_hooks(
    converter: cattrs.Converter, strict: bool
) -> tuple[Callable[[object, object], Measurements], Callable[[object, object], TelemetrySeries]]:
    """The hooks of the two columnar records, `Measurements` and `TelemetrySeries`.

    Both read ``unit``, ``resolution`` and ``values`` (`Measurements` also
    ``period``); unknown keys go to ``extra`` (lenient) or are refused (strict).
    """
    series = SeriesParser(strict)
    period_hook = converter.get_structure_hook(Period | None)
    unit_hook = converter.get_structure_hook(Unit | str | None)
    resolution_hook = converter.get_structure_hook(Resolution | str | None)

    def reader(known: frozenset[str], cl: Callable[..., T]) -> Callable[[object, object], T]:
        with_period = "period" in known
        all_known = known.issuperset

        def structure_series_record(value: object, _: object = None) -> T:
            fields = fast(value) if value.__class__ is dict else None
            return cl(**(careful(value) if fields is None else fields))

        def fast(value: dict[str, Any]) -> dict[str, Any] | None:
            """The usual body (no unknown key) at once; `None` to go field by field."""
            if not all_known(value) or (strict and "values" not in value):
                return None
            try:
                get = value.get
                stamps, values = series(get("values")) if "values" in value else ((), ())
                fields = {
                    "unit": unit_hook(get("unit"), _UNIT),
                    "resolution": resolution_hook(get("resolution"), _RESOLUTION),
                    "timestamps": stamps,
                    "values": values,
                }
                if with_period:
                    fields["period"] = period_hook(get("period"), _PERIOD)
            except Exception:  # noqa: BLE001 - the careful pass names what failed
                return None
            return fields

        def careful(value: object) -> dict[str, Any]:
            fields = Fields(as_object(value))
            extra = EMPTY_OBJECT if all_known(fields.obj) else fields.unknown(known, strict=strict)
            found = {
                "unit": fields.get("unit", unit_hook, _UNIT),
                "resolution": fields.get("resolution", resolution_hook, _RESOLUTION),
                "extra": extra,
            }
            if with_period:
                found["period"] = fields.get("period", period_hook, _PERIOD)
            columns = fields.get("values", series, list, required=strict)
            fields.done()
            found["timestamps"], found["values"] = columns or ((), ())
            return found

        return structure_series_record

    return reader(_MEASUREMENTS_KEYS, Measurements), reader(_SERIES_KEYS, TelemetrySeries)


def make_devices_hook(
    series_hook: Callable[[object, type[TelemetrySeries]], TelemetrySeries], strict: bool
) -> Callable[[object, object], FrozenDict[str, FrozenDict[str, TelemetrySeries]]]:
    """The hook of a telemetry family: ``{serial: {metric: series}}``; lenient: null is empty."""

    def metrics(data: object, _: object = None) -> FrozenDict[str, TelemetrySeries]:
        return FrozenDict(each_value(data, series_hook, TelemetrySeries))

    def structure_devices(
        data: object, _: object = None
    ) -> FrozenDict[str, FrozenDict[str, TelemetrySeries]]:
        if data is None and not strict:
            return FrozenDict()
        return FrozenDict(each_value(data, metrics))

    return structure_devices
