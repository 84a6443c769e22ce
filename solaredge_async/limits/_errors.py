"""The errors raised by the limits layer (the package re-exports them).

None of them is ever retried: each says what is wrong and what to do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from solaredge_async import errors

if TYPE_CHECKING:
    import datetime as dt

__all__ = [
    "BudgetExceededError",
    "LimitWaitTooLongError",
    "SharedStateUnavailableError",
    "StateFileError",
]


class LimitWaitTooLongError(errors.RequestTimeoutError):
    """The rate limiter would hold a call past its deadline, so it fails at once.

    Raised by ``acquire`` (no token taken, no credit spent) when the wait for a
    send slot (a server ``Retry-After`` pause or the per-minute pace) ends after
    the caller's effective deadline or is longer than the limiter's ``max_wait``.
    Also a `solaredge_async.errors.RequestTimeoutError` (and a built-in
    `TimeoutError`).

    Attributes:
        wait: The seconds the call would have had to wait.
        allowed: The seconds it could wait (``inf`` when only ``max_wait`` was unset).
        paused: True when the wait is a server-requested pause (``Retry-After``).
    """

    def __init__(self, *, wait: float, allowed: float, paused: bool) -> None:
        self.wait = wait
        self.allowed = allowed
        self.paused = paused
        why = (
            "the server asked every caller of this account to pause (Retry-After)"
            if paused
            else "the per-minute limit paces calls of this account"
        )
        super().__init__(
            f"the rate limiter would hold this call {wait:.1f} s ({why}), longer than "
            f"the {allowed:.1f} s it may wait; it was not sent and cost no credit. "
            "Retry later, or give the call a longer deadline (RetryPolicy.deadline)"
        )

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_wait, (self.wait, self.allowed, self.paused))


def _rebuild_wait(wait: float, allowed: float, paused: bool) -> LimitWaitTooLongError:
    return LimitWaitTooLongError(wait=wait, allowed=allowed, paused=paused)


class BudgetExceededError(errors.QuotaExhaustedError):
    """A call was refused locally: it would overspend the monthly credit budget.

    Raised before anything is sent (no credit spent) when the credit ledger
    holds fewer credits than the call needs, or when the account's monthly
    credits are marked used up (a monthly 429) until the cycle resets. Also a
    `solaredge_async.errors.QuotaExhaustedError`.

    Attributes:
        account: The credential fingerprint (never the secret).
        needed: Credits the call needed.
        remaining_credits: Credits left this cycle (0 when exhausted).
        monthly_credits: The monthly budget.
        cycle_end: When the billing cycle resets (UTC).
        exhausted: True when the server said the month's credits are used up.
    """

    def __init__(
        self,
        *,
        account: str,
        needed: int,
        remaining_credits: int,
        monthly_credits: int,
        cycle_end: dt.datetime,
        exhausted: bool,
        method: str = "-",
        path: str = "-",
    ) -> None:
        self.account = account
        self.needed = needed
        self.remaining_credits = remaining_credits
        self.monthly_credits = monthly_credits
        self.cycle_end = cycle_end
        self.exhausted = exhausted
        super().__init__(
            status_code=429,
            method=method,
            path=path,
            title="Monthly credit budget used up",
            detail="refused locally, no request sent",
        )

    def _message(self) -> str:
        reset = self.cycle_end.strftime("%Y-%m-%d %H:%M UTC")
        if self.exhausted:
            what = f"the server said the monthly credits of account {self.account} are used up"
        else:
            what = (
                f"{self.needed} credit(s) needed but only {self.remaining_credits} of the "
                f"monthly budget of {self.monthly_credits} remain for account {self.account}"
            )
        return (
            f"{self.method} {self.path} refused before sending: {what}; the cycle resets "
            f"at {reset}. Wait for the reset, or raise monthly_credits if the plan allows more"
        )


class SharedStateUnavailableError(errors.SolarEdgeError):
    """The shared limit state (Redis) could not be reached in time: fail closed.

    Raised instead of falling back to an unshared limiter, which would let
    several processes overspend the account's limits. Nothing was sent.

    Attributes:
        target: Where the state lives, without credentials (e.g. ``redis://host:6379/0``).
    """

    def __init__(self, message: str, *, target: str) -> None:
        super().__init__(message)
        self.target = target


class StateFileError(errors.SolarEdgeError):
    """A ledger or learned-caps file is damaged or cannot be used.

    Attributes:
        path: The file.
    """

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(message)
        self.path = path
