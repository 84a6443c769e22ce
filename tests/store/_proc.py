"""Child processes for the store tests: ``python -m tests.store._proc MODE URL BACKEND ...``.

``worker OWNER``: claim items until none is left, store each item's rows and watermark,
print one JSON line per item it completed.
``writer``: commit numbered batches forever, printing ``committed N`` after each (the
parent kills it with SIGKILL).
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta

import anyio

from solaredge_async.store import ItemKey, MeasurementRow, WatermarkAdvance, open_store

T0 = datetime(2026, 6, 1, tzinfo=UTC)
UNTIL = T0 + timedelta(days=1)
BATCH = 50


def item_rows(item: ItemKey, count: int = 4) -> list[MeasurementRow]:
    """The rows a worker stores for ``item``: ``count`` quarter-hours of one metric."""
    return [
        MeasurementRow(
            site_id=item.site_id,
            device_serial="",
            source=item.target,
            metric="energy",
            resolution=item.resolution,
            period_start=T0 + timedelta(minutes=15 * i),
            period_end=T0 + timedelta(minutes=15 * (i + 1)),
            value=float(item.site_id * 100 + i),
            unit="Wh",
        )
        for i in range(count)
    ]


async def work(url: str, owner: str, out: list[ItemKey]) -> None:
    """Claim, store and release items until nothing claimable is left."""
    async with open_store(url, busy_timeout=30.0) as store:
        while True:
            claimed = await store.claim(owner, until=UNTIL, limit=3, ttl=600)
            if not claimed:
                return
            for state in claimed:
                await store.commit_batch(
                    item_rows(state.item),
                    watermarks=[WatermarkAdvance(item=state.item, complete_until=UNTIL)],
                    owner=owner,
                )
                out.append(state.item)
            await store.release(owner, [s.item for s in claimed])


async def _worker(url: str, owner: str) -> None:
    done: list[ItemKey] = []
    await work(url, owner, done)
    for item in done:
        print(json.dumps([item.site_id, item.target, item.resolution]), flush=True)  # noqa: T201


async def _writer(url: str) -> None:
    async with open_store(url, busy_timeout=30.0) as store:
        n = 0
        while True:
            rows = [
                MeasurementRow(
                    site_id=1,
                    device_serial="",
                    source="site_energy",
                    metric="energy",
                    resolution="QUARTER_OF_AN_HOUR",
                    period_start=T0 + timedelta(minutes=15 * (n * BATCH + i)),
                    period_end=T0 + timedelta(minutes=15 * (n * BATCH + i + 1)),
                    value=float(i),
                    unit="Wh",
                )
                for i in range(BATCH)
            ]
            item = ItemKey(site_id=1, target="site_energy", resolution="QUARTER_OF_AN_HOUR")
            until = T0 + timedelta(minutes=15 * (n + 1) * BATCH)
            await store.commit_batch(
                rows, watermarks=[WatermarkAdvance(item=item, complete_until=until)]
            )
            n += 1
            print(f"committed {n}", flush=True)  # noqa: T201


def main() -> None:
    """Run the mode named on the command line."""
    mode, url, backend = sys.argv[1:4]
    if mode == "worker":
        anyio.run(_worker, url, sys.argv[4], backend=backend)
    else:
        anyio.run(_writer, url, backend=backend)


if __name__ == "__main__":
    main()
