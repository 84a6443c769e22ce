"""Night skip: when a PV site produces nothing, so polling it would waste credits.

Two sources, best first:

* **The site's position** (latitude, longitude and IANA zone): sunrise and sunset from
  the NOAA solar-position equations (the ones behind NOAA's solar calculator
  spreadsheet), accurate to about a minute between the polar circles, widened by a
  margin on both sides (default 30 min: diffuse light, inverters waking up late, the
  last bucket after sunset).
* **Observed production**, when the position is unknown (the Monitoring API's
  ``location`` carries no coordinates): the site-local times of day of the first and
  last non-zero production bucket over the last few days, widened by the same margin.

Polar day (the sun never sets) means no night. Polar night (it never rises) keeps one
short window a day around solar noon, so a PV target's watermark still moves once a
day instead of piling up weeks of buckets for one large catch-up fetch.

A site with neither a position nor observations is never skipped. Whether a target is
skipped at all is the target's decision (`PollTarget.pv`): alerts, batteries and
consumption meters change at night.

Every instant taken or returned is an aware `datetime`; returned ones are in UTC.
"""

from __future__ import annotations

import functools
import math
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Final

import attrs

from solaredge_async._windows import day_window, site_zone
from solaredge_async.errors import InvalidRequestError

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

__all__ = ["NightSkip", "PollSite", "SunTimes", "sun_times"]

_DAY: Final = timedelta(days=1)
#: Apparent sunrise: the sun's centre 0.833 deg below the horizon (refraction + radius).
_ZENITH_COS: Final = math.cos(math.radians(90.833))
_J2000: Final = 2451545.0
_UNIX_EPOCH_JD: Final = 2440587.5


def _check_latitude(_instance: object, _attribute: object, value: float | None) -> None:
    if value is not None and not -90.0 <= value <= 90.0:  # noqa: PLR2004 - degrees
        raise InvalidRequestError(f"latitude must be within -90..90 degrees, got {value!r}")


def _check_longitude(_instance: object, _attribute: object, value: float | None) -> None:
    if value is not None and not -180.0 <= value <= 180.0:  # noqa: PLR2004 - degrees
        raise InvalidRequestError(f"longitude must be within -180..180 degrees, got {value!r}")


def _check_zone(_instance: object, _attribute: object, value: str | None) -> None:
    site_zone(value)  # raises InvalidRequestError for an unknown name


@attrs.frozen(kw_only=True)
class PollSite:
    """A site as the poller sees it.

    Attributes:
        site_id: The site's id.
        zone: Its IANA zone (``location.timezone``); `None` means UTC.
        latitude: Degrees north (negative south), or `None` when unknown.
        longitude: Degrees east (negative west), or `None` when unknown.

    Raises:
        InvalidRequestError: An unknown zone, or coordinates out of range.
    """

    site_id: int
    zone: str | None = attrs.field(default=None, validator=_check_zone)
    latitude: float | None = attrs.field(default=None, validator=_check_latitude)
    longitude: float | None = attrs.field(default=None, validator=_check_longitude)

    @property
    def tz(self) -> ZoneInfo:
        """The site's zone (UTC when unknown)."""
        return site_zone(self.zone)


@attrs.frozen(kw_only=True)
class SunTimes:
    """Sunrise, solar noon and sunset of one site-local day (UTC instants).

    Attributes:
        day: The site-local date.
        noon: Solar noon.
        sunrise: Apparent sunrise, or `None` in polar day or polar night.
        sunset: Apparent sunset, or `None` in polar day or polar night.
        polar: ``"day"`` when the sun never sets, ``"night"`` when it never rises,
            `None` otherwise.
    """

    day: date
    noon: datetime
    sunrise: datetime | None
    sunset: datetime | None
    polar: str | None


def _julian(instant: datetime) -> float:
    return instant.timestamp() / 86_400.0 + _UNIX_EPOCH_JD


def _declination_and_equation(jd: float) -> tuple[float, float]:
    """Return the sun's declination (radians) and the equation of time (minutes)."""
    t = (jd - _J2000) / 36525.0
    l0 = math.radians((280.46646 + t * (36000.76983 + t * 0.0003032)) % 360.0)
    m = math.radians(357.52911 + t * (35999.05029 - 0.0001537 * t))
    e = 0.016708634 - t * (0.000042037 + 0.0000001267 * t)
    center = (
        math.sin(m) * (1.914602 - t * (0.004817 + 0.000014 * t))
        + math.sin(2 * m) * (0.019993 - 0.000101 * t)
        + math.sin(3 * m) * 0.000289
    )
    omega = math.radians(125.04 - 1934.136 * t)
    apparent = math.radians(math.degrees(l0) + center - 0.00569 - 0.00478 * math.sin(omega))
    mean_obliquity = (
        23.0 + (26.0 + (21.448 - t * (46.815 + t * (0.00059 - t * 0.001813))) / 60.0) / 60.0
    )
    obliquity = math.radians(mean_obliquity + 0.00256 * math.cos(omega))
    declination = math.asin(math.sin(obliquity) * math.sin(apparent))
    y = math.tan(obliquity / 2.0) ** 2
    equation = 4.0 * math.degrees(
        y * math.sin(2 * l0)
        - 2 * e * math.sin(m)
        + 4 * e * y * math.sin(m) * math.cos(2 * l0)
        - 0.5 * y * y * math.sin(4 * l0)
        - 1.25 * e * e * math.sin(2 * m)
    )
    return declination, equation


def sun_times(latitude: float, longitude: float, day: date, tz: ZoneInfo) -> SunTimes:
    """Sunrise, solar noon and sunset of a site-local day (NOAA equations).

    Args:
        latitude: Degrees north.
        longitude: Degrees east.
        day: The site-local date.
        tz: The site's zone; it decides which UTC day holds that date's solar noon.

    Returns:
        UTC instants; sunrise and sunset are `None` in polar day or night.
    """
    midnight = datetime.combine(day, time(), tzinfo=UTC)
    _, equation = _declination_and_equation(_julian(midnight + timedelta(hours=12)))
    noon = midnight + timedelta(minutes=720.0 - 4.0 * longitude - equation)
    # The UTC date of solar noon can differ from the site-local date by one (zones far
    # from their meridian, the date line): move it onto the asked-for local day.
    noon += _DAY * (day - noon.astimezone(tz).date()).days
    declination, equation = _declination_and_equation(_julian(noon))
    noon = datetime.combine(noon.date(), time(), tzinfo=UTC) + timedelta(
        minutes=720.0 - 4.0 * longitude - equation
    )
    noon += _DAY * (day - noon.astimezone(tz).date()).days
    lat = math.radians(latitude)
    cos_hour_angle = (_ZENITH_COS - math.sin(lat) * math.sin(declination)) / (
        math.cos(lat) * math.cos(declination)
    )
    if cos_hour_angle >= 1.0:
        return SunTimes(day=day, noon=noon, sunrise=None, sunset=None, polar="night")
    if cos_hour_angle <= -1.0:
        return SunTimes(day=day, noon=noon, sunrise=None, sunset=None, polar="day")
    half = timedelta(minutes=4.0 * math.degrees(math.acos(cos_hour_angle)))
    return SunTimes(day=day, noon=noon, sunrise=noon - half, sunset=noon + half, polar=None)


class NightSkip:
    """Decides when PV targets of a site are not worth polling.

    Holds the production observed per site (mutable, in memory); everything else is
    computed from the `PollSite` passed in.

    Args:
        margin: Widening of each daylight window on both sides (default 30 min).
        memory_days: How many recent observed days the learned window keeps (default 7).

    Raises:
        InvalidRequestError: A negative margin or a memory under one day.
    """

    def __init__(self, *, margin: timedelta = timedelta(minutes=30), memory_days: int = 7) -> None:
        if margin < timedelta(0):
            raise InvalidRequestError(f"margin must not be negative, got {margin}")
        if memory_days < 1:
            raise InvalidRequestError(f"memory_days must be at least 1, got {memory_days}")
        self._margin = margin
        self._memory = memory_days
        # site id -> site-local day -> (first, last) production time of day, seconds
        self._seen: dict[int, dict[date, tuple[float, float]]] = {}

    @property
    def margin(self) -> timedelta:
        """The widening of every daylight window on each side."""
        return self._margin

    def observe(self, site: PollSite, first: datetime, last: datetime) -> None:
        """Record a window's first and last non-zero production bucket starts.

        Only used for sites without coordinates. Each site-local day keeps the
        earliest and latest production time of day seen on it; a pair spanning two
        days (the morning poll covering the night) extends each end's own day. A day
        counts once a later day has been seen (it is complete by then), so a site is
        skipped only after one whole day of observations.

        Raises:
            InvalidRequestError: ``last`` before ``first``.
        """
        if last < first:
            raise InvalidRequestError(f"last production {last} is before the first {first}")
        tz = site.tz
        days = self._seen.setdefault(site.site_id, {})
        for instant in (first, last):
            local = instant.astimezone(tz)
            seconds = _seconds_of_day(local)
            lo, hi = days.get(local.date(), (seconds, seconds))
            days[local.date()] = (min(lo, seconds), max(hi, seconds))
        for old in sorted(days)[: -(self._memory + 1)]:
            del days[old]

    def window(self, site: PollSite, day: date) -> tuple[datetime, datetime] | None:
        """The daylight window (margin included) of a site-local day, UTC instants.

        Returns:
            `None` when nothing is known about the site (never skipped).
        """
        tz = site.tz
        if site.latitude is not None and site.longitude is not None:
            return _solar_window(site.latitude, site.longitude, site.zone, day, self._margin)
        days = self._seen.get(site.site_id, {})
        complete = sorted(days)[:-1]  # the newest day may not be over yet
        if not complete:
            return None
        first = min(days[d][0] for d in complete)
        last = max(days[d][1] for d in complete)
        midnight = _day_bounds(day, tz)[0]
        # The last bucket *starts* at `last`; production runs to its end.
        end = midnight + timedelta(seconds=last) + timedelta(minutes=15)
        return midnight + timedelta(seconds=first) - self._margin, end + self._margin

    def is_night(self, site: PollSite, instant: datetime) -> bool:
        """Whether ``instant`` lies outside every daylight window of the site."""
        return self.night_end(site, instant) != instant

    def night_end(self, site: PollSite, instant: datetime) -> datetime:
        """The first instant at or after ``instant`` inside a daylight window (UTC).

        Returns ``instant`` itself (in UTC) when it is already daylight or nothing is
        known about the site.
        """
        instant = instant.astimezone(UTC)
        today = instant.astimezone(site.tz).date()
        later: list[datetime] = []
        for offset in (-1, 0, 1, 2):
            span = self.window(site, today + timedelta(days=offset))
            if span is None:
                return instant
            start, end = span
            if start <= instant < end:
                return instant
            if start > instant:
                later.append(start)
        # Every site-local day has a window (polar night keeps one around noon), so a
        # start within the next two days always exists.
        return min(later)

    def daylight_fraction(self, site: PollSite, day: date) -> float:
        """The share of a site-local day inside its daylight window, 0-1 (1: unknown)."""
        span = self.window(site, day)
        if span is None:
            return 1.0
        start, end = _day_bounds(day, site.tz)
        inside = min(span[1], end) - max(span[0], start)
        return max(0.0, min(1.0, inside / (end - start)))


@functools.lru_cache(maxsize=8192)
def _day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    start, end = day_window(day, tz)
    return start.astimezone(UTC), end.astimezone(UTC)


@functools.lru_cache(maxsize=4096)
def _solar_window(
    latitude: float, longitude: float, zone: str | None, day: date, margin: timedelta
) -> tuple[datetime, datetime]:
    # Cached: a fleet shares few positions and days, and the scheduler asks often.
    tz = site_zone(zone)
    sun = sun_times(latitude, longitude, day, tz)
    if sun.polar == "day":
        return _day_bounds(day, tz)
    if sun.sunrise is None or sun.sunset is None:  # polar night
        return sun.noon - margin, sun.noon + margin
    return sun.sunrise - margin, sun.sunset + margin


def _seconds_of_day(local: datetime) -> float:
    return local.hour * 3600.0 + local.minute * 60.0 + local.second
