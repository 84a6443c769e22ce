"""An anyio byte stream on an asyncio protocol, for `FastTransport` under asyncio.

anyio's own asyncio TCP stream turns reading off after every chunk and on again at the
next ``receive`` (two ``epoll_ctl`` system calls a receive), and takes a loop turn
before each one. For a request path that does one small receive per response, that is
a third of the transport's cost. This stream keeps reading on and buffers what arrives
(reading pauses only when more than `HIGH_WATER` bytes wait unread), so a ``receive``
with data already there returns at once and one without waits on one future.

It is asyncio-only on purpose and imported only when the running loop is asyncio's;
under trio `FastTransport` uses anyio's streams as before. TLS is asyncio's own
(``loop.create_connection(ssl=...)``).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING, Any, Final

import anyio
import anyio.abc

if TYPE_CHECKING:
    import ssl
    from collections.abc import Callable, Mapping

__all__ = ["AsyncioStream", "connect"]

#: Unread bytes above which reading pauses until the reader catches up.
HIGH_WATER: Final = 1024 * 1024
#: Seconds before the next address is tried while one still connects (RFC 8305).
HAPPY_EYEBALLS_DELAY: Final = 0.25


class _Protocol(asyncio.Protocol):
    """Buffers what arrives and wakes the one reader waiting, if any."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.chunks: deque[bytes] = deque()
        self.size = 0
        self.waiter: asyncio.Future[None] | None = None
        self.drained: asyncio.Future[None] | None = None
        self.eof = False
        self.error: BaseException | None = None
        self.reading_paused = False
        self.writing_paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)
        self.size += len(data)
        if self.size > HIGH_WATER and not self.reading_paused and self.transport is not None:
            self.reading_paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return False  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.error = exc
        self._wake()
        drained, self.drained = self.drained, None
        if drained is not None and not drained.done():
            drained.set_result(None)

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        drained, self.drained = self.drained, None
        if drained is not None and not drained.done():
            drained.set_result(None)

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class AsyncioStream(anyio.abc.ByteStream):
    """A connected TCP (or TLS) stream over asyncio's transport and `_Protocol`."""

    def __init__(self, transport: asyncio.Transport, protocol: _Protocol) -> None:
        self._transport = transport
        self._protocol = protocol
        self._closed = False

    @property
    def extra_attributes(self) -> Mapping[Any, Callable[[], Any]]:
        transport = self._transport
        return {
            anyio.abc.SocketAttribute.raw_socket: lambda: transport.get_extra_info("socket"),
        }

    def pending(self) -> bool:
        """True when data or the end of the stream waits unread (an idle peer closed)."""
        protocol = self._protocol
        return bool(protocol.chunks) or protocol.eof

    def write_nowait(self, data: bytes) -> bool:
        """Hand ``data`` to the transport without yielding; False when it cannot take it."""
        protocol = self._protocol
        if self._closed or protocol.eof or protocol.writing_paused:
            return False
        transport = self._transport
        if transport.is_closing():
            return False
        transport.write(data)
        return True

    async def receive(self, max_bytes: int = 65536) -> bytes:
        """The bytes buffered (up to ``max_bytes``), waiting for some when there are none.

        Raises:
            anyio.ClosedResourceError: This stream was closed.
            anyio.EndOfStream: The peer closed its side.
            anyio.BrokenResourceError: The connection failed.
        """
        protocol = self._protocol
        chunks = protocol.chunks
        if not chunks:
            if self._closed:
                raise anyio.ClosedResourceError
            if not protocol.eof:
                waiter = protocol.waiter = asyncio.get_running_loop().create_future()
                try:
                    await waiter
                finally:
                    protocol.waiter = None
            if not chunks:
                if self._closed:
                    raise anyio.ClosedResourceError
                if protocol.error is not None:
                    raise anyio.BrokenResourceError from protocol.error
                raise anyio.EndOfStream
        data = chunks.popleft()
        if len(data) > max_bytes:
            chunks.appendleft(data[max_bytes:])
            data = data[:max_bytes]
        protocol.size -= len(data)
        if protocol.reading_paused and protocol.size <= HIGH_WATER // 2:
            protocol.reading_paused = False
            self._transport.resume_reading()
        return data

    async def receive_by(self, max_bytes: int, deadline: float) -> bytes:
        """As `receive`, but a wait for data ends at ``deadline`` (the event loop's time).

        One timer on the loop instead of a cancel scope around the call.

        Raises:
            TimeoutError: Nothing arrived by ``deadline``.
            anyio.ClosedResourceError, anyio.EndOfStream, anyio.BrokenResourceError:
                As `receive`.
        """
        protocol = self._protocol
        if not protocol.chunks and not protocol.eof and not self._closed:
            loop = asyncio.get_running_loop()
            waiter = protocol.waiter = loop.create_future()
            timer = loop.call_at(deadline, _expire, waiter)
            try:
                await waiter
            finally:
                timer.cancel()
                protocol.waiter = None
        return await self.receive(max_bytes)

    async def send(self, item: bytes) -> None:
        """Write ``item``, waiting while the transport's buffer is full.

        Raises:
            anyio.ClosedResourceError: This stream was closed.
            anyio.BrokenResourceError: The connection failed or was closed by the peer.
        """
        if self._closed:
            raise anyio.ClosedResourceError
        protocol = self._protocol
        transport = self._transport
        if transport.is_closing() or protocol.error is not None:
            raise anyio.BrokenResourceError from protocol.error
        transport.write(item)
        while protocol.writing_paused and not transport.is_closing():
            drained = protocol.drained = asyncio.get_running_loop().create_future()
            await drained
        await anyio.lowlevel.checkpoint()

    async def send_eof(self) -> None:
        """Close the sending side (not over TLS, where it is not possible)."""
        if self._transport.can_write_eof():
            self._transport.write_eof()

    async def aclose(self) -> None:
        """Close the connection (no wait for the peer)."""
        if not self._closed:
            self._closed = True
            self._transport.close()
            self._protocol._wake()  # noqa: SLF001 - a reader waiting sees the close
        await anyio.lowlevel.checkpoint()


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


async def connect(host: str, port: int, ssl_context: ssl.SSLContext | None) -> AsyncioStream:
    """Open a TCP connection (TLS when ``ssl_context`` is given, verified for ``host``).

    Raises:
        OSError: The connection failed (``ssl.SSLError`` for the TLS handshake).
    """
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_connection(
        _Protocol,
        host,
        port,
        ssl=ssl_context,
        server_hostname=host if ssl_context is not None else None,
        happy_eyeballs_delay=HAPPY_EYEBALLS_DELAY,
    )
    return AsyncioStream(transport, protocol)
