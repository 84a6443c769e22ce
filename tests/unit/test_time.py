"""Tests for site-local time handling: windows, splitting by cap, merging."""

# Naive datetimes are the point of many tests here: they mean site-local wall time.

from __future__ import annotations

import enum
import itertools
import math
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solaredge_async._windows import (
    PLAUSIBLE_CAPS,
    RESOLUTIONS,
    WindowCaps,
    check_span,
    day_window,
    format_api_time,
    merge_series,
    resolve_window,
    site_zone,
    split_window,
    today_window,
    trim_series,
    with_cap,
)
from solaredge_async.errors import (
    ConfigurationError,
    InvalidRequestError,
    ResponseValidationError,
    SpanTooLongError,
)

BERLIN = ZoneInfo("Europe/Berlin")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
SYDNEY = ZoneInfo("Australia/Sydney")
HAVANA = ZoneInfo("America/Havana")  # DST starts at midnight; falls back to midnight
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")  # 30-minute DST
CAPS = WindowCaps()

#: Days on which the offset changes, (spring forward, fall back) per year 2025 and 2026.
TRANSITION_DAYS = {
    "Europe/Berlin": ("2025-03-30", "2025-10-26", "2026-03-29", "2026-10-25"),
    "America/Los_Angeles": ("2025-03-09", "2025-11-02", "2026-03-08", "2026-11-01"),
    "Australia/Sydney": ("2025-10-05", "2025-04-06", "2026-10-04", "2026-04-05"),
}
QUARTER = timedelta(minutes=15)
EPOCH = datetime(2020, 1, 1)
HOUR = timedelta(hours=1)


def utc(dt: datetime) -> datetime:
    """The instant as a naive UTC datetime (exact, free of same-zone wall arithmetic)."""
    offset = dt.utcoffset()
    assert offset is not None
    return dt.replace(tzinfo=None, fold=0) - offset


def elapsed(a: datetime, b: datetime) -> timedelta:
    """Elapsed time from a to b, whatever their zones."""
    return utc(b) - utc(a)


def local(instant: datetime, tz: ZoneInfo) -> datetime:
    """A naive UTC instant as an aware datetime in tz."""
    return instant.replace(tzinfo=UTC).astimezone(tz)


def is_unambiguous(instant: datetime, tz: ZoneInfo) -> bool:
    """Whether the instant's offset-free wall clock names it alone."""
    wall = local(instant, tz).replace(tzinfo=None, fold=0)
    return (
        wall.replace(tzinfo=tz, fold=0).utcoffset() == wall.replace(tzinfo=tz, fold=1).utcoffset()
    )


# --- WindowCaps ---------------------------------------------------------------------------


class StrRes(enum.StrEnum):
    """A str-subclass enum like the models' (its members hash by name)."""

    QUARTER_HOUR = "QUARTER_HOUR"
    DAILY = "DAY"


def test_caps_defaults() -> None:
    """The default caps follow the API reference."""
    assert CAPS.cap_for("QUARTER_HOUR") == timedelta(hours=12)
    assert CAPS.cap_for("HOUR") == timedelta(hours=24)
    assert CAPS.cap_for("DAY") == timedelta(days=28)
    assert CAPS.cap_for("WEEK") == timedelta(days=366)
    assert CAPS.cap_for("MONTH") == timedelta(days=366)
    assert CAPS.cap_for("YEAR") is None
    assert CAPS.cap_for("TOTAL") is None
    assert CAPS.dst_margin == timedelta(hours=1)


def test_caps_accept_enums_and_any_case() -> None:
    """Enum members (by value, even when the name differs) and lower case both work."""
    assert CAPS.cap_for(StrRes.QUARTER_HOUR) == timedelta(hours=12)
    assert CAPS.cap_for(StrRes.DAILY) == timedelta(days=28)
    assert CAPS.cap_for("hour") == timedelta(hours=24)


def test_caps_unknown_resolution() -> None:
    """An unknown resolution names the allowed ones."""
    with pytest.raises(
        InvalidRequestError, match=r"Unknown resolution 'MINUTE'.*QUARTER_HOUR, HOUR,"
    ):
        CAPS.cap_for("MINUTE")


def test_caps_are_frozen_and_keyword_only() -> None:
    """WindowCaps is an immutable keyword-only record."""
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        CAPS.day = None  # type: ignore[misc]
    with pytest.raises(TypeError):
        WindowCaps(timedelta(hours=1))  # type: ignore[call-arg]
    assert WindowCaps(day=timedelta(days=7)).cap_for("DAY") == timedelta(days=7)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"day": timedelta(0)}, "WindowCaps.day must be a positive timedelta"),
        ({"hour": timedelta(hours=-1)}, "WindowCaps.hour must be a positive"),
        ({"week": 7}, "WindowCaps.week must be a positive timedelta or None, got 7"),
        ({"dst_margin": timedelta(minutes=-1)}, "dst_margin must be a non-negative"),
        (
            {"quarter_hour": timedelta(hours=1)},
            r"dst_margin \(1 h\) must be shorter.*quarter_hour is 1 h",
        ),
    ],
)
def test_caps_validation(kwargs: dict[str, object], message: str) -> None:
    """Caps must be positive and longer than the DST margin."""
    with pytest.raises(ConfigurationError, match=message):
        WindowCaps(**kwargs)  # type: ignore[arg-type]


# --- site_zone ----------------------------------------------------------------------------


def test_site_zone_lookup_and_cache() -> None:
    """A known IANA name gives its zone, the same object every time."""
    zone = site_zone("Europe/Berlin")
    assert zone == BERLIN
    assert site_zone("Europe/Berlin") is zone


def test_site_zone_none_is_utc() -> None:
    """No zone name falls back to UTC, not the host's zone."""
    assert site_zone(None).key == "UTC"


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "", "../etc/passwd", "Europe"])
def test_site_zone_unknown(name: str) -> None:
    """An unknown or malformed name is a clear request error."""
    with pytest.raises(InvalidRequestError, match=r"Unknown time zone .*IANA name"):
        site_zone(name)


# --- resolve_window -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tz", "day", "hours"),
    [
        (BERLIN, date(2026, 10, 25), 25),
        (BERLIN, date(2026, 3, 29), 23),
        (BERLIN, date(2026, 5, 1), 24),
        (SYDNEY, date(2026, 4, 5), 25),
        (SYDNEY, date(2026, 10, 4), 23),
        (LOS_ANGELES, date(2026, 11, 1), 25),
    ],
)
def test_resolve_dates_are_inclusive_days(tz: ZoneInfo, day: date, hours: int) -> None:
    """A date pair covers the whole site-local day, 23 to 25 hours long."""
    start, end = resolve_window(day, day, tz)
    assert start == datetime(day.year, day.month, day.day, tzinfo=tz)
    assert end.date() == day + timedelta(days=1)
    assert (end.hour, end.minute) == (0, 0)
    assert start.tzinfo is tz
    assert end.tzinfo is tz
    assert elapsed(start, end) == timedelta(hours=hours)
    assert day_window(day, tz) == (start, end)


def test_resolve_naive_is_site_local() -> None:
    """Naive datetimes are site-local wall-clock times."""
    start, end = resolve_window(datetime(2026, 5, 1, 6), datetime(2026, 5, 1, 18), BERLIN)
    assert start.isoformat() == "2026-05-01T06:00:00+02:00"
    assert end.isoformat() == "2026-05-01T18:00:00+02:00"


def test_resolve_aware_converts_to_site_zone() -> None:
    """Aware datetimes in any zone become the same instants in the site's zone."""
    start, end = resolve_window(
        datetime(2026, 5, 1, 22, tzinfo=UTC), datetime(2026, 5, 2, 8, tzinfo=UTC), SYDNEY
    )
    assert start.tzinfo is SYDNEY
    assert start.isoformat() == "2026-05-02T08:00:00+10:00"
    assert end.isoformat() == "2026-05-02T18:00:00+10:00"


def test_resolve_dates_mix_with_either_kind() -> None:
    """A date may pair with an aware or a naive datetime."""
    start, end = resolve_window(date(2026, 5, 1), datetime(2026, 5, 1, 10, tzinfo=UTC), BERLIN)
    assert (start.isoformat(), end.isoformat()) == (
        "2026-05-01T00:00:00+02:00",
        "2026-05-01T12:00:00+02:00",
    )
    start, end = resolve_window(datetime(2026, 5, 1, 10), date(2026, 5, 1), BERLIN)
    assert (start.isoformat(), end.isoformat()) == (
        "2026-05-01T10:00:00+02:00",
        "2026-05-02T00:00:00+02:00",
    )


def test_resolve_neither_gives_none() -> None:
    """Neither bound leaves the window to the server's default."""
    assert resolve_window(None, None, BERLIN) is None


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (date(2026, 5, 1), None, "Got start without end: send both or neither"),
        (None, date(2026, 5, 1), "Got end without start: send both or neither"),
        (
            datetime(2026, 5, 1),
            datetime(2026, 5, 2, tzinfo=UTC),
            "mix a naive and an aware datetime: use one kind",
        ),
        (
            datetime(2026, 5, 1, tzinfo=UTC),
            datetime(2026, 5, 2),
            "mix a naive and an aware datetime: use one kind",
        ),
        (
            date(2026, 5, 2),
            date(2026, 5, 1),
            (
                r"must end after it starts: start is 2026-05-02T00:00:00\+02:00, "
                r"end is 2026-05-02T00:00:00\+02:00"
            ),
        ),
        (
            datetime(2026, 5, 1, 12),
            datetime(2026, 5, 1, 11),
            r"start is 2026-05-01T12:00:00\+02:00, end is 2026-05-01T11:00:00\+02:00",
        ),
        ("2026-05-01", date(2026, 5, 2), "start must be a datetime or a date, got str"),
        (date(2026, 5, 1), 1_777_000_000, "end must be a datetime or a date, got int"),
        (date(2026, 5, 1), date.max, "end datetime.date.9999, 12, 31. is out of range"),
    ],
)
def test_resolve_errors(start: object, end: object, message: str) -> None:
    """Invalid windows are refused with a message saying what is wrong."""
    with pytest.raises(InvalidRequestError, match=message):
        resolve_window(start, end, BERLIN)  # type: ignore[call-overload]


def test_resolve_end_equal_to_start_in_other_zone_is_refused() -> None:
    """The order check compares instants, across zones."""
    with pytest.raises(InvalidRequestError, match="must end after it starts"):
        resolve_window(
            datetime(2026, 5, 1, 10, tzinfo=UTC),
            datetime(2026, 5, 1, 12, tzinfo=ZoneInfo("Europe/Berlin")),
            SYDNEY,
        )


def test_resolve_naive_in_gap_moves_forward() -> None:
    """A wall-clock time that never happens becomes the first instant after the gap."""
    start, end = resolve_window(datetime(2026, 3, 29, 2, 30), datetime(2026, 3, 29, 5), BERLIN)
    assert start.isoformat() == "2026-03-29T03:00:00+02:00"
    assert elapsed(start, end) == timedelta(hours=2)
    # Both ends in the gap collapse onto 03:00: an empty window.
    with pytest.raises(InvalidRequestError, match="must end after it starts"):
        resolve_window(datetime(2026, 3, 29, 2, 30), datetime(2026, 3, 29, 2, 59), BERLIN)


def test_resolve_half_hour_gap_and_midnight_gap() -> None:
    """Gaps of 30 minutes and gaps at midnight move forward to their end."""
    start, _ = resolve_window(datetime(2026, 10, 4, 2, 10, 5), date(2026, 10, 4), LORD_HOWE)
    assert start.isoformat() == "2026-10-04T02:30:00+11:00"
    start, _ = resolve_window(date(2026, 3, 8), date(2026, 3, 8), HAVANA)
    assert start.isoformat() == "2026-03-08T01:00:00-04:00"


def test_resolve_naive_in_fold_is_first_occurrence() -> None:
    """A repeated wall-clock time means its first occurrence, for start and end alike."""
    start, end = resolve_window(
        datetime(2026, 10, 25, 2, 15), datetime(2026, 10, 25, 2, 45), BERLIN
    )
    assert start.utcoffset() == timedelta(hours=2)
    assert end.utcoffset() == timedelta(hours=2)
    assert elapsed(start, end) == timedelta(minutes=30)


def test_resolve_naive_fold_one_is_second_occurrence() -> None:
    """PEP 495's fold=1 asks for the second occurrence."""
    start, end = resolve_window(
        datetime(2026, 10, 25, 2, 15), datetime(2026, 10, 25, 2, 15, fold=1), BERLIN
    )
    assert start.utcoffset() == timedelta(hours=2)
    assert end.utcoffset() == timedelta(hours=1)
    assert elapsed(start, end) == HOUR
    # Outside a fold, fold=1 changes nothing.
    start, _ = resolve_window(datetime(2026, 5, 1, 2, fold=1), date(2026, 5, 1), BERLIN)
    assert start.isoformat() == "2026-05-01T02:00:00+02:00"


@settings(max_examples=60)
@given(
    tz=st.sampled_from([BERLIN, LOS_ANGELES, SYDNEY, LORD_HOWE, HAVANA]),
    wall=st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2037, 12, 31)),
)
def test_resolve_then_format_round_trips(tz: ZoneInfo, wall: datetime) -> None:
    """A naive time formats back to itself, unless it falls in a gap (then to the gap's end)."""
    start, _ = resolve_window(wall, wall + timedelta(hours=3), tz)
    text = format_api_time(start, tz)
    exists = local(utc(wall.replace(tzinfo=tz)), tz).replace(tzinfo=None) == wall
    if exists:
        assert text == wall.replace(microsecond=0).isoformat()
        # The first occurrence in a fold, unless the wall time carries fold=1 (PEP 495).
        assert utc(start) == utc(wall.replace(tzinfo=tz))
    else:
        # The gap's end: later on the wall clock, and the instant the offset changed.
        assert text > wall.isoformat()
        just_before = local(utc(start) - timedelta(seconds=1), tz)
        assert just_before.utcoffset() != start.utcoffset()


# --- format_api_time, today_window, day_window --------------------------------------------


def test_format_api_time() -> None:
    """Instants format as offset-free site-local time, seconds included, fractions dropped."""
    assert format_api_time(datetime(2026, 4, 30, 22, tzinfo=UTC), BERLIN) == "2026-05-01T00:00:00"
    assert format_api_time(datetime(2026, 5, 1, 9, 5, 7, 999_999, tzinfo=BERLIN), BERLIN) == (
        "2026-05-01T09:05:07"
    )
    assert format_api_time(datetime(2026, 5, 1, 9, 5), SYDNEY) == "2026-05-01T09:05:00"
    second = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # second 02:30 in Berlin
    assert format_api_time(second, BERLIN) == "2026-10-25T02:30:00"


def test_today_window_uses_the_site_day() -> None:
    """Today is the site's day: 23:00 UTC is already tomorrow in Sydney."""
    now = datetime(2026, 5, 1, 23, 0, tzinfo=UTC)
    start, end = today_window(SYDNEY, now)
    assert start.isoformat() == "2026-05-02T00:00:00+10:00"
    assert end == now
    assert end.tzinfo is SYDNEY
    start, _ = today_window(LOS_ANGELES, now)
    assert start.isoformat() == "2026-05-01T00:00:00-07:00"


def test_today_window_naive_now_and_midnight() -> None:
    """A naive now is site-local; at midnight exactly the window is empty."""
    start, end = today_window(BERLIN, datetime(2026, 10, 25, 14, 37, 12))
    assert start.isoformat() == "2026-10-25T00:00:00+02:00"
    assert end.isoformat() == "2026-10-25T14:37:12+01:00"
    assert elapsed(start, end) == timedelta(hours=15, minutes=37, seconds=12)
    start, end = today_window(BERLIN, datetime(2026, 5, 1, tzinfo=BERLIN))
    assert start == end


def test_day_window_yesterday_in_midnight_gap_zone() -> None:
    """A day whose midnight does not exist starts at the first instant after the gap."""
    start, end = day_window(date(2026, 3, 8), HAVANA)
    assert start.isoformat() == "2026-03-08T01:00:00-04:00"
    assert elapsed(start, end) == timedelta(hours=23)


# --- split_window: examples ---------------------------------------------------------------


def fmt(windows: list[tuple[datetime, datetime]], tz: ZoneInfo) -> list[tuple[str, str]]:
    """Windows as the (from, to) strings the client sends."""
    return [(format_api_time(a, tz), format_api_time(b, tz)) for a, b in windows]


def test_split_fitting_window_is_returned_whole() -> None:
    """A window within its cap is one piece, converted to the site zone."""
    start, end = datetime(2026, 5, 1, 4, tzinfo=UTC), datetime(2026, 5, 1, 14, tzinfo=UTC)
    windows = split_window(start, end, "QUARTER_HOUR", CAPS, BERLIN)
    assert windows == [(start, end)]
    assert windows[0][0].tzinfo is BERLIN
    assert split_window(start, end + timedelta(days=9999), "YEAR", CAPS, BERLIN) == [
        (start, end + timedelta(days=9999))
    ]


def test_split_ordinary_day_at_quarter_hour() -> None:
    """A 24 h day splits into two 12 h windows."""
    start, end = day_window(date(2026, 5, 1), BERLIN)
    assert fmt(split_window(start, end, "QUARTER_HOUR", CAPS, BERLIN), BERLIN) == [
        ("2026-05-01T00:00:00", "2026-05-01T12:00:00"),
        ("2026-05-01T12:00:00", "2026-05-02T00:00:00"),
    ]


def test_split_fall_back_day_keeps_the_margin() -> None:
    """The 25 h day: the window across the change stays 1 h under the cap."""
    start, end = day_window(date(2026, 10, 25), BERLIN)
    windows = split_window(start, end, "QUARTER_HOUR", CAPS, BERLIN)
    assert fmt(windows, BERLIN) == [
        ("2026-10-25T00:00:00", "2026-10-25T10:00:00"),
        ("2026-10-25T10:00:00", "2026-10-25T22:00:00"),
        ("2026-10-25T22:00:00", "2026-10-26T00:00:00"),
    ]
    assert elapsed(*windows[0]) == timedelta(hours=11)


def test_split_spring_forward_day() -> None:
    """The 23 h day: 12 h wall-clock is 11 h elapsed, within the margin."""
    start, end = day_window(date(2026, 3, 29), BERLIN)
    windows = split_window(start, end, "QUARTER_HOUR", CAPS, BERLIN)
    assert fmt(windows, BERLIN) == [
        ("2026-03-29T00:00:00", "2026-03-29T12:00:00"),
        ("2026-03-29T12:00:00", "2026-03-30T00:00:00"),
    ]


def test_split_seam_skips_the_repeated_hour() -> None:
    """A seam that would land in the repeated hour moves before it."""
    start = datetime(2026, 10, 24, 14, 30, tzinfo=BERLIN)
    end = start + timedelta(hours=20)
    windows = split_window(start, end, "QUARTER_HOUR", CAPS, BERLIN)
    assert fmt(windows, BERLIN)[0] == ("2026-10-24T14:30:00", "2026-10-25T01:45:00")
    assert windows[0][1].utcoffset() == timedelta(hours=2)


def test_split_fold_can_cost_an_extra_window() -> None:
    """Seams are banned across the whole repeated hour, so 22 h at a 12 h cap takes 3 windows."""
    start = datetime(2026, 10, 24, 16, 30, tzinfo=BERLIN)
    end = local(utc(start) + timedelta(hours=22), BERLIN)
    windows = split_window(start, end, "QUARTER_HOUR", CAPS, BERLIN)
    assert fmt(windows, BERLIN) == [
        ("2026-10-24T16:30:00", "2026-10-25T01:45:00"),
        ("2026-10-25T01:45:00", "2026-10-25T11:45:00"),
        ("2026-10-25T11:45:00", "2026-10-25T13:30:00"),
    ]


def test_split_unaligned_bounds_keep_seams_on_the_grid() -> None:
    """Outer bounds are kept; inner seams are quarter hours."""
    start = datetime(2026, 5, 1, 0, 7, 31, tzinfo=BERLIN)
    end = datetime(2026, 5, 2, 0, 7, tzinfo=BERLIN)
    assert fmt(split_window(start, end, "QUARTER_HOUR", CAPS, BERLIN), BERLIN) == [
        ("2026-05-01T00:07:31", "2026-05-01T12:00:00"),
        ("2026-05-01T12:00:00", "2026-05-02T00:00:00"),
        ("2026-05-02T00:00:00", "2026-05-02T00:07:00"),
    ]


def test_split_hour_in_half_hour_offset_zone() -> None:
    """HOUR seams are site-local whole hours, also where the offset has half hours."""
    kolkata = ZoneInfo("Asia/Kolkata")
    start, end = resolve_window(datetime(2026, 5, 1, 10, 20), datetime(2026, 5, 3, 10, 20), kolkata)
    windows = split_window(start, end, "HOUR", CAPS, kolkata)
    assert fmt(windows, kolkata) == [
        ("2026-05-01T10:20:00", "2026-05-02T10:00:00"),
        ("2026-05-02T10:00:00", "2026-05-03T10:00:00"),
        ("2026-05-03T10:00:00", "2026-05-03T10:20:00"),
    ]
    assert windows[1][0].astimezone(UTC).minute == 30


def test_split_day_over_a_year() -> None:
    """A year at DAY takes ceil(365 / 28) = 14 midnight-aligned windows."""
    start, end = resolve_window(date(2026, 1, 1), date(2026, 12, 31), BERLIN)
    windows = split_window(start, end, "DAY", CAPS, BERLIN)
    assert len(windows) == 14
    for a, b in windows:
        assert (a.hour, a.minute, b.hour, b.minute) == (0, 0, 0, 0)
        cap = timedelta(days=28) - (HOUR if a.utcoffset() != b.utcoffset() else timedelta(0))
        assert elapsed(a, b) <= cap
    # 28 days across the fall-back change is 28 days + 1 h: that window gets 27 days.
    crossing = [(a, b) for a, b in windows if a.utcoffset() != b.utcoffset() and a.month == 10]
    assert [(b.date() - a.date()).days for a, b in crossing] == [27]


def test_split_day_seam_avoids_ambiguous_midnight() -> None:
    """In Havana midnight repeats on the fall-back day, so no seam goes there."""
    caps = WindowCaps(day=timedelta(days=3))
    start, end = resolve_window(date(2026, 10, 29), date(2026, 11, 3), HAVANA)
    windows = split_window(start, end, "DAY", caps, HAVANA)
    seams = [format_api_time(b, HAVANA) for _, b in windows[:-1]]
    assert "2026-11-01T00:00:00" not in seams
    assert seams == ["2026-10-31T00:00:00", "2026-11-02T00:00:00"]


def test_split_week_and_month_seams() -> None:
    """WEEK seams are Monday midnights; MONTH seams are first-of-month midnights."""
    start, end = resolve_window(date(2026, 1, 1), date(2026, 3, 31), BERLIN)
    weeks = split_window(start, end, "WEEK", WindowCaps(week=timedelta(days=30)), BERLIN)
    assert len(weeks) == 4
    assert all(a.weekday() == 0 and a.hour == 0 for a, _ in weeks[1:])
    month_caps = WindowCaps(month=timedelta(days=92))
    months = split_window(start, end + timedelta(days=300), "MONTH", month_caps, BERLIN)
    # Oct to Jan is 92 days + 1 h across the fall-back change: over the cap, so Oct to Dec.
    assert [a.date().isoformat() for a, _ in months] == [
        "2026-01-01",
        "2026-04-01",
        "2026-07-01",
        "2026-10-01",
        "2026-12-01",
    ]
    year_caps = WindowCaps(year=timedelta(days=400))
    years = split_window(start, end + timedelta(days=800), "YEAR", year_caps, BERLIN)
    assert [a.date().isoformat() for a, _ in years] == ["2026-01-01", "2027-01-01", "2028-01-01"]


def test_split_month_full_calendar_years_fit() -> None:
    """A calendar year at MONTH fits one request, leap years and DST included."""
    for year in (2024, 2026):
        start, end = resolve_window(date(year, 1, 1), date(year, 12, 31), SYDNEY)
        assert len(split_window(start, end, "MONTH", CAPS, SYDNEY)) == 1
        check_span(start, end, "MONTH", CAPS, SYDNEY)


def test_split_cap_shorter_than_a_bucket() -> None:
    """A cap too short for one bucket of the resolution cannot be split."""
    start, end = resolve_window(date(2026, 1, 15), date(2026, 5, 1), BERLIN)
    with pytest.raises(InvalidRequestError, match=r"Cannot split .* at MONTH: no month start seam"):
        split_window(start, end, "MONTH", WindowCaps(month=timedelta(days=20)), BERLIN)


def test_split_errors() -> None:
    """Unknown resolutions and empty windows are refused."""
    start, end = day_window(date(2026, 5, 1), BERLIN)
    with pytest.raises(InvalidRequestError, match="Unknown resolution"):
        split_window(start, end, "FORTNIGHT", CAPS, BERLIN)
    with pytest.raises(InvalidRequestError, match="must end after it starts"):
        split_window(end, start, "DAY", CAPS, BERLIN)


def test_split_accepts_enum_resolution() -> None:
    """A str-subclass enum member selects its value's cap."""
    start, end = day_window(date(2026, 5, 1), BERLIN)
    assert len(split_window(start, end, StrRes.QUARTER_HOUR, CAPS, BERLIN)) == 2


# --- check_span ---------------------------------------------------------------------------


def test_check_span_within_cap() -> None:
    """A window within its cap passes; unlimited resolutions always pass."""
    start, end = resolve_window(datetime(2026, 5, 1), datetime(2026, 5, 1, 12), BERLIN)
    check_span(start, end, "QUARTER_HOUR", CAPS, BERLIN)
    check_span(start, end + timedelta(days=5000), "TOTAL", CAPS, BERLIN)


def test_check_span_over_cap_message() -> None:
    """Over the cap: the message gives the cap, the span and the split option."""
    start, end = day_window(date(2026, 5, 1), BERLIN)
    with pytest.raises(SpanTooLongError) as info:
        check_span(start, end, "QUARTER_HOUR", CAPS, BERLIN)
    message = str(info.value)
    assert "spans 1 day at QUARTER_HOUR" in message
    assert "over the cap of 12 h per request" in message
    assert "split=True (the default)" in message
    assert "2026-05-01T00:00:00+02:00 to 2026-05-02T00:00:00+02:00" in message
    assert isinstance(info.value, InvalidRequestError)


def test_check_span_margin_message() -> None:
    """Within the cap but not the DST margin: the message explains the margin."""
    start = datetime(2026, 10, 25, 0, tzinfo=BERLIN)
    end = local(utc(start) + timedelta(hours=11, minutes=30), BERLIN)
    margin = r"spans 11 h 30 min .*over 11 h, the cap of 12 h less the 1 h margin"
    with pytest.raises(SpanTooLongError, match=margin):
        check_span(start, end, "QUARTER_HOUR", CAPS, BERLIN)
    over = r"spans 1 day 1 h at HOUR, over the cap of 1 day per"
    with pytest.raises(SpanTooLongError, match=over):
        check_span(*day_window(date(2026, 10, 25), BERLIN), "HOUR", CAPS, BERLIN)
    first = datetime(2026, 5, 1, tzinfo=UTC)
    with pytest.raises(SpanTooLongError, match=r"spans 30 days 0.5 s at DAY"):
        check_span(first, first + timedelta(days=30, milliseconds=500), "DAY", CAPS, BERLIN)


def test_check_span_agrees_with_split() -> None:
    """check_span passes exactly when split_window returns one piece."""
    base = datetime(2026, 10, 24, 12, tzinfo=BERLIN)
    for minutes in range(600, 780, 15):
        end = local(utc(base) + timedelta(minutes=minutes), BERLIN)
        one = len(split_window(base, end, "QUARTER_HOUR", CAPS, BERLIN)) == 1
        try:
            check_span(base, end, "QUARTER_HOUR", CAPS, BERLIN)
        except SpanTooLongError:
            assert not one
        else:
            assert one


# --- merge_series -------------------------------------------------------------------------


def stamp(text: str) -> datetime:
    """A timestamp as the response parser gives it (fixed offset)."""
    return datetime.fromisoformat(text)


def test_merge_keys_by_instant_not_wall_clock() -> None:
    """The two 02:00 buckets of the fall-back night stay apart; equal instants merge."""
    first = stamp("2026-10-25T02:00:00+02:00")
    second = stamp("2026-10-25T02:00:00+01:00")
    same_as_first = stamp("2026-10-25T00:00:00+00:00")
    stamps, values = merge_series([([second, first], [2.0, 1.0]), ([same_as_first], [9.0])])
    assert stamps == (first, second)
    assert values == (1.0, 2.0)
    assert stamps[0] is first
    assert stamps[1] is second


def test_merge_zoneinfo_stamps_in_the_fold() -> None:
    """Aware stamps sharing a ZoneInfo (compared by wall clock in Python) stay apart."""
    first = datetime(2026, 10, 25, 2, 30, tzinfo=BERLIN)
    second = datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=BERLIN)
    assert first == second  # the PEP 495 trap this function avoids
    stamps, values = merge_series([([second], [2.0]), ([first], [1.0])])
    assert stamps == (first, second)
    assert [s.fold for s in stamps] == [0, 1]
    assert values == (1.0, 2.0)


def test_merge_zoneinfo_stamps_sorted_by_wall_but_not_by_instant() -> None:
    """Stamps sharing a ZoneInfo are ordered by instant, not by their wall clock."""
    second_0210 = datetime(2026, 10, 25, 2, 10, fold=1, tzinfo=BERLIN)  # 01:10 UTC
    first_0220 = datetime(2026, 10, 25, 2, 20, tzinfo=BERLIN)  # 00:20 UTC
    assert second_0210 < first_0220  # what Python's same-zone comparison says
    stamps, values = merge_series([([second_0210, first_0220], [1.0, 2.0])])
    assert stamps[0] is first_0220
    assert stamps[1] is second_0210
    assert values == (2.0, 1.0)


def test_merge_ordered_chunks_pass_through() -> None:
    """Chunks already in order (the usual case) come back as they are, objects included."""
    first = [stamp(f"2026-10-25T0{h}:00:00+02:00") for h in range(3)]
    second = [stamp(f"2026-10-25T0{h}:00:00+01:00") for h in range(2, 5)]
    stamps, values = merge_series([(first, [1.0, None, 3.0]), (second, [4.0, 5.0, None])])
    assert all(a is b for a, b in zip(stamps, first + second, strict=True))
    assert values == (1.0, None, 3.0, 4.0, 5.0, None)
    assert len({utc(s) for s in stamps}) == 6


def test_merge_prefers_numbers_over_null() -> None:
    """A null bucket at one seam gives way to the same bucket's number from the other."""
    t = [stamp(f"2026-05-01T1{i}:00:00+02:00") for i in range(3)]
    stamps, values = merge_series([(t[:2], [1.0, None]), (t[1:], [5.0, None]), ([t[1]], [7.0])])
    assert stamps == tuple(t)
    assert values == (1.0, 5.0, None)
    # A number never gives way, to null or to a later number; zero is a number.
    _, values = merge_series([([t[0]], [0.0]), ([t[0]], [None]), ([t[0]], [3.0])])
    assert values == (0.0,)


def test_merge_keeps_the_stamp_of_the_kept_value() -> None:
    """When a later number replaces a null, its own stamp object comes with it."""
    a = stamp("2026-05-01T10:00:00+02:00")
    b = stamp("2026-05-01T08:00:00+00:00")
    stamps, values = merge_series([([a], [None]), ([b], [4.0])])
    assert stamps[0] is b
    assert values == (4.0,)


def test_merge_empty_and_sorting() -> None:
    """No chunks give empty tuples; output is sorted by instant."""
    assert merge_series([]) == ((), ())
    assert merge_series([([], [])]) == ((), ())
    eight_utc = stamp("2026-05-01T10:00:00+02:00")
    nine_utc = stamp("2026-05-01T09:00:00+00:00")  # earlier on the wall clock, later in time
    seven_utc = stamp("2026-05-01T07:00:00+00:00")
    stamps, _ = merge_series([([eight_utc], [1.0]), ([nine_utc, seven_utc], [2.0, 3.0])])
    assert stamps == (seven_utc, eight_utc, nine_utc)


def test_merge_errors() -> None:
    """Naive stamps and ragged chunks are response errors."""
    with pytest.raises(ResponseValidationError, match="has no UTC offset"):
        merge_series([([datetime(2026, 5, 1)], [1.0])])
    with pytest.raises(ResponseValidationError, match="2 timestamps but 1 values"):
        merge_series([([stamp("2026-05-01T00:00:00Z")] * 2, [1.0])])


# --- properties: split_window + merge_series against a simulated server ---------------------

ZONES = {"Europe/Berlin": BERLIN, "America/Los_Angeles": LOS_ANGELES, "Australia/Sydney": SYDNEY}
SPLIT_CAPS = {
    "QUARTER_HOUR": ([4, 6, 12], [0, 15, 60], 15, 480),
    "HOUR": ([4, 6, 24], [0, 60], 60, 240),
    "DAY": ([48, 7 * 24, 28 * 24], [0, 60], 24 * 60, 150),
}


def grid_instants(
    start: datetime, end: datetime, resolution: str, tz: ZoneInfo, *, inclusive: bool = False
) -> list[datetime]:
    """Bucket starts in [start, end) as naive UTC instants, as a server would emit them.

    Independent of the module under test. In these three zones the quarter-hour and hour
    grids are the UTC ones; days start at site-local midnight, which exists and is unique
    in all three. With ``inclusive`` the bucket starting at ``end`` is included too.
    """
    lo, hi = utc(start), utc(end)
    out: list[datetime] = []
    if resolution == "DAY":
        day = local(lo, tz).date()
        while True:
            midnight = utc(datetime(day.year, day.month, day.day, tzinfo=tz))
            if midnight > hi or (midnight == hi and not inclusive):
                break
            if midnight >= lo:
                out.append(midnight)
            day += timedelta(days=1)
        return out
    step = QUARTER if resolution == "QUARTER_HOUR" else HOUR
    current = lo
    while current < hi or (inclusive and current == hi):
        out.append(current)
        current += step
    return out


def serve(
    window: tuple[datetime, datetime], resolution: str, tz: ZoneInfo, *, inclusive_end: bool
) -> tuple[list[datetime], list[float | None]]:
    """A fake server's series for one window: one bucket per grid step, stamped with offsets.

    With ``inclusive_end`` it also sends the bucket starting at ``to``, as still open
    (null): the next window sends the same bucket with its number.
    """
    instants = grid_instants(window[0], window[1], resolution, tz, inclusive=inclusive_end)
    stamps = [datetime.fromisoformat(local(i, tz).isoformat()) for i in instants]
    values: list[float | None] = [value_at(i) for i in instants]
    if inclusive_end:
        values[-1] = None
    return stamps, values


def value_at(instant: datetime) -> float:
    """A distinct value per bucket."""
    return (instant - EPOCH).total_seconds()


def minimal_count(
    start: datetime,
    end: datetime,
    resolution: str,
    tz: ZoneInfo,
    *,
    cap: timedelta,
    margin: timedelta,
) -> float:
    """Fewest windows over the allowed seams (grid, unambiguous), by dynamic programming."""
    lo, hi = utc(start), utc(end)
    seams = [
        p
        for p in grid_instants(start, end, resolution, tz)
        if lo < p < hi and is_unambiguous(p, tz)
    ]
    points = [lo, *seams, hi]
    offsets = [local(p, tz).utcoffset() for p in points]
    best = [0] + [math.inf] * (len(points) - 1)
    for j in range(1, len(points)):
        i = j - 1
        while i >= 0 and points[j] - points[i] <= cap:
            span = points[j] - points[i]
            if span <= cap - margin or offsets[i] == offsets[j]:
                best[j] = min(best[j], best[i] + 1)
            i -= 1
    return best[-1]


@st.composite
def split_cases(
    draw: st.DrawFn,
) -> tuple[ZoneInfo, str, WindowCaps, timedelta, timedelta, datetime, datetime]:
    """A zone, resolution, caps and a grid-aligned range near a DST change (either way)."""
    name = draw(st.sampled_from(sorted(ZONES)))
    tz = ZONES[name]
    resolution = draw(st.sampled_from(sorted(SPLIT_CAPS)))
    cap_hours, margins, grid_minutes, max_steps = SPLIT_CAPS[resolution]
    cap = timedelta(hours=draw(st.sampled_from(cap_hours)))
    margin = timedelta(minutes=draw(st.sampled_from(margins)))
    anchor = date.fromisoformat(draw(st.sampled_from(TRANSITION_DAYS[name])))
    offset_days = draw(st.integers(-3, 1)) if resolution != "DAY" else draw(st.integers(-60, 10))
    steps = draw(st.integers(1, max_steps))
    if resolution == "DAY":
        first = anchor + timedelta(days=offset_days)
        start, end = resolve_window(first, first + timedelta(days=steps - 1), tz)
    else:
        midnight = utc(datetime(anchor.year, anchor.month, anchor.day, tzinfo=tz))
        lo = (
            midnight
            + timedelta(days=offset_days)
            + timedelta(minutes=grid_minutes) * draw(st.integers(0, 96))
        )
        hi = lo + timedelta(minutes=grid_minutes) * steps
        start, end = local(lo, tz), local(hi, tz)
    key = {"QUARTER_HOUR": "quarter_hour", "HOUR": "hour", "DAY": "day"}[resolution]
    caps = WindowCaps(**{key: cap, "dst_margin": margin})
    return tz, resolution, caps, cap, margin, start, end


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(case=split_cases(), inclusive_end=st.booleans())
def test_split_and_merge_properties(
    case: tuple[ZoneInfo, str, WindowCaps, timedelta, timedelta, datetime, datetime],
    inclusive_end: bool,
) -> None:
    """Windows tile the range within caps, fewest possible; merged buckets cover it once."""
    tz, resolution, caps, cap, margin, start, end = case
    windows = split_window(start, end, resolution, caps, tz)
    span = elapsed(start, end)

    # Tiling: exact, ordered, no gap, no overlap, nothing empty.
    assert utc(windows[0][0]) == utc(start)
    assert utc(windows[-1][1]) == utc(end)
    for (_, b), (c, _) in itertools.pairwise(windows):
        assert utc(b) == utc(c)
    for a, b in windows:
        assert a.tzinfo is tz
        assert b.tzinfo is tz
        assert utc(a) < utc(b)
        # Each window within its cap, less the margin when its ends' offsets differ.
        limit = cap - margin if a.utcoffset() != b.utcoffset() else cap
        assert elapsed(a, b) <= limit
    # Seams: on the grid, never in a repeated (or skipped) wall-clock hour.
    for _, seam in windows[:-1]:
        assert is_unambiguous(utc(seam), tz)
        assert (seam.second, seam.microsecond) == (0, 0)
        if resolution == "QUARTER_HOUR":
            assert seam.minute % 15 == 0
        elif resolution == "HOUR":
            assert seam.minute == 0
        else:
            assert (seam.hour, seam.minute) == (0, 0)
        text = format_api_time(seam, tz)
        wall = datetime.fromisoformat(text)
        parsed, _ = resolve_window(wall, wall + HOUR, tz)
        assert utc(parsed) == utc(seam)

    # Fewest windows: the exact optimum over the allowed seams, and the brief's bounds.
    count = len(windows)
    assert count == minimal_count(start, end, resolution, tz, cap=cap, margin=margin)
    assert count >= math.ceil(span / cap)
    grid = grid_instants(start, end, resolution, tz)
    if all(is_unambiguous(p, tz) for p in grid) and resolution != "DAY":
        assert count <= math.ceil(span / (cap - margin))

    # A server emitting one bucket per grid step per window: merged, every bucket once.
    served = [serve(w, resolution, tz, inclusive_end=inclusive_end) for w in windows]
    stamps, values = merge_series(served)
    expected = grid_instants(start, end, resolution, tz, inclusive=inclusive_end)
    assert [utc(s) for s in stamps] == expected
    wanted: list[float | None] = [value_at(i) for i in expected]
    if inclusive_end:
        wanted[-1] = None  # the final `to` bucket: open in the only window that sent it
    assert list(values) == wanted


@pytest.mark.parametrize(
    ("tz", "day", "resolution", "buckets", "walls"),
    [
        (BERLIN, date(2026, 10, 25), "QUARTER_HOUR", 100, 96),
        (BERLIN, date(2026, 3, 29), "QUARTER_HOUR", 92, 92),
        (BERLIN, date(2026, 10, 25), "HOUR", 25, 24),
        (BERLIN, date(2026, 3, 29), "HOUR", 23, 23),
        (LOS_ANGELES, date(2026, 11, 1), "QUARTER_HOUR", 100, 96),
        (LOS_ANGELES, date(2026, 3, 8), "QUARTER_HOUR", 92, 92),
        (SYDNEY, date(2026, 4, 5), "QUARTER_HOUR", 100, 96),
        (SYDNEY, date(2026, 10, 4), "QUARTER_HOUR", 92, 92),
    ],
)
def test_transition_days_merge_to_every_bucket_once(
    tz: ZoneInfo, day: date, resolution: str, buckets: int, walls: int
) -> None:
    """A whole DST day, split and merged: 100 quarter-hours falling back, 92 springing forward."""
    start, end = day_window(day, tz)
    windows = split_window(start, end, resolution, CAPS, tz)
    stamps, values = merge_series([serve(w, resolution, tz, inclusive_end=True) for w in windows])
    stamps, values = stamps[:-1], values[:-1]  # drop the bucket at `to` (next day's first)
    assert len(stamps) == buckets
    assert len({utc(s) for s in stamps}) == buckets
    assert None not in values
    # The repeated hour shows up as repeated wall-clock times, kept apart by instant.
    assert len({s.replace(tzinfo=None) for s in stamps}) == walls


def test_resolutions_constant() -> None:
    """The resolutions are the API's seven, finest first."""
    assert RESOLUTIONS == ("QUARTER_HOUR", "HOUR", "DAY", "WEEK", "MONTH", "YEAR", "TOTAL")


# -- trimming to the window asked for -----------------------------------------------

_BERLIN = ZoneInfo("Europe/Berlin")


def _quarters(start: datetime, n: int) -> list[datetime]:
    return [
        (start.astimezone(UTC) + timedelta(minutes=15 * k)).astimezone(_BERLIN) for k in range(n)
    ]


def test_trim_drops_the_bucket_at_to_and_any_before_from() -> None:
    """Start-stamped quarter-hours: kept in [start, end); one a quarter early is dropped too."""
    start = datetime(2026, 5, 10, tzinfo=_BERLIN)
    end = datetime(2026, 5, 11, tzinfo=_BERLIN)
    stamps = _quarters(start - timedelta(minutes=15), 98)
    values = [float(k) for k in range(98)]
    kept = trim_series(stamps, values, start, end, "QUARTER_HOUR")
    assert kept is not None
    assert len(kept[0]) == 96
    assert kept[0][0] == start
    assert kept[0][-1] == end - timedelta(minutes=15)
    assert kept[1] == tuple(values[1:97])


def test_trim_keeps_an_end_stamped_bucket_ending_at_to() -> None:
    """Voltage-like stamps mark the end: (start, end] is the day."""
    start = datetime(2026, 5, 10, tzinfo=_BERLIN)
    end = datetime(2026, 5, 11, tzinfo=_BERLIN)
    stamps = _quarters(start, 98)  # start .. end + 15 min
    kept = trim_series(stamps, [1.0] * 98, start, end, None, stamps_end=True)
    assert kept is not None
    assert kept[0][0] == start + timedelta(minutes=15)
    assert kept[0][-1] == end


def test_trim_across_a_dst_change_counts_instants() -> None:
    """The 100 quarter-hours of the fall-back day stay; the next midnight's goes."""
    start = datetime(2026, 10, 25, tzinfo=_BERLIN)
    end = datetime(2026, 10, 26, tzinfo=_BERLIN)
    stamps = _quarters(start, 101)
    kept = trim_series(stamps, [None] * 101, start, end, "QUARTER_HOUR")
    assert kept is not None
    assert len(kept[0]) == 100


def test_trim_keeps_calendar_buckets_before_the_window_and_copies_nothing_when_clean() -> None:
    """A YEAR bucket from 1 January is kept for a May window; a clean series is not copied."""
    start = datetime(2026, 5, 10, tzinfo=_BERLIN)
    end = datetime(2026, 5, 11, tzinfo=_BERLIN)
    year = [datetime(2026, 1, 1, tzinfo=_BERLIN)]
    assert trim_series(year, [5.0], start, end, "YEAR") is None
    nxt = [datetime(2026, 5, 10, tzinfo=_BERLIN), datetime(2026, 5, 11, tzinfo=_BERLIN)]
    kept = trim_series(nxt, [1.0, 2.0], start, end, "DAY")
    assert kept == ((nxt[0],), (1.0,))
    naive = [datetime(2026, 5, 10, 1)]
    with pytest.raises(ResponseValidationError):
        trim_series(naive, [1.0], start, end, "HOUR")


def test_with_cap_replaces_one_resolution_and_plausible_caps_are_longer() -> None:
    """The plausible caps probe a day of quarter-hours and a month of days."""
    caps = with_cap(WindowCaps(), "QUARTER_HOUR", timedelta(hours=24))
    assert caps.quarter_hour == timedelta(hours=24)
    assert caps.hour == WindowCaps().hour
    assert PLAUSIBLE_CAPS.quarter_hour == timedelta(hours=24)
    assert PLAUSIBLE_CAPS.day == timedelta(days=31)
    with pytest.raises(InvalidRequestError):
        with_cap(caps, "FORTNIGHT", None)
