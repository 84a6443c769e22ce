"""OAuth 2.0 Site Access ("SolarEdge Connect"): authorize, exchange, refresh, revoke.

A homeowner grants one site to an application; the application exchanges the
code for an access token (2 h) and a refresh token (30 days). **Every refresh
issues a new refresh token and invalidates the old one**, so the new one must be
stored durably before the new access token is used: `RefreshingTokenProvider`
calls ``on_refresh`` first, allows one refresh at a time, and refreshes before
expiry. Pass it as ``SolarEdgeClient(token_provider=...)``.

Token calls go to ``POST {base}/oauth2/token`` with a JSON body; failures are
RFC 6749 bodies (``{"error", "error_description"}``) raised as `OAuthError`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Final
from urllib.parse import urlencode

import anyio
import attrs
import httpx

from solaredge_async._credentials import check_secret
from solaredge_async.client import DEFAULT_BASE_URL, check_base_url
from solaredge_async.errors import (
    ConfigurationError,
    OAuthError,
    RequestTimeoutError,
    ResponseValidationError,
    TransportError,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Collection
    from types import TracebackType
    from typing import Self

__all__ = [
    "DEFAULT_AUTHORIZE_URL",
    "OAuthClient",
    "RefreshingTokenProvider",
    "TokenSet",
    "authorize_url",
]

#: SolarEdge Connect's consent page (on its own host).
DEFAULT_AUTHORIZE_URL: Final = "https://connect.solaredge.com/authorize"

#: Scopes: site data, plus device telemetry and metrics.
DEFAULT_SCOPES: Final = ("SITE_DATA", "DEVICE_DATA")


def authorize_url(
    client_id: str,
    *,
    redirect_uri: str | None = None,
    scopes: Collection[str] = DEFAULT_SCOPES,
    state: str | None = None,
    access_duration: int | None = None,
    external_id: str | None = None,
    authorize_endpoint: str = DEFAULT_AUTHORIZE_URL,
) -> str:
    """Build the consent URL to send a site owner to.

    Args:
        client_id: The application's client id.
        redirect_uri: Where the owner returns with ``code`` and ``site_id``.
        scopes: ``SITE_DATA`` and optionally ``DEVICE_DATA`` (space-separated when sent).
        state: An opaque anti-CSRF value, checked when the owner returns.
        access_duration: Months of access, 1 to 24.
        external_id: Your own id for the grant, echoed on the callback.
        authorize_endpoint: The consent page's URL.

    Raises:
        ConfigurationError: A bad client id, an unknown scope, or a duration out of 1..24.
    """
    check_secret(client_id, "client_id")
    unknown = set(scopes) - {"SITE_DATA", "DEVICE_DATA"}
    if unknown or not scopes:
        raise ConfigurationError(
            f"scopes must be SITE_DATA and optionally DEVICE_DATA, got {sorted(scopes)}"
        )
    params = {"client_id": client_id, "response_type": "code", "scope": " ".join(scopes)}
    if redirect_uri is not None:
        params["redirect_uri"] = redirect_uri
    if state is not None:
        params["state"] = state
    if access_duration is not None:
        if (
            isinstance(access_duration, bool)
            or not isinstance(access_duration, int)
            or not 1 <= access_duration <= 24  # noqa: PLR2004
        ):
            raise ConfigurationError(
                f"access_duration is in months, 1 to 24; got {access_duration!r}"
            )
        params["access_duration"] = str(access_duration)
    if external_id is not None:
        params["external_id"] = external_id
    return f"{authorize_endpoint}?{urlencode(params)}"


@attrs.frozen(kw_only=True)
class TokenSet:
    """The tokens from one token call.

    The ``repr`` never shows the tokens.

    Attributes:
        access_token: The bearer token.
        refresh_token: The (single-use) refresh token.
        expires_at: anyio clock time at which the access token expires.
        expires_in: Lifetime in seconds as the server said (7200 live).
        token_type: ``Bearer``.
    """

    access_token: str = attrs.field(repr=False)
    refresh_token: str = attrs.field(repr=False)
    expires_at: float
    expires_in: float
    token_type: str = "Bearer"  # noqa: S105 - a type name, not a secret


class OAuthClient:
    """Calls the token and revoke endpoints for one application.

    Args:
        client_id: The application's client id.
        client_secret: The application's client secret (never logged or shown).
        base_url: The V2 base URL (token endpoint at ``{base}/oauth2/token``).
        transport: An httpx transport (tests, the simulator).
        http_client: A caller-owned ``httpx.AsyncClient`` (not closed by this object).
        timeout: Seconds per token call.

    Raises:
        ConfigurationError: Malformed client id or secret, an unsafe base URL.
    """

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        allow_insecure_http: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
        http_client: httpx.AsyncClient | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.client_id = check_secret(client_id, "client_id")
        self._secret = check_secret(client_secret, "client_secret")
        self._base = check_base_url(base_url, allow_insecure_http=allow_insecure_http)
        self._owns = http_client is None
        self._http = http_client or httpx.AsyncClient(
            transport=transport, timeout=timeout, trust_env=False
        )

    def __repr__(self) -> str:
        return f"OAuthClient(client_id={self.client_id!r}, base_url={self._base!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool, unless it is the caller's."""
        if self._owns:
            with anyio.CancelScope(shield=True):
                await self._http.aclose()

    async def _post(self, path: str, body: dict[str, str]) -> dict[str, object]:
        secrets = [v for k, v in body.items() if k in {"code", "refresh_token", "token"}]
        secrets.append(self._secret)

        def scrub(text: str) -> str:
            for secret in secrets:
                text = text.replace(secret, "[redacted]")
            return text

        failure: TransportError | None = None
        try:
            response = await self._http.post(self._base + path, json=body)
        except httpx.TimeoutException as exc:
            failure = RequestTimeoutError(
                f"POST {path} timed out ({type(exc).__name__})", path=path
            )
        except httpx.HTTPError as exc:
            failure = TransportError(
                f"POST {path} got no answer ({type(exc).__name__}: {scrub(str(exc))})", path=path
            )
        if failure is not None:
            # Raised outside the handler: the httpx error's request (whose body holds the
            # client secret and the refresh token) must not ride along as __context__.
            raise failure
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code >= 400 or not isinstance(data, dict):  # noqa: PLR2004
            error = data.get("error") if isinstance(data, dict) else None
            desc = data.get("error_description") if isinstance(data, dict) else None
            raise OAuthError(
                scrub(str(error)) if error else f"http_{response.status_code}",
                scrub(str(desc)) if desc else None,
                status_code=response.status_code,
            )
        return data

    def _tokens(self, data: dict[str, object], path: str) -> TokenSet:
        access = data.get("access_token")
        refresh = data.get("refresh_token")
        expires_in = data.get("expires_in", 7200)
        if (
            not isinstance(access, str)
            or not isinstance(refresh, str)
            or isinstance(expires_in, bool)
            or not isinstance(expires_in, int | float)
            or not math.isfinite(expires_in)
        ):
            raise ResponseValidationError(
                f"POST {path}: the token response lacks access_token, refresh_token or a "
                "numeric expires_in",
                path=path,
            )
        return TokenSet(
            access_token=access,
            refresh_token=refresh,
            expires_in=float(expires_in),
            expires_at=anyio.current_time() + float(expires_in),
            token_type=str(data.get("token_type", "Bearer")),
        )

    async def exchange_code(
        self, code: str, *, redirect_uri: str | None = None, site_id: int | None = None
    ) -> TokenSet:
        """Exchange the callback's ``code`` for tokens.

        Raises:
            OAuthError: The server refused (``invalid_grant`` for a used or bad code).
        """
        body = {
            "grant_type": "authorization_code",
            "code": check_secret(code, "code"),
            "client_id": self.client_id,
            "client_secret": self._secret,
        }
        if redirect_uri is not None:
            body["redirect_uri"] = redirect_uri
        if site_id is not None:
            body["site_id"] = str(site_id)
        return self._tokens(await self._post("/oauth2/token", body), "/oauth2/token")

    async def refresh(self, refresh_token: str) -> TokenSet:
        """Trade a refresh token for new tokens; the old refresh token stops working.

        Raises:
            OAuthError: The server refused (``invalid_grant`` for a reused token).
        """
        body = {
            "grant_type": "refresh_token",
            "refresh_token": check_secret(refresh_token, "refresh_token"),
            "client_id": self.client_id,
            "client_secret": self._secret,
        }
        return self._tokens(await self._post("/oauth2/token", body), "/oauth2/token")

    async def revoke(self, token: str) -> None:
        """Revoke an access or refresh token.

        Raises:
            OAuthError: The server refused.
        """
        await self._post("/oauth2/revoke-token", {"token": check_secret(token, "token")})


class RefreshingTokenProvider:
    """A ``token_provider`` that refreshes the access token before it expires.

    Args:
        oauth: The `OAuthClient` of the application.
        refresh_token: The current refresh token (from storage).
        on_refresh: Awaited with each new `TokenSet` BEFORE its access token is used;
            it must persist ``refresh_token`` durably (the old one is now void).
        tokens: A current `TokenSet`, if one is at hand (saves a refresh).
        skew: Seconds before expiry at which a refresh starts.
    """

    def __init__(
        self,
        oauth: OAuthClient,
        refresh_token: str,
        *,
        on_refresh: Callable[[TokenSet], Awaitable[None]],
        tokens: TokenSet | None = None,
        skew: float = 300.0,
    ) -> None:
        self._oauth = oauth
        self._refresh_token = check_secret(refresh_token, "refresh_token")
        self._on_refresh = on_refresh
        self._tokens = tokens
        self._skew = skew
        self._lock = anyio.Lock()

    def __repr__(self) -> str:
        return f"RefreshingTokenProvider(oauth={self._oauth!r})"

    async def __call__(self) -> str:
        """Return a valid access token, refreshing first when it is close to expiry.

        Raises:
            OAuthError: The refresh was refused; the grant must be renewed by the owner.
        """
        tokens = self._tokens
        if tokens is not None and anyio.current_time() < tokens.expires_at - self._skew:
            return tokens.access_token
        async with self._lock:  # one refresh per grant at a time
            tokens = self._tokens
            if tokens is None or anyio.current_time() >= tokens.expires_at - self._skew:
                # Shielded: a refresh cancelled after the server rotated the token
                # would lose the only valid refresh token.
                with anyio.CancelScope(shield=True):
                    fresh = await self._oauth.refresh(self._refresh_token)
                    await self._on_refresh(fresh)
                self._refresh_token = fresh.refresh_token
                self._tokens = tokens = fresh
            return tokens.access_token
