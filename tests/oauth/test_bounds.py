"""Token calls end at the caller's deadline, at OAuthClient's timeout, and at the size cap.

A token endpoint trickling 1 byte per (virtual) second and one answering 400 MiB, over
an httpx.MockTransport whose body generator counts what it gave out. Assertions are on
the error raised and on the bytes read, never on elapsed time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
import httpx
import pytest

from solaredge_async.errors import RequestTimeoutError, ResponseValidationError
from solaredge_async.oauth import (
    DEFAULT_MAX_RESPONSE_BYTES,
    MemoryTokenStore,
    OAuthClient,
    RefreshingTokenProvider,
)

from ._support import CLIENT_ID, CLIENT_SECRET, HTTPX_INNER_GENERATORS, TokenServer

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

pytestmark = [pytest.mark.anyio, HTTPX_INNER_GENERATORS]

TOKEN_BODY = (
    b'{"access_token":"A-0123456789abcdef","refresh_token":"R-0123456789abcdef",'
    b'"token_type":"Bearer","expires_in":7200}'
)
MIB = 1024 * 1024


class Endpoint:
    """A token endpoint whose body is produced lazily; ``sent`` counts the bytes given out."""

    def __init__(self, *, byte_delay: float = 0.0, size: int = 0, declare: bool = False) -> None:
        self.byte_delay = byte_delay
        self.size = size
        self.declare = declare
        self.sent = 0
        self.calls = 0

    async def _slow(self) -> AsyncIterator[bytes]:
        for value in TOKEN_BODY:
            await anyio.sleep(self.byte_delay)
            self.sent += 1
            yield bytes([value])

    async def _huge(self) -> AsyncIterator[bytes]:
        chunk = b" " * (64 * 1024)
        while self.sent < self.size:
            self.sent += len(chunk)
            yield chunk

    async def handle(self, _request: httpx.Request) -> httpx.Response:
        """Answer with the slow or the huge body."""
        self.calls += 1
        headers = {"content-type": "application/json"}
        if self.declare:
            headers["content-length"] = str(self.size)
        body = self._huge() if self.size else self._slow()
        return httpx.Response(200, headers=headers, content=body)

    def oauth(self, **kwargs: object) -> OAuthClient:
        """An `OAuthClient` over this endpoint."""
        return OAuthClient(
            CLIENT_ID,
            CLIENT_SECRET,
            transport=httpx.MockTransport(self.handle),
            **kwargs,  # type: ignore[arg-type]
        )


async def test_a_1_byte_per_second_token_endpoint_ends_at_the_callers_deadline() -> None:
    """move_on_after(3) around a refresh trickling 1 B/s: cancelled after ~3 bytes."""
    endpoint = Endpoint(byte_delay=1.0)
    async with endpoint.oauth() as oauth:
        with anyio.move_on_after(3) as scope:
            await oauth.refresh("R-old")
    assert scope.cancelled_caught
    assert endpoint.sent <= 3  # of len(TOKEN_BODY): the call did not wait for the rest
    assert len(TOKEN_BODY) > 100


async def test_a_provider_refresh_ends_at_the_callers_deadline_and_recovers() -> None:
    """The provider's refresh is not shielded: it ends at the deadline; later calls work."""
    endpoint = Endpoint(byte_delay=1.0)
    server = TokenServer()
    store = MemoryTokenStore()
    async with endpoint.oauth() as slow:
        provider = RefreshingTokenProvider(slow, server.grant(), store=store)
        with anyio.move_on_after(3) as scope:
            await provider()
        assert scope.cancelled_caught
        assert endpoint.sent <= 3
        # The lock was released: a second caller is not stuck behind the first.
        with anyio.move_on_after(3) as scope:
            await provider()
        assert scope.cancelled_caught
    assert await store.load(provider.grant) is None
    assert endpoint.calls == 2


async def test_the_oauth_clients_timeout_bounds_the_whole_call() -> None:
    """No caller deadline: timeout=10 ends a trickling response with RequestTimeoutError."""
    endpoint = Endpoint(byte_delay=1.0)
    async with endpoint.oauth(timeout=10) as oauth:
        with pytest.raises(RequestTimeoutError, match="within 10 s") as info:
            await oauth.refresh("R-old")
    assert endpoint.sent <= 10
    assert CLIENT_SECRET not in str(info.value)
    assert info.value.__context__ is None or CLIENT_SECRET not in repr(info.value.__context__)


async def test_a_400_mib_token_response_is_not_read_whole() -> None:
    """A 400 MiB body (no Content-Length): refused once past the cap, after ~one chunk."""
    endpoint = Endpoint(size=400 * MIB)
    async with endpoint.oauth() as oauth:
        with pytest.raises(ResponseValidationError, match="larger than 65536 bytes"):
            await oauth.refresh("R-old")
    assert endpoint.sent <= DEFAULT_MAX_RESPONSE_BYTES + 64 * 1024


async def test_a_declared_400_mib_token_response_is_refused_unread() -> None:
    """Content-Length over the cap: refused before a byte of the body is read."""
    endpoint = Endpoint(size=400 * MIB, declare=True)
    async with endpoint.oauth() as oauth:
        with pytest.raises(ResponseValidationError, match="max_response_bytes"):
            await oauth.exchange_code("code-1")
    assert endpoint.sent == 0


async def test_the_size_cap_is_configurable() -> None:
    """max_response_bytes=1024 refuses a 2 KiB body after at most one chunk."""
    endpoint = Endpoint(size=2 * MIB)
    async with endpoint.oauth(max_response_bytes=1024) as oauth:
        with pytest.raises(ResponseValidationError, match="larger than 1024 bytes"):
            await oauth.refresh("R-old")
    assert endpoint.sent == 64 * 1024


@pytest.mark.parametrize(
    "kwargs",
    [
        {"timeout": 0},
        {"timeout": float("inf")},
        {"max_response_bytes": 0},
        {"max_response_bytes": 1.5},
        {"max_response_bytes": True},
    ],
)
def test_bad_bounds_are_refused(kwargs: dict[str, object]) -> None:
    """A timeout or size cap that is not a positive (finite) number is refused."""
    from solaredge_async.errors import ConfigurationError

    with pytest.raises(ConfigurationError):
        Endpoint().oauth(**kwargs)
