"""Hostile limit headers: every value validated, no pause parks the client, ceilings hold."""

from __future__ import annotations

import math
from typing import Any

import anyio
import httpx
import pytest

from solaredge_async._retry import is_retryable
from solaredge_async.errors import RequestTimeoutError
from solaredge_async.limits._bucket import MAX_PAUSE, RateLimiter
from solaredge_async.limits._errors import LimitWaitTooLongError
from solaredge_async.limits._headers import int_header, parse_int, parse_retry_after
from tests._clock import virtual_backend

NOW = 1_790_000_000.0  # 2026-09-21


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    """Virtual clocks on both backends."""
    return virtual_backend(str(request.param))


@pytest.mark.parametrize(
    "value",
    [
        "9" * 401,
        "9" * 5000,
        "-1",
        "-10",
        "+10",
        "1e3",
        "1_000",
        "10.0",
        "0x10",
        "nan",
        "inf",
        "",
        "   ",
        "\u0661\u0660",  # Arabic-Indic digits: int() would accept them
        "10, 20",
        "9999999999999",
    ],
)
def test_absurd_integer_headers_are_ignored(value: str) -> None:
    """Huge, signed, non-decimal or non-ASCII values read as absent."""
    assert parse_int(value) is None
    if value.isascii():
        headers = httpx.Headers({"x-ratelimit-limit-minute": value})
        assert int_header(headers, "x-ratelimit-limit-minute") is None


@pytest.mark.parametrize(("value", "expected"), [("10", 10), (" 0 ", 0), ("600", 600)])
def test_plain_integer_headers_are_read(value: str, expected: int) -> None:
    """Plain decimal values are read."""
    assert parse_int(value) == expected


@pytest.mark.anyio
async def test_observing_a_401_digit_limit_does_not_raise() -> None:
    """The header value as the engine reads it, then given to the limiter."""
    limiter = RateLimiter(10)
    limit = int_header(httpx.Headers({"x-ratelimit-limit-minute": "9" * 401}), "x")
    limiter.observe(limit, None)
    # Even a caller passing the huge int straight in gets no OverflowError.
    limiter.observe(int("9" * 401), int("9" * 401))
    limiter.set_rate(int("9" * 401))
    limiter.observe(-5, -1)
    assert limiter.requests_per_minute == 10


@pytest.mark.parametrize(
    "value",
    ["1000000000", "9" * 400, "Thu, 01 Jan 2099 00:00:00 GMT", "Fri, 31 Dec 9999 23:59:59 GMT"],
)
def test_retry_after_is_cut_to_the_bound(value: str) -> None:
    """Issue 15: Retry-After 1e9 or a date in 2099 installed an hour-long pause."""
    seconds = parse_retry_after(value, now=lambda: NOW)
    assert seconds == MAX_PAUSE


@pytest.mark.parametrize(
    "value",
    [
        "-5",
        "nan",
        "inf",
        "-inf",
        "1e400",
        "abc",
        "",
        "5 s",
        "Thu, 99 Foo 2099",
        "\u0661\u0660",
        "x" * 1000,
    ],
)
def test_malformed_retry_after_is_ignored(value: str) -> None:
    """Negative, non-finite and garbled values are absent, not zero."""
    assert parse_retry_after(value, now=lambda: NOW) is None


def test_retry_after_forms() -> None:
    """delta-seconds, a fraction, an HTTP date ahead and one in the past."""
    assert parse_retry_after("7", now=lambda: NOW) == 7.0
    assert parse_retry_after("1.5", now=lambda: NOW) == 1.5
    assert parse_retry_after("Mon, 21 Sep 2026 14:13:40 GMT", now=lambda: NOW) == 20.0
    assert parse_retry_after("Mon, 01 Jan 2001 00:00:00 GMT", now=lambda: NOW) == 0.0
    assert parse_retry_after(None) is None


@pytest.mark.anyio
async def test_caller_rate_is_a_ceiling() -> None:
    """requests_per_minute=5 stays 5 after a response advertising 10."""
    limiter = RateLimiter(5)
    limiter.observe(limit=10, remaining=9)
    assert limiter.requests_per_minute == 5
    limiter.observe(limit=3, remaining=2)
    assert limiter.requests_per_minute == 3
    limiter.observe(limit=10, remaining=9)
    assert limiter.requests_per_minute == 5  # back up, to the ceiling only


@pytest.mark.anyio
async def test_an_explicit_ceiling_lets_the_server_raise_the_rate_up_to_it() -> None:
    """ceiling= opts in to server-raised rates, up to it only."""
    limiter = RateLimiter(10, ceiling=100)
    limiter.observe(limit=1000, remaining=999)
    assert limiter.requests_per_minute == 100


@pytest.mark.anyio
async def test_a_huge_pause_is_cut_to_the_bound() -> None:
    """pause(1e9), pause(inf) and pause(10**300) install MAX_PAUSE at most."""
    limiter = RateLimiter(600, safety_margin=0)
    for seconds in (1e9, math.inf, float(10**300)):
        limiter.pause(seconds)
    assert limiter.paused_until - anyio.current_time() == pytest.approx(MAX_PAUSE)
    limiter.pause(math.nan)
    start = anyio.current_time()
    await limiter.acquire()
    assert anyio.current_time() - start == pytest.approx(MAX_PAUSE)


@pytest.mark.anyio
async def test_a_pause_past_the_deadline_fails_every_caller_at_once() -> None:
    """No caller waits out a pause it cannot survive: each fails when it reaches the head."""
    limiter = RateLimiter(600, burst=10, safety_margin=0)
    limiter.pause(1e9)
    start = anyio.current_time()
    failures: list[BaseException] = []

    async def call() -> None:
        with anyio.fail_after(30):
            try:
                await limiter.acquire()
            except LimitWaitTooLongError as exc:
                failures.append(exc)

    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(call)
    assert len(failures) == 5
    assert anyio.current_time() == start  # nobody slept
    assert limiter.granted == 0
    error = failures[0]
    assert isinstance(error, RequestTimeoutError)
    assert isinstance(error, LimitWaitTooLongError)
    assert error.paused
    assert "Retry-After" in str(error)
    assert not is_retryable(error)


@pytest.mark.anyio
async def test_max_wait_bounds_the_pacing_wait() -> None:
    """max_wait refuses a pacing wait longer than it, taking no token."""
    limiter = RateLimiter(6, safety_margin=0, max_wait=5)  # one grant per 10 s
    await limiter.acquire()
    with pytest.raises(LimitWaitTooLongError) as info:
        await limiter.acquire()
    assert not info.value.paused
    assert limiter.granted == 1


@pytest.mark.anyio
async def test_a_wait_within_the_deadline_is_waited() -> None:
    """A wait the deadline allows is waited, not refused."""
    limiter = RateLimiter(6, safety_margin=0)
    await limiter.acquire()
    with anyio.fail_after(11):
        await limiter.acquire()
    assert limiter.granted == 2
