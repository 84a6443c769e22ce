"""A cancelled sync (SIGINT/SIGTERM) winds up within SHUTDOWN_TIMEOUT, whatever the store does.

A virtual clock, so the store is opened with ``_inline=True`` (see ``tests/_clock.py``).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import anyio
import pytest

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
