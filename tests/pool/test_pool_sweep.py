"""One sweep over a credential pool: every item once, each site with a key that sees it."""

from __future__ import annotations

import attrs
import pytest

from solaredge_async import InvalidRequestError, SweepSpec
from solaredge_async.fleet import (
    QUOTA_EXHAUSTED,
    ClientPool,
    ItemNotAttempted,
    ItemSucceeded,
    SiteNotInPoolError,
    SweepProgress,
    SweepResult,
    plan_pool_sweep,
    plan_sweep,
    pool_sweep,
)
from tests.fleet._support import DAILY, NOW, leaks
from tests.pool._support import (
    KEY_A,
    KEY_B,
    access_token,
    fp,
    key_pool,
    make_sim,
    options,
    provider,
)

pytestmark = pytest.mark.anyio


async def run_all(pool: ClientPool, plan: object, **kw: object) -> list[SweepResult]:
    """Run a pool plan to the end and return every result."""
    out: list[SweepResult] = []
    async with pool_sweep(pool, plan, **kw) as results:  # type: ignore[arg-type]
        out.extend([r async for r in results])
    return out


async def test_every_item_once_each_site_with_the_key_that_sees_it():
    """Two accounts: each item comes out once; each call went out with its site's key."""
    sim = make_sim(sites=10)
    async with key_pool(sim) as pool:
        plan = await plan_pool_sweep(pool, DAILY, now=NOW)
        assert [p.credential for p in plan.parts] == [fp(KEY_A), fp(KEY_B)]
        results = await run_all(pool, plan)
    ids = [r.item.id for r in results]
    assert len(ids) == len(set(ids)) == len(plan) == plan.credits
    assert set(ids) == {i.id for i in plan}
    assert all(isinstance(r, ItemSucceeded) for r in results)
    assert sorted(plan.sites) == sorted(sim.fleet.sites_for(KEY_A) + sim.fleet.sites_for(KEY_B))
    for key in (KEY_A, KEY_B):
        own = {str(s) for s in sim.fleet.sites_for(key)}
        sent = [r for r in sim.requests if r.api_key == key and not r.path.endswith("/sites")]
        assert all(r.path.split("/")[3] in own for r in sent)
        assert all(r.status == 200 for r in sent)
    part = {p.credential: p.plan for p in plan.parts}
    # Each account paid its own share (plus its listing page), nothing for the other.
    assert sim.ledger(KEY_A).credits == part[fp(KEY_A)].credits + 1
    assert sim.ledger(KEY_B).credits == part[fp(KEY_B)].credits + 1
    assert plan.discovery_credits == plan.listing_credits == 2
    assert plan.credits_by_account() == {
        fp(KEY_A): part[fp(KEY_A)].credits,
        fp(KEY_B): part[fp(KEY_B)].credits,
    }


async def test_named_sites_are_split_and_a_site_no_key_sees_is_reported():
    """A spec's site_ids go to their credentials; an unseen site fails at no cost."""
    sim = make_sim(sites=8)
    a, b = sim.fleet.sites_for(KEY_A)[:2], sim.fleet.sites_for(KEY_B)[:1]
    unknown = 987_654_321
    spec = attrs.evolve(DAILY, site_ids=(*a, unknown, *b))
    async with key_pool(sim) as pool:
        plan = await plan_pool_sweep(pool, spec, now=NOW)
        results = await run_all(pool, plan)
    assert set(plan.sites) == {*a, *b}
    assert isinstance(plan.failed_sites[unknown], SiteNotInPoolError)
    assert {r.item.site_id for r in results} == {*a, *b}
    assert not [r for r in sim.requests if str(unknown) in r.path]


async def test_bad_spec_is_refused_before_any_data_call():
    """A resolution a target does not accept is the caller's mistake: raised, not recorded."""
    sim = make_sim(sites=4)
    spec = SweepSpec(what={"power"}, start=DAILY.start, end=DAILY.end, resolution="DAY")
    async with key_pool(sim) as pool:
        with pytest.raises(InvalidRequestError, match="resolution DAY"):
            await plan_pool_sweep(pool, spec, now=NOW)
    assert all(r.path.endswith("/sites") for r in sim.requests)


async def test_one_account_out_of_credits_stops_only_that_account():
    """Account A's month runs out mid-sweep: its rest is not attempted; B finishes."""
    sim = make_sim(sites=8, monthly_credits=1000)
    async with key_pool(sim) as pool:
        plan = await plan_pool_sweep(pool, DAILY, now=NOW)
        sim.use_credits(KEY_A, 1000 - 3)
        async with pool_sweep(pool, plan, concurrency=1) as results:
            out = [r async for r in results]
            reasons = results.stop_reasons
    assert len(out) == len(plan)
    by_key: dict[str, list[SweepResult]] = {}
    for r in out:
        key = KEY_A if r.item.site_id in sim.fleet.sites_for(KEY_A) else KEY_B
        by_key.setdefault(key, []).append(r)
    assert all(isinstance(r, ItemSucceeded) for r in by_key[KEY_B])
    succeeded_a = [r for r in by_key[KEY_A] if isinstance(r, ItemSucceeded)]
    skipped_a = [r for r in by_key[KEY_A] if isinstance(r, ItemNotAttempted)]
    assert len(succeeded_a) == 3
    assert skipped_a
    assert {r.reason for r in skipped_a} == {QUOTA_EXHAUSTED}
    assert reasons == {fp(KEY_A): QUOTA_EXHAUSTED}


async def test_grants_of_an_exhausted_account_not_started_are_skipped_without_calls():
    """Grants share the application's credits: once one finds them gone, the rest wait."""
    sim = make_sim(sites=6, monthly_credits=100)
    sites = sim.fleet.sites_for(KEY_A)[:3]
    tokens = {s: await access_token(sim, s) for s in sites}
    client_id = sim.oauth_client[0]
    spec = SweepSpec(what={"overview"})
    pool = ClientPool.from_grants({s: provider(t) for s, t in tokens.items()}, **options(sim))
    async with pool:
        plan = await plan_pool_sweep(pool, spec, now=NOW)
        sim.use_credits(client_id, 100)
        calls_before = sim.ledger(client_id).calls
        out = await run_all(pool, plan, parallel=1)
    assert len(out) == len(plan) == 3
    assert all(isinstance(r, ItemNotAttempted) and r.reason == QUOTA_EXHAUSTED for r in out)
    # Only the first grant tried (and got the monthly 429); the others never called.
    assert sim.ledger(client_id).calls - calls_before == 1
    assert {pool.account_of(c) for c in pool.credentials} == {pool.credentials[0]}


async def test_resume_runs_only_what_is_left():
    """`without(done)` keeps the rest of each part; `only(ids)` just those items."""
    sim = make_sim(sites=6)
    async with key_pool(sim) as pool:
        plan = await plan_pool_sweep(pool, DAILY, now=NOW)
        first_part = {i.id for i in plan.parts[0].plan}
        rest = plan.without(first_part)
        assert len(rest) == len(plan) - len(first_part)
        assert {r.item.id for r in await run_all(pool, rest)} == {i.id for i in plan} - first_part
        again = plan.only(sorted(first_part)[:2])
        assert len(again) == 2
        assert len(await run_all(pool, again)) == 2


async def test_leaving_early_cancels_every_part_and_leaks_nothing():
    """Breaking out after a few results: no slot or lock left behind; clients still work."""
    sim = make_sim(sites=10)
    async with key_pool(sim) as pool:
        plan = await plan_pool_sweep(pool, DAILY, now=NOW)
        taken = 0
        async with pool_sweep(pool, plan, concurrency=2, buffer_size=0) as results:
            async for _ in results:
                taken += 1
                if taken == 3:
                    break
        assert taken == 3
        for client in pool.clients:
            assert leaks(client) == []
        site_id = sim.fleet.sites_for(KEY_B)[0]
        assert await (await pool.client_for(site_id)).site_overview(site_id) is not None


async def test_progress_sums_the_parts():
    """The last progress report covers every item and every credit of both accounts."""
    sim = make_sim(sites=6)
    reports: list[SweepProgress] = []
    async with key_pool(sim) as pool:
        plan = await plan_pool_sweep(pool, DAILY, now=NOW)
        await run_all(pool, plan, on_progress=reports.append, progress_interval=0.0)
    last = reports[-1]
    assert last.total == last.done == last.succeeded == len(plan)
    assert last.credits == last.planned_credits == plan.credits
    assert last.stopped is None
    assert last.eta == 0.0


async def test_duration_is_the_longest_account_at_its_rate():
    """Accounts run side by side: the plan's time is the slowest account's."""
    sim = make_sim(sites=6)
    async with key_pool(sim, requests_per_minute=10) as pool:
        plan = await plan_pool_sweep(pool, DAILY, now=NOW)
    longest = max(p.plan.duration() for p in plan.parts)
    assert plan.duration() == pytest.approx(longest)
    assert plan.duration() < sum(p.plan.duration() for p in plan.parts)
    assert plan.duration(requests_per_minute=20) == pytest.approx(longest / 2)


async def test_a_plan_from_another_pool_is_refused():
    """pool_sweep checks each part's credential is in the pool."""
    sim = make_sim(sites=4)
    async with key_pool(sim) as pool, key_pool(sim, keys=(KEY_A,)) as other:
        plan = await plan_pool_sweep(pool, DAILY, now=NOW)
        with pytest.raises(InvalidRequestError, match="no credential"):
            pool_sweep(other, plan)
        with pytest.raises(InvalidRequestError, match="parallel"):
            pool_sweep(pool, plan, parallel=0)


async def test_a_pool_of_one_key_plans_exactly_as_plan_sweep():
    """One key: the same items and price as `plan_sweep`, GET /alerts included."""
    sim = make_sim(sites=6, keys=(KEY_A,))
    spec = SweepSpec(what={"overview", "alerts"}, start=DAILY.start, end=DAILY.end)
    async with key_pool(sim, keys=(KEY_A,)) as pool:
        plan = await plan_pool_sweep(pool, spec, now=NOW)
        single = await plan_sweep(pool.clients[0], spec, now=NOW)
    assert [i.id for i in plan] == [i.id for i in single]
    assert "fleet:alerts" in {i.id for i in plan}
    assert plan.discovery_credits == single.discovery_credits == 1


async def test_alerts_of_a_key_that_fetches_all_its_sites_come_in_bulk():
    """Two keys, each fetching every site it sees: one GET /alerts item each, no per-site one."""
    sim = make_sim(sites=6)
    spec = SweepSpec(what={"alerts"})
    async with key_pool(sim) as pool:
        plan = await plan_pool_sweep(pool, spec, now=NOW)
        results = await run_all(pool, plan)
    assert [i.kind for i in plan] == ["fleet_alerts", "fleet_alerts"]
    assert all(isinstance(r, ItemSucceeded) for r in results)
    alerts = [a for r in results if isinstance(r, ItemSucceeded) for a in r.record]  # type: ignore[union-attr]
    assert alerts
    assert len({(a.site_id, a.alert_id) for a in alerts}) == len(alerts)


async def test_pool_totals_sum_the_credentials():
    """`usage` sums every client's counters; the pace is the accounts' rates added up."""
    sim = make_sim(sites=6)
    async with key_pool(sim, requests_per_minute=600) as pool:
        plan = await plan_pool_sweep(pool, DAILY, now=NOW)
        async with pool_sweep(pool, plan) as results:
            got = [r async for r in results]
            assert results.stop_reason is None
        usage = pool.usage
        each = pool.usage_by_credential()
    assert plan.requests_per_minute == 1200
    assert usage.credential == "pool"
    assert usage.credits == sum(u.credits for u in each.values()) == len(got) + 2
    assert not usage.quota_exhausted


async def test_many_grants_of_one_application_in_one_sweep():
    """Twenty per-site grants: each site's zone looked up once, each item fetched once."""
    sim = make_sim(sites=20)
    sites = sim.fleet.sites_for(KEY_A) + sim.fleet.sites_for(KEY_B)
    tokens = {s: await access_token(sim, s) for s in sites}
    sim.clear_requests()
    spec = SweepSpec(what={"overview"}, start=DAILY.start, end=DAILY.end)
    pool = ClientPool.from_grants({s: provider(t) for s, t in tokens.items()}, **options(sim))
    async with pool:
        plan = await plan_pool_sweep(pool, spec, now=NOW)
        assert len(plan.parts) == 20
        assert plan.discovery_credits == 20  # one zone lookup per grant, no listing
        results = await run_all(pool, plan)
    assert sorted(r.item.site_id for r in results) == sorted(sites)
    assert all(isinstance(r, ItemSucceeded) for r in results)
    assert {r.auth for r in sim.requests} == {"bearer"}


async def test_a_pool_that_sees_none_of_the_named_sites_runs_an_empty_sweep():
    """No part: the stream ends at once; the sites are reported, nothing is spent."""
    sim = make_sim(sites=4)
    async with key_pool(sim) as pool:
        plan = await plan_pool_sweep(pool, attrs.evolve(DAILY, site_ids=(11, 12)), now=NOW)
        assert plan.parts == ()
        assert set(plan.failed_sites) == {11, 12}
        assert await run_all(pool, plan) == []
        assert plan.duration() == 0.0
        assert plan.requests_per_minute is None
