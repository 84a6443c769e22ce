"""A raw HTTP/1.1 server on 127.0.0.1 that records requests and replies with fixed bytes."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable


class RawServer:
    """Each request's head and body are kept in `requests`; ``reply`` makes the answer.

    ``reply(head, body)`` returns the bytes to write, or ``None`` to close the
    connection without answering. ``stall`` holds the answer back forever; ``close``
    closes the connection after each answer.
    """

    def __init__(
        self,
        reply: Callable[[bytes, bytes], bytes | None],
        *,
        stall: bool = False,
        close: bool = False,
    ) -> None:
        self.reply = reply
        self.stall = stall
        self.close = close
        self.requests: list[tuple[bytes, bytes]] = []
        self.connections = 0
        self.url = ""

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                body = await reader.readexactly(length) if length else b""
                self.requests.append((head, body))
                if self.stall:
                    # A hung server: it never answers, and hangs up only when the
                    # client gives up (EOF); the client's read timeout ends the wait.
                    await reader.read()
                    return
                answer = self.reply(head, body)
                if answer is None:
                    return
                writer.write(answer)
                await writer.drain()
                if self.close:
                    return
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    @contextlib.asynccontextmanager
    async def serve(self) -> AsyncIterator[str]:
        """Serve on a free port of 127.0.0.1; yield ``http://127.0.0.1:PORT``."""
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        try:
            yield self.url
        finally:
            server.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), 1.0)


def response(body: bytes, *headers: str, status: str = "200 OK") -> bytes:
    """An HTTP/1.1 response with ``Content-Length`` and the given extra header lines."""
    lines = [f"HTTP/1.1 {status}", *headers, f"Content-Length: {len(body)}", "", ""]
    return "\r\n".join(lines).encode("latin-1") + body


def header_lines(head: bytes) -> list[tuple[str, str]]:
    """The header lines of a request head as ``(lower-case name, value)`` pairs."""
    out = []
    for line in head.decode("latin-1").split("\r\n")[1:]:
        if line:
            name, _, value = line.partition(":")
            out.append((name.strip().lower(), value.strip()))
    return out
