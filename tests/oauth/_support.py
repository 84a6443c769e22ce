"""A token endpoint in a MockTransport: rotating single-use refresh tokens, counted calls."""

from __future__ import annotations

import json
import secrets
from typing import TYPE_CHECKING

import anyio
import httpx
import pytest

from solaredge_async._checks import DEFAULT_BASE_URL
from solaredge_async.oauth import MemoryTokenStore, OAuthClient

if TYPE_CHECKING:
    from solaredge_async.oauth import TokenSet

BASE = DEFAULT_BASE_URL  # only ever behind in-process mock transports
CLIENT_ID = "test-app"
CLIENT_SECRET = "TEST-CLIENT-SECRET-0123456789"


class TokenServer:
    """Issues tokens like the API: every refresh voids the refresh token it used.

    Attributes:
        refreshes: Token calls with ``grant_type=refresh_token`` that succeeded.
        refused: Token calls answered ``invalid_grant``.
        revoked: Tokens revoked.
        delay: Seconds each token call waits before answering (virtual time).
        answer_delay: Seconds a refresh waits after rotating, before answering.
        valid_access: Access tokens a bearer call would accept.
    """

    def __init__(self, *, expires_in: int = 7200) -> None:
        self.expires_in = expires_in
        self.refreshes = 0
        self.refused = 0
        self.revoked: list[str] = []
        self.delay = 0.0
        self.answer_delay = 0.0
        self.valid_refresh: set[str] = set()
        self.valid_access: set[str] = set()

    def grant(self) -> str:
        """A fresh refresh token, as if the owner had just consented."""
        token = "R-" + secrets.token_hex(8)
        self.valid_refresh.add(token)
        return token

    def _issue(self) -> dict[str, object]:
        access, refresh = "A-" + secrets.token_hex(8), "R-" + secrets.token_hex(8)
        self.valid_access.add(access)
        self.valid_refresh.add(refresh)
        return {
            "access_token": access,
            "refresh_token": refresh,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
        }

    async def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer ``/oauth2/token`` and ``/oauth2/revoke-token``."""
        if self.delay:
            await anyio.sleep(self.delay)
        body = json.loads(request.content)
        if request.url.path.endswith("/oauth2/revoke-token"):
            token = body["token"]
            self.revoked.append(token)
            self.valid_refresh.discard(token)
            self.valid_access.clear()
            return httpx.Response(200, json={})
        token = body.get("refresh_token")
        if token not in self.valid_refresh:
            self.refused += 1
            return httpx.Response(
                400, json={"error": "invalid_grant", "error_description": "refresh token void"}
            )
        self.valid_refresh.discard(token)
        self.refreshes += 1
        issued = self._issue()
        if self.answer_delay:
            # Rotated already: a client that stops waiting now has lost the new tokens.
            await anyio.sleep(self.answer_delay)
        return httpx.Response(200, json=issued)

    def oauth(self, **kwargs: object) -> OAuthClient:
        """An `OAuthClient` over this server."""
        return OAuthClient(
            CLIENT_ID,
            CLIENT_SECRET,
            transport=httpx.MockTransport(self.handle),
            **kwargs,  # type: ignore[arg-type]
        )


class FlakyStore(MemoryTokenStore):
    """A memory store whose next ``fail`` saves raise ``error`` (a full disk)."""

    def __init__(self, fail: int = 0, error: Exception | None = None) -> None:
        super().__init__()
        self.fail = fail
        self.error = error or OSError(28, "No space left on device")
        self.saves = 0

    async def save(self, grant: str, tokens: TokenSet) -> None:
        """Fail while ``fail`` is positive, then save."""
        self.saves += 1
        if self.fail > 0:
            self.fail -= 1
            raise self.error
        await super().save(grant, tokens)


#: httpx's response iterators are async generators nested in one another; when a body is
#: abandoned (the size cap, a cancellation) the outer one is closed and trio then warns
#: about the inner ones being finalised by the garbage collector (encode/httpx#3593). The
#: tests assert on what was read instead; see also tests/reliability/_support.py.
HTTPX_INNER_GENERATORS = pytest.mark.filterwarnings(
    "ignore:Exception ignored in. <async_generator object "
    "(Response.aiter_raw|BoundAsyncStream.__aiter__|AsyncIteratorByteStream.__aiter__|"
    "AsyncResponseStream.__aiter__|PoolByteStream.__aiter__|"
    "HTTP11ConnectionByteStream.__aiter__|AsyncHTTP11Connection._receive_response_body|"
    "Endpoint._huge|Endpoint._slow)"
    ":pytest.PytestUnraisableExceptionWarning"
)
