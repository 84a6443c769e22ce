"""Through the client: an absurd Retry-After fails callers at once instead of parking them."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest

import solaredge_async
from solaredge_async.errors import RateLimitedError
from solaredge_async.limits import LimitWaitTooLongError
from tests._clock import virtual_backend

pytestmark = pytest.mark.anyio

KEY = "LIMITS0TEST0KEY00000000000000000"


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    """Virtual clocks on both backends."""
    return virtual_backend(str(request.param))


@pytest.mark.parametrize("retry_after", ["1000000000", "Thu, 01 Jan 2099 00:00:00 GMT"])
async def test_an_absurd_retry_after_does_not_park_later_calls(retry_after: str) -> None:
    """Issue 15: the 429's pause is cut to 120 s; calls that cannot wait it fail at once."""
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(
            429,
            headers={
                "retry-after": retry_after,
                "x-ratelimit-limit-minute": "9" * 401,  # must not raise OverflowError
                "x-ratelimit-remaining-minute": "0",
            },
            json={"message": "API rate limit exceeded"},
        )

    http = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    async with solaredge_async.SolarEdgeClient(
        api_key=KEY,
        http_client=http,
        requests_per_minute=600,
        retry=solaredge_async.RetryPolicy(deadline=60, jitter=0),
    ) as client:
        start = anyio.current_time()
        with pytest.raises(RateLimitedError) as first:
            await client.get("/sites/1")
        assert first.value.retry_after == 120.0
        assert client.rate_limiter is not None
        assert client.rate_limiter.paused_until - start <= 120.0
        for _ in range(3):
            with pytest.raises(LimitWaitTooLongError):
                await client.get("/sites/1")
        assert anyio.current_time() == start  # nobody waited out the pause
    await http.aclose()
    assert len(sent) == 1
