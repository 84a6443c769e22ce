"""OAuth 2.0 Site Access ("SolarEdge Connect"): authorize, exchange, refresh, revoke.

A homeowner grants one site to an application; the application exchanges the
code for an access token (2 h) and a refresh token (30 days). **Every refresh
issues a new refresh token and invalidates the old one**, so the new one must be
stored durably before the new access token is used. `RefreshingTokenProvider`
does that with a `TokenStore` (`FileTokenStore`, `MemoryTokenStore`, or your
own: three coroutine methods), allows one refresh per grant at a time (a
`RefreshLock`), refreshes before expiry, and never discards the only valid
refresh token when saving fails. Several processes or hosts share a grant through
`RedisTokenStore` and its `RedisRefreshLock` (extra ``redis``; the sync database's
token store is ``solaredge_async.store.DatabaseTokenStore``). Pass the provider as
``SolarEdgeClient(token_provider=...)``::

    store = FileTokenStore("~/.local/state/solar/tokens")
    async with OAuthClient(client_id, client_secret) as oauth:
        await store.save("site-4815162", await oauth.exchange_code(code))  # once
        provider = RefreshingTokenProvider(oauth, store=store, grant="site-4815162")
        async with SolarEdgeClient(token_provider=provider) as client:
            ...

Token calls go to ``POST {base}/oauth2/token`` with a JSON body; failures are
RFC 6749 bodies (``{"error", "error_description"}``) raised as `OAuthError`.
Every token call is bounded by the caller's cancel scopes, by `OAuthClient`'s
``timeout`` and by its ``max_response_bytes``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from solaredge_async._lazy import lazy_getattr
from solaredge_async.oauth._flow import (
    DEFAULT_AUTHORIZE_URL,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_SCOPES,
    OAuthClient,
    authorize_url,
)
from solaredge_async.oauth._locks import LocalRefreshLock, RefreshLock
from solaredge_async.oauth._provider import RefreshingTokenProvider
from solaredge_async.oauth._stores import (
    CallbackTokenStore,
    FileTokenStore,
    MemoryTokenStore,
    TokenStore,
    TokenStoreError,
)
from solaredge_async.oauth._tokens import TokenSet, decode_tokens, encode_tokens

if TYPE_CHECKING:
    from solaredge_async.oauth._redis import (
        RedisRefreshLock,
        RedisTokenStore,
        RefreshLockTimeoutError,
    )

__all__ = [
    "DEFAULT_AUTHORIZE_URL",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_SCOPES",
    "CallbackTokenStore",
    "FileTokenStore",
    "LocalRefreshLock",
    "MemoryTokenStore",
    "OAuthClient",
    "RedisRefreshLock",
    "RedisTokenStore",
    "RefreshLock",
    "RefreshLockTimeoutError",
    "RefreshingTokenProvider",
    "TokenSet",
    "TokenStore",
    "TokenStoreError",
    "authorize_url",
    "decode_tokens",
    "encode_tokens",
]

# coredis is an optional extra: the Redis module is imported when first asked for.
_REDIS_NAMES = ("RedisRefreshLock", "RedisTokenStore", "RefreshLockTimeoutError")
__getattr__ = lazy_getattr(__name__, dict.fromkeys(_REDIS_NAMES, "solaredge_async.oauth._redis"))
