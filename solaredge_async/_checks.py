"""Argument checks: a caller's mistake is refused before any call is made.

Each check returns the value to send (or use) and raises `InvalidRequestError` (a
bad call argument) or `ConfigurationError` (a bad client setting) with a message that
says what was wrong and what to pass instead. The resolution of every operation is
checked in one place, `check_resolution`, against the operation's allow-list.

This module sits on floor 1: it imports the error tree (floor 0) only.
"""

from __future__ import annotations

import ipaddress
import math
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from solaredge_async import errors

if TYPE_CHECKING:
    from collections.abc import Collection

__all__ = [
    "DEFAULT_BASE_URL",
    "check_base_url",
    "check_bool",
    "check_choice",
    "check_concurrency",
    "check_get_path",
    "check_page_size",
    "check_resolution",
    "check_serial",
    "check_site_id",
    "check_span_without_zone",
    "check_time_inputs",
    "check_timeout",
    "check_zone_name",
]

#: The V2 base URL; every path is appended to it verbatim.
DEFAULT_BASE_URL: Final = "https://monitoringapi.solaredge.com/v2"

_LOOPBACK_NAMES: Final = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
_CONTROL: Final = 0x20
_DELETE: Final = 0x7F
_MAX_SERIAL: Final = 128


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
        raise errors.ConfigurationError("base_url must be a non-empty string")
    if any(c.isspace() or ord(c) < _CONTROL for c in base_url):
        raise errors.ConfigurationError("base_url contains whitespace or control characters")
    parts = urlsplit(base_url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise errors.ConfigurationError(
            "base_url must be an absolute http(s) URL such as "
            f"{DEFAULT_BASE_URL!r}, got a URL with scheme {parts.scheme!r}"
        )
    if parts.username or parts.password:
        raise errors.ConfigurationError(
            "base_url must not carry credentials; pass api_key= or token_provider="
        )
    if parts.query or parts.fragment:
        raise errors.ConfigurationError("base_url must not have a query string or fragment")
    if parts.scheme == "http" and not allow_insecure_http and not _is_loopback(parts.hostname):
        raise errors.ConfigurationError(
            f"refusing to send credentials in clear text to http://{parts.hostname}: use "
            "https://, a loopback host, or pass allow_insecure_http=True if you mean it"
        )
    return base_url.rstrip("/")


def check_concurrency(value: object) -> int:
    """The most requests in flight: an integer >= 1.

    Raises:
        ConfigurationError: Not an integer, or below 1.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise errors.ConfigurationError(f"max_concurrency must be an integer >= 1, got {value!r}")
    if value < 1:
        raise errors.ConfigurationError(f"max_concurrency must be at least 1, got {value}")
    return value


def check_timeout(value: object) -> None:
    """A per-attempt timeout in seconds: a positive finite number.

    ``None`` (no timeout at all) is refused: a stalled server would hold a slot. (An
    ``httpx.Timeout`` is accepted by the client before this check.)

    Raises:
        ConfigurationError: Anything else.
    """
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not (value > 0 and math.isfinite(value))
    ):
        raise errors.ConfigurationError(
            f"timeout must be a positive number of seconds or an httpx.Timeout, got {value!r}"
        )


def check_site_id(site_id: object) -> int:
    """A site id: a positive integer.

    Raises:
        InvalidRequestError: Anything else (a bool or a numeric string included).
    """
    if isinstance(site_id, bool) or not isinstance(site_id, int) or site_id <= 0:
        raise errors.InvalidRequestError(
            f"site_id must be a positive integer, got {site_id!r}"
            + (f" ({type(site_id).__name__})" if not isinstance(site_id, int) else "")
        )
    return site_id


def check_serial(serial: object) -> str:
    """A device serial: a printable string of at most 128 characters.

    Raises:
        InvalidRequestError: Empty, padded, with control characters, or too long.
    """
    if not isinstance(serial, str) or not serial or serial.strip() != serial:
        raise errors.InvalidRequestError(
            f"serial must be a non-empty string without surrounding spaces, got {serial!r}"
        )
    if any(ord(c) < _CONTROL or ord(c) == _DELETE for c in serial):
        raise errors.InvalidRequestError(
            "serial contains control characters; serials are printable strings such as "
            "'7F16E777-F1'"
        )
    if len(serial) > _MAX_SERIAL:
        raise errors.InvalidRequestError(
            f"serial is {len(serial)} characters; at most {_MAX_SERIAL}"
        )
    return serial


def check_page_size(value: object, maximum: int, name: str) -> int:
    """A page size from 1 to ``maximum``.

    Raises:
        InvalidRequestError: Not an integer in range.
    """
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise errors.InvalidRequestError(
            f"{name} must be an integer from 1 to {maximum}, got {value!r}"
        )
    return value


def check_choice(value: object, allowed: Collection[str], what: str) -> str:
    """One of ``allowed`` (enum members compare equal to their strings).

    Raises:
        InvalidRequestError: Anything else; the message lists the choices.
    """
    if not isinstance(value, str) or value not in allowed:
        listed = ", ".join(sorted(str(a) for a in allowed))
        raise errors.InvalidRequestError(f"{what} must be one of {listed}; got {value!r}")
    return str(value)


def check_resolution(value: object, allowed: Collection[str]) -> str | None:
    """The resolution to send (`None`: none, the server's default), from ``allowed``.

    Raises:
        InvalidRequestError: A resolution the operation does not accept.
    """
    if value is None:
        return None
    return check_choice(value, allowed, "resolution")


def check_bool(value: object, name: str) -> str:
    """A flag as the API writes it (``true``/``false``).

    Raises:
        InvalidRequestError: Not a bool.
    """
    if not isinstance(value, bool):
        raise errors.InvalidRequestError(f"{name} must be True or False, got {value!r}")
    return "true" if value else "false"


def check_get_path(path: object) -> str:
    """A relative path for the generic ``get``: starts with one ``/``, no query.

    Raises:
        InvalidRequestError: Not such a path.
    """
    if not isinstance(path, str) or not path.startswith("/") or "//" in path:
        raise errors.InvalidRequestError(
            f"path must start with a single '/', e.g. '/sites/1/energy'; got {path!r}"
        )
    if any(c.isspace() or ord(c) < _CONTROL or c in "?#" for c in path):
        raise errors.InvalidRequestError(
            "path must not contain whitespace, control characters, '?' or '#'; "
            "pass query parameters in params="
        )
    return path


def check_zone_name(name: object) -> str:
    """An IANA zone name given by the caller (``None`` is a mistake here).

    Raises:
        InvalidRequestError: Not a string.
    """
    if not isinstance(name, str):
        raise errors.InvalidRequestError(
            f"a site time zone must be an IANA name such as 'Europe/Berlin', got {name!r}"
        )
    return name


def check_time_inputs(start: object, end: object) -> None:
    """Refuse a window that cannot be valid, before any call (a zone lookup costs one).

    Raises:
        InvalidRequestError: Only one bound, a bound that is not a date or datetime,
            naive mixed with aware, or an end not after the start.
    """
    if (start is None) != (end is None):
        raise errors.InvalidRequestError(
            "pass both start and end, or neither (for the server's default window: "
            "site-local midnight to now)"
        )
    naive: list[bool] = []
    for name, value in (("start", start), ("end", end)):
        if not isinstance(value, date):
            raise errors.InvalidRequestError(
                f"{name} must be a datetime or a date, got {type(value).__name__}"
            )
        naive.append(not isinstance(value, datetime) or value.utcoffset() is None)
    if naive[0] != naive[1]:
        raise errors.InvalidRequestError(
            "start and end mix a naive (site-local) and an aware datetime; make both naive or "
            "both aware"
        )
    lo = start if isinstance(start, datetime) else datetime.combine(start, time())  # type: ignore[arg-type]
    hi = end if isinstance(end, datetime) else datetime.combine(end, time.max)  # type: ignore[arg-type]
    if not isinstance(start, datetime) and isinstance(end, datetime):
        lo = lo.replace(tzinfo=end.tzinfo)
    if isinstance(start, datetime) and not isinstance(end, datetime):
        hi = hi.replace(tzinfo=start.tzinfo)
    if hi <= lo:
        raise errors.InvalidRequestError(
            f"end ({hi.isoformat()}) must be after start ({lo.isoformat()})"
        )


#: How far a span in wall-clock time (naive datetimes, dates) can be from its elapsed
#: length: one DST change (1 h almost everywhere, 2 h at most), with room to spare.
_WALL_SLACK: Final = timedelta(hours=3)


def check_span_without_zone(start: date, end: date, resolution: str, cap: timedelta | None) -> None:
    """Refuse a window over its cap before the site's zone is looked up (a paid call).

    Only a window over the cap in every zone is refused here; the exact check, with
    the DST margin, runs once the zone is known.

    Raises:
        SpanTooLongError: The window is longer than the cap whatever the zone.
    """
    if cap is None:
        return
    lo = start if isinstance(start, datetime) else datetime.combine(start, time())
    hi = end if isinstance(end, datetime) else datetime.combine(end + timedelta(days=1), time())
    aware = lo.utcoffset() is not None
    if aware != (hi.utcoffset() is not None):
        return  # a date with an aware datetime: where the date starts depends on the zone
    # Aware: elapsed time (in UTC: equal tzinfos would subtract wall clocks); else wall.
    span = hi.astimezone(UTC) - lo.astimezone(UTC) if aware else hi - lo
    if span > cap + (timedelta(0) if aware else _WALL_SLACK):
        hours = span.total_seconds() / 3600
        raise errors.SpanTooLongError(
            f"The window {lo.isoformat()} to {hi.isoformat()} spans {hours:g} h at "
            f"{resolution}, over the cap of {cap.total_seconds() / 3600:g} h per request. "
            "Pass split_windows=True (the default) to send it as several requests, or raise "
            f"WindowCaps.{str(resolution).lower()} if the server allows more"
        )
