"""Running sweeps against the in-process simulator: exactly once, true data, exact credits."""

from __future__ import annotations

import random
from collections import Counter

import anyio
import anyio.lowlevel
import pytest

from solaredge_async import (
    Measurements,
    PermissionDeniedError,
    QuotaExhaustedError,
    SiteOverview,
    Telemetry,
)
from solaredge_async.fleet import (
    QUOTA_EXHAUSTED,
    YESTERDAY,
    ItemFailed,
    ItemNotAttempted,
    ItemSucceeded,
    SweepProgress,
    SweepSpec,
    WorkItem,
    flat_rows,
    plan_sweep,
    sweep,
)

from ._support import DAILY, leaks, make_client, make_sim, run_all

pytestmark = pytest.mark.anyio


def _check_truth(sim, result: ItemSucceeded) -> int:
    """Compare one result with the simulator's ground truth; return the points checked."""
    item, record = result.item, result.record
    site = item.site_id
    if item.kind == "energy":
        assert isinstance(record, Measurements)
        truth = sim.fleet.energy(site, item.start, item.end, "QUARTER_HOUR")
        assert [t.isoformat() for t in record.timestamps] == [t.isoformat() for t, _ in truth]
        assert list(record.values) == [v for _, v in truth]
        assert record.unit == "WH"
        return len(truth)
    if item.kind == "overview":
        assert isinstance(record, SiteOverview)
        truth = sim.fleet.overview(site, item.start, item.end)
        assert record.production is not None
        assert record.production.total == truth["production"]
        assert record.production.to_grid == truth["to_grid"]
        assert record.consumption is not None
        assert record.consumption.total == truth["consumption"]
        assert record.consumption.from_storage == truth["from_storage"]
        return 1
    assert item.kind == "inverter_telemetry"
    assert isinstance(record, Telemetry)
    assert set(record.devices) == set(sim.fleet.site(site).inverters)
    checked = 0
    for serial, metrics in record.devices.items():
        assert set(metrics) == {"power", "energy", "voltage", "current", "frequency"}
        for name in ("energy", "voltage"):
            truth = sim.fleet.telemetry(site, serial, name, start=item.start, end=item.end)
            series = metrics[name]
            assert [t.isoformat() for t in series.timestamps] == [t.isoformat() for t, _ in truth]
            assert list(series.values) == [v for _, v in truth]
            checked += len(truth)
    return checked


async def test_few_hundred_sites_every_item_once_true_data_exact_credits():
    """200 sites: each item exactly once, equal to the ground truth; credits = plan price."""
    sim = make_sim(200)
    async with make_client(sim) as client:
        plan = await plan_sweep(client, DAILY, now=sim.now())
        charged_before = sim.ledger(sim.api_key).credits
        results = await run_all(client, plan)
        assert not leaks(client)
    assert [type(r) for r in results] == [ItemSucceeded] * len(plan)
    ids = Counter(r.item.id for r in results)
    assert set(ids) == {i.id for i in plan}
    assert max(ids.values()) == 1
    assert sim.ledger(sim.api_key).credits - charged_before == plan.credits == 1000
    assert sim.ledger(sim.api_key).credits == plan.credits + plan.discovery_credits
    points = sum(_check_truth(sim, r) for r in results if isinstance(r, ItemSucceeded))
    assert points > 50_000  # every bucket of every checked series compared


async def test_one_failing_site_never_cancels_the_others():
    """A site of another account fails with its typed error; every other item succeeds."""
    sim = make_sim(6)
    ids = list(sim.fleet.sites_for(sim.api_key))
    async with make_client(sim) as client:
        spec = SweepSpec(what={"energy", "devices"}, site_ids=[*ids, 4242])
        plan = await plan_sweep(client, spec, now=sim.now())
        assert plan.discovery_credits == 0  # default window: no zones needed
        results = await run_all(client, plan)
    failed = [r for r in results if isinstance(r, ItemFailed)]
    assert {r.item.site_id for r in failed} == {4242}
    assert all(isinstance(r.error, PermissionDeniedError) for r in failed)
    assert sum(isinstance(r, ItemSucceeded) for r in results) == 2 * len(ids)
    assert len(results) == len(plan)


async def test_quota_exhausted_mid_sweep_then_resume_completes_exactly_the_rest():
    """Credits run out: the rest is not attempted; a resumed sweep fetches exactly those."""
    # A per-minute limit far away, so the gateway sends its headers: a 429 with
    # `remaining > 0` and no Retry-After is how the monthly refusal is told apart.
    sim = make_sim(30, monthly_credits=101, requests_per_minute=1_000_000)
    async with make_client(sim) as client:
        plan = await plan_sweep(client, DAILY, now=sim.now())  # 1 credit
        first = await run_all(client, plan)
        assert not leaks(client)
        done = [r for r in first if isinstance(r, ItemSucceeded)]
        skipped = [r for r in first if isinstance(r, ItemNotAttempted)]
        assert len(done) == 100  # exactly the credits left
        assert len(skipped) == len(plan) - 100
        assert {r.reason for r in skipped} == {QUOTA_EXHAUSTED}
        assert not any(isinstance(r, ItemFailed) for r in first)
        with pytest.raises(QuotaExhaustedError):  # refused locally, nothing sent
            await client.site_overview(plan.sites[0])

        # The next billing month: resume with exactly the items not done.
        sim.reset_month()
        client.reset_quota()
        rest = plan.only([r.item.id for r in skipped])
        assert rest.credits == len(skipped)
        second = await run_all(client, rest)
    assert all(isinstance(r, ItemSucceeded) for r in second)
    all_ids = [r.item.id for r in done] + [r.item.id for r in second]
    assert sorted(all_ids) == sorted(i.id for i in plan)
    assert sim.ledger(sim.api_key).lifetime_credits == 1 + len(plan)


async def test_cancelling_at_random_points_leaks_nothing():
    """Cancel scopes fired after k results (seeded) leave no slot or token behind."""
    sim = make_sim(12)
    rng = random.Random(5)  # noqa: S311 - seeded test schedule, not cryptography
    async with make_client(sim, requests_per_minute=600_000, max_concurrency=4) as client:
        plan = await plan_sweep(client, DAILY, now=sim.now())
        tasks_before = len(anyio.get_running_tasks())
        for _ in range(8):
            stop_after = rng.randrange(0, len(plan))
            seen = 0
            with anyio.CancelScope() as scope:
                async with sweep(client, plan, concurrency=rng.choice([1, 3, 8])) as results:
                    async for _result in results:
                        seen += 1
                        if seen >= stop_after:
                            scope.cancel()
                            await anyio.lowlevel.checkpoint()  # cancelled here
            assert scope.cancelled_caught
            assert seen == max(stop_after, 1)
            assert not leaks(client)
            assert len(anyio.get_running_tasks()) == tasks_before
        # The client is still usable afterwards.
        overview = await client.site_overview(plan.sites[0])
        assert overview.site_id == plan.sites[0]


async def test_breaking_out_and_raising_are_clean_and_unwrapped():
    """`break` ends the sweep cleanly; an error in the block propagates as itself."""
    sim = make_sim(10)
    async with make_client(sim) as client:
        plan = await plan_sweep(client, DAILY, now=sim.now())
        async with sweep(client, plan) as results:
            async for _result in results:
                break
        assert not leaks(client)
        with pytest.raises(KeyError, match="boom"):
            async with sweep(client, plan) as results:
                async for _result in results:
                    raise KeyError("boom")
        assert not leaks(client)
        again = await run_all(client, plan)
        assert len(again) == len(plan)


async def test_slow_consumer_bounds_the_work_in_progress():
    """Back-pressure: with a consumer that never reads, only concurrency + buffer items run."""
    sim = make_sim(20)
    async with make_client(sim) as client:
        plan = await plan_sweep(client, DAILY, now=sim.now())
        before = sim.ledger(sim.api_key).calls
        with anyio.move_on_after(0.5):
            async with sweep(client, plan, concurrency=3, buffer_size=2):
                await anyio.sleep(1)  # never read a result
        sent = sim.ledger(sim.api_key).calls - before
        assert sent == 3 + 2  # 2 results buffered, 3 tasks holding theirs
        assert not leaks(client)


async def test_progress_reports_counts_credits_and_the_end():
    """The callback sees monotone progress and a final snapshot with every item done."""
    sim = make_sim(15)
    snapshots: list[SweepProgress] = []
    async with make_client(sim) as client:
        plan = await plan_sweep(client, DAILY, now=sim.now())
        async with sweep(client, plan, on_progress=snapshots.append, progress_interval=0) as res:
            rows = 0
            async for r in res:
                if isinstance(r, ItemSucceeded):
                    rows += sum(1 for _ in flat_rows(r))
            final = res.progress
    assert rows > 0
    assert snapshots[-1] == final or snapshots[-1].done == final.done
    assert [s.done for s in snapshots] == sorted(s.done for s in snapshots)
    assert final.done == final.total == final.succeeded == len(plan)
    assert final.credits == plan.credits == final.planned_credits
    assert final.failed == final.not_attempted == final.retries == final.rate_limited == 0
    assert final.eta == 0.0
    assert final.stopped is None
    assert final.rate > 0


async def test_telemetry_keeps_only_the_metrics_asked_for_and_per_device_agrees():
    """Bulk voltage equals per-device voltage; the bulk record holds only voltage."""
    sim = make_sim(3)
    async with make_client(sim) as client:
        bulk_spec = SweepSpec(what={"inverter_voltage"}, start=YESTERDAY, end=YESTERDAY)
        bulk = await run_all(client, await plan_sweep(client, bulk_spec, now=sim.now()))
        per_spec = SweepSpec(
            what={"inverter_voltage"}, start=YESTERDAY, end=YESTERDAY, prefer_bulk=False
        )
        per = await run_all(client, await plan_sweep(client, per_spec, now=sim.now()))

    def rows(results):
        out = set()
        for r in results:
            assert isinstance(r, ItemSucceeded)
            for row in flat_rows(r):
                out.add((row[0], row[1], row[3], row[4], row[6], row[7]))
        return out

    for r in bulk:
        assert isinstance(r.record, Telemetry)
        assert all(set(m) == {"voltage"} for m in r.record.devices.values())
    assert rows(bulk) == rows(per)
    assert len(per) > len(bulk)


@pytest.mark.loopback
async def test_cancelled_sweep_over_loopback_leaves_the_pool_clean():
    """Over real sockets, a sweep cancelled mid-flight leaves no busy connection or waiter."""
    from solaredge_async import SolarEdgeClient
    from solaredge_async.testing import Faults

    sim = make_sim(8, faults=Faults(latency=(0.02, 0.01), seed=1))
    async with (
        sim.serve() as base_url,
        SolarEdgeClient(
            api_key=sim.api_key, base_url=base_url, requests_per_minute=None, max_concurrency=4
        ) as client,
    ):
        plan = await plan_sweep(client, DAILY, now=sim.now())
        for stop_after in (1, 7, 19):
            seen = 0
            with anyio.CancelScope() as scope:
                async with sweep(client, plan) as results:
                    async for _result in results:
                        seen += 1
                        if seen == stop_after:
                            scope.cancel()
            assert not leaks(client)
            assert client._http._transport.busy() == (0, 0)  # every httpcore pool idle
        overview = await client.site_overview(plan.sites[0])
        assert overview.site_id == plan.sites[0]


async def test_refused_credential_stops_the_sweep_after_the_first_401():
    """A wrong key fails the items in flight and leaves the rest unattempted, unpaid."""
    from solaredge_async import AuthenticationError, SolarEdgeClient
    from solaredge_async.fleet import AUTHENTICATION_FAILED

    sim = make_sim(40)
    ids = sim.fleet.sites_for(sim.api_key)
    async with SolarEdgeClient(
        api_key="WRONGKEY000000000000000000000000",
        transport=sim.transport(),
        base_url=sim.base_url,
        requests_per_minute=None,
        max_concurrency=2,
    ) as client:
        plan = await plan_sweep(client, SweepSpec(what={"energy"}, site_ids=ids), now=sim.now())
        results = await run_all(client, plan, concurrency=2)
    failed = [r for r in results if isinstance(r, ItemFailed)]
    skipped = [r for r in results if isinstance(r, ItemNotAttempted)]
    assert 1 <= len(failed) <= 2
    assert all(isinstance(r.error, AuthenticationError) for r in failed)
    assert {r.reason for r in skipped} == {AUTHENTICATION_FAILED}
    assert len(failed) + len(skipped) == len(plan) == 40
    assert sim.ledger(None).calls <= 2


async def test_client_closed_mid_sweep_accounts_for_every_item():
    """Closing the client stops the sweep; each item still ends exactly once."""
    from solaredge_async.fleet import CLIENT_CLOSED

    sim = make_sim(20)
    client = make_client(sim)
    plan = await plan_sweep(client, DAILY, now=sim.now())
    seen = []
    async with sweep(client, plan) as results:
        async for r in results:
            seen.append(r)
            if len(seen) == 5:
                await client.aclose()
    assert sorted(r.item.id for r in seen) == sorted(i.id for i in plan)
    reasons = {r.reason for r in seen if isinstance(r, ItemNotAttempted)}
    assert reasons == {CLIENT_CLOSED}


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (WorkItem(kind="nope", site_id=1), "unknown work item kind 'nope'"),
        (WorkItem(kind="inverter_voltage", site_id=1), "needs a serial"),
        (WorkItem(kind="power_flow", site_id=1), "cannot run 'power_flow'"),
    ],
)
async def test_dispatch_refuses_items_it_cannot_run(item, message):
    """The table-driven dispatch refuses, without a call, items no plan makes."""
    from solaredge_async.fleet._run import _Run

    sim = make_sim(sites=1)
    async with make_client(sim) as client:
        plan = await plan_sweep(client, SweepSpec(what={"devices"}), now=sim.now())
        spent = client.usage.credits
        run = _Run(client, plan, concurrency=1, on_progress=None, progress_interval=1.0)
        result = await run._execute(item)
        assert isinstance(result, ItemFailed)
        assert message in str(result.error)
        assert client.usage.credits == spent
