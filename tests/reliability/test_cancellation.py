"""Cancellation and timeouts: nothing leaks, nothing hangs, the client keeps working.

Hypothesis picks the (virtual) instant at which a call is cancelled: while it waits for the
limiter, for a connection slot, for the server, mid-body, or in a retry backoff. After
each cancellation no task is left behind, every concurrency slot is back, the limiter
grants the next token on time, and the same client completes a call. Over the simulator's
loopback server (real sockets, real clocks) a cancelled request leaves no connection in
use in httpx's pool. A server that stops answering (before the headers or mid-body) trips
the read timeout and is retried; it never hangs a call.
"""

from __future__ import annotations

import contextlib
import math
from collections import Counter
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solaredge_async import RateLimiter, RetryPolicy, SolarEdgeClient, SolarEdgeError
from solaredge_async import RequestTimeoutError as SolarEdgeTimeoutError
from solaredge_async.fleet import SweepResult, SweepSpec, plan_sweep, sweep
from solaredge_async.testing import Faults, FleetSpec, Simulator, SimulatorConfig
from tests.reliability._support import (
    CALLS,
    END_24H,
    HTTPX_INNER_GENERATORS,
    REFERENCE,
    SITE,
    START,
    pool_state,
    run_virtual,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

pytestmark = pytest.mark.anyio

KEY = "cancel-KEY-5e4d3c2b1a"
#: The limiter of the property test: one token a second, no burst, no margin.
INTERVAL = 1.0
NOW = datetime(2026, 5, 12, 12, 0, tzinfo=UTC)
DAY = date(2026, 5, 11)

HTTPX_INNER_GENERATOR = HTTPX_INNER_GENERATORS

# --- an in-process server on the virtual clock --------------------------------------------

OK_BODY = b'{"siteId":1,"name":"x","location":{"timezone":"Europe/Berlin"}}'


def _body_for(path: str) -> bytes:
    """A valid body for the endpoint at ``path``."""
    if path.endswith("/energy"):
        return REFERENCE["measurements"].encode()
    if path.endswith("/telemetry"):
        return REFERENCE["inverters"].encode()
    if path.endswith("/overview"):
        return REFERENCE["overview"].encode()
    return OK_BODY


class _SlowBody(httpx.AsyncByteStream):
    """A body sent in ``chunks`` pieces, ``gap`` seconds apart; records whether it closed."""

    def __init__(self, body: bytes, chunks: int, gap: float, log: list[_SlowBody]) -> None:
        size = max(1, len(body) // chunks)
        self.parts = [body[i : i + size] for i in range(0, len(body), size)]
        self.gap = gap
        self.closed = False
        log.append(self)

    def __aiter__(self) -> _SlowBody:
        return self

    async def __anext__(self) -> bytes:
        if self.closed or not self.parts:
            raise StopAsyncIteration
        await anyio.sleep(self.gap)
        return self.parts.pop(0)

    async def aclose(self) -> None:
        self.closed = True


class Server:
    """Answers after ``latency``; the first ``failures`` answers are 503s; slow bodies."""

    def __init__(self, *, latency: float, failures: int, chunks: int, gap: float) -> None:
        self.latency = latency
        self.failures = failures
        self.chunks = chunks
        self.gap = gap
        self.bodies: list[_SlowBody] = []
        self.served = 0
        self.in_handler = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        """Answer one request (the `httpx.MockTransport` handler)."""
        self.in_handler += 1
        try:
            await anyio.sleep(self.latency)
            self.served += 1
            if self.served <= self.failures:
                return httpx.Response(503, text="busy")
            body = _SlowBody(_body_for(request.url.path), self.chunks, self.gap, self.bodies)
            return httpx.Response(200, stream=body, headers={"content-type": "application/json"})
        finally:
            self.in_handler -= 1


#: Calls to cancel: one request, a split window (two concurrent requests in a task
#: group), and pagination.
CANCELLED_CALLS: dict[str, Callable[[SolarEdgeClient], Awaitable[object]]] = {
    "site": lambda c: c.site(SITE),
    "site_energy (split)": CALLS["site_energy"],
    "telemetry (split)": lambda c: c.telemetry("inverters", SITE, start=START, end=END_24H),
    "get": CALLS["get"],
}


async def _check_recovered(client: SolarEdgeClient, server: Server, tasks_before: int) -> None:
    """No task, slot or token leaked, the limiter is on time, and a call succeeds."""
    await anyio.lowlevel.checkpoint()  # let cancelled tasks finish unwinding
    assert len(anyio.get_running_tasks()) == tasks_before
    assert client._engine.slots.borrowed_tokens == 0
    assert server.in_handler == 0
    assert all(body.closed or not body.parts for body in server.bodies)
    limiter = client.rate_limiter
    assert limiter is not None
    assert not limiter._lock.locked()
    # The next token comes when the bucket says, not later: at most one interval away,
    # or at the end of a shared pause.
    now = anyio.current_time()
    due = max(now + INTERVAL, limiter.paused_until)
    await limiter.acquire()
    assert anyio.current_time() <= due + 1e-6
    # And the client still works (fast server now).
    server.latency, server.gap, server.failures = 0.0, 0.0, 0
    site = await client.site(SITE)
    assert site.site_id == 1


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    backend=st.sampled_from(["asyncio", "trio"]),
    call=st.sampled_from(sorted(CANCELLED_CALLS)),
    cancel_at=st.floats(min_value=0.0, max_value=12.0),
    latency=st.sampled_from([0.0, 0.3, 2.0]),
    failures=st.integers(0, 2),
    chunks=st.integers(1, 4),
    gap=st.sampled_from([0.0, 0.5, 3.0]),
    concurrency=st.integers(1, 3),
    others=st.integers(0, 3),
)
@HTTPX_INNER_GENERATOR
def test_cancel_a_call_at_any_point(  # noqa: PLR0917 - hypothesis parameters
    backend: str,
    call: str,
    cancel_at: float,
    latency: float,
    failures: int,
    chunks: int,
    gap: float,
    concurrency: int,
    others: int,
) -> None:
    """Cancelled anywhere (limiter, slot, server, body, backoff): nothing leaks or hangs."""

    async def main() -> None:
        server = Server(latency=latency, failures=failures, chunks=chunks, gap=gap)
        client = SolarEdgeClient(
            api_key=KEY,
            transport=httpx.MockTransport(server),
            rate_limiter=RateLimiter(60 / INTERVAL, safety_margin=0),
            max_concurrency=concurrency,
            retry=RetryPolicy(max_attempts=3, initial_backoff=1.0, jitter=0.0),
            site_timezones={SITE: "Europe/Berlin"},
        )

        async def run(action: Callable[[SolarEdgeClient], Awaitable[object]]) -> None:
            # A retry that the cancel scope's deadline would cut short is not waited for:
            # the last error is raised instead (RetryPolicy). Only library errors may come.
            with contextlib.suppress(SolarEdgeError):
                await action(client)

        async with client:
            tasks_before = len(anyio.get_running_tasks())
            with anyio.fail_after(3600):  # a hang fails the test instead of blocking it
                with anyio.move_on_after(cancel_at):
                    async with anyio.create_task_group() as tg:
                        # Other calls compete for the limiter and the slots.
                        for _ in range(others):
                            tg.start_soon(run, CANCELLED_CALLS["site"])
                        await run(CANCELLED_CALLS[call])
                await _check_recovered(client, server, tasks_before)

    run_virtual(backend, main)


@HTTPX_INNER_GENERATOR
async def test_cancel_while_waiting_for_a_retry_after_pause() -> None:
    """Cancelled during a shared Retry-After pause: the pause holds, nothing else leaks."""
    answers = [httpx.Response(429, headers={"retry-after": "30"}), httpx.Response(200, json={})]

    def handler(_request: httpx.Request) -> httpx.Response:
        return answers.pop(0) if len(answers) > 1 else answers[0]

    limiter = RateLimiter(60, safety_margin=0)
    async with SolarEdgeClient(
        api_key=KEY, transport=httpx.MockTransport(handler), rate_limiter=limiter
    ) as client:
        start = anyio.current_time()

        async def cancel_later(scope: anyio.CancelScope) -> None:
            await anyio.sleep(10)
            scope.cancel()

        # Cancelled from outside, not by a deadline: a deadline shorter than the pause
        # would make the call raise the 429 at once instead of waiting (RetryPolicy).
        async with anyio.create_task_group() as tg:
            tg.start_soon(cancel_later, tg.cancel_scope)
            await client.get("/sites/1")
        assert anyio.current_time() == pytest.approx(start + 10)
        assert client._engine.slots.borrowed_tokens == 0
        assert limiter.paused_until == pytest.approx(start + 30)
        await client.get("/sites/1")
        # The next call waited out the server's pause, no longer.
        assert anyio.current_time() == pytest.approx(start + 30, abs=1e-3)


# --- timeouts on the in-process simulator (virtual clock) --------------------------------


def _sim(faults: Faults, **kwargs: Any) -> Simulator:
    return Simulator(
        SimulatorConfig(
            fleet=FleetSpec(sites=2),
            now=NOW,
            requests_per_minute=None,
            monthly_credits=None,
            faults=faults,
            **kwargs,
        )
    )


async def test_a_server_that_never_answers_trips_the_timeout_and_is_retried() -> None:
    """Every response stalls: each attempt ends at the read timeout, then the call fails."""
    sim = _sim(Faults(timeout=1.0))
    site_id = sim.fleet.sites_for(sim.api_key)[0]
    policy = RetryPolicy(max_attempts=3, initial_backoff=1.0, jitter=0.0)
    async with SolarEdgeClient(
        api_key=sim.api_key,
        transport=sim.transport(),
        requests_per_minute=None,
        timeout=5.0,
        retry=policy,
    ) as client:
        start = anyio.current_time()
        with pytest.raises(SolarEdgeTimeoutError, match="ReadTimeout"):
            await client.site(site_id)
        elapsed = anyio.current_time() - start
        usage = client.usage
    # Three 5 s stalls and backoffs of 1 s and 2 s: 18 s, not a hang.
    assert elapsed == pytest.approx(3 * 5.0 + 1.0 + 2.0)
    assert (usage.calls, usage.credits, usage.retries) == (1, 3, 2)
    assert sim.ledger(sim.api_key).faults == {"timeout": 3}
    assert sim.ledger(sim.api_key).credits == usage.credits


async def test_half_the_responses_stalling_still_gets_every_answer() -> None:
    """Stalls at 50 %: with enough attempts every call succeeds; credits agree."""
    sim = _sim(Faults(timeout=0.5, seed=3))
    ids = sim.fleet.sites_for(sim.api_key)
    async with SolarEdgeClient(
        api_key=sim.api_key,
        transport=sim.transport(),
        requests_per_minute=None,
        timeout=2.0,
        retry=RetryPolicy(max_attempts=12, initial_backoff=0.1, max_backoff=1.0),
    ) as client:
        for _ in range(20):
            for site_id in ids:
                assert (await client.site(site_id)).site_id == site_id
        usage = client.usage
    stalls = sim.ledger(sim.api_key).faults["timeout"]
    assert stalls > 5
    assert usage.retries == stalls
    assert usage.credits == sim.ledger(sim.api_key).credits == 40 + stalls


# --- real sockets: the pool after a cancellation, stalls mid-body ------------------------


_pool_state = pool_state


@pytest.mark.loopback
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])  # real clocks: real sockets
@pytest.mark.parametrize("cancel_at", [0.05, 0.15, 0.3])
@HTTPX_INNER_GENERATOR
async def test_cancel_over_the_loopback_server_leaks_no_connection(cancel_at: float) -> None:
    """Cancelled while the server is slow to answer: no pooled connection stays in use."""
    sim = _sim(Faults(latency=(0.2, 0.1)), record_requests=100)
    site_id = sim.fleet.sites_for(sim.api_key)[0]
    async with (
        sim.serve() as base_url,
        SolarEdgeClient(
            api_key=sim.api_key, base_url=base_url, requests_per_minute=None, max_concurrency=3
        ) as client,
    ):
        for _ in range(3):
            with anyio.move_on_after(cancel_at):
                async with anyio.create_task_group() as tg:
                    for _ in range(3):
                        tg.start_soon(client.site, site_id)
            assert _pool_state(client) == (0, 0)
            assert client._engine.slots.borrowed_tokens == 0
        with anyio.fail_after(10):
            assert (await client.site(site_id)).site_id == site_id
        assert _pool_state(client) == (0, 0)


class _StallingServer:
    """A raw HTTP/1.1 server: the first ``stalls`` answers stop mid-body, then full answers."""

    def __init__(self, stalls: int) -> None:
        self.stalls = stalls
        self.requests = 0
        self.body = OK_BODY

    async def handle(self, stream: anyio.abc.SocketStream) -> None:
        async with stream:
            data = b""
            while True:
                while b"\r\n\r\n" not in data:
                    try:
                        data += await stream.receive()
                    except (anyio.EndOfStream, anyio.BrokenResourceError):
                        return
                _head, _, data = data.partition(b"\r\n\r\n")
                self.requests += 1
                head = (
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    b"content-length: " + str(len(self.body)).encode() + b"\r\n\r\n"
                )
                if self.requests <= self.stalls:
                    await stream.send(head + self.body[:10])
                    await anyio.sleep(30)  # stops answering mid-body
                    return
                await stream.send(head + self.body)


@pytest.mark.loopback
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])  # real clocks: real sockets
@HTTPX_INNER_GENERATOR
async def test_a_server_that_stops_mid_body_is_timed_out_and_retried() -> None:
    """Headers and 10 bytes, then silence: the read timeout trips, the retry succeeds."""
    server = _StallingServer(stalls=2)
    async with await anyio.create_tcp_listener(local_host="127.0.0.1") as listener:
        port = listener.extra(anyio.abc.SocketAttribute.local_port)  # noqa: S610 - not Django
        async with anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, server.handle)
            async with SolarEdgeClient(
                api_key=KEY,
                base_url=f"http://127.0.0.1:{port}/v2",
                requests_per_minute=None,
                timeout=0.3,
                retry=RetryPolicy(max_attempts=4, initial_backoff=0.05, jitter=0.0),
            ) as client:
                with anyio.fail_after(10):
                    site = await client.site(1)
                usage = client.usage
                assert _pool_state(client) == (0, 0)
            tg.cancel_scope.cancel()
    assert site.site_id == 1
    assert server.requests == 3
    assert (usage.credits, usage.retries) == (3, 2)


@pytest.mark.loopback
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])  # real clocks: real sockets
@HTTPX_INNER_GENERATOR
async def test_cancelled_mid_body_closes_the_connection() -> None:
    """Cancelled while the body trickles in: the connection is dropped, not left in use."""
    server = _StallingServer(stalls=1)
    async with await anyio.create_tcp_listener(local_host="127.0.0.1") as listener:
        port = listener.extra(anyio.abc.SocketAttribute.local_port)  # noqa: S610 - not Django
        async with anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, server.handle)
            async with SolarEdgeClient(
                api_key=KEY, base_url=f"http://127.0.0.1:{port}/v2", requests_per_minute=None
            ) as client:
                async with anyio.create_task_group() as call:
                    call.start_soon(client.site, 1)
                    await anyio.sleep(0.3)
                    # Mid-body: the connection is in use (so the check below can fail).
                    assert _pool_state(client) == (1, 1)
                    assert server.requests == 1
                    call.cancel_scope.cancel()
                assert _pool_state(client) == (0, 0)
                assert client._engine.slots.borrowed_tokens == 0
                with anyio.fail_after(10):
                    assert (await client.site(1)).site_id == 1
            tg.cancel_scope.cancel()
    assert server.requests == 2


@pytest.mark.loopback
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])  # real clocks: real sockets
async def test_a_stalling_simulator_server_is_timed_out_not_waited_for() -> None:
    """The simulator's server stalls every answer: each attempt ends at the read timeout."""
    sim = _sim(Faults(timeout=1.0, stall=5.0))
    site_id = sim.fleet.sites_for(sim.api_key)[0]
    async with (
        sim.serve() as base_url,
        SolarEdgeClient(
            api_key=sim.api_key,
            base_url=base_url,
            requests_per_minute=None,
            timeout=0.2,
            retry=RetryPolicy(max_attempts=2, initial_backoff=0.05, jitter=0.0),
        ) as client,
    ):
        start = anyio.current_time()
        with pytest.raises(SolarEdgeTimeoutError):
            await client.site(site_id)
        assert anyio.current_time() - start < 2.0
        assert _pool_state(client) == (0, 0)


# --- sweeps ----------------------------------------------------------------------------------


def _sweep_sim() -> Simulator:
    return Simulator(
        SimulatorConfig(
            fleet=FleetSpec(sites=40),
            now=NOW,
            requests_per_minute=600,
            monthly_credits=None,
            record_requests=0,
            faults=Faults(latency=(0.4, 0.35), server_error=0.05, connection_reset=0.02, seed=9),
        )
    )


SWEEP_SPEC = SweepSpec(what={"energy", "overview"}, start=DAY, end=DAY, resolution="HOUR")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    backend=st.sampled_from(["asyncio", "trio"]),
    cancel_at=st.floats(min_value=0.0, max_value=15.0),
    how=st.sampled_from(["deadline", "break", "raise"]),
    concurrency=st.integers(1, 8),
)
@HTTPX_INNER_GENERATOR
def test_cancel_a_sweep_at_any_point_then_resume(
    backend: str, cancel_at: float, how: str, concurrency: int
) -> None:
    """A sweep cancelled, broken off or failed mid-way leaks nothing; a resume does the rest."""

    async def main() -> None:
        sim = _sweep_sim()
        async with SolarEdgeClient(
            api_key=sim.api_key,
            transport=sim.transport(),
            base_url=sim.base_url,
            requests_per_minute=600,
            max_concurrency=4,
            retry=RetryPolicy(max_attempts=6, initial_backoff=0.2, deadline=None),
        ) as client:
            plan = await plan_sweep(client, SWEEP_SPEC, now=sim.now())
            tasks_before = len(anyio.get_running_tasks())
            received: list[SweepResult] = []
            stop_at = anyio.current_time() + cancel_at

            class _Stop(Exception):  # noqa: N818 - a signal, not an error
                pass

            with (
                anyio.fail_after(3600),
                anyio.move_on_after(cancel_at if how == "deadline" else math.inf),
                contextlib.suppress(_Stop),
            ):
                async with sweep(client, plan, concurrency=concurrency) as results:
                    async for result in results:
                        received.append(result)
                        if how != "deadline" and anyio.current_time() >= stop_at:
                            if how == "raise":
                                raise _Stop
                            break
            await anyio.lowlevel.checkpoint()
            assert len(anyio.get_running_tasks()) == tasks_before
            assert client._engine.slots.borrowed_tokens == 0
            limiter = client.rate_limiter
            assert limiter is not None
            assert not limiter._lock.locked()
            ledger = sim.ledger(sim.api_key)
            assert ledger.in_flight == 0
            # Every attempt the client counted reached the simulator (nothing charged twice
            # or lost by the cancellation); only 429s are the client's alone.
            assert client.usage.credits == ledger.credits + ledger.minute_429s

            seen = Counter(r.item.id for r in received)
            assert all(n == 1 for n in seen.values())
            rest = plan.without(set(seen))
            async with sweep(client, rest) as results:
                resumed = [r async for r in results]
            total = Counter(r.item.id for r in (*received, *resumed))
            assert total == Counter(item.id for item in plan)

    run_virtual(backend, main)
