"""Site-local time: request windows, their splitting by span cap, and series merging.

The Monitoring API reads ``from``/``to`` as offset-free *site-local* wall-clock times
and stamps every bucket with the site's offset in force, so everything here works in
the site's IANA zone. The rules, each chosen where the API reference leaves it open:

* **Dates are inclusive.** A `datetime.date` start means site-local midnight at the
  start of that day; a `datetime.date` end means site-local midnight at the start of
  the *next* day, so ``(date(2026, 10, 25), date(2026, 10, 25))`` is the whole day
  (25 hours in Europe/Berlin, 100 quarter-hours).
* **Naive datetimes are site-local wall-clock times.** One in a DST gap (a wall-clock
  time that never happens) moves forward to the first instant after the gap; one in a
  fold (a wall-clock hour that happens twice) means the *first* occurrence, for starts
  and ends alike.
* **Instants, never wall-clock strings, identify buckets.** Python compares and
  subtracts two datetimes that share a ``tzinfo`` by wall clock, ignoring the offset
  (PEP 495), so this module does all its arithmetic in UTC; callers measuring elapsed
  time on the returned datetimes should convert them to UTC first.
* **Span caps.** Each request window must be no longer than the cap for its
  resolution (`WindowCaps`). Whether the server counts elapsed or wall-clock time is
  unknown, and the two differ exactly when the window's ends carry different UTC
  offsets, so such a window must also leave `WindowCaps.dst_margin` (1 h) to spare.
* **Window seams** fall on the bucket grid (quarter hours, hours, or site-local
  midnights, Mondays, month or year starts), so no bucket is cut in two, and never on
  a wall-clock time that happens twice, so the offset-free form sent is unambiguous.

Raises `solaredge_async.errors.InvalidRequestError` (and its subclass
`solaredge_async.errors.SpanTooLongError`) for requests that cannot be valid, before
any credit is spent.
"""

from __future__ import annotations

import functools
import itertools
import operator
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from typing import TYPE_CHECKING, Any, Final, TypeAlias, overload
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from solaredge_async.errors import (
    ConfigurationError,
    InvalidRequestError,
    ResponseValidationError,
    SpanTooLongError,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "CALENDAR_RESOLUTIONS",
    "PLAUSIBLE_CAPS",
    "RESOLUTIONS",
    "WindowBound",
    "WindowCaps",
    "check_span",
    "day_window",
    "format_api_time",
    "merge_series",
    "resolve_window",
    "site_zone",
    "split_window",
    "today_window",
    "trim_series",
    "with_cap",
]

#: The resolutions the API knows, finest first.
RESOLUTIONS: Final = ("QUARTER_HOUR", "HOUR", "DAY", "WEEK", "MONTH", "YEAR", "TOTAL")

#: Resolutions whose buckets follow the site-local calendar: the first one may start
#: before the window (reference section 4), so trimming keeps it.
CALENDAR_RESOLUTIONS: Final = frozenset({"DAY", "WEEK", "MONTH", "YEAR", "TOTAL"})

#: What a window bound may be: an aware datetime (any zone), a naive datetime
#: (site-local wall-clock time) or a date (a whole site-local day, inclusive).
WindowBound: TypeAlias = datetime | date

_ZERO: Final = timedelta(0)
_SECOND: Final = timedelta(seconds=1)
_QUARTER: Final = timedelta(minutes=15)
_HOUR: Final = timedelta(hours=1)
_DAY: Final = timedelta(days=1)
_TZINFO_OF: Final = operator.attrgetter("tzinfo")
_WEEK: Final = timedelta(days=7)


def _normalize_resolution(resolution: str) -> str:
    # A str-subclass enum member hashes by its name, not its value: look up the value.
    value = getattr(resolution, "value", resolution)
    name = value.upper() if isinstance(value, str) else ""
    if name not in RESOLUTIONS:
        allowed = ", ".join(RESOLUTIONS)
        raise InvalidRequestError(f"Unknown resolution {resolution!r}; expected one of {allowed}")
    return name


def _check_cap(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    if not isinstance(value, timedelta) or value <= _ZERO:
        msg = f"WindowCaps.{attribute.name} must be a positive timedelta or None, got {value!r}"
        raise ConfigurationError(msg)


def _check_margin(instance: object, _attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, timedelta) or value < _ZERO:
        msg = f"WindowCaps.dst_margin must be a non-negative timedelta, got {value!r}"
        raise ConfigurationError(msg)
    for name in RESOLUTIONS:
        cap = getattr(instance, name.lower())
        if cap is not None and cap <= value:
            msg = (
                f"WindowCaps.dst_margin ({_format_span(value)}) must be shorter than every "
                f"cap, but {name.lower()} is {_format_span(cap)}"
            )
            raise ConfigurationError(msg)


@attrs.frozen(kw_only=True)
class WindowCaps:
    """The longest window one request may cover, per resolution (`None`: no limit).

    The defaults follow the API reference, erring towards more, smaller requests where
    the server's cap is unknown (an oversized window costs a credit and a 400 that is
    never retried):

    * ``quarter_hour``: 12 h and ``hour``: 24 h, as documented. (About 17 h of
      quarter-hours were seen in a defaulted window, so 12 h is the safe side.)
    * ``day``: 28 days. The documented "1 month" is undefined; 28 days is the shortest
      month, and longer windows started failing in V1.
    * ``week``: 366 days. Not documented. The finer DAY resolution is capped near a
      month and the coarser MONTH resolution is known to accept a whole year, so the
      guess is a calendar year per request, as for MONTH; lower it if the server
      refuses (the 400 says so, and is never retried).
    * ``month``: 366 days, so that any calendar year, leap or not, fits in one
      request, as one working client asks for.
    * ``year`` and ``total``: unlimited (YEAR is documented so; one client asks for
      TOTAL from 2000 to now).

    Attributes:
        quarter_hour: Cap at QUARTER_HOUR resolution.
        hour: Cap at HOUR resolution.
        day: Cap at DAY resolution.
        week: Cap at WEEK resolution.
        month: Cap at MONTH resolution.
        year: Cap at YEAR resolution.
        total: Cap at TOTAL resolution.
        dst_margin: How far under its cap a window must stay when its two ends have
            different UTC offsets (it crosses a DST change). Whether the server counts
            elapsed or wall-clock time is unknown and the two differ by the offset
            change, so the default is 1 h. A window crossing two changes that cancel
            out (a calendar year) has equal elapsed and wall-clock spans and needs no
            margin.

    Raises:
        ConfigurationError: A cap that is not a positive `timedelta`, or a margin that
            is negative or not shorter than every cap.
    """

    quarter_hour: timedelta | None = attrs.field(default=timedelta(hours=12), validator=_check_cap)
    hour: timedelta | None = attrs.field(default=timedelta(hours=24), validator=_check_cap)
    day: timedelta | None = attrs.field(default=timedelta(days=28), validator=_check_cap)
    week: timedelta | None = attrs.field(default=timedelta(days=366), validator=_check_cap)
    month: timedelta | None = attrs.field(default=timedelta(days=366), validator=_check_cap)
    year: timedelta | None = attrs.field(default=None, validator=_check_cap)
    total: timedelta | None = attrs.field(default=None, validator=_check_cap)
    dst_margin: timedelta = attrs.field(default=timedelta(hours=1), validator=_check_margin)

    def cap_for(self, resolution: str) -> timedelta | None:
        """Return the cap for a resolution (e.g. ``"DAY"``), or `None` for no limit.

        Raises:
            InvalidRequestError: An unknown resolution.
        """
        cap: timedelta | None = getattr(self, _normalize_resolution(resolution).lower())
        return cap


#: The longest window worth asking for first, per resolution, where the documented
#: cap may be stricter than what the server enforces: a whole day of quarter-hours
#: (live defaulted windows held about 17 h, and fleet clients fetch whole days) and a
#: month of days (31 days; the client's documented cap is 28). A longer window than
#: the documented cap is a probe: its answer is remembered per credential, endpoint
#: and resolution (see ``SolarEdgeClient(probe_caps=...)``).
PLAUSIBLE_CAPS: Final = WindowCaps(
    quarter_hour=timedelta(hours=24),
    hour=timedelta(hours=24),
    day=timedelta(days=31),
)


def with_cap(caps: WindowCaps, resolution: str, cap: timedelta | None) -> WindowCaps:
    """A copy of ``caps`` with the cap of one resolution replaced.

    Raises:
        InvalidRequestError: An unknown resolution.
        ConfigurationError: A cap that is not positive or not longer than ``dst_margin``.
    """
    changes: dict[str, Any] = {_normalize_resolution(resolution).lower(): cap}
    return attrs.evolve(caps, **changes)


@functools.lru_cache(maxsize=1024)
def site_zone(name: str | None) -> ZoneInfo:
    """Return the zone for an IANA name such as ``"Europe/Berlin"`` (cached).

    `None` (a site without a known zone) gives UTC: a stable, documented fallback
    rather than the host's zone, which would make "today" depend on where the code
    runs. Callers that got the name from the server and want a validation error
    should catch `InvalidRequestError` and raise their own.

    Raises:
        InvalidRequestError: The name is not a zone in the IANA database available
            to Python (on Windows that needs the ``tzdata`` package).
    """
    if name is None:
        return ZoneInfo("UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        msg = f"Unknown time zone {name!r}: expected an IANA name such as 'Europe/Berlin'"
        raise InvalidRequestError(msg) from exc


# Internal instants are naive UTC datetimes: exact, hashable, and free of the
# same-tzinfo wall-clock comparison rules.


def _to_utc(dt: datetime) -> datetime:
    offset = dt.utcoffset()
    if offset is None:  # pragma: no cover - callers pass aware datetimes only
        raise AssertionError
    return dt.replace(tzinfo=None, fold=0) - offset


def _from_utc(instant: datetime, tz: tzinfo) -> datetime:
    return instant.replace(tzinfo=UTC).astimezone(tz)


def _offset_at(instant: datetime, tz: tzinfo) -> timedelta:
    offset = _from_utc(instant, tz).utcoffset()
    return offset if offset is not None else _ZERO


def _localize(wall: datetime, tz: tzinfo) -> datetime:
    """Return the UTC instant of a naive site-local wall-clock time.

    A fold means its first occurrence; a gap moves forward to the first instant after it.
    """
    first = wall.replace(tzinfo=tz, fold=0)
    before = first.utcoffset() or _ZERO
    after = wall.replace(tzinfo=tz, fold=1).utcoffset() or _ZERO
    if before >= after:  # unambiguous, or the first occurrence of a fold
        return wall.replace(fold=0) - before
    # In a gap: the offset changes from `before` to `after` at some instant between
    # these two; find it to the second (zone changes happen on whole seconds).
    low = (wall - after).replace(microsecond=0)
    high = wall - before
    if high.microsecond:
        high = high.replace(microsecond=0) + _SECOND
    steps = int((high - low).total_seconds())
    lo, hi = 0, steps
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _offset_at(low + timedelta(seconds=mid), tz) == before:
            lo = mid
        else:
            hi = mid
    return low + timedelta(seconds=hi)


def _is_unambiguous(instant: datetime, tz: tzinfo) -> bool:
    """Whether the instant's offset-free wall-clock form names only this instant."""
    wall = _from_utc(instant, tz).replace(tzinfo=None, fold=0)
    return (
        wall.replace(tzinfo=tz, fold=0).utcoffset() == wall.replace(tzinfo=tz, fold=1).utcoffset()
    )


def _instant(value: datetime, tz: tzinfo) -> datetime:
    if value.utcoffset() is not None:
        return _to_utc(value)
    if value.fold:
        # PEP 495's explicit request for the second occurrence of a repeated hour.
        first = value.replace(tzinfo=tz, fold=0).utcoffset() or _ZERO
        second = value.replace(tzinfo=tz, fold=1).utcoffset() or _ZERO
        if first > second:
            return value.replace(fold=0) - second
    return _localize(value, tz)


def _bound(value: object, tz: tzinfo, *, is_end: bool, label: str) -> datetime:
    if isinstance(value, datetime):
        return _instant(value, tz)
    if isinstance(value, date):
        try:
            day = value + _DAY if is_end else value
        except OverflowError as exc:
            raise InvalidRequestError(f"{label} {value!r} is out of range") from exc
        return _localize(datetime.combine(day, time()), tz)
    msg = f"{label} must be a datetime or a date, got {type(value).__name__}"
    raise InvalidRequestError(msg)


def _iso(instant: datetime, tz: tzinfo) -> str:
    return _from_utc(instant, tz).isoformat()


def _check_order(begin: datetime, finish: datetime, tz: tzinfo) -> None:
    if finish <= begin:
        msg = (
            f"The window must end after it starts: start is {_iso(begin, tz)}, "
            f"end is {_iso(finish, tz)}"
        )
        raise InvalidRequestError(msg)


@overload
def resolve_window(
    start: WindowBound, end: WindowBound, tz: ZoneInfo
) -> tuple[datetime, datetime]: ...
@overload
def resolve_window(start: None, end: None, tz: ZoneInfo) -> None: ...
@overload
def resolve_window(
    start: WindowBound | None, end: WindowBound | None, tz: ZoneInfo
) -> tuple[datetime, datetime] | None: ...
def resolve_window(
    start: WindowBound | None, end: WindowBound | None, tz: ZoneInfo
) -> tuple[datetime, datetime] | None:
    """Turn a caller's ``start``/``end`` into an aware window in the site's zone.

    Args:
        start: The first instant wanted. An aware datetime (any zone), a naive datetime
            (site-local wall-clock time) or a date (site-local midnight starting it).
        end: The instant after the last one wanted, of the same kinds. A date is
            inclusive: it means site-local midnight at the start of the *next* day.
        tz: The site's zone.

    Naive times in a DST gap move forward to the first instant after the gap; naive
    times in a fold mean the first occurrence, for start and end alike (unless they
    carry ``fold=1``, PEP 495's way of asking for the second). Dates may be mixed with
    either kind of datetime.

    Returns:
        ``(start, end)`` as aware datetimes in ``tz``, or `None` when both are `None`
        (the server then uses its default window, site-local midnight today to now).

    Raises:
        InvalidRequestError: Only one of the two given; a naive and an aware datetime
            mixed; a bound of another type; or ``end`` not after ``start``.
    """
    if start is None and end is None:
        return None
    if start is None or end is None:
        given, missing = ("start", "end") if end is None else ("end", "start")
        msg = (
            f"Got {given} without {missing}: send both or neither (neither gives the "
            "server's default window, site-local midnight today to now)"
        )
        raise InvalidRequestError(msg)
    if isinstance(start, datetime) and isinstance(end, datetime):
        naive_start, naive_end = start.utcoffset() is None, end.utcoffset() is None
        if naive_start != naive_end:
            msg = (
                "start and end mix a naive and an aware datetime: use one kind (naive means "
                "site-local wall-clock time)"
            )
            raise InvalidRequestError(msg)
    begin = _bound(start, tz, is_end=False, label="start")
    finish = _bound(end, tz, is_end=True, label="end")
    _check_order(begin, finish, tz)
    return _from_utc(begin, tz), _from_utc(finish, tz)


def format_api_time(dt: datetime, tz: ZoneInfo) -> str:
    """Format an instant as the API's offset-free site-local form, ``2026-05-01T00:00:00``.

    Fractions of a second are dropped. A naive ``dt`` is taken as site-local
    wall-clock time (see `resolve_window`).
    """
    local = _from_utc(_instant(dt, tz), tz)
    return local.replace(tzinfo=None, microsecond=0).isoformat()


def today_window(tz: ZoneInfo, now: datetime) -> tuple[datetime, datetime]:
    """Return site-local midnight today to ``now``, as aware datetimes in ``tz``.

    "Today" is the site's day, not the host's or UTC's. A naive ``now`` is site-local
    wall-clock time. Exactly at midnight the window is empty (start equals end).
    """
    current = _instant(now, tz)
    midnight = datetime.combine(_from_utc(current, tz).date(), time())
    return _from_utc(_localize(midnight, tz), tz), _from_utc(current, tz)


def day_window(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Return one whole site-local day: its midnight to the next (23 to 25 h around DST)."""
    start = _localize(datetime.combine(day, time()), tz)
    end = _localize(datetime.combine(day + _DAY, time()), tz)
    return _from_utc(start, tz), _from_utc(end, tz)


def _grid_floor(wall: datetime, resolution: str) -> datetime:
    """The last bucket start at or before a wall-clock time."""
    if resolution == "QUARTER_HOUR":
        return wall.replace(minute=wall.minute - wall.minute % 15, second=0, microsecond=0)
    if resolution == "HOUR":
        return wall.replace(minute=0, second=0, microsecond=0)
    midnight = wall.replace(hour=0, minute=0, second=0, microsecond=0)
    if resolution == "WEEK":
        return midnight - timedelta(days=midnight.weekday())
    if resolution == "MONTH":
        return midnight.replace(day=1)
    if resolution == "YEAR":
        return midnight.replace(month=1, day=1)
    return midnight  # DAY and TOTAL


_GRID_STEPS: Final = {
    "QUARTER_HOUR": _QUARTER,
    "HOUR": _HOUR,
    "DAY": _DAY,
    "WEEK": _WEEK,
    "TOTAL": _DAY,
}


def _grid_prev(wall: datetime, resolution: str) -> datetime:
    """The bucket start one step before a wall-clock time on the grid."""
    step = _GRID_STEPS.get(resolution)
    if step is not None:
        return wall - step
    if resolution == "YEAR":
        return wall.replace(year=wall.year - 1)
    if wall.month == 1:  # MONTH
        return wall.replace(year=wall.year - 1, month=12)
    return wall.replace(month=wall.month - 1)


_GRID_NAMES: Final = {
    "QUARTER_HOUR": "quarter-hour",
    "HOUR": "hour",
    "DAY": "midnight",
    "WEEK": "Monday midnight",
    "MONTH": "month start",
    "YEAR": "year start",
    "TOTAL": "midnight",
}


def _fits(
    start: datetime,
    end: datetime,
    *,
    cap: timedelta,
    margin: timedelta,
    tz: tzinfo,
    start_offset: timedelta,
) -> bool:
    span = end - start
    if span <= cap - margin:
        return True
    return span <= cap and _offset_at(end, tz) == start_offset


def split_window(
    start: datetime, end: datetime, resolution: str, caps: WindowCaps, tz: ZoneInfo
) -> list[tuple[datetime, datetime]]:
    """Split ``[start, end)`` into the fewest request windows the caps allow.

    The windows tile ``[start, end)`` exactly, in order. Each is no longer than the cap
    for ``resolution`` (less ``caps.dst_margin`` when its ends have different UTC
    offsets). Seams fall on the bucket grid in site-local time: quarter hours, hours,
    midnights (DAY and TOTAL), Monday midnights (WEEK, as in ISO 8601; the server's
    week start is not documented), first-of-month and first-of-year midnights. Seams
    never fall on a wall-clock time that happens twice, so each offset-free ``from`` and
    ``to`` is unambiguous. The outer bounds are kept as given (an aware bound inside a
    repeated hour is still sent as its wall-clock time, which the server may read as
    the first occurrence). At TOTAL each window yields its own total: the caller sums
    them. Windows are found greedily, farthest seam first, which gives the fewest.

    Args:
        start: The window start, aware (naive: site-local wall-clock time).
        end: The window end, likewise.
        resolution: One of `RESOLUTIONS`.
        caps: The cap table.
        tz: The site's zone.

    Returns:
        ``[(start, end)]`` when the window fits, otherwise the pieces; all bounds are
        aware datetimes in ``tz``.

    Raises:
        InvalidRequestError: An unknown resolution, ``end`` not after ``start``, or a
            cap too short to hold even one bucket of the resolution.
    """
    resolution = _normalize_resolution(resolution)
    begin, finish = _instant(start, tz), _instant(end, tz)
    _check_order(begin, finish, tz)
    cap = caps.cap_for(resolution)
    margin = caps.dst_margin
    if cap is None or finish - begin <= cap - margin:
        return [(_from_utc(begin, tz), _from_utc(finish, tz))]

    bounds = [begin]
    piece_start = begin
    while True:
        start_offset = _offset_at(piece_start, tz)
        if _fits(piece_start, finish, cap=cap, margin=margin, tz=tz, start_offset=start_offset):
            break
        # The farthest seam wins (greedy): walk down the grid from the cap's reach.
        limit = min(piece_start + cap, finish)
        wall = _grid_floor(_from_utc(limit, tz).replace(tzinfo=None, fold=0), resolution)
        while True:
            seam = _localize(wall, tz)
            if seam <= piece_start:
                msg = (
                    f"Cannot split the window {_iso(begin, tz)} to {_iso(finish, tz)} at "
                    f"{resolution}: no {_GRID_NAMES[resolution]} seam leaves a piece within "
                    f"the cap of {_format_span(cap)} (less {_format_span(margin)} across a "
                    "DST change); raise the cap in WindowCaps"
                )
                raise InvalidRequestError(msg)
            if (
                seam < finish
                and seam <= limit
                and _is_unambiguous(seam, tz)
                and _fits(
                    piece_start, seam, cap=cap, margin=margin, tz=tz, start_offset=start_offset
                )
            ):
                break
            wall = _grid_prev(wall, resolution)
        bounds.append(seam)
        piece_start = seam
    bounds.append(finish)
    local = [_from_utc(b, tz) for b in bounds]
    return list(itertools.pairwise(local))


#: Windows planned already (`planned_windows`), by everything that decides them.
_PLANNED: dict[tuple[object, ...], PlannedWindows] = {}
_PLANNED_MAX: Final = 4096


@attrs.frozen
class PlannedWindows:
    """A caller's window resolved in the site's zone, and its request pieces.

    Attributes:
        window: ``(start, end)``, aware, in the site's zone (`resolve_window`).
        queries: Each piece's ``from`` and ``to`` as the API reads them.
        longest: The longest piece (elapsed time).
    """

    window: tuple[datetime, datetime]
    queries: tuple[tuple[str, str], ...]
    longest: timedelta


def _bound_key(value: object) -> tuple[object, ...]:
    # Equal datetimes can differ in zone or fold and so resolve differently; a date
    # never equals a datetime.
    if isinstance(value, datetime):
        return (value, value.tzinfo, value.fold)
    return (value, type(value))


def planned_windows(
    start: WindowBound,
    end: WindowBound,
    tz: ZoneInfo,
    resolution: str,
    caps: WindowCaps | None,
) -> PlannedWindows:
    """`resolve_window`, `split_window` and `format_api_time` in one, remembered.

    A sweep asks for the same window of thousands of sites in a handful of zones, so
    the same plan is made over and over; it is kept (a bounded table) by the bounds as
    given, the zone, the resolution and the caps (`None`: one window, not split).

    Raises:
        InvalidRequestError: As `resolve_window` and `split_window`.
    """
    key: tuple[object, ...] | None = (_bound_key(start), _bound_key(end), tz, resolution, caps)
    try:
        hit = _PLANNED.get(key)  # type: ignore[arg-type]
    except TypeError:  # an unhashable tzinfo: planned each time
        key, hit = None, None
    if hit is not None:
        return hit
    window = resolve_window(start, end, tz)
    pieces = [window] if caps is None else split_window(*window, resolution, caps, tz)
    plan = PlannedWindows(
        window,
        tuple((format_api_time(a, tz), format_api_time(b, tz)) for a, b in pieces),
        max(b.astimezone(UTC) - a.astimezone(UTC) for a, b in pieces),
    )
    if key is not None:
        if len(_PLANNED) >= _PLANNED_MAX:
            _PLANNED.clear()
        _PLANNED[key] = plan
    return plan


def check_span(
    start: datetime, end: datetime, resolution: str, caps: WindowCaps, tz: ZoneInfo
) -> None:
    """Check that ``[start, end)`` fits in one request at ``resolution``.

    For callers that turned splitting off: the same rule as `split_window`, where a
    window fits when it is no longer than its cap, less ``caps.dst_margin`` if its ends
    have different UTC offsets.

    Raises:
        SpanTooLongError: The window is over the cap; the message gives the cap, the
            span asked for, and says that ``split=True`` would send it in pieces.
        InvalidRequestError: An unknown resolution, or ``end`` not after ``start``.
    """
    resolution = _normalize_resolution(resolution)
    begin, finish = _instant(start, tz), _instant(end, tz)
    _check_order(begin, finish, tz)
    cap = caps.cap_for(resolution)
    if cap is None:
        return
    margin = caps.dst_margin
    if _fits(begin, finish, cap=cap, margin=margin, tz=tz, start_offset=_offset_at(begin, tz)):
        return
    span = finish - begin
    why = f"over the cap of {_format_span(cap)} per request"
    if span <= cap:
        why = (
            f"over {_format_span(cap - margin)}, the cap of {_format_span(cap)} less the "
            f"{_format_span(margin)} margin for a window whose ends have different UTC offsets"
        )
    msg = (
        f"The window {_iso(begin, tz)} to {_iso(finish, tz)} spans {_format_span(span)} at "
        f"{resolution}, {why}. Pass split=True (the default) to send it as several requests, "
        f"or raise WindowCaps.{resolution.lower()} if the server allows more"
    )
    raise SpanTooLongError(msg)


def merge_series(
    chunks: Sequence[tuple[Sequence[datetime], Sequence[float | None]]],
) -> tuple[tuple[datetime, ...], tuple[float | None, ...]]:
    """Stitch the series of several windows into one, ordered by instant.

    Timestamps are keyed by instant, never by wall-clock text, so the two occurrences
    of a repeated DST hour stay apart. When one instant comes twice, a number wins over
    `None` (a bucket still open at one seam), otherwise the first one seen is kept.
    Each timestamp object is kept as received, with its own offset.

    Args:
        chunks: ``(timestamps, values)`` per window; timestamps must be aware.

    Returns:
        ``(timestamps, values)`` as tuples of equal length.

    Raises:
        ResponseValidationError: A naive timestamp, or a chunk whose two sequences have
            different lengths.
    """
    for stamps, values in chunks:
        if len(stamps) != len(values):
            msg = f"A series has {len(stamps)} timestamps but {len(values)} values"
            raise ResponseValidationError(msg)
    all_stamps = list(itertools.chain.from_iterable(stamps for stamps, _ in chunks))
    all_values = list(itertools.chain.from_iterable(values for _, values in chunks))
    # Fast path, the usual case: seams on the bucket grid, so the chunks are already in
    # order without repeats. Fixed-offset stamps (as parsed) compare exactly by instant;
    # stamps sharing a ZoneInfo compare by wall clock, so those take the slow path.
    zones = set(map(_TZINFO_OF, all_stamps))
    if all(type(zone) is timezone for zone in zones) and all(
        map(operator.lt, all_stamps, itertools.islice(all_stamps, 1, None))
    ):
        return tuple(all_stamps), tuple(all_values)

    best: dict[datetime, tuple[datetime, float | None]] = {}
    for stamp, value in zip(all_stamps, all_values, strict=True):
        offset = stamp.utcoffset()
        if offset is None:
            msg = f"Timestamp {stamp.isoformat()} has no UTC offset"
            raise ResponseValidationError(msg)
        key = stamp.replace(tzinfo=None) - offset
        seen = best.get(key)
        if seen is None or (seen[1] is None and value is not None):
            best[key] = (stamp, value)
    ordered = [best[key] for key in sorted(best)]
    return tuple(s for s, _ in ordered), tuple(v for _, v in ordered)


def _format_span(span: timedelta) -> str:
    """Human-readable span: ``28 days``, ``12 h``, ``1 day 1 h 30 min``, ``-1 h``."""
    if span < _ZERO:
        return f"-{_format_span(-span)}"
    seconds = span.days * 86400 + span.seconds
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = []
    if days:
        parts.append(f"{days} day" + ("s" if days != 1 else ""))
    if hours:
        parts.append(f"{hours} h")
    if minutes:
        parts.append(f"{minutes} min")
    if secs or span.microseconds or not parts:
        parts.append(f"{secs + span.microseconds / 1e6:g} s")
    return " ".join(parts)


def trim_series(
    timestamps: Sequence[datetime],
    values: Sequence[float | None],
    start: datetime,
    end: datetime,
    resolution: str | None,
    *,
    stamps_end: bool = False,
) -> tuple[tuple[datetime, ...], tuple[float | None, ...]] | None:
    """Drop the buckets outside the window asked for, ``[start, end)``.

    The live API lists the bucket that starts exactly at ``to`` (reference section 4),
    and a server may list one that starts before ``from``; neither was asked for.
    A bucket is kept when it starts in ``[start, end)``; for sub-daily series whose
    stamps mark the bucket end (voltage, frequency) when its stamp is in ``(start, end]``.
    Calendar buckets (DAY to YEAR, and TOTAL) align to site-local boundaries, so the
    first one may start before ``start`` and is kept; one that starts at or after
    ``end`` is dropped all the same.

    Args:
        timestamps: Aware bucket stamps.
        values: The values, as many as ``timestamps``.
        start: The window start, aware.
        end: The window end (exclusive), aware.
        resolution: The resolution sent (`None`: the server's QUARTER_HOUR).
        stamps_end: The stamps mark the bucket end.

    Returns:
        The kept ``(timestamps, values)``, or `None` when nothing is dropped (the
        usual case: no copy is made).
    """
    if not timestamps:
        return None
    calendar = (resolution or "QUARTER_HOUR") in CALENDAR_RESOLUTIONS
    # The usual case, cheaply: strictly ascending stamps whose first and last are
    # inside hold nothing outside (aware comparisons are by instant). A naive stamp
    # makes a comparison fail, and the full pass below names it.
    try:
        first, last = timestamps[0], timestamps[-1]
        if stamps_end and not calendar:
            edges = start < first and last <= end
        else:
            edges = (calendar or start <= first) and last < end
        if edges and all(map(operator.lt, timestamps, itertools.islice(timestamps, 1, None))):
            return None
    except TypeError:
        pass
    lo, hi = _to_utc(start), _to_utc(end)

    def inside(stamp: datetime) -> bool:
        offset = stamp.utcoffset()
        if offset is None:
            msg = f"Timestamp {stamp.isoformat()} has no UTC offset"
            raise ResponseValidationError(msg)
        instant = stamp.replace(tzinfo=None) - offset
        if stamps_end and not calendar:
            return lo < instant <= hi
        return (calendar or instant >= lo) and instant < hi

    keep = [inside(stamp) for stamp in timestamps]
    if all(keep):
        return None
    kept = [i for i, k in enumerate(keep) if k]
    return tuple(timestamps[i] for i in kept), tuple(values[i] for i in kept)
