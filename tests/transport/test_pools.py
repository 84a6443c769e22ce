"""PoolsTransport: requests spread over the least busy pool; slots always come back."""

from __future__ import annotations

import anyio
import httpx
import pytest

from solaredge_async import ConfigurationError, PoolsTransport

pytestmark = pytest.mark.anyio


class _Slow(httpx.AsyncBaseTransport):
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.seen = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen += 1
        await anyio.sleep(1)
        if self.fail:
            raise httpx.ReadError("reset", request=request)
        return httpx.Response(200, stream=httpx.ByteStream(b"{}"))


def _transport(*fakes: _Slow) -> PoolsTransport:
    t = PoolsTransport(pools=len(fakes), connections=2)
    t.pools = list(fakes)  # type: ignore[assignment]
    return t


async def test_least_busy_pool_first_and_slots_return():
    """Six concurrent requests land two per pool; closing responses frees every slot."""
    fakes = (_Slow(), _Slow(), _Slow())
    transport = _transport(*fakes)
    peak: list[list[int]] = []
    async with httpx.AsyncClient(transport=transport) as http:

        async def one() -> None:
            async with http.stream("GET", "https://x.invalid/") as response:
                peak.append(list(transport.in_flight))
                await response.aread()

        async with anyio.create_task_group() as tg:
            for _ in range(6):
                tg.start_soon(one)
    assert [f.seen for f in fakes] == [2, 2, 2]
    assert max(max(p) for p in peak) == 2
    assert transport.in_flight == [0, 0, 0]


async def test_failed_and_cancelled_requests_give_their_slot_back():
    """A transport error or a cancellation mid-request leaves no slot taken."""
    transport = _transport(_Slow(fail=True), _Slow())
    async with httpx.AsyncClient(transport=transport) as http:
        with pytest.raises(httpx.ReadError):
            await http.get("https://x.invalid/")
        with anyio.move_on_after(0.5):
            await http.get("https://x.invalid/")
    assert transport.in_flight == [0, 0]


def test_sizing_and_validation():
    """for_concurrency makes enough pools of two; nonsense sizes are refused."""
    t = PoolsTransport.for_concurrency(7)
    assert len(t.pools) == 4
    assert PoolsTransport.for_concurrency(1).busy() == (0, 0)
    with pytest.raises(ConfigurationError):
        PoolsTransport(pools=0)
