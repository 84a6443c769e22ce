"""Billing cycles: the month of credits runs from a billing day to the next, UTC."""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING, Final, TypeGuard

from solaredge_async.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "DEFAULT_MONTHLY_CREDITS",
    "aware",
    "check_account",
    "check_budget",
    "check_cost",
    "check_seconds",
    "cycle_bounds",
    "is_number",
    "utc_now",
]

#: The free tier's monthly credits.
DEFAULT_MONTHLY_CREDITS: Final = 2000

_MAX_ACCOUNT_LEN: Final = 200
#: The last billing day allowed: every month has it.
_LAST_BILLING_DAY: Final = 28
_MAX_CREDITS: Final = 10**12


def utc_now() -> dt.datetime:
    """The current wall-clock time, UTC."""
    return dt.datetime.now(dt.UTC)


def _month_day(year: int, month: int, day: int) -> dt.datetime:
    return dt.datetime(year, month, day, tzinfo=dt.UTC)


def cycle_bounds(now: dt.datetime, billing_day: int) -> tuple[dt.datetime, dt.datetime]:
    """The billing cycle holding ``now``: ``[start, end)``, both at 00:00 UTC.

    Args:
        now: An aware datetime (any zone; it is converted to UTC).
        billing_day: The day of the month the cycle resets, 1..28.
    """
    now = now.astimezone(dt.UTC)
    if now.day >= billing_day:
        start = _month_day(now.year, now.month, billing_day)
    elif now.month == 1:
        start = _month_day(now.year - 1, 12, billing_day)
    else:
        start = _month_day(now.year, now.month - 1, billing_day)
    if start.month == 12:  # noqa: PLR2004
        end = _month_day(start.year + 1, 1, billing_day)
    else:
        end = _month_day(start.year, start.month + 1, billing_day)
    return start, end


def check_budget(monthly_credits: object, billing_day: object) -> tuple[int, int]:
    """Validate the monthly budget settings; return them.

    Raises:
        ConfigurationError: ``monthly_credits`` not an integer >= 0 (0 = unlimited) or
            ``billing_day`` not an integer in 1..28.
    """
    if (
        isinstance(monthly_credits, bool)
        or not isinstance(monthly_credits, int)
        or not 0 <= monthly_credits <= _MAX_CREDITS
    ):
        raise ConfigurationError(
            f"monthly_credits must be an integer >= 0 (0 for unlimited), got {monthly_credits!r}"
        )
    if (
        isinstance(billing_day, bool)
        or not isinstance(billing_day, int)
        or not 1 <= billing_day <= _LAST_BILLING_DAY
    ):
        raise ConfigurationError(
            f"billing_day must be an integer from 1 to 28 (the day of the month the "
            f"credits reset, UTC), got {billing_day!r}"
        )
    return monthly_credits, billing_day


def check_account(account: object) -> str:
    """Validate a ledger key: a credential fingerprint such as ``key#1a2b3c4d``.

    Raises:
        ConfigurationError: Not a non-empty printable string of at most 200 characters.
    """
    if (
        not isinstance(account, str)
        or not account
        or len(account) > _MAX_ACCOUNT_LEN
        or not account.isprintable()
    ):
        raise ConfigurationError(
            "the ledger account must be a credential fingerprint (a short printable "
            "string such as 'key#1a2b3c4d'), never the secret itself"
        )
    return account


def check_cost(cost: object) -> int:
    """Validate a number of credits to charge or refund (an integer >= 0).

    Raises:
        ConfigurationError: Anything else.
    """
    if isinstance(cost, bool) or not isinstance(cost, int) or not 0 <= cost <= _MAX_CREDITS:
        raise ConfigurationError(f"a cost in credits must be an integer >= 0, got {cost!r}")
    return cost


def is_number(value: object) -> TypeGuard[int | float]:
    """Whether ``value`` is an int or a float (a bool is not a number here)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_seconds(value: object, what: str) -> float:
    """Validate a positive finite number of seconds.

    Raises:
        ConfigurationError: Anything else.
    """
    if not is_number(value) or not (value > 0 and math.isfinite(value)):
        raise ConfigurationError(f"{what} must be a positive number of seconds, got {value!r}")
    return float(value)


def aware(clock: Callable[[], dt.datetime]) -> dt.datetime:
    """Read ``clock`` and check that it gives an aware datetime.

    Raises:
        ConfigurationError: The clock returned something else.
    """
    now = clock()
    if not isinstance(now, dt.datetime) or now.tzinfo is None:
        raise ConfigurationError("the ledger clock must return an aware datetime (UTC)")
    return now.astimezone(dt.UTC)
