"""Type-checked only (mypy --strict): credential pools as a user writes them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from solaredge_async import (
    ClientPool,
    ItemSucceeded,
    PoolSite,
    PoolSweepPlan,
    SiteNotInPoolError,
    SolarEdgeClient,
    SweepSpec,
    Usage,
    plan_pool_sweep,
    pool_sweep,
)
from solaredge_async.fleet import YESTERDAY, PoolSweepResults, SweepProgress
from solaredge_async.sync import (
    PoolSyncPlan,
    PoolSyncReport,
    SyncSpec,
    plan_pool_sync,
    run_pool_sync,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from solaredge_async.store import Store


async def union(keys: list[str]) -> dict[int, tuple[str, ...]]:
    """Which credentials see each site of two accounts."""
    async with ClientPool.from_api_keys(keys, requests_per_minute=10) as pool:
        sites: tuple[PoolSite, ...] = await pool.sites()
        client: SolarEdgeClient = await pool.client_for(sites[0].site_id)
        assert client.credential_id in sites[0].credentials
        try:
            await pool.client_for(1)
        except SiteNotInPoolError:
            pass
        usage: Usage = pool.usage
        assert usage.credits >= 0
        return {s.site_id: s.credentials for s in sites}


async def daily(pool: ClientPool) -> int:
    """Yesterday's energy over every credential; items fetched."""
    spec = SweepSpec(what={"energy"}, start=YESTERDAY, end=YESTERDAY)
    plan: PoolSweepPlan = await plan_pool_sweep(pool, spec)
    seconds: float = plan.duration()
    done = 0
    seen: list[tuple[int, int, float]] = []

    def show(progress: SweepProgress) -> None:
        seen.append((progress.done, progress.total, seconds))

    async with pool_sweep(pool, plan, on_progress=show, parallel=4) as results:
        stream: PoolSweepResults = results
        async for result in stream:
            if isinstance(result, ItemSucceeded):
                done += 1
        reasons: dict[str, str] = stream.stop_reasons
        assert isinstance(reasons, dict)
    return done


async def grants(providers: dict[int, Callable[[], Awaitable[str]]], store: Store) -> int:
    """Sync the sites of per-site grants of one application; rows stored."""
    async with ClientPool.from_grants(providers, requests_per_minute=10) as pool:
        plan: PoolSyncPlan = await plan_pool_sync(pool, store, SyncSpec(what=("energy",)))
        report: PoolSyncReport = await run_pool_sync(pool, store, plan, parallel=8)
        return report.rows
