"""A small, fast HTTP/1.1 keep-alive server for the simulator, on a raw asyncio Protocol.

It parses the request line and headers by hand, reads ``Content-Length`` bodies, answers
pipelined requests in order, and carries out the simulator's connection faults: latency
(``asyncio.sleep``), resets (an RST via ``SO_LINGER 0``) and stalls. No framework, so a
single core serves well over ten thousand small requests a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import socket
import struct
import threading
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from solaredge_async.testing._replies import Reply

__all__ = ["ServerThread", "serve_forever"]

Handler = Callable[..., "Reply"]

_MAX_HEAD: Final = 64 * 1024
_MAX_BODY: Final = 1024 * 1024


def _reason(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


_REASONS: Final = {code: _reason(code) for code in range(100, 600)}


class _HTTPProtocol(asyncio.Protocol):
    """One client connection."""

    def __init__(
        self,
        handle: Handler,
        clock: Callable[[], float],
        stall: float,
        connections: set[_HTTPProtocol],
    ) -> None:
        self._handle = handle
        self._clock = clock
        self._stall = stall
        self._connections = connections
        self._buf = bytearray()
        self._queue: deque[tuple[Reply, bool, bool]] = deque()
        self._worker: asyncio.Task[None] | None = None
        self._transport: asyncio.Transport | None = None
        self._closing = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)  # noqa: S101 - asyncio contract
        self._transport = transport
        self._connections.add(self)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:  # noqa: ARG002
        self._closing = True
        self._connections.discard(self)
        if self._worker is not None:
            self._worker.cancel()
        while self._queue:
            reply, _keep, _head = self._queue.popleft()
            reply.finish()

    def close(self) -> None:
        """Close the connection (server shutdown)."""
        if self._transport is not None:
            self._transport.close()

    def data_received(self, data: bytes) -> None:  # noqa: C901, PLR0911, PLR0912
        if self._closing:
            return
        buf = self._buf
        buf += data
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > _MAX_HEAD:
                    self._fail(431)
                return
            head = bytes(buf[:end]).decode("latin-1")
            lines = head.split("\r\n")
            try:
                method, target, version = lines[0].split(" ")
            except ValueError:
                self._fail(400)
                return
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if not sep:
                    self._fail(400)
                    return
                headers[name.strip().lower()] = value.strip()
            if "transfer-encoding" in headers:
                self._fail(411)
                return
            try:
                length = int(headers.get("content-length", "0"))
            except ValueError:
                self._fail(400)
                return
            if length < 0 or length > _MAX_BODY:
                self._fail(413)
                return
            total = end + 4 + length
            if len(buf) < total:
                return
            body = bytes(buf[end + 4 : total])
            del buf[:total]
            conn = headers.get("connection", "").lower()
            keep = conn != "close" if version == "HTTP/1.1" else conn == "keep-alive"
            if target.startswith(("http://", "https://")):
                slash = target.find("/", target.find("//") + 2)
                target = target[slash:] if slash >= 0 else "/"
            path, _, query = target.partition("?")
            reply = self._handle(method, path, query, headers, body, mono=self._clock())
            head_only = method == "HEAD"
            if not self._queue and reply.delay <= 0 and reply.action is None:
                self._write(reply, keep, head_only)
                reply.finish()
                if not keep:
                    self._closing = True
                    return
            else:
                self._queue.append((reply, keep, head_only))
                if self._worker is None or self._worker.done():
                    self._worker = asyncio.get_running_loop().create_task(self._drain())
                if not keep:
                    return

    def _fail(self, status: int) -> None:
        self._closing = True
        if self._transport is not None:
            self._transport.write(
                f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
                "content-length: 0\r\nconnection: close\r\n\r\n".encode("latin-1")
            )
            self._transport.close()

    def _write(self, reply: Reply, keep: bool, head_only: bool = False) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        parts = [f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, 'Unknown')}\r\n"]
        parts.extend(f"{k}: {v}\r\n" for k, v in reply.headers)
        parts.append(f"content-length: {len(reply.body)}\r\n")
        if not keep:
            parts.append("connection: close\r\n")
        parts.append("\r\n")
        head = "".join(parts).encode("latin-1")
        transport.write(head if head_only else head + reply.body)
        if not keep:
            transport.close()

    def _reset(self) -> None:
        transport = self._transport
        if transport is None:
            return
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()

    async def _drain(self) -> None:
        while self._queue and not self._closing:
            reply, keep, head_only = self._queue[0]
            try:
                if reply.delay > 0:
                    await asyncio.sleep(reply.delay)
                if reply.action == "reset":
                    self._closing = True
                    self._reset()
                    return
                if reply.action == "timeout":
                    await asyncio.sleep(self._stall)
                    self._closing = True
                    if self._transport is not None:
                        self._transport.close()
                    return
                self._write(reply, keep, head_only)
                if not keep:
                    self._closing = True
                    return
            finally:
                if self._queue and self._queue[0][0] is reply:
                    self._queue.popleft()
                reply.finish()


async def serve_forever(
    handle: Handler,
    host: str,
    port: int,
    *,
    clock: Callable[[], float],
    stall: float,
    on_ready: Callable[[int], None],
    stop: asyncio.Event,
) -> None:
    """Serve until ``stop`` is set; ``on_ready`` gets the bound port."""
    loop = asyncio.get_running_loop()
    connections: set[_HTTPProtocol] = set()
    server = await loop.create_server(
        lambda: _HTTPProtocol(handle, clock, stall, connections),
        host,
        port,
        reuse_address=True,
        backlog=1024,
    )
    try:
        on_ready(server.sockets[0].getsockname()[1])
        await stop.wait()
    finally:
        server.close()
        for conn in list(connections):
            conn.close()
        await server.wait_closed()


class ServerThread:
    """The loopback server in a background thread, with its own asyncio loop.

    Args:
        handle: The simulator's request handler.
        host: Interface to bind. port: Port to bind (0 picks a free one).
        clock: Monotonic clock (seconds) for the per-minute windows.
        stall: Seconds a stalled response waits before the connection is closed.
    """

    def __init__(
        self, handle: Handler, host: str, port: int, *, clock: Callable[[], float], stall: float
    ) -> None:
        self._handle = handle
        self._host = host
        self._port = port
        self._clock = clock
        self._stall = stall
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self.port = 0
        self.thread = threading.Thread(target=self._main, name="solaredge-simulator", daemon=True)

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._run())
        except BaseException as exc:  # noqa: BLE001 - handed to the starting thread
            self._error = exc
        finally:
            self._ready.set()
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _run(self) -> None:
        self._stop = asyncio.Event()

        def ready(port: int) -> None:
            self.port = port
            self._ready.set()

        await serve_forever(
            self._handle,
            self._host,
            self._port,
            clock=self._clock,
            stall=self._stall,
            on_ready=ready,
            stop=self._stop,
        )
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def start(self) -> None:
        """Start the thread and wait until the port is bound.

        Raises:
            OSError: The address could not be bound.
        """
        self.thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        """Stop serving, close every connection and join the thread."""
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
        self.thread.join()
