"""OAuth 2.0 ("SolarEdge Connect") as the simulator plays it.

One grant covers one site. Access tokens live ``access_token_ttl`` seconds; refresh
tokens live ``refresh_token_ttl`` seconds, rotate on every refresh and are single-use
(reuse gets ``invalid_grant``). Revoking any token of a grant revokes the grant. The
clock is the simulator's "now", so tests expire tokens with `Simulator.set_now`.
"""

from __future__ import annotations

import json
import secrets
import threading
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = ["SCOPES", "Grant", "OAuth"]

#: The scopes a grant can hold.
SCOPES: Final = frozenset({"SITE_DATA", "DEVICE_DATA"})


class Grant:
    """One site's consent to one OAuth client.

    Attributes:
        grant_id: Internal id. client_id: The app. site_id: The one site it covers.
        scopes: The granted scopes. revoked: Whether it was revoked.
    """

    __slots__ = ("client_id", "grant_id", "revoked", "scopes", "site_id")

    def __init__(self, grant_id: int, client_id: str, site_id: int, scopes: frozenset[str]) -> None:
        self.grant_id = grant_id
        self.client_id = client_id
        self.site_id = site_id
        self.scopes = scopes
        self.revoked = False


def _error(code: str, description: str) -> tuple[int, dict[str, object]]:
    return 400, {"error": code, "error_description": description}


class OAuth:
    """Authorization codes, grants, access tokens and rotating refresh tokens.

    Args:
        clients: Registered apps, ``client_id`` to ``client_secret``.
        access_ttl: Access token lifetime, seconds.
        refresh_ttl: Refresh token lifetime, seconds.
        now: Returns the simulator's "now", POSIX seconds.
    """

    def __init__(
        self,
        clients: Mapping[str, str],
        *,
        access_ttl: float,
        refresh_ttl: float,
        now: Callable[[], float],
    ) -> None:
        self.clients = dict(clients)
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl
        self._now = now
        self._lock = threading.Lock()
        self._grants: dict[int, Grant] = {}
        self._codes: dict[str, Grant] = {}
        self._access: dict[str, tuple[Grant, float]] = {}
        self._refresh: dict[str, tuple[Grant, float]] = {}
        self._used_refresh: set[str] = set()

    def authorize(self, client_id: str, site_id: int, scopes: frozenset[str]) -> str:
        """Record a homeowner's consent and return the one-time authorization code.

        Raises:
            ValueError: Unknown client or scope.
        """
        if client_id not in self.clients:
            raise ValueError("unknown OAuth client_id")
        if not scopes <= SCOPES or "SITE_DATA" not in scopes:
            raise ValueError(f"scopes must include SITE_DATA and be within {sorted(SCOPES)}")
        with self._lock:
            grant = Grant(len(self._grants) + 1, client_id, site_id, scopes)
            self._grants[grant.grant_id] = grant
            code = secrets.token_urlsafe(24)
            self._codes[code] = grant
        return code

    def _issue(self, grant: Grant) -> dict[str, object]:
        now = self._now()
        access = secrets.token_urlsafe(32)
        refresh = secrets.token_urlsafe(32)
        self._access[access] = (grant, now + self.access_ttl)
        self._refresh[refresh] = (grant, now + self.refresh_ttl)
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": int(self.access_ttl),
            "refresh_token": refresh,
            "scope": " ".join(sorted(grant.scopes)),
        }

    def token(self, body: bytes) -> tuple[int, dict[str, object]]:  # noqa: C901, PLR0911, PLR0912
        """Answer ``POST /oauth2/token`` (JSON body); returns ``(status, JSON object)``."""
        try:
            data = json.loads(body or b"null")
        except ValueError:
            return _error("invalid_request", "The request body must be JSON")
        if not isinstance(data, dict):
            return _error("invalid_request", "The request body must be a JSON object")
        client_id = data.get("client_id")
        secret = data.get("client_secret")
        grant_type = data.get("grant_type")
        if not isinstance(client_id, str) or not isinstance(secret, str):
            return _error("invalid_request", "client_id and client_secret are required")
        if self.clients.get(client_id) != secret:
            return _error("invalid_client", "Client authentication failed")
        now = self._now()
        with self._lock:
            if grant_type == "authorization_code":
                code = data.get("code")
                grant = self._codes.pop(code, None) if isinstance(code, str) else None
                if grant is None or grant.client_id != client_id or grant.revoked:
                    return _error("invalid_grant", "The authorization code is invalid or used")
                return 200, self._issue(grant)
            if grant_type == "refresh_token":
                token = data.get("refresh_token")
                if not isinstance(token, str):
                    return _error("invalid_request", "refresh_token is required")
                entry = self._refresh.pop(token, None)
                if entry is None:
                    what = "was already used" if token in self._used_refresh else "is invalid"
                    return _error("invalid_grant", f"The refresh token {what}")
                self._used_refresh.add(token)
                grant, expires = entry
                if grant.client_id != client_id:
                    return _error("invalid_grant", "The refresh token belongs to another client")
                if grant.revoked:
                    return _error("invalid_grant", "The grant was revoked")
                if expires <= now:
                    return _error("invalid_grant", "The refresh token expired")
                return 200, self._issue(grant)
            if grant_type is None:
                return _error("invalid_request", "grant_type is required")
            return _error("unsupported_grant_type", f"grant_type {str(grant_type)[:40]!r}")

    def revoke(self, body: bytes) -> tuple[int, dict[str, object]]:
        """Answer ``POST /oauth2/revoke-token`` (body ``{"token": ...}``).

        Revoking an unknown token succeeds, as RFC 7009 says.
        """
        try:
            data = json.loads(body or b"null")
        except ValueError:
            return _error("invalid_request", "The request body must be JSON")
        token = data.get("token") if isinstance(data, dict) else None
        if not isinstance(token, str):
            return _error("invalid_request", "token is required")
        with self._lock:
            entry = self._access.get(token) or self._refresh.get(token)
            if entry is not None:
                entry[0].revoked = True
        return 200, {}

    def bearer(self, token: str) -> Grant | str:
        """Return the grant an access token stands for, or why it is refused."""
        entry = self._access.get(token)
        if entry is None:
            return "Invalid access token"
        grant, expires = entry
        if grant.revoked:
            return "The access token was revoked"
        if expires <= self._now():
            return "The access token is expired"
        return grant
