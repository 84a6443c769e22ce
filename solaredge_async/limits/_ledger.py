"""The monthly credit ledger: what each account spent this billing cycle.

The API shows no monthly usage, so the client counts: every request *sent*
costs one credit, errors and 429s included. A ledger is keyed by credential
fingerprint (never the secret) and knows the account's monthly budget
(``monthly_credits``, 0 = unlimited) and ``billing_day`` (the cycle resets on
that day of the month at 00:00 UTC). `CreditLedger.charge` is called at the
moment a request is about to be sent and refuses, with `BudgetExceededError`,
a charge that would overspend; the monthly 429 marks the account exhausted
until the cycle resets.

Implementations: `MemoryCreditLedger` (one process, lost at exit),
`FileCreditLedger` (a JSON file shared by runs and processes) and, in
`solaredge_async.limits.RedisLimits`, one on Redis.
"""

from __future__ import annotations

import abc
import datetime as dt
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import attrs

from solaredge_async.errors import ConfigurationError
from solaredge_async.limits._cycle import (
    DEFAULT_MONTHLY_CREDITS,
    aware,
    check_account,
    check_budget,
    check_cost,
    cycle_bounds,
    utc_now,
)
from solaredge_async.limits._errors import BudgetExceededError
from solaredge_async.limits._statefile import LOCK_TIMEOUT, StateFile

if TYPE_CHECKING:
    import os
    from collections.abc import Callable

__all__ = [
    "BudgetSettings",
    "CreditLedger",
    "FileCreditLedger",
    "LedgerState",
    "MemoryCreditLedger",
]


@attrs.frozen(kw_only=True)
class LedgerState:
    """One account's spending in the current billing cycle.

    Attributes:
        account: The credential fingerprint.
        spent: Credits charged this cycle (requests sent).
        monthly_credits: The monthly budget (0 = unlimited).
        cycle_start: When this cycle began (UTC, inclusive).
        cycle_end: When the next one begins (UTC, exclusive).
        exhausted: True when the server said the month's credits are used up.
    """

    account: str
    spent: int
    monthly_credits: int
    cycle_start: dt.datetime
    cycle_end: dt.datetime
    exhausted: bool = False

    @property
    def remaining(self) -> int | None:
        """Credits left this cycle: 0 when exhausted, None when unlimited."""
        if self.exhausted:
            return 0
        if self.monthly_credits == 0:
            return None
        return max(self.monthly_credits - self.spent, 0)


@runtime_checkable
class CreditLedger(Protocol):
    """What the client needs of a credit ledger (every method is async).

    ``account`` is always a credential fingerprint such as ``key#1a2b3c4d``.
    """

    @property
    def monthly_credits(self) -> int:
        """The monthly budget in credits (0 = unlimited)."""
        ...

    @property
    def billing_day(self) -> int:
        """The day of the month (1..28) the cycle resets at 00:00 UTC."""
        ...

    async def charge(self, account: str, cost: int = 1, *, enforce: bool = True) -> LedgerState:
        """Count ``cost`` as spent now, at the moment a request is sent.

        Raises:
            BudgetExceededError: ``enforce`` is on and the charge would overspend
                the budget, or the account is exhausted; nothing is counted.
        """
        ...

    async def refund(self, account: str, cost: int = 1) -> LedgerState:
        """Give back credits charged for a request that never left (connect failure)."""
        ...

    async def state(self, account: str) -> LedgerState:
        """The account's spending this cycle."""
        ...

    async def mark_exhausted(self, account: str) -> LedgerState:
        """Record the monthly 429: refuse every charge until the cycle resets."""
        ...

    async def clear_exhausted(self, account: str) -> LedgerState:
        """Forget a monthly 429 before the reset (the operator knows better)."""
        ...


def _record_state(
    record: dict[str, Any], account: str, monthly: int, bounds: tuple[dt.datetime, dt.datetime]
) -> LedgerState:
    return LedgerState(
        account=account,
        spent=int(record["spent"]),
        monthly_credits=monthly,
        cycle_start=bounds[0],
        cycle_end=bounds[1],
        exhausted=bool(record["exhausted"]),
    )


def _cycle_of(record: dict[str, Any]) -> dt.datetime | None:
    """The start of a record's cycle, or None when it is not a readable aware time."""
    start = record.get("cycle_start")
    try:
        when = dt.datetime.fromisoformat(start) if isinstance(start, str) else None
    except ValueError:
        return None
    return when if when is not None and when.tzinfo is not None else None


class BudgetSettings(abc.ABC):
    """The budget, the billing day and the clock every credit ledger shares.

    Raises:
        ConfigurationError: (on construction) a budget or billing day out of range.
    """

    def __init__(
        self,
        *,
        monthly_credits: int,
        billing_day: int,
        clock: Callable[[], dt.datetime],
    ) -> None:
        self._monthly, self._billing_day = check_budget(monthly_credits, billing_day)
        self._clock = clock
        self._last_cycle: tuple[dt.datetime, dt.datetime] | None = None

    @property
    def monthly_credits(self) -> int:
        """The monthly budget in credits (0 = unlimited)."""
        return self._monthly

    @property
    def billing_day(self) -> int:
        """The day of the month (1..28) the cycle resets at 00:00 UTC."""
        return self._billing_day

    def cycle(self) -> tuple[dt.datetime, dt.datetime]:
        """The current billing cycle ``[start, end)`` on the ledger's clock."""
        now = aware(self._clock)
        last = self._last_cycle
        if last is not None and last[0] <= now < last[1]:
            return last  # every charge asks; the cycle turns once a month
        last = self._last_cycle = cycle_bounds(now, self._billing_day)
        return last

    def cycle_start(self) -> dt.datetime:
        """When the current billing cycle began (UTC)."""
        return self.cycle()[0]

    def cycle_end(self) -> dt.datetime:
        """When the current billing cycle ends and the credits reset (UTC)."""
        return self.cycle()[1]

    async def remaining(self, account: str) -> int | None:
        """Credits left this cycle: 0 when exhausted, None when unlimited."""
        return (await self.state(account)).remaining

    @abc.abstractmethod
    async def state(self, account: str) -> LedgerState:
        """The account's spending this cycle."""


class _LedgerBase(BudgetSettings):
    """The pure bookkeeping shared by the in-process and file ledgers."""

    def _current(
        self, records: dict[str, Any], account: str, bounds: tuple[dt.datetime, dt.datetime]
    ) -> tuple[dict[str, Any], tuple[dt.datetime, dt.datetime]]:
        """The account's record for this cycle (a fresh one when the cycle turned).

        A record never moves back to an earlier cycle: when it is already in a later
        one (another process's clock, or this one's, is behind), it is counted there.
        Returns the record and the bounds of its cycle.
        """
        record = records.get(account)
        if isinstance(record, dict):
            held = _cycle_of(record)
            if held == bounds[0]:
                return record, bounds
            if held is not None and held > bounds[0]:
                return record, cycle_bounds(held, self._billing_day)
        record = {"cycle_start": bounds[0].isoformat(), "spent": 0, "exhausted": False}
        records[account] = record
        return record, bounds

    def _charge(
        self,
        records: dict[str, Any],
        account: str,
        cost: int,
        *,
        enforce: bool,
        bounds: tuple[dt.datetime, dt.datetime],
    ) -> LedgerState:
        record, bounds = self._current(records, account, bounds)
        state = _record_state(record, account, self._monthly, bounds)
        remaining = state.remaining
        if enforce and remaining is not None and (state.exhausted or cost > remaining):
            raise BudgetExceededError(
                account=account,
                needed=cost,
                remaining_credits=remaining,
                monthly_credits=self._monthly,
                cycle_end=bounds[1],
                exhausted=state.exhausted,
            )
        record["spent"] = state.spent + cost
        return _record_state(record, account, self._monthly, bounds)

    def _refund(
        self,
        records: dict[str, Any],
        account: str,
        cost: int,
        bounds: tuple[dt.datetime, dt.datetime],
    ) -> LedgerState:
        record, bounds = self._current(records, account, bounds)
        record["spent"] = max(int(record["spent"]) - cost, 0)
        return _record_state(record, account, self._monthly, bounds)

    def _flag(
        self,
        records: dict[str, Any],
        account: str,
        bounds: tuple[dt.datetime, dt.datetime],
        *,
        exhausted: bool,
    ) -> LedgerState:
        record, bounds = self._current(records, account, bounds)
        record["exhausted"] = exhausted
        return _record_state(record, account, self._monthly, bounds)

    def _view(
        self, records: dict[str, Any], account: str, bounds: tuple[dt.datetime, dt.datetime]
    ) -> LedgerState:
        record, bounds = self._current(dict(records), account, bounds)
        return _record_state(record, account, self._monthly, bounds)


class MemoryCreditLedger(_LedgerBase):
    """A credit ledger in this process's memory (lost when it exits).

    Safe for any number of tasks of one event loop (every method is atomic).

    Args:
        monthly_credits: The monthly budget (default 2,000, the free tier; 0 = unlimited).
        billing_day: The day of the month (1..28) the cycle resets at 00:00 UTC.
        clock: The wall clock (an aware datetime); injectable for tests.

    Raises:
        ConfigurationError: A setting out of range.
    """

    def __init__(
        self,
        *,
        monthly_credits: int = DEFAULT_MONTHLY_CREDITS,
        billing_day: int = 1,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        super().__init__(monthly_credits=monthly_credits, billing_day=billing_day, clock=clock)
        self._records: dict[str, Any] = {}

    def __repr__(self) -> str:
        return (
            f"MemoryCreditLedger(monthly_credits={self._monthly}, billing_day={self._billing_day})"
        )

    async def charge(self, account: str, cost: int = 1, *, enforce: bool = True) -> LedgerState:
        """Count ``cost`` as spent now (call it when the request is sent).

        Raises:
            BudgetExceededError: ``enforce`` is on and the charge would overspend the
                budget or the account is exhausted; nothing is counted.
            ConfigurationError: A malformed account or credit count.
        """
        return self._charge(
            self._records,
            check_account(account),
            check_cost(cost),
            enforce=enforce,
            bounds=self.cycle(),
        )

    async def refund(self, account: str, cost: int = 1) -> LedgerState:
        """Give back credits for a request that never reached the server."""
        return self._refund(self._records, check_account(account), check_cost(cost), self.cycle())

    async def state(self, account: str) -> LedgerState:
        """The account's spending this cycle."""
        return self._view(self._records, check_account(account), self.cycle())

    async def mark_exhausted(self, account: str) -> LedgerState:
        """Record the monthly 429: every charge is refused until the cycle resets."""
        return self._flag(self._records, check_account(account), self.cycle(), exhausted=True)

    async def clear_exhausted(self, account: str) -> LedgerState:
        """Forget a monthly 429 before the reset."""
        return self._flag(self._records, check_account(account), self.cycle(), exhausted=False)


class FileCreditLedger(_LedgerBase):
    """A credit ledger in a JSON file, shared by runs and by processes.

    Each charge is read, counted and written under an exclusive OS file lock
    (``fcntl.flock``) and saved by an atomic replace, so concurrent processes
    never lose a count and a crash never leaves half a file. The learned
    window caps (`FileCapStore`) may live in the same file.

    Args:
        path: The state file (created on the first charge; its directory too).
        monthly_credits: The monthly budget (default 2,000; 0 = unlimited).
        billing_day: The day of the month (1..28) the cycle resets at 00:00 UTC.
        clock: The wall clock (an aware datetime); injectable for tests.
        lock_timeout: The longest wait for another process's lock on the file, in
            seconds (the wait is cancellable; `StateFileError` after it).

    The billing day is stored in the file: a ledger given another one is refused
    (two settings would reset each other's counts). A record is never moved back
    to an earlier cycle, whatever a process's clock says.

    Raises:
        ConfigurationError: A setting out of range; (from the methods) the file
            counts cycles from another billing day.
        StateFileError: (from the methods) the file is damaged or cannot be used, or
            its lock was held by another process for ``lock_timeout`` seconds.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        monthly_credits: int = DEFAULT_MONTHLY_CREDITS,
        billing_day: int = 1,
        clock: Callable[[], dt.datetime] = utc_now,
        lock_timeout: float = LOCK_TIMEOUT,
    ) -> None:
        super().__init__(monthly_credits=monthly_credits, billing_day=billing_day, clock=clock)
        self._file = StateFile(path, lock_timeout=lock_timeout)

    def __repr__(self) -> str:
        return (
            f"FileCreditLedger({str(self._file.path)!r}, monthly_credits={self._monthly}, "
            f"billing_day={self._billing_day})"
        )

    @property
    def path(self) -> str:
        """The state file."""
        return str(self._file.path)

    def _records(self, data: dict[str, Any], *, write: bool = True) -> dict[str, Any]:
        """The ledger section, checked; the billing day recorded when ``write``.

        Raises:
            ConfigurationError: The file counts cycles from another billing day.
            StateFileError: The section is malformed.
        """
        stored = data.get("billing_day")
        if stored is not None and stored != self._billing_day:
            if isinstance(stored, bool) or not isinstance(stored, int):
                raise self._file.damaged(f"'billing_day' is {stored!r}, not a day of the month")
            raise ConfigurationError(
                f"the ledger in {self._file.path} counts billing cycles from day {stored} "
                f"of the month, but this ledger was given billing_day={self._billing_day}: "
                "every run sharing the file must use the same billing day (use "
                f"--billing-day {stored}, or move the file away to start counting afresh)"
            )
        if write:
            data["billing_day"] = self._billing_day
        records = self._file.section(data, "ledger")
        for name, record in records.items():
            if not (
                isinstance(record, dict)
                and _cycle_of(record) is not None
                and isinstance(record.get("spent"), int)
                and not isinstance(record.get("spent"), bool)
                and record["spent"] >= 0
                and isinstance(record.get("exhausted"), bool)
            ):
                raise self._file.damaged(f"the ledger entry of {name!r} is malformed")
        return records

    async def charge(self, account: str, cost: int = 1, *, enforce: bool = True) -> LedgerState:
        """Count ``cost`` as spent now (call it when the request is sent).

        Raises:
            BudgetExceededError: ``enforce`` is on and the charge would overspend the
                budget or the account is exhausted; nothing is counted.
            StateFileError: The file is damaged or cannot be used.
        """
        account, cost = check_account(account), check_cost(cost)
        # The cycle is read under the lock (a charge that waited for another process
        # over the reset counts in the cycle it is made in), on the event loop: a
        # caller's clock may read the loop's time, which a worker thread cannot.
        return await self._file.update_at(
            self.cycle,
            lambda data, bounds: self._charge(
                self._records(data), account, cost, enforce=enforce, bounds=bounds
            ),
        )

    async def refund(self, account: str, cost: int = 1) -> LedgerState:
        """Give back credits for a request that never reached the server.

        Raises:
            StateFileError: The file is damaged or cannot be used.
        """
        account, cost = check_account(account), check_cost(cost)
        bounds = self.cycle()
        return await self._file.update(
            lambda data: self._refund(self._records(data), account, cost, bounds)
        )

    async def state(self, account: str) -> LedgerState:
        """The account's spending this cycle.

        Raises:
            StateFileError: The file is damaged or cannot be read.
        """
        account = check_account(account)
        bounds = self.cycle()
        return await self._file.read(
            lambda data: self._view(self._records(data, write=False), account, bounds)
        )

    async def mark_exhausted(self, account: str) -> LedgerState:
        """Record the monthly 429: every charge is refused until the cycle resets.

        Raises:
            StateFileError: The file is damaged or cannot be used.
        """
        return await self._set_flag(account, exhausted=True)

    async def clear_exhausted(self, account: str) -> LedgerState:
        """Forget a monthly 429 before the reset.

        Raises:
            StateFileError: The file is damaged or cannot be used.
        """
        return await self._set_flag(account, exhausted=False)

    async def _set_flag(self, account: str, *, exhausted: bool) -> LedgerState:
        account = check_account(account)
        bounds = self.cycle()
        return await self._file.update(
            lambda data: self._flag(self._records(data), account, bounds, exhausted=exhausted)
        )
