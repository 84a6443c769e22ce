"""The token bucket: pacing, adoption of server limits, pauses, cancellation."""

from __future__ import annotations

import itertools
import math

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solaredge_async import ConfigurationError, RateLimiter
from tests._clock import virtual_backend

pytestmark = pytest.mark.anyio


def _max_in_window(times: list[float], window: float) -> int:
    times = sorted(times)
    best = 0
    lo = 0
    for hi, t in enumerate(times):
        while t - times[lo] >= window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


async def _grant_times(limiter: RateLimiter, n: int, arrivals: list[float]) -> list[float]:
    granted: list[float] = []
    start = anyio.current_time()

    async def one(delay: float) -> None:
        await anyio.sleep(delay)
        await limiter.acquire()
        granted.append(anyio.current_time() - start)

    async with anyio.create_task_group() as tg:
        for i in range(n):
            tg.start_soon(one, arrivals[i % len(arrivals)])
    return granted


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rate=st.integers(min_value=1, max_value=120),
    n=st.integers(min_value=1, max_value=150),
    arrivals=st.lists(st.floats(min_value=0, max_value=300), min_size=1, max_size=20),
    backend=st.sampled_from(["asyncio", "trio"]),
)
def test_never_more_than_the_rate_in_any_minute(rate, n, arrivals, backend):
    """Whatever the arrival pattern, no 60 s window holds more grants than the rate."""
    name, options = virtual_backend(backend)

    async def main() -> list[float]:
        return await _grant_times(RateLimiter(rate), n, arrivals)

    granted = anyio.run(main, backend=name, backend_options=options)
    assert len(granted) == n
    assert _max_in_window(granted, 60.0) <= rate


async def test_free_tier_pacing_is_evenly_spaced():
    """Ten calls a minute with no burst: grants 6.05 s apart (60 s plus the margin)."""
    limiter = RateLimiter(10)
    granted = await _grant_times(limiter, 21, [0.0])
    gaps = [b - a for a, b in itertools.pairwise(granted)]
    assert granted[0] == pytest.approx(0.0)
    assert all(g == pytest.approx(6.05) for g in gaps)
    # 21 grants span 20 intervals = 121 s: utilisation 60/60.5 of the limit.
    assert granted[-1] == pytest.approx(121.0)


async def test_burst_lets_that_many_through_at_once():
    """A bucket with burst 5 grants five at once, then paces."""
    limiter = RateLimiter(60, burst=5, safety_margin=0)
    granted = await _grant_times(limiter, 7, [0.0])
    assert sorted(granted)[:5] == [pytest.approx(0.0)] * 5
    assert sorted(granted)[5] == pytest.approx(1.0)
    assert sorted(granted)[6] == pytest.approx(2.0)


async def test_adopts_server_limit_up_and_down():
    """x-ratelimit-limit-minute changes the pace in both directions, under the ceiling."""
    limiter = RateLimiter(10, safety_margin=0, ceiling=100)
    limiter.observe(limit=60, remaining=59)
    assert limiter.requests_per_minute == 60
    granted = await _grant_times(limiter, 3, [0.0])
    assert sorted(granted) == [pytest.approx(0.0), pytest.approx(1.0), pytest.approx(2.0)]
    limiter.observe(limit=6, remaining=5)
    assert limiter.requests_per_minute == 6
    more = await _grant_times(limiter, 2, [0.0])
    assert more[1] - more[0] == pytest.approx(10.0)


async def test_not_adopting_when_told_not_to():
    """adopt_server_limit=False keeps the configured rate."""
    limiter = RateLimiter(10, adopt_server_limit=False)
    limiter.observe(limit=1000, remaining=999)
    assert limiter.requests_per_minute == 10


async def test_remaining_zero_drains_the_burst():
    """Remaining 0 empties saved-up tokens: the next call waits a whole interval."""
    limiter = RateLimiter(60, burst=10, safety_margin=0)
    limiter.observe(limit=None, remaining=0)
    start = anyio.current_time()
    await limiter.acquire()
    assert anyio.current_time() - start == pytest.approx(1.0)


async def test_pause_stops_every_grant_and_never_shortens():
    """A Retry-After pause holds all waiters; a shorter pause does not cut it."""
    limiter = RateLimiter(600, burst=100, safety_margin=0)
    limiter.pause(30)
    limiter.pause(5)
    granted = await _grant_times(limiter, 3, [0.0])
    assert min(granted) >= 30.0


async def test_cancelled_waiter_takes_no_token():
    """A waiter cancelled in the queue leaves the tokens for the others."""
    limiter = RateLimiter(6, safety_margin=0)  # one token per 10 s
    await limiter.acquire()  # the bucket is now empty
    with anyio.move_on_after(3):
        await limiter.acquire()
    assert limiter.granted == 1
    start = anyio.current_time()
    await limiter.acquire()
    # The next token came when it was due (10 s after the first), not later.
    assert anyio.current_time() - start == pytest.approx(7.0)
    assert limiter.granted == 2


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"requests_per_minute": 0}, "positive"),
        ({"requests_per_minute": -1}, "positive"),
        ({"requests_per_minute": math.inf}, "positive"),
        ({"requests_per_minute": 10, "burst": 0}, "burst"),
        ({"requests_per_minute": 10, "safety_margin": -1}, "safety_margin"),
    ],
)
def test_bad_settings_are_refused(kwargs, match):
    """Rates, bursts and margins out of range are configuration errors."""
    with pytest.raises(ConfigurationError, match=match):
        RateLimiter(**kwargs)


async def test_lateness_is_recovered_within_half_the_margin():
    """After idling, a fast bucket lends up to margin/2 seconds of tokens, no more."""
    limiter = RateLimiter(600, safety_margin=0.5)  # one token per 0.1008 s
    await limiter.acquire()
    await anyio.sleep(10)
    granted = await _grant_times(limiter, 6, [0.0])
    immediate = [t for t in granted if t < 1e-9]
    # 1 token + 0.25 s / 0.1008 s = 3.48 tokens saved: three go at once, then pacing.
    assert len(immediate) == 3
    assert sorted(granted)[3] == pytest.approx((1 - 0.48) * 60.5 / 600, abs=1e-3)
