"""Stitching and trimming series: the pieces of a split window back into one answer.

`merge_measurements` and `merge_telemetry` stitch the responses of several windows by
instant; `trim_measurements` and `trim_telemetry` drop the buckets outside the window
asked for (the live API lists the bucket that starts at ``to``; reference section 4).

This module sits on floor 1 with the windows: it imports the records (floor 0).
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Final

import attrs

from solaredge_async import _windows
from solaredge_async._endpoints import DEVICE_METRICS
from solaredge_async.models import Measurements, Period, Telemetry, TelemetrySeries

if TYPE_CHECKING:
    from datetime import datetime

__all__ = [
    "END_STAMPED",
    "merge_measurements",
    "merge_telemetry",
    "merged_period",
    "trim_measurements",
    "trim_telemetry",
]

#: Bulk telemetry series whose stamps mark the bucket end: (family, metric).
END_STAMPED: Final = frozenset(
    (str(e.family), str(e.metric)) for e in DEVICE_METRICS.values() if e.stamps == "end"
)


def merged_period(first: Period | None, last: Period | None) -> Period | None:
    """The period from the first piece's start to the last one's end (None if unknown)."""
    if first is None or last is None:
        return None
    return Period(start=first.start, end=last.end)


def trim_measurements(
    series: Measurements,
    window: tuple[datetime, datetime],
    resolution: str | None,
    *,
    stamps_end: bool,
) -> Measurements:
    """The series without buckets outside the window asked for (reference section 4)."""
    kept = _windows.trim_series(
        series.timestamps, series.values, *window, resolution, stamps_end=stamps_end
    )
    if kept is None:
        return series
    return attrs.evolve(series, timestamps=kept[0], values=kept[1])


def trim_telemetry(
    telemetry: Telemetry, family: str, window: tuple[datetime, datetime], resolution: str | None
) -> Telemetry:
    """Telemetry without buckets outside the window asked for, series by series."""
    devices: dict[str, dict[str, TelemetrySeries]] = {}
    changed = False
    # The metrics of one body share their stamps (equal texts parse to one object), so
    # "nothing to drop" found for one series holds for each with the same stamps.
    whole: list[tuple[tuple[datetime, ...], bool]] = []
    for serial, metrics in telemetry.devices.items():
        kept_metrics: dict[str, TelemetrySeries] = {}
        for name, series in metrics.items():
            stamps, stamps_end = series.timestamps, (family, name) in END_STAMPED
            if (stamps, stamps_end) in whole:
                kept_metrics[name] = series
                continue
            kept = _windows.trim_series(
                stamps, series.values, *window, resolution, stamps_end=stamps_end
            )
            if kept is None:
                whole.append((stamps, stamps_end))
            kept_metrics[name] = series
            if kept is not None:
                changed = True
                kept_metrics[name] = attrs.evolve(series, timestamps=kept[0], values=kept[1])
        devices[serial] = kept_metrics
    return attrs.evolve(telemetry, devices=devices) if changed else telemetry


def merge_measurements(parts: list[Measurements]) -> Measurements:
    """Stitch the series of several windows into one, by instant."""
    timestamps, values = _windows.merge_series([(p.timestamps, p.values) for p in parts])
    period = merged_period(parts[0].period, parts[-1].period)
    return attrs.evolve(parts[0], period=period, timestamps=timestamps, values=values)


def merge_telemetry(parts: list[Telemetry]) -> Telemetry:
    """Stitch the telemetry of several windows, device by device and metric by metric."""
    merged: dict[str, dict[str, TelemetrySeries]] = {}
    # The metrics of one body share their stamps: pieces whose stamps simply follow one
    # another (the usual case) are found so once, and the other metrics with the same
    # stamps are joined without checking again.
    joined: list[tuple[tuple[tuple[datetime, ...], ...], tuple[datetime, ...]]] = []
    for serial in dict.fromkeys(s for p in parts for s in p.devices):
        metrics: dict[str, TelemetrySeries] = {}
        for metric in dict.fromkeys(m for p in parts for m in p.devices.get(serial, {})):
            series = [
                p.devices[serial][metric] for p in parts if metric in p.devices.get(serial, {})
            ]
            chunks = tuple(s.timestamps for s in series)
            timestamps = next((stamps for known, stamps in joined if known == chunks), None)
            if timestamps is not None:
                values = tuple(itertools.chain.from_iterable(s.values for s in series))
            else:
                timestamps, values = _windows.merge_series(
                    [(s.timestamps, s.values) for s in series]
                )
                if timestamps == tuple(itertools.chain.from_iterable(chunks)):
                    joined.append((chunks, timestamps))
            metrics[metric] = attrs.evolve(series[0], timestamps=timestamps, values=values)
        merged[serial] = metrics
    period = merged_period(parts[0].period, parts[-1].period)
    return attrs.evolve(parts[0], period=period, devices=merged)
