"""Reading the server's limit headers: ``x-ratelimit-*`` and ``Retry-After``."""

from __future__ import annotations

import email.utils
import math
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

__all__ = ["int_header", "parse_retry_after"]


def int_header(headers: httpx.Headers, name: str) -> int | None:
    """An integer header value, or None when it is absent or not an integer."""
    value = headers.get(name)
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` value (delta-seconds or an HTTP date)."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        seconds = when.timestamp() - time.time()
    if not math.isfinite(seconds):
        return None
    # Cap absurd values: the per-minute window is never longer than a minute
    # or two; a huge value must not park a sweep for days.
    return min(max(seconds, 0.0), 3600.0)
