"""Checks on what a store is asked to write, done before the database is touched."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from solaredge_async.store._errors import InvalidRowError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from solaredge_async.store._records import ItemKey, MeasurementRow

__all__ = ["check_item", "dedupe_rows", "utc", "utc_whole_second"]

#: The fixed text format of instants in SQLite: text order is time order.
TEXT_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def utc(value: datetime, what: str) -> datetime:
    """``value`` in UTC; raises `InvalidRowError` when it is naive."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidRowError(
            f"{what} is a naive datetime ({value.isoformat()}): pass an aware datetime, "
            "e.g. with tzinfo=UTC or the site's ZoneInfo"
        )
    return value.astimezone(UTC)


def utc_whole_second(value: datetime, what: str) -> datetime:
    """``value`` in UTC; raises `InvalidRowError` when naive or not on a whole second."""
    if value.tzinfo is UTC and not value.microsecond:
        return value  # the common case, without a conversion
    out = utc(value, what)
    if out.microsecond:
        raise InvalidRowError(
            f"{what} {value.isoformat()} has a fraction of a second: buckets start and end "
            "on whole seconds"
        )
    return out


def check_item(item: ItemKey) -> None:
    """Raise `InvalidRowError` unless ``item`` names a site, target and resolution."""
    if not item.target or not item.resolution:
        raise InvalidRowError(f"{item!r} needs a non-empty target and resolution")


def _text(value: object, what: str, row: MeasurementRow, *, empty_ok: bool = False) -> str:
    if not isinstance(value, str) or (not value and not empty_ok):
        raise InvalidRowError(f"{what} must be a non-empty string in {row!r}")
    return value


def dedupe_rows(
    rows: Iterable[MeasurementRow],
) -> tuple[list[tuple[int, str, str, str, str, datetime, datetime, float, str | None]], int]:
    """Check ``rows`` and return them as UTC tuples, keyed once each (the last wins).

    Returns:
        The tuples ``(site_id, device_serial, source, metric, resolution, period_start,
        period_end, value, unit)`` to store, and how many rows had no value (skipped).

    Raises:
        InvalidRowError: A row with a naive or sub-second instant, an end before its
            start, a non-integer site id or an empty source, metric or resolution.
    """
    out: dict[
        tuple[int, str, str, str, str, datetime],
        tuple[int, str, str, str, str, datetime, datetime, float, str | None],
    ] = {}
    skipped = 0
    for row in rows:
        if isinstance(row.site_id, bool) or not isinstance(row.site_id, int):
            raise InvalidRowError(f"site_id must be an int in {row!r}")
        serial = _text(row.device_serial, "device_serial", row, empty_ok=True)
        source = _text(row.source, "source", row)
        metric = _text(row.metric, "metric", row)
        resolution = _text(row.resolution, "resolution", row)
        start = utc_whole_second(row.period_start, "period_start")
        end = utc_whole_second(row.period_end, "period_end")
        if end < start:
            raise InvalidRowError(f"period_end is before period_start in {row!r}")
        if row.unit is not None and not isinstance(row.unit, str):
            raise InvalidRowError(f"unit must be a string or None in {row!r}")
        value = row.value
        if value is None or (isinstance(value, float) and math.isnan(value)):
            skipped += 1
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidRowError(f"value must be a float or None in {row!r}")
        if math.isinf(value):
            raise InvalidRowError(f"value must be finite in {row!r}")
        key = (row.site_id, serial, source, metric, resolution, start)
        out[key] = (*key, end, float(value), row.unit)
    return list(out.values()), skipped
