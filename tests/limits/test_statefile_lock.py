"""A state file locked by another process: a bounded, cancellable wait that changes nothing.

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

from solaredge_async.limits import (
    FileCreditLedger,
    LedgerState,
    MemoryCreditLedger,
    RateLimiter,
    StateFileError,
)
from tests._clock import virtual_backend

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
