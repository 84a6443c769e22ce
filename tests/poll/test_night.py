"""Night skip: NOAA sun times, polar days and nights, the learned window."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from solaredge_async.errors import InvalidRequestError
from solaredge_async.poll import NightSkip, PollSite, sun_times

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("place", "day", "rise", "sset"),
    [
        # Reference: NOAA solar calculator (to the minute).
        ((52.52, 13.405, "Europe/Berlin"), date(2026, 6, 21), time(4, 43), time(21, 33)),
        ((52.52, 13.405, "Europe/Berlin"), date(2026, 12, 21), time(8, 15), time(15, 53)),
        ((-33.87, 151.21, "Australia/Sydney"), date(2026, 1, 1), time(5, 47), time(20, 9)),
        ((37.77, -122.42, "America/Los_Angeles"), date(2026, 3, 20), time(7, 12), time(19, 21)),
    ],
)
def test_sun_times_match_the_noaa_calculator(place, day, rise, sset):
    """Sunrise and sunset within two minutes of NOAA's published values."""
    lat, lon, zone = place
    tz = ZoneInfo(zone)
    sun = sun_times(lat, lon, day, tz)
    assert sun.polar is None
    assert sun.sunrise is not None
    assert sun.sunset is not None
    for got, want in ((sun.sunrise, rise), (sun.sunset, sset)):
        local = got.astimezone(tz)
        assert local.date() == day
        expected = datetime.combine(day, want, tzinfo=tz)
        assert abs(local - expected) <= timedelta(minutes=2)


def test_solar_noon_lands_on_the_site_local_day_across_the_date_line():
    """Apia (UTC+13): solar noon is on the asked-for local date, near local noon."""
    tz = ZoneInfo("Pacific/Apia")
    sun = sun_times(-13.8, -171.8, date(2026, 6, 1), tz)
    local = sun.noon.astimezone(tz)
    assert local.date() == date(2026, 6, 1)
    assert 11 <= local.hour <= 13


def test_polar_day_has_no_night_and_polar_night_one_window_at_noon():
    """Tromsø: the midnight sun is never skipped; the polar night polls once a day."""
    site = PollSite(site_id=1, zone="Europe/Oslo", latitude=69.65, longitude=18.96)
    night = NightSkip()
    assert sun_times(69.65, 18.96, date(2026, 6, 21), site.tz).polar == "day"
    midsummer_midnight = datetime(2026, 6, 21, 0, 30, tzinfo=site.tz)
    assert not night.is_night(site, midsummer_midnight)
    assert night.daylight_fraction(site, date(2026, 6, 21)) == 1.0

    assert sun_times(69.65, 18.96, date(2026, 12, 21), site.tz).polar == "night"
    evening = datetime(2026, 12, 21, 18, 0, tzinfo=site.tz)
    assert night.is_night(site, evening)
    wake = night.night_end(site, evening).astimezone(site.tz)
    assert wake.date() == date(2026, 12, 22)
    assert 10 <= wake.hour <= 12  # solar noon less the margin
    assert night.daylight_fraction(site, date(2026, 12, 21)) == pytest.approx(1 / 24, abs=0.01)


def test_night_end_is_sunrise_less_the_margin():
    """At 23:00 in Berlin the night ends at next sunrise minus 30 min."""
    site = PollSite(site_id=1, zone="Europe/Berlin", latitude=52.52, longitude=13.405)
    night = NightSkip(margin=timedelta(minutes=30))
    late = datetime(2026, 6, 20, 23, 0, tzinfo=BERLIN)
    assert night.is_night(site, late)
    sunrise = sun_times(52.52, 13.405, date(2026, 6, 21), BERLIN).sunrise
    assert sunrise is not None
    assert night.night_end(site, late) == sunrise - timedelta(minutes=30)
    noon = datetime(2026, 6, 21, 12, 0, tzinfo=BERLIN)
    assert night.night_end(site, noon) == noon.astimezone(UTC)
    assert 0.6 < night.daylight_fraction(site, date(2026, 6, 21)) < 0.8


def test_unknown_site_is_never_skipped():
    """No position and no observations: every instant is daylight."""
    site = PollSite(site_id=5, zone="Europe/Berlin")
    night = NightSkip()
    assert night.window(site, date(2026, 6, 1)) is None
    assert not night.is_night(site, datetime(2026, 6, 1, 2, 0, tzinfo=BERLIN))
    assert night.daylight_fraction(site, date(2026, 6, 1)) == 1.0


def test_learned_window_needs_a_whole_day_and_spans_all_observations():
    """Observations of one day count once the next day is seen; the window is the hull."""
    site = PollSite(site_id=5, zone="Europe/Berlin")
    night = NightSkip(margin=timedelta(minutes=30), memory_days=3)
    day = date(2026, 6, 1)

    def at(d: date, hh: int, mm: int = 0) -> datetime:
        return datetime(d.year, d.month, d.day, hh, mm, tzinfo=BERLIN)

    night.observe(site, at(day, 6), at(day, 12))
    night.observe(site, at(day, 13), at(day, 20))
    assert night.window(site, day + timedelta(days=1)) is None  # the day may not be over
    # The morning poll covers the night: its pair spans two days.
    night.observe(site, at(day, 20, 15), at(day + timedelta(days=1), 5, 45))
    start, end = night.window(site, day + timedelta(days=1)) or (None, None)
    assert start == at(day + timedelta(days=1), 6) - timedelta(minutes=30)
    assert end == at(day + timedelta(days=1), 20, 30) + timedelta(minutes=30)
    assert night.is_night(site, at(day + timedelta(days=1), 2))
    assert not night.is_night(site, at(day + timedelta(days=1), 12))
    # Old days are forgotten.
    for offset in range(2, 8):
        d = day + timedelta(days=offset)
        night.observe(site, at(d, 8), at(d, 17))
    start, end = night.window(site, day + timedelta(days=8)) or (None, None)
    assert start == at(day + timedelta(days=8), 8) - timedelta(minutes=30)


def test_bad_inputs_are_refused():
    """Coordinates out of range, unknown zones, reversed observations."""
    with pytest.raises(InvalidRequestError, match="latitude"):
        PollSite(site_id=1, latitude=91.0, longitude=0.0)
    with pytest.raises(InvalidRequestError, match="longitude"):
        PollSite(site_id=1, latitude=0.0, longitude=-181.0)
    with pytest.raises(InvalidRequestError, match="time zone"):
        PollSite(site_id=1, zone="Mars/Olympus")
    with pytest.raises(InvalidRequestError, match="margin"):
        NightSkip(margin=timedelta(minutes=-1))
    with pytest.raises(InvalidRequestError, match="memory_days"):
        NightSkip(memory_days=0)
    site = PollSite(site_id=1)
    with pytest.raises(InvalidRequestError, match="before"):
        NightSkip().observe(
            site, datetime(2026, 1, 2, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)
        )
