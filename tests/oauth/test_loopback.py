"""Token calls against a real HTTP server on 127.0.0.1: a stalled body and a 400 MiB body.

The server counts the body bytes it managed to send. Real clocks (real sockets); the
stalled server sends a few bytes and then waits for the client to hang up, so nothing
here sleeps, and nothing asserts how long a call took.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
import pytest

from solaredge_async.errors import ResponseValidationError
from solaredge_async.oauth import DEFAULT_MAX_RESPONSE_BYTES, OAuthClient

from ._support import CLIENT_ID, CLIENT_SECRET, HTTPX_INNER_GENERATORS

if TYPE_CHECKING:
    from anyio.abc import SocketStream

pytestmark = [pytest.mark.anyio, pytest.mark.loopback, HTTPX_INNER_GENERATORS]

MIB = 1024 * 1024


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Real clocks: the server is on real sockets."""
    return str(request.param)


class _Server:
    """Answers one kind of token response; ``sent`` counts body bytes written."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.sent = 0
        self.requests = 0

    async def serve(self, stream: SocketStream) -> None:
        async with stream:
            try:
                await self._answer(stream)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                pass  # the client hung up: what it was meant to do

    async def _answer(self, stream: SocketStream) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            head += await stream.receive()
        self.requests += 1
        if self.mode == "stall":
            await stream.send(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                b'content-length: 120\r\n\r\n{"a'
            )
            self.sent += 3
            while True:  # wait for the client to hang up; never sleep
                await stream.receive()
        declared = b"content-length: %d\r\n" % (400 * MIB) if self.mode == "declared" else b""
        await stream.send(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            + declared
            + b"connection: close\r\n\r\n"
        )
        chunk = b" " * (64 * 1024)
        while self.sent < 400 * MIB:
            await stream.send(chunk)
            self.sent += len(chunk)


async def _refresh(server: _Server) -> None:
    """Serve on 127.0.0.1 and make one refresh against it; raise what the refresh raised."""
    failure: list[BaseException] = []
    async with (
        await anyio.create_tcp_listener(local_host="127.0.0.1") as listener,
        anyio.create_task_group() as tg,
    ):
        tg.start_soon(listener.serve, server.serve)
        port = listener.extra(anyio.abc.SocketAttribute.local_port)  # noqa: S610
        base = f"http://127.0.0.1:{port}/v2"
        try:
            async with OAuthClient(CLIENT_ID, CLIENT_SECRET, base_url=base) as oauth:
                await oauth.refresh("R-loopback")
        except Exception as exc:  # re-raised below, outside the task group
            failure.append(exc)
        finally:
            tg.cancel_scope.cancel()
    if failure:
        raise failure[0]


async def test_a_stalled_token_response_ends_at_the_callers_deadline() -> None:
    """Headers and 3 bytes, then nothing: move_on_after ends the call; nothing more read."""
    server = _Server("stall")
    with anyio.move_on_after(0.5) as scope:
        await _refresh(server)
    assert scope.cancelled_caught
    assert (server.requests, server.sent) == (1, 3)


async def test_a_400_mib_token_response_is_cut_at_the_cap() -> None:
    """Endless body, no Content-Length: refused past the cap; the server could not send it all."""
    server = _Server("endless")
    with pytest.raises(ResponseValidationError, match="larger than"):
        await _refresh(server)
    # What the client read is at most the cap plus a chunk; the rest of what the server
    # sent sat in the loopback socket buffers when the client hung up.
    assert DEFAULT_MAX_RESPONSE_BYTES < server.sent < 64 * MIB


async def test_a_declared_400_mib_token_response_is_refused_unread() -> None:
    """Content-Length: 400 MiB: refused from the headers alone."""
    server = _Server("declared")
    with pytest.raises(ResponseValidationError, match="max_response_bytes"):
        await _refresh(server)
    assert server.sent < 64 * MIB
