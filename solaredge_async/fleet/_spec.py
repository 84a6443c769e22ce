"""`SweepSpec`: what a fleet sweep fetches, for which sites, over which window.

A spec holds only the caller's wishes; `solaredge_async.fleet.plan_sweep` turns it
into work items (one per API call) and prices them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import TYPE_CHECKING, Final, TypeAlias

import attrs

from solaredge_async._endpoints import TARGETS, ResolutionName, Target
from solaredge_async._windows import RESOLUTIONS
from solaredge_async.errors import InvalidRequestError

if TYPE_CHECKING:
    from solaredge_async.models import Resolution

__all__ = [
    "TODAY",
    "YESTERDAY",
    "SiteDay",
    "SweepBound",
    "SweepSpec",
]


@attrs.frozen
class SiteDay:
    """A day counted from each site's own "today", in the site's time zone.

    ``SiteDay(0)`` is the site-local today, ``SiteDay(-1)`` yesterday. A sweep over a
    worldwide fleet asked for "yesterday" then covers each site's own yesterday
    (midnight to midnight in its zone), whatever the host's zone.

    As a ``start`` it means that day's midnight; as an ``end`` it is inclusive (the
    midnight after it), like a `datetime.date`.

    Attributes:
        offset: Days from today: 0 today, -1 yesterday, -7 a week ago.
    """

    offset: int = attrs.field()

    @offset.validator
    def _check(self, _attribute: attrs.Attribute[int], value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidRequestError(f"SiteDay offset must be an integer, got {value!r}")


#: The site-local today (midnight to midnight; buckets after "now" are null).
TODAY: Final = SiteDay(0)
#: The site-local yesterday: the usual window of a daily sweep.
YESTERDAY: Final = SiteDay(-1)

#: What `SweepSpec.start` and `SweepSpec.end` accept.
SweepBound: TypeAlias = datetime | date | SiteDay


def _to_what(value: Iterable[Target] | str) -> frozenset[str]:
    # Typed for the type checker (a misspelt target is an error there); checked here
    # for everyone else.
    raw: object = value
    if isinstance(raw, str):
        raw = [part.strip() for part in raw.split(",") if part.strip()]
    if not isinstance(raw, Iterable):
        raise InvalidRequestError(f"what must be a collection of targets, got {raw!r}")
    names = frozenset(str(v) for v in raw)
    unknown = sorted(names - frozenset(TARGETS))
    if unknown:
        raise InvalidRequestError(
            f"unknown sweep target(s) {', '.join(map(repr, unknown))}; "
            f"allowed: {', '.join(TARGETS)}"
        )
    if not names:
        raise InvalidRequestError(f"what is empty; pick from: {', '.join(TARGETS)}")
    return names


def _to_site_ids(value: object) -> tuple[int, ...] | None:
    if value is None:
        return None
    if isinstance(value, int | str) or not isinstance(value, Iterable):
        raise InvalidRequestError(
            f"site_ids must be a collection of site ids (or None for every site), got {value!r}"
        )
    ids: dict[int, None] = {}
    for v in value:
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise InvalidRequestError(f"site ids must be positive integers, got {v!r}")
        ids[v] = None
    return tuple(ids)


def _to_resolution(value: Resolution | ResolutionName | None) -> str | None:
    if value is None:
        return None
    name: object = getattr(value, "value", value)
    if not isinstance(name, str) or name.upper() not in RESOLUTIONS:
        raise InvalidRequestError(
            f"unknown resolution {value!r}; expected one of {', '.join(RESOLUTIONS)}"
        )
    return name.upper()


def _check_bound(
    _inst: object, attribute: attrs.Attribute[SweepBound | None], value: object
) -> None:
    if value is not None and not isinstance(value, date | SiteDay):
        raise InvalidRequestError(
            f"{attribute.name} must be a date, a datetime, a SiteDay or None, got {value!r}"
        )


@attrs.frozen(kw_only=True)
class SweepSpec:
    """What a fleet sweep fetches, for which sites, over which window.

    Attributes:
        what: The targets (any `Target`, listed in `TARGETS`; a comma-separated string is accepted):
            ``overview`` (production/consumption totals), ``energy`` (Wh per bucket),
            ``power`` (W per bucket), ``devices`` (the inventory, every device type),
            ``alerts``, ``inverter_telemetry`` / ``meter_telemetry`` /
            ``storage_telemetry`` (every metric of every device of the family), and
            single device metrics such as ``inverter_voltage`` or
            ``storage_state_of_energy`` (any `solaredge_async.DeviceMetric`).
        site_ids: The sites, or `None` for every site the credential sees (one
            ``GET /sites`` call per 1,000 sites, paid at planning as discovery; one
            more when the fleet is an exact multiple of 1,000 and the server's
            ``count`` cannot tell a full last page from a total).
        start: The first site-local instant: a `datetime.date` (its midnight), a naive
            `datetime.datetime` (site-local wall clock), an aware one, or a `SiteDay`.
            `None` together with ``end`` asks for the API's default window (site-local
            midnight today to now).
        end: The end: a date or `SiteDay` is inclusive (the midnight after it); a
            datetime is exclusive.
        resolution: The bucket length sent to windowed endpoints (``QUARTER_HOUR`` ..
            ``TOTAL``); `None` sends none (the server's default, ``QUARTER_HOUR``).
        prefer_bulk: Fetch single device metrics through the family's bulk telemetry
            call (one call per site and window for every device and metric) instead
            of one call per device, metric and window. The data are the same and it is
            never more credits; turn it off only to exercise the per-device paths.
        only_open_alerts: With ``alerts``: only the open ones.
        split_overview: Send ``/overview`` windows no longer than the quarter-hour
            cap (12 h by default), two calls per day instead of one. The reference
            names no cap for ``/overview`` (it has no resolution), so by default a
            window is one call; turn this on for a server that caps overview windows
            (a refused window costs a credit per site and is never retried).

    Raises:
        InvalidRequestError: An unknown target or resolution, a bad site id, or only
            one of ``start`` / ``end``.
    """

    what: frozenset[str] = attrs.field(converter=_to_what)
    site_ids: tuple[int, ...] | None = attrs.field(default=None, converter=_to_site_ids)
    start: SweepBound | None = attrs.field(default=None, validator=_check_bound)
    end: SweepBound | None = attrs.field(default=None, validator=_check_bound)
    resolution: str | None = attrs.field(default=None, converter=_to_resolution)
    prefer_bulk: bool = True
    only_open_alerts: bool = False
    split_overview: bool = False

    def __attrs_post_init__(self) -> None:
        if (self.start is None) != (self.end is None):
            raise InvalidRequestError(
                "pass both start and end, or neither (for the API's default window: "
                "site-local midnight today to now)"
            )
        _check_order(self.start, self.end)


def _check_order(start: object, end: object) -> None:
    """Refuse a window that ends before it starts, before any call is made."""
    backwards = False
    if isinstance(start, SiteDay) and isinstance(end, SiteDay):
        backwards = end.offset < start.offset
    elif isinstance(start, datetime) and isinstance(end, datetime):
        if (start.utcoffset() is None) == (end.utcoffset() is None):
            backwards = end <= start
    elif (
        isinstance(start, date)
        and isinstance(end, date)
        and not isinstance(start, datetime)
        and not isinstance(end, datetime)
    ):
        backwards = end < start  # dates are inclusive: one day is start == end
    if backwards:
        raise InvalidRequestError(
            f"the window must end after it starts: start={start!r}, end={end!r}"
        )
