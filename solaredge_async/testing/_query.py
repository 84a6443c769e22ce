"""Query parameters: parsing, validation (400s) and the time window of a request.

`Query` holds a request's decoded parameters and reads them as the API does: integers in
a range, booleans, units, and the ``from``/``to``/``resolution`` window with its span caps
(reference §4, §5). `Windows` resolves windows for a site (defaults are midnight → now in
the site's zone) and caches the texts the defaulted ``period`` echoes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Final, NamedTuple

from solaredge_async.testing._config import RESOLUTIONS
from solaredge_async.testing._replies import Problem
from solaredge_async.testing._timeutil import (
    QH,
    BadTime,
    day_bounds,
    format_now,
    iso_local,
    local_ordinal,
    parse_request_time,
    zone,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import datetime

    from solaredge_async.testing._config import SimulatorConfig
    from solaredge_async.testing._model import SiteModel

__all__ = ["ENERGY_UNITS", "NO_QUERY", "POWER_UNITS", "Query", "Window", "Windows"]

#: Energy units and their size in watt-hours.
ENERGY_UNITS: Final = {"WH": 1.0, "KWH": 1e3, "MWH": 1e6, "GWH": 1e9}
#: Power units and their size in watts.
POWER_UNITS: Final = {"W": 1.0, "KW": 1e3, "MW": 1e6}

_CACHE_MAX: Final = 4096
_HOUR: Final = 3600
_DAY: Final = 86_400
_RESOLUTION_TEXT: Final = ", ".join(RESOLUTIONS)


class Query:
    """A request's decoded query parameters, read and validated as the API does.

    Args:
        pairs: The decoded ``(name, value)`` pairs, in order (a name may repeat).

    Every reader raises `Problem` (a 400) for a value the API rejects.
    """

    __slots__ = ("values",)

    def __init__(self, pairs: Sequence[tuple[str, str]]) -> None:
        values: dict[str, list[str]] = {}
        for name, value in pairs:
            values.setdefault(name, []).append(value)
        self.values = values

    def first(self, name: str) -> str | None:
        """Return the first value of ``name``, or ``None``."""
        found = self.values.get(name)
        return found[0] if found else None

    def all(self, name: str) -> list[str]:
        """Return every value of ``name`` (empty if absent)."""
        return self.values.get(name) or []

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        """Return ``name`` as an integer in ``[low, high]``, or ``default`` if absent."""
        raw = self.first(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise Problem(400, f"Parameter {name} must be an integer") from None
        if not low <= value <= high:
            raise Problem(400, f"Parameter {name} must be between {low} and {high}")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        """Return ``name`` as ``true``/``false``, or ``default`` if absent."""
        raw = self.first(name)
        if raw is None:
            return default
        lowered = raw.lower()
        if lowered not in {"true", "false"}:
            raise Problem(400, f"Parameter {name} must be true or false")
        return lowered == "true"

    def unit(self, table: Mapping[str, float], default: str, *, honour: bool) -> tuple[str, float]:
        """Return ``(unit, divisor)`` for the ``unit`` parameter (``default`` if absent)."""
        raw = self.first("unit")
        if raw is None or not honour:
            return default, 1.0
        unit = raw.upper()
        if unit not in table:
            raise Problem(400, f"Invalid unit {raw[:10]!r}; expected one of {', '.join(table)}")
        return unit, table[unit]


#: The parameters of a call without a query string (shared: a `Query` is read-only).
NO_QUERY: Final = Query(())


class Window(NamedTuple):
    """The resolved time window of one request.

    Attributes:
        start: Window start, POSIX seconds.
        end: Window end (exclusive), POSIX seconds.
        period_from: The ``period.from`` text to echo.
        period_to: The ``period.to`` text to echo.
        resolution: The resolution asked for (default ``QUARTER_HOUR``).
        explicit_end: Whether ``to`` was given (not defaulted to "now").
    """

    start: float
    end: float
    period_from: str
    period_to: str
    resolution: str
    explicit_end: bool


def effective_span_caps(config: SimulatorConfig) -> dict[str, float | None]:
    """Return the span cap per resolution in seconds (``None``: none), modes applied."""
    caps = {
        res: (None if cap is None else cap.total_seconds()) for res, cap in config.span_caps.items()
    }
    if config.subdaily_cap_hours == 24:  # noqa: PLR2004
        for res in ("QUARTER_HOUR", "HOUR"):
            cap = caps.get(res)
            if cap is not None:
                caps[res] = max(cap, timedelta(hours=24).total_seconds())
    return caps


class Windows:
    """Resolves request windows for sites (settings applied; texts cached).

    Args:
        config: The settings (time input mode, span caps and their modes).
    """

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.caps = effective_span_caps(config)
        #: Whether `bucket_end` may extend a window (``include_bucket_at_to``).
        self.extends = config.include_bucket_at_to
        self._midnights: dict[tuple[str, float], tuple[float, str]] = {}
        self._now_texts: dict[tuple[str, float], str] = {}
        self._defaults: dict[tuple[str, float], Window] = {}
        self._instants: dict[tuple[str, str], tuple[datetime, float, str]] = {}

    def resolve(
        self,
        model: SiteModel,
        query: Query,
        now: float,
        allowed: frozenset[str] | None,
        *,
        capped: bool = True,
    ) -> Window:
        """Return the window a request asks for; `Problem` (400) when it is invalid.

        ``capped=False`` skips the span cap (totals such as ``/overview`` have no
        resolution, so the reference gives them no cap).
        """
        if not query.values and not self.config.cap_default_window:
            return self._default_window(model.tz, now, allowed)
        config = self.config
        values = query.values
        given = values.get("resolution")
        resolution = given[0] if given else "QUARTER_HOUR"
        if resolution not in RESOLUTIONS:
            raise Problem(
                400, f"Invalid resolution {resolution[:20]!r}; expected one of {_RESOLUTION_TEXT}"
            )
        if allowed is not None and resolution not in allowed:
            raise Problem(400, f"Resolution {resolution} is not supported by this endpoint")
        given = values.get("from")
        from_raw = given[0] if given else None
        given = values.get("to")
        to_raw = given[0] if given else None
        defaulted = from_raw is None and to_raw is None
        if (from_raw is None) != (to_raw is None) and not config.allow_single_bound:
            raise Problem(400, "Both from and to are required, or neither")
        from_dt = to_dt = None
        if from_raw is None:
            start, from_text = self.midnight(model.tz, now)
        else:
            from_dt, start, from_text = self.instant(from_raw, model.tz)
        if to_raw is None:
            end = now
            to_text = self.now_text(model.tz, now)
        else:
            to_dt, end, to_text = self.instant(to_raw, model.tz)
        if start >= end:
            raise Problem(400, "from must be before to")
        if capped and (not defaulted or config.cap_default_window):
            self._check_span(resolution, start, end, from_dt, to_dt)
        return Window(start, end, from_text, to_text, resolution, explicit_end=to_raw is not None)

    def instant(self, text: str, tz_name: str) -> tuple[datetime, float, str]:
        """Return a ``from``/``to`` value as (aware datetime, POSIX seconds, ISO text).

        Cached per text and zone: a fleet sweep asks every site for the same window.

        Raises:
            Problem: 400 when the value is not an ISO 8601 date or date-time.
        """
        key = (text, tz_name)
        got = self._instants.get(key)
        if got is None:
            try:
                parsed = parse_request_time(text, zone(tz_name), self.config.time_input)
            except BadTime as exc:
                raise Problem(400, str(exc)) from None
            if len(self._instants) > _CACHE_MAX:
                self._instants.clear()
            got = self._instants[key] = (parsed, parsed.timestamp(), parsed.isoformat())
        return got

    def _check_span(
        self,
        resolution: str,
        start: float,
        end: float,
        from_dt: datetime | None,
        to_dt: datetime | None,
    ) -> None:
        """Raise `Problem` (400) when ``to - from`` exceeds the resolution's cap."""
        cap = self.caps.get(resolution)
        if cap is None:
            return
        span = end - start
        if self.config.span_clock == "wall" and from_dt is not None and to_dt is not None:
            span = (to_dt.replace(tzinfo=None) - from_dt.replace(tzinfo=None)).total_seconds()
        if span > cap:
            raise Problem(
                400,
                "The requested period exceeds the maximum allowed for resolution "
                f"{resolution} ({_human(cap)})",
            )

    def _default_window(self, tz_name: str, now: float, allowed: frozenset[str] | None) -> Window:
        """Return the window of a call without parameters: midnight to now (cached)."""
        if allowed is not None and "QUARTER_HOUR" not in allowed:
            raise Problem(400, "Resolution QUARTER_HOUR is not supported by this endpoint")
        key = (tz_name, now)
        window = self._defaults.get(key)
        if window is None:
            if len(self._defaults) > _CACHE_MAX:
                self._defaults.clear()
            start, from_text = self.midnight(tz_name, now)
            if start >= now:
                raise Problem(400, "from must be before to")
            to_text = self.now_text(tz_name, now)
            window = Window(start, now, from_text, to_text, "QUARTER_HOUR", explicit_end=False)
            self._defaults[key] = window
        return window

    def bucket_end(self, model: SiteModel, window: Window) -> float:
        """Return the end to list buckets up to, the bucket at ``to`` included if set.

        With ``include_bucket_at_to``, a bucket that starts exactly at an explicit
        ``to`` is listed too (quarter-hour and hour buckets whole; a DAY or coarser
        bucket with that one site-local day).
        """
        end = window.end
        if not (self.config.include_bucket_at_to and window.explicit_end):
            return end
        resolution = window.resolution
        if resolution == "QUARTER_HOUR":
            return end + QH if end % QH == 0 else end
        if resolution == "HOUR":
            return end + _HOUR if end % QH == 0 else end
        tz_name = model.tz
        ordinal = local_ordinal(end, zone(tz_name))
        day_start, day_end = day_bounds(tz_name, ordinal)
        return float(day_end) if day_start == end else end

    def midnight(self, tz_name: str, now: float) -> tuple[float, str]:
        """Return site-local midnight before ``now`` and its ISO text (cached)."""
        key = (tz_name, now)
        got = self._midnights.get(key)
        if got is None:
            if len(self._midnights) > _CACHE_MAX:
                self._midnights.clear()
            tz = zone(tz_name)
            start = float(day_bounds(tz_name, local_ordinal(now, tz))[0])
            got = self._midnights[key] = (start, iso_local(start, tz))
        return got

    def now_text(self, tz_name: str, now: float) -> str:
        """Return ``now`` as the API formats a defaulted ``period.to`` (cached)."""
        key = (tz_name, now)
        got = self._now_texts.get(key)
        if got is None:
            if len(self._now_texts) > _CACHE_MAX:
                self._now_texts.clear()
            got = self._now_texts[key] = format_now(now, zone(tz_name))
        return got


def _human(seconds: float) -> str:
    if seconds % _DAY == 0:
        return f"{int(seconds // _DAY)} days"
    return f"{seconds / _HOUR:g} hours"
