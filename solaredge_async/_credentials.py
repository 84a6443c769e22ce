"""Credentials: API keys and OAuth bearer tokens, validated and kept out of sight.

A credential never shows its secret in a ``repr``, a log line or an error
message; what identifies it in usage reports is a short one-way fingerprint.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Awaitable, Callable, Mapping
from typing import Final, TypeAlias

from solaredge_async.errors import ConfigurationError

__all__ = ["ApiKeyCredential", "BearerCredential", "Credential", "TokenProvider"]

#: An async callable that returns a current OAuth access token.
TokenProvider: TypeAlias = Callable[[], Awaitable[str]]

ENV_API_KEY: Final = "SOLAREDGE_API_KEY"
ENV_ACCOUNT_KEY: Final = "SOLAREDGE_ACCOUNT_KEY"

# Printable ASCII without space: what an HTTP header value can carry safely and
# what every key and token format seen so far uses.
_ALLOWED = frozenset(chr(c) for c in range(0x21, 0x7F))
_MAX_SECRET_LEN = 4096


def check_secret(value: object, what: str) -> str:
    """Return ``value`` if it is a well-formed secret, else raise.

    The message names what is wrong without echoing the value.

    Raises:
        ConfigurationError: Not a string, empty, too long, or holding whitespace,
            control or non-ASCII characters (header injection included).
    """
    if not isinstance(value, str):
        raise ConfigurationError(f"{what} must be a string, got {type(value).__name__}")
    if not value:
        raise ConfigurationError(f"{what} is empty")
    if len(value) > _MAX_SECRET_LEN:
        raise ConfigurationError(f"{what} is {len(value)} characters long; at most 4096 allowed")
    if value.strip() != value:
        raise ConfigurationError(f"{what} has leading or trailing whitespace; remove it")
    bad = next((c for c in value if c not in _ALLOWED), None)
    if bad is not None:
        found = "whitespace or a control character" if ord(bad) < 0x80 else "a non-ASCII character"  # noqa: PLR2004
        raise ConfigurationError(
            f"{what} contains {found} (code point {ord(bad)}); "
            "keys and tokens are printable ASCII without spaces"
        )
    return value


def fingerprint(label: str, secret: str) -> str:
    """A short, one-way identifier of a secret, safe to log (e.g. ``key#1a2b3c4d``)."""
    return f"{label}#{hashlib.sha256(secret.encode()).hexdigest()[:8]}"


class ApiKeyCredential:
    """An API key (``X-API-Key``) and an optional legacy account key (``X-Account-Key``).

    Args:
        api_key: The key; when None, read from ``SOLAREDGE_API_KEY``.
        account_key: The legacy account key; when None, read from
            ``SOLAREDGE_ACCOUNT_KEY`` if that is set. Sent only if configured.

    Raises:
        ConfigurationError: No key given or in the environment, or a malformed one.
    """

    #: How the credential authenticates.
    scheme: Final = "api_key"

    def __init__(self, api_key: str | None = None, account_key: str | None = None) -> None:
        if api_key is None:
            api_key = os.environ.get(ENV_API_KEY)
            if api_key is None:
                raise ConfigurationError(
                    "no credential: pass api_key=..., token_provider=..., or set the "
                    f"{ENV_API_KEY} environment variable"
                )
            what = f"the {ENV_API_KEY} environment variable"
        else:
            what = "api_key"
        if account_key is None:
            account_key = os.environ.get(ENV_ACCOUNT_KEY) or None
            account_what = f"the {ENV_ACCOUNT_KEY} environment variable"
        else:
            account_what = "account_key"
        self._headers = {"X-API-Key": check_secret(api_key, what)}
        if account_key is not None:
            self._headers["X-Account-Key"] = check_secret(account_key, account_what)
        self.id = fingerprint("key", api_key)

    def __repr__(self) -> str:
        return f"ApiKeyCredential(id={self.id!r})"

    async def headers(self) -> dict[str, str]:
        """The headers that authenticate a request."""
        return self._headers

    def invalidate(self, headers: Mapping[str, str]) -> bool:  # noqa: ARG002
        """An API key cannot be renewed: a 401 stands (always False)."""
        return False


class BearerCredential:
    """An OAuth access token from ``token_provider``, sent as ``Authorization: Bearer``.

    The provider is awaited before every attempt, so a provider that refreshes
    (`solaredge_async.oauth.RefreshingTokenProvider`) keeps requests authenticated.

    Raises:
        ConfigurationError: ``token_provider`` is not callable.
    """

    #: How the credential authenticates.
    scheme: Final = "bearer"

    def __init__(self, token_provider: TokenProvider) -> None:
        if not callable(token_provider):
            raise ConfigurationError("token_provider must be an async callable returning a token")
        self._provider = token_provider
        self.id = f"bearer#{id(token_provider):x}"[-15:]

    def __repr__(self) -> str:
        return f"BearerCredential(id={self.id!r})"

    async def headers(self) -> dict[str, str]:
        """Fetch a token from the provider and return the ``Authorization`` header.

        Raises:
            ConfigurationError: The provider returned a malformed token.
        """
        token = check_secret(await self._provider(), "the token from token_provider")
        return {"Authorization": f"Bearer {token}"}

    def invalidate(self, headers: Mapping[str, str]) -> bool:
        """Tell the provider that the token sent in ``headers`` was refused (a 401).

        Returns:
            True when the provider can renew it (it has an ``invalidate(token)`` method,
            as `RefreshingTokenProvider` does): the call is then retried once with a
            fresh token. False otherwise.
        """
        invalidate = getattr(self._provider, "invalidate", None)
        if not callable(invalidate):
            return False
        invalidate(headers.get("Authorization", "").removeprefix("Bearer "))
        return True


Credential: TypeAlias = ApiKeyCredential | BearerCredential
