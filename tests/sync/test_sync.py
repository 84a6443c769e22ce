"""The sync engine: only what is missing, watermarks with their rows, gaps filled later."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import anyio
import pytest

from solaredge_async import SolarEdgeClient
from solaredge_async.errors import InvalidRequestError
from solaredge_async.fleet import ItemSucceeded, SweepSpec, flat_rows, plan_sweep
from solaredge_async.store import ItemKey, MeasurementRow, open_store
from solaredge_async.sync import (
    SYNC_TARGETS,
    SyncProgress,
    SyncSpec,
    bucket_floor,
    plan_sync,
    run_sync,
)
from tests.fleet._support import run_all

from ._support import NOW, SINCE, BadSite, all_rows, fresh_sync, make_client, make_sim, sync_once

pytestmark = pytest.mark.anyio

DAY = date(2026, 5, 11)
SPEC = SyncSpec(what=("energy", "power"), since=SINCE)


async def test_second_sync_spends_only_what_is_open(store_url):
    """Run 1 pays the backfill; run 2 at once only the settle window; 0 calls without it."""
    sim = make_sim(6)
    async with make_client(sim) as client, open_store(store_url) as store:
        plan = await plan_sync(client, store, SPEC, now=NOW)
        assert plan.credits == sum(len(i.windows) for i in plan.items) > len(plan.items)
        first = await run_sync(client, store, plan)
        assert first.complete
        assert first.credits == plan.credits
        assert first.rows == first.rows_inserted == await store.count_measurements() > 0
        runs = await store.runs()
        assert runs[-1].totals.outcome == "ok"
        assert runs[-1].totals.credits == first.credits

        # At once: only the last two hours (one call per item), nothing changes.
        again = await plan_sync(client, store, SPEC, now=NOW)
        assert again.credits == len(again.items) == 12
        for item in again.items:
            assert item.start == bucket_floor(NOW - timedelta(hours=2), "QUARTER_HOUR", item.zone)
        second = await run_sync(client, store, again)
        assert second.credits == 12
        assert (second.rows, second.rows_inserted) == (0, 0)
        assert second.rows_unchanged > 0

        # No settle window: only items whose tail was still null (night), from there.
        idle = await plan_sync(
            client, store, SyncSpec(what=SPEC.what, since=SINCE, settle=timedelta(0)), now=NOW
        )
        assert len(idle.items) < len(again.items)
        for item in idle.items:
            assert item.credits == 1
            assert item.start == item.watermark
            rows = await store.measurements(item.key.site_id, start=item.start, end=item.end)
            assert not [r for r in rows if r.source == item.key.target]

        # An hour later: the settle window plus the new hour, still one call per item.
        later = NOW + timedelta(hours=1)
        sim.set_now(later)
        plan = await plan_sync(client, store, SPEC, now=later)
        assert plan.credits == 12
        third = await run_sync(client, store, plan)
        assert third.rows_inserted > 0


async def test_closed_day_equals_a_plain_sweep(sqlite_url):
    """A synced closed day holds exactly the non-null flat rows of a sweep of that day."""
    sim = make_sim(5, zones=("Europe/Berlin", "America/Los_Angeles", "Asia/Kolkata"))
    what = ("energy", "power", "inverter_telemetry")
    async with make_client(sim) as client, open_store(sqlite_url) as store:
        report = await sync_once(client, store, SyncSpec(what=what, since=DAY, until=DAY), now=NOW)
        assert report.complete
        synced = await all_rows(store)
        plan = await plan_sweep(
            client,
            SweepSpec(what=set(what), start=DAY, end=DAY, resolution="QUARTER_HOUR"),
            now=NOW,
        )
        results = await run_all(client, plan)
    swept = sorted(
        (
            row.site_id,
            row.device_serial,
            row.source,
            row.metric,
            row.resolution,
            datetime.fromisoformat(row.period_start).astimezone(UTC),
            datetime.fromisoformat(row.period_end).astimezone(UTC),
            row.value,
            row.unit,
        )
        for r in results
        if isinstance(r, ItemSucceeded)
        for row in flat_rows(r)
    )
    assert synced == swept
    assert {r[3] for r in synced} >= {"energy", "power", "voltage", "frequency"}
    # Every row starts on the bucket grid and lasts one quarter hour, voltage included.
    assert all(end - start == timedelta(minutes=15) for *_, start, end, _v, _u in synced)
    assert all(start.minute % 15 == 0 and start.second == 0 for *_, start, _e, _v, _u in synced)


async def test_voltage_rows_start_a_bucket_before_their_stamp(sqlite_url):
    """Voltage and frequency stamps mark the bucket end: rows are shifted to its start."""
    sim = make_sim(2, zones=("Europe/Berlin",))
    async with make_client(sim) as client, open_store(sqlite_url) as store:
        await sync_once(client, store, SyncSpec(what=("inverter_voltage",), since=DAY, until=DAY))
        rows = await all_rows(store)
        site_id = rows[0][0]
        tel = await client.telemetry(
            "inverters", site_id, start=DAY, end=DAY, resolution="QUARTER_HOUR"
        )
    assert {r[3] for r in rows} == {"voltage"}  # only the metric asked for
    serial, metrics = next(iter(tel.devices.items()))
    series = metrics["voltage"]
    stamped = {s.astimezone(UTC): v for s, v in zip(series.timestamps, series.values, strict=True)}
    mine = {
        end: value for (sid, ser, *_, end, value, _u) in rows if sid == site_id and ser == serial
    }
    day_start = datetime(2026, 5, 10, 22, tzinfo=UTC)
    expected = {
        t: v
        for t, v in stamped.items()
        if v is not None and day_start < t <= day_start + timedelta(days=1)
    }
    assert mine == expected


async def test_a_bad_body_fails_its_own_item_and_the_next_run_fills_the_gap(store_url, tmp_path):
    """One site's broken /energy fails that item only; its watermark waits; run 2 fills it."""
    sim = make_sim(4)
    async with make_client(sim) as probe:
        bad = [s.site_id async for s in probe.sites()][1]
    transport = BadSite(sim, bad)
    async with (
        SolarEdgeClient(
            api_key=sim.api_key,
            transport=transport,
            base_url=sim.base_url,
            requests_per_minute=None,
            max_concurrency=4,
        ) as client,
        open_store(store_url) as store,
    ):
        first = await sync_once(client, store, SPEC)
        assert (first.failed, first.succeeded, first.complete) == (1, 7, False)
        assert first.outcome == "partial"
        ((key, message),) = first.errors
        assert key == ItemKey(site_id=bad, target="energy", resolution="QUARTER_HOUR")
        assert "ResponseValidationError" in message
        states = {s.item: s for s in await store.watermarks()}
        assert states[key].complete_until is None
        assert states[key].last_error is not None
        assert await store.count_measurements(site_ids=[bad], sources=["energy"]) == 0
        assert await store.count_measurements(site_ids=[bad], sources=["power"]) > 0
        assert (await store.runs())[-1].totals.failed == 1

        transport.broken = False
        plan = await plan_sync(client, store, SPEC, now=NOW)
        backfill = next(i for i in plan.items if i.key == key)
        assert backfill.start == bucket_floor(
            datetime(2026, 5, 11, tzinfo=backfill.zone), "QUARTER_HOUR", backfill.zone
        )
        second = await run_sync(client, store, plan)
        assert second.complete
        assert await store.count_measurements(site_ids=[bad], sources=["energy"]) > 0
        got = await all_rows(store)
    assert got == await fresh_sync(sim, f"sqlite:///{tmp_path / 'ref.db'}", SPEC)


async def test_late_data_and_changed_values_are_picked_up_in_the_settle_window(sqlite_url):
    """Buckets published late arrive on the next run; a changed value is updated once."""
    sim = make_sim(2, publish_delay=3600.0)
    spec = SyncSpec(what=("power",), since=SINCE)
    async with make_client(sim) as client, open_store(sqlite_url) as store:
        first = await sync_once(client, store, spec)
        (state, *_) = await store.watermarks()
        # The unpublished tail (the last hour) is not complete.
        assert state.complete_until is not None
        assert state.complete_until <= NOW - timedelta(minutes=45)
        count = await store.count_measurements()

        later = NOW + timedelta(hours=1)
        sim.set_now(later)
        second = await sync_once(client, store, spec, now=later)
        assert second.rows_inserted > 0
        assert await store.count_measurements() == count + second.rows_inserted

        # A stored value that differs from the server's (a partial bucket) is updated.
        rows = await store.measurements(
            state.item.site_id, start=later - timedelta(hours=2), end=later
        )
        victim = rows[-1]
        await store.commit_batch([_with_value(victim, -1.0)])
        third = await sync_once(client, store, spec, now=later)
        assert third.rows_updated == 1
        (fixed,) = [
            r
            for r in await store.measurements(
                victim.site_id, start=victim.period_start, end=victim.period_end
            )
            if r.metric == victim.metric
        ]
        assert fixed.value == victim.value
    assert (first.complete, second.complete, third.complete) == (True, True, True)


def _with_value(row: MeasurementRow, value: float) -> MeasurementRow:
    return MeasurementRow(
        site_id=row.site_id,
        device_serial=row.device_serial,
        source=row.source,
        metric=row.metric,
        resolution=row.resolution,
        period_start=row.period_start,
        period_end=row.period_end,
        value=value,
        unit=row.unit,
    )


async def test_cancellation_commits_what_was_fetched(store_url, tmp_path):
    """Cancelled mid-run: fetched items are committed, the run says interrupted, rerun completes."""
    sim = make_sim(10)
    seen: list[SyncProgress] = []
    async with make_client(sim, max_concurrency=1) as client, open_store(store_url) as store:
        plan = await plan_sync(client, store, SPEC, now=NOW)
        with anyio.CancelScope() as scope:

            def progress(p: SyncProgress) -> None:
                seen.append(p)
                if p.done >= 5:
                    scope.cancel()

            await run_sync(client, store, plan, on_progress=progress, concurrency=1)
        assert scope.cancelled_caught
        run = (await store.runs())[-1]
        assert run.finished_at is not None
        assert run.totals.outcome == "interrupted"
        assert run.totals.succeeded >= 5
        assert run.totals.not_attempted == len(plan.items) - run.totals.succeeded
        moved = [s for s in await store.watermarks() if s.complete_until is not None]
        assert len(moved) == run.totals.succeeded
        assert all(s.lease_owner is None for s in await store.watermarks())
        assert await store.count_measurements() == run.totals.rows > 0

        rest = await plan_sync(client, store, SPEC, now=NOW)
        done = {s.item for s in moved}
        for item in rest.items:  # the done ones only look at the settle window again
            assert (item.credits == 1) == (item.key in done)
            assert (item.watermark is None) == (item.key not in done)
        report = await run_sync(client, store, rest)
        assert report.complete
        got = await all_rows(store)
    assert got == await fresh_sync(sim, f"sqlite:///{tmp_path / 'ref.db'}", SPEC)


async def test_nothing_new_costs_nothing(store_url):
    """A closed window synced whole: the next plan is empty and the run calls nothing."""
    sim = make_sim(4)
    spec = SyncSpec(what=("energy", "inverter_telemetry"), since=DAY, until=DAY)
    async with make_client(sim) as client, open_store(store_url) as store:
        first = await sync_once(client, store, spec)
        assert first.complete
        assert first.credits == 4 * 2 * 2  # two 12-hour windows per site and target
        plan = await plan_sync(client, store, spec, now=NOW + timedelta(days=3))
        assert (plan.credits, plan.items) == (0, ())
        spent = client.usage.credits
        report = await run_sync(client, store, plan)
        assert client.usage.credits == spent
        assert (report.complete, report.credits, report.rows) == (True, 0, 0)


def test_spec_refuses_what_a_sync_cannot_keep():
    """Lists and totals have no buckets to keep a watermark on; bad inputs say why."""
    assert "energy" in SYNC_TARGETS
    assert "inverter_voltage" in SYNC_TARGETS
    assert "overview" not in SYNC_TARGETS
    with pytest.raises(InvalidRequestError, match="bucketed series only"):
        SyncSpec(what=("overview",))
    with pytest.raises(InvalidRequestError, match="TOTAL"):
        SyncSpec(resolution="TOTAL")
    with pytest.raises(InvalidRequestError, match="settle"):
        SyncSpec(settle=timedelta(hours=-1))
    with pytest.raises(InvalidRequestError, match="until"):
        SyncSpec(since=date(2026, 5, 2), until=date(2026, 5, 1))
    with pytest.raises(InvalidRequestError, match="site ids"):
        SyncSpec(sites=(0,))
    assert SyncSpec(what="energy, power").what == ("energy", "power")


async def test_power_refuses_daily_buckets(sqlite_url):
    """A resolution a target does not accept fails at planning, before any call."""
    sim = make_sim(1)
    async with make_client(sim) as client, open_store(sqlite_url) as store:
        with pytest.raises(InvalidRequestError, match="power"):
            await plan_sync(client, store, SyncSpec(what=("power",), resolution="DAY"), now=NOW)
        assert client.usage.credits == 0


async def test_quota_running_out_leaves_the_rest_for_later(sqlite_url):
    """No credit left: items stop; a half item keeps only the windows fetched whole."""
    sim = make_sim(4, monthly_credits=20)
    async with make_client(sim, max_concurrency=1) as client, open_store(sqlite_url) as store:
        report = await sync_once(client, store, SPEC, concurrency=1)
        assert report.not_attempted > 0
        assert report.outcome == "partial"
        assert not report.complete
        marks = {s.item: s.complete_until for s in await store.watermarks()}
        moved = {k for k, m in marks.items() if m is not None}
        assert report.succeeded <= len(moved) <= report.succeeded + report.not_attempted
        rows = await all_rows(store)
        stored = {(r[0], r[2]) for r in rows}
        assert stored == {(k.site_id, k.target) for k in moved}
        by_target = {(k.site_id, k.target): m for k, m in marks.items()}
        for r in rows:  # nothing past a watermark: the next run fetches from there
            mark = by_target[(r[0], r[2])]
            assert mark is not None
            assert r[5] < mark


async def test_named_sites_unknown_anywhere_cost_one_lookup_each(sqlite_url):
    """Sites named by id, unknown to client and store: one site call each, then planned."""
    sim = make_sim(3)
    async with make_client(sim) as probe:
        ids = tuple([s.site_id async for s in probe.sites()][:2])
    async with make_client(sim) as client, open_store(sqlite_url) as store:
        plan = await plan_sync(client, store, SyncSpec(what=("energy",), sites=ids), now=NOW)
        assert plan.discovery_credits == 2
        assert plan.sites == ids
        assert {s.site_id for s in plan.site_records} == set(ids)
        report = await run_sync(client, store, plan)
        assert report.complete
        assert {s.site_id for s in await store.sites()} == set(ids)
