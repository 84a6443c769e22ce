"""Flat rows: one per site / device / bucket / metric, ready for a table load.

`flat_rows` turns a successful sweep item into `Row` s (fields in `ROW_FIELDS` order):

============== =====================================================================
column         meaning
============== =====================================================================
site_id        the site (int)
device_serial  the device's serial, ``""`` for site-level data
source         the endpoint that answered: ``overview``, ``energy``, ``power``,
               ``inverters/telemetry``, ``meters/telemetry``, ``storage/telemetry``,
               ``inverters/voltage`` (a single device metric), ``devices``, ``alerts``
metric         snake_case name: ``energy``, ``power``, ``voltage``, ``import_power``,
               ``state_of_energy``, ``production_total``, ``consumption_from_grid``,
               ``device``, ``alert``; the same name whichever endpoint answered
resolution     the bucket length (``QUARTER_HOUR`` ...); null for totals and lists
period_start   ISO 8601 with the site's offset in force: the bucket's START for every
               series (``voltage`` and ``frequency``, which the API stamps at the
               bucket end, are normalised: their stamp minus one bucket); for
               overview totals the window's start; for ``device`` its creation, for
               ``alert`` its first trigger; null when unknown (default windows)
period_end     the bucket's end (exclusive; the next bucket's start, calendar
               buckets in the site's zone); overview totals: the window's end;
               null for devices and alerts
value          the number as the API sent it, in ``unit``; null for a bucket without
               data (a null is not 0; left out unless ``include_null=True``).
               Alerts: the impact
unit           the unit the response stated (``WH``, ``W``, ``VOLT``, ``PERCENTAGE``,
               ...), never the one requested; null when none applies
details        devices and alerts: their other fields as a JSON object; else null
============== =====================================================================

Series rows are kept to the item's window: a bucket is a row when it overlaps the
window asked for (the API also sends the bucket that starts exactly at ``to``, and an
end-stamped bucket ending at ``from``; both are dropped). `series_buckets` gives the
same buckets with aware `datetime` bounds, for stores.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final, NamedTuple, cast
from zoneinfo import ZoneInfo

from solaredge_async._endpoints import DEVICE_METRICS, ENDPOINTS
from solaredge_async.models import Alert, Device, Measurements, SiteOverview, Telemetry

if TYPE_CHECKING:
    from collections.abc import Iterator
    from datetime import tzinfo

    from solaredge_async.fleet._plan import WorkItem
    from solaredge_async.fleet._run import ItemSucceeded

__all__ = [
    "ROW_FIELDS",
    "Bucket",
    "Row",
    "bucket_bounds",
    "flat_rows",
    "series_buckets",
    "source_of",
]


class Row(NamedTuple):
    """One flat row (see the module docstring for each field's meaning).

    A named tuple: fields by name (``row.value``), and the plain tuple the writers
    stream (``dict(zip(ROW_FIELDS, row))``) at no extra cost per row.

    Attributes:
        site_id: The site.
        device_serial: The device's serial, ``""`` for site-level data.
        source: The endpoint that answered (``energy``, ``inverters/telemetry``).
        metric: The snake_case metric name (``energy``, ``import_power``).
        resolution: The bucket length, or `None` for totals and lists.
        period_start: ISO 8601, the bucket's start (for every series).
        period_end: ISO 8601, the bucket's end (exclusive); overview totals: the
            window's end; `None` for devices and alerts.
        value: The number as sent, in ``unit``; `None` for a bucket without data.
        unit: The unit the response stated (``WH``, ``W``, ...), or `None`.
        details: Devices and alerts: their other fields as JSON; else `None`.
    """

    site_id: int
    device_serial: str
    source: str
    metric: str
    resolution: str | None
    period_start: str | None
    period_end: str | None
    value: float | None
    unit: str | None
    details: str | None


#: The columns of a flat row, in order (`Row`'s fields).
ROW_FIELDS: Final = Row._fields


class Bucket(NamedTuple):
    """One bucket of a series with aware bounds (the store's view of a series row).

    Attributes:
        site_id: The site.
        device_serial: The device's serial, ``""`` for site-level data.
        source: As `Row.source`.
        metric: As `Row.metric`.
        resolution: The bucket length (``QUARTER_HOUR`` ...).
        start: The bucket's start, aware (the site's offset in force).
        end: The bucket's end (exclusive), aware.
        value: The number as sent, or `None` (no data).
        unit: The unit the response stated, or `None`.
    """

    site_id: int
    device_serial: str
    source: str
    metric: str
    resolution: str
    start: datetime
    end: datetime
    value: float | None
    unit: str | None


_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")
_FIXED_STEPS: Final = {
    "QUARTER_HOUR": timedelta(minutes=15),
    "HOUR": timedelta(hours=1),
}
#: Telemetry metrics (API names, per family) whose stamps mark the bucket end.
_END_STAMPED: Final = frozenset(
    (str(op.family), str(op.metric)) for op in DEVICE_METRICS.values() if op.stamps == "end"
)


def _snake(name: str) -> str:
    return _CAMEL.sub("_", name).lower()


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def source_of(item: WorkItem) -> str:
    """The endpoint label of an item's rows (the ``source`` column)."""
    op = ENDPOINTS.get(item.kind)
    return item.kind if op is None else op.source


def _calendar_step(wall: datetime, resolution: str, sign: int) -> datetime:
    """The wall-clock bucket boundary one bucket after (``sign=1``) or before ``wall``."""
    if resolution == "DAY":
        return wall + timedelta(days=sign)
    if resolution == "WEEK":
        return wall + timedelta(days=7 * sign)
    if resolution == "MONTH":
        months = wall.year * 12 + wall.month - 1 + sign
        return wall.replace(year=months // 12, month=months % 12 + 1)
    return wall.replace(year=wall.year + sign)  # YEAR


def bucket_bounds(
    stamp: datetime, resolution: str, zone: tzinfo | None, *, marks_end: bool = False
) -> tuple[datetime, datetime] | None:
    """The ``(start, end)`` of the bucket a series stamp names (bucket-start convention).

    Quarter hours and hours are fixed lengths of elapsed time; DAY to YEAR are calendar
    buckets of the site's zone (``zone``; the stamp's own offset when `None`), so a DST
    day is 23 or 25 hours long. ``marks_end`` is for voltage and frequency, whose
    stamps mark the bucket's end. Bounds are in ``zone`` (else the stamp's offset).

    Returns:
        The bounds, or `None` for ``TOTAL`` and unknown resolutions (no fixed bucket).
    """
    step = _FIXED_STEPS.get(resolution)
    if step is not None:
        other = stamp - step if marks_end else stamp + step
        if isinstance(zone, ZoneInfo):
            other = other.astimezone(zone)
        return (other, stamp) if marks_end else (stamp, other)
    if resolution not in {"DAY", "WEEK", "MONTH", "YEAR"}:
        return None
    tz = zone if isinstance(zone, ZoneInfo) else stamp.tzinfo
    local = stamp.astimezone(tz)
    wall = _calendar_step(local.replace(tzinfo=None), resolution, -1 if marks_end else 1)
    other = wall.replace(tzinfo=tz)
    if isinstance(tz, ZoneInfo):  # normalise a wall clock in a gap or fold
        other = other.astimezone(ZoneInfo("UTC")).astimezone(tz)
    return (other, local) if marks_end else (local, other)


def _series_buckets(
    head: tuple[int, str, str, str],
    *,
    unit: object,
    resolution: object,
    stamps: tuple[datetime, ...],
    values: tuple[float | None, ...],
    item: WorkItem,
    marks_end: bool,
    include_null: bool,
) -> Iterator[Bucket]:
    site_id, serial, source, metric = head
    unit_s = _text(unit)
    res_s = _text(resolution) or ""
    lo, hi = item.start, item.end
    zone = lo.tzinfo if lo is not None else None
    step = _FIXED_STEPS.get(res_s)
    previous: datetime | None = None
    for stamp, value in zip(stamps, values, strict=False):
        if value is None and not include_null:
            previous = stamp
            continue
        # Fast path: a neighbour one bucket away already carries the right offset.
        if step is not None and previous is not None and marks_end and stamp - previous == step:
            bounds: tuple[datetime, datetime] | None = (previous, stamp)
        else:
            bounds = bucket_bounds(stamp, res_s, zone, marks_end=marks_end)
        previous = stamp
        if bounds is None:  # TOTAL: the window is the bucket
            if lo is None or hi is None:
                continue
            bounds = (lo, hi)
        start, end = bounds
        if lo is not None and hi is not None and (end <= lo or start >= hi):
            continue
        yield Bucket(site_id, serial, source, metric, res_s, start, end, value, unit_s)


def series_buckets(result: ItemSucceeded, *, include_null: bool = False) -> Iterator[Bucket]:
    """The buckets of a successful series item (``energy``, ``power``, telemetry, device metrics).

    Bounds follow the bucket-start convention (see `bucket_bounds`); buckets outside
    the item's window are dropped. Other items (overview, devices, alerts) give nothing.

    Args:
        result: The item and its record.
        include_null: Keep buckets without data (value `None`).
    """
    item, record = result.item, result.record
    source = source_of(item)
    op = ENDPOINTS.get(item.kind)
    if isinstance(record, Measurements):
        metric = item.kind if op is None else op.row_metric
        serial = item.serial or "" if op is not None and op.level == "device" else ""
        yield from _series_buckets(
            (item.site_id, serial, source, metric),
            unit=record.unit,
            resolution=record.resolution if record.resolution is not None else item.resolution,
            stamps=record.timestamps,
            values=record.values,
            item=item,
            marks_end=op is not None and op.stamps == "end",
            include_null=include_null,
        )
    elif isinstance(record, Telemetry):
        family = record.family
        fallback = record.resolution if record.resolution is not None else item.resolution
        for serial, metrics in record.devices.items():
            for name, series in metrics.items():
                yield from _series_buckets(
                    (item.site_id, serial, source, _snake(name)),
                    unit=series.unit,
                    resolution=series.resolution if series.resolution is not None else fallback,
                    stamps=series.timestamps,
                    values=series.values,
                    item=item,
                    marks_end=(family, name) in _END_STAMPED,
                    include_null=include_null,
                )


def _overview_rows(item: WorkItem, record: SiteOverview) -> Iterator[Row]:
    start, end = _iso(item.start), _iso(item.end)
    site_id = item.site_id
    p, c, perf = record.production, record.consumption, record.performance
    p_unit = _text(p.unit) if p is not None else None
    c_unit = _text(c.unit) if c is not None else None
    figures: tuple[tuple[str, float | None, str | None], ...] = (
        ("production_total", p.total if p else None, p_unit),
        ("production_to_self_consumption", p.to_self_consumption if p else None, p_unit),
        ("production_to_storage", p.to_storage if p else None, p_unit),
        ("production_to_grid", p.to_grid if p else None, p_unit),
        ("consumption_total", c.total if c else None, c_unit),
        ("consumption_from_pv", c.from_pv if c else None, c_unit),
        ("consumption_from_storage", c.from_storage if c else None, c_unit),
        ("consumption_from_grid", c.from_grid if c else None, c_unit),
    )
    if perf is not None:
        figures += (
            ("performance_specific_yield", perf.specific_yield, "KWH_PER_KWP"),
            ("performance_ratio", perf.performance_ratio, None),
        )
    for metric, value, unit in figures:
        yield Row(site_id, "", "overview", metric, None, start, end, value, unit, None)


def _json(obj: dict[str, object]) -> str:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True, default=str)


def _device_rows(item: WorkItem, devices: tuple[Device, ...]) -> Iterator[Row]:
    for d in devices:
        details = {
            "type": _text(d.type),
            "name": d.name,
            "manufacturer": d.manufacturer,
            "model": d.model,
            "part_number": d.part_number,
            "firmware_version": d.firmware_version,
            "connected_to": d.connected_to,
            "communication_type": d.communication_type,
            "connected_optimizers": d.connected_optimizers,
            "active": d.active,
            "nameplate": d.nameplate,
            "meter_type": d.meter_type,
        }
        yield Row(
            item.site_id,
            d.serial_number,
            "devices",
            "device",
            None,
            _iso(d.created_at),
            None,
            None,
            None,
            _json({k: v for k, v in details.items() if v is not None}),
        )


def _alert_rows(item: WorkItem, alerts: tuple[Alert, ...]) -> Iterator[Row]:
    for a in alerts:
        component = a.component
        details = {
            "alert_id": a.alert_id,
            "type": a.type,
            "category": a.category,
            "status": _text(a.status),
            "last_trigger": _iso(a.last_trigger),
            "component_name": component.name if component is not None else None,
            "error_codes": list(a.error_codes),
        }
        site_id = a.site_id if a.site_id is not None else item.site_id
        serial = component.serial_number if component is not None else None
        yield Row(
            site_id,
            serial or "",
            "alerts",
            "alert",
            None,
            _iso(a.first_trigger),
            None,
            None if a.impact is None else float(a.impact),
            None,
            _json({k: v for k, v in details.items() if v is not None}),
        )


def flat_rows(result: ItemSucceeded, *, include_null: bool = False) -> Iterator[Row]:
    """The flat rows of a successful item, as `Row` records.

    Values are kept as the API sent them, in the unit each response states. Series
    rows follow the bucket-start convention (``period_start`` is the bucket's start
    for every metric, voltage and frequency included) and are kept to the item's
    window. Bulk telemetry and single device metrics give the same ``metric`` names
    (``voltage``, ``import_power``), so the two ways of fetching load alike.

    Args:
        result: A successful sweep item.
        include_null: Keep buckets without data (value `None`); left out by default
            (a file of night buckets is mostly nulls, and a null is not 0).
    """
    record = result.record
    if isinstance(record, Measurements | Telemetry):
        for b in series_buckets(result, include_null=include_null):
            yield Row(
                b.site_id,
                b.device_serial,
                b.source,
                b.metric,
                b.resolution,
                b.start.isoformat(),
                b.end.isoformat(),
                b.value,
                b.unit,
                None,
            )
    elif isinstance(record, SiteOverview):
        yield from _overview_rows(result.item, record)
    elif result.item.kind == "devices":
        yield from _device_rows(result.item, cast("tuple[Device, ...]", record))
    else:
        yield from _alert_rows(result.item, cast("tuple[Alert, ...]", record))
