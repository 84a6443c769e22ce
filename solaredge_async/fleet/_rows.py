"""Flat rows: one per site / device / timestamp / metric, ready for a table load.

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
timestamp      ISO 8601 with the site's offset in force: the bucket's start (its end
               for ``voltage`` and ``frequency``, as the API stamps them); for
               overview totals the window's start; for ``device`` its creation, for
               ``alert`` its first trigger; null when unknown (default windows)
period_end     overview totals: the window's end (exclusive); null otherwise
value          the number as the API sent it, in ``unit``; null kept (a bucket
               without data is not 0). Alerts: the impact
unit           the unit the response stated (``WH``, ``W``, ``VOLT``, ``PERCENTAGE``,
               ...), never the one requested; null when none applies
resolution     the bucket length (``QUARTER_HOUR`` ...); null for totals and lists
details        devices and alerts: their other fields as a JSON object; else null
============== =====================================================================
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Final, NamedTuple, cast

from solaredge_async._endpoints import ENDPOINTS
from solaredge_async.models import Alert, Device, Measurements, SiteOverview, Telemetry

if TYPE_CHECKING:
    from collections.abc import Iterator
    from datetime import datetime

    from solaredge_async.fleet._plan import WorkItem
    from solaredge_async.fleet._run import ItemSucceeded

__all__ = ["ROW_FIELDS", "Row", "flat_rows", "source_of"]


class Row(NamedTuple):
    """One flat row (see the module docstring for each field's meaning).

    A named tuple: fields by name (``row.value``), and the plain tuple the writers
    stream (``dict(zip(ROW_FIELDS, row))``) at no extra cost per row.

    Attributes:
        site_id: The site.
        device_serial: The device's serial, ``""`` for site-level data.
        source: The endpoint that answered (``energy``, ``inverters/telemetry``).
        metric: The snake_case metric name (``energy``, ``import_power``).
        timestamp: ISO 8601, the bucket's start (end for voltage and frequency).
        period_end: Overview totals: the window's end; else `None`.
        value: The number as sent, in ``unit``; `None` kept.
        unit: The unit the response stated (``WH``, ``W``, ...), or `None`.
        resolution: The bucket length, or `None` for totals and lists.
        details: Devices and alerts: their other fields as JSON; else `None`.
    """

    site_id: int
    device_serial: str
    source: str
    metric: str
    timestamp: str | None
    period_end: str | None
    value: float | None
    unit: str | None
    resolution: str | None
    details: str | None


#: The columns of a flat row, in order (`Row`'s fields).
ROW_FIELDS: Final = Row._fields

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


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


def _series_rows(
    head: tuple[int, str, str, str],
    *,
    unit: object,
    resolution: object,
    stamps: tuple[datetime, ...],
    values: tuple[float | None, ...],
) -> Iterator[Row]:
    site_id, serial, source, metric = head
    unit_s = _text(unit)
    res_s = _text(resolution)
    for stamp, value in zip(stamps, values, strict=False):
        yield Row(
            site_id, serial, source, metric, stamp.isoformat(), None, value, unit_s, res_s, None
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
        yield Row(site_id, "", "overview", metric, start, end, value, unit, None, None)


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
            _iso(d.created_at),
            None,
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
            _iso(a.first_trigger),
            None,
            None if a.impact is None else float(a.impact),
            None,
            None,
            _json({k: v for k, v in details.items() if v is not None}),
        )


def flat_rows(result: ItemSucceeded) -> Iterator[Row]:
    """The flat rows of a successful item, as `Row` records.

    Values are kept as the API sent them, in the unit each response states; nulls are
    kept. Bulk telemetry and single device metrics give the same ``metric`` names
    (``voltage``, ``import_power``), so the two ways of fetching load alike.
    """
    item, record = result.item, result.record
    source = source_of(item)
    if isinstance(record, Measurements):
        op = ENDPOINTS.get(item.kind)
        metric = item.kind if op is None else op.row_metric
        serial = item.serial or "" if op is not None and op.level == "device" else ""
        yield from _series_rows(
            (item.site_id, serial, source, metric),
            unit=record.unit,
            resolution=record.resolution if record.resolution is not None else item.resolution,
            stamps=record.timestamps,
            values=record.values,
        )
    elif isinstance(record, Telemetry):
        fallback = record.resolution if record.resolution is not None else item.resolution
        for serial, metrics in record.devices.items():
            for name, series in metrics.items():
                yield from _series_rows(
                    (item.site_id, serial, source, _snake(name)),
                    unit=series.unit,
                    resolution=series.resolution if series.resolution is not None else fallback,
                    stamps=series.timestamps,
                    values=series.values,
                )
    elif isinstance(record, SiteOverview):
        yield from _overview_rows(item, record)
    elif item.kind == "devices":
        yield from _device_rows(item, cast("tuple[Device, ...]", record))
    else:
        yield from _alert_rows(item, cast("tuple[Alert, ...]", record))
