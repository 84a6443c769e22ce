"""An item's windows: the watermark covers only what the server sent, in order.

A window whose series stops short caps the watermark at its last bucket; a failing
window keeps the windows before it (committed, watermark at their end).
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from solaredge_async import SolarEdgeClient
from solaredge_async.store import open_store
from solaredge_async.sync import SyncSpec, plan_sync, run_sync

from ._support import NOW, all_rows, make_client, make_sim

if TYPE_CHECKING:
    from solaredge_async.testing import Simulator

pytestmark = pytest.mark.anyio

DAY = date(2026, 5, 11)


class _TruncatingServer(httpx.AsyncBaseTransport):
    """The simulator, but ``/energy`` answers only the first 3/4 of each window.

    Stands for a server that silently caps a window (the reference, section 5: live
    defaulted windows came back shorter or longer than documented) or drops the tail.
    """

    def __init__(self, sim: Simulator) -> None:
        self.inner = sim.transport()
        self.truncate = True

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if not (self.truncate and request.url.path.endswith("/energy")):
            return response
        await response.aread()
        body = json.loads(response.content)
        values = body["values"]
        body["values"] = values[: len(values) * 3 // 4]
        return httpx.Response(200, json=body, request=request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_watermark_does_not_pass_buckets_the_server_never_sent(tmp_path):
    """A closed window's watermark stops at the last bucket the server sent.

    The first run gets only 3/4 of every window; its watermark must stay at the last
    bucket received (or the item must fail), so the next run with an honest server
    fills the gap and the store ends with the rows of a clean sync.
    """
    sim = make_sim(2)
    spec = SyncSpec(what=("energy",), since=DAY, until=DAY)
    later = NOW + timedelta(days=3)
    server = _TruncatingServer(sim)
    url = f"sqlite:///{tmp_path / 'a.db'}"
    async with (
        SolarEdgeClient(
            api_key=sim.api_key,
            transport=server,
            base_url=sim.base_url,
            requests_per_minute=None,
        ) as client,
        open_store(url) as store,
    ):
        first = await run_sync(client, store, await plan_sync(client, store, spec, now=later))
        server.truncate = False
        await run_sync(client, store, await plan_sync(client, store, spec, now=later))
        got = await all_rows(store)
    del first
    want = await fresh_sync_at(sim, f"sqlite:///{tmp_path / 'ref.db'}", spec, later)
    assert len(got) == len(want), "buckets the server never sent are marked complete"
    assert got == want


async def fresh_sync_at(sim: Simulator, url: str, spec: SyncSpec, now: Any) -> list[Any]:
    """The rows of one clean sync at ``now``."""
    async with make_client(sim) as client, open_store(url) as store:
        report = await run_sync(client, store, await plan_sync(client, store, spec, now=now))
        assert report.complete
        return await all_rows(store)


class _OneBadWindow(httpx.AsyncBaseTransport):
    """The simulator, but ``/energy`` windows starting at ``bad_from`` get a broken body."""

    def __init__(self, sim: Simulator, bad_from: str) -> None:
        self.inner = sim.transport()
        self.bad_from = bad_from
        self.energy_calls = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/energy"):
            self.energy_calls += 1
            if request.url.params.get("from", "").startswith(self.bad_from):
                return httpx.Response(200, content=b'{"unit": "WH", "values": [', request=request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_one_bad_window_does_not_make_every_run_repay_the_whole_backfill(tmp_path):
    """One window that keeps failing does not make every run re-buy the others.

    A 3-day backfill is 6 calls; the last window keeps failing (a bad body). The 5
    windows before it are committed and the watermark moves to their end, so the next
    run is priced for the bad window alone; the error is recorded on the item.
    """
    sim = make_sim(1)
    spec = SyncSpec(what=("energy",), since=date(2026, 5, 9), until=DAY)
    later = NOW + timedelta(days=3)
    server = _OneBadWindow(sim, bad_from="2026-05-11T12")
    async with (
        SolarEdgeClient(
            api_key=sim.api_key,
            transport=server,
            base_url=sim.base_url,
            requests_per_minute=None,
            max_concurrency=1,
        ) as client,
        open_store(f"sqlite:///{tmp_path / 'b.db'}") as store,
    ):
        plan = await plan_sync(client, store, spec, now=later)
        assert plan.credits == 6
        first = await run_sync(client, store, plan, concurrency=1)
        assert (first.failed, first.succeeded) == (1, 0)
        assert first.rows > 0  # the good windows' rows were committed
        again = await plan_sync(client, store, spec, now=later)
        (state,) = await store.watermarks()
        assert state.last_error is not None
        assert state.complete_until == plan.items[0].windows[-1][0]
    # The plan's price, not the calls seen: how many requests reach the server after
    # a failure depends on the scheduler.
    assert again.credits == 1, "the second run is priced for more than the bad window"
