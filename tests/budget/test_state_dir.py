"""A state directory: spending and learned caps kept across runs and shared by clients.

Real clocks here: a file-backed ledger works in worker threads, and a virtual clock
would jump to the next deadline while a thread runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
import pytest

from solaredge_async.limits import FileCreditLedger
from tests.budget._support import FIRST_DAY, calls, make_client, make_sim, sites

if TYPE_CHECKING:
    from pathlib import Path

    from solaredge_async import SolarEdgeClient

pytestmark = pytest.mark.anyio


async def test_a_state_dir_keeps_spending_and_learned_caps_across_runs(tmp_path: Path) -> None:
    """Two runs on one state directory: the second starts from what the first spent."""
    sim = make_sim(cap_hours=12)
    site = sites(sim)[0]
    async with make_client(sim, state_dir=tmp_path, monthly_credits=50) as client:
        assert isinstance(client.ledger, FileCreditLedger)
        await client.site_energy(site, start=FIRST_DAY, end=FIRST_DAY)  # probe + 2
        assert (await client.budget()).spent == 3
    async with make_client(sim, state_dir=tmp_path, monthly_credits=50) as client:
        await client.site_energy(site, start=FIRST_DAY, end=FIRST_DAY)  # learned: 2
        state = await client.budget()
    assert (state.spent, state.remaining) == (5, 45)
    assert calls(sim, "/energy", 400) == 1
    assert (tmp_path / "solaredge-state.json").exists()


async def test_two_clients_on_one_state_dir_never_lose_a_count(tmp_path: Path) -> None:
    """Two clients (two processes' worth) charging one ledger file at once: 40 of 40 kept."""
    sim = make_sim(4)
    ids = sites(sim)

    async def work(client: SolarEdgeClient) -> None:
        for _ in range(5):
            for site in ids:
                await client.site_overview(site)

    async with (
        make_client(sim, state_dir=tmp_path, max_concurrency=4) as one,
        make_client(sim, state_dir=tmp_path, max_concurrency=4) as two,
    ):
        async with anyio.create_task_group() as tg:
            tg.start_soon(work, one)
            tg.start_soon(work, two)
        assert one.ledger_account == two.ledger_account
        state = await one.budget()
    assert state.spent == 40 == calls(sim)
    reread = FileCreditLedger(tmp_path / "solaredge-state.json")
    assert (await reread.state(one.ledger_account)).spent == 40
