"""Hostile servers on real loopback sockets: every transport stays bounded and fails clearly.

A server (an anyio listener in the test's own event loop, on the virtual clock, so slow
servers cost no real time) answers with compression bombs of every encoding, endless
headers, endless bodies, a body dripping one byte a second, and malformed status lines.
Each is tried through every transport the client offers: `FastTransport`,
`PoolsTransport`, `AiohttpTransport` (asyncio only) and a caller's `httpx.AsyncClient`.
Memory is asserted with tracemalloc (peak under the body cap plus a fixed slack), never
time.
"""

from __future__ import annotations

import gzip
import tracemalloc
import zlib
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc
import httpx
import pytest

from solaredge_async import (
    PoolsTransport,
    RequestTimeoutError,
    ResponseValidationError,
    RetryPolicy,
    SolarEdgeClient,
    TransportError,
)
from solaredge_async.transports._decode import ACCEPT_ENCODING, BodyDecoder
from solaredge_async.transports._fast import FastTransport, httptools_available

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.loopback,
    # httpx's nested response generators, abandoned when the cap cuts a body short, are
    # finalised by the garbage collector under trio (encode/httpx#3593): not a leak.
    pytest.mark.filterwarnings(
        "ignore:Exception ignored in. <async_generator object "
        "(Response.aiter_raw|BoundAsyncStream.__aiter__|AsyncResponseStream.__aiter__|"
        "PoolByteStream.__aiter__|HTTP11ConnectionByteStream.__aiter__|"
        "AsyncHTTP11Connection._receive_response_body)"
        ":pytest.PytestUnraisableExceptionWarning"
    ),
]

KEY = "hostile-KEY-0a1b2c3d4e5f"
#: The body cap the clients run with here (the default is 32 MiB; smaller keeps tests quick).
CAP = 1024 * 1024
#: What a transport may hold on top of the cap: buffers of a few network reads, parsers.
SLACK = 3 * 1024 * 1024
#: The inflated size of each bomb: 64x the cap.
BOMB = 64 * CAP

brotli = pytest.importorskip("brotli")


def _bombs() -> dict[str, bytes]:
    zeros = bytes(BOMB)
    gz = gzip.compress(zeros, compresslevel=9)
    return {
        "gzip": gz,
        "deflate": zlib.compress(zeros, 9),
        "br": brotli.compress(zeros, quality=5),
        "gzip, br": brotli.compress(gz, quality=5),
        "deflate, gzip": gzip.compress(zlib.compress(zeros, 9)),
    }


BOMBS = _bombs()


def _transports() -> list[str]:
    names = ["pools", "caller_client"]
    if httptools_available():
        names.insert(0, "fast")
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        pass
    else:
        names.append("aiohttp")
    return names


@pytest.fixture(params=_transports())
def transport_name(request: pytest.FixtureRequest, anyio_backend: Any) -> str:
    """Each test through each transport (aiohttp only under asyncio)."""
    name = str(request.param)
    backend = anyio_backend[0] if isinstance(anyio_backend, tuple) else anyio_backend
    if name == "aiohttp" and backend != "asyncio":
        pytest.skip("aiohttp runs on asyncio only")
    return name


class Server:
    """A loopback server whose every connection is handled by ``reply``."""

    def __init__(self, reply: Callable[[anyio.abc.SocketStream], Awaitable[None]]) -> None:
        self.reply = reply
        self.connections = 0

    async def _handle(self, stream: anyio.abc.SocketStream) -> None:
        self.connections += 1
        async with stream:
            head = b""
            try:
                while b"\r\n\r\n" not in head:
                    head += await stream.receive()
                await self.reply(stream)
            except (anyio.EndOfStream, anyio.BrokenResourceError, OSError):
                pass  # the client hung up: what the client is supposed to do

    async def __aenter__(self) -> str:
        self._listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
        port = self._listener.extra(anyio.abc.SocketAttribute.local_port)  # noqa: S610
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        self._tg.start_soon(self._listener.serve, self._handle)
        return f"http://127.0.0.1:{port}/v2"

    async def __aexit__(self, *exc: object) -> None:
        self._tg.cancel_scope.cancel()
        await self._tg.__aexit__(None, None, None)
        await self._listener.aclose()


def _client(name: str, base_url: str, **kwargs: Any) -> SolarEdgeClient:
    kwargs.setdefault("retry", RetryPolicy(max_attempts=1))
    kwargs.setdefault("timeout", 5.0)
    common = {"api_key": KEY, "base_url": base_url, "requests_per_minute": None, **kwargs}
    if name == "fast":
        client = SolarEdgeClient(transport=FastTransport(), **common)
    elif name == "pools":
        client = SolarEdgeClient(transport=PoolsTransport(pools=1), **common)
    elif name == "aiohttp":
        from solaredge_async import AiohttpTransport

        client = SolarEdgeClient(transport=AiohttpTransport(), **common)
    else:
        client = SolarEdgeClient(http_client=httpx.AsyncClient(timeout=kwargs["timeout"]), **common)
    client._engine.max_body = CAP
    return client


async def _call(client: SolarEdgeClient) -> object:
    async with client:
        try:
            return await client.get("/sites/1")
        finally:
            if not client._engine.transport and client._http is not None:
                await client._http.aclose()  # the caller's client, in the caller-client case


async def _peak(call: Callable[[], Awaitable[object]]) -> tuple[int, BaseException | None]:
    """Peak traced bytes during ``call`` and what it raised."""
    tracemalloc.start()
    error: BaseException | None = None
    try:
        await call()
    except Exception as exc:
        error = exc
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak, error


def _answer(body: bytes, *headers: str, status: str = "200 OK") -> bytes:
    lines = [f"HTTP/1.1 {status}", *headers, f"Content-Length: {len(body)}", "", ""]
    return "\r\n".join(lines).encode("latin-1") + body


# --- compression bombs -----------------------------------------------------------------


@pytest.mark.parametrize("encoding", list(BOMBS))
async def test_a_compression_bomb_stays_within_the_cap(transport_name: str, encoding: str):
    """Every encoding and stacking inflates at most the cap plus a bounded chunk."""
    bomb = BOMBS[encoding]

    async def reply(stream: anyio.abc.SocketStream) -> None:
        await stream.send(
            _answer(bomb, "Content-Type: application/json", f"Content-Encoding: {encoding}")
        )
        await stream.receive()  # until the client hangs up

    async with Server(reply) as url:
        peak, error = await _peak(lambda: _call(_client(transport_name, url)))
    assert isinstance(error, ResponseValidationError), error
    assert "larger than" in str(error)
    assert peak < CAP + SLACK, f"peak {peak / 2**20:.1f} MiB for a {CAP / 2**20:.0f} MiB cap"


async def test_an_honest_compressed_body_is_decoded(transport_name: str):
    """The same path decodes a real gzip/br body (the bomb test is not passing by refusing)."""
    payload = b'{"site": {"id": 1, "name": "' + b"x" * 5000 + b'"}}'
    encoding = "br" if "br" in ACCEPT_ENCODING else "gzip"
    body = brotli.compress(payload) if encoding == "br" else gzip.compress(payload)

    async def reply(stream: anyio.abc.SocketStream) -> None:
        await stream.send(
            _answer(body, "Content-Type: application/json", f"Content-Encoding: {encoding}")
        )
        await stream.receive()

    async with Server(reply) as url:
        decoded = await _call(_client(transport_name, url))
    assert decoded == {"site": {"id": 1, "name": "x" * 5000}}


def test_decoder_refuses_unknown_and_corrupt_encodings():
    """An unknown encoding and a corrupt gzip body are decoding errors, not garbage."""
    from solaredge_async.transports._decode import DecodingFailedError

    with pytest.raises(DecodingFailedError):
        BodyDecoder("compress", CAP)
    decoder = BodyDecoder("gzip", CAP)
    with pytest.raises(DecodingFailedError):
        decoder.feed(b"not gzip at all")


# --- endless heads and bodies ------------------------------------------------------------


async def _endless(stream: anyio.abc.SocketStream, first: bytes, piece: bytes) -> None:
    """Send ``first``, then ``piece`` again and again: up to 64x the cap, then stop."""
    await stream.send(first)
    for _ in range(BOMB // len(piece)):
        await stream.send(piece)
    await stream.receive()


async def test_endless_headers_are_refused(transport_name: str):
    """A head that never ends is cut off early, with a transport error, in bounded memory."""

    async def reply(stream: anyio.abc.SocketStream) -> None:
        await _endless(stream, b"HTTP/1.1 200 OK\r\n", b"X-Filler: " + b"a" * 1000 + b"\r\n")

    async with Server(reply) as url:
        peak, error = await _peak(lambda: _call(_client(transport_name, url)))
    assert isinstance(error, TransportError), error
    assert peak < CAP + SLACK


async def test_one_endless_header_line_is_refused(transport_name: str):
    """A single header line that never ends is refused too."""

    async def reply(stream: anyio.abc.SocketStream) -> None:
        await _endless(stream, b"HTTP/1.1 200 OK\r\nX-Long: ", b"b" * 4096)

    async with Server(reply) as url:
        peak, error = await _peak(lambda: _call(_client(transport_name, url)))
    assert isinstance(error, TransportError), error
    assert peak < CAP + SLACK


@pytest.mark.parametrize("framing", ["chunked", "until-close", "content-length"])
async def test_an_endless_body_stops_at_the_cap(transport_name: str, framing: str):
    """Chunked, close-delimited or a huge declared length: never more than the cap read."""
    if framing == "chunked":
        first = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        piece = b"1000\r\n" + b"c" * 4096 + b"\r\n"
    elif framing == "until-close":
        first = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"
        piece = b"u" * 4096
    else:
        # A declared length far over the cap: refused from the header alone.
        first = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (BOMB,)
        piece = b"l" * 4096

    async def reply(stream: anyio.abc.SocketStream) -> None:
        await _endless(stream, first, piece)

    async with Server(reply) as url:
        peak, error = await _peak(lambda: _call(_client(transport_name, url)))
    assert isinstance(error, ResponseValidationError), error
    assert peak < CAP + SLACK


# --- slow servers ------------------------------------------------------------------------


async def test_a_one_byte_a_second_body_ends_at_the_deadline(transport_name: str):
    """Each byte comes within the read timeout; the call's deadline still ends it."""
    sent = 0

    async def reply(stream: anyio.abc.SocketStream) -> None:
        nonlocal sent
        await stream.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
        for _ in range(100_000):
            await anyio.sleep(1)  # the virtual clock: no real time passes
            await stream.send(b"x")
            sent += 1

    async with Server(reply) as url:
        client = _client(
            transport_name, url, timeout=5.0, retry=RetryPolicy(max_attempts=1, deadline=30.0)
        )
        with pytest.raises(RequestTimeoutError, match="deadline"):
            await _call(client)
    # It really was trickling (not refused up front), and not for long past the deadline.
    assert 20 <= sent <= 40


async def test_a_silent_server_ends_at_the_read_timeout(transport_name: str):
    """Headers, then nothing: the read timeout ends the attempt as a timeout error."""

    async def reply(stream: anyio.abc.SocketStream) -> None:
        await stream.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n")
        await stream.receive()

    async with Server(reply) as url:
        client = _client(transport_name, url, timeout=2.0)
        with pytest.raises(RequestTimeoutError):
            await _call(client)


# --- malformed answers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTX/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
        b"HTTP/1.1 2x0 OK\r\nContent-Length: 2\r\n\r\n{}",
        b"HTTP/1.1 99999 Huge\r\nContent-Length: 2\r\n\r\n{}",
        b"\x00\x01\x02\x03garbage\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}",  # cut short, then closed
        b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
        b"",  # closed without a word
    ],
    ids=[
        "protocol",
        "status",
        "status-range",
        "binary",
        "truncated",
        "negative-length",
        "two-lengths",
        "nothing",
    ],
)
async def test_malformed_answers_are_transport_errors(transport_name: str, answer: bytes):
    """Whatever the garbage, the caller gets a library error, never a raw exception."""

    async def reply(stream: anyio.abc.SocketStream) -> None:
        if answer:
            await stream.send(answer)
        # then hang up

    async with Server(reply) as url:
        peak, error = await _peak(lambda: _call(_client(transport_name, url)))
    assert isinstance(error, TransportError | ResponseValidationError), repr(error)
    assert peak < CAP + SLACK
