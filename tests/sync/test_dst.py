"""Time zones and DST: buckets keyed by instant, calendar buckets of the site's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from solaredge_async.fleet import ItemSucceeded, SweepSpec, flat_rows, plan_sweep
from solaredge_async.store import open_store
from solaredge_async.sync import SyncSpec, bucket_floor, plan_sync
from tests.fleet._support import run_all

from ._support import all_rows, make_client, make_sim, sync_once

pytestmark = pytest.mark.anyio

BERLIN = ZoneInfo("Europe/Berlin")
FALL_BACK = date(2026, 10, 25)
SPRING = date(2026, 3, 29)


async def test_fall_back_day_has_25_hours_of_buckets(sqlite_url):
    """The 25-hour day: every quarter hour once by instant, watermark at the next midnight."""
    now = datetime(2026, 10, 27, 12, tzinfo=UTC)
    sim = make_sim(2, zones=("Europe/Berlin",), now=now)
    spec = SyncSpec(what=("energy", "power"), since=FALL_BACK, until=FALL_BACK)
    async with make_client(sim) as client, open_store(sqlite_url) as store:
        report = await sync_once(client, store, spec, now=now)
        assert report.complete
        rows = await all_rows(store)
        marks = {s.complete_until for s in await store.watermarks()}
        plan = await plan_sweep(
            client,
            SweepSpec(what={"energy", "power"}, start=FALL_BACK, end=FALL_BACK),
            now=now,
        )
        swept = [
            row
            for r in await run_all(client, plan)
            if isinstance(r, ItemSucceeded)
            for row in flat_rows(r, include_null=True)
        ]
    assert marks == {datetime(2026, 10, 25, 23, tzinfo=UTC)}  # local midnight after, UTC
    per_series = {(row.site_id, row.source) for row in swept}
    assert len(swept) == 100 * len(per_series)  # 100 quarter hours, nulls included
    starts = {(r[0], r[2], r[5]) for r in rows}
    assert len(starts) == len(rows)  # the repeated hour is two sets of instants
    day_start = datetime(2026, 10, 24, 22, tzinfo=UTC)
    assert all(day_start <= r[5] < day_start + timedelta(hours=25) for r in rows)


async def test_daily_buckets_follow_the_site_calendar(sqlite_url):
    """At DAY, each row is one site-local day: 23 hours on the spring-forward day."""
    now = datetime(2026, 4, 2, 12, tzinfo=UTC)
    sim = make_sim(1, zones=("Europe/Berlin",), now=now)
    spec = SyncSpec(
        what=("energy",), since=date(2026, 3, 27), until=date(2026, 3, 31), resolution="DAY"
    )
    async with make_client(sim) as client, open_store(sqlite_url) as store:
        report = await sync_once(client, store, spec, now=now)
        assert (report.complete, report.credits) == (True, 1)
        rows = await all_rows(store)
    lengths = {r[5].astimezone(BERLIN).date(): r[6] - r[5] for r in rows}
    assert lengths[SPRING] == timedelta(hours=23)
    assert lengths[date(2026, 3, 28)] == timedelta(hours=24)
    assert sorted(lengths) == [date(2026, 3, d) for d in range(27, 32)]


def test_bucket_floor_in_zones():
    """Bucket starts on the site's grid, by elapsed time for sub-daily buckets."""
    kathmandu = ZoneInfo("Asia/Kathmandu")  # +05:45
    t = datetime(2026, 5, 12, 14, 37, 12, tzinfo=UTC)
    assert bucket_floor(t, "QUARTER_HOUR", kathmandu) == datetime(2026, 5, 12, 14, 30, tzinfo=UTC)
    assert bucket_floor(t, "HOUR", kathmandu) == datetime(2026, 5, 12, 14, 15, tzinfo=UTC)
    assert bucket_floor(t, "DAY", BERLIN) == datetime(2026, 5, 11, 22, tzinfo=UTC)
    assert bucket_floor(t, "WEEK", BERLIN) == datetime(2026, 5, 10, 22, tzinfo=UTC)
    assert bucket_floor(t, "MONTH", BERLIN) == datetime(2026, 4, 30, 22, tzinfo=UTC)
    assert bucket_floor(t, "YEAR", BERLIN) == datetime(2025, 12, 31, 23, tzinfo=UTC)
    # The second 02:30 of the fall-back night floors to its own hour, not the first.
    second = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # 02:30+01:00
    floor = bucket_floor(second, "HOUR", BERLIN)
    # (An instant in a fold never compares equal across zones, PEP 495: compare in UTC.)
    assert floor.astimezone(UTC) == datetime(2026, 10, 25, 1, tzinfo=UTC)
    assert floor.fold == 1


async def test_planning_spends_nothing_for_known_sites(sqlite_url):
    """Named sites whose zones the store remembers cost no discovery call."""
    sim = make_sim(3)
    async with make_client(sim) as client, open_store(sqlite_url) as store:
        first = await plan_sync(client, store, SyncSpec(what=("energy",)), now=sim.now())
        assert first.discovery_credits == 1  # the site list
        await sync_once(client, store, SyncSpec(what=("energy",)), now=sim.now())
        sites = first.sites
    async with make_client(sim) as client, open_store(sqlite_url) as store:
        plan = await plan_sync(
            client, store, SyncSpec(what=("energy",), sites=sites), now=sim.now()
        )
        assert plan.discovery_credits == 0
        assert plan.sites == sites
