"""Review findings on the sync engine, each a test that fails on the code reviewed.

Run: PYTHONPATH=$PWD python -m pytest tests/review_sync.py -q
(``review_*.py`` is outside the suite's ``test_*.py`` pattern on purpose: these tests
fail until the defects are fixed.)
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import anyio
import pytest

from solaredge_async import SolarEdgeClient
from solaredge_async.store import open_store
from solaredge_async.sync import SyncSpec, plan_sync, run_sync
from tests._clock import virtual_backend
from tests.sync._support import NOW, make_client, make_sim

pytestmark = pytest.mark.anyio

DAY = date(2026, 5, 11)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> Any:
    """Both backends on a virtual clock."""
    return virtual_backend(request.param)


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
