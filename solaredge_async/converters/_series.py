"""The series parser: ``[{"timestamp", "value"}, ...]`` into two columns, fast.

Series are the hot path of every response: a day of quarter hours is 96 points per
metric, and a fleet sweep parses millions. They are parsed by a hand-written loop
into the columnar records (`Measurements`, `TelemetrySeries`) rather than through a
generic hook per point; anything unusual sends the loop to a careful pass that names
every bad point.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Final, TypeVar

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

_fromisoformat = datetime.fromisoformat

#: Parsed timestamps by their text. The series of one day carry the same stamps in
#: every metric of a body and in every response of a sweep, so most are parsed once;
#: the records then share the (immutable) datetime objects, which also saves memory.
_STAMPS: dict[str, datetime] = {}
_STAMPS_MAX: Final = 4096


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
            fields = Fields(as_object(value))
            extra = EMPTY_OBJECT if all_known(fields.obj) else fields.unknown(known, strict=strict)
            period = fields.get("period", period_hook, Period | None) if with_period else None
            unit = fields.get("unit", unit_hook, Unit | str | None)
            resolution = fields.get("resolution", resolution_hook, _RESOLUTION)
            columns = fields.get("values", series, list, required=strict)
            fields.done()
            stamps, values = columns or ((), ())
            if with_period:
                return cl(
                    period=period,
                    unit=unit,
                    resolution=resolution,
                    timestamps=stamps,
                    values=values,
                    extra=extra,
                )
            return cl(
                unit=unit, resolution=resolution, timestamps=stamps, values=values, extra=extra
            )

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
