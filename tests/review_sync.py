"""Review findings on the sync engine, each a test that fails on the code reviewed.

Run: PYTHONPATH=$PWD python -m pytest tests/review_sync.py -q
(``review_*.py`` is outside the suite's ``test_*.py`` pattern on purpose: these tests
fail until the defects are fixed.)
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import anyio
import httpx
import pytest

from solaredge_async import SolarEdgeClient
from solaredge_async.store import open_store
from solaredge_async.sync import SyncSpec, plan_sync, run_sync
from tests._clock import virtual_backend
from tests.sync._support import NOW, all_rows, make_client, make_sim

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
    """sync/_run.py:291: a closed window's watermark jumps to its end whatever came back.

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


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> Any:
    """Both backends on a virtual clock."""
    return virtual_backend(request.param)


async def test_a_hung_commit_does_not_hold_a_cancelled_sync_past_its_bound(tmp_path):
    """sync/_run.py:357 vs 588-590: the wind-up's SHUTDOWN_TIMEOUT deadline is void.

    `_Runner.flush` opens its own ``CancelScope(shield=True)`` with no deadline, and a
    nested shielded scope is protected from the enclosing scope's deadline. A commit
    that hangs (a PostgreSQL server that stopped answering, a lock) therefore holds
    SIGTERM/SIGINT forever, although the docstring promises at most SHUTDOWN_TIMEOUT
    (30 s). Virtual clock: the stuck commit "takes" an hour; it must be cut at 30 s.
    """
    sim = make_sim(4)
    spec = SyncSpec(what=("energy",), since=DAY, until=DAY)
    finished: list[str] = []
    async with make_client(sim) as client, open_store(f"sqlite:///{tmp_path / 'h.db'}") as store:
        plan = await plan_sync(client, store, spec, now=NOW + timedelta(days=3))

        async def hung_commit(*_a: object, **_k: object) -> object:
            await anyio.sleep(3600)  # a store that stopped answering
            finished.append("commit")
            raise AssertionError("unreachable in a bounded shutdown")

        store.commit_batch = hung_commit  # type: ignore[method-assign]
        with anyio.CancelScope() as scope:

            def progress(p: Any) -> None:
                if p.done >= 2:
                    scope.cancel()  # what SIGTERM does in the CLI

            await run_sync(client, store, plan, on_progress=progress, concurrency=1)
        assert finished == [], "the shielded flush outlived SHUTDOWN_TIMEOUT"


async def test_two_runs_on_one_sqlite_file_never_fetch_an_item_twice(tmp_path):
    """sync/_run.py:139-141: every SQLite run leases as owner ``"local"``.

    `open_store` defaults to ``exclusive=False`` and `run_sync` only documents that
    SQLite should be opened exclusively. Two runs on one file (two cron jobs that
    overlap, two processes of one app) then both "claim" every item, because
    `Backend.claim` grants items already leased to the same owner name, and both
    fetch and pay for the whole plan. The second must wait, get a clear error, or
    skip the items the first holds (issue 12: "on SQLite a second writer waits or
    gets a clear error").
    """
    sim = make_sim(4)
    spec = SyncSpec(what=("energy",), since=DAY, until=DAY)
    later = NOW + timedelta(days=3)
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    spent: list[int] = []
    async with (
        make_client(sim, max_concurrency=1) as one,
        make_client(sim, max_concurrency=1) as two,
        open_store(url) as first,
        open_store(url) as second,
    ):
        plan_one = await plan_sync(one, first, spec, now=later)
        plan_two = await plan_sync(two, second, spec, now=later)
        price = plan_one.credits

        async def run(client: SolarEdgeClient, store: Any, plan: Any) -> None:
            before = client.usage.credits  # discovery excluded
            try:
                await run_sync(client, store, plan, concurrency=1)
            except Exception:
                pass
            spent.append(client.usage.credits - before)

        async with anyio.create_task_group() as tg:
            tg.start_soon(run, one, first, plan_one)
            tg.start_soon(run, two, second, plan_two)
    assert sum(spent) <= price, f"{sum(spent)} credits spent on a {price}-credit plan"


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
    """sync/_run.py:296-318: an item is all or nothing, however many windows it has.

    A 3-day backfill is 6 calls; the last window keeps failing (a bad body, a 400 on
    one day). Each run then pays all 6 calls again and the watermark never moves,
    although 5 windows came back whole: a first run from ``--since`` a year back
    re-spends ~730 credits a run for one bad day. The watermark should move to the
    end of the windows fetched whole in order (or the good windows' rows and a
    partial watermark be committed), so the next run pays only from the bad window.
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
        assert first.failed == 1
        again = await plan_sync(client, store, spec, now=later)
    # The plan's price, not the calls seen: a failing window cancels its siblings, so
    # how many requests reach the server depends on the scheduler.
    assert again.credits < 6, "the second run is priced for the whole backfill again"
