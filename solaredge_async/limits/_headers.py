"""Reading the server's limit headers: ``x-ratelimit-*`` and ``Retry-After``.

Every value read here comes from the network and is validated before it is
used: a value that is not a plain non-negative decimal integer, or that is out
of the plausible range, is ignored (treated as absent), never raised as a
Python error (``OverflowError``, ``ValueError``) and never trusted.
"""

from __future__ import annotations

import email.utils
import math
import time
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    import httpx

__all__ = ["MAX_HEADER_INT", "MAX_RETRY_AFTER", "int_header", "parse_int", "parse_retry_after"]

#: The largest integer header value accepted (calls per minute, remaining calls,
#: content lengths); anything larger is ignored as absurd.
MAX_HEADER_INT: Final = 10**12

#: The longest ``Retry-After`` honoured, in seconds. The server's per-minute
#: window ends within 60 s; two minutes cover any clock difference. A larger
#: value (``Retry-After: 1000000000`` or a date in 2099) is cut to this, so no
#: server can park the client.
MAX_RETRY_AFTER: Final = 120.0

# Longer than any integer up to MAX_HEADER_INT, short enough that int() is cheap.
_MAX_DIGITS: Final = 13
_MAX_RETRY_AFTER_CHARS: Final = 64


def parse_int(value: str | None, *, maximum: int = MAX_HEADER_INT) -> int | None:
    """A header value as an integer in ``0..maximum``, or None when it is not one.

    Only ASCII decimal digits (surrounding blanks allowed) are accepted: signs,
    exponents, underscores, non-ASCII digits and over-long values are refused.
    """
    if value is None:
        return None
    text = value.strip()
    if not text or len(text) > _MAX_DIGITS or not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if number <= maximum else None


def int_header(
    headers: Mapping[str, str] | httpx.Headers,
    name: str,
    *,
    maximum: int = MAX_HEADER_INT,
) -> int | None:
    """An integer header value in ``0..maximum``, or None when absent or invalid."""
    return parse_int(headers.get(name), maximum=maximum)


def parse_retry_after(  # noqa: PLR0911 - one return per rejected form
    value: str | None,
    *,
    now: Callable[[], float] = time.time,
    maximum: float = MAX_RETRY_AFTER,
) -> float | None:
    """Seconds from a ``Retry-After`` value (delta-seconds or an HTTP date).

    Args:
        value: The header value, or None.
        now: The wall clock (Unix seconds) an HTTP date is measured against.
        maximum: The result is never larger than this (seconds).

    Returns:
        Seconds in ``0..maximum``; None when the value is absent or malformed (a
        negative, non-finite or non-numeric delta, or an unparseable date). A date
        in the past gives 0.
    """
    if value is None:
        return None
    text = value.strip()
    if not text or not text.isascii():
        return None
    if text[0].isdigit():
        # delta-seconds (RFC 9110 allows digits only; a fraction is tolerated).
        whole, _, fraction = text.partition(".")
        if not whole.isdigit() or (fraction and not fraction.isdigit()):
            return None
        if len(whole) > _MAX_DIGITS:
            return maximum
        seconds = float(text)
    elif len(text) > _MAX_RETRY_AFTER_CHARS:
        return None
    else:
        try:
            when = email.utils.parsedate_to_datetime(text)
            seconds = when.timestamp() - now()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), maximum)
