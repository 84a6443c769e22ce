"""The client-side rate limiter: a token bucket on anyio's clock.

One `RateLimiter` belongs to one credential (the API counts calls per account).
Every attempt, retries included, takes a token before it is sent, because every
attempt costs a credit and counts against the per-minute limit.

The server (Kong) counts fixed clock minutes. A bucket that grants exactly
``limit`` tokens per 60 s can still put ``limit + 1`` requests into one server
minute when network latency varies (an early request arrives late and a later one
arrives early). So the bucket paces ``limit`` grants per ``60 s + safety_margin``:
jitter smaller than the margin can never push more than the limit into a minute.

Half of the margin is lent to the event loop: a waiter woken late may catch up
by up to ``safety_margin / 2`` seconds of tokens, so scheduling lateness is not
lost for good at high rates (at 12,000 calls a minute a strict bucket loses
about a fifth of the rate to it), while any 60 s window still holds at most
``limit`` grants and network jitter keeps the other half of the margin.

Nothing the server says can take the limiter out of its bounds: an advertised
limit may lower the rate but never lift it over the caller's ceiling, and a
``Retry-After`` pause is cut to `MAX_PAUSE`. A wait that would end after the
caller's deadline fails at once (`LimitWaitTooLongError`) instead of parking.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, TypedDict

import anyio

from solaredge_async.errors import ConfigurationError
from solaredge_async.limits._cycle import check_account, is_number
from solaredge_async.limits._errors import LimitWaitTooLongError
from solaredge_async.limits._headers import MAX_HEADER_INT, MAX_RETRY_AFTER

if TYPE_CHECKING:
    from solaredge_async.limits._ledger import CreditLedger

__all__ = [
    "DEFAULT_SAFETY_MARGIN",
    "MAX_PAUSE",
    "LimiterGauges",
    "PaceOptions",
    "RateLimiter",
    "check_wait",
    "valid_limit",
]

#: The longest pause (seconds) `RateLimiter.pause` installs, whatever it is asked.
MAX_PAUSE = MAX_RETRY_AFTER

#: Seconds added to each 60 s window by default; larger than any loopback or WAN
#: latency jitter the client expects, small enough to keep utilisation above 99 %
#: (10 calls per 60.5 s is 0.992 of the limit).
DEFAULT_SAFETY_MARGIN = 0.5

_EPSILON = 1e-6


def valid_limit(value: object) -> int | None:
    """``value`` if it is a plausible per-minute limit or count (an int in 0..10**12)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 <= value <= MAX_HEADER_INT else None


def check_wait(wait: float, *, paused: bool, max_wait: float | None) -> None:
    """Raise when a wait of ``wait`` seconds from now cannot be afforded.

    A server-requested pause is bounded by the time left before the caller's
    effective deadline (anyio cancel scopes, `anyio.fail_after`) and by
    ``max_wait``; the ordinary per-minute pace by ``max_wait`` only (a caller's
    deadline cancels it as usual).

    Raises:
        LimitWaitTooLongError: The wait ends after the bound.
    """
    if wait <= _EPSILON:
        return
    allowed = math.inf
    if paused:
        allowed = anyio.current_effective_deadline() - anyio.current_time()
    if max_wait is not None:
        allowed = min(allowed, max_wait)
    if wait > allowed:
        raise LimitWaitTooLongError(wait=wait, allowed=max(allowed, 0.0), paused=paused)


class PaceOptions(TypedDict, total=False):
    """The keyword settings of a limiter's pace, for limiters built on `RateLimiter`'s.

    Each has `RateLimiter`'s meaning, default and checks: ``burst`` (calls),
    ``safety_margin`` (seconds), ``adopt_server_limit``, ``ceiling`` (calls per
    minute) and ``max_wait`` (seconds).
    """

    burst: int
    safety_margin: float
    adopt_server_limit: bool
    ceiling: float | None
    max_wait: float | None


class LimiterGauges:
    """The read-only figures every rate limiter shows (in-process and shared).

    A subclass sets ``_rate``, ``_ceiling``, ``_burst``, ``_margin`` and ``_granted``.
    """

    _rate: float
    _ceiling: float
    _burst: int
    _margin: float
    _granted: int

    @property
    def requests_per_minute(self) -> float:
        """The rate in force, in calls per minute (shared: as seen at the last acquire)."""
        return self._rate

    @property
    def ceiling(self) -> float:
        """The highest rate the server's headers may install, in calls per minute."""
        return self._ceiling

    @property
    def burst(self) -> int:
        """The most calls that may go at once after an idle spell (tokens in the bucket)."""
        return self._burst

    @property
    def safety_margin(self) -> float:
        """Seconds added to each 60 s window (the pace is the rate per ``60 + margin``)."""
        return self._margin

    @property
    def granted(self) -> int:
        """How many calls this limiter let through (tokens granted, slots reserved)."""
        return self._granted

    @property
    def may_wait(self) -> bool:
        """Whether an acquire may wait (for a token, a slot, a lock or the network)."""
        return True


class RateLimiter(LimiterGauges):
    """A token bucket shared by every request made with one credential.

    Tokens refill continuously at ``requests_per_minute`` per ``60 + safety_margin``
    seconds, up to ``burst`` tokens. With the default ``burst=1`` there is no burst:
    grants are evenly spaced. Waiters are served first come, first served; a waiter
    cancelled while it waits takes no token.

    The limiter also carries the *shared pause*: when the server answers 429 with
    ``Retry-After``, `pause` stops every grant until the pause is over.

    Args:
        requests_per_minute: The starting rate (calls per minute), > 0.
        burst: The most tokens the bucket holds (>= 1).
        safety_margin: Seconds added to each 60 s window, >= 0.
        adopt_server_limit: Follow ``x-ratelimit-limit-minute``, within the ceiling.
        ceiling: The highest rate (calls per minute) the server's headers may
            install; by default ``requests_per_minute`` itself, so an advertised
            limit can lower the rate but never raise it above what the caller set.
            Pass a larger number to let the server lift the rate up to it.
        max_wait: The longest one `acquire` may wait, in seconds (``None``: only
            the caller's deadline bounds a pause; the pace is not bounded).
        ledger: Charge each `acquire` to this credit ledger (under ``account``).
        account: The credential fingerprint the ledger counts under; required
            with ``ledger``.

    Raises:
        ConfigurationError: A non-positive rate, burst or ceiling, a ceiling below
            the rate, or a negative margin or max_wait.
    """

    def __init__(
        self,
        requests_per_minute: float = 10,
        *,
        burst: int = 1,
        safety_margin: float = DEFAULT_SAFETY_MARGIN,
        adopt_server_limit: bool = True,
        ceiling: float | None = None,
        max_wait: float | None = None,
        ledger: CreditLedger | None = None,
        account: str | None = None,
    ) -> None:
        if not is_number(requests_per_minute) or not (
            requests_per_minute > 0 and math.isfinite(requests_per_minute)
        ):
            raise ConfigurationError(
                f"requests_per_minute must be a positive number, got {requests_per_minute!r}; "
                "pass requests_per_minute=None to the client to turn rate limiting off"
            )
        if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
            raise ConfigurationError(f"burst must be an integer, at least 1; got {burst!r}")
        if not is_number(safety_margin) or not (
            safety_margin >= 0 and math.isfinite(safety_margin)
        ):
            raise ConfigurationError(f"safety_margin must be >= 0 seconds, got {safety_margin!r}")
        if ceiling is None:
            ceiling = requests_per_minute
        if not is_number(ceiling) or not (
            ceiling >= requests_per_minute and math.isfinite(ceiling)
        ):
            raise ConfigurationError(
                f"ceiling must be a number >= requests_per_minute ({requests_per_minute!r}), "
                f"got {ceiling!r}"
            )
        if max_wait is not None and (
            not is_number(max_wait) or not (max_wait >= 0 and math.isfinite(max_wait))
        ):
            raise ConfigurationError(f"max_wait must be >= 0 seconds or None, got {max_wait!r}")
        self._rate = float(requests_per_minute)
        self._ceiling = float(ceiling)
        self.max_wait = max_wait
        if ledger is not None and account is None:
            raise ConfigurationError(
                "a RateLimiter with a ledger needs account= (the credential fingerprint)"
            )
        self.ledger = ledger
        self._account = check_account(account) if account is not None else ""
        self._burst = burst
        self._margin = float(safety_margin)
        self.adopt_server_limit = adopt_server_limit
        self._interval = (60.0 + safety_margin) / self._rate
        self._capacity = self._capacity_for(self._interval)
        # The bucket starts with `burst` tokens: the first `burst` calls go at once.
        self._tokens = float(burst)
        self._updated: float | None = None
        self._paused_until = -math.inf
        self._lock = anyio.Lock()
        self._granted = 0

    def __repr__(self) -> str:
        return (
            f"RateLimiter(requests_per_minute={self._rate:g}, burst={self._burst}, "
            f"safety_margin={self._margin:g})"
        )

    @property
    def paused_until(self) -> float:
        """The anyio clock time before which nothing is granted (``-inf``: no pause)."""
        return self._paused_until

    def _capacity_for(self, interval: float) -> float:
        return self._burst + (self._margin / 2.0) / interval

    def _refill(self, now: float) -> None:
        if self._updated is None:
            self._updated = now
            return
        elapsed = now - self._updated
        if elapsed > 0:
            self._tokens = min(self._capacity, self._tokens + elapsed / self._interval)
            self._updated = now

    def _delay(self, now: float) -> float:
        """Seconds until a token can be granted (0 when one can be granted now)."""
        self._refill(now)
        wait = 0.0 if self._tokens >= 1.0 else (1.0 - self._tokens) * self._interval
        return max(wait, self._paused_until - now, 0.0)

    async def acquire(self, cost: int = 1) -> None:
        """Wait for a token and take it; with a ledger, charge ``cost`` credits first.

        Cancellation while waiting takes no token and leaves the queue order of the
        other waiters unchanged. The charge happens when the token is due, just
        before the request is sent, after the limiter's queue is released: a slow
        ledger (a state file locked by another process) delays this caller only,
        and a charge that fails or is cancelled gives the token back.

        Raises:
            LimitWaitTooLongError: A server-requested pause would end after the
                caller's effective deadline, or the wait would exceed `max_wait`
                (checked when this caller reaches the head of the queue); no token
                is taken.
            BudgetExceededError: The ledger refuses the charge; no token is taken.
        """
        async with self._lock:
            while True:
                now = anyio.current_time()
                delay = self._delay(now)
                # Float residue (a token short by 1e-12) must not spin: a grant a
                # microsecond early is harmless, a loop that never sleeps is not.
                if delay <= _EPSILON:
                    break
                check_wait(delay, paused=self._paused_until > now, max_wait=self.max_wait)
                await anyio.sleep(delay)
            self._tokens -= 1.0
            self._granted += 1
        if self.ledger is not None:
            try:
                await self.ledger.charge(self._account, cost)
            except BaseException:
                # Nothing will be sent: the token goes back (never above capacity).
                self._tokens = min(self._tokens + 1.0, self._capacity)
                self._granted -= 1
                raise

    async def refund(self, cost: int = 1) -> None:
        """Give back the credit of an acquire whose request never left (a connect error)."""
        if self.ledger is not None:
            await self.ledger.refund(self._account, cost)

    def set_rate(self, requests_per_minute: float) -> None:
        """Change the rate (calls per minute); tokens already earned are kept.

        Values that are not positive and finite numbers are ignored; values above
        the ceiling are cut to it.
        """
        if not is_number(requests_per_minute):
            return
        try:
            if not (requests_per_minute > 0 and math.isfinite(requests_per_minute)):
                return
        except OverflowError:  # an int too large for a float
            return
        requests_per_minute = min(float(requests_per_minute), self._ceiling)
        if requests_per_minute == self._rate:
            return
        self._refill(anyio.current_time())
        self._rate = requests_per_minute
        self._interval = (60.0 + self._margin) / self._rate
        self._capacity = self._capacity_for(self._interval)
        self._tokens = min(self._tokens, self._capacity)

    def observe(self, limit: int | None, remaining: int | None) -> None:
        """Learn from a response's ``x-ratelimit-*-minute`` headers.

        Adopts ``limit`` (never above the ceiling) when `adopt_server_limit` is on
        and drains the bucket when ``remaining`` is 0 (the server will refuse
        anything more this minute, so no saved-up burst may be spent). Values that
        are not integers in ``0..10**12`` are ignored.
        """
        limit = valid_limit(limit)
        remaining = valid_limit(remaining)
        if limit is not None and self.adopt_server_limit and limit > 0:
            self.set_rate(limit)
        if remaining == 0:
            self._refill(anyio.current_time())
            self._tokens = min(self._tokens, 0.0)

    def pause(self, seconds: float) -> None:
        """Stop every grant for ``seconds`` from now (a 429's ``Retry-After``).

        A pause never shortens one already in force, and is never longer than
        `MAX_PAUSE` (longer requests are cut to it; non-numbers and non-positive
        values are ignored). The bucket is drained too, so the calls after the
        pause are paced again from zero.
        """
        if not is_number(seconds) or not (seconds > 0):
            return
        seconds = min(float(seconds), MAX_PAUSE)  # inf included
        if math.isnan(seconds):
            return
        now = anyio.current_time()
        self._paused_until = max(self._paused_until, now + seconds)
        self._refill(now)
        self._tokens = min(self._tokens, 0.0)
