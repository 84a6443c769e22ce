"""Revoke (reference §2: POST {base}/oauth2/revoke-token, body {"token": ...})."""

from __future__ import annotations

import json

import httpx
import pytest

from solaredge_async.errors import ConfigurationError, OAuthError
from solaredge_async.oauth import (
    MemoryTokenStore,
    OAuthClient,
    RefreshingTokenProvider,
    TokenStoreError,
)

from ._support import CLIENT_ID, CLIENT_SECRET, FlakyStore, TokenServer

pytestmark = pytest.mark.anyio


async def test_revoke_posts_the_documented_body() -> None:
    """OAuthClient.revoke sends {"token": ...} as JSON to /oauth2/revoke-token."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    async with OAuthClient(
        CLIENT_ID, CLIENT_SECRET, transport=httpx.MockTransport(handler)
    ) as oauth:
        await oauth.revoke("R-abc")
    assert [(r.method, r.url.path) for r in seen] == [("POST", "/v2/oauth2/revoke-token")]
    assert json.loads(seen[0].content) == {"token": "R-abc"}


@pytest.mark.parametrize(
    "reply",
    [httpx.Response(200), httpx.Response(204), httpx.Response(200, text="OK")],
)
async def test_revoke_accepts_any_success_body(reply: httpx.Response) -> None:
    """RFC 7009: a 2xx is success whatever its body (empty, 204, plain text)."""
    transport = httpx.MockTransport(lambda _request: reply)
    async with OAuthClient(CLIENT_ID, CLIENT_SECRET, transport=transport) as oauth:
        await oauth.revoke("R-abc")


async def test_the_provider_revokes_the_grant_and_forgets_its_tokens() -> None:
    """provider.revoke(): the refresh token is revoked, the store and memory emptied."""
    server = TokenServer()
    store = MemoryTokenStore()
    async with server.oauth() as oauth:
        provider = RefreshingTokenProvider(oauth, server.grant(), store=store, grant="g")
        await provider()
        live = await store.load("g")
        assert live is not None
        await provider.revoke()
        assert server.revoked == [live.refresh_token]
        assert await store.load("g") is None
        with pytest.raises(ConfigurationError, match="no tokens for grant"):
            await provider()  # nothing left to refresh with: the owner must consent again
    assert server.refreshes == 1


async def test_a_refused_revoke_keeps_the_tokens() -> None:
    """The server refuses the revocation: OAuthError, and the tokens are still stored."""
    server = TokenServer()
    store = MemoryTokenStore()

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/revoke-token"):
            return httpx.Response(400, json={"error": "invalid_request", "error_description": "no"})
        return await server.handle(request)

    async with OAuthClient(
        CLIENT_ID, CLIENT_SECRET, transport=httpx.MockTransport(handler)
    ) as oauth:
        provider = RefreshingTokenProvider(oauth, server.grant(), store=store, grant="g")
        access = await provider()
        with pytest.raises(OAuthError, match="invalid_request"):
            await provider.revoke()
        assert await provider() == access
    assert await store.load("g") is not None


async def test_revoke_uses_an_unsaved_rotated_token() -> None:
    """After a failed save, revoke revokes the live (unsaved) refresh token, not a void one."""
    server = TokenServer()
    store = FlakyStore(fail=1)
    seed = server.grant()
    async with server.oauth() as oauth:
        provider = RefreshingTokenProvider(oauth, seed, store=store)
        with pytest.raises(TokenStoreError, match="kept in memory"):
            await provider()
        await provider.revoke()
    assert len(server.revoked) == 1
    assert server.revoked[0] != seed
