"""`FastTransport`: HTTP/1.1 on anyio byte streams, parsed by httptools (asyncio and trio).

httpx's default stack (httpcore's pool, h11, anyio) spends 1-3 ms of client CPU per request
at 50-200 in flight, most of it in the pool's per-request walk over its connections. This
transport keeps one list of idle connections per origin (the most recently used one is
taken first, nothing is scanned) and parses responses with httptools, the C parser (llhttp)
uvicorn uses. It is an `httpx.AsyncBaseTransport`, so it works under `httpx.AsyncClient`
as well as under `SolarEdgeClient`, on asyncio and on trio.

Install the optional extra ``solaredge-async[fast]`` (``httptools``); `SolarEdgeClient`
uses this transport by default when httptools is importable and falls back to
`PoolsTransport` otherwise.

What it does and does not do:

- HTTP/1.1 with keep-alive; ``http`` and ``https`` (the TLS context is built on the first
  ``https`` request, never for ``http``). No HTTP/2, no proxies (`ConfigurationError` at
  construction: use ``httpx.AsyncHTTPTransport(proxy=...)`` for a proxy).
- Timeouts from each request's httpx timeout: ``pool`` bounds the wait for a free
  connection slot (`httpx.PoolTimeout`), ``connect`` the TCP and TLS connect
  (`httpx.ConnectTimeout`); ``write`` + ``read`` bound sending the request and reading
  the response head together (one cancel scope instead of one per socket operation:
  `httpx.WriteTimeout` or `httpx.ReadTimeout` by the step that stalled), and ``read``
  each later receive of the body (`httpx.ReadTimeout`). Socket errors become `httpx.ConnectError`,
  `httpx.WriteError` and `httpx.ReadError`; a malformed or oversized response head, a body
  cut short, or an upgrade become `httpx.RemoteProtocolError`.
- Bodies arrive raw (``content-length``, chunked or until the connection closes) and are
  not decoded here: the request engine decodes them within its size cap; under a plain
  `httpx.AsyncClient` httpx decodes them as usual.
- A request body is sent whole with a ``Content-Length``.
- `FastTransport.fetch` is the request engine's path: the request already framed as bytes
  in, ``(status, raw header pairs, whole raw body)`` out, the body bounded by a cap; no
  httpx model object is built. On asyncio a request is handed to the event loop's
  transport without anyio's extra loop turn after each write (plain TCP only).
"""

from __future__ import annotations

import math
import select
import ssl
import time
from typing import TYPE_CHECKING, Final, TypeAlias

import anyio
import anyio.abc
import httpx
import sniffio
from anyio.streams.tls import TLSStream

from solaredge_async.errors import ConfigurationError
from solaredge_async.transports._http11 import declared_length, frame_request

if TYPE_CHECKING:
    import socket
    from collections.abc import Awaitable, Callable, Mapping

    import httptools

__all__ = ["BodyTooLargeError", "FastTransport", "httptools_available"]

#: The event loop's clock (what cancel-scope deadlines are measured on).
time_now = anyio.current_time

#: The largest response head (status line and headers, bytes) accepted.
MAX_HEAD: Final = 64 * 1024
#: The most header lines accepted in one response.
MAX_HEADERS: Final = 200
#: Bytes asked of the socket per receive.
RECEIVE: Final = 64 * 1024

_IDEMPOTENT: Final = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_INSTALL_HINT: Final = (
    "FastTransport needs httptools: install the 'fast' extra "
    "(pip install 'solaredge-async[fast]'), or use PoolsTransport"
)


class _HT:
    """httptools' exception classes, filled in when the first transport is made."""

    HttpParserCallbackError: type[Exception] = Exception
    HttpParserUpgrade: type[Exception] = Exception
    HttpParserError: type[Exception] = Exception


def httptools_available() -> bool:
    """True when httptools can be imported (and so `FastTransport` can be used)."""
    try:
        import httptools  # noqa: F401, PLC0415
    except ImportError:
        return False
    return True


class BodyTooLargeError(Exception):
    """`FastTransport.fetch`: the response body is larger than the caller's cap."""


class _Bare:
    """What the transport's helpers need of a request on `FastTransport.fetch`'s path."""

    __slots__ = ("method",)

    def __init__(self, method: str) -> None:
        self.method = method


_Req: TypeAlias = httpx.Request | _Bare


def _rq(request: _Req) -> httpx.Request | None:
    """The request an httpx error carries (none on `FastTransport.fetch`'s path)."""
    return request if isinstance(request, httpx.Request) else None


class _Reused(Exception):  # noqa: N818 - a signal, not an error
    """A reused keep-alive connection closed before answering: try a fresh one."""


class _Extra(Exception):  # noqa: N818
    """Bytes after the end of the response: the connection cannot be reused."""


class _Connection:
    """One HTTP/1.1 connection and the state of the response being parsed on it."""

    __slots__ = (
        "body",
        "body_size",
        "complete",
        "expires",
        "head_bytes",
        "head_only",
        "headers",
        "headers_done",
        "keep_alive",
        "length_known",
        "origin",
        "parser",
        "pending",
        "reason",
        "receive_by",
        "sock",
        "status",
        "stream",
        "used",
        "writer",
    )

    def __init__(
        self,
        stream: anyio.abc.ByteStream,
        origin: tuple[str, str, int],
        parser_class: type[httptools.HttpResponseParser],
    ) -> None:
        self.stream = stream
        self.origin = origin
        self.parser = parser_class(self)
        #: Whether data or the end waits unread, from the stream itself when it can tell.
        self.pending: Callable[[], bool] | None = getattr(stream, "pending", None)
        #: A receive that ends by a loop time on its own timer, when the stream has one.
        self.receive_by: Callable[[int, float], Awaitable[bytes]] | None = getattr(
            stream, "receive_by", None
        )
        self.sock: socket.socket | None = (
            None
            if self.pending is not None
            else stream.extra(anyio.abc.SocketAttribute.raw_socket, None)  # noqa: S610 - anyio
        )
        self.writer = _direct_writer(stream)
        self.expires = 0.0
        self.used = False
        self.head_only = False
        self._reset()

    def _reset(self) -> None:
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.body_size = 0
        self.reason = b""
        self.status = 0
        self.head_bytes = 0
        self.headers_done = False
        self.complete = False
        self.keep_alive = False
        self.length_known = False

    # httptools callbacks ---------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.complete:
            raise _Extra

    def on_status(self, status: bytes) -> None:
        self.reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        parser = self.parser
        self.status = parser.get_status_code()
        # Only meaningful now: once the message completes, llhttp resets the flag.
        self.keep_alive = parser.should_keep_alive()
        self.headers_done = True
        if self.head_only and self.status >= 200:  # noqa: PLR2004
            # A HEAD answer has no body whatever its Content-Length says; the parser
            # cannot know, so the message ends here and the connection is not reused.
            self.complete = True
            self.keep_alive = False

    def on_body(self, body: bytes) -> None:
        self.body.append(body)
        self.body_size += len(body)

    def on_message_complete(self) -> None:
        if 100 <= self.status < 200 and self.status != 101:  # noqa: PLR2004
            self._reset()  # an interim answer (100 Continue, 103 ...): the real one follows
            return
        self.complete = True

    # ------------------------------------------------------------------------------

    def feed(self, data: bytes, request: _Req) -> None:
        """Parse ``data``, bounding the response head."""
        if not self.headers_done:
            self.head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except _HT.HttpParserCallbackError as exc:
            if isinstance(exc.__context__, _Extra):
                self.keep_alive = False
                return
            raise httpx.RemoteProtocolError(
                f"malformed response: {exc}", request=_rq(request)
            ) from None
        except _HT.HttpParserUpgrade:
            raise httpx.RemoteProtocolError(
                "the server switched protocols; only HTTP/1.1 is spoken", request=_rq(request)
            ) from None
        except _HT.HttpParserError as exc:
            raise httpx.RemoteProtocolError(
                f"malformed response: {exc}", request=_rq(request)
            ) from None
        if not self.headers_done and (
            self.head_bytes > MAX_HEAD or len(self.headers) > MAX_HEADERS
        ):
            raise httpx.RemoteProtocolError(
                f"the response head is longer than {MAX_HEAD} bytes or {MAX_HEADERS} lines",
                request=_rq(request),
            )
        if self.headers_done and self.status == 101:  # noqa: PLR2004
            raise httpx.RemoteProtocolError(
                "the server switched protocols; only HTTP/1.1 is spoken", request=_rq(request)
            )

    def at_eof(self, request: _Req) -> None:
        """The server closed the connection: complete the message or fail."""
        self.keep_alive = False
        if self.headers_done and not self.complete and not self._framed():
            self.complete = True  # a body delimited by the connection's end
            return
        if not self.complete:
            raise httpx.RemoteProtocolError(
                "the server closed the connection before the response was complete",
                request=_rq(request),
            )

    def _framed(self) -> bool:
        for name, value in self.headers:
            lowered = name.lower()
            if lowered == b"content-length" or (
                lowered == b"transfer-encoding" and b"chunked" in value.lower()
            ):
                return True
        return False

    def readable(self) -> bool:
        """True when an idle connection has data or EOF waiting: the server closed it."""
        if self.pending is not None:
            return self.pending()
        sock = self.sock
        if sock is None:
            return False
        try:
            ready, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(ready)


class _Body(httpx.AsyncByteStream):
    """The response body as it arrives; gives the connection back when closed."""

    __slots__ = ("_closed", "_conn", "_request", "_timeout", "_transport")

    def __init__(
        self,
        transport: FastTransport,
        conn: _Connection,
        request: httpx.Request,
        timeout: float | None,
    ) -> None:
        self._transport = transport
        self._conn = conn
        self._request = request
        self._timeout = timeout
        self._closed = False

    def __aiter__(self) -> _Body:
        return self

    async def __anext__(self) -> bytes:
        conn = self._conn
        while True:
            body = conn.body
            if body:
                conn.body = []
                return body[0] if len(body) == 1 else b"".join(body)
            if conn.complete or self._closed:
                raise StopAsyncIteration
            await self._transport._receive(conn, self._request, self._timeout)  # noqa: SLF001

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            await self._transport._release(self._conn)  # noqa: SLF001


class FastTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 over anyio streams with httptools' parser; asyncio and trio.

    Args:
        max_connections: The most requests in flight (each holds one connection until
            its response is closed); more wait for a slot, bounded by the request's
            ``pool`` timeout. Idle connections kept for reuse are bounded by it as well.
        keepalive_expiry: Seconds an idle connection is kept open.
        verify: ``True`` to verify TLS certificates against the default CA bundle, an
            `ssl.SSLContext` of your own, or ``False`` to skip verification.
        proxy: Must be ``None``: this transport does not speak to proxies.

    Raises:
        ConfigurationError: httptools is not installed, a proxy was given, or a setting
            is out of range.
    """

    def __init__(
        self,
        *,
        max_connections: int = 100,
        keepalive_expiry: float = 5.0,
        verify: ssl.SSLContext | bool = True,
        proxy: object = None,
    ) -> None:
        try:
            import httptools  # noqa: PLC0415
        except ImportError as exc:
            raise ConfigurationError(_INSTALL_HINT) from exc
        if proxy is not None:
            raise ConfigurationError(
                "FastTransport does not support proxies; pass "
                "transport=httpx.AsyncHTTPTransport(proxy=...) to use one"
            )
        if (
            isinstance(max_connections, bool)
            or not isinstance(max_connections, int)
            or max_connections < 1
        ):
            raise ConfigurationError(
                f"max_connections must be an integer >= 1, got {max_connections!r}"
            )
        if not isinstance(keepalive_expiry, int | float) or not keepalive_expiry > 0:
            raise ConfigurationError(
                f"keepalive_expiry must be a positive number of seconds, got {keepalive_expiry!r}"
            )
        if not isinstance(verify, bool | ssl.SSLContext):
            raise ConfigurationError("verify must be True, False or an ssl.SSLContext")
        _HT.HttpParserCallbackError = httptools.HttpParserCallbackError
        _HT.HttpParserUpgrade = httptools.HttpParserUpgrade
        _HT.HttpParserError = httptools.HttpParserError
        self._parser_class = httptools.HttpResponseParser
        self._max_connections = max_connections
        self._keepalive_expiry = float(keepalive_expiry)
        self._verify = verify
        self._ssl_context: ssl.SSLContext | None = (
            verify if isinstance(verify, ssl.SSLContext) else None
        )
        self._slots: anyio.Semaphore | None = None
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._idle_count = 0
        self._active: set[_Connection] = set()
        self._closed = False

    def __repr__(self) -> str:
        return (
            f"<FastTransport {'closed' if self._closed else 'open'} "
            f"max_connections={self._max_connections} "
            f"idle={self._idle_count} active={len(self._active)}>"
        )

    @property
    def ssl_context_built(self) -> bool:
        """Whether a TLS context exists yet (built on the first ``https`` request only)."""
        return self._ssl_context is not None

    def busy(self) -> tuple[int, int]:
        """``(connections in use, requests in flight or waiting for a slot)``.

        Both are 0 when nothing is in flight: a check that cancelled requests left no
        connection or slot behind.
        """
        slots = self._slots
        if slots is None:
            return len(self._active), 0
        held = self._max_connections - slots.value
        return len(self._active), held + slots.statistics().tasks_waiting

    @property
    def idle_connections(self) -> int:
        """Connections kept open for reuse."""
        return self._idle_count

    def _context(self) -> ssl.SSLContext:
        context = self._ssl_context
        if context is None:
            context = self._ssl_context = httpx.create_ssl_context(verify=self._verify)
        return context

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request``; return the response with its body still to be read.

        Raises:
            httpx.UnsupportedProtocol: A URL that is not http or https.
            httpx.PoolTimeout, httpx.ConnectTimeout, httpx.ConnectError,
            httpx.WriteTimeout, httpx.WriteError, httpx.ReadTimeout, httpx.ReadError,
            httpx.RemoteProtocolError: As httpx's own transport would.
            RuntimeError: The transport is closed.
        """
        if self._closed:
            raise RuntimeError("the FastTransport is closed")
        url = request.url
        scheme = url.scheme
        if scheme not in {"http", "https"}:
            raise httpx.UnsupportedProtocol(
                f"the URL scheme {scheme!r} is not http or https", request=_rq(request)
            )
        timeouts = request.extensions.get("timeout") or {}
        head = frame_request(request, await request.aread())
        origin = (scheme, url.host, url.port or (443 if scheme == "https" else 80))
        conn = await self._start(request, origin, head, timeouts)
        return httpx.Response(
            status_code=conn.status,
            headers=conn.headers,
            stream=_Body(self, conn, request, timeouts.get("read")),
            extensions={"http_version": _version(conn), "reason_phrase": conn.reason},
        )

    async def fetch(
        self,
        origin: tuple[str, str, int],
        method: str,
        head: bytes,
        timeouts: Mapping[str, float | None],
        max_body: int,
        *,
        deadline: float | None = None,
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """Send a request already framed as bytes; return the whole answer, raw.

        The request engine's path: no `httpx.Request`, `httpx.Response` or
        `httpx.Headers` is built, and the body is read in one go into one buffer.

        Args:
            origin: ``(scheme, host, port)`` to connect to (``http`` or ``https``).
            method: The request's method (for the retry of a reused connection).
            head: The request line, headers and body, exactly as sent.
            timeouts: httpx's timeout dict (``pool``, ``connect``, ``write``, ``read``).
            max_body: The most body bytes read (as they arrive, not decoded).
            deadline: An event-loop time (`anyio.current_time`) no timeout of this
                request runs past: sending, the head and each body read end by it
                (`httpx.WriteTimeout` / `httpx.ReadTimeout`).

        Returns:
            ``(status, headers as (name, value) byte pairs, body as received)``.

        Raises:
            BodyTooLargeError: The body (declared or received) is over ``max_body``.
            httpx.HTTPError: As `handle_async_request` (without a request attached).
            RuntimeError: The transport is closed.
        """
        if self._closed:
            raise RuntimeError("the FastTransport is closed")
        request = _Bare(method)
        conn = await self._start(request, origin, head, timeouts, deadline)
        try:
            if conn.body_size > max_body or declared_length(conn.headers) > max_body:
                raise BodyTooLargeError(max_body)
            read = timeouts.get("read")
            while not conn.complete:
                limit = read
                if deadline is not None:
                    left = max(deadline - time_now(), 0.0)
                    limit = left if read is None else min(read, left)
                await self._receive(conn, request, limit)
                if conn.body_size > max_body:
                    raise BodyTooLargeError(max_body)
            status, headers, body = conn.status, conn.headers, conn.body
        finally:
            await self._release(conn)
        return status, headers, body[0] if len(body) == 1 else b"".join(body)

    async def _start(
        self,
        request: _Req,
        origin: tuple[str, str, int],
        head: bytes,
        timeouts: Mapping[str, float | None],
        deadline: float | None = None,
    ) -> _Connection:
        """Take a connection slot, send on a reused or new connection; read the head.

        The slot is held until the connection is released (or given back here on
        failure).
        """
        slots = self._slots
        if slots is None:
            slots = self._slots = anyio.Semaphore(self._max_connections, fast_acquire=True)
        try:
            # No checkpoint here: sending (next) is one, and each costs a loop turn.
            slots.acquire_nowait()
        except anyio.WouldBlock:
            await self._wait_for_slot(slots, request, timeouts.get("pool"))
        if deadline is not None and time_now() >= deadline:
            # Queued past the call's deadline: nothing is sent (a credit saved).
            slots.release()
            raise httpx.PoolTimeout(
                "the call's deadline passed while it waited for a connection slot",
                request=_rq(request),
            )
        try:
            while True:
                conn = await self._take_idle(origin)
                reused = conn is not None
                if conn is None:
                    conn = await self._connect(request, origin, timeouts.get("connect"))
                self._active.add(conn)
                conn.head_only = request.method == "HEAD"
                try:
                    await self._send_and_read_head(
                        conn, request, head, timeouts, reused=reused, deadline=deadline
                    )
                except _Reused:
                    self._active.discard(conn)
                    await anyio.aclose_forcefully(conn.stream)
                    continue
                except BaseException:
                    self._active.discard(conn)
                    await anyio.aclose_forcefully(conn.stream)
                    raise
                return conn
        except BaseException:
            slots.release()
            raise

    @staticmethod
    async def _wait_for_slot(slots: anyio.Semaphore, request: _Req, limit: float | None) -> None:
        try:
            with anyio.fail_after(limit):
                await slots.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout(
                "timed out waiting for a free connection slot", request=_rq(request)
            ) from None

    async def _send_and_read_head(
        self,
        conn: _Connection,
        request: _Req,
        head: bytes,
        timeouts: Mapping[str, float | None],
        *,
        reused: bool,
        deadline: float | None = None,
    ) -> None:
        """Send the request and read up to the end of the response head.

        One cancel scope bounds both, with the write and read timeouts added up (a scope
        per socket operation costs more than the rest of the request path): a server
        that stalls either step is still cut off, within at most both timeouts (and
        by ``deadline``, an event-loop time, when given).
        """
        write, read = timeouts.get("write"), timeouts.get("read")
        limit = None if write is None or read is None else write + read
        ends = math.inf if limit is None else time_now() + limit
        if deadline is not None:
            ends = min(ends, deadline)
        writer, receive_by = conn.writer, conn.receive_by
        if receive_by is not None and writer is not None and writer(head):
            # Sent without a wait (asyncio's transport took it whole): each wait for the
            # head ends by ``ends`` on the stream's own timer, no cancel scope needed.
            until = None if ends == math.inf else ends
            while not conn.headers_done:
                await self._receive(conn, request, None, reused=reused, until=until)
            return
        sent = False
        with anyio.CancelScope(deadline=ends) as scope:
            await self._send(conn, request, head, None)
            sent = True
            while not conn.headers_done:
                await self._receive(conn, request, None, reused=reused)
        if scope.cancelled_caught:
            if not sent:
                raise httpx.WriteTimeout("sending the request timed out", request=_rq(request))
            raise httpx.ReadTimeout("reading the response head timed out", request=_rq(request))

    async def _take_idle(self, origin: tuple[str, str, int]) -> _Connection | None:
        idle = self._idle.get(origin)
        if not idle:
            return None
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            self._idle_count -= 1
            if conn.expires > now and not conn.readable():
                conn.used = True
                return conn
            await anyio.aclose_forcefully(conn.stream)
        return None

    async def _connect(
        self, request: _Req, origin: tuple[str, str, int], limit: float | None
    ) -> _Connection:
        scheme, host, port = origin
        try:
            with anyio.fail_after(limit):
                if sniffio.current_async_library() == "asyncio":
                    # Reading stays on, no loop turn per receive (see the module).
                    from solaredge_async.transports import _asyncio_stream  # noqa: PLC0415

                    context = self._context() if scheme == "https" else None
                    native = await _asyncio_stream.connect(host, port, context)
                    return _Connection(native, origin, self._parser_class)
                stream: anyio.abc.ByteStream = await anyio.connect_tcp(host, port)
                if scheme == "https":
                    try:
                        stream = await TLSStream.wrap(
                            stream,
                            hostname=host,
                            ssl_context=self._context(),
                            standard_compatible=False,
                        )
                    except BaseException:
                        await anyio.aclose_forcefully(stream)
                        raise
        except TimeoutError:
            raise httpx.ConnectTimeout(
                f"connecting to {host}:{port} timed out", request=_rq(request)
            ) from None
        except (OSError, ssl.SSLError, anyio.BrokenResourceError) as exc:
            raise httpx.ConnectError(
                f"cannot connect to {host}:{port}: {exc}", request=_rq(request)
            ) from None
        return _Connection(stream, origin, self._parser_class)

    async def _send(
        self, conn: _Connection, request: _Req, head: bytes, limit: float | None
    ) -> None:
        writer = conn.writer
        if writer is not None and limit is None and writer(head):
            return  # handed to the event loop whole; the read that follows is the checkpoint
        try:
            if limit is None:
                await conn.stream.send(head)
            else:
                with anyio.fail_after(limit):
                    await conn.stream.send(head)
        except TimeoutError:
            raise httpx.WriteTimeout(
                "sending the request timed out", request=_rq(request)
            ) from None
        except (OSError, anyio.BrokenResourceError, anyio.ClosedResourceError) as exc:
            if conn.used and request.method in _IDEMPOTENT:
                raise _Reused from None
            raise httpx.WriteError(
                f"sending the request failed: {exc}", request=_rq(request)
            ) from None

    async def _receive(
        self,
        conn: _Connection,
        request: _Req,
        limit: float | None,
        *,
        reused: bool = False,
        until: float | None = None,
    ) -> None:
        try:
            if until is not None and conn.receive_by is not None:
                data = await conn.receive_by(RECEIVE, until)
            elif limit is None:
                data = await conn.stream.receive(RECEIVE)
            else:
                with anyio.fail_after(limit):
                    data = await conn.stream.receive(RECEIVE)
        except anyio.EndOfStream:
            if reused and conn.head_bytes == 0 and request.method in _IDEMPOTENT:
                raise _Reused from None
            conn.at_eof(request)
            return
        except TimeoutError:
            what = "the response head" if until is not None else "the response"
            raise httpx.ReadTimeout(f"reading {what} timed out", request=_rq(request)) from None
        except (OSError, anyio.BrokenResourceError, anyio.ClosedResourceError) as exc:
            if reused and conn.head_bytes == 0 and request.method in _IDEMPOTENT:
                raise _Reused from None
            raise httpx.ReadError(
                f"reading the response failed: {exc}", request=_rq(request)
            ) from None
        conn.feed(data, request)

    async def _release(self, conn: _Connection) -> None:
        """Back to the idle list when the response was read whole and may be reused."""
        self._active.discard(conn)
        slots = self._slots
        if slots is not None:
            slots.release()
        if conn.complete and conn.keep_alive and not self._closed:
            conn._reset()  # noqa: SLF001
            conn.expires = time.monotonic() + self._keepalive_expiry
            idle = self._idle.setdefault(conn.origin, [])
            idle.append(conn)
            self._idle_count += 1
            if self._idle_count > self._max_connections:
                await self._evict_oldest()
            return
        await anyio.aclose_forcefully(conn.stream)

    async def _evict_oldest(self) -> None:
        for idle in self._idle.values():
            if idle:
                self._idle_count -= 1
                await anyio.aclose_forcefully(idle.pop(0).stream)
                return

    async def aclose(self) -> None:
        """Close every idle connection; idempotent. Later requests raise `RuntimeError`.

        Connections still in use close when their responses are closed.
        """
        self._closed = True
        idle, self._idle = self._idle, {}
        self._idle_count = 0
        for conns in idle.values():
            for conn in conns:
                await anyio.aclose_forcefully(conn.stream)


def _direct_writer(stream: object) -> Callable[[bytes], bool] | None:
    """A write that does not yield, for anyio's asyncio TCP stream; None for others.

    anyio's ``send`` turns the event loop once after every write, even when the bytes
    went straight out; the response read that follows waits anyway, so that turn only
    costs time. The writer hands bytes to asyncio's transport when it is open and not
    paused, and returns False otherwise (then ``send`` is used, with its flow control).
    """
    write_nowait: Callable[[bytes], bool] | None = getattr(stream, "write_nowait", None)
    if write_nowait is not None:
        return write_nowait
    transport = getattr(stream, "_transport", None)
    protocol = getattr(stream, "_protocol", None)
    event = getattr(protocol, "write_event", None)
    write = getattr(transport, "write", None)
    closing = getattr(transport, "is_closing", None)
    is_set = getattr(event, "is_set", None)
    if (
        write is None
        or closing is None
        or is_set is None
        or type(stream).__module__ != "anyio._backends._asyncio"
    ):
        return None

    def writer(data: bytes) -> bool:
        if closing() or not is_set() or getattr(protocol, "exception", None) is not None:
            return False
        write(data)
        return True

    return writer


def _version(conn: _Connection) -> bytes:
    return b"HTTP/1.0" if conn.parser.get_http_version() == "1.0" else b"HTTP/1.1"
