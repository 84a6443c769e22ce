"""FastTransport's streams: TLS on both backends, and the asyncio protocol stream's edges."""

from __future__ import annotations

import ssl

import anyio
import anyio.abc
import anyio.lowlevel
import httpx
import pytest
import sniffio
from anyio.streams.tls import TLSListener

pytest.importorskip("httptools")
trustme = pytest.importorskip("trustme")

from solaredge_async.transports import _asyncio_stream  # noqa: E402
from solaredge_async.transports._fast import FastTransport, _direct_writer  # noqa: E402

pytestmark = [pytest.mark.anyio, pytest.mark.loopback]

BODY = b'{"ok": true}'
OK = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(BODY), BODY)


async def _serve_http(stream: anyio.abc.ByteStream, answer: bytes, counts: list[int]) -> None:
    counts.append(1)
    buf = b""
    try:
        async with stream:
            while True:
                while b"\r\n\r\n" not in buf:
                    buf += await stream.receive()
                _, _, buf = buf.partition(b"\r\n\r\n")
                await stream.send(answer)
    except (anyio.EndOfStream, anyio.BrokenResourceError, ssl.SSLError, OSError):
        return


class _TLSServer:
    def __init__(self, cert: trustme.LeafCert, answer: bytes = OK) -> None:
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(self.context)
        self.answer = answer
        self.connections: list[int] = []

    async def __aenter__(self) -> str:
        tcp = await anyio.create_tcp_listener(local_host="127.0.0.1")
        port = tcp.extra(anyio.abc.SocketAttribute.local_port)  # noqa: S610
        self._listener = TLSListener(tcp, self.context, standard_compatible=False)
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        self._tg.start_soon(self._listener.serve, self._handle)
        return f"https://127.0.0.1:{port}"

    async def _handle(self, stream: anyio.abc.ByteStream) -> None:
        await _serve_http(stream, self.answer, self.connections)

    async def __aexit__(self, *exc: object) -> None:
        self._tg.cancel_scope.cancel()
        await self._tg.__aexit__(None, None, None)
        await self._listener.aclose()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    """A test certificate authority."""
    return trustme.CA()


async def test_https_round_trips_verified_and_reuses_the_connection(ca: trustme.CA) -> None:
    """A verified TLS connection on either backend; keep-alive reuses it."""
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    server = _TLSServer(ca.issue_cert("127.0.0.1"))
    transport = FastTransport(verify=client_context)
    async with server as url, httpx.AsyncClient(transport=transport, timeout=5.0) as http:
        for _ in range(3):
            response = await http.get(url + "/v2/sites")
            assert (response.status_code, response.content) == (200, BODY)
        assert transport.idle_connections == 1
    assert server.connections == [1]


async def test_https_with_an_untrusted_certificate_is_a_connect_error(ca: trustme.CA) -> None:
    """The default verification refuses a certificate of an unknown authority."""
    server = _TLSServer(ca.issue_cert("127.0.0.1"))
    transport = FastTransport()  # the system's trust store: the test CA is not in it
    async with server as url, httpx.AsyncClient(transport=transport, timeout=5.0) as http:
        with pytest.raises(httpx.ConnectError, match="cannot connect"):
            await http.get(url + "/v2/sites")
    assert transport.busy() == (0, 0)


async def test_a_large_body_is_read_whole_past_the_high_water_mark() -> None:
    """A body over the stream's buffer bound arrives whole (reading pauses and resumes)."""
    body = bytes(range(256)) * (3 * _asyncio_stream.HIGH_WATER // 256)
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    counts: list[int] = []
    async with await anyio.create_tcp_listener(local_host="127.0.0.1") as listener:
        port = listener.extra(anyio.abc.SocketAttribute.local_port)  # noqa: S610
        async with anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, lambda s: _serve_http(s, answer, counts))
            transport = FastTransport()
            async with httpx.AsyncClient(transport=transport, timeout=10.0) as http:
                for _ in range(2):
                    response = await http.get(f"http://127.0.0.1:{port}/big")
                    assert response.content == body
            tg.cancel_scope.cancel()
    assert counts == [1]


async def test_the_asyncio_stream_is_used_on_asyncio_only() -> None:
    """Under asyncio, connections are the protocol stream; under trio, anyio's own."""
    counts: list[int] = []
    async with await anyio.create_tcp_listener(local_host="127.0.0.1") as listener:
        port = listener.extra(anyio.abc.SocketAttribute.local_port)  # noqa: S610
        async with anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, lambda s: _serve_http(s, OK, counts))
            transport = FastTransport()
            async with transport:
                status, _, body = await transport.fetch(
                    ("http", "127.0.0.1", port),
                    "GET",
                    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
                    {},
                    1 << 20,
                )
                assert (status, body) == (200, BODY)
                (conn,) = transport._idle["http", "127.0.0.1", port]
                native = isinstance(conn.stream, _asyncio_stream.AsyncioStream)
                assert native == (sniffio.current_async_library() == "asyncio")
                assert not conn.readable()  # idle and quiet: reusable
            tg.cancel_scope.cancel()


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_asyncio_stream_edges() -> None:
    """Peer close seen without a system call, writes refused after, closed is closed."""
    accepted: list[anyio.abc.SocketStream] = []
    got = anyio.Event()

    async def keep(stream: anyio.abc.SocketStream) -> None:
        accepted.append(stream)
        got.set()

    async with await anyio.create_tcp_listener(local_host="127.0.0.1") as listener:
        port = listener.extra(anyio.abc.SocketAttribute.local_port)  # noqa: S610
        async with anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, keep)
            stream = await _asyncio_stream.connect("127.0.0.1", port, None)
            await got.wait()
            peer = accepted[0]
            assert stream.extra(anyio.abc.SocketAttribute.raw_socket) is not None  # noqa: S610
            write = _direct_writer(stream)
            assert write is not None
            assert write(b"ping")
            assert await peer.receive() == b"ping"
            await stream.send(b"pong")
            assert await peer.receive() == b"pong"
            now = anyio.current_time()
            with pytest.raises(TimeoutError):
                await stream.receive_by(1024, now)  # nothing came by then
            await peer.send(b"abcdef")
            assert await stream.receive_by(4, now + 60) == b"abcd"  # the rest stays buffered
            assert stream.pending()
            assert await stream.receive() == b"ef"
            assert not stream.pending()
            await peer.aclose()
            with pytest.raises(anyio.EndOfStream):
                await stream.receive()
            assert stream.pending()  # an idle connection the peer closed is not reused
            assert not write(b"late")
            await stream.send_eof()
            await stream.aclose()
            with pytest.raises(anyio.ClosedResourceError):
                await stream.receive()
            with pytest.raises(anyio.ClosedResourceError):
                await stream.send(b"x")
            tg.cancel_scope.cancel()


async def _hold(stream: anyio.abc.SocketStream) -> None:
    async with stream:
        await anyio.sleep_forever()


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_asyncio_stream_receive_is_cancellable_and_close_wakes_a_reader() -> None:
    """A reader waiting for data is cancelled by its scope; closing wakes another."""
    async with await anyio.create_tcp_listener(local_host="127.0.0.1") as listener:
        port = listener.extra(anyio.abc.SocketAttribute.local_port)  # noqa: S610
        async with anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, _hold)
            stream = await _asyncio_stream.connect("127.0.0.1", port, None)
            with anyio.move_on_after(0) as scope:
                await stream.receive()
            assert scope.cancelled_caught
            outcome: list[type[BaseException]] = []

            async def reader() -> None:
                try:
                    await stream.receive()
                except anyio.ClosedResourceError as exc:
                    outcome.append(type(exc))

            async with anyio.create_task_group() as inner:
                inner.start_soon(reader)
                await anyio.lowlevel.checkpoint()
                await stream.aclose()
            assert outcome == [anyio.ClosedResourceError]
            tg.cancel_scope.cancel()
