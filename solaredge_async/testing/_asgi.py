"""The simulator as an ASGI application (reference §12.11: usable without a socket).

``Simulator.asgi_app()`` returns it: mount it in any ASGI server, or hand it to
``httpx.ASGITransport``. Latency faults are slept with anyio; a "reset" or "timeout"
fault ends the exchange without a response (the server then drops the connection).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from solaredge_async.testing._replies import answer

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, MutableMapping

    from solaredge_async.testing._replies import Reply

__all__ = ["SimulatorASGIApp"]


class SimulatorASGIApp:
    """An ASGI 3 application answering every HTTP request from the simulator.

    Args:
        handle: The simulator's request handler (`Simulator.handle`).
        clock: Monotonic clock (seconds) for the per-minute windows, or ``None``
            for ``anyio.current_time()``.
    """

    def __init__(
        self, handle: Callable[..., Reply], *, clock: Callable[[], float] | None = None
    ) -> None:
        self._handle = handle
        self._clock = clock

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[MutableMapping[str, Any]]],
        send: Callable[[MutableMapping[str, Any]], Awaitable[None]],
    ) -> None:
        """Serve one ASGI connection scope (``http``; ``lifespan`` is acknowledged)."""
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        path = scope.get("raw_path") or scope["path"].encode()
        path = path.partition(b"?")[0].decode("ascii", "replace")
        reply = await answer(
            self._handle,
            self._clock,
            scope["method"],
            path,
            scope.get("query_string", b"").decode("ascii", "replace"),
            headers,
            body,
        )
        try:
            if reply.action is not None:
                return  # reset or stall: no response at all
            await send(
                {
                    "type": "http.response.start",
                    "status": reply.status,
                    "headers": [(k.encode(), v.encode()) for k, v in reply.headers],
                }
            )
            await send({"type": "http.response.body", "body": reply.body})
        finally:
            reply.finish()
