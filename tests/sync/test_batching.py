"""Commits on a timer and on a count, on a virtual clock (no real waiting)."""

from __future__ import annotations

import pytest

from solaredge_async.store import open_store
from solaredge_async.sync import SyncProgress, SyncSpec, plan_sync, run_sync
from solaredge_async.testing import Faults
from tests._clock import virtual_backend

from ._support import NOW, SINCE, make_client, make_sim

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request):
    """Virtual clocks: the simulator's latency passes in no real time."""
    return virtual_backend(str(request.param))


async def test_fetched_items_are_committed_every_few_seconds(sqlite_url):
    """With a large count bound, the timer still commits while the run goes on."""
    sim = make_sim(6, faults=Faults(latency=(2.0, 0.0), seed=1))
    committed_midway: list[int] = []
    async with make_client(sim, max_concurrency=1) as client, open_store(sqlite_url) as store:
        plan = await plan_sync(client, store, SyncSpec(what=("energy",), since=SINCE), now=NOW)

        def progress(p: SyncProgress) -> None:
            if p.done < p.total:
                committed_midway.append(p.rows)

        report = await run_sync(
            client,
            store,
            plan,
            on_progress=progress,
            batch_items=10_000,
            batch_seconds=10.0,
            concurrency=1,
            claim_size=100,  # one lease chunk: no commit at a chunk's end before the last
        )
    # Each item takes a few 2-second calls: commits came before the end, by the timer.
    assert report.complete
    assert 0 < max(committed_midway) < report.rows


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
