"""The request path: auth headers, retries, 429 kinds, credits, errors, cancellation."""

from __future__ import annotations

import logging

import anyio
import httpx
import pytest

from solaredge_async import (
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    GoneError,
    NotFoundError,
    PermissionDeniedError,
    QuotaExhaustedError,
    RateLimitedError,
    RequestEvent,
    RequestTimeoutError,
    RetryPolicy,
    ServerError,
    TransportError,
)
from tests.transport._mock import KEY, Script, client, ok, problem

pytestmark = pytest.mark.anyio

FAST = RetryPolicy(initial_backoff=1.0, jitter=0.0, max_attempts=4)


async def test_sends_key_headers_and_counts_a_credit():
    """X-API-Key (and only configured headers) go out; one call costs one credit."""
    script = Script(ok({"a": 1}))
    async with client(script) as c:
        assert await c.get("/sites/1/overview") == {"a": 1}
        usage = c.usage
    req = script.requests[0]
    assert req.headers["x-api-key"] == KEY
    assert "x-account-key" not in req.headers
    assert str(req.url) == "https://monitoringapi.solaredge.com/v2/sites/1/overview"
    assert (usage.calls, usage.credits, usage.retries) == (1, 1, 0)
    assert (usage.last_limit, usage.last_remaining) == (10, 9)


async def test_account_key_sent_when_configured():
    """The legacy X-Account-Key header goes out only when given."""
    script = Script(ok())
    async with client(script, account_key="ACCT-1") as c:
        await c.get("/sites/1")
    assert script.requests[0].headers["x-account-key"] == "ACCT-1"


async def test_bearer_token_from_provider():
    """token_provider is awaited per attempt and sent as a bearer token."""
    tokens = iter(["tok-1", "tok-2"])

    async def provider() -> str:
        return next(tokens)

    script = Script(problem(503, "Service Unavailable", "busy"), ok())
    import solaredge_async

    async with solaredge_async.SolarEdgeClient(
        token_provider=provider,
        transport=httpx.MockTransport(script),
        requests_per_minute=None,
        retry=FAST,
    ) as c:
        await c.get("/sites/1")
    assert [r.headers["authorization"] for r in script.requests] == [
        "Bearer tok-1",
        "Bearer tok-2",
    ]


@pytest.mark.parametrize("path", ["/sites", "/alerts"])
async def test_bearer_refused_locally_on_key_only_paths(path):
    """/sites and /alerts refuse bearers: refused before any request is sent."""

    async def provider() -> str:
        return "tok"

    script = Script(ok())
    import solaredge_async

    async with solaredge_async.SolarEdgeClient(
        token_provider=provider, transport=httpx.MockTransport(script)
    ) as c:
        with pytest.raises(solaredge_async.InvalidRequestError, match="API keys only"):
            if path == "/sites":
                async for _ in c.sites():
                    pass
            else:
                async for _ in c.alerts():
                    pass
    assert script.requests == []


async def test_5xx_and_transport_errors_are_retried_and_charged():
    """A 502 HTML page and a reset connection are retried; every attempt costs a credit."""
    calls = {"n": 0}

    def reset(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        raise httpx.ReadError("connection reset by peer", request=request)

    html = httpx.Response(502, text="<html><body>Bad gateway</body></html>")
    script = Script(html, reset, ok({"done": True}))
    events: list[RequestEvent] = []
    async with client(script, retry=FAST, on_request=events.append) as c:
        assert await c.get("/sites/1") == {"done": True}
        usage = c.usage
    assert len(script.requests) == 3
    assert (usage.calls, usage.credits, usage.retries) == (1, 3, 2)
    assert [e.attempt for e in events] == [1, 2, 3]
    assert [e.status_code for e in events] == [502, None, 200]
    assert events[1].error == "ReadError"


async def test_backoff_is_exponential_and_releases_the_slot():
    """Waits double between attempts; other calls proceed while one backs off."""
    script = Script(problem(500, "Error", "x"), problem(500, "Error", "x"), ok())
    async with client(script, retry=FAST, max_concurrency=1) as c:
        await c.get("/sites/1")
        t = script.times
        assert t[1] - t[0] == pytest.approx(1.0)
        assert t[2] - t[1] == pytest.approx(2.0)

        # While one call sleeps in backoff, the single slot serves another call.
        script2 = Script(problem(500, "Error", "x"), ok())
        c2 = client(script2, retry=RetryPolicy(initial_backoff=10, jitter=0), max_concurrency=1)
        order: list[str] = []
        async with c2, anyio.create_task_group() as tg:

            async def slow() -> None:
                await c2.get("/sites/1")
                order.append("retried")

            async def quick() -> None:
                await anyio.sleep(1)
                await c2.get("/sites/2")
                order.append("quick")

            tg.start_soon(slow)
            tg.start_soon(quick)
        assert order == ["quick", "retried"]


@pytest.mark.parametrize(
    ("status", "exc"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (410, GoneError),
    ],
)
async def test_4xx_is_never_retried(status, exc):
    """400/401/403/404/410 raise at once, typed, with the trace id; one credit spent."""
    script = Script(problem(status, "Nope", "Unknown endpoint"), ok())
    async with client(script, retry=FAST) as c:
        with pytest.raises(exc) as info:
            await c.get("/sites/1/x")
        usage = c.usage
    assert len(script.requests) == 1
    assert usage.credits == 1
    assert info.value.status_code == status
    assert info.value.trace_id == "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    assert "Unknown endpoint" in str(info.value)
    assert "0f1e2d3c4b5a69788796a5b4c3d2e1f0" in str(info.value)


async def test_trace_id_read_from_properties():
    """The 401 variant nests the trace id under properties."""
    body = (
        b'{"type":"https://se-api.stoplight.io/docs/monitoring","title":"Unauthorized - '
        b'Authentication Failed","status":401,"detail":"Invalid API key","instance":null,'
        b'"properties":{"traceId":"a1b2c3d4e5f60718293a4b5c6d7e8f90"}}'
    )
    script = Script(
        httpx.Response(401, content=body, headers={"content-type": "application/problem+json"})
    )
    async with client(script) as c:
        with pytest.raises(AuthenticationError) as info:
            await c.get("/sites/1")
    assert info.value.trace_id == "a1b2c3d4e5f60718293a4b5c6d7e8f90"
    assert info.value.detail == "Invalid API key"


async def test_per_minute_429_pauses_everyone_for_retry_after():
    """A 429 with Retry-After pauses every request in flight, then succeeds."""
    limited = problem(
        429,
        "Too Many Requests",
        "API rate limit exceeded",
        **{
            "retry-after": "17",
            "x-ratelimit-remaining-minute": "0",
            "x-ratelimit-limit-minute": "10",
        },
    )
    state = {"limited": True}

    def handler(request: httpx.Request) -> httpx.Response:
        if state["limited"]:
            state["limited"] = False
            return httpx.Response(429, headers=limited.headers, content=limited.content)
        return ok()

    script = Script(handler)
    async with client(script, requests_per_minute=600, burst=10, retry=FAST) as c:
        done: list[float] = []
        async with anyio.create_task_group() as tg:

            async def call(i: int) -> None:
                await anyio.sleep(0.5 * i)
                await c.get(f"/sites/{i + 1}")
                done.append(anyio.current_time())

            for i in range(3):
                tg.start_soon(call, i)
        usage = c.usage
    assert usage.rate_limited_minute == 1
    assert usage.rate_limited_monthly == 0
    # The first answer came at t=0: nobody was sent anything during the 17 s pause.
    sent_after = list(script.times[1:])
    assert all(t >= 17.0 for t in sent_after)
    assert len(script.requests) == 4


async def test_monthly_429_is_not_retried_and_trips_the_breaker():
    """Remaining > 0 and no Retry-After: QuotaExhaustedError, then refused locally."""
    monthly = problem(
        429,
        "Too Many Requests",
        "quota",
        **{"x-ratelimit-remaining-minute": "7", "x-ratelimit-limit-minute": "10"},
    )
    script = Script(monthly, ok())
    async with client(script, retry=FAST) as c:
        with pytest.raises(QuotaExhaustedError):
            await c.get("/sites/1")
        with pytest.raises(QuotaExhaustedError, match="refused locally"):
            await c.get("/sites/2")
        assert len(script.requests) == 1
        usage = c.usage
        assert usage.quota_exhausted
        assert (usage.rate_limited_monthly, usage.credits) == (1, 1)
        c.reset_quota()
        assert await c.get("/sites/3") == {}
    assert len(script.requests) == 2


async def test_429_without_headers_is_per_minute_with_conservative_backoff():
    """No rate-limit headers: retried as per-minute, waiting at least 5 s."""
    script = Script(httpx.Response(429, json={"message": "API rate limit exceeded"}), ok())
    async with client(script, retry=FAST) as c:
        await c.get("/sites/1")
        assert c.usage.rate_limited_minute == 1
    assert script.times[1] - script.times[0] >= 5.0


async def test_retry_after_beyond_the_deadline_raises_at_once():
    """A Retry-After longer than the call's budget raises instead of retrying early."""
    limited = problem(429, "Too Many", "slow down", **{"retry-after": "120"})
    script = Script(limited, ok())
    async with client(script, retry=RetryPolicy(deadline=60, jitter=0)) as c:
        start = anyio.current_time()
        with pytest.raises(RateLimitedError) as info:
            await c.get("/sites/1")
        assert anyio.current_time() - start < 1
    assert info.value.retry_after == 120
    assert len(script.requests) == 1


async def test_attempts_are_bounded():
    """After max_attempts, the last error is raised."""
    script = Script(problem(503, "Unavailable", "down"))
    async with client(script, retry=FAST) as c:
        with pytest.raises(ServerError):
            await c.get("/sites/1")
        assert c.usage.retries == 3
    assert len(script.requests) == 4


async def test_deadline_covers_slow_answers():
    """A server that never answers in time ends in RequestTimeoutError at the deadline."""
    script = Script(ok(), delay=1000)
    async with client(script, retry=RetryPolicy(deadline=30)) as c:
        start = anyio.current_time()
        with pytest.raises(RequestTimeoutError, match="deadline"):
            await c.get("/sites/1")
        assert anyio.current_time() - start == pytest.approx(30)


async def test_read_timeout_is_retried():
    """Httpx timeouts become retried TimeoutErrors (a TransportError)."""

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    script = Script(slow, ok())
    async with client(script, retry=FAST) as c:
        await c.get("/sites/1")
        assert c.usage.retries == 1
    assert issubclass(RequestTimeoutError, TransportError)


async def test_cancellation_returns_tokens_and_slots():
    """Cancelling calls mid-request frees every concurrency slot and limiter token."""
    script = Script(ok(), delay=5)
    async with client(script, requests_per_minute=600, burst=4, max_concurrency=2) as c:
        with anyio.move_on_after(2):
            async with anyio.create_task_group() as tg:
                for i in range(6):
                    tg.start_soon(c.get, f"/sites/{i + 1}")
        assert c._engine.slots.borrowed_tokens == 0
        # The two that were sent were charged; the others never took a token.
        assert c.usage.credits == 2
        assert c.rate_limiter is not None
        assert c.rate_limiter.granted == 2
        script.delay = 0
        assert await c.get("/sites/9") == {}


async def test_closed_client_refuses_use():
    """Calls after aclose() raise ClientClosedError; aclose is idempotent."""
    script = Script(ok())
    c = client(script)
    await c.aclose()
    await c.aclose()
    with pytest.raises(ClientClosedError):
        await c.get("/sites/1")
    assert script.requests == []


async def test_caller_owned_http_client_is_not_closed():
    """An http_client passed in stays open after the client closes."""
    script = Script(ok())
    http = httpx.AsyncClient(transport=httpx.MockTransport(script))
    import solaredge_async

    async with solaredge_async.SolarEdgeClient(
        api_key=KEY, http_client=http, requests_per_minute=None
    ) as c:
        await c.get("/sites/1")
    assert not http.is_closed
    await http.aclose()


async def test_server_limit_is_adopted_from_headers():
    """x-ratelimit-limit-minute lowers the limiter's rate, never lifts a caller's rate."""
    script = Script(ok(limit=100, remaining=99), ok(limit=5, remaining=4))
    async with client(script, requests_per_minute=10) as c:
        await c.get("/sites/1")
        assert c.rate_limiter is not None
        assert c.rate_limiter.requests_per_minute == 10  # the caller's rate is a ceiling
        await c.get("/sites/1")
        assert c.rate_limiter.requests_per_minute == 5


async def test_canary_key_never_in_logs_or_errors(caplog):
    """The key appears in no log record, error message or repr, even when echoed back."""
    caplog.set_level(logging.DEBUG)

    def echo(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            401,
            json={"title": f"bad key {KEY}", "detail": f"Invalid API key {KEY}"},
            headers={"content-type": "application/problem+json"},
        )

    def reset(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot connect with {KEY}", request=request)

    texts: list[str] = []
    for handler in (echo, reset):
        async with client(Script(handler), retry=RetryPolicy(max_attempts=1)) as c:
            texts.append(repr(c))
            with pytest.raises(Exception) as info:
                await c.get("/sites/1")
            texts += [str(info.value), repr(info.value), repr(info.value.__dict__)]
    texts += [r.getMessage() for r in caplog.records]
    assert texts
    assert not [t for t in texts if KEY in t]
    assert any("[redacted]" in t for t in texts)
