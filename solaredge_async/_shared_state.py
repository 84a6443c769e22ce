"""The client's limits shared through Redis: ``SolarEdgeClient(shared_state="redis://...")``.

The API's limits belong to the developer account, so every process and host that uses
one account must draw from one bucket. With ``shared_state`` (or the
``SOLAREDGE_SHARED_STATE`` environment variable) the client, when entered
(``async with``), connects a `solaredge_async.limits.RedisLimits` and takes from it, in
place of its in-process limiter and ledger:

- a `RedisRateLimiter` for its account (the per-minute bucket where each caller reserves
  its send time, the shared ``Retry-After`` pause, the adopted per-minute limit), and
- a `RedisCreditLedger` (the monthly credits and the quota breaker), charged in the same
  atomic script as the bucket.

It fails closed: an unreachable Redis raises `SharedStateUnavailableError` after a
bounded wait (on entry and on any call), and a client configured with shared state
refuses calls until it is entered. It never falls back to an unshared bucket.

This module sits on floor 4, beside the client; coredis is imported only on entry.
"""

from __future__ import annotations

import importlib.util
import os
from typing import TYPE_CHECKING, Final, cast

from solaredge_async import _budget, errors

if TYPE_CHECKING:
    from solaredge_async.limits._bucket import RateLimiter
    from solaredge_async.limits._ledger import CreditLedger
    from solaredge_async.limits._redis import RedisLimits

__all__ = ["ENV_SHARED_STATE", "SharedState", "configure"]

#: The environment variable read when ``shared_state`` is not given.
ENV_SHARED_STATE: Final = "SOLAREDGE_SHARED_STATE"
#: Seconds an unreachable Redis is retried before the client fails closed.
UNAVAILABLE_TIMEOUT = 5.0


def configure(
    url: object,
    *,
    account: str,
    requests_per_minute: float | None,
    burst: int,
    ledger: CreditLedger,
    conflicts: dict[str, object],
) -> SharedState | None:
    """The client's shared state, or `None` when neither ``url`` nor the environment names one.

    Args:
        url: The ``shared_state`` argument: a ``redis://`` URL, or `None` to read
            ``SOLAREDGE_SHARED_STATE`` (an empty variable means none).
        account: The credential fingerprint the bucket and ledger are keyed by.
        requests_per_minute: The client's rate (`None`: no pacing, the ledger only).
        burst: The limiter's burst.
        ledger: The client's own ledger: its budget (``monthly_credits``,
            ``billing_day``) is the shared ledger's.
        conflicts: Arguments that cannot go with shared state, by name (`None` when
            not given).

    Raises:
        ConfigurationError: A malformed URL, an argument that conflicts with shared
            state, or coredis not installed.
    """
    if url is None:
        url = os.environ.get(ENV_SHARED_STATE) or None
        if url is None:
            return None
    given = sorted(name for name, value in conflicts.items() if value is not None)
    if given:
        raise errors.ConfigurationError(
            f"shared_state holds the limiter and the credit ledger; do not pass "
            f"{' or '.join(given)} with it"
        )
    from solaredge_async.limits._redis_link import check_url  # noqa: PLC0415

    checked = check_url(url)
    if importlib.util.find_spec("coredis") is None:
        raise errors.ConfigurationError(
            "shared_state needs coredis: pip install 'solaredge-async[redis]'"
        )
    return SharedState(
        checked,
        account=account,
        requests_per_minute=requests_per_minute,
        burst=burst,
        monthly_credits=ledger.monthly_credits,
        billing_day=ledger.billing_day,
    )


class SharedState:
    """A client's connection to the shared limits; opened on entry, closed with the client.

    Args:
        url: The Redis URL (checked).
        account: The credential fingerprint.
        requests_per_minute: The starting rate (calls per minute), or `None`.
        burst: The limiter's burst.
        monthly_credits: The monthly budget (0 = unlimited).
        billing_day: The day of the month the cycle resets.
    """

    def __init__(
        self,
        url: str,
        *,
        account: str,
        requests_per_minute: float | None,
        burst: int,
        monthly_credits: int,
        billing_day: int,
    ) -> None:
        self._url = url
        self._account = account
        self._rate = requests_per_minute
        self._burst = burst
        self._monthly = monthly_credits
        self._billing_day = billing_day
        self._limits: RedisLimits | None = None
        self._opened: tuple[RateLimiter | None, RateLimiter, CreditLedger] | None = None

    def __repr__(self) -> str:
        from solaredge_async.limits._redis_link import safe_target  # noqa: PLC0415

        state = "open" if self.is_open else "not open"
        return f"<SharedState {state} {safe_target(self._url)}>"

    @property
    def is_open(self) -> bool:
        """True between `open` and `aclose`."""
        return self._opened is not None

    async def open(self) -> tuple[RateLimiter | None, RateLimiter, CreditLedger]:
        """Connect, then return the client's limiter, the engine's limiter and the ledger.

        Idempotent while open.

        Raises:
            SharedStateUnavailableError: Redis could not be reached within the
                bounded wait (nothing was sent).
        """
        if self._opened is not None:
            return self._opened
        from solaredge_async.limits._redis import RedisLimits  # noqa: PLC0415

        limits = RedisLimits(self._url, unavailable_timeout=UNAVAILABLE_TIMEOUT)
        await limits.__aenter__()
        self._limits = limits
        ledger = limits.ledger(monthly_credits=self._monthly, billing_day=self._billing_day)
        shared_ledger = cast("CreditLedger", ledger)
        if self._rate is None:
            # No pacing asked for: the shared ledger still counts every request.
            gate = _budget.LedgerGate(shared_ledger, self._account, None)
            self._opened = (None, gate, shared_ledger)
        else:
            # The same interface as the in-process RateLimiter (acquire, observe,
            # pause, requests_per_minute), shared through Redis.
            limiter = cast(
                "RateLimiter",
                limits.limiter(self._account, self._rate, burst=self._burst, ledger=ledger),
            )
            self._opened = (limiter, limiter, shared_ledger)
        return self._opened

    async def aclose(self) -> None:
        """Close the connection (idempotent)."""
        limits, self._limits = self._limits, None
        self._opened = None
        if limits is not None:
            # Not in a shielded scope of its own: the connection's task group must be
            # left from the scope it was entered in (the client's ``async with``).
            await limits.__aexit__(None, None, None)

    def not_open_error(self) -> errors.ConfigurationError:
        """The error of a call made before the client was entered."""
        return errors.ConfigurationError(
            "this client shares its limits through Redis (shared_state): use it inside "
            "`async with SolarEdgeClient(...) as client:`, which connects them; it never "
            "sends with an unshared limiter"
        )
