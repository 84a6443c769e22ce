"""Shared support of the sync tests: a frozen simulator, a client, stored rows."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import httpx

from solaredge_async.store import open_store
from solaredge_async.sync import SyncSpec, plan_sync, run_sync
from tests.fleet._support import NOW, make_client, make_sim

if TYPE_CHECKING:
    from solaredge_async import SolarEdgeClient
    from solaredge_async.store import Store
    from solaredge_async.sync import SyncReport
    from solaredge_async.testing import Simulator

__all__ = [
    "NOW",
    "SINCE",
    "BadSite",
    "all_rows",
    "fresh_sync",
    "make_client",
    "make_sim",
    "sync_once",
]

#: The first day synced by the tests (the simulator's now is 2026-05-12 14:37 UTC).
SINCE = date(2026, 5, 11)
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_FAR = datetime(2100, 1, 1, tzinfo=UTC)

#: A stored row as a comparable tuple.
StoredRow = tuple[int, str, str, str, str, datetime, datetime, float | None, str | None]


async def all_rows(store: Store, site_ids: object = None) -> list[StoredRow]:
    """Every stored measurement row, sorted."""
    ids = [s.site_id for s in await store.sites()] if site_ids is None else list(site_ids)  # type: ignore[call-overload]
    out: list[StoredRow] = []
    for site_id in ids:
        stored = await store.measurements(site_id, start=_EPOCH, end=_FAR)
        out.extend(
            (
                r.site_id,
                r.device_serial,
                r.source,
                r.metric,
                r.resolution,
                r.period_start.astimezone(UTC),
                r.period_end.astimezone(UTC),
                r.value,
                r.unit,
            )
            for r in stored
        )
    return sorted(out)


async def sync_once(
    client: SolarEdgeClient,
    store: Store,
    spec: SyncSpec,
    now: datetime = NOW,
    **kw: object,
) -> SyncReport:
    """Plan and run one sync."""
    plan = await plan_sync(client, store, spec, now=now)
    return await run_sync(client, store, plan, **kw)  # type: ignore[arg-type]


async def fresh_sync(sim: Simulator, url: str, spec: SyncSpec) -> list[StoredRow]:
    """The rows of one uninterrupted sync of ``spec`` into a new store at ``url``."""
    async with make_client(sim) as client, open_store(url) as store:
        report = await sync_once(client, store, spec)
        assert report.complete
        return await all_rows(store)


class BadSite(httpx.AsyncBaseTransport):
    """The simulator's transport, with a broken body for one site's ``/energy``."""

    def __init__(self, sim: Simulator, site_id: int) -> None:
        self.inner = sim.transport()
        self.site_id = site_id
        self.broken = True

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.broken and request.url.path.endswith(f"/sites/{self.site_id}/energy"):
            return httpx.Response(
                200, content=b'{"unit": "WH", "values": [{"timestamp": 7', request=request
            )
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()
