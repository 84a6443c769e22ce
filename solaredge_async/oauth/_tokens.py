"""`TokenSet`: the tokens of one grant, and their one storage format.

``expires_at`` is wall-clock time (an aware UTC datetime), never an event loop's
clock, so a token set saved by one process can be loaded and used by another.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Final, TypeGuard

import attrs

from solaredge_async._credentials import check_secret
from solaredge_async.errors import ConfigurationError

__all__ = ["TokenSet", "decode_tokens", "encode_tokens", "is_number"]

#: The storage format's version, written into every encoded token set.
FORMAT_VERSION: Final = 1


def is_number(value: object) -> TypeGuard[int | float]:
    """Whether ``value`` is an int or a float (a bool is not a number here)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


@attrs.frozen(kw_only=True)
class TokenSet:
    """The tokens from one token call.

    The ``repr`` never shows the tokens.

    Attributes:
        access_token: The bearer token.
        refresh_token: The (single-use) refresh token.
        expires_at: When the access token expires: an aware UTC datetime (wall clock).
        expires_in: The access token's lifetime in seconds, as the server said (7200 live).
        token_type: ``Bearer``.
    """

    access_token: str = attrs.field(repr=False)
    refresh_token: str = attrs.field(repr=False)
    expires_at: datetime
    expires_in: float
    token_type: str = "Bearer"  # noqa: S105 - a type name, not a secret


def encode_tokens(tokens: TokenSet) -> bytes:
    """Encode a token set as UTF-8 JSON, the format every token store keeps.

    The result holds the tokens: write it only where secrets may be (a 0600 file,
    a protected database column), never to a log.
    """
    return json.dumps(
        {
            "version": FORMAT_VERSION,
            "access_token": tokens.access_token,
            "refresh_token": tokens.refresh_token,
            "expires_at": tokens.expires_at.astimezone(UTC).isoformat(),
            "expires_in": tokens.expires_in,
            "token_type": tokens.token_type,
        },
        separators=(",", ":"),
    ).encode()


def decode_tokens(data: bytes | str) -> TokenSet:
    """Decode what `encode_tokens` wrote.

    Raises:
        ConfigurationError: The data is not an encoded token set (the message names
            the field at fault, never a token).
    """
    try:
        obj = json.loads(data)
    except (ValueError, RecursionError):
        raise ConfigurationError("stored tokens are not valid JSON") from None
    if not isinstance(obj, dict) or obj.get("version") != FORMAT_VERSION:
        raise ConfigurationError(f"stored tokens are not a version {FORMAT_VERSION} token set")
    expires_in = obj.get("expires_in")
    expires_at = obj.get("expires_at")
    token_type = obj.get("token_type", "Bearer")
    if not is_number(expires_in) or not math.isfinite(expires_in):
        raise ConfigurationError("stored tokens: expires_in is not a number of seconds")
    try:
        when = datetime.fromisoformat(expires_at) if isinstance(expires_at, str) else None
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise ConfigurationError("stored tokens: expires_at is not an aware ISO 8601 time")
    if not isinstance(token_type, str):
        raise ConfigurationError("stored tokens: token_type is not a string")
    return TokenSet(
        access_token=check_secret(obj.get("access_token"), "the stored access_token"),
        refresh_token=check_secret(obj.get("refresh_token"), "the stored refresh_token"),
        expires_at=when.astimezone(UTC),
        expires_in=float(expires_in),
        token_type=token_type,
    )
