"""Site-local time for the simulator: request parsing, day grids, calendar buckets.

Instants are handled as POSIX seconds (``float``/``int``). Quarter-hour boundaries are
multiples of 900 s in UTC, which are also site-local quarter-hours for every zone whose
offsets are multiples of 15 minutes (all zones the simulator places sites in).
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

__all__ = [
    "QH",
    "BadTime",
    "DayGrid",
    "bucket_start_ordinal",
    "day_bounds",
    "day_grid",
    "format_now",
    "iso_local",
    "local_ordinal",
    "parse_request_time",
    "zone",
]

#: Seconds in a quarter-hour.
QH: Final = 900

_TIME_RE: Final = re.compile(
    r"^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?"
    r"(Z|z|[+-]\d{2}:?\d{2})?$"
)


class BadTime(ValueError):  # noqa: N818 - mirrors the 400 it becomes
    """A ``from``/``to`` query value that is not an ISO 8601 date-time."""


@functools.cache
def zone(name: str) -> ZoneInfo:
    """Return the (cached) zone object for an IANA name."""
    return ZoneInfo(name)


def parse_request_time(text: str, tz: ZoneInfo, mode: str) -> datetime:
    """Parse a ``from``/``to`` value the way the simulated server does.

    Offset-free values are site-local (fold 0 in a repeated hour; a time in a DST gap
    is read with the offset before the gap, i.e. shifted forward). With ``Z`` or an
    offset, ``mode`` ``"convert"`` converts the instant to the site's zone and
    ``"ignore"`` keeps the wall clock and reads it as site-local.

    Returns:
        An aware datetime in ``tz``.

    Raises:
        BadTime: The value is not an ISO 8601 date or date-time.
    """
    m = _TIME_RE.match(text.strip()) if len(text) <= 64 else None  # noqa: PLR2004
    if m is None:
        raise BadTime(f"Invalid date-time {text[:40]!r}; expected ISO 8601")
    day, hh, mm, ss, frac, off = m.groups()
    iso = day
    if hh is not None:
        iso += f"T{hh}:{mm}:{ss or '00'}"
        if frac:
            iso += "." + frac[:6].ljust(6, "0")
    try:
        naive = datetime.fromisoformat(iso)
    except ValueError as exc:
        raise BadTime(f"Invalid date-time {text[:40]!r}: {exc}") from None
    if off is None or mode == "ignore":
        return naive.replace(tzinfo=tz)
    if off in {"Z", "z"}:
        offset = timedelta(0)
    else:
        sign = -1 if off[0] == "-" else 1
        digits = off[1:].replace(":", "")
        offset = sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        if abs(offset) >= timedelta(hours=24):
            raise BadTime(f"Invalid offset in {text[:40]!r}")
    instant = (naive - offset).replace(tzinfo=UTC)
    return instant.astimezone(tz)


def iso_local(epoch: float, tz: ZoneInfo) -> str:
    """Format an instant as site-local ISO 8601 with its offset (no fraction if whole)."""
    return datetime.fromtimestamp(epoch, tz).isoformat()


def format_now(epoch: float, tz: ZoneInfo) -> str:
    """Format "now" the way the live API does: a 9-digit fraction and the offset."""
    # "Now" has microsecond precision (a datetime); the server pads it to nanoseconds.
    micros = round(epoch * 1_000_000)
    whole, frac = divmod(micros, 1_000_000)
    nanos = frac * 1000
    text = datetime.fromtimestamp(whole, tz).isoformat()
    return f"{text[:19]}.{nanos:09d}{text[19:]}"


def local_ordinal(epoch: float, tz: ZoneInfo) -> int:
    """Return the proleptic ordinal of the site-local date at an instant."""
    return datetime.fromtimestamp(epoch, tz).toordinal()


class DayGrid:
    """The quarter-hours of one site-local day in one zone.

    Attributes:
        ordinal: The date's proleptic ordinal.
        start: Local midnight, POSIX seconds (the first existing instant of the day).
        end: The next local midnight.
        n: Number of quarter-hours (96; 92 on a spring-forward day, 100 on fall-back).
        stamps: ISO stamps of the quarter-hour starts, plus ``end`` as the last item.
        offsets: UTC offset in seconds in force at each quarter-hour start.
    """

    __slots__ = ("end", "n", "offsets", "ordinal", "stamps", "start")

    def __init__(self, tz: ZoneInfo, ordinal: int) -> None:
        self.ordinal = ordinal
        self.start, self.end = day_bounds(tz.key, ordinal)
        self.n = (self.end - self.start) // QH
        stamps: list[str] = []
        offsets: list[int] = []
        for k in range(self.n + 1):
            aware = datetime.fromtimestamp(self.start + k * QH, tz)
            stamps.append(aware.isoformat())
            if k < self.n:
                off = aware.utcoffset()
                offsets.append(int(off.total_seconds()) if off is not None else 0)
        self.stamps = tuple(stamps)
        self.offsets = tuple(offsets)


def _midnight(tz: ZoneInfo, ordinal: int) -> int:
    return int(datetime.combine(date.fromordinal(ordinal), time(), tzinfo=tz).timestamp())


@functools.lru_cache(maxsize=65_536)
def day_bounds(tz_name: str, ordinal: int) -> tuple[int, int]:
    """Return the (cached) local midnights that start and end a site-local day."""
    tz = zone(tz_name)
    return _midnight(tz, ordinal), _midnight(tz, ordinal + 1)


@functools.lru_cache(maxsize=1024)
def day_grid(tz_name: str, ordinal: int) -> DayGrid:
    """Return the (cached) quarter-hour grid of a site-local day."""
    return DayGrid(zone(tz_name), ordinal)


def bucket_start_ordinal(ordinal: int, resolution: str) -> int:
    """Return the first day of the calendar bucket (DAY..YEAR) that contains a date."""
    if resolution == "DAY":
        return ordinal
    d = date.fromordinal(ordinal)
    if resolution == "WEEK":
        return ordinal - d.weekday()
    if resolution == "MONTH":
        return d.replace(day=1).toordinal()
    if resolution == "YEAR":
        return d.replace(month=1, day=1).toordinal()
    raise ValueError(f"not a calendar resolution: {resolution}")
