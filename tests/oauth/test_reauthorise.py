"""A 401 on a bearer call: refresh once, retry once.

At the provider (invalidate the refused token, then ask for a token) and end to end
through SolarEdgeClient over an httpx.MockTransport.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import httpx
import pytest

from solaredge_async import AuthenticationError, SolarEdgeClient
from solaredge_async.oauth import (
    FileTokenStore,
    MemoryTokenStore,
    OAuthClient,
    RefreshingTokenProvider,
    TokenSet,
)

from ._support import CLIENT_ID, CLIENT_SECRET, TokenServer

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.anyio


class Api:
    """An API in front of a `TokenServer`: bearer calls succeed with a valid access token."""

    def __init__(self, server: TokenServer) -> None:
        self.server = server
        self.calls: list[tuple[str, int]] = []

    async def handle(self, request: httpx.Request) -> httpx.Response:
        """Token calls go to the token server; ``/sites/1/overview`` checks the bearer."""
        if request.url.path.startswith("/v2/oauth2/"):
            return await self.server.handle(request)
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        status = 200 if token in self.server.valid_access else 401
        self.calls.append((request.url.path, status))
        if status == 401:
            return httpx.Response(
                401,
                json={"title": "Unauthorized - Authentication Failed", "status": 401},
                headers={"content-type": "application/problem+json"},
            )
        return httpx.Response(200, json={"ok": True})


def _revoked_seed(server: TokenServer) -> TokenSet:
    """Tokens whose access token the server no longer accepts, though not yet expired."""
    return TokenSet(
        access_token="A-revoked-early",
        refresh_token=server.grant(),
        expires_at=datetime.fromtimestamp(time.time() + 7200, UTC),
        expires_in=7200.0,
    )


async def test_invalidate_then_token_is_the_hook_the_engine_uses() -> None:
    """What the engine does on a 401: invalidate(sent token); token() refreshes; retry."""
    server = TokenServer()
    store = MemoryTokenStore()
    await store.save("g", _revoked_seed(server))
    async with server.oauth() as oauth:
        provider = RefreshingTokenProvider(oauth, store=store, grant="g")
        sent = await provider.token()
        assert sent not in server.valid_access  # the call would get a 401
        provider.invalidate(sent)
        retry = await provider.token()
    assert retry in server.valid_access
    assert server.refreshes == 1


async def test_a_401_through_the_client_refreshes_once_and_retries() -> None:
    """SolarEdgeClient over a MockTransport: the 401 leads to one refresh and one retry."""
    server = TokenServer()
    api = Api(server)
    store = MemoryTokenStore()
    await store.save("g", _revoked_seed(server))
    transport = httpx.MockTransport(api.handle)
    async with OAuthClient(CLIENT_ID, CLIENT_SECRET, transport=transport) as oauth:
        provider = RefreshingTokenProvider(oauth, store=store, grant="g")
        async with SolarEdgeClient(
            token_provider=provider, transport=transport, requests_per_minute=None
        ) as client:
            assert await client.get("/sites/1/overview") == {"ok": True}
            assert await client.get("/sites/1/overview") == {"ok": True}
    assert api.calls == [("/v2/sites/1/overview", s) for s in (401, 200, 200)]
    assert server.refreshes == 1


async def test_a_401_with_a_fresh_token_is_not_retried_forever() -> None:
    """A token the server refuses right after a refresh: one retry at most, then the 401."""
    server = TokenServer()
    store = MemoryTokenStore()
    await store.save("g", _revoked_seed(server))

    async def refuse_all(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/v2/oauth2/"):
            return await server.handle(request)
        return httpx.Response(401, json={"title": "Unauthorized"})

    transport = httpx.MockTransport(refuse_all)
    async with OAuthClient(CLIENT_ID, CLIENT_SECRET, transport=transport) as oauth:
        provider = RefreshingTokenProvider(oauth, store=store, grant="g")
        async with SolarEdgeClient(
            token_provider=provider, transport=transport, requests_per_minute=None
        ) as client:
            with pytest.raises(AuthenticationError):
                await client.get("/sites/1/overview")
    assert server.refreshes <= 1


async def test_a_new_refresh_token_given_after_reconsent_is_used(tmp_path: Path) -> None:
    """The store holds a void set; the new consent's refresh token is tried and saved."""
    server = TokenServer()
    store = FileTokenStore(tmp_path / "tokens")
    async with server.oauth() as oauth:
        old = RefreshingTokenProvider(oauth, server.grant(), store=store, grant="site-1")
        await old()
        server.valid_refresh.clear()  # the grant was lost (revoked, expired after 30 days)
        server.valid_access.clear()
        stale = await store.load("site-1")
        assert stale is not None
        fresh = RefreshingTokenProvider(oauth, server.grant(), store=store, grant="site-1")
        fresh.invalidate(stale.access_token)  # the API answered 401 to the old token
        access = await fresh()
        saved = await store.load("site-1")
        # A later provider given the (now void) seed again adopts the saved set.
        again = RefreshingTokenProvider(oauth, "R-void", store=store, grant="site-1")
        assert await again() == access
    assert access in server.valid_access
    assert saved is not None
    assert saved.access_token == access
