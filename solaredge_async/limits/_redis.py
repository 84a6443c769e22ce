"""Limits shared through Redis by every process and host that uses one account.

The API's limits belong to the developer account, so workers on several hosts
must share one bucket. `RedisLimits` holds a coredis connection (coredis runs
on asyncio and on trio); from it come a `RedisRateLimiter` per account (the
same interface as `RateLimiter`) and a `RedisCreditLedger` (a `CreditLedger`).

Every acquire is ONE atomic Lua script on the Redis server's clock (``TIME``),
so the hosts' clocks do not matter. It is a GCRA token bucket: each caller
*reserves* its send time (the script moves the account's next free slot on by
one interval and returns how long the caller must wait), so waiters never
stampede when a slot frees. The same script applies the shared ``Retry-After``
pause, the adopted per-minute limit (never above the caller's ceiling), drains
the bucket on ``remaining: 0`` and, when the limiter has a ledger, charges the
monthly credit at the moment the send slot is reserved (refused, with nothing
reserved, when it would overspend or the account is exhausted).

Keys hold credential fingerprints, never secrets::

    PREFIX:{FINGERPRINT}:bucket     hash: tat, rate, pause_until
    PREFIX:{FINGERPRINT}:ledger     hash: spent, exhausted, cycle_start, cycle_end,
                                          billing_day
    PREFIX:{FINGERPRINT}:...:op:ID  one script call's result, for a retry (seconds)

(the braces make the fingerprint a hash tag: an account's keys share one
Redis Cluster slot). The ledger's billing cycle and expiry are computed in the
scripts from the server's ``TIME`` too: a new count starts at the billing day,
00:00 UTC on the Redis server's clock, whatever the hosts' clocks say.

When Redis cannot be reached the limiter retries for a bounded time
(``unavailable_timeout``) and then raises `SharedStateUnavailableError`: it
never falls back to an unshared bucket.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import math
import secrets
from typing import TYPE_CHECKING, Any, Final, Self, Unpack

import anyio
import attrs

from solaredge_async.errors import ConfigurationError
from solaredge_async.limits._bucket import (
    MAX_PAUSE,
    LimiterGauges,
    PaceOptions,
    RateLimiter,
    valid_limit,
)
from solaredge_async.limits._cycle import (
    DEFAULT_MONTHLY_CREDITS,
    check_account,
    check_cost,
    check_seconds,
    is_number,
    utc_now,
)
from solaredge_async.limits._errors import (
    BudgetExceededError,
    LimitWaitTooLongError,
    SharedStateUnavailableError,
)
from solaredge_async.limits._ledger import BudgetSettings, LedgerState
from solaredge_async.limits._lua import ACQUIRE, LEDGER
from solaredge_async.limits._redis_link import RedisLink, RedisLinkHolder, check_prefix, check_url

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = ["RedisCreditLedger", "RedisLimits", "RedisRateLimiter", "Reservation"]

logger = logging.getLogger(__name__)

_FMT: Final = "%.6f"
#: Seconds a ledger hash outlives its cycle (kept for inspection, then dropped).
_LEDGER_KEEP: Final = 40 * 86400
#: Seconds an idle bucket is kept (its pause, pace and adopted limit).
_BUCKET_KEEP: Final = 3600
_NONE: Final = "-1"
_UNREACHABLE: Final = (
    "the shared limits on {target} are unreachable ({what}) after {timeout:g} s; nothing "
    "was sent. Start Redis or fix the URL; the client does not fall back to an unshared "
    "limiter"
)
#: Seconds a script's result outlives its last possible retry (for a replay).
_OP_KEEP: Final = 60
#: The acquire script's ledger arguments without a ledger (monthly, enforce, day, keep).
_NO_LEDGER: Final = ("0", "0", "1", "0")


def _instant(seconds: str) -> dt.datetime:
    """A cycle bound from a script (Unix seconds on the server's clock), UTC."""
    return dt.datetime.fromtimestamp(int(seconds), dt.UTC)


@attrs.frozen(kw_only=True)
class Reservation:
    """A send slot reserved in the shared bucket.

    Attributes:
        send_at: The reserved send time on the Redis server's clock (Unix seconds).
        server_now: The server's clock when the slot was reserved (Unix seconds).
        wait: Seconds the caller waited (``send_at - server_now``).
        requests_per_minute: The shared rate in force (calls per minute).
        paused: True when the wait was a shared ``Retry-After`` pause.
        spent: Credits spent this cycle after the charge (None without a ledger).
    """

    send_at: float
    server_now: float
    wait: float
    requests_per_minute: float
    paused: bool
    spent: int | None


class RedisLimits(RedisLinkHolder):
    """A connection to the Redis that holds the shared limits; an async context manager.

    Use it for the life of the clients that share it::

        async with RedisLimits("redis://localhost:6379/0") as shared:
            limiter = shared.limiter(fingerprint, 10, ledger=shared.ledger())

    Args:
        url: ``redis://[user:password@]host:port/db`` (``rediss://`` for TLS).
        prefix: The first part of every key.
        op_timeout: Seconds one Redis round trip may take.
        unavailable_timeout: Seconds to keep retrying an unreachable Redis before
            failing closed with `SharedStateUnavailableError`.

    Raises:
        ConfigurationError: A malformed URL or timeout.
        ImportError: coredis is not installed (``pip install solaredge-async[redis]``).
        SharedStateUnavailableError: (on entry and from every call) Redis could
            not be reached within ``unavailable_timeout``.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "solaredge",
        op_timeout: float = 2.0,
        unavailable_timeout: float = 5.0,
    ) -> None:
        self._link = RedisLink(
            check_url(url),
            scripts={"acquire": ACQUIRE, "ledger": LEDGER},
            op_timeout=check_seconds(op_timeout, "op_timeout"),
            unavailable_timeout=check_seconds(unavailable_timeout, "unavailable_timeout"),
            unreachable=_UNREACHABLE,
            finish_tasks=True,
        )
        self.prefix = check_prefix(prefix)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> Self:  # noqa: ANN401
        """The same as ``RedisLimits(url, **options)``."""
        return cls(url, **options)

    def __repr__(self) -> str:
        return f"RedisLimits({self.target!r}, prefix={self.prefix!r})"

    async def run(self, name: str, keys: Sequence[str], args: Sequence[str]) -> list[str]:
        """Run one of the scripts (retrying an unreachable Redis for a bounded time).

        A retry after a lost reply (a reset connection, a reply slower than
        ``op_timeout``) is safe: the script ran at most once, and the retry gets its
        stored result (see `solaredge_async.limits._lua`).

        Raises:
            SharedStateUnavailableError: Redis unreachable for ``unavailable_timeout``.
            RuntimeError: Used outside ``async with``.
        """
        self._link.client("RedisLimits")
        # One operation key per call, the same for its retries: a script that ran
        # but whose reply was lost returns its stored result instead of charging
        # or reserving again. It shares the first key's hash tag (one slot).
        op_keys = [*keys, f"{keys[0]}:op:{secrets.token_hex(12)}"]
        op_args = [*args, str(math.ceil(self.unavailable_timeout + self.op_timeout) + _OP_KEEP)]

        async def once() -> list[str]:
            return list(await self._link.script(name, op_keys, op_args, owner="RedisLimits"))

        result: list[str] = await self._link.retrying(once)
        return result

    def start_soon(self, work: Callable[[], Any]) -> bool:
        """Run ``work`` in the background; False when outside ``async with``."""
        return self._link.start_soon(work)

    def key(self, account: str, what: str) -> str:
        """The key of ``what`` for an account fingerprint.

        The fingerprint is a hash tag (``{...}``): an account's keys share one
        slot, so the acquire script also runs on Redis Cluster.
        """
        return f"{self.prefix}:{{{check_account(account)}}}:{what}"

    def ledger(
        self,
        *,
        monthly_credits: int = DEFAULT_MONTHLY_CREDITS,
        billing_day: int = 1,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> RedisCreditLedger:
        """A credit ledger on this Redis (see `RedisCreditLedger`)."""
        return RedisCreditLedger(
            self, monthly_credits=monthly_credits, billing_day=billing_day, clock=clock
        )

    def limiter(
        self,
        account: str,
        requests_per_minute: float = 10,
        *,
        ledger: RedisCreditLedger | None = None,
        **pace: Unpack[PaceOptions],
    ) -> RedisRateLimiter:
        """A rate limiter for one account on this Redis (see `RedisRateLimiter`)."""
        return RedisRateLimiter(self, account, requests_per_minute, ledger=ledger, **pace)


class RedisCreditLedger(BudgetSettings):
    """A `CreditLedger` on Redis, shared by every process using the account.

    Each call is one atomic script that also finds the billing cycle on the Redis
    server's clock (a new count from the billing day, 00:00 UTC; never back to an
    earlier cycle), so the hosts' clocks do not matter; ``clock`` serves only
    `cycle` (estimates before any call). The billing day is stored with the count:
    a ledger given another one is refused. Made by `RedisLimits.ledger`.

    Raises:
        ConfigurationError: A setting out of range; (from the methods) the account's
            count on Redis follows another billing day.
        SharedStateUnavailableError: (from the methods) Redis unreachable.
        BudgetExceededError: (from `charge`) the charge would overspend.
    """

    def __init__(
        self,
        shared: RedisLimits,
        *,
        monthly_credits: int = DEFAULT_MONTHLY_CREDITS,
        billing_day: int = 1,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        super().__init__(monthly_credits=monthly_credits, billing_day=billing_day, clock=clock)
        self._shared = shared

    def __repr__(self) -> str:
        return (
            f"RedisCreditLedger({self._shared.target!r}, monthly_credits={self._monthly}, "
            f"billing_day={self._billing_day})"
        )

    def ledger_args(self, account: str, cost: int, *, enforce: bool) -> tuple[str, list[str]]:
        """The ledger key and the script arguments for a charge (used by the limiter).

        The arguments: cost, monthly budget, enforce, billing day, seconds the count
        is kept after its cycle ends.
        """
        key = self._shared.key(account, "ledger")
        return key, [
            str(cost),
            str(self._monthly),
            "1" if enforce else "0",
            str(self._billing_day),
            str(_LEDGER_KEEP),
        ]

    def billing_day_error(self, account: str, stored: str) -> ConfigurationError:
        """The refusal of a call whose billing day differs from the stored one."""
        return ConfigurationError(
            f"the credit ledger of {account} on {self._shared.target} counts billing "
            f"cycles from day {stored} of the month, but this ledger was given "
            f"billing_day={self._billing_day}: every process sharing it must use the "
            f"same billing day (use --billing-day {stored})"
        )

    def budget_error(
        self, account: str, cost: int, spent: int, *, exhausted: bool, cycle_end: dt.datetime
    ) -> BudgetExceededError:
        """The refusal of a charge of ``cost`` credits."""
        return BudgetExceededError(
            account=account,
            needed=cost,
            remaining_credits=0 if exhausted else max(self._monthly - spent, 0),
            monthly_credits=self._monthly,
            cycle_end=cycle_end,
            exhausted=exhausted,
        )

    async def _op(
        self, op: str, account: str, cost: int = 0, *, enforce: bool = True
    ) -> LedgerState:
        account, cost = check_account(account), check_cost(cost)
        key, args = self.ledger_args(account, cost, enforce=enforce)
        status, spent_text, exhausted_text, start, end, day = await self._shared.run(
            "ledger", [key], [op, *args]
        )
        if status == "billing_day":
            raise self.billing_day_error(account, day)
        spent, exhausted = int(spent_text), exhausted_text == "1"
        bounds = _instant(start), _instant(end)
        if status == "budget":
            raise self.budget_error(account, cost, spent, exhausted=exhausted, cycle_end=bounds[1])
        return LedgerState(
            account=account,
            spent=spent,
            monthly_credits=self._monthly,
            cycle_start=bounds[0],
            cycle_end=bounds[1],
            exhausted=exhausted,
        )

    async def charge(self, account: str, cost: int = 1, *, enforce: bool = True) -> LedgerState:
        """Count ``cost`` credits as spent now (atomically on Redis).

        Raises:
            BudgetExceededError: ``enforce`` is on and the charge would overspend the
                budget or the account is exhausted; nothing is counted.
            SharedStateUnavailableError: Redis unreachable.
        """
        return await self._op("charge", account, cost, enforce=enforce)

    async def refund(self, account: str, cost: int = 1) -> LedgerState:
        """Give back credits for a request that never reached the server."""
        return await self._op("refund", account, cost)

    async def state(self, account: str) -> LedgerState:
        """The account's spending this cycle."""
        return await self._op("state", account)

    async def mark_exhausted(self, account: str) -> LedgerState:
        """Record the monthly 429 for every process: charges are refused until the reset."""
        return await self._op("exhaust", account)

    async def clear_exhausted(self, account: str) -> LedgerState:
        """Forget a monthly 429 before the reset."""
        return await self._op("clear", account)


class RedisRateLimiter(LimiterGauges):
    """A per-minute limiter shared through Redis; the interface of `RateLimiter`.

    `acquire` reserves a send slot with one atomic script on the Redis server's
    clock and sleeps until it; `observe` and `pause` are synchronous (as the
    engine calls them) and reach Redis from a background task, or with the next
    acquire when that fails. With a ``ledger``, `acquire` charges one credit in
    the same script. Made by `RedisLimits.limiter`.

    Args:
        shared: The Redis connection.
        account: The credential fingerprint (never the secret).
        requests_per_minute: The starting rate (calls per minute) and, unless
            ``ceiling`` says more, the most the server's headers may install.
        burst: Calls that may go at once after an idle spell (>= 1).
        safety_margin: Seconds added to each 60 s window, >= 0.
        adopt_server_limit: Follow ``x-ratelimit-limit-minute`` within the ceiling.
        ceiling: The highest rate the server may install (default: the rate).
        max_wait: The longest one acquire may wait, in seconds (None: a pause is
            bounded by the caller's deadline only; the pace is not bounded).
        ledger: Charge each acquire to this credit ledger, atomically.

    Raises:
        ConfigurationError: A setting out of range.
    """

    def __init__(
        self,
        shared: RedisLimits,
        account: str,
        requests_per_minute: float = 10,
        *,
        ledger: RedisCreditLedger | None = None,
        **pace: Unpack[PaceOptions],
    ) -> None:
        # The in-process limiter's defaults and checks (with the same messages).
        local = RateLimiter(requests_per_minute, **pace)
        self._shared = shared
        self.account = check_account(account)
        self.ledger = ledger
        self._start_rate = self._rate = local.requests_per_minute
        self._ceiling = local.ceiling
        self._burst = local.burst
        self._margin = local.safety_margin
        self.max_wait = local.max_wait
        self.adopt_server_limit = local.adopt_server_limit
        self._granted = 0
        self._pending_limit: int | None = None
        self._pending_drain = False
        self._pending_pause_until = -math.inf
        self.last_reservation: Reservation | None = None

    def __repr__(self) -> str:
        return (
            f"RedisRateLimiter({self._shared.target!r}, account={self.account!r}, "
            f"requests_per_minute={self._rate:g}, burst={self._burst})"
        )

    def _args(self, *, reserve: bool, cost: int, max_pause: float | None) -> list[str]:
        now = anyio.current_time()
        pause = max(self._pending_pause_until - now, 0.0)
        limit = self._pending_limit if self._pending_limit is not None else -1
        return [
            _FMT % self._start_rate,
            _FMT % self._ceiling,
            _FMT % self._margin,
            str(self._burst),
            "1" if reserve else "0",
            _NONE if self.max_wait is None else _FMT % self.max_wait,
            _NONE if max_pause is None else _FMT % max_pause,
            str(limit),
            "1" if self._pending_drain else "0",
            _FMT % pause,
            _FMT % MAX_PAUSE,
            str(cost),
        ]

    def _sent(self) -> None:
        self._pending_limit = None
        self._pending_drain = False
        self._pending_pause_until = -math.inf

    async def reserve(self, cost: int = 1, *, enforce: bool = True) -> Reservation:
        """Reserve the next send slot (and charge ``cost`` credits), without waiting.

        Returns the reservation; the caller must not send before ``wait`` seconds
        have passed. `acquire` is this plus the wait.

        Raises:
            LimitWaitTooLongError: The wait would exceed ``max_wait``, or a shared
                pause would end after the caller's deadline; nothing is reserved.
            BudgetExceededError: The ledger refuses the charge; nothing is reserved.
            ConfigurationError: The ledger's count on Redis follows another billing
                day; nothing is reserved.
            SharedStateUnavailableError: Redis unreachable (fail closed).
        """
        deadline = anyio.current_effective_deadline()
        max_pause = None if math.isinf(deadline) else max(deadline - anyio.current_time(), 0.0)
        if self.max_wait is not None:
            max_pause = self.max_wait if max_pause is None else min(max_pause, self.max_wait)
        ledger = self.ledger
        charge = cost if ledger is not None else 0
        args = self._args(reserve=True, cost=charge, max_pause=max_pause)
        keys = [self._shared.key(self.account, "bucket")]
        if ledger is not None:
            ledger_key, ledger_args = ledger.ledger_args(self.account, cost, enforce=enforce)
            keys.append(ledger_key)
            args += ledger_args[1:]
        else:
            keys.append(self._shared.key(self.account, "ledger:none"))
            args += _NO_LEDGER
        (
            status,
            wait,
            now,
            send_at,
            rate,
            spent,
            exhausted,
            paused,
            _start,
            end,
        ) = await self._shared.run("acquire", keys, args)
        self._sent()
        self._rate = float(rate)
        if status == "wait":
            allowed = max_pause if paused == "1" and max_pause is not None else self.max_wait
            raise LimitWaitTooLongError(
                wait=float(wait), allowed=allowed or 0.0, paused=paused == "1"
            )
        if status == "billing_day":
            assert ledger is not None  # noqa: S101 - a billing day needs a ledger
            raise ledger.billing_day_error(self.account, exhausted)
        if status == "budget":
            assert ledger is not None  # noqa: S101 - "budget" needs a ledger
            raise ledger.budget_error(
                self.account, cost, int(spent), exhausted=exhausted == "1", cycle_end=_instant(end)
            )
        self._granted += 1
        reservation = Reservation(
            send_at=float(send_at),
            server_now=float(now),
            wait=float(wait),
            requests_per_minute=self._rate,
            paused=paused == "1",
            spent=int(spent) if ledger is not None else None,
        )
        self.last_reservation = reservation
        return reservation

    async def acquire(self, cost: int = 1) -> Reservation:
        """Reserve the next send slot (charging the ledger, if any) and wait for it.

        A caller cancelled during the wait keeps its slot spent (the pace stays
        safe) and gets its credit back.

        Raises:
            LimitWaitTooLongError: As from `reserve` (the wait is too long).
            BudgetExceededError: As from `reserve` (the ledger refuses the charge).
            ConfigurationError: As from `reserve` (another billing day on Redis).
            SharedStateUnavailableError: Redis unreachable (fail closed).
        """
        reservation = await self.reserve(cost)
        if reservation.wait > 0:
            try:
                await anyio.sleep(reservation.wait)
            except BaseException:
                if self.ledger is not None:
                    with (
                        anyio.CancelScope(shield=True),
                        anyio.move_on_after(self._shared.op_timeout),
                        contextlib.suppress(SharedStateUnavailableError),
                    ):
                        await self.ledger.refund(self.account, cost)
                raise
        return reservation

    async def refund(self, cost: int = 1) -> None:
        """Give back the credit of an acquire whose request never left (a connect error)."""
        if self.ledger is not None:
            await self.ledger.refund(self.account, cost)

    async def flush(self) -> None:
        """Send pending observations and pauses to Redis now.

        Raises:
            SharedStateUnavailableError: Redis unreachable (they stay pending).
        """
        if (
            self._pending_limit is None
            and not self._pending_drain
            and math.isinf(self._pending_pause_until)
        ):
            return
        args = [*self._args(reserve=False, cost=0, max_pause=None), *_NO_LEDGER]
        keys = [
            self._shared.key(self.account, "bucket"),
            self._shared.key(self.account, "ledger:none"),
        ]
        _status, _wait, _now, _send_at, rate, *_ = await self._shared.run("acquire", keys, args)
        self._sent()
        self._rate = float(rate)

    async def _flush_in_background(self) -> None:
        try:
            await self.flush()
        except SharedStateUnavailableError:
            logger.warning(
                "shared limits on %s unreachable: the pause or limit is sent with the next call",
                self._shared.target,
            )

    def observe(self, limit: int | None, remaining: int | None) -> None:
        """Learn from a response's ``x-ratelimit-*-minute`` headers, for every process.

        Adopts ``limit`` (never above the ceiling) when `adopt_server_limit` is on
        and drains the shared bucket when ``remaining`` is 0. Invalid values are
        ignored. Sent to Redis in the background.
        """
        limit = valid_limit(limit)
        remaining = valid_limit(remaining)
        changed = False
        if limit is not None and limit > 0 and self.adopt_server_limit:
            adopted = min(float(limit), self._ceiling)
            if adopted != self._rate:
                self._pending_limit = max(int(adopted), 1)
                changed = True
        if remaining == 0:
            self._pending_drain = True
            changed = True
        if changed:
            self._shared.start_soon(self._flush_in_background)

    def pause(self, seconds: float) -> None:
        """Stop every process's grants for ``seconds`` (a 429's ``Retry-After``).

        Cut to `MAX_PAUSE`; non-numbers and non-positive values are ignored. A
        pause never shortens one in force. Sent to Redis in the background.
        """
        if not is_number(seconds) or not seconds > 0:
            return
        seconds = min(float(seconds), MAX_PAUSE)
        if math.isnan(seconds):
            return
        self._pending_pause_until = max(self._pending_pause_until, anyio.current_time() + seconds)
        self._shared.start_soon(self._flush_in_background)
