"""Limits shared through Redis: atomic reservations, shared pauses, the ledger, failing closed.

Assertions about time are about the reserved send times on the Redis server's
clock (their spacing and counts), never about how long anything took.
"""

from __future__ import annotations

import datetime as dt
import gc
import itertools
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import pytest

from solaredge_async.errors import ConfigurationError, QuotaExhaustedError
from solaredge_async.limits import (
    BudgetExceededError,
    CreditLedger,
    LimitWaitTooLongError,
    RedisLimits,
    SharedStateUnavailableError,
    cycle_bounds,
)
from tests.limits._support import WallClock, utc

if TYPE_CHECKING:
    from tests._redis import RedisServer

pytest.importorskip("coredis")
pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]


def _prefix() -> str:
    """A key prefix of one test: tests never see each other's keys."""
    return f"test-{uuid.uuid4().hex[:12]}"


async def _age_one_cycle(redis_url: str, key: str, *, billing_day: int) -> None:
    """Move a ledger hash's cycle one back, as if the server's clock had passed the reset."""
    import coredis

    start, _ = cycle_bounds(dt.datetime.now(dt.UTC), billing_day)
    before = cycle_bounds(start - dt.timedelta(seconds=1), billing_day)
    client: coredis.Redis[str] = coredis.Redis.from_url(redis_url, decode_responses=True)
    async with client:
        await client.hset(
            key,
            {
                "cycle_start": str(int(before[0].timestamp())),
                "cycle_end": str(int(before[1].timestamp())),
            },
        )


def _far_billing_day() -> int:
    """A billing day far from today (UTC): no reset falls within a test."""
    return (dt.datetime.now(dt.UTC).day + 13) % 28 + 1


def _max_in_window(times: list[float], window: float) -> int:
    times = sorted(times)
    best = lo = 0
    for hi, t in enumerate(times):
        while t - times[lo] >= window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


async def test_reservations_are_spaced_by_the_interval(redis_url: str) -> None:
    """Concurrent reservations on one account get distinct slots one interval apart."""
    async with RedisLimits(redis_url, prefix=_prefix()) as shared:
        limiter = shared.limiter("key#00000001", 6, safety_margin=0)  # one per 10 s
        reservations = []

        async def reserve() -> None:
            reservations.append(await limiter.reserve())

        async with anyio.create_task_group() as tg:
            for _ in range(7):
                tg.start_soon(reserve)
        times = sorted(r.send_at for r in reservations)
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert all(gap >= 10.0 - 1e-5 for gap in gaps)
        assert _max_in_window(times, 60.0) == 6
        assert min(r.wait for r in reservations) == pytest.approx(0.0, abs=0.05)
        assert limiter.granted == 7


async def test_burst_lets_that_many_go_at_once(redis_url: str) -> None:
    """burst=3: three slots at once, then the pace."""
    async with RedisLimits(redis_url, prefix=_prefix()) as shared:
        limiter = shared.limiter("key#00000002", 6, burst=3, safety_margin=0)
        waits = [(await limiter.reserve()).wait for _ in range(4)]
        assert waits[:3] == pytest.approx([0.0, 0.0, 0.0], abs=0.05)
        assert waits[3] > 5.0  # the 10 s pace


async def test_pause_is_shared_and_bounded(redis_url: str) -> None:
    """A Retry-After seen by one process holds another; a huge one is cut to the bound."""
    prefix = _prefix()
    async with (
        RedisLimits(redis_url, prefix=prefix) as one,
        RedisLimits(redis_url, prefix=prefix) as two,
    ):
        first = one.limiter("key#00000003", 600)
        second = two.limiter("key#00000003", 600)
        first.pause(30)
        await first.flush()
        reservation = await second.reserve()
        assert reservation.paused
        assert 0.0 < reservation.wait <= 30.0
        assert reservation.send_at - reservation.server_now == pytest.approx(reservation.wait)
        first.pause(1e9)
        await first.flush()
        reservation = await second.reserve()
        assert reservation.wait <= 120.0 + 1e-3


async def test_a_pause_past_the_deadline_fails_at_once(redis_url: str) -> None:
    """A caller that cannot outlive the shared pause is refused without reserving."""
    async with RedisLimits(redis_url, prefix=_prefix()) as shared:
        limiter = shared.limiter("key#00000004", 600)
        limiter.pause(100)
        await limiter.flush()
        with anyio.fail_after(5), pytest.raises(LimitWaitTooLongError) as info:
            await limiter.acquire()
        assert info.value.paused
        assert limiter.granted == 0


async def test_the_ceiling_holds_on_the_shared_limit(redis_url: str) -> None:
    """The server may lower the shared rate, never lift it over the caller's ceiling."""
    async with RedisLimits(redis_url, prefix=_prefix()) as shared:
        limiter = shared.limiter("key#00000005", 5)
        limiter.observe(10, 9)
        limiter.observe(int("9" * 401), None)  # ignored, no OverflowError
        await limiter.flush()
        assert (await limiter.reserve()).requests_per_minute == 5
        limiter.observe(3, 2)
        await limiter.flush()
        other = shared.limiter("key#00000005", 5)
        assert (await other.reserve()).requests_per_minute == 3
        raised = shared.limiter("key#00000005", 5, ceiling=100)
        raised.observe(50, 49)
        await raised.flush()
        assert (await raised.reserve()).requests_per_minute == 50
        assert (await limiter.reserve()).requests_per_minute == 5  # its own ceiling


async def test_remaining_zero_drains_the_shared_burst(redis_url: str) -> None:
    """remaining: 0 seen anywhere makes every process wait an interval."""
    async with RedisLimits(redis_url, prefix=_prefix()) as shared:
        limiter = shared.limiter("key#00000006", 6, burst=10, safety_margin=0)
        limiter.observe(None, 0)
        await limiter.flush()
        assert (await limiter.reserve()).wait > 5.0  # a 10 s interval, not the burst


async def test_the_ledger_is_charged_with_the_reservation(redis_url: str) -> None:
    """Each reservation charges one credit atomically; overspending reserves nothing."""
    async with RedisLimits(redis_url, prefix=_prefix()) as shared:
        clock = WallClock(utc(2026, 12, 14, 12))
        ledger = shared.ledger(monthly_credits=3, billing_day=15, clock=clock)
        assert isinstance(ledger, CreditLedger)
        limiter = shared.limiter("key#00000007", 6000, ledger=ledger)
        assert [(await limiter.reserve()).spent for _ in range(3)] == [1, 2, 3]
        with pytest.raises(BudgetExceededError) as info:
            await limiter.reserve()
        assert isinstance(info.value, QuotaExhaustedError)
        assert limiter.granted == 3
        assert await ledger.remaining("key#00000007") == 0
        await limiter.refund()
        assert await ledger.remaining("key#00000007") == 1
        await ledger.mark_exhausted("key#00000007")
        with pytest.raises(BudgetExceededError) as info:
            await ledger.charge("key#00000007")
        assert info.value.exhausted
        other = shared.limiter("key#00000007", 6000, ledger=ledger)  # another worker
        with pytest.raises(BudgetExceededError) as info:
            await other.reserve()  # the quota breaker holds every process
        assert info.value.exhausted
        assert other.granted == 0
        # The billing day came on the server's clock (the count's cycle is moved one back).
        await _age_one_cycle(redis_url, shared.key("key#00000007", "ledger"), billing_day=15)
        state = await ledger.state("key#00000007")
        assert (state.spent, state.exhausted, state.remaining) == (0, False, 3)
        assert (await ledger.charge("key#00000007", 2)).spent == 2
        assert (await ledger.charge("key#00000007", 5, enforce=False)).spent == 7
        await ledger.clear_exhausted("key#00000007")
        assert (await limiter.reserve(enforce=False)).spent == 8


async def test_keys_hold_fingerprints_never_secrets(redis_url: str) -> None:
    """What lands in Redis is keyed by the prefix and the fingerprint only."""
    import coredis

    prefix = _prefix()
    async with RedisLimits(redis_url, prefix=prefix) as shared:
        limiter = shared.limiter("key#00000008", 600, ledger=shared.ledger())
        await limiter.reserve()
    client: coredis.Redis[str] = coredis.Redis.from_url(redis_url, decode_responses=True)
    async with client:
        found = sorted([key async for key in client.scan_iter(match=f"{prefix}:*")])
        ops = [key for key in found if ":op:" in key]
        ttls = [await client.ttl(key) for key in ops]
    assert ttls, "no replay record"
    assert min(ttls) > 0  # replay records expire
    keys = [key for key in found if ":op:" not in key]
    assert keys[0] == f"{prefix}:{{key#00000008}}:bucket"
    assert keys[1] == f"{prefix}:{{key#00000008}}:ledger"
    assert len(ops) == 1
    assert ops[0].startswith(f"{prefix}:{{key#00000008}}:bucket:op:")


# coredis leaves the memory streams of a connection that died unclosed (their
# ResourceWarning surfaces at garbage collection); it is not this library's leak.
_COREDIS_LEAK = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


@_COREDIS_LEAK
async def test_unreachable_redis_fails_closed(private_redis: RedisServer) -> None:
    """Redis stopped mid-run: calls fail with a typed error after a bounded wait, then recover."""
    async with RedisLimits(private_redis.url, prefix=_prefix(), unavailable_timeout=0.3) as shared:
        limiter = shared.limiter("key#00000009", 6000, ledger=shared.ledger())
        await limiter.acquire()
        private_redis.stop()
        with pytest.raises(SharedStateUnavailableError) as info:
            await limiter.acquire()
        assert "127.0.0.1" in str(info.value)
        assert "does not fall back" in str(info.value)
        assert limiter.granted == 1
        limiter.pause(5)  # cannot be sent now: kept for the next call
        private_redis.start()
        reservation = await limiter.reserve()
        assert reservation.paused  # the pause reached Redis with the first call back
        assert limiter.granted == 2
    gc.collect()  # coredis's leaked streams warn now, under this test's filter


@_COREDIS_LEAK
async def test_unreachable_redis_at_start_fails_closed() -> None:
    """No server at the URL: entering fails with the typed error, naming no password."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"redis://user:hunter2@127.0.0.1:{port}/0"
    with pytest.raises(SharedStateUnavailableError) as info:
        async with RedisLimits(url, unavailable_timeout=0.2):
            pass
    assert "hunter2" not in str(info.value)
    assert info.value.target == f"redis://127.0.0.1:{port}/0"
    gc.collect()  # coredis's leaked streams warn now, under this test's filter


@pytest.mark.parametrize("url", ["http://x", "localhost:6379", 5, "redis://host:notaport/0"])
def test_bad_urls_are_refused(url: object) -> None:
    """Only redis://, rediss:// and unix:// URLs are accepted."""
    with pytest.raises(ConfigurationError):
        RedisLimits(url)  # type: ignore[arg-type]


def _workers(  # noqa: PLR0917 - the worker's command line, in order
    url: str, prefix: str, account: str, rate: float, count: int, mode: str
) -> list[float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    processes = [
        subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [
                sys.executable,
                "-m",
                "tests.limits._redis_worker",
                url,
                prefix,
                account,
                str(rate),
                str(count),
                backend,
                mode,
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for backend in ("asyncio", "trio", "asyncio", "trio")
    ]
    times: list[float] = []
    for process in processes:
        out, _ = process.communicate(timeout=120)
        assert process.returncode == 0
        times += [float(line) for line in out.split()]
    return times


def test_processes_sharing_one_key_never_exceed_the_limit(redis_url: str) -> None:
    """Four processes (asyncio and trio) reserve on one key: no 60 s window over the limit."""
    times = _workers(redis_url, _prefix(), "key#0000000a", 10, 8, "reserve")
    assert len(times) == 32
    assert len(set(times)) == 32
    assert _max_in_window(times, 60.0) == 10
    gaps = [b - a for a, b in zip(sorted(times), sorted(times)[1:], strict=False)]
    assert min(gaps) >= 60.5 / 10 - 1e-5


def test_processes_acquiring_through_redis_are_paced(redis_url: str) -> None:
    """Four processes waiting for their slots at a high rate: slots stay one interval apart."""
    times = _workers(redis_url, _prefix(), "key#0000000b", 60000, 10, "acquire")
    assert len(times) == 40
    gaps = [b - a for a, b in zip(sorted(times), sorted(times)[1:], strict=False)]
    assert min(gaps) >= 60.5 / 60000 - 1e-5


@pytest.mark.parametrize("script", ["acquire", "ledger"])
async def test_a_reply_lost_after_a_script_ran_does_not_charge_twice(
    redis_url: str, script: str
) -> None:
    """Redis ran the script, the reply was lost, the call is retried: one credit, one slot."""
    import coredis

    async with RedisLimits(redis_url, prefix=_prefix()) as shared:
        ledger = shared.ledger(monthly_credits=100, billing_day=1)
        limiter = shared.limiter("key#0000abcd", 6000, ledger=ledger)
        real = shared._link._scripts[script]
        lost = [True]

        async def reply_lost_once(*args: object, **kwargs: object) -> object:
            result = await real(*args, **kwargs)  # type: ignore[arg-type] # Redis ran it
            if lost[0]:
                lost[0] = False
                raise coredis.exceptions.ConnectionError("connection reset by peer")
            return result

        shared._link._scripts[script] = reply_lost_once  # type: ignore[assignment]
        if script == "acquire":
            first = await limiter.reserve()
            second = await limiter.reserve()
            assert second.send_at > first.send_at  # the lost reply reserved one slot only
        else:
            assert (await ledger.charge("key#0000abcd")).spent == 1
        state = await ledger.state("key#0000abcd")
    assert not lost[0], "the reply was never lost"
    assert state.spent == (2 if script == "acquire" else 1)


async def test_the_ledger_cycle_follows_the_redis_servers_clock(redis_url: str) -> None:
    """The host's clock is years off: the count, its cycle and its expiry follow the server."""
    import coredis

    day = _far_billing_day()
    async with RedisLimits(redis_url, prefix=_prefix()) as shared:
        ledger = shared.ledger(monthly_credits=5, billing_day=day, clock=WallClock(utc(1999, 1, 2)))
        limiter = shared.limiter("key#00000011", 6000, ledger=ledger)
        await limiter.reserve()
        state = await ledger.charge("key#00000011")
        key = shared.key("key#00000011", "ledger")
    client: coredis.Redis[str] = coredis.Redis.from_url(redis_url, decode_responses=True)
    async with client:
        expires = await client.expiretime(key)
    start, end = cycle_bounds(dt.datetime.now(dt.UTC), day)  # the server runs on this host
    assert (state.spent, state.cycle_start, state.cycle_end) == (2, start, end)
    assert expires == end + dt.timedelta(days=40)


@pytest.mark.parametrize("day", [1, 15, 28])
async def test_the_scripts_cycles_match_cycle_bounds(redis_url: str, day: int) -> None:
    """The Lua calendar gives the same cycles as `cycle_bounds`, leap years and all."""
    import coredis

    from solaredge_async.limits._lua import _CYCLE

    code = _CYCLE + "local s, e = cycle_of(tonumber(ARGV[1]), tonumber(ARGV[2]))\nreturn {s, e}"
    instants = [
        utc(1970, 1, 1),
        utc(2000, 2, 29, 23, 59, 59),
        utc(2026, 12, 31, 23),
        utc(2028, 2, 28),
        utc(2028, 2, 27, 23, 59, 59),
        utc(2100, 3, 1),
        *(utc(2026, month, d, 12) for month in range(1, 13) for d in (1, 14, 15, 27, 28)),
    ]
    client: coredis.Redis[str] = coredis.Redis.from_url(redis_url, decode_responses=True)
    async with client:
        for instant in instants:
            got = await client.eval(code, keys=[], args=[str(int(instant.timestamp())), str(day)])
            expected = cycle_bounds(instant, day)
            assert [int(x) for x in got] == [int(b.timestamp()) for b in expected], instant  # type: ignore[union-attr]


async def test_a_count_is_never_moved_back_a_cycle(redis_url: str) -> None:
    """A count already in a later cycle (a server clock stepped back) stays there."""
    import coredis

    day = _far_billing_day()
    async with RedisLimits(redis_url, prefix=_prefix()) as shared:
        ledger = shared.ledger(monthly_credits=5, billing_day=day)
        await ledger.charge("key#00000012", 2)
        key = shared.key("key#00000012", "ledger")
        start, _ = cycle_bounds(dt.datetime.now(dt.UTC), day)
        later = cycle_bounds(start + dt.timedelta(days=40), day)
        client: coredis.Redis[str] = coredis.Redis.from_url(redis_url, decode_responses=True)
        async with client:
            await client.hset(
                key,
                {
                    "cycle_start": str(int(later[0].timestamp())),
                    "cycle_end": str(int(later[1].timestamp())),
                },
            )
        state = await ledger.charge("key#00000012")
    assert (state.spent, state.cycle_start, state.cycle_end) == (3, *later)


async def test_a_ledger_with_another_billing_day_is_refused(redis_url: str) -> None:
    """Two billing days on one count would reset each other: ConfigurationError, nothing spent."""
    async with RedisLimits(redis_url, prefix=_prefix()) as shared:
        await shared.ledger(billing_day=1).charge("key#00000013", 4)
        other = shared.ledger(billing_day=15)
        with pytest.raises(ConfigurationError, match=r"day 1 .*billing_day=15"):
            await other.charge("key#00000013")
        limiter = shared.limiter("key#00000013", 6000, ledger=other)
        with pytest.raises(ConfigurationError, match=r"day 1 .*billing_day=15"):
            await limiter.reserve()
        assert limiter.granted == 0
        assert (await shared.ledger(billing_day=1).state("key#00000013")).spent == 4
