"""Pool sweeps at the accounts' limits, on a virtual clock: each account its own bucket."""

from __future__ import annotations

import pytest

from solaredge_async.fleet import ItemSucceeded, plan_pool_sweep, pool_sweep
from tests._clock import virtual_backend
from tests.fleet._support import DAILY, NOW, leaks
from tests.pool._support import KEY_A, KEY_B, key_pool, make_sim

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request):
    """Each test on asyncio and trio, both with an auto-jumping virtual clock."""
    return virtual_backend(str(request.param))


async def test_each_account_runs_at_its_own_limit_side_by_side_without_429():
    """Two accounts at 20/min each: no 429 anywhere; each limiter paced only its own calls."""
    sim = make_sim(sites=12, requests_per_minute=20)
    async with key_pool(sim, requests_per_minute=20, max_concurrency=2) as pool:
        plan = await plan_pool_sweep(pool, DAILY, now=NOW)
        async with pool_sweep(pool, plan) as results:
            got = [r async for r in results]
        for client in pool.clients:
            assert not leaks(client)
        shares = {p.credential: p.plan.credits for p in plan.parts}
        for client in pool.clients:
            assert client.rate_limiter is not None
            # Its share plus its listing page, nothing of the other account's.
            assert client.rate_limiter.granted == shares[client.credential_id] + 1
    assert len(got) == len(plan)
    assert all(isinstance(r, ItemSucceeded) for r in got)
    for key in (KEY_A, KEY_B):
        usage = sim.ledger(key)
        assert usage.minute_429s == 0
        assert usage.statuses == {200: usage.calls}
    # Side by side, not one account after the other: the first half of the results
    # holds a fair share of each account's items.
    owner = dict.fromkeys(sim.fleet.sites_for(KEY_A), KEY_A)
    first_half = [owner.get(r.item.site_id, KEY_B) for r in got[: len(got) // 2]]
    assert first_half.count(KEY_A) >= len(first_half) // 3
    assert first_half.count(KEY_B) >= len(first_half) // 3
