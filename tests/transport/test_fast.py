"""FastTransport on real loopback sockets: keep-alive, framing, timeouts, errors, no TLS for http."""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any, cast

import anyio
import anyio.abc
import httpx
import pytest
import sniffio

from solaredge_async import ConfigurationError, PoolsTransport, RetryPolicy, SolarEdgeClient
from solaredge_async.transports import default_transport

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

pytest.importorskip("httptools")

import anyio.lowlevel

from solaredge_async._engine import _Call, _RawHeaders
from solaredge_async.errors import RequestTimeoutError, TransportError
from solaredge_async.limits import MemoryCreditLedger
from solaredge_async.transports._fast import BodyTooLargeError, FastTransport, _direct_writer

pytestmark = [pytest.mark.anyio, pytest.mark.loopback]

KEY = "fast-KEY-9f8e7d6c5b4a"
OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
#: Appended to an answer: the server hangs up right after sending it.
HANG_UP = b"\x00hang-up"
#: Appended to an answer: the server sends it, then goes silent (keeps the connection).
GO_SILENT = b"\x00go-silent"


class Server:
    """Loopback server: ``answer(head, index)`` gives the bytes for each request (None: hang up).

    Records each request head, and counts connections.
    """

    def __init__(self, answer: Callable[[bytes, int], bytes | None]) -> None:
        self.answer = answer
        self.heads: list[bytes] = []
        self.connections = 0
        self.stall = anyio.Event()

    async def _handle(self, stream: anyio.abc.SocketStream) -> None:
        self.connections += 1
        async with stream:
            buf = b""
            try:
                while True:
                    while b"\r\n\r\n" not in buf:
                        buf += await stream.receive()
                    head, _, buf = buf.partition(b"\r\n\r\n")
                    self.heads.append(head)
                    reply = self.answer(head, len(self.heads) - 1)
                    if reply is None:
                        return
                    if reply == b"STALL":
                        await stream.receive()
                        return
                    await stream.send(reply.removesuffix(HANG_UP).removesuffix(GO_SILENT))
                    if reply.endswith(HANG_UP):
                        return
                    if reply.endswith(GO_SILENT):
                        await stream.receive()
                        return
            except (anyio.EndOfStream, anyio.BrokenResourceError, OSError):
                return

    async def __aenter__(self) -> str:
        self._listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
        port = self._listener.extra(anyio.abc.SocketAttribute.local_port)  # noqa: S610
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        self._tg.start_soon(self._listener.serve, self._handle)
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *exc: object) -> None:
        self._tg.cancel_scope.cancel()
        await self._tg.__aexit__(None, None, None)
        await self._listener.aclose()


async def _with(
    answer: Callable[[bytes, int], bytes | None],
    body: Callable[[httpx.AsyncClient, str, FastTransport, Server], Awaitable[Any]],
    **kwargs: Any,
) -> Server:
    server = Server(answer)
    transport = FastTransport(**kwargs)
    async with server as url, httpx.AsyncClient(transport=transport, timeout=2.0) as http:
        await body(http, url, transport, server)
    return server


async def test_keep_alive_reuses_one_connection():
    """Sequential requests share a connection; the request head is what httpx built."""

    async def body(http: httpx.AsyncClient, url: str, t: FastTransport, s: Server) -> None:
        for _ in range(5):
            r = await http.get(url + "/v2/x?a=1")
            assert (r.status_code, r.content, r.http_version) == (200, b"{}", "HTTP/1.1")
        assert t.busy() == (0, 0)
        assert t.idle_connections == 1

    server = await _with(lambda _h, _i: OK, body)
    assert server.connections == 1
    assert server.heads[0].startswith(b"GET /v2/x?a=1 HTTP/1.1\r\n")
    assert b"\r\nHost: 127.0.0.1:" in server.heads[0]


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}",
        b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}EXTRA",
    ],
    ids=["connection-close", "http-1.0", "bytes-after-the-body"],
)
async def test_a_connection_that_cannot_be_reused_is_not(answer: bytes):
    """Connection: close, HTTP/1.0 and trailing garbage all end in a fresh connection."""

    async def body(http: httpx.AsyncClient, url: str, t: FastTransport, s: Server) -> None:
        for _ in range(3):
            assert (await http.get(url)).content == b"{}"
        assert t.idle_connections == 0

    server = await _with(lambda _h, _i: answer, body)
    assert server.connections == 3


async def test_chunked_close_delimited_and_interim_answers():
    """Chunked and close-delimited bodies are read whole; a 100 Continue is skipped."""
    answers = [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz",
        b"HTTP/1.1 200 OK\r\n\r\nuntil the end" + HANG_UP,
    ]

    async def body(http: httpx.AsyncClient, url: str, t: FastTransport, s: Server) -> None:
        assert (await http.get(url)).content == b"abcde"
        assert (await http.get(url)).content == b"z"
        assert (await http.get(url)).content == b"until the end"

    server = await _with(lambda _h, i: answers[i] if i < 2 else answers[2], body)
    assert server.connections == 1  # the third one ends its connection, nothing after it


async def test_a_head_answer_has_no_body():
    """HEAD: the Content-Length describes a body that never comes; nothing waits for it."""

    async def body(http: httpx.AsyncClient, url: str, t: FastTransport, s: Server) -> None:
        response = await http.head(url)
        assert (response.status_code, response.content) == (200, b"")
        assert (await http.get(url)).content == b"{}"
        assert t.busy() == (0, 0)

    head = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"
    server = await _with(lambda h, _i: head if h.startswith(b"HEAD") else OK, body)
    assert server.connections == 2  # the HEAD's connection is not reused


async def test_an_idle_connection_closed_by_the_server_is_replaced():
    """The server hangs up after each answer (no Connection: close): never reused dead.

    POSTs, which are never retried: only the idle check can save them.
    """

    async def body(http: httpx.AsyncClient, url: str, t: FastTransport, s: Server) -> None:
        for _ in range(3):
            assert (await http.post(url, content=b"{}")).status_code == 200
            await anyio.sleep(0.01)  # the server's hang-up reaches the idle connection

    server = await _with(lambda _h, _i: OK + HANG_UP, body)
    assert server.connections == 3
    assert len(server.heads) == 3


async def test_server_closing_between_requests_is_retried_once_on_a_new_connection():
    """A reused connection the server closed (EOF before any byte) is retried fresh."""

    def answer(_head: bytes, index: int) -> bytes | None:
        # Second request on the first connection: hang up without a word.
        return None if index == 1 else OK

    async def body(http: httpx.AsyncClient, url: str, t: FastTransport, s: Server) -> None:
        assert (await http.get(url)).status_code == 200
        assert (await http.get(url)).status_code == 200

    server = await _with(answer, body)
    assert server.connections == 2
    assert len(server.heads) == 3


async def test_errors_map_to_httpx_exceptions():
    """Refused connect, read timeout, malformed head: httpx's own exception types."""
    async with await anyio.create_tcp_listener(local_host="127.0.0.1") as listener:
        port = listener.extra(anyio.abc.SocketAttribute.local_port)  # noqa: S610
    transport = FastTransport()
    async with httpx.AsyncClient(transport=transport, timeout=1.0) as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(f"http://127.0.0.1:{port}/")
        with pytest.raises(httpx.UnsupportedProtocol):
            await transport.handle_async_request(httpx.Request("GET", "ftp://127.0.0.1/"))

    async def stalled(http: httpx.AsyncClient, url: str, t: FastTransport, s: Server) -> None:
        with pytest.raises(httpx.ReadTimeout):
            await http.get(url)
        assert t.busy() == (0, 0)

    await _with(lambda _h, _i: b"STALL", stalled)

    async def garbage(http: httpx.AsyncClient, url: str, t: FastTransport, s: Server) -> None:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.get(url)
        assert t.busy() == (0, 0)

    await _with(lambda _h, _i: b"NOT HTTP AT ALL\r\n\r\n", garbage)


async def test_pool_timeout_when_every_slot_is_taken():
    """With one slot held by an open response, a second request times out waiting."""

    async def body(http: httpx.AsyncClient, url: str, t: FastTransport, s: Server) -> None:
        async with http.stream("GET", url) as first:
            assert first.status_code == 200
            with pytest.raises(httpx.PoolTimeout):
                await http.get(url, timeout=httpx.Timeout(1.0, pool=0.2))
            assert t.busy() == (1, 1)
        assert t.busy() == (0, 0)

    await _with(lambda _h, _i: OK, body, max_connections=1)


async def test_cancellation_gives_back_the_slot_and_the_connection():
    """A request cancelled while waiting for its answer leaves nothing in use."""

    async def body(http: httpx.AsyncClient, url: str, t: FastTransport, s: Server) -> None:
        with anyio.move_on_after(0.5):
            await http.get(url, timeout=10.0)
        assert t.busy() == (0, 0)
        assert t.idle_connections == 0

    await _with(lambda _h, _i: b"STALL", body)


async def test_header_injection_is_refused():
    """A header value with a line break never reaches the wire."""
    request = httpx.Request("GET", "http://127.0.0.1:9/", headers={"X-A": "ok"})
    request.headers._list.append((b"X-B", b"x-b", b"v\r\nInjected: 1"))  # bypass validation
    with pytest.raises(httpx.LocalProtocolError):
        await FastTransport().handle_async_request(request)


async def test_a_request_body_is_sent_with_its_length():
    """A POST body goes whole, with Content-Length and without chunked framing."""

    async def body(http: httpx.AsyncClient, url: str, t: FastTransport, s: Server) -> None:
        async def chunks():  # a streamed body httpx would send chunked
            yield b'{"a":'
            yield b"1}"

        await http.post(url, content=chunks())

    server = await _with(lambda _h, _i: OK, body)
    head = server.heads[0].lower()
    assert b"content-length: 7" in head
    assert b"transfer-encoding" not in head


def test_configuration_is_checked():
    """Proxies and nonsense sizes are refused at construction, with a way out."""
    with pytest.raises(ConfigurationError, match="proxy"):
        FastTransport(proxy="http://proxy.invalid:3128")
    with pytest.raises(ConfigurationError):
        FastTransport(max_connections=0)
    with pytest.raises(ConfigurationError):
        FastTransport(keepalive_expiry=0)
    with pytest.raises(ConfigurationError):
        FastTransport(verify="yes")  # type: ignore[arg-type]


async def test_no_tls_context_for_http_urls():
    """An http:// client builds no TLS context on any default transport; https does, lazily."""
    for transport in (default_transport(3), PoolsTransport.for_concurrency(3)):
        async with SolarEdgeClient(
            api_key=KEY, base_url="http://127.0.0.1:9/v2", transport=transport
        ):
            pass
    fast = FastTransport()
    assert not fast.ssl_context_built
    pools = PoolsTransport(pools=1)
    assert not pools.ssl_context_loaded
    await anyio.lowlevel.checkpoint()
    context = fast._context()
    assert fast.ssl_context_built
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname


async def test_the_default_transport_is_fast_and_skips_the_client_send():
    """With httptools the client's own transport is FastTransport, called directly."""
    async with SolarEdgeClient(api_key=KEY) as client:
        assert isinstance(client._engine.transport, FastTransport)
    async with SolarEdgeClient(api_key=KEY, http_client=httpx.AsyncClient()) as client:
        assert client._engine.transport is None


# -- the engine's direct path: FastTransport.fetch, no httpx models -------------------


async def test_the_client_sends_through_fetch_the_same_head_httpx_would():
    """The engine frames the request itself: same request line and headers as httpx's."""
    content = b'{"sites":{"site":[]}}'
    answer = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-RateLimit-Limit-Minute: 7\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(content), content)
    )
    server = Server(lambda _h, _i: answer)
    fetched: list[bytes] = []

    class Watching(FastTransport):
        async def fetch(self, origin: Any, method: str, head: bytes, *a: Any, **k: Any) -> Any:
            fetched.append(head)
            return await super().fetch(origin, method, head, *a, **k)

    async with (
        server as url,
        SolarEdgeClient(api_key=KEY, base_url=url + "/v2", transport=Watching()) as client,
    ):
        response = await client._engine.request("GET", "/sites/list", [("a", "1 2"), ("b", "é")])
        assert response.content == content
        assert response.headers.get("x-ratelimit-limit-minute") == "7"
        assert client.usage.last_limit == 7
    assert fetched == [server.heads[0] + b"\r\n\r\n"]
    head = server.heads[0]
    assert head.startswith(b"GET /v2/sites/list?a=1+2&b=%C3%A9 HTTP/1.1\r\nHost: 127.0.0.1:")
    assert f"\r\nX-API-Key: {KEY}".encode() in head
    assert b"\r\nAccept-Encoding: " in head
    assert b"Connection" not in head


async def test_a_declared_body_over_the_cap_is_refused_at_the_head():
    """Fetch stops at a Content-Length over the cap, without waiting for the body."""
    big = b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n{"
    server = Server(lambda _h, i: big if i == 0 else OK)
    transport = FastTransport()
    async with server as url:
        origin = ("http", "127.0.0.1", int(url.rsplit(":", 1)[1]))
        head = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
        timeouts = {"pool": 2.0, "connect": 2.0, "write": 2.0, "read": 2.0}
        with pytest.raises(BodyTooLargeError):
            await transport.fetch(origin, "GET", head, timeouts, 1000)
        assert transport.busy() == (0, 0)
        assert transport.idle_connections == 0  # a half-read connection is not kept
        status, headers, body = await transport.fetch(origin, "GET", head, timeouts, 1000)
        assert (status, body) == (200, b"{}")
        assert (b"Content-Length", b"2") in headers
        assert transport.idle_connections == 1
    assert server.connections == 2
    await transport.aclose()


async def test_a_credential_header_with_a_line_break_never_reaches_the_wire():
    """On the direct path too, a line break in a header is an error, not a second header."""
    server = Server(lambda _h, _i: OK)
    async with server as url:
        client = SolarEdgeClient(
            api_key=KEY, base_url=url + "/v2", retry=RetryPolicy(max_attempts=1)
        )
        client._credential._headers["X-API-Key"] = "k\r\nInjected: 1"  # type: ignore[attr-defined]
        async with client:
            with pytest.raises(TransportError, match="line break"):
                await client._engine.request("GET", "/sites/list")
    assert server.heads == []


def test_raw_headers_look_up_like_httpx_headers():
    """Case-insensitive, repeated values joined with ', ', absent: the default."""
    raw = [(b"Content-Type", b"application/json"), (b"Vary", b"a"), (b"vary", b"b")]
    headers = _RawHeaders(raw)
    reference = httpx.Headers(raw)
    for name in ("content-type", "CONTENT-TYPE", "vary", "missing"):
        assert headers.get(name) == reference.get(name)
    assert headers.get("missing", "x") == "x"
    assert headers["Vary"] == "a, b"
    assert list(headers) == ["content-type", "vary"]
    assert len(headers) == 2
    with pytest.raises(KeyError):
        headers["missing"]


async def test_the_direct_writer_is_used_on_asyncio_only_and_steps_aside_when_closing():
    """Asyncio's TCP stream is written without a loop turn; anything else uses send."""
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)  # noqa: S610
    stream = await anyio.connect_tcp("127.0.0.1", port)
    writer = _direct_writer(stream)
    if sniffio.current_async_library() == "trio":
        assert writer is None
    else:
        assert writer is not None
        assert writer(b"x")
        await stream.aclose()
        assert not writer(b"y")  # closed: the caller falls back to send (and its errors)
    await stream.aclose()
    await listener.aclose()
    assert _direct_writer(object()) is None


# -- the call's deadline on the direct path (no cancel scope of the engine's own) ---------


def engine_call(path: str) -> _Call:
    """A GET of ``path`` as the engine sees it."""
    return _Call("GET", path, (), None)


def _deadline_client(url: str, deadline: float) -> SolarEdgeClient:
    return SolarEdgeClient(
        api_key=KEY,
        base_url=url + "/v2",
        transport=FastTransport(),
        timeout=1000.0,  # the deadline, not a transport timeout, must end the call
        requests_per_minute=None,
        ledger=MemoryCreditLedger(monthly_credits=0),
        retry=RetryPolicy(deadline=deadline, jitter=0),
        probe_caps=False,
    )


@pytest.mark.parametrize(
    "answer",
    [
        b"STALL",
        b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"partial"' + GO_SILENT,
    ],
    ids=["no-head", "body-stops"],
)
async def test_the_deadline_ends_a_first_attempt_that_waits_on_the_server(answer: bytes):
    """The transport's own timers end by the deadline: RequestTimeoutError, nothing held."""
    server = Server(lambda _h, _i: answer)
    async with server as url, _deadline_client(url, 5.0) as client:
        engine = client._engine
        assert engine._unscoped_first(engine_call("/sites/list"))
        started = anyio.current_time()
        with pytest.raises(RequestTimeoutError, match="5 s deadline"):
            await client._engine.request("GET", "/sites/list")
        assert anyio.current_time() - started == pytest.approx(5.0, abs=0.5)
        assert engine.transport is not None
        assert cast("FastTransport", engine.transport).busy() == (0, 0)
    assert len(server.heads) == 1  # no retry past the deadline


async def test_a_failed_first_attempt_is_retried_within_the_deadline():
    """A 503 on the unscoped first attempt is retried (in the deadline's scope)."""
    answers = [
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n",
        OK,
    ]
    server = Server(lambda _h, i: answers[min(i, 1)])
    async with server as url, _deadline_client(url, 60.0) as client:
        response = await client._engine.request("GET", "/sites/list")
        assert response.content == b"{}"
        assert client.usage.retries == 1
    assert len(server.heads) == 2


async def test_a_limiter_that_may_wait_keeps_the_deadline_scope():
    """A pacing limiter, a bearer token or a file ledger: attempt 1 runs in the scope."""
    async with SolarEdgeClient(
        api_key=KEY, transport=FastTransport(), requests_per_minute=10, probe_caps=False
    ) as client:
        assert not client._engine._unscoped_first(engine_call("/sites/list"))


async def test_a_call_queued_past_its_deadline_sends_nothing_and_costs_nothing():
    """Behind a stalled call, a queued one reaches its deadline unsent: no request, no credit."""
    server = Server(lambda _h, _i: b"STALL")
    outcomes: list[type[BaseException]] = []
    ledger = MemoryCreditLedger(monthly_credits=0)
    async with (
        server as url,
        SolarEdgeClient(
            api_key=KEY,
            base_url=url + "/v2",
            transport=FastTransport(),
            timeout=1000.0,
            requests_per_minute=None,
            ledger=ledger,
            max_concurrency=1,
            retry=RetryPolicy(deadline=5.0, jitter=0),
            probe_caps=False,
        ) as client,
    ):

        async def call() -> None:
            try:
                await client._engine.request("GET", "/sites/list")
            except RequestTimeoutError as exc:
                outcomes.append(type(exc))

        async with anyio.create_task_group() as tg:
            tg.start_soon(call)
            tg.start_soon(call)
        state = await client.budget()
    assert outcomes == [RequestTimeoutError, RequestTimeoutError]
    assert len(server.heads) == 1  # the queued call never went out
    assert state.spent == 1
