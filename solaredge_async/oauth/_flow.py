"""The authorisation-code flow: the consent URL, and the token and revoke calls.

Every token call is bounded three ways: by the caller's own cancel scopes (nothing
here is shielded, so a ``move_on_after`` around a call ends it on time), by
``timeout`` seconds for the whole call (connect, send and the complete response:
an answer trickling in at 1 byte/s cannot hold it longer), and by
``max_response_bytes`` (the body is streamed and refused past the cap, never read
whole).
"""

from __future__ import annotations

import json
import math
import time
from contextlib import aclosing
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final, cast
from urllib.parse import urlencode

import anyio
import httpx

from solaredge_async._checks import DEFAULT_BASE_URL, check_base_url
from solaredge_async._closing import AsyncClosing
from solaredge_async._credentials import check_secret
from solaredge_async.errors import (
    ConfigurationError,
    OAuthError,
    RequestTimeoutError,
    ResponseValidationError,
    TransportError,
)
from solaredge_async.oauth._tokens import TokenSet, is_number

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Collection

__all__ = [
    "DEFAULT_AUTHORIZE_URL",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_SCOPES",
    "OAuthClient",
    "authorize_url",
    "check_positive",
]

#: SolarEdge Connect's consent page (on its own host).
DEFAULT_AUTHORIZE_URL: Final = "https://connect.solaredge.com/authorize"

#: Scopes: site data, plus device telemetry and metrics.
DEFAULT_SCOPES: Final = ("SITE_DATA", "DEVICE_DATA")

#: The largest token or revoke response read (bytes); a real one is under 1 KiB.
DEFAULT_MAX_RESPONSE_BYTES: Final = 64 * 1024

#: The longest access token lifetime accepted from a server (seconds): ten years.
_MAX_EXPIRES_IN: Final = 10 * 365 * 86400.0

_TOKEN_PATH: Final = "/oauth2/token"  # noqa: S105 - a path, not a secret
_REVOKE_PATH: Final = "/oauth2/revoke-token"


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


def check_positive(value: object, what: str) -> float:
    """Return ``value`` as a float if it is a positive finite number, else raise.

    Raises:
        ConfigurationError: Not a number (bools refused), not positive, or not finite.
    """
    if not is_number(value) or not (value > 0 and math.isfinite(value)):
        raise ConfigurationError(f"{what} must be a positive finite number, got {value!r}")
    return float(value)


class OAuthClient(AsyncClosing):
    """Calls the token and revoke endpoints for one application.

    Args:
        client_id: The application's client id.
        client_secret: The application's client secret (never logged or shown).
        base_url: The V2 base URL (token endpoint at ``{base}/oauth2/token``).
        allow_insecure_http: Allow ``http://`` to a host that is not loopback.
        transport: An httpx transport (tests, the simulator).
        http_client: A caller-owned ``httpx.AsyncClient`` (not closed by this object).
        timeout: Seconds for one whole token or revoke call: connecting, sending and
            reading the complete response.
        max_response_bytes: The largest response body read, in bytes.

    Raises:
        ConfigurationError: Malformed client id or secret, an unsafe base URL, a
            timeout or size cap that is not a positive number.
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
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self.client_id = check_secret(client_id, "client_id")
        self._secret = check_secret(client_secret, "client_secret")
        self._base = check_base_url(base_url, allow_insecure_http=allow_insecure_http)
        self._timeout = check_positive(timeout, "timeout")
        if isinstance(max_response_bytes, bool) or not isinstance(max_response_bytes, int):
            raise ConfigurationError(
                f"max_response_bytes must be a positive integer, got {max_response_bytes!r}"
            )
        self._max_bytes = int(check_positive(max_response_bytes, "max_response_bytes"))
        self._owns = http_client is None
        self._http = http_client or httpx.AsyncClient(
            transport=transport, timeout=self._timeout, trust_env=False
        )

    def __repr__(self) -> str:
        return f"OAuthClient(client_id={self.client_id!r}, base_url={self._base!r})"

    async def aclose(self) -> None:
        """Close the connection pool, unless it is the caller's."""
        if self._owns:
            with anyio.CancelScope(shield=True):
                await self._http.aclose()

    async def _post(
        self, path: str, body: dict[str, str], *, want_json: bool = True
    ) -> dict[str, object]:
        secrets = [v for k, v in body.items() if k in {"code", "refresh_token", "token"}]
        secrets.append(self._secret)

        def scrub(text: str) -> str:
            for secret in secrets:
                text = text.replace(secret, "[redacted]")
            return text

        failure: TransportError | None = None
        status = 0
        content = b""
        try:
            with anyio.fail_after(self._timeout):
                status, content = await self._send(path, body)
        except httpx.TimeoutException as exc:
            failure = RequestTimeoutError(
                f"POST {path} timed out ({type(exc).__name__})", method="POST", path=path
            )
        except httpx.HTTPError as exc:
            failure = TransportError(
                f"POST {path} got no answer ({type(exc).__name__}: {scrub(str(exc))})",
                method="POST",
                path=path,
            )
        except TimeoutError:
            failure = RequestTimeoutError(
                f"POST {path} did not complete within {self._timeout:g} s (OAuthClient "
                "timeout: the whole call, response included)",
                method="POST",
                path=path,
            )
        if failure is not None:
            # Raised outside the handler: the httpx error's request (whose body holds the
            # client secret and the refresh token) must not ride along as __context__.
            raise failure
        try:
            data = json.loads(content)
        except (ValueError, RecursionError):
            data = None
        if not want_json and 200 <= status < 300:  # noqa: PLR2004 - RFC 7009: any body
            return {}
        if status >= 400 or not isinstance(data, dict):  # noqa: PLR2004
            error = data.get("error") if isinstance(data, dict) else None
            desc = data.get("error_description") if isinstance(data, dict) else None
            raise OAuthError(
                scrub(str(error))[:200] if error else f"http_{status}",
                scrub(str(desc))[:500] if desc else None,
                status_code=status,
            )
        return data

    async def _send(self, path: str, body: dict[str, str]) -> tuple[int, bytes]:
        """POST ``body``; return the status and the body, read under the size cap."""
        request = self._http.build_request("POST", self._base + path, json=body)
        response = await self._http.send(request, stream=True, follow_redirects=False)
        try:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self._max_bytes:
                raise self._too_large(path)
            chunks: list[bytes] = []
            size = 0
            stream = cast("AsyncGenerator[bytes]", response.aiter_bytes())
            async with aclosing(stream) as chunks_in:
                async for chunk in chunks_in:
                    size += len(chunk)
                    if size > self._max_bytes:
                        raise self._too_large(path)
                    chunks.append(chunk)
        finally:
            # Shielded (closing is quick): a cancellation here, after the body was read,
            # would otherwise drop tokens the server has already rotated.
            with anyio.CancelScope(shield=True):
                await response.aclose()
        return response.status_code, b"".join(chunks)

    def _too_large(self, path: str) -> ResponseValidationError:
        return ResponseValidationError(
            f"POST {path}: the response is larger than {self._max_bytes} bytes "
            "(max_response_bytes); a token response is under 1 KiB, so it was not read",
            path=path,
        )

    def _tokens(self, data: dict[str, object], path: str) -> TokenSet:
        access = data.get("access_token")
        refresh = data.get("refresh_token")
        expires_in = data.get("expires_in", 7200)
        token_type = data.get("token_type", "Bearer")
        if (
            not isinstance(access, str)
            or not isinstance(refresh, str)
            or not is_number(expires_in)
            or not 0 < expires_in <= _MAX_EXPIRES_IN
        ):
            raise ResponseValidationError(
                f"POST {path}: the token response lacks access_token, refresh_token or an "
                "expires_in between 0 and ten years",
                path=path,
            )
        try:
            access = check_secret(access, "the access_token")
            refresh = check_secret(refresh, "the refresh_token")
        except ConfigurationError as exc:
            raise ResponseValidationError(f"POST {path}: {exc}", path=path) from None
        return TokenSet(
            access_token=access,
            refresh_token=refresh,
            expires_in=float(expires_in),
            expires_at=datetime.fromtimestamp(time.time() + float(expires_in), UTC),
            token_type=str(token_type)[:40],
        )

    async def exchange_code(
        self, code: str, *, redirect_uri: str | None = None, site_id: int | None = None
    ) -> TokenSet:
        """Exchange the callback's ``code`` for tokens.

        Raises:
            OAuthError: The server refused (``invalid_grant`` for a used or bad code).
            TransportError: No answer; `RequestTimeoutError` past ``timeout``.
            ResponseValidationError: The response is too large or lacks the tokens.
        """
        grant = {"grant_type": "authorization_code", "code": check_secret(code, "code")}
        extra = {}
        if redirect_uri is not None:
            extra["redirect_uri"] = redirect_uri
        if site_id is not None:
            extra["site_id"] = str(site_id)
        return await self._grant_tokens(grant, extra)

    async def refresh(self, refresh_token: str) -> TokenSet:
        """Trade a refresh token for new tokens; the old refresh token stops working.

        Raises:
            OAuthError: The server refused (``invalid_grant`` for a reused token).
            TransportError: No answer; `RequestTimeoutError` past ``timeout``.
            ResponseValidationError: The response is too large or lacks the tokens.
        """
        return await self._grant_tokens(
            {
                "grant_type": "refresh_token",
                "refresh_token": check_secret(refresh_token, "refresh_token"),
            }
        )

    async def _grant_tokens(
        self, grant: dict[str, str], extra: dict[str, str] | None = None
    ) -> TokenSet:
        """POST ``grant``, the client's credentials and ``extra`` for tokens; parse them."""
        body = {**grant, "client_id": self.client_id, "client_secret": self._secret}
        if extra:
            body.update(extra)
        return self._tokens(await self._post(_TOKEN_PATH, body), _TOKEN_PATH)

    async def revoke(self, token: str) -> None:
        """Revoke an access or refresh token (``POST {base}/oauth2/revoke-token``).

        Revoking either token of a grant ends the whole grant; the owner must consent
        again to restore access.

        Raises:
            OAuthError: The server refused.
            TransportError: No answer; `RequestTimeoutError` past ``timeout``.
        """
        await self._post(_REVOKE_PATH, {"token": check_secret(token, "token")}, want_json=False)
