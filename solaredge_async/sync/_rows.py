"""From fetched series to the store's rows: the mapping the sync and the poller share.

A series arrives as `solaredge_async.fleet._rows.Bucket` s (aware bounds in the site's
zone, the bucket-start convention); the store takes `MeasurementRow` s in UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from solaredge_async.fleet import ItemSucceeded
from solaredge_async.fleet._rows import series_buckets
from solaredge_async.store import MeasurementRow

if TYPE_CHECKING:
    from collections.abc import Sequence

    from solaredge_async.fleet import SweepRecord, WorkItem
    from solaredge_async.fleet._rows import Bucket

__all__ = ["item_rows", "stored_row"]


def stored_row(bucket: Bucket) -> MeasurementRow:
    """The store's row of one bucket: the same series and value, bounds in UTC."""
    site_id, serial, source, metric, resolution, start, end, value, unit = bucket
    return MeasurementRow(
        site_id=site_id,
        device_serial=serial,
        source=source,
        metric=metric,
        resolution=resolution,
        period_start=start.astimezone(UTC),
        period_end=end.astimezone(UTC),
        value=value,
        unit=unit,
    )


def item_rows(
    parts: Sequence[tuple[WorkItem, SweepRecord]],
) -> tuple[list[MeasurementRow], datetime | None, datetime | None]:
    """An item's rows to store (UTC, no null buckets) and two ends.

    The end of its last value, and the end of the last bucket received (null buckets
    included).
    """
    rows: list[MeasurementRow] = []
    last_value_end: datetime | None = None
    last_bucket_end: datetime | None = None
    for work, record in parts:
        for b in series_buckets(ItemSucceeded(item=work, record=record), include_null=True):
            end = b.end
            if last_bucket_end is None or end > last_bucket_end:
                last_bucket_end = end
            if b.value is None:
                continue
            if last_value_end is None or end > last_value_end:
                last_value_end = end
            rows.append(stored_row(b))
    return rows, last_value_end, last_bucket_end
