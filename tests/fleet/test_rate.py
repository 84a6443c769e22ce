"""Rate-limited sweeps on a virtual clock: paced at the limit, no 429, honest ETA."""

from __future__ import annotations

import anyio
import pytest

from solaredge_async.fleet import ItemSucceeded, SweepProgress, plan_sweep, sweep
from solaredge_async.testing import Faults
from tests._clock import virtual_backend

from ._support import DAILY, leaks, make_client, make_sim

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request):
    """Each test on asyncio and trio, both with an auto-jumping virtual clock."""
    return virtual_backend(str(request.param))


async def test_sweep_runs_at_the_limit_without_429_and_as_long_as_planned():
    """60 calls/min enforced: 50 items take the planned 50.4 s, with no 429 at all."""
    sim = make_sim(10, requests_per_minute=60)
    seen: list[SweepProgress] = []
    async with make_client(sim, requests_per_minute=60, max_concurrency=3) as client:
        plan = await plan_sweep(client, DAILY, now=sim.now())
        assert plan.credits == 50
        assert plan.requests_per_minute == 60
        started = anyio.current_time()
        async with sweep(client, plan, on_progress=seen.append, progress_interval=5) as results:
            got = [r async for r in results]
        elapsed = anyio.current_time() - started
        assert not leaks(client)
    assert all(isinstance(r, ItemSucceeded) for r in got)
    assert sim.ledger(sim.api_key).minute_429s == 0
    # One grant per 60.5 s / 60 = 1.008 s; the first call was the discovery's.
    assert plan.duration() == pytest.approx(50 * 60.5 / 60)
    assert elapsed == pytest.approx(plan.duration(), abs=1.5)
    middle = [s for s in seen if 0 < s.done < s.total]
    assert middle
    for s in middle:
        assert s.rate == pytest.approx(60 * 60 / 60.5, rel=0.1)
        assert s.eta is not None
        assert s.eta == pytest.approx((s.total - s.done) * 60.5 / 60, abs=3)
    assert seen[-1].done == seen[-1].total == 50
    assert seen[-1].eta == 0.0


async def test_per_minute_429s_are_retried_and_counted():
    """Spurious per-minute 429s (another app of the account) are retried, counted, lost never."""
    sim = make_sim(4, requests_per_minute=600, faults=Faults(rate_limit_burst=0.2, seed=3))
    async with make_client(sim, requests_per_minute=600, max_concurrency=2) as client:
        plan = await plan_sweep(client, DAILY, now=sim.now())
        async with sweep(client, plan) as results:
            got = [r async for r in results]
            final = results.progress
    assert all(isinstance(r, ItemSucceeded) for r in got)
    assert final.rate_limited > 0
    assert final.retries >= final.rate_limited
    # 429s cost nothing: the server charged exactly the plan, discovery apart.
    assert sim.ledger(sim.api_key).credits == plan.credits + plan.discovery_credits
