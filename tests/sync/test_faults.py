"""Faults and concurrency: kill -9 then rerun, PostgreSQL equals SQLite, shared workers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from solaredge_async.store import open_store
from solaredge_async.sync import plan_sync, run_sync

from ._proc import SITES, SPEC
from ._support import NOW, all_rows, fresh_sync, make_client, make_sim, sync_once

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]


def _child(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(  # noqa: S603 - our own test module, fixed arguments
        [sys.executable, "-m", "tests.sync._proc", *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


async def test_kill_9_then_rerun_ends_with_the_rows_of_an_uninterrupted_run(tmp_path):
    """SIGKILL mid-run loses at most the uncommitted batch; a rerun completes exactly."""
    url = f"sqlite:///{tmp_path / 'killed.db'}"
    child = _child("hang", url, "7")
    try:
        assert child.stdout is not None
        line = await anyio.to_thread.run_sync(child.stdout.readline)
        assert line == "ready\n"
    finally:
        child.send_signal(signal.SIGKILL)
        await anyio.to_thread.run_sync(child.communicate)
    assert child.returncode == -signal.SIGKILL

    sim = make_sim(SITES)
    async with make_client(sim) as client, open_store(url, exclusive=True) as store:
        states = await store.watermarks()
        moved = [s for s in states if s.complete_until is not None]
        assert 4 <= len(moved) <= 6  # committed in pairs; the 7th was in hand only
        assert await store.count_measurements() > 0
        run = (await store.runs())[-1]
        assert run.finished_at is None  # killed: the run never finished
        plan = await plan_sync(client, store, SPEC, now=NOW)
        report = await run_sync(client, store, plan)
        assert report.complete
        got = await all_rows(store)
    assert got == await fresh_sync(sim, f"sqlite:///{tmp_path / 'ref.db'}", SPEC)


async def test_postgresql_ends_with_the_rows_of_sqlite(postgres_url, sqlite_url):
    """The same sync into both stores gives the same rows, twice over."""
    sim = make_sim(5, zones=("Europe/Berlin", "Australia/Adelaide", "America/New_York"))
    stored = []
    for url in (postgres_url, sqlite_url):
        async with make_client(sim) as client, open_store(url) as store:
            assert (await sync_once(client, store, SPEC)).complete
            assert (await sync_once(client, store, SPEC)).rows == 0
            stored.append(await all_rows(store))
    assert stored[0] == stored[1]
    assert len(stored[0]) > 1000


async def test_workers_share_a_fleet_through_leases(postgres_url, sqlite_url):
    """Three workers (own connections, own clients) on one store: the union is one run's."""
    sim = make_sim(SITES)
    reference_credits = 0
    async with make_client(sim) as client, open_store(sqlite_url) as store:
        report = await sync_once(client, store, SPEC)
        reference_credits = report.credits
        reference = await all_rows(store)

    reports = []
    planned: list[str] = []
    all_planned = anyio.Event()

    async def worker(name: str) -> None:
        async with make_client(sim) as client, open_store(postgres_url) as store:
            plan = await plan_sync(client, store, SPEC, now=NOW)
            # Every worker plans before any commits: then each item is fetched once
            # (a later plan would re-read the settle window of items already done).
            planned.append(name)
            if len(planned) == 3:
                all_planned.set()
            await all_planned.wait()
            reports.append(
                await run_sync(client, store, plan, owner=name, claim_size=2, concurrency=2)
            )

    async with anyio.create_task_group() as tg:
        for name in ("w1", "w2", "w3"):
            tg.start_soon(worker, name)
    assert sum(r.failed for r in reports) == 0
    assert sum(r.succeeded for r in reports) == SITES * len(SPEC.what)
    assert sum(1 for r in reports if r.succeeded) >= 2  # the work was shared
    # Every item fetched once: the data calls equal one worker's (discovery aside).
    assert sum(r.credits for r in reports) == reference_credits
    async with open_store(postgres_url) as store:
        assert await all_rows(store) == reference
        assert all(s.lease_owner is None for s in await store.watermarks())


async def test_worker_processes_share_a_fleet(postgres_url, sqlite_url):
    """Two worker processes on one PostgreSQL store: nothing lost, nothing fetched twice."""
    sim = make_sim(SITES)
    async with make_client(sim) as client, open_store(sqlite_url) as store:
        reference_credits = (await sync_once(client, store, SPEC)).credits
        reference = await all_rows(store)
    async with open_store(postgres_url):  # migrate once, before the workers race
        pass
    children = [_child("worker", postgres_url, f"p{i}") for i in range(2)]
    outs = [await anyio.to_thread.run_sync(c.communicate) for c in children]
    assert [c.returncode for c in children] == [0, 0]
    lines = [json.loads(out.strip().splitlines()[-1]) for out, _err in outs]
    items = SITES * len(SPEC.what)
    # A worker that plans after another committed an item re-reads only that item's
    # settle window (one call, a window the other never asked for): no window is ever
    # bought twice, and each item committed twice cost exactly that one call more.
    done = sum(x["succeeded"] for x in lines)
    assert done >= items
    windows = [tuple(w) for x in lines for w in x["windows"]]
    assert len(windows) == len(set(windows)), "a data window was fetched twice"
    assert sum(x["failed"] for x in lines) == 0
    assert reference_credits <= sum(x["credits"] for x in lines) <= reference_credits + done - items
    async with open_store(postgres_url) as store:
        assert await all_rows(store) == reference
