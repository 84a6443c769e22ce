"""The API's base URL and the check every configured base URL passes.

Floor 1: used by `SolarEdgeClient` and by the OAuth client alike, so that neither
imports the other. It imports only the error tree.
"""

from __future__ import annotations

import ipaddress
from typing import Final
from urllib.parse import urlsplit

from solaredge_async.errors import ConfigurationError

__all__ = ["DEFAULT_BASE_URL", "check_base_url"]

#: The V2 base URL; every path is appended to it verbatim.
DEFAULT_BASE_URL: Final = "https://monitoringapi.solaredge.com/v2"

_LOOPBACK_NAMES: Final = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def _is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host in _LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(base_url: str, *, allow_insecure_http: bool = False) -> str:
    """Validate a base URL and return it without a trailing slash.

    Raises:
        ConfigurationError: Not an absolute http(s) URL, carries credentials, a query
            or fragment, or is plain ``http://`` to a host that is not loopback
            without ``allow_insecure_http=True``.
    """
    if not isinstance(base_url, str) or not base_url:
        raise ConfigurationError("base_url must be a non-empty string")
    if any(c.isspace() or ord(c) < 0x20 for c in base_url):  # noqa: PLR2004
        raise ConfigurationError("base_url contains whitespace or control characters")
    parts = urlsplit(base_url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigurationError(
            "base_url must be an absolute http(s) URL such as "
            f"{DEFAULT_BASE_URL!r}, got a URL with scheme {parts.scheme!r}"
        )
    if parts.username or parts.password:
        raise ConfigurationError(
            "base_url must not carry credentials; pass api_key= or token_provider="
        )
    if parts.query or parts.fragment:
        raise ConfigurationError("base_url must not have a query string or fragment")
    if parts.scheme == "http" and not allow_insecure_http and not _is_loopback(parts.hostname):
        raise ConfigurationError(
            f"refusing to send credentials in clear text to http://{parts.hostname}: use "
            "https://, a loopback host, or pass allow_insecure_http=True if you mean it"
        )
    return base_url.rstrip("/")
