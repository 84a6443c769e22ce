"""The retry policy: which failures are retried, how long to wait, when to stop.

Only a positive list is retried: transport errors (timeouts included), 5xx
answers and the per-minute 429. Everything else, the monthly-credit 429 above
all, is raised at once. Attempts are bounded by number (tenacity) and the whole
call by time (`anyio.fail_after` in the client; tenacity's own
``stop_after_delay`` reads the wall clock, not anyio's).
"""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING, TypeVar

import anyio
import attrs
import tenacity

from solaredge_async.errors import (
    ConfigurationError,
    QuotaExhaustedError,
    RateLimitedError,
    ServerError,
    TransportError,
)
from solaredge_async.limits._errors import LimitWaitTooLongError, SharedStateUnavailableError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

__all__ = ["RetryPolicy"]

T = TypeVar("T")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _positive(_inst: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not _is_number(value) or not (value > 0 and math.isfinite(value)):
        raise ConfigurationError(f"{attribute.name} must be a positive number, got {value!r}")


def _non_negative(_inst: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not _is_number(value) or not (value >= 0 and math.isfinite(value)):
        raise ConfigurationError(f"{attribute.name} must be a number >= 0, got {value!r}")


def _positive_or_none(
    inst: object, attribute: attrs.Attribute[float | None], value: float | None
) -> None:
    if value is not None:
        _positive(inst, attribute, value)  # type: ignore[arg-type]


def _attempts(_inst: object, _attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"max_attempts must be an integer >= 1, got {value!r}")


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How the client retries a failed call.

    Attributes:
        max_attempts: Attempts per call, the first included (1 turns retries off).
        initial_backoff: Seconds before the first retry of a transport error or 5xx;
            doubles with each retry.
        max_backoff: The longest backoff between two attempts, in seconds.
        jitter: Up to this many seconds, drawn at random, are added to each wait.
        deadline: Seconds a call may take from its start to its last answer, waits
            included; ``None`` for no limit. A ``Retry-After`` that would end past the
            deadline (or past the caller's own cancel scope deadline) is raised at
            once as `RateLimitedError` instead of retried early. On the default
            transport's direct path, a first attempt that waits for nothing but a
            connection slot is bounded by the transport's own timers, which end by
            the deadline: a call still queued for a slot at its deadline ends as soon
            as it gets one.
        minute_pause: Seconds every request pauses after a per-minute 429 that has
            no ``Retry-After`` (the server's minute is over within 60 s).

    Raises:
        ConfigurationError: A value out of range.
    """

    max_attempts: int = attrs.field(default=5, validator=_attempts)
    initial_backoff: float = attrs.field(default=0.5, validator=_positive)
    max_backoff: float = attrs.field(default=30.0, validator=_positive)
    jitter: float = attrs.field(default=0.5, validator=_non_negative)
    deadline: float | None = attrs.field(
        default=300.0,
        validator=_positive_or_none,  # type: ignore[arg-type]
    )
    minute_pause: float = attrs.field(default=60.0, validator=_non_negative)


def is_retryable(exc: BaseException) -> bool:
    """True for the failures worth another attempt."""
    if isinstance(exc, QuotaExhaustedError | LimitWaitTooLongError | SharedStateUnavailableError):
        # The monthly quota, a budget refusal, a wait past the deadline and an
        # unreachable shared state do not get better by trying again at once.
        return False
    return isinstance(exc, TransportError | ServerError | RateLimitedError)


class _Wait:
    """tenacity wait strategy: ``Retry-After`` wins, else jittered exponential backoff."""

    def __init__(self, policy: RetryPolicy, pause: Callable[[float], None]) -> None:
        self._policy = policy
        self._pause = pause

    def __call__(self, state: tenacity.RetryCallState) -> float:
        policy = self._policy
        jitter = random.uniform(0, policy.jitter)  # noqa: S311 - not cryptographic
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, RateLimitedError):
            if exc.retry_after is not None:
                pause = exc.retry_after
            elif exc.remaining == 0:
                pause = policy.minute_pause
            else:
                pause = 0.0
            if pause > 0:
                # Shared: every request in flight waits, not only this one.
                self._pause(pause)
                return pause + jitter
        backoff = min(
            policy.initial_backoff * 2.0 ** (state.attempt_number - 1), policy.max_backoff
        )
        if isinstance(exc, RateLimitedError):
            # A 429 without rate-limit headers: back off conservatively.
            backoff = max(backoff, min(5.0, policy.max_backoff))
        return backoff + jitter


class _StopPastDeadline(tenacity.stop.stop_base):
    """Stop when the next wait would end after the effective deadline."""

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        deadline = anyio.current_effective_deadline()
        if math.isinf(deadline):
            return False
        return anyio.current_time() + retry_state.upcoming_sleep >= deadline


async def call_with_retries(
    policy: RetryPolicy,
    attempt: Callable[[int], Awaitable[T]],
    *,
    pause: Callable[[float], None],
    on_retry: Callable[[int], None],
    first_failure: Exception | None = None,
) -> T:
    """Run ``attempt(n)`` (n = 1, 2, ...) until it succeeds or the policy gives up.

    Args:
        policy: The retry policy.
        attempt: One attempt; raises a library error on failure.
        pause: Called with the seconds of a server-requested pause, to share it.
        on_retry: Called with the attempt number before each retry.
        first_failure: How attempt 1 failed, when the caller made it already.

    Raises:
        The last attempt's error when it is not retryable or attempts ran out.
    """
    # The first attempt runs outside tenacity: building and driving its state
    # machine costs ~70 µs, paid now only by calls that fail.
    if first_failure is None:
        try:
            return await attempt(1)
        except Exception as exc:  # noqa: BLE001 - judged below, re-raised as it is
            first_failure = exc
    if policy.max_attempts == 1 or not is_retryable(first_failure):
        raise first_failure

    async def attempt_again(number: int) -> T:
        nonlocal first_failure
        if first_failure is not None:
            # Replays attempt 1's outcome, so tenacity waits and counts as if it ran it.
            failure, first_failure = first_failure, None
            raise failure
        return await attempt(number)

    retrying = tenacity.AsyncRetrying(
        stop=tenacity.stop_after_attempt(policy.max_attempts) | _StopPastDeadline(),
        wait=_Wait(policy, pause),
        retry=tenacity.retry_if_exception(is_retryable),
        sleep=anyio.sleep,
        reraise=True,
        before_sleep=lambda state: on_retry(state.attempt_number + 1),
    )
    async for trial in retrying:
        with trial:
            return await attempt_again(trial.retry_state.attempt_number)
    raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover
