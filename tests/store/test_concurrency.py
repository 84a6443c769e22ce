"""Leases, several workers, busy and locked stores, and kill -9 in the middle of a batch."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import pytest

from solaredge_async.store import (
    InvalidRowError,
    ItemKey,
    LeaseLostError,
    StoreBusyError,
    StoreLockedError,
    WatermarkAdvance,
    open_store,
)
from tests.store import _proc

pytestmark = pytest.mark.anyio

T0 = _proc.T0
UNTIL = _proc.UNTIL
ROOT = Path(__file__).resolve().parents[2]
ITEMS = [
    ItemKey(site_id=site, target=target, resolution="QUARTER_OF_AN_HOUR")
    for site in range(1, 13)
    for target in ("site_energy", "site_power")
]


async def test_a_lease_keeps_others_out_until_it_expires(store_url):
    """Claimed items are invisible to other owners until released or expired."""
    async with open_store(store_url) as store:
        assert await store.claim("a", until=UNTIL) == ()  # no items yet
        assert await store.ensure_items(ITEMS[:4]) == 4
        assert await store.ensure_items(ITEMS[:4]) == 0
        got = await store.claim("a", until=UNTIL, limit=3, ttl=60, now=T0)
        assert [s.item for s in got] == ITEMS[:3]
        assert {s.lease_owner for s in got} == {"a"}
        assert all(s.lease_expires == T0 + timedelta(seconds=60) for s in got)
        other = await store.claim("b", until=UNTIL, limit=10, ttl=60, now=T0)
        assert [s.item for s in other] == ITEMS[3:4]
        assert await store.claim("c", until=UNTIL, ttl=60, now=T0) == ()
        # an owner may renew its own leases
        again = await store.claim("a", until=UNTIL, limit=10, ttl=60, now=T0)
        assert [s.item for s in again] == ITEMS[:3]
        later = T0 + timedelta(seconds=61)
        stolen = await store.claim("c", until=UNTIL, limit=1, ttl=60, now=later)
        assert [s.item for s in stolen] == ITEMS[:1]
        with pytest.raises(LeaseLostError, match="leased to another worker"):
            await store.commit_batch(
                _proc.item_rows(ITEMS[0]),
                watermarks=[WatermarkAdvance(item=ITEMS[0], complete_until=UNTIL)],
                owner="a",
                now=later,
            )
        assert await store.count_measurements() == 0
        assert await store.release("b") == 1
        assert await store.release("b") == 0
        # every lease of "a" has run out by now, so "c" gets all four
        got = await store.claim("c", until=UNTIL, now=later)
        assert [s.item for s in got] == ITEMS[:4]


async def test_complete_items_are_not_claimed(store_url):
    """An item whose watermark reached ``until`` is not work any more."""
    async with open_store(store_url) as store:
        await store.ensure_items(ITEMS[:2])
        await store.commit_batch(
            [], watermarks=[WatermarkAdvance(item=ITEMS[0], complete_until=UNTIL)]
        )
        got = await store.claim("a", until=UNTIL, targets=["site_energy", "site_power"])
        assert [s.item for s in got] == ITEMS[1:2]
        assert await store.claim("b", until=UNTIL + timedelta(days=1), site_ids=[]) == ()
        assert await store.claim("b", until=UNTIL + timedelta(days=1), targets=[]) == ()
        later = await store.claim("b", until=UNTIL + timedelta(days=1), site_ids=[1])
        assert [s.item for s in later] == ITEMS[:1]


async def test_workers_in_one_process_neither_duplicate_nor_lose(store_url):
    """Four workers on four connections complete every item exactly once."""
    async with open_store(store_url) as store:
        await store.ensure_items(ITEMS)
    done: dict[str, list[ItemKey]] = {f"w{i}": [] for i in range(4)}
    async with anyio.create_task_group() as tg:
        for owner, out in done.items():
            tg.start_soon(_proc.work, store_url, owner, out)
    counts = Counter(item for items in done.values() for item in items)
    assert set(counts) == set(ITEMS)
    assert set(counts.values()) == {1}
    async with open_store(store_url) as store:
        assert await store.count_measurements() == 4 * len(ITEMS)
        states = await store.watermarks()
        assert {s.complete_until for s in states} == {UNTIL}
        assert {s.lease_owner for s in states} == {None}


def test_workers_in_several_processes_neither_duplicate_nor_lose(store_url):
    """Three worker processes (asyncio and trio) complete every item exactly once."""

    async def seed():
        async with open_store(store_url) as store:
            await store.ensure_items(ITEMS)

    anyio.run(seed)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(  # noqa: S603 - this interpreter, our arguments
            [sys.executable, "-m", "tests.store._proc", "worker", store_url, backend, f"p{i}"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i, backend in enumerate(["asyncio", "trio", "asyncio"])
    ]
    lines = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        lines.extend(out.splitlines())
    counts = Counter(tuple(json.loads(line)) for line in lines)
    assert set(counts) == {(i.site_id, i.target, i.resolution) for i in ITEMS}
    assert set(counts.values()) == {1}

    async def check():
        async with open_store(store_url) as store:
            assert await store.count_measurements() == 4 * len(ITEMS)

    anyio.run(check)


async def test_sqlite_second_writer_gets_a_clear_busy_error(sqlite_url):
    """While another connection holds the write lock, a writer fails with StoreBusyError."""
    async with open_store(sqlite_url, busy_timeout=0) as store:
        holder = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")
            with pytest.raises(StoreBusyError, match="busy timeout"):
                await store.commit_batch(_proc.item_rows(ITEMS[0]))
            holder.execute("ROLLBACK")
        finally:
            holder.close()
        result = await store.commit_batch(_proc.item_rows(ITEMS[0]))
        assert result.inserted == 4


async def test_exclusive_use_locks_out_a_second_opener(store_url):
    """A store opened exclusively refuses a second exclusive opener until closed."""
    async with open_store(store_url, exclusive=True):
        with pytest.raises(StoreLockedError, match="exclusive use"):
            async with open_store(store_url, exclusive=True):
                pass
        async with open_store(store_url) as shared:  # non-exclusive readers still work
            assert await shared.count_measurements() == 0
    async with open_store(store_url, exclusive=True) as store:
        assert await store.count_measurements() == 0


def test_kill_9_mid_run_loses_at_most_the_open_batch(store_url):
    """A writer killed by SIGKILL leaves whole batches, watermark in step, no corruption."""
    proc = subprocess.Popen(  # noqa: S603 - this interpreter, our arguments
        [sys.executable, "-m", "tests.store._proc", "writer", store_url, "asyncio"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    seen = 0
    try:
        for line in proc.stdout:
            seen = int(line.split()[1])
            if seen >= 5:
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    assert seen >= 5, proc.stderr

    async def check():
        async with open_store(store_url) as store:
            count = await store.count_measurements()
            (state,) = await store.watermarks()
            if store.dialect == "sqlite":
                await _integrity_ok(store)
            return count, state.complete_until

    count, until = anyio.run(check)
    batches = count // _proc.BATCH
    assert count == batches * _proc.BATCH
    assert batches >= seen
    assert until == T0 + timedelta(minutes=15 * count)


async def _integrity_ok(store):
    def run():
        with store._backend.reading() as cur:
            return cur.execute("PRAGMA integrity_check").fetchall()

    assert await store._call(run) == [("ok",)]


def test_watermark_clock_is_utc():
    """The fixtures' instants are aware UTC (a guard for the arithmetic above)."""
    assert T0.tzinfo is UTC
    assert datetime(2026, 6, 2, tzinfo=UTC) == UNTIL


async def test_renewing_keeps_a_lease_past_its_first_ttl(store_url):
    """`renew` moves every lease of its owner to now + ttl; others' leases stay."""
    async with open_store(store_url) as store:
        await store.ensure_items(ITEMS[:3])
        await store.claim("a", until=UNTIL, limit=2, ttl=60, now=T0)
        await store.claim("b", until=UNTIL, limit=1, ttl=60, now=T0)
        assert await store.renew("a", ttl=60, now=T0 + timedelta(seconds=40)) == 2
        later = T0 + timedelta(seconds=90)  # past the first ttl, inside the renewed one
        stolen = await store.claim("c", until=UNTIL, ttl=60, now=later)
        assert [s.item for s in stolen] == ITEMS[2:3]  # b's lease lapsed; a's was renewed
        states = {s.item: s for s in await store.watermarks()}
        assert [states[i].lease_owner for i in ITEMS[:3]] == ["a", "a", "c"]
        assert states[ITEMS[0]].lease_expires == T0 + timedelta(seconds=100)
        assert await store.renew("nobody", ttl=60) == 0
        with pytest.raises(InvalidRowError):
            await store.renew("a", ttl=0)
