"""A state file shared by processes: bounded, cancellable lock waits; cycles read under the lock.

The lock is held by the test through its own open file description (``flock``
conflicts between descriptions as between processes). Waits run on a virtual
clock; nothing here asserts how long anything took.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from solaredge_async.errors import ConfigurationError
from solaredge_async.limits import (
    FileCreditLedger,
    LedgerState,
    MemoryCreditLedger,
    RateLimiter,
    StateFileError,
)
from tests._clock import virtual_backend
from tests.limits._support import WallClock, utc

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.anyio

ACCOUNT = "key#1a2b3c4d"


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    """Virtual clocks on both backends."""
    return virtual_backend(str(request.param))


@contextlib.contextmanager
def held(path: Path) -> Iterator[None]:
    """Hold the state file's lock as another process would."""
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


async def test_a_lock_held_too_long_is_a_state_file_error(tmp_path: Path) -> None:
    """StateFileError after ``lock_timeout``; nothing is counted; the file works after."""
    path = tmp_path / "state.json"
    ledger = FileCreditLedger(path, monthly_credits=10, lock_timeout=30)
    with held(path), pytest.raises(StateFileError, match="held its lock"):
        await ledger.charge(ACCOUNT)
    assert (await ledger.charge(ACCOUNT)).spent == 1


async def test_a_wait_for_the_lock_is_cancellable(tmp_path: Path) -> None:
    """A caller's deadline ends the wait for the lock (SIGTERM too); nothing is counted."""
    path = tmp_path / "state.json"
    ledger = FileCreditLedger(path, monthly_credits=10, lock_timeout=3600)
    with held(path):
        with anyio.move_on_after(5) as scope:
            await ledger.charge(ACCOUNT)
        assert scope.cancelled_caught
    assert (await ledger.state(ACCOUNT)).spent == 0


async def test_a_limiter_whose_ledger_file_is_locked_takes_no_token(tmp_path: Path) -> None:
    """The charge fails after the bound: no token is taken, the next caller gets it."""
    path = tmp_path / "state.json"
    ledger = FileCreditLedger(path, monthly_credits=10, lock_timeout=5)
    # max_wait=0: an acquire that would have to wait for a token raises instead.
    limiter = RateLimiter(6, safety_margin=0, ledger=ledger, account=ACCOUNT, max_wait=0)
    with held(path), pytest.raises(StateFileError):
        await limiter.acquire()
    assert limiter.granted == 0
    await limiter.acquire()  # the token was given back
    assert limiter.granted == 1


class _StuckOnce(MemoryCreditLedger):
    """A ledger whose first charge hangs until released (a peer holding the file)."""

    def __init__(self) -> None:
        super().__init__(monthly_credits=10)
        self.release = anyio.Event()
        self.stuck = anyio.Event()

    async def charge(self, account: str, cost: int = 1, *, enforce: bool = True) -> LedgerState:
        if not self.stuck.is_set():
            self.stuck.set()
            await self.release.wait()
        return await super().charge(account, cost, enforce=enforce)


async def test_a_stuck_charge_does_not_freeze_the_other_callers() -> None:
    """One caller's charge hangs; the next caller is still paced, charged and let go."""
    ledger = _StuckOnce()
    limiter = RateLimiter(600, safety_margin=0, ledger=ledger, account=ACCOUNT)
    async with anyio.create_task_group() as tg:
        tg.start_soon(limiter.acquire)
        await ledger.stuck.wait()
        with anyio.move_on_after(60) as scope:
            await limiter.acquire()
        ledger.release.set()
    assert not scope.cancelled_caught, "the second caller waited behind the stuck charge"
    assert limiter.granted == 2
    assert (await ledger.state(ACCOUNT)).spent == 2


async def test_a_charge_that_waited_over_the_reset_counts_in_the_new_cycle(
    tmp_path: Path,
) -> None:
    """The cycle is read under the lock, not before waiting for it."""
    path = tmp_path / "state.json"
    clock = WallClock(utc(2026, 11, 30, 23, 59, 59))
    ledger = FileCreditLedger(path, monthly_credits=10, clock=clock, lock_timeout=3600)
    got: list[LedgerState] = []

    async def charge() -> None:
        got.append(await ledger.charge(ACCOUNT))

    async with anyio.create_task_group() as tg:
        with held(path):
            tg.start_soon(charge)
            await anyio.sleep(1)  # virtual: the charge is waiting for the lock
            clock.advance(seconds=2)
    assert got[0].cycle_start == utc(2026, 12, 1)


async def test_a_clock_behind_never_moves_a_record_back_a_cycle(tmp_path: Path) -> None:
    """A process whose clock is still in the old cycle counts in the new one, erasing nothing."""
    path = tmp_path / "state.json"
    ahead = FileCreditLedger(path, monthly_credits=10, clock=WallClock(utc(2026, 12, 1, 0, 0, 1)))
    behind = FileCreditLedger(path, monthly_credits=10, clock=WallClock(utc(2026, 11, 30, 23)))
    await ahead.charge(ACCOUNT, 3)
    state = await behind.charge(ACCOUNT)
    assert (state.spent, state.cycle_start) == (4, utc(2026, 12, 1))
    assert (await ahead.state(ACCOUNT)).spent == 4
    assert (await behind.state(ACCOUNT)).spent == 4


async def test_a_file_kept_with_another_billing_day_is_refused(tmp_path: Path) -> None:
    """Two billing days on one file would reset each other: ConfigurationError naming both."""
    path = tmp_path / "state.json"
    await FileCreditLedger(path, billing_day=1).charge(ACCOUNT, 5)
    other = FileCreditLedger(path, billing_day=15)
    with pytest.raises(ConfigurationError, match=r"day 1 .*billing_day=15"):
        await other.charge(ACCOUNT)
    with pytest.raises(ConfigurationError, match=r"day 1 .*billing_day=15"):
        await other.state(ACCOUNT)
    assert (await FileCreditLedger(path, billing_day=1).state(ACCOUNT)).spent == 5


async def test_many_tasks_of_one_process_charge_one_file_without_starving(tmp_path) -> None:
    """Concurrent charges in one process queue for the file: none times out, none is lost.

    Before the in-process queue, tasks polled the OS lock against each other and some
    gave up after ``lock_timeout`` although no other process held the file.
    """
    from solaredge_async.limits import FileCreditLedger

    ledger = FileCreditLedger(tmp_path / "state.json", monthly_credits=0, lock_timeout=0.05)
    async with anyio.create_task_group() as tg:
        for _ in range(40):
            tg.start_soon(ledger.charge, "key#00000001")
    assert (await ledger.state("key#00000001")).spent == 40
