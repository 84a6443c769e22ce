"""One sync at a time on a SQLite file: a second gets a clear error and pays nothing."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from solaredge_async.store import StoreLockedError, open_store
from solaredge_async.sync import SyncSpec, plan_sync, run_sync

from ._support import NOW, make_client, make_sim

if TYPE_CHECKING:
    from solaredge_async import SolarEdgeClient

pytestmark = pytest.mark.anyio

DAY = date(2026, 5, 11)


async def test_two_runs_on_one_sqlite_file_never_fetch_an_item_twice(tmp_path):
    """Every SQLite run leases as one owner name, so `run_sync` holds the file alone.

    Two runs on one file (two cron jobs that overlap, two processes of one app), on
    stores opened without ``exclusive``: the second gets `StoreLockedError` before it
    fetches anything (issue 12: "on SQLite a second writer waits or gets a clear
    error"), and the plan is paid once.
    """
    sim = make_sim(4)
    spec = SyncSpec(what=("energy",), since=DAY, until=DAY)
    later = NOW + timedelta(days=3)
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    spent: list[int] = []
    refused: list[BaseException] = []
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
            except StoreLockedError as exc:
                refused.append(exc)
            spent.append(client.usage.credits - before)

        async with anyio.create_task_group() as tg:
            tg.start_soon(run, one, first, plan_one)
            tg.start_soon(run, two, second, plan_two)
        # The lock is dropped with the run: a third run on the same store may go.
        assert await first.lock_exclusive()
        await first.unlock_exclusive()
    assert len(refused) == 1
    assert "exclusive" in str(refused[0])
    assert sorted(spent) == [0, price], f"{spent} credits spent on a {price}-credit plan"
