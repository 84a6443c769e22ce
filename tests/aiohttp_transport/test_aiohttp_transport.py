"""`AiohttpTransport`: httpx semantics over aiohttp's pool, on 127.0.0.1 servers."""

from __future__ import annotations

import asyncio
import gzip
import json
import sys
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import anyio
import httpx
import pytest

from solaredge_async import RetryPolicy, SolarEdgeClient, errors
from solaredge_async.testing import Faults, FleetSpec, Simulator, SimulatorConfig
from solaredge_async.transports._aiohttp import AiohttpTransport

from ._server import RawServer, header_lines, response

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

pytestmark = [pytest.mark.anyio, pytest.mark.loopback]

NOW = datetime(2026, 5, 12, 12, 0, tzinfo=UTC)
YESTERDAY = date(2026, 5, 11)


def make_sim(**overrides: object) -> Simulator:
    """A 5-site Berlin fleet without limits, "now" frozen."""
    config = SimulatorConfig(
        fleet=FleetSpec(sites=5, zones=("Europe/Berlin",)),
        now=NOW,
        requests_per_minute=None,
        monthly_credits=None,
    )
    return Simulator(config, **overrides)


def ok(_head: bytes, _body: bytes) -> bytes:
    """A small JSON 200."""
    return response(b'{"ok": true}', "Content-Type: application/json")


async def test_client_results_equal_the_default_transport() -> None:
    """The full client over aiohttp parses the same records and is charged the same calls."""
    sim = make_sim()
    site = sim.fleet.sites_for(sim.api_key)[0]
    async with sim.serve() as url:
        results = []
        for transport in (None, AiohttpTransport()):
            async with SolarEdgeClient(
                api_key=sim.api_key,
                base_url=url,
                requests_per_minute=None,
                transport=transport,
                site_timezones={site: "Europe/Berlin"},
                probe_caps=False,
            ) as client:
                overview = await client.site_overview(site)
                telemetry = await client.telemetry(
                    "inverters", site, start=YESTERDAY, end=YESTERDAY
                )
                energy = await client.site_energy(site, start=YESTERDAY, end=YESTERDAY)
                results.append((overview, telemetry, energy))
    assert results[0] == results[1]
    assert len(results[1][2].values) == 96
    # Each client: 1 overview + 2 telemetry and 2 energy windows (12 h caps).
    assert sim.ledger(sim.api_key).calls == 10


async def test_headers_and_target_are_sent_as_httpx_built_them() -> None:
    """The transport adds no header of its own and does not re-encode the query."""
    server = RawServer(ok)
    async with server.serve() as url, httpx.AsyncClient(transport=AiohttpTransport()) as http:
        request = http.build_request(
            "GET",
            url + "/v2/sites/1/energy",
            params={"from": "2026-05-11 00:00:00", "to": "a+b/c&d"},
            headers={"User-Agent": "probe/1", "X-API-Key": "k"},
        )
        reply = await http.send(request)
    assert reply.json() == {"ok": True}
    head, body = server.requests[0]
    request_line = head.split(b"\r\n", 1)[0]
    assert request_line == b"GET " + request.url.raw_path + b" HTTP/1.1"
    sent = header_lines(head)
    assert sorted(name for name, _ in sent) == sorted(k.lower() for k in request.headers)
    assert dict(sent)["user-agent"] == "probe/1"
    assert body == b""


async def test_request_bodies_are_sent_whole_with_a_length() -> None:
    """JSON and streamed bodies arrive complete, with Content-Length and no chunking."""
    server = RawServer(ok)

    async def parts() -> AsyncIterator[bytes]:
        yield b"grant_type="
        yield b"refresh_token"

    async with server.serve() as url, httpx.AsyncClient(transport=AiohttpTransport()) as http:
        await http.post(url + "/oauth2/token", json={"code": "abc"})
        await http.post(url + "/oauth2/token", content=parts())
    (head1, body1), (head2, body2) = server.requests
    assert json.loads(body1) == {"code": "abc"}
    assert dict(header_lines(head1))["content-type"] == "application/json"
    assert dict(header_lines(head1))["content-length"] == str(len(body1))
    assert body2 == b"grant_type=refresh_token"
    assert "transfer-encoding" not in dict(header_lines(head2))


async def test_responses_are_decoded_by_httpx() -> None:
    """Gzip bodies reach httpx undecoded (httpx decodes them); status and reason kept."""
    payload = json.dumps({"values": list(range(1000))}).encode()

    def gzipped(_head: bytes, _body: bytes) -> bytes:
        return response(
            gzip.compress(payload),
            "Content-Type: application/json",
            "Content-Encoding: gzip",
            status="203 Non-Authoritative Information",
        )

    server = RawServer(gzipped)
    async with server.serve() as url, httpx.AsyncClient(transport=AiohttpTransport()) as http:
        reply = await http.get(url + "/x")
    assert reply.status_code == 203
    assert reply.reason_phrase == "Non-Authoritative Information"
    assert reply.http_version == "HTTP/1.1"
    assert reply.json() == {"values": list(range(1000))}


async def test_chunked_and_head_responses() -> None:
    """A chunked body streams through in full; a HEAD answer has no body."""
    blob = bytes(range(256)) * 1024  # 256 KiB

    def chunked(head: bytes, _body: bytes) -> bytes:
        if head.startswith(b"HEAD"):
            return b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
        chunks = [blob[i : i + 10000] for i in range(0, len(blob), 10000)]
        out = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        for chunk in chunks:
            out += f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
        return out + b"0\r\n\r\n"

    server = RawServer(chunked)
    async with server.serve() as url, httpx.AsyncClient(transport=AiohttpTransport()) as http:
        async with http.stream("GET", url + "/big") as reply:
            pieces = [piece async for piece in reply.aiter_raw()]
        head = await http.head(url + "/big")
        again = await http.get(url + "/big")
    assert b"".join(pieces) == blob
    assert head.content == b""
    assert head.headers["content-length"] == "5"
    assert again.content == blob
    assert server.connections == 1  # keep-alive after chunked, HEAD and streamed bodies


async def test_connection_errors_map_to_httpx() -> None:
    """Refused, closed without answer, and cut-short bodies become httpx errors."""
    transport = AiohttpTransport()
    async with httpx.AsyncClient(transport=transport) as http:
        async with RawServer(ok).serve() as url:
            pass
        with pytest.raises(httpx.ConnectError):
            await http.get(url + "/gone")
        async with RawServer(lambda _h, _b: None).serve() as url:
            with pytest.raises(httpx.RemoteProtocolError):
                await http.get(url + "/hang-up")
        cut = RawServer(
            lambda _h, _b: b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123", close=True
        )
        async with cut.serve() as url:
            with pytest.raises(httpx.RemoteProtocolError):
                await http.get(url + "/short")
        with pytest.raises(httpx.UnsupportedProtocol):
            await transport.handle_async_request(httpx.Request("GET", "ftp://127.0.0.1/x"))


async def test_timeouts_map_to_httpx() -> None:
    """A stalled answer trips the read timeout; a full pool trips the pool timeout."""
    server = RawServer(ok, stall=True)
    transport = AiohttpTransport(max_connections=1)
    async with server.serve() as url, httpx.AsyncClient(transport=transport) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.get(url + "/stall", timeout=httpx.Timeout(5.0, read=0.05))
        async with anyio.create_task_group() as tg:
            started = anyio.Event()

            async def hold() -> None:
                started.set()
                with pytest.raises(httpx.ReadTimeout):
                    await http.get(url + "/hold", timeout=httpx.Timeout(5.0, read=1.0))

            tg.start_soon(hold)
            await started.wait()
            await anyio.sleep(0.02)
            with pytest.raises(httpx.TimeoutException) as caught:
                await http.get(url + "/waits", timeout=httpx.Timeout(5.0, pool=0.02, connect=0.02))
            assert isinstance(caught.value, httpx.PoolTimeout | httpx.ConnectTimeout)
            tg.cancel_scope.cancel()


async def test_client_errors_through_the_engine() -> None:
    """Through `SolarEdgeClient` the mapped errors become the library's own."""
    sim = make_sim(faults=Faults(connection_reset=1.0))
    site = sim.fleet.sites_for(sim.api_key)[0]
    async with (
        sim.serve() as url,
        SolarEdgeClient(
            api_key=sim.api_key,
            base_url=url,
            requests_per_minute=None,
            transport=AiohttpTransport(),
            retry=RetryPolicy(max_attempts=1),
        ) as client,
    ):
        with pytest.raises(errors.TransportError) as caught:
            await client.site_overview(site)
    assert "ReadError" in str(caught.value) or "RemoteProtocolError" in str(caught.value)
    assert sim.api_key not in str(caught.value)


async def test_many_in_flight_respect_max_connections() -> None:
    """Concurrent requests share at most ``max_connections`` connections."""
    server = RawServer(ok)
    async with server.serve() as url:
        transport = AiohttpTransport(max_connections=3)
        async with httpx.AsyncClient(transport=transport) as http:
            replies: list[int] = []

            async def one(i: int) -> None:
                replies.append((await http.get(f"{url}/{i}")).status_code)

            async with anyio.create_task_group() as tg:
                for i in range(30):
                    tg.start_soon(one, i)
    assert replies == [200] * 30
    assert 1 <= server.connections <= 3


async def test_client_sweep_at_high_concurrency() -> None:
    """200 calls with 50 in flight over the simulator all succeed, each charged once."""
    sim = make_sim()
    sites = sim.fleet.sites_for(sim.api_key)
    async with (
        sim.serve() as url,
        SolarEdgeClient(
            api_key=sim.api_key,
            base_url=url,
            requests_per_minute=None,
            max_concurrency=50,
            transport=AiohttpTransport(max_connections=50),
        ) as client,
    ):
        done: list[int] = []

        async def one(i: int) -> None:
            overview = await client.site_overview(sites[i % len(sites)])
            assert overview.site_id is not None
            done.append(overview.site_id)

        async with anyio.create_task_group() as tg:
            for i in range(200):
                tg.start_soon(one, i)
    assert sorted(done) == sorted(sites[i % len(sites)] for i in range(200))
    assert sim.ledger(sim.api_key).calls == 200


async def test_cancelled_requests_leave_the_pool_usable() -> None:
    """Requests cancelled mid-flight free their connections; later requests succeed."""
    sim = make_sim(faults=Faults(latency=(30.0, 0.0)))
    fast = make_sim()
    site = sim.fleet.sites_for(sim.api_key)[0]
    transport = AiohttpTransport(max_connections=5)
    async with (
        sim.serve() as slow_url,
        fast.serve() as fast_url,
        httpx.AsyncClient(transport=transport, headers={"X-API-Key": sim.api_key}) as http,
    ):
        with anyio.move_on_after(0.1) as scope:
            async with anyio.create_task_group() as tg:
                for _ in range(5):
                    tg.start_soon(http.get, f"{slow_url}/sites/{site}/overview")
        assert scope.cancelled_caught
        replies = [
            (await http.get(f"{fast_url}/sites/{site}/overview")).status_code for _ in range(10)
        ]
        session = transport._session
        assert session is not None
        acquired = session.connector._acquired  # type: ignore[union-attr]
        assert len(acquired) == 0
    assert replies == [200] * 10


async def test_closed_transport_refuses_requests() -> None:
    """After `aclose` (idempotent) a request raises instead of reopening the pool."""
    transport = AiohttpTransport()
    async with RawServer(ok).serve() as url:
        assert "idle" in repr(transport)
        reply = await transport.handle_async_request(httpx.Request("GET", url))
        await reply.aread()
        assert "open" in repr(transport)
        await transport.aclose()
        await transport.aclose()
        assert "closed" in repr(transport)
        with pytest.raises(RuntimeError, match="closed"):
            await transport.handle_async_request(httpx.Request("GET", url))


def test_second_event_loop_is_refused() -> None:
    """One transport belongs to one event loop; a second loop gets a clear error."""
    sim = make_sim()
    transport = AiohttpTransport()
    first = asyncio.new_event_loop()
    second = asyncio.new_event_loop()

    async def serve_and(action: Callable[[str], Awaitable[int]]) -> int:
        async with sim.serve() as url:
            return await action(url + "/sites")

    async def get(url: str) -> int:
        reply = await transport.handle_async_request(
            httpx.Request("GET", url, headers={"X-API-Key": sim.api_key})
        )
        await reply.aread()
        await reply.aclose()
        return reply.status_code

    try:
        assert first.run_until_complete(serve_and(get)) == 200
        with pytest.raises(errors.ConfigurationError, match="another event loop"):
            second.run_until_complete(serve_and(get))
        first.run_until_complete(transport.aclose())
    finally:
        first.close()
        second.close()


def test_trio_is_refused() -> None:
    """Under trio, construction and first use raise `ConfigurationError`."""
    trio = pytest.importorskip("trio")
    made_outside = AiohttpTransport()

    async def main() -> None:
        with pytest.raises(errors.ConfigurationError, match="asyncio only, not trio"):
            AiohttpTransport()
        with pytest.raises(errors.ConfigurationError, match="asyncio only"):
            await made_outside.handle_async_request(httpx.Request("GET", "http://127.0.0.1:9/"))

    trio.run(main)


def test_missing_aiohttp_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without aiohttp installed the error names the extra to install."""
    monkeypatch.setitem(sys.modules, "aiohttp", None)
    with pytest.raises(errors.ConfigurationError, match=r"solaredge-async\[fast\]"):
        AiohttpTransport()


@pytest.mark.parametrize(
    "kwargs",
    [{"max_connections": 0}, {"max_connections": True}, {"keepalive_expiry": 0}, {"verify": "x"}],
)
def test_bad_settings_are_refused(kwargs: dict[str, object]) -> None:
    """Out-of-range settings raise `ConfigurationError` at construction."""
    with pytest.raises(errors.ConfigurationError):
        AiohttpTransport(**kwargs)  # type: ignore[arg-type]
