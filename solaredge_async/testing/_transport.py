"""An in-process httpx transport that answers from the simulator (asyncio and trio)."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import anyio
import httpx

from solaredge_async.testing._replies import answer

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from solaredge_async.testing._replies import Reply

__all__ = ["SimulatorTransport"]


class SimulatorTransport(httpx.AsyncBaseTransport):
    """Answers httpx requests from the simulator, without a socket.

    Works under asyncio and trio. Latency faults sleep with `anyio.sleep` (so a virtual
    clock such as trio's ``MockClock`` skips them); per-minute windows use
    ``anyio.current_time()`` unless a clock is given.

    Connection faults raise what httpx raises for the real thing: a reset raises
    `httpx.ReadError` or `httpx.RemoteProtocolError` (alternately); a stalled response
    sleeps the request's read timeout (or the configured stall) and raises
    `httpx.ReadTimeout`.

    Args:
        handle: The simulator's request handler.
        clock: Monotonic clock (seconds) for the per-minute windows, or ``None``.
        stall: Seconds a stalled response waits when the request has no read timeout.
    """

    def __init__(
        self,
        handle: Callable[..., Reply],
        *,
        clock: Callable[[], float] | None = None,
        stall: float = 30.0,
    ) -> None:
        self._handle = handle
        self._clock = clock
        self._stall = stall
        self._resets = itertools.count()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Answer one request (see the class docstring for the faults it raises)."""
        body = await request.aread()
        raw = request.url.raw_path
        path, _, query = raw.partition(b"?")
        headers: Mapping[str, str] = request.headers
        reply = await answer(
            self._handle,
            self._clock,
            request.method,
            path.decode("ascii", "replace"),
            query.decode("ascii", "replace"),
            headers,
            body,
        )
        try:
            if reply.action == "reset":
                if next(self._resets) % 2:
                    raise httpx.RemoteProtocolError(
                        "Server disconnected without sending a response.", request=request
                    )
                raise httpx.ReadError("[Errno 104] Connection reset by peer", request=request)
            if reply.action == "timeout":
                timeouts = request.extensions.get("timeout") or {}
                read = timeouts.get("read") if isinstance(timeouts, dict) else None
                await anyio.sleep(self._stall if read is None else float(read))
                raise httpx.ReadTimeout("The read operation timed out", request=request)
            return httpx.Response(
                reply.status,
                headers=reply.headers,
                content=reply.body,
                request=request,
                extensions={"http_version": b"HTTP/1.1"},
            )
        finally:
            reply.finish()
