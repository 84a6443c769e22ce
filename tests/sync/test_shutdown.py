"""Time-bound parts of a run: a bounded wind-up, leases renewed while held.

A cancelled sync (SIGINT/SIGTERM) winds up within SHUTDOWN_TIMEOUT, whatever the store
does; a slow run renews its leases every ttl/3, so none lapses mid-chunk.

A virtual clock, so the store is opened with ``_inline=True`` (see ``tests/_clock.py``).
"""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from typing import Any

import anyio
import httpx
import pytest

from solaredge_async import SolarEdgeClient
from solaredge_async.store import open_store
from solaredge_async.sync import SyncSpec, plan_sync, run_sync
from tests._clock import virtual_backend

from ._support import NOW, make_client, make_sim

pytestmark = pytest.mark.anyio

DAY = date(2026, 5, 11)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> Any:
    """Both backends on a virtual clock."""
    return virtual_backend(request.param)


async def test_a_hung_commit_does_not_hold_a_cancelled_sync_past_its_bound(tmp_path):
    """The wind-up's SHUTDOWN_TIMEOUT bounds the shielded flush nested in it.

    A commit that hangs (a PostgreSQL server that stopped answering, a lock) must not
    hold SIGTERM/SIGINT past SHUTDOWN_TIMEOUT. Virtual clock: the stuck commit "takes"
    an hour; it must be cut at 30 s, and the items it held are reported failed.
    """
    sim = make_sim(4)
    spec = SyncSpec(what=("energy",), since=DAY, until=DAY)
    finished: list[str] = []
    async with (
        make_client(sim) as client,
        open_store(f"sqlite:///{tmp_path / 'h.db'}", _inline=True) as store,
    ):
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
        assert scope.cancelled_caught
        assert finished == [], "the shielded flush outlived SHUTDOWN_TIMEOUT"
        assert {s.complete_until for s in await store.watermarks()} == {None}


class _Slow(httpx.AsyncBaseTransport):
    """The simulator, every request taking ``seconds`` (virtual) to answer."""

    def __init__(self, inner: httpx.AsyncBaseTransport, seconds: float) -> None:
        self.inner = inner
        self.seconds = seconds

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await anyio.sleep(self.seconds)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_a_slow_run_renews_its_leases_every_third_of_their_ttl(tmp_path):
    """A chunk that takes many ttls to fetch keeps its leases: they are renewed.

    4 items at 20 s a call, one at a time: 80 s of fetching with a 9 s ttl. Without
    renewal every lease lapses after 9 s and another worker would re-pay the items.
    """
    sim = make_sim(4)
    spec = SyncSpec(what=("energy",), since=DAY, until=DAY)
    renewals: list[tuple[float, str, float, int]] = []
    async with (
        SolarEdgeClient(
            api_key=sim.api_key,
            transport=_Slow(sim.transport(), 20.0),
            base_url=sim.base_url,
            requests_per_minute=None,
            max_concurrency=1,
        ) as client,
        open_store(f"sqlite:///{tmp_path / 'r.db'}", _inline=True) as store,
    ):
        plan = await plan_sync(client, store, spec, now=NOW + timedelta(days=3))
        renew = store.renew

        async def counting(owner: str, *, ttl: float, now: Any = None) -> int:
            got = await renew(owner, ttl=ttl, now=now)
            renewals.append((anyio.current_time(), owner, ttl, got))
            return got

        store.renew = counting  # type: ignore[method-assign]
        started = anyio.current_time()
        report = await run_sync(client, store, plan, concurrency=1, lease_ttl=9.0)
        elapsed = anyio.current_time() - started
        assert report.complete
    held = [r for r in renewals if r[3] >= 1]  # renewals that found the chunk's leases
    assert len(held) >= int(elapsed // 3) - 1
    assert {(owner, ttl) for _, owner, ttl, _ in renewals} == {("local", 9.0)}
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(renewals)]
    assert max(gaps) < 9.0
