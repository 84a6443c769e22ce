"""Commits on a timer and on a count.

The real clock on purpose: a virtual clock jumps whenever every task waits, and the
store works in threads, so virtual time would race ahead of the client's timeouts.
Nothing here waits on time: a held request waits for a commit event.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio
import httpx
import pytest

from solaredge_async import SolarEdgeClient
from solaredge_async.store import CommitResult, open_store
from solaredge_async.sync import SyncSpec, plan_sync, run_sync

from ._support import NOW, SINCE, make_client, make_sim

if TYPE_CHECKING:
    from solaredge_async.testing import Simulator

pytestmark = pytest.mark.anyio


class _HoldUntilCommit(httpx.AsyncBaseTransport):
    """The simulator's transport; request number ``hold_at`` waits for a first commit."""

    def __init__(self, sim: Simulator, committed: anyio.Event, hold_at: int) -> None:
        self.inner = sim.transport()
        self.committed = committed
        self.hold_at = hold_at
        self.seen = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen += 1
        if self.seen == self.hold_at:
            await self.committed.wait()
        return await self.inner.handle_async_request(request)


async def test_fetched_items_are_committed_every_few_seconds(sqlite_url):
    """With a large count bound and one lease chunk, only the timer can commit mid-run.

    A request half-way waits until something is committed: the timer (every 10 ms
    here) must commit the items fetched before it, or the run would hang and fail at
    the guard.
    """
    sim = make_sim(6)
    committed = anyio.Event()
    transport = _HoldUntilCommit(sim, committed, hold_at=10)
    async with (
        SolarEdgeClient(
            api_key=sim.api_key,
            transport=transport,
            base_url=sim.base_url,
            requests_per_minute=None,
            max_concurrency=1,
        ) as client,
        open_store(sqlite_url) as store,
    ):
        plan = await plan_sync(client, store, SyncSpec(what=("energy",), since=SINCE), now=NOW)
        commit = store.commit_batch

        async def observed(*args: Any, **kwargs: Any) -> CommitResult:
            result = await commit(*args, **kwargs)
            committed.set()
            return result

        store.commit_batch = observed  # type: ignore[method-assign]
        with anyio.fail_after(60):  # a guard only: without the timer the run hangs
            report = await run_sync(
                client,
                store,
                plan,
                batch_items=10_000,
                batch_seconds=0.01,
                concurrency=1,
                claim_size=100,  # one lease chunk: no commit at a chunk's end before the last
            )
    assert report.complete
    assert transport.seen > 10


async def test_fetched_items_are_committed_every_n_items(sqlite_url):
    """With a long interval, every ``batch_items`` items make one commit."""
    sim = make_sim(6)
    async with make_client(sim, max_concurrency=1) as client, open_store(sqlite_url) as store:
        plan = await plan_sync(client, store, SyncSpec(what=("energy",), since=SINCE), now=NOW)
        rows: list[int] = []
        report = await run_sync(
            client,
            store,
            plan,
            on_progress=lambda p: rows.append(p.rows),
            batch_items=2,
            batch_seconds=3600.0,
            concurrency=1,
            claim_size=100,
        )
    assert report.complete
    assert len(set(rows)) >= 3  # the committed count grew in steps of two items
