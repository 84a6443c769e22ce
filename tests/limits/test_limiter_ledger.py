"""The in-process limiter charging a credit ledger at the moment a token is granted."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio
import pytest

from solaredge_async.errors import ConfigurationError
from solaredge_async.limits import (
    BudgetExceededError,
    FileCreditLedger,
    MemoryCreditLedger,
    RateLimiter,
)
from tests._clock import virtual_backend

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.anyio

ACCOUNT = "key#1a2b3c4d"


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    """Virtual clocks on both backends."""
    return virtual_backend(str(request.param))


async def test_each_grant_is_charged_when_due() -> None:
    """A waiter is charged when its token comes, not when it starts waiting."""
    ledger = MemoryCreditLedger(monthly_credits=10)
    limiter = RateLimiter(6, safety_margin=0, ledger=ledger, account=ACCOUNT)
    await limiter.acquire()
    assert (await ledger.state(ACCOUNT)).spent == 1
    with anyio.move_on_after(5):
        await limiter.acquire()  # cancelled while waiting: not charged
    assert (await ledger.state(ACCOUNT)).spent == 1
    await limiter.acquire()
    assert (await ledger.state(ACCOUNT)).spent == 2
    await limiter.refund()
    assert (await ledger.state(ACCOUNT)).spent == 1


async def test_a_refused_charge_takes_no_token(tmp_path: Path) -> None:
    """Over budget: BudgetExceededError, the token stays for the next caller."""
    ledger = FileCreditLedger(tmp_path / "state.json", monthly_credits=2)
    limiter = RateLimiter(600, burst=5, safety_margin=0, ledger=ledger, account=ACCOUNT)
    await limiter.acquire(2)
    with pytest.raises(BudgetExceededError):
        await limiter.acquire()
    assert limiter.granted == 1
    await ledger.mark_exhausted(ACCOUNT)
    with pytest.raises(BudgetExceededError, match="used up"):
        await limiter.acquire()


def test_a_ledger_needs_an_account() -> None:
    """The ledger key must be given: there is no default account."""
    with pytest.raises(ConfigurationError, match="account"):
        RateLimiter(10, ledger=MemoryCreditLedger())
