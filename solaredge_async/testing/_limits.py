"""Per-account rate limits and the credit ledger, as the gateway applies them.

The per-minute window is a fixed wall-clock minute (``floor(t / 60)`` of the instant
passed in: the simulator clock's reading, `SimClock.gateway_time`), as the live gateway
counts (``remaining`` 7 at 16:05:57, full again at 16:06:03), like Kong's ``rate-limiting``
plugin. Monthly credits are counted per
billing month and reset by `Limits.reset_month` or, with a billing day, when the
simulator's "now" enters a new billing month.
"""

from __future__ import annotations

import math
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final, Literal

import attrs

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["ANONYMOUS", "Admission", "Limits", "SimulatedUsage"]

#: The ledger key of calls without a valid credential.
ANONYMOUS: Final = "<anonymous>"


@attrs.frozen(kw_only=True)
class SimulatedUsage:
    """A snapshot of what one account (API key or OAuth client) was served and charged.

    Attributes:
        calls: Requests received, everything included (429s, faults, 4xx).
        in_flight: Calls being answered right now.
        statuses: Count of answers per HTTP status.
        faults: Count of applied faults per kind.
        credits: Credits charged in the current billing month.
        lifetime_credits: Credits charged since the simulator started.
        minute_429s: Per-minute 429s answered (fault bursts included).
        monthly_429s: Monthly-credit 429s answered.
        concurrency_429s: 429s answered because too many calls were in flight.
    """

    # What was received and answered.
    calls: int = 0
    in_flight: int = 0
    statuses: Mapping[int, int] = attrs.field(factory=dict)
    faults: Mapping[str, int] = attrs.field(factory=dict)
    # What was charged, and what was refused.
    credits: int = 0
    lifetime_credits: int = 0
    minute_429s: int = 0
    monthly_429s: int = 0
    concurrency_429s: int = 0


class _Account:
    __slots__ = (
        "c429",
        "calls",
        "credits",
        "faults",
        "in_flight",
        "lifetime",
        "m429",
        "minute",
        "minute_count",
        "mo429",
        "period",
        "statuses",
    )

    def __init__(self) -> None:
        # What was received and answered (the fields of `SimulatedUsage`, in its order).
        self.calls = 0
        self.in_flight = 0
        self.statuses: dict[int, int] = {}
        self.faults: dict[str, int] = {}
        # The billing month the credits count in, what was charged and refused.
        self.period: tuple[int, int] | None = None
        self.credits = 0
        self.lifetime = 0
        self.m429 = 0
        self.mo429 = 0
        self.c429 = 0
        # The fixed clock minute and the calls it admitted.
        self.minute = -1
        self.minute_count = 0


class Admission:
    """The gateway's verdict on one call.

    Attributes:
        verdict: ``"ok"``, ``"minute"``, ``"monthly"``, ``"concurrency"`` or ``"bypass"``
            (a call outside the limits, such as OAuth).
        remaining: ``x-ratelimit-remaining-minute`` to send (``None`` without a limit).
        retry_after: ``Retry-After`` seconds to send, or ``None``.
    """

    __slots__ = ("_acct", "_limits", "remaining", "retry_after", "verdict")

    def __init__(
        self,
        limits: Limits,
        acct: _Account,
        verdict: Literal["ok", "minute", "monthly", "concurrency", "bypass"],
        remaining: int | None,
        retry_after: int | None,
    ) -> None:
        self._limits = limits
        self._acct = acct
        self.verdict = verdict
        self.remaining = remaining
        self.retry_after = retry_after

    def settle(self, status: int, fault: str | None, *, charge: bool, release: bool = True) -> None:
        """Record the answer: its status, fault and (if ``charge``) a credit.

        With ``release``, also free the call's concurrency slot; else call `release`
        once the answer is out.
        """
        acct = self._acct
        with self._limits.lock:
            st = acct.statuses
            st[status] = st.get(status, 0) + 1
            if fault is not None:
                acct.faults[fault] = acct.faults.get(fault, 0) + 1
            if charge:
                acct.credits += 1
                acct.lifetime += 1
            if release and self.verdict == "ok":
                acct.in_flight -= 1

    def burst(self, mono: float) -> None:
        """Use up the rest of the minute (a spurious per-minute 429)."""
        limit = self._limits.per_minute
        with self._limits.lock:
            if limit is not None:
                self._acct.minute_count = max(self._acct.minute_count, limit)
            self._acct.m429 += 1
        self.remaining = 0 if limit is not None else None
        self.retry_after = _seconds_to_next_minute(mono)

    def refund_minute(self) -> None:
        """Give back the minute slot (the call never reached the gateway's counter)."""
        with self._limits.lock:
            self._acct.minute_count = max(0, self._acct.minute_count - 1)
        if self.remaining is not None:
            self.remaining += 1

    def release(self) -> None:
        """Mark the call as answered (for the concurrency cap)."""
        with self._limits.lock:
            self._acct.in_flight -= 1


def _seconds_to_next_minute(mono: float) -> int:
    return max(1, math.ceil((math.floor(mono / 60.0) + 1) * 60.0 - mono))


class Limits:
    """The per-minute windows, monthly credits and in-flight counts of every account.

    Args:
        per_minute: Calls per fixed clock minute, or ``None`` for no limit.
        monthly: Credits per billing month, or ``None`` for unlimited.
        enforce_monthly: Answer 429 once the credits are used up (else only count).
        max_in_flight: Concurrency cap per account, or ``None``.
        billing_day: Day of month the credits reset on, or ``None`` (manual only).
    """

    def __init__(
        self,
        *,
        per_minute: int | None,
        monthly: int | None,
        enforce_monthly: bool,
        max_in_flight: int | None,
        billing_day: int | None,
    ) -> None:
        self.per_minute = per_minute
        self.monthly = monthly
        self.enforce_monthly = enforce_monthly
        self.max_in_flight = max_in_flight
        self.billing_day = billing_day
        self.lock = threading.Lock()
        self._accounts: dict[str, _Account] = {}

    def _acct(self, key: str) -> _Account:
        acct = self._accounts.get(key)
        if acct is None:
            acct = self._accounts[key] = _Account()
        return acct

    def _period(self, now: float) -> tuple[int, int] | None:
        if self.billing_day is None:
            return None
        d = datetime.fromtimestamp(now, UTC)
        if d.day >= self.billing_day:
            return d.year, d.month
        return (d.year, d.month - 1) if d.month > 1 else (d.year - 1, 12)

    def admit(self, key: str, mono: float, now: float) -> Admission:
        """Count one call of account ``key`` and decide whether the gateway lets it in.

        Accepted calls take a slot of the minute and of the in-flight count; refused
        ones take neither. Credits are charged separately (`Admission.charge`).
        """
        limit = self.per_minute
        with self.lock:
            acct = self._acct(key)
            acct.calls += 1
            period = self._period(now)
            if period is not None and period != acct.period:
                if acct.period is not None:
                    acct.credits = 0
                acct.period = period
            minute = math.floor(mono / 60.0)
            if minute != acct.minute:
                acct.minute = minute
                acct.minute_count = 0
            if limit is not None and acct.minute_count >= limit:
                acct.m429 += 1
                return Admission(self, acct, "minute", 0, _seconds_to_next_minute(mono))
            remaining = None if limit is None else limit - acct.minute_count
            if self.monthly is not None and self.enforce_monthly and acct.credits >= self.monthly:
                acct.mo429 += 1
                return Admission(self, acct, "monthly", remaining, None)
            if self.max_in_flight is not None and acct.in_flight >= self.max_in_flight:
                acct.c429 += 1
                return Admission(self, acct, "concurrency", remaining, 1)
            acct.minute_count += 1
            acct.in_flight += 1
            if remaining is not None:
                remaining -= 1
            return Admission(self, acct, "ok", remaining, None)

    def peek(self, key: str, mono: float) -> int | None:
        """Return the minute's remaining calls without counting a call."""
        if self.per_minute is None:
            return None
        with self.lock:
            acct = self._acct(key)
            if math.floor(mono / 60.0) != acct.minute:
                return self.per_minute
            return max(0, self.per_minute - acct.minute_count)

    def count_only(self, key: str) -> Admission:
        """Count a call that bypasses the limits (OAuth); it takes no in-flight slot."""
        with self.lock:
            acct = self._acct(key)
            acct.calls += 1
        return Admission(self, acct, "bypass", None, None)

    def usage(self, key: str) -> SimulatedUsage:
        """Return a snapshot of account ``key``'s ledger (zeros if it never called)."""
        with self.lock:
            acct = self._accounts.get(key)
            if acct is None:
                return SimulatedUsage()
            return SimulatedUsage(
                calls=acct.calls,
                in_flight=acct.in_flight,
                statuses=dict(acct.statuses),
                faults=dict(acct.faults),
                credits=acct.credits,
                lifetime_credits=acct.lifetime,
                minute_429s=acct.m429,
                monthly_429s=acct.mo429,
                concurrency_429s=acct.c429,
            )

    def reset_month(self, key: str | None = None) -> None:
        """Give account ``key`` (every account if ``None``) a fresh monthly budget."""
        with self.lock:
            targets = self._accounts.values() if key is None else [self._acct(key)]
            for acct in targets:
                acct.credits = 0

    def set_credits(self, key: str, used: int) -> None:
        """Set the credits account ``key`` has used this month (to start near the cap)."""
        with self.lock:
            self._acct(key).credits = used
