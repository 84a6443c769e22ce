"""``SolarEdgeClient(shared_state=...)``: the client's limits and ledger on a real Redis.

Assertions are about counts (grants, credits in the shared ledger, 429s), never
about how long anything took.
"""

from __future__ import annotations

import gc
import socket
import uuid

import anyio
import pytest

from solaredge_async import ConfigurationError, RateLimiter, SolarEdgeClient, _shared_state
from solaredge_async.limits import SharedStateUnavailableError
from tests.pool._support import make_sim, options

pytest.importorskip("coredis")
pytestmark = pytest.mark.anyio


def fresh_key() -> str:
    """An API key of one test (its fingerprint names its own Redis keys)."""
    return f"shared-{uuid.uuid4().hex}"


def client(sim, key: str, url: str | None, **kw: object) -> SolarEdgeClient:
    """A client of ``key`` on the simulator, sharing its limits through ``url``."""
    settings = options(sim, requests_per_minute=6000, monthly_credits=1000)
    settings.update(kw)
    return SolarEdgeClient(api_key=key, shared_state=url, **settings)  # type: ignore[arg-type]


async def test_two_clients_of_one_key_share_one_bucket_and_one_ledger(redis_url):
    """Every request of both clients is granted by Redis and charged to one shared ledger."""
    key = fresh_key()
    sim = make_sim(sites=4, keys=(key,), requests_per_minute=600)
    site_ids = sim.fleet.sites_for(key)
    async with client(sim, key, redis_url) as a, client(sim, key, redis_url) as b:
        assert type(a.rate_limiter).__name__ == "RedisRateLimiter"
        assert a.rate_limiter is not b.rate_limiter

        async def calls(c: SolarEdgeClient) -> None:
            for site_id in site_ids:
                await c.site_overview(site_id)

        async with anyio.create_task_group() as tg:
            tg.start_soon(calls, a)
            tg.start_soon(calls, b)
        sent = a.usage.credits + b.usage.credits
        assert sent == 2 * len(site_ids)
        assert a.rate_limiter.granted + b.rate_limiter.granted == sent  # type: ignore[union-attr]
        budget_a, budget_b = await a.budget(), await b.budget()
        assert budget_a.spent == budget_b.spent == sent
        assert budget_a.monthly_credits == 1000
    assert sim.ledger(key).minute_429s == 0
    assert sim.ledger(key).credits == sent


async def test_the_environment_variable_turns_it_on(redis_url, monkeypatch):
    """``SOLAREDGE_SHARED_STATE`` is read when ``shared_state`` is not given."""
    monkeypatch.setenv("SOLAREDGE_SHARED_STATE", redis_url)
    key = fresh_key()
    sim = make_sim(sites=2, keys=(key,))
    async with client(sim, key, None) as c:
        await c.site_overview(sim.fleet.sites_for(key)[0])
        assert (await c.budget()).spent == 1
    monkeypatch.setenv("SOLAREDGE_SHARED_STATE", "")
    async with client(sim, key, None) as c:
        assert type(c.rate_limiter).__name__ == "RateLimiter"


async def test_the_server_monthly_429_trips_the_breaker_for_every_client(redis_url):
    """One client meets the monthly 429; a second one is refused without sending."""
    key = fresh_key()
    sim = make_sim(sites=2, keys=(key,), monthly_credits=10)
    sim.use_credits(key, 10)
    site_id = sim.fleet.sites_for(key)[0]
    async with client(sim, key, redis_url) as a, client(sim, key, redis_url) as b:
        with pytest.raises(Exception, match="(?i)monthly|credits") as first:
            await a.site_overview(site_id)
        assert type(first.value).__name__ == "QuotaExhaustedError"
        calls = sim.ledger(key).calls
        with pytest.raises(Exception, match="(?i)credits") as second:
            await b.site_overview(site_id)
        assert type(second.value).__name__ == "BudgetExceededError"
        assert sim.ledger(key).calls == calls  # refused before sending
        assert (await b.budget()).exhausted


async def test_calls_outside_async_with_are_refused_without_sending(redis_url):
    """A client with shared state must be entered: no call goes out unshared."""
    key = fresh_key()
    sim = make_sim(sites=2, keys=(key,))
    c = client(sim, key, redis_url)
    with pytest.raises(ConfigurationError, match="async with"):
        await c.site_overview(sim.fleet.sites_for(key)[0])
    with pytest.raises(ConfigurationError, match="async with"):
        await c.budget()
    assert sim.ledger(key).calls == 0
    await c.aclose()


def test_conflicting_or_malformed_settings_are_refused():
    """No caller limiter, ledger or state directory with shared state; a redis URL only."""
    sim = make_sim(sites=2)
    with pytest.raises(ConfigurationError, match="rate_limiter"):
        client(sim, "k", "redis://127.0.0.1:1/0", rate_limiter=RateLimiter(10))
    with pytest.raises(ConfigurationError, match="state_dir"):
        client(sim, "k", "redis://127.0.0.1:1/0", state_dir="/tmp")  # noqa: S108
    with pytest.raises(ConfigurationError, match="redis://"):
        client(sim, "k", "http://127.0.0.1:6379")


@pytest.fixture
def dead_url() -> str:
    """A loopback URL where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


# coredis leaves the memory streams of a connection that died unclosed (their
# ResourceWarning surfaces at garbage collection); it is not this library's leak.
_COREDIS_LEAK = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


@pytest.fixture
def short_wait(monkeypatch):
    """An unreachable Redis is given up on after 0.2 s (real time: Redis is real)."""
    monkeypatch.setattr(_shared_state, "UNAVAILABLE_TIMEOUT", 0.2)


@_COREDIS_LEAK
async def test_an_unreachable_redis_fails_closed_on_entry(dead_url, short_wait):
    """Entering raises SharedStateUnavailableError after the bounded wait; nothing is sent."""
    key = fresh_key()
    sim = make_sim(sites=2, keys=(key,))
    c = client(sim, key, dead_url)
    with pytest.raises(SharedStateUnavailableError, match="unreachable"):
        async with c:
            pass  # pragma: no cover - never entered
    with pytest.raises(ConfigurationError, match="async with"):
        await c.site_overview(sim.fleet.sites_for(key)[0])
    await c.aclose()
    gc.collect()  # coredis's leaked streams warn now, under this test's filter
    assert sim.ledger(key).calls == 0


@_COREDIS_LEAK
async def test_redis_gone_mid_run_fails_the_next_call_closed(private_redis, short_wait):
    """Redis stops after a call: the next call raises the typed error and is not sent."""
    key = fresh_key()
    sim = make_sim(sites=2, keys=(key,))
    site_id = sim.fleet.sites_for(key)[0]
    async with client(sim, key, private_redis.url) as c:
        await c.site_overview(site_id)
        private_redis.stop()
        with pytest.raises(SharedStateUnavailableError, match="does not fall back"):
            await c.site_overview(site_id)
    gc.collect()
    assert sim.ledger(key).calls == 1
