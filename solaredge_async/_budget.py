"""The client's monthly credit budget: which ledger, which caps store, and the gate.

Every attempt the engine sends takes a token from the credential's rate limiter, and
the limiter charges the credit ledger at that moment (`RateLimiter`'s ledger hook), so
every request sent is counted, errors and 429s included, and one that would
overspend the budget is refused before it leaves (`BudgetExceededError`). When the
client paces nothing (``requests_per_minute=None``), or paces with a caller's limiter
that carries no ledger, `LedgerGate` stands in the limiter's place and only charges.

This module sits on floor 4, beside the client: it imports the limits (floor 2).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Final

from solaredge_async import errors
from solaredge_async.limits._bucket import RateLimiter
from solaredge_async.limits._caps import DEFAULT_REPROBE_AFTER, FileCapStore, MemoryCapStore
from solaredge_async.limits._cycle import DEFAULT_MONTHLY_CREDITS
from solaredge_async.limits._ledger import CreditLedger, FileCreditLedger, MemoryCreditLedger

if TYPE_CHECKING:
    import datetime as dt
    import os

    from solaredge_async.limits._caps import CapStore

__all__ = ["STATE_FILE", "LedgerGate", "make_cap_store", "make_ledger", "state_file"]

#: The file a ``state_dir`` holds: the credit ledger and the learned window caps.
STATE_FILE: Final = "solaredge-state.json"


def state_file(state_dir: str | os.PathLike[str]) -> Path:
    """The state file (ledger and learned caps) inside ``state_dir``."""
    return Path(state_dir) / STATE_FILE


class LedgerGate(RateLimiter):
    """Charges the credit ledger for every attempt; paces with ``inner`` when given.

    Stands in for the rate limiter when the client paces nothing or paces with a
    caller's limiter that carries no ledger. Pauses and server limits go to
    ``inner`` (ignored without one, as with no limiter at all).

    Args:
        ledger: The credit ledger to charge.
        account: The credential fingerprint it counts under.
        inner: The limiter that paces the calls, or `None`.
    """

    def __init__(self, ledger: CreditLedger, account: str, inner: RateLimiter | None) -> None:
        super().__init__(ledger=ledger, account=account)
        self.gate_ledger = ledger
        self.account = account
        self.inner = inner

    def __repr__(self) -> str:
        return f"LedgerGate(inner={self.inner!r})"

    @property
    def may_wait(self) -> bool:
        """False when nothing paces and the ledger is in memory: an acquire never waits."""
        return self.inner is not None or not isinstance(self.gate_ledger, MemoryCreditLedger)

    @property
    def requests_per_minute(self) -> float:
        """The pacing rate, calls per minute (``inf`` when nothing paces)."""
        return self.inner.requests_per_minute if self.inner is not None else math.inf

    async def acquire(self, cost: int = 1) -> None:
        """Wait for the inner limiter's token (if any), then charge ``cost`` credits.

        Raises:
            BudgetExceededError: The ledger refuses the charge; nothing is sent.
            LimitWaitTooLongError: From the inner limiter.
        """
        if self.inner is not None:
            await self.inner.acquire(cost)
        await self.gate_ledger.charge(self.account, cost)

    async def refund(self, cost: int = 1) -> None:
        """Give back the credit of an attempt that never reached the server."""
        await self.gate_ledger.refund(self.account, cost)

    def observe(self, limit: int | None, remaining: int | None) -> None:
        """Pass the server's limit headers to the inner limiter."""
        if self.inner is not None:
            self.inner.observe(limit, remaining)

    def pause(self, seconds: float) -> None:
        """Pass a ``Retry-After`` pause to the inner limiter."""
        if self.inner is not None:
            self.inner.pause(seconds)


def make_ledger(
    *,
    ledger: CreditLedger | None,
    monthly_credits: int | None,
    billing_day: int | None,
    state_dir: str | os.PathLike[str] | None,
) -> CreditLedger:
    """The client's credit ledger: the caller's, a file in ``state_dir``, or in memory.

    Raises:
        ConfigurationError: ``ledger`` with ``state_dir``, or with a budget other than
            its own; a budget out of range.
    """
    if ledger is not None:
        if state_dir is not None:
            raise errors.ConfigurationError("pass either ledger or state_dir, not both")
        if not isinstance(ledger, CreditLedger):
            raise errors.ConfigurationError(
                f"ledger must be a CreditLedger (MemoryCreditLedger, FileCreditLedger, ...), "
                f"got {type(ledger).__name__}"
            )
        for name, given, own in (
            ("monthly_credits", monthly_credits, ledger.monthly_credits),
            ("billing_day", billing_day, ledger.billing_day),
        ):
            if given is not None and given != own:
                raise errors.ConfigurationError(
                    f"{name}={given!r} differs from the ledger's {own!r}; set it on the "
                    "ledger (or pass only one of them)"
                )
        return ledger
    monthly = DEFAULT_MONTHLY_CREDITS if monthly_credits is None else monthly_credits
    day = 1 if billing_day is None else billing_day
    if state_dir is not None:
        return FileCreditLedger(state_file(state_dir), monthly_credits=monthly, billing_day=day)
    return MemoryCreditLedger(monthly_credits=monthly, billing_day=day)


def make_cap_store(
    *,
    probe_caps: bool,
    cap_store: CapStore | None,
    state_dir: str | os.PathLike[str] | None,
    reprobe_after: dt.timedelta = DEFAULT_REPROBE_AFTER,
    ledger: CreditLedger | None = None,
) -> CapStore | None:
    """Where learned window caps are kept: the caller's store, the state file, or memory.

    With a file-backed ledger and no ``state_dir``, the caps go in the ledger's file.
    `None` when probing is off (documented caps only).

    Raises:
        ConfigurationError: A non-positive ``reprobe_after``.
    """
    if not probe_caps:
        return None
    if cap_store is not None:
        return cap_store
    if state_dir is not None:
        return FileCapStore(state_file(state_dir), reprobe_after=reprobe_after)
    if isinstance(ledger, FileCreditLedger):
        return FileCapStore(ledger.path, reprobe_after=reprobe_after)
    return MemoryCapStore(reprobe_after=reprobe_after)
