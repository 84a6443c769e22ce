"""`PoolsTransport`: several small httpcore pools behind one httpx transport.

The fix for httpcore's collapse at high concurrency that works on asyncio *and* trio.
httpcore 1.0's pool walks its connections (and, for every idle one, all connections
again) each time a request enters or leaves it, so its per-request cost grows with the
square of the connections it holds: at 50-200 connections the pool alone costs
milliseconds per request. ``pools`` pools of ``connections`` connections each keep that
walk short; each request goes to the pool with the fewest requests in flight, so with
the client's in-flight bound at most ``pools x connections`` no pool ever holds more
than ``connections`` requests and nothing queues inside httpcore.

`SolarEdgeClient` uses it for its own connection pool (sized to ``max_concurrency``)
when neither ``transport`` nor ``http_client`` is given and httptools (for the faster
`FastTransport`) is not installed.
"""

from __future__ import annotations

import os
import ssl
from typing import TYPE_CHECKING, Self

import httpx

from solaredge_async.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

__all__ = ["PoolsTransport"]

#: Connections per pool that measured best on loopback (1-2 were equal, 8 was 25 % slower).
DEFAULT_CONNECTIONS = 2


class _Counted(httpx.AsyncByteStream):
    """A response stream that gives its pool's slot back when closed."""

    __slots__ = ("_closed", "_index", "_owner", "_stream")

    def __init__(self, stream: httpx.AsyncByteStream, owner: PoolsTransport, index: int) -> None:
        self._stream = stream
        self._owner = owner
        self._index = index
        self._closed = False

    def __aiter__(self) -> AsyncIterator[bytes]:
        # The pool's own iterator, not a generator of ours: an abandoned generator
        # would be finalised by the garbage collector, which trio warns about.
        return self._stream.__aiter__()

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            self._owner.in_flight[self._index] -= 1
            await self._stream.aclose()


class PoolsTransport(httpx.AsyncBaseTransport):
    """``pools`` httpcore connection pools of ``connections`` each, least busy first.

    Works wherever httpx's own transport works (asyncio and trio). All pools share one
    TLS context; with ``verify=True`` its CA bundle (tens of milliseconds to load) is
    loaded on the first ``https`` request, so a client of an ``http://`` URL never pays
    for it. Until then the context trusts no CA at all: it fails closed.

    Args:
        pools: Number of pools, >= 1.
        connections: Connections per pool (max and keep-alive alike), >= 1.
        verify: ``True`` (default CA bundle), ``False``, or an `ssl.SSLContext`.
        keepalive_expiry: Seconds an idle connection is kept open.

    Raises:
        ConfigurationError: ``pools`` or ``connections`` below 1.
    """

    def __init__(
        self,
        *,
        pools: int,
        connections: int = DEFAULT_CONNECTIONS,
        verify: ssl.SSLContext | bool = True,
        keepalive_expiry: float = 5.0,
    ) -> None:
        if pools < 1 or connections < 1:
            raise ConfigurationError("pools and connections must be at least 1")
        self._lazy_ca = verify is True
        if isinstance(verify, ssl.SSLContext):
            context = verify
        elif verify is True:
            # Certificates and host names are checked (the defaults of PROTOCOL_TLS_CLIENT);
            # the CA bundle comes on the first https request (`_load_ca`).
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        else:
            context = httpx.create_ssl_context(verify=False)
        self._context = context
        limits = httpx.Limits(
            max_connections=connections,
            max_keepalive_connections=connections,
            keepalive_expiry=keepalive_expiry,
        )
        self.pools = [httpx.AsyncHTTPTransport(verify=context, limits=limits) for _ in range(pools)]
        self.in_flight = [0] * pools

    @classmethod
    def for_concurrency(
        cls, max_concurrency: int, *, connections: int = DEFAULT_CONNECTIONS
    ) -> Self:
        """Enough pools of ``connections`` for ``max_concurrency`` requests in flight."""
        connections = min(connections, max_concurrency)
        return cls(pools=-(-max_concurrency // connections), connections=connections)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` through the pool with the fewest requests in flight."""
        if self._lazy_ca and request.url.scheme == "https":
            self._load_ca()
        in_flight = self.in_flight
        index = in_flight.index(min(in_flight))
        in_flight[index] += 1
        try:
            response = await self.pools[index].handle_async_request(request)
        except BaseException:
            in_flight[index] -= 1
            raise
        stream = response.stream
        if not isinstance(stream, httpx.AsyncByteStream):  # pragma: no cover - httpcore's is
            in_flight[index] -= 1
            return response
        response.stream = _Counted(stream, self, index)
        return response

    def _load_ca(self) -> None:
        """Load the CA bundle httpx would use (``SSL_CERT_FILE``/``SSL_CERT_DIR`` or certifi)."""
        self._lazy_ca = False
        load_default_ca(self._context)

    @property
    def ssl_context_loaded(self) -> bool:
        """Whether the CA bundle was loaded (only ever on an ``https`` request)."""
        return not self._lazy_ca

    def busy(self) -> tuple[int, int]:
        """``(connections in use, requests queued or assigned)`` over every pool.

        Both are 0 when nothing is in flight: a check that cancelled requests left no
        connection or pool slot behind.
        """
        connections = requests = 0
        for transport in self.pools:
            pool = transport._pool  # noqa: SLF001 - httpcore's pool behind httpx
            connections += sum(not (c.is_idle() or c.is_closed()) for c in pool.connections)
            requests += len(pool._requests)  # noqa: SLF001
        return connections, requests

    async def aclose(self) -> None:
        """Close every pool."""
        for pool in self.pools:
            await pool.aclose()


def load_default_ca(context: ssl.SSLContext) -> None:
    """Load into ``context`` the CA bundle ``httpx.create_ssl_context(verify=True)`` uses.

    ``SSL_CERT_FILE`` or ``SSL_CERT_DIR`` when set, else certifi's bundle; with a
    ``PROTOCOL_TLS_CLIENT`` context this gives what `ssl.create_default_context` would.
    """
    if os.environ.get("SSL_CERT_FILE"):
        context.load_verify_locations(cafile=os.environ["SSL_CERT_FILE"])
    elif os.environ.get("SSL_CERT_DIR"):
        context.load_verify_locations(capath=os.environ["SSL_CERT_DIR"])
    else:
        import certifi  # noqa: PLC0415 - comes with httpx

        context.load_verify_locations(cafile=certifi.where())
