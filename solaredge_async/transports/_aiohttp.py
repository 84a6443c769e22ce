"""`AiohttpTransport`: an httpx transport that sends requests through aiohttp (asyncio only).

httpx stays the client API (requests, responses, timeouts, errors); only the connection
pool changes. httpcore's pool (httpx 0.28 / httpcore 1.0) spends time per request that
grows with the number of connections and waiting requests, so a sweep with many requests
in flight gets *slower* as concurrency grows; aiohttp's connector does not. The default
`FastTransport` (httptools) is as fast or faster on the fleet-day benchmark and runs on
trio as well (see ``benchmarks/README.md``); this one remains for asyncio code bases that
already use aiohttp.

Install the optional extra ``solaredge-async[fast]`` (``aiohttp>=3.9``). aiohttp runs on
asyncio only: under trio keep the default transport::

    from solaredge_async import SolarEdgeClient
    from solaredge_async.transports._aiohttp import AiohttpTransport

    async with SolarEdgeClient(api_key=key, transport=AiohttpTransport()) as client:
        ...

What it maps: every request header is sent as httpx built it (aiohttp adds none of its
own), bodies are sent whole, responses stream raw (aiohttp's own decompression is off:
`SolarEdgeClient` decodes them within its body cap, a plain `httpx.AsyncClient` with
httpx's decoders), redirects and cookies stay httpx's business, and aiohttp's errors
become the matching httpx exceptions (`httpx.ConnectError`, `httpx.ConnectTimeout`,
`httpx.ReadTimeout`, `httpx.ReadError`, `httpx.RemoteProtocolError`). Timeouts come from
each request's httpx timeout: ``pool`` bounds the wait for a connection, ``connect`` the
TCP/TLS connect, ``read`` each socket read.
"""

from __future__ import annotations

import builtins
import ssl
from typing import TYPE_CHECKING, Final

import anyio.lowlevel
import httpx

from solaredge_async.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    import aiohttp

__all__ = ["AiohttpTransport"]

_INSTALL_HINT: Final = (
    "AiohttpTransport needs aiohttp: install the 'fast' extra "
    "(pip install 'solaredge-async[fast]') or leave transport= unset to use httpx's own"
)

#: Headers aiohttp would add when the request lacks them; httpx decides what is sent.
_SKIP_AUTO_HEADERS: Final = ("Accept", "Accept-Encoding", "User-Agent", "Content-Type")

#: Bodies up to this size (bytes, from ``Content-Length``) are read in one call
#: instead of chunk by chunk: cheaper, and every API response is far smaller.
_WHOLE_BODY_LIMIT: Final = 1024 * 1024

_CHUNK: Final = 64 * 1024


def _import_aiohttp() -> None:
    try:
        import aiohttp  # noqa: F401, PLC0415
    except ImportError as exc:
        raise ConfigurationError(_INSTALL_HINT) from exc


def _running_loop() -> object:
    """The running event loop, or None where anyio cannot say (anyio < 4.11)."""
    current_token = getattr(anyio.lowlevel, "current_token", None)
    if current_token is None:
        return None
    try:
        return current_token().native_token
    except Exception:  # noqa: BLE001 - no loop, or a backend anyio does not know
        return None


def _check_backend() -> None:
    import sniffio  # noqa: PLC0415

    try:
        library = sniffio.current_async_library()
    except sniffio.AsyncLibraryNotFoundError:
        return
    if library != "asyncio":
        raise ConfigurationError(
            f"AiohttpTransport runs on asyncio only, not {library}: leave transport= "
            "unset (httpx's own transport works on both asyncio and trio)"
        )


class _Errors:
    """aiohttp's exception classes, sorted into httpx's, looked up once per transport."""

    def __init__(self) -> None:
        import aiohttp  # noqa: PLC0415

        self.client_error = aiohttp.ClientError
        # ConnectionTimeoutError / SocketTimeoutError arrived in aiohttp 3.10.
        self.connect_timeout: tuple[type[BaseException], ...] = tuple(
            c for c in (getattr(aiohttp, "ConnectionTimeoutError", None),) if isinstance(c, type)
        )
        self.read_timeout = aiohttp.ServerTimeoutError
        self.connect = aiohttp.ClientConnectorError
        self.protocol = (
            aiohttp.ServerDisconnectedError,
            aiohttp.ClientPayloadError,
            aiohttp.ClientResponseError,
        )
        self.os_error = aiohttp.ClientOSError

    def translate(  # noqa: PLR0911 - one return per kind of error
        self, exc: BaseException, request: httpx.Request
    ) -> httpx.TransportError:
        """The httpx exception for an aiohttp (or socket) error."""
        message = str(exc) or type(exc).__name__
        if isinstance(exc, self.connect_timeout):
            return httpx.ConnectTimeout(message, request=request)
        if isinstance(exc, self.read_timeout):
            return httpx.ReadTimeout(message, request=request)
        if isinstance(exc, builtins.TimeoutError):
            # aiohttp's ``connect`` timeout (waiting for a pool slot, then connecting).
            return httpx.PoolTimeout(
                message or "timed out waiting for a connection", request=request
            )
        if isinstance(exc, self.connect):
            return httpx.ConnectError(message, request=request)
        if isinstance(exc, self.protocol):
            return httpx.RemoteProtocolError(message, request=request)
        if isinstance(exc, self.os_error | OSError):
            return httpx.ReadError(message, request=request)
        return httpx.TransportError(message, request=request)

    @property
    def catch(self) -> tuple[type[BaseException], ...]:
        """What `translate` handles."""
        return (self.client_error, builtins.TimeoutError, OSError)


class _ResponseStream(httpx.AsyncByteStream):
    """An aiohttp response body, as httpx's response stream."""

    __slots__ = ("_errors", "_request", "_response")

    def __init__(
        self, response: aiohttp.ClientResponse, request: httpx.Request, errors: _Errors
    ) -> None:
        self._response = response
        self._request = request
        self._errors = errors

    async def __aiter__(self) -> AsyncIterator[bytes]:
        response = self._response
        try:
            length = response.content_length
            if length is not None and length <= _WHOLE_BODY_LIMIT:
                body = await response.read()
                if body:
                    yield body
                return
            async for chunk in response.content.iter_chunked(_CHUNK):
                yield chunk
        except self._errors.catch as exc:
            raise self._errors.translate(exc, self._request) from exc

    async def aclose(self) -> None:
        # Back to the pool when the body was read to the end, else closed.
        self._response.release()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """An httpx transport backed by an aiohttp connection pool (asyncio only).

    The aiohttp session is created on the first request, inside the running event
    loop, and belongs to that loop: use one transport per event loop. Closing the
    transport (``await transport.aclose()``, or closing the `httpx.AsyncClient` or
    `SolarEdgeClient` that owns it) closes the pool.

    Args:
        max_connections: The most open connections (aiohttp's ``limit``); requests
            beyond it wait for a free one (bounded by the request's ``pool`` timeout).
            ``None`` for no bound. `SolarEdgeClient` never has more than its
            ``max_concurrency`` requests in flight, so keep this at least that large.
        keepalive_expiry: Seconds an idle connection is kept open.
        verify: ``True`` to verify TLS certificates with the default context, an
            `ssl.SSLContext` of your own, or ``False`` to skip verification.

    Raises:
        ConfigurationError: aiohttp is not installed (at construction), the transport
            is used under an event loop other than asyncio (at the first request), or
            a setting is out of range.
    """

    def __init__(
        self,
        *,
        max_connections: int | None = 100,
        keepalive_expiry: float = 5.0,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        _import_aiohttp()
        _check_backend()
        if max_connections is not None and (
            isinstance(max_connections, bool)
            or not isinstance(max_connections, int)
            or max_connections < 1
        ):
            raise ConfigurationError(
                f"max_connections must be an integer >= 1 or None, got {max_connections!r}"
            )
        if not keepalive_expiry > 0:
            raise ConfigurationError(
                f"keepalive_expiry must be a positive number of seconds, got {keepalive_expiry!r}"
            )
        if not isinstance(verify, bool | ssl.SSLContext):
            raise ConfigurationError("verify must be True, False or an ssl.SSLContext")
        self._max_connections = max_connections
        self._keepalive_expiry = float(keepalive_expiry)
        self._verify = verify
        self._session: aiohttp.ClientSession | None = None
        self._loop: object = None
        self._closed = False
        self._errors = _Errors()
        import aiohttp  # noqa: PLC0415
        import yarl  # noqa: PLC0415 - comes with aiohttp

        self._url = yarl.URL
        self._client_timeout = aiohttp.ClientTimeout
        self._timeouts: dict[
            tuple[float | None, float | None, float | None], aiohttp.ClientTimeout
        ] = {}

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open" if self._session is not None else "idle"
        return f"<AiohttpTransport {state} max_connections={self._max_connections}>"

    def _open(self, loop: object) -> aiohttp.ClientSession:
        _check_backend()
        if self._closed:
            raise RuntimeError("the AiohttpTransport is closed")
        session = self._session
        if session is not None and not session.closed:
            raise ConfigurationError(
                "this AiohttpTransport's connections belong to another event loop; "
                "make one transport per event loop"
            )
        import aiohttp  # noqa: PLC0415

        connector = aiohttp.TCPConnector(
            limit=self._max_connections or 0,
            limit_per_host=0,
            keepalive_timeout=self._keepalive_expiry,
            ssl=self._verify,
        )
        session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            skip_auto_headers=_SKIP_AUTO_HEADERS,
            auto_decompress=False,
            trust_env=False,
            timeout=aiohttp.ClientTimeout(total=None),
        )
        self._session = session
        self._loop = loop
        return session

    def _timeout(self, request: httpx.Request) -> aiohttp.ClientTimeout:
        spec = request.extensions.get("timeout") or {}
        key = (spec.get("pool"), spec.get("connect"), spec.get("read"))
        timeout = self._timeouts.get(key)
        if timeout is None:
            pool, connect, read = key
            wait = None if pool is None or connect is None else pool + connect
            timeout = self._client_timeout(
                total=None, connect=wait, sock_connect=connect, sock_read=read
            )
            if len(self._timeouts) < 64:  # noqa: PLR2004 - a handful in practice
                self._timeouts[key] = timeout
        return timeout

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` through aiohttp; return the response with a streaming body.

        Raises:
            httpx.UnsupportedProtocol: A URL that is not http or https.
            httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout,
            httpx.ReadTimeout, httpx.ReadError, httpx.RemoteProtocolError: As
                httpx's own transport would.
            ConfigurationError: Used under trio, or from a second event loop.
        """
        loop = _running_loop()
        session = self._session
        if session is None or loop is not self._loop or session.closed:
            session = self._open(loop)
        url = request.url
        if url.scheme not in {"http", "https"}:
            raise httpx.UnsupportedProtocol(
                f"the URL scheme {url.scheme!r} is not http or https", request=request
            )
        body = await request.aread()
        headers = request.headers.multi_items()
        if body:
            headers = [(k, v) for k, v in headers if k.lower() != "transfer-encoding"]
            if not any(k.lower() == "content-length" for k, _ in headers):
                headers.append(("Content-Length", str(len(body))))
        errors = self._errors
        try:
            response = await session.request(
                request.method,
                self._url(str(url), encoded=True),
                headers=headers,
                data=body or None,
                allow_redirects=False,
                timeout=self._timeout(request),
            )
        except errors.catch as exc:
            raise errors.translate(exc, request) from exc
        return httpx.Response(
            status_code=response.status,
            headers=list(response.raw_headers),
            stream=_ResponseStream(response, request, errors),
            extensions={
                "http_version": b"HTTP/1.1"
                if response.version is None or response.version.minor == 1
                else b"HTTP/1.0",
                "reason_phrase": (response.reason or "").encode("latin-1", "replace"),
            },
        )

    async def aclose(self) -> None:
        """Close every connection; idempotent. Later requests raise `RuntimeError`."""
        self._closed = True
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()
