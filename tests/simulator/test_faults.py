"""Seeded faults: their rates, what each one does, and what each one costs."""

from __future__ import annotations

import json
from collections import Counter

import anyio
import httpx
import pytest

from solaredge_async.testing import Faults
from solaredge_async.testing._config import FAULT_KINDS
from tests._clock import virtual_backend

from ._support import client, make_sim

pytestmark = pytest.mark.anyio

N = 2000


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request):
    """Each test on asyncio and trio, both with an auto-jumping virtual clock."""
    return virtual_backend(str(request.param))


def _drive(sim, n=N):
    """Send ``n`` overview requests straight to the core; return the replies."""
    site_id = sim.fleet.sites_for(sim.api_key)[0]
    headers = {"x-api-key": sim.api_key}
    return [
        sim.handle("GET", f"/v2/sites/{site_id}/overview", "", headers, mono=0.0) for _ in range(n)
    ]


def test_each_fault_kind_appears_at_its_rate():
    """Over 2,000 calls each kind shows up at its configured rate (within 4 sigma)."""
    rate = 0.05
    sim = make_sim(seed=11, faults=Faults(latency=(0.15, 0.05), **dict.fromkeys(FAULT_KINDS, rate)))
    replies = _drive(sim)
    counts = Counter(r.fault for r in replies)
    sigma = (N * rate * (1 - rate)) ** 0.5
    for kind in FAULT_KINDS:
        assert abs(counts[kind] - N * rate) < 4 * sigma, (kind, counts[kind])
    assert abs(counts[None] - N * (1 - 8 * rate)) < 4 * (N * 0.4 * 0.6) ** 0.5
    delays = [r.delay for r in replies]
    assert min(delays) >= 0.1
    assert max(delays) <= 0.2
    assert abs(sum(delays) / N - 0.15) < 0.005
    assert sim.ledger(sim.api_key).faults == {k: counts[k] for k in FAULT_KINDS}


def test_faults_are_deterministic_per_seed():
    """The same seed gives the same fault sequence."""
    faults = Faults(server_error=0.1, connection_reset=0.1, seed=5)
    a = [r.fault for r in _drive(make_sim(faults=faults), 300)]
    b = [r.fault for r in _drive(make_sim(faults=faults), 300)]
    c = [
        r.fault
        for r in _drive(
            make_sim(faults=Faults(server_error=0.1, connection_reset=0.1, seed=6)), 300
        )
    ]
    assert a == b
    assert a != c


def test_credits_of_faulted_calls():
    """HTML edge errors and spurious 429 bursts are free; every other fault is charged."""
    sim = make_sim(faults=Faults(**dict.fromkeys(FAULT_KINDS, 0.1)))
    replies = _drive(sim, 1000)
    counts = Counter(r.fault for r in replies)
    usage = sim.ledger(sim.api_key)
    assert usage.calls == 1000
    assert usage.credits == 1000 - counts["html_error"] - counts["rate_limit_burst"]


def test_html_edge_errors_do_not_use_the_minute():
    """An HTML page from the CDN edge never reached the gateway's per-minute counter."""
    sim = make_sim(requests_per_minute=3, faults=Faults(html_error=1.0))
    replies = _drive(sim, 10)
    assert {r.status for r in replies} <= {502, 503, 504, 520, 521, 522, 524}
    assert sim.ledger(sim.api_key).minute_429s == 0


async def test_connection_resets_raise_httpx_transport_errors():
    """A reset raises httpx.ReadError or httpx.RemoteProtocolError (both appear)."""
    sim = make_sim(faults=Faults(connection_reset=1.0))
    seen = set()
    async with client(sim) as c:
        for _ in range(4):
            with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)) as info:
                await c.get("/sites")
            seen.add(type(info.value))
    assert seen == {httpx.ReadError, httpx.RemoteProtocolError}
    assert sim.ledger(sim.api_key).in_flight == 0


async def test_timeouts_honour_the_read_timeout():
    """A stalled answer sleeps the request's read timeout, then raises ReadTimeout."""
    sim = make_sim(faults=Faults(timeout=1.0, stall=45.0))
    async with client(sim, timeout=7.0) as c:
        t0 = anyio.current_time()
        with pytest.raises(httpx.ReadTimeout):
            await c.get("/sites")
        assert anyio.current_time() - t0 == pytest.approx(7.0)
        t0 = anyio.current_time()
        with pytest.raises(httpx.ReadTimeout):
            await c.get("/sites", timeout=None)
        assert anyio.current_time() - t0 == pytest.approx(45.0)


async def test_latency_runs_on_the_event_loop_clock():
    """Latency sleeps on anyio's clock, so virtual time moves by mean ± jitter."""
    sim = make_sim(faults=Faults(latency=(0.15, 0.05)))
    async with client(sim) as c:
        t0 = anyio.current_time()
        for _ in range(20):
            assert (await c.get("/sites")).status_code == 200
        elapsed = anyio.current_time() - t0
    assert 20 * 0.1 <= elapsed <= 20 * 0.2


async def test_error_pages_and_bodies():
    """5xx JSON, HTML pages, malformed and truncated JSON, and schema drift look the part."""

    async def one(**rates):
        sim = make_sim(faults=Faults(**rates))
        site_id = sim.fleet.sites_for(sim.api_key)[0]
        async with client(sim) as c:
            return await c.get(f"/sites/{site_id}")

    server = await one(server_error=1.0)
    assert server.status_code in {500, 502, 503, 504}
    assert server.headers["content-type"] == "application/problem+json"
    html = await one(html_error=1.0)
    assert html.status_code in {502, 503, 504, 520, 521, 522, 524}
    assert html.headers["content-type"].startswith("text/html")
    assert "<html" in html.text
    assert "x-ratelimit-limit-minute" not in html.headers
    assert "x-kong-request-id" not in html.headers
    malformed = await one(malformed_json=1.0)
    truncated = await one(truncated_json=1.0)
    for r in (malformed, truncated):
        assert r.status_code == 200
        with pytest.raises(json.JSONDecodeError):
            json.loads(r.text)
    drift = (await one(schema_drift=1.0)).json()
    assert drift["activationStatus"] == "DECOMMISSIONED"
    assert any(k.startswith("unknownField") for k in drift)
    assert any(k.startswith("unknownField") for k in drift["location"])


async def test_rate_limit_burst_uses_up_the_minute():
    """A burst answers a per-minute 429 and the rest of that wall-clock minute stays refused."""
    sim = make_sim(requests_per_minute=10, faults=Faults(rate_limit_burst=1.0))
    async with client(sim) as c:
        r = await c.get("/sites")
        assert r.status_code == 429
        assert r.headers["x-ratelimit-remaining-minute"] == "0"
        # The simulator's clock reads 14:37:12.12: 48 s (rounded up) to 14:38:00.
        assert int(r.headers["retry-after"]) == 48
    usage = sim.ledger(sim.api_key)
    assert usage.minute_429s == 1
    assert usage.credits == 0


def test_fault_settings_are_validated():
    """Rates outside [0, 1] or adding up to more than 1 are refused."""
    with pytest.raises(ValueError):
        Faults(server_error=1.5)
    with pytest.raises(ValueError):
        Faults(server_error=0.6, html_error=0.6)
    with pytest.raises(ValueError):
        Faults(latency=(-1.0, 0.0))
