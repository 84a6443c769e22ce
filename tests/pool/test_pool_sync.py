"""One sync over a credential pool: every site with its own key, into one store."""

from __future__ import annotations

import pytest

from solaredge_async import SolarEdgeClient
from solaredge_async.fleet import SiteNotInPoolError
from solaredge_async.store import open_store
from solaredge_async.sync import (
    SyncProgress,
    SyncSpec,
    plan_pool_sync,
    plan_sync,
    run_pool_sync,
    run_sync,
)
from tests.fleet._support import NOW
from tests.pool._support import KEY_A, KEY_B, fp, key_pool, make_sim, options
from tests.sync._support import SINCE, all_rows

pytestmark = pytest.mark.anyio

SPEC = SyncSpec(what=("energy", "power"), since=SINCE)


@pytest.fixture
def db(tmp_path):
    """A URL to a new SQLite file."""
    return f"sqlite:///{tmp_path / 'pool.db'}"


async def test_a_pool_sync_stores_what_each_account_would_store_alone(db, tmp_path):
    """Two keys into one store: the same rows as each key synced alone; each key paid its share."""
    sim = make_sim(sites=6)
    seen: list[SyncProgress] = []
    async with key_pool(sim) as pool, open_store(db) as store:
        plan = await plan_pool_sync(pool, store, SPEC, now=NOW)
        assert [p.credential for p in plan.parts] == list(pool.credentials)
        assert sorted(plan.sites) == sorted(sim.fleet.sites_for(KEY_A) + sim.fleet.sites_for(KEY_B))
        report = await run_pool_sync(pool, store, plan, on_progress=seen.append)
        assert report.complete
        assert report.outcome == "ok"
        assert report.credits == plan.credits
        assert set(report.run_ids) == set(pool.credentials)
        pooled = await all_rows(store)
        names = {s.site_id: s.name for s in await store.sites()}
    assert pooled
    assert set(names) == set(plan.sites)
    assert all(names.values())  # the listing's records were stored
    assert seen[-1].done == seen[-1].total == len(plan.items)
    share = {p.credential: p.plan.credits for p in plan.parts}
    for key in (KEY_A, KEY_B):
        assert sim.ledger(key).credits == share[fp(key)] + 1  # its share and its listing
    alone: list[object] = []
    for key in (KEY_A, KEY_B):
        url = f"sqlite:///{tmp_path / (key + '.db')}"
        async with SolarEdgeClient(api_key=key, **options(sim)) as client, open_store(url) as own:  # type: ignore[arg-type]
            single = await plan_sync(client, own, SPEC, now=NOW)
            assert (await run_sync(client, own, single)).complete
            alone.extend(await all_rows(own))
    assert pooled == sorted(alone)  # type: ignore[type-var]


async def test_a_second_pool_sync_spends_only_the_open_window(db):
    """Run 2 at once: one call per item (the settle window), nothing new inserted."""
    sim = make_sim(sites=6)
    async with key_pool(sim) as pool, open_store(db) as store:
        first = await run_pool_sync(pool, store, await plan_pool_sync(pool, store, SPEC, now=NOW))
        assert first.complete
        again = await plan_pool_sync(pool, store, SPEC, now=NOW)
        assert again.credits == len(again.items) == 12
        second = await run_pool_sync(pool, store, again)
        assert second.rows_inserted == 0
        assert second.rows_unchanged > 0


async def test_a_named_site_no_key_sees_is_reported_and_the_sync_incomplete(db):
    """An unseen site fails at planning with no call; the rest is synced."""
    sim = make_sim(sites=4)
    wanted = (*sim.fleet.sites_for(KEY_A)[:1], 424242, *sim.fleet.sites_for(KEY_B)[:1])
    spec = SyncSpec(what=("energy",), since=SINCE, sites=wanted)
    async with key_pool(sim) as pool, open_store(db) as store:
        plan = await plan_pool_sync(pool, store, spec, now=NOW)
        assert isinstance(plan.failed_sites[424242], SiteNotInPoolError)
        report = await run_pool_sync(pool, store, plan)
    assert report.succeeded == len(plan.items) == 2
    assert not report.complete
    assert not [r for r in sim.requests if "424242" in r.path]


async def test_a_pool_of_one_key_plans_as_plan_sync(db):
    """One key: the same items and discovery as `plan_sync`."""
    sim = make_sim(sites=4, keys=(KEY_A,))
    async with key_pool(sim, keys=(KEY_A,)) as pool, open_store(db) as store:
        plan = await plan_pool_sync(pool, store, SPEC, now=NOW)
        single = await plan_sync(pool.clients[0], store, SPEC, now=NOW)
    assert [i.key for i in plan.items] == [i.key for i in single.items]
    assert plan.discovery_credits == single.discovery_credits == 1
