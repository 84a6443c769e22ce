"""httpx transports: the seam between the request engine and the network.

Each transport is an `httpx.AsyncBaseTransport`, so a user may pass any of them, or
their own, to `SolarEdgeClient(transport=...)`.

- `FastTransport`: HTTP/1.1 on anyio streams with httptools' C parser, asyncio and trio
  (the default when the ``fast`` extra's httptools is installed).
- `PoolsTransport`: several small httpcore pools (the default without httptools).
- `AiohttpTransport`: aiohttp under an httpx transport (asyncio only; the ``fast`` extra).

Whatever the transport, the request engine reads bodies raw and decodes them itself,
a bounded chunk at a time (`_decode`), within its body cap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

__all__ = ["default_transport"]


def default_transport(max_concurrency: int) -> httpx.AsyncBaseTransport:
    """The transport `SolarEdgeClient` makes for itself, sized to ``max_concurrency``.

    `FastTransport` when httptools is installed (the ``fast`` extra), else
    `PoolsTransport`. Neither builds a TLS context before its first ``https`` request.
    """
    from solaredge_async.transports._fast import (  # noqa: PLC0415
        FastTransport,
        httptools_available,
    )

    if httptools_available():
        return FastTransport(max_connections=max_concurrency)
    from solaredge_async.transports._pools import PoolsTransport  # noqa: PLC0415

    return PoolsTransport.for_concurrency(max_concurrency)
