"""The pure scheduler: site-local grids, due times, watermarks, rung switches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from solaredge_async.errors import InvalidRequestError
from solaredge_async.poll import (
    Cadence,
    NightSkip,
    PollSite,
    PollTarget,
    Rung,
    Scheduler,
    default_ladder,
    next_boundary,
    next_due,
    previous_boundary,
)

BERLIN = ZoneInfo("Europe/Berlin")
KOLKATA = ZoneInfo("Asia/Kolkata")
T0 = datetime(2026, 6, 1, 10, 7, tzinfo=UTC)


def test_grids_are_site_local():
    """Hours and midnights follow the site's offset (+05:30 in Kolkata)."""
    assert next_boundary(T0, Cadence.QUARTER_HOURLY, KOLKATA) == datetime(
        2026, 6, 1, 10, 15, tzinfo=UTC
    )
    assert next_boundary(T0, Cadence.HOURLY, KOLKATA) == datetime(2026, 6, 1, 10, 30, tzinfo=UTC)
    assert next_boundary(T0, Cadence.HOURLY, BERLIN) == datetime(2026, 6, 1, 11, 0, tzinfo=UTC)
    assert next_boundary(T0, Cadence.DAILY, BERLIN) == datetime(2026, 6, 1, 22, 0, tzinfo=UTC)
    # 2026-06-01 is a Monday: the next Monday midnight is a week on.
    assert next_boundary(T0, Cadence.WEEKLY, BERLIN) == datetime(2026, 6, 7, 22, 0, tzinfo=UTC)
    assert previous_boundary(T0, Cadence.HOURLY, KOLKATA) == datetime(2026, 6, 1, 9, 30, tzinfo=UTC)
    assert previous_boundary(T0, Cadence.DAILY, BERLIN) == datetime(2026, 5, 31, 22, 0, tzinfo=UTC)
    assert previous_boundary(T0, Cadence.WEEKLY, BERLIN) == datetime(2026, 5, 31, 22, 0, tzinfo=UTC)
    with pytest.raises(InvalidRequestError):
        next_boundary(T0, Cadence.PAUSED, BERLIN)
    with pytest.raises(InvalidRequestError, match="naive"):
        next_boundary(datetime(2026, 6, 1), Cadence.HOURLY, BERLIN)


def test_daily_grid_across_dst_days():
    """The fall-back day is 25 h long: its midnights are 25 h apart."""
    before = datetime(2026, 10, 24, 12, 0, tzinfo=UTC)
    first = next_boundary(before, Cadence.DAILY, BERLIN)
    second = next_boundary(first, Cadence.DAILY, BERLIN)
    assert second - first == timedelta(hours=25)
    assert first.astimezone(BERLIN).hour == second.astimezone(BERLIN).hour == 0


@given(
    instant=st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
    ),
    grid=st.sampled_from([Cadence.QUARTER_HOURLY, Cadence.HOURLY, Cadence.DAILY, Cadence.WEEKLY]),
    zone=st.sampled_from(
        ["Europe/Berlin", "Asia/Kolkata", "America/St_Johns", "Australia/Lord_Howe"]
    ),
)
def test_boundaries_bracket_every_instant(instant, grid, zone):
    """Boundaries bracket: previous <= instant < next; next of previous is next."""
    tz = ZoneInfo(zone)
    low = previous_boundary(instant, grid, tz)
    high = next_boundary(instant, grid, tz)
    assert low <= instant < high
    assert next_boundary(low, grid, tz) == high
    assert previous_boundary(high, grid, tz) == high


def test_next_due_is_after_publication_and_once_per_slot():
    """Bucket end plus the delay; an attempt in a slot pushes to the next slot."""
    rung = Rung(cadence=Cadence.QUARTER_HOURLY, resolution="QUARTER_HOUR")
    mark = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
    assert next_due(watermark=mark, rung=rung, tz=BERLIN) == datetime(
        2026, 6, 1, 10, 17, tzinfo=UTC
    )
    attempt = datetime(2026, 6, 1, 10, 20, tzinfo=UTC)
    assert next_due(watermark=mark, rung=rung, tz=BERLIN, last_attempt=attempt) == datetime(
        2026, 6, 1, 10, 32, tzinfo=UTC
    )
    hourly = Rung(cadence=Cadence.HOURLY, resolution="QUARTER_HOUR")
    assert next_due(watermark=mark, rung=hourly, tz=BERLIN) == datetime(
        2026, 6, 1, 11, 2, tzinfo=UTC
    )
    # A cadence finer than the resolution polls at the resolution's pace.
    day = Rung(cadence=Cadence.QUARTER_HOURLY, resolution="DAY")
    assert day.grid is Cadence.DAILY
    assert next_due(
        watermark=datetime(2026, 5, 31, 22, 0, tzinfo=UTC), rung=day, tz=BERLIN
    ) == datetime(2026, 6, 1, 22, 2, tzinfo=UTC)
    assert (
        next_due(watermark=mark, rung=Rung(cadence=Cadence.PAUSED, resolution="DAY"), tz=BERLIN)
        is None
    )


def test_ladders():
    """Default ladders degrade 15 min -> hourly -> daily [-> DAY buckets] -> paused."""
    labels = [r.label for r in default_ladder("QUARTER_HOUR")]
    assert labels == [
        "15min/QUARTER_HOUR",
        "hourly/QUARTER_HOUR",
        "daily/QUARTER_HOUR",
        "daily/DAY",
        "weekly/DAY",
        "paused/QUARTER_HOUR",
    ]
    assert [r.label for r in default_ladder("QUARTER_HOUR", day_fallback=False)][
        -1
    ] == "paused/QUARTER_HOUR"
    assert default_ladder("HOUR")[0].label == "hourly/HOUR"
    assert [r.label for r in default_ladder("DAY")] == ["daily/DAY", "weekly/DAY", "paused/DAY"]
    assert [r.label for r in default_ladder(None)] == ["15min", "hourly", "daily", "paused"]
    with pytest.raises(InvalidRequestError, match="resolution"):
        default_ladder("MINUTE")
    with pytest.raises(InvalidRequestError, match="rungs"):
        PollTarget(name="alerts", resolution=None, ladder=default_ladder("DAY"))
    with pytest.raises(InvalidRequestError, match="at least one"):
        PollTarget(name="x", ladder=())


def _scheduler(**kwargs):
    sites = [PollSite(site_id=1, zone="Europe/Berlin"), PollSite(site_id=2, zone="Asia/Kolkata")]
    targets = [PollTarget(name="energy"), PollTarget(name="alerts", resolution=None, fleet=True)]
    return Scheduler(sites, targets, **kwargs)


def test_first_run_starts_at_site_local_midnight_and_alerts_at_once():
    """Without watermarks: each site from its own midnight; the fleet target now."""
    sched = _scheduler(now=T0)
    items = sched.pop_due(T0)
    by_key = {(i.site_id, i.target): i for i in items}
    assert by_key[(1, "energy")].start == datetime(2026, 5, 31, 22, 0, tzinfo=UTC)
    assert by_key[(2, "energy")].start == datetime(2026, 5, 31, 18, 30, tzinfo=UTC)
    assert by_key[(1, "energy")].end == datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
    assert by_key[(None, "alerts")].start == by_key[(None, "alerts")].end == T0
    # In flight: never handed out twice.
    assert sched.pop_due(T0 + timedelta(hours=1)) == []
    assert sched.next_due() is None


def test_watermarks_resume_exactly_and_never_move_back():
    """A restart starts at the given watermark; a stale completion does not rewind it."""
    mark = datetime(2026, 6, 1, 6, 45, tzinfo=UTC)
    sched = _scheduler(now=T0, watermarks={(1, "energy", "QUARTER_HOUR"): mark})
    (item,) = [i for i in sched.pop_due(T0) if i.site_id == 1]
    assert item.start == mark
    sched.complete(item, T0, item.end)
    assert sched.watermark((1, "energy", "QUARTER_HOUR")) == item.end
    assert sched.next_due() == datetime(2026, 6, 1, 10, 17, tzinfo=UTC)
    (again,) = [
        i for i in sched.pop_due(datetime(2026, 6, 1, 10, 17, tzinfo=UTC)) if i.site_id == 1
    ]
    assert again.start == item.end
    sched.complete(again, T0, mark)  # a watermark behind the known one is ignored
    assert sched.watermark((1, "energy", "QUARTER_HOUR")) == again.start
    assert sched.watermarks()[(1, "energy", "QUARTER_HOUR")] == again.start


def test_release_makes_an_item_due_again_with_the_same_window():
    """An item not attempted goes back to the queue unchanged."""
    sched = _scheduler(now=T0)
    items = sched.pop_due(T0)
    for item in items:
        sched.release(item)
    assert sched.next_due() == min(i.due for i in items)
    again = sched.pop_due(T0)
    assert sorted((i.site_id or 0, i.start, i.end) for i in again) == sorted(
        (i.site_id or 0, i.start, i.end) for i in items
    )


def test_pv_items_wait_for_daylight_even_when_overdue():
    """A PV target behind its watermark at night waits for the night's end."""
    site = PollSite(site_id=1, zone="Europe/Berlin", latitude=52.52, longitude=13.405)
    night = NightSkip()
    late = datetime(2026, 6, 1, 21, 30, tzinfo=UTC)  # 23:30 in Berlin
    sched = Scheduler(
        [site],
        [PollTarget(name="energy", pv=True), PollTarget(name="storage")],
        now=late,
        night=night,
        watermarks={(1, "energy", "QUARTER_HOUR"): datetime(2026, 6, 1, 12, 0, tzinfo=UTC)},
    )
    assert [i.target for i in sched.pop_due(late)] == ["storage"]
    due = sched.next_due()
    assert due == night.night_end(site, late)
    assert not night.is_night(site, due)
    (item,) = sched.pop_due(due)
    assert item.start == datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def test_switching_resolution_continues_from_the_newest_watermark():
    """QUARTER_HOUR -> DAY floors to midnight; DAY -> QUARTER_HOUR skips nothing fetched."""
    sched = _scheduler(
        now=T0, watermarks={(1, "energy", "QUARTER_HOUR"): datetime(2026, 6, 1, 9, 0, tzinfo=UTC)}
    )
    sched.pop_due(T0)  # everything in flight
    day = Rung(cadence=Cadence.DAILY, resolution="DAY")
    sched.set_rung("energy", day, T0)
    assert sched.rung("energy") == day
    assert sched.watermark((1, "energy", "DAY")) == datetime(2026, 5, 31, 22, 0, tzinfo=UTC)
    assert sched.backlog("energy", "DAY", T0)[0] == T0 - datetime(2026, 5, 31, 22, 0, tzinfo=UTC)
    with pytest.raises(InvalidRequestError, match="ladder"):
        sched.set_rung("energy", Rung(cadence=Cadence.WEEKLY, resolution="HOUR"), T0)
    with pytest.raises(KeyError):
        sched.rung("nothing")


def test_duplicate_target_names_are_refused():
    """Two targets with one name would share watermarks: refused."""
    with pytest.raises(InvalidRequestError, match="unique"):
        Scheduler([], [PollTarget(name="energy"), PollTarget(name="energy")], now=T0)


def test_a_watermark_never_jumps_past_the_window():
    """A fetch reporting more than it was asked for moves the watermark to the end only."""
    sched = _scheduler(now=T0)
    item = next(i for i in sched.pop_due(T0) if i.site_id == 1)
    sched.complete(item, T0, item.end + timedelta(days=3))
    assert sched.watermark((1, "energy", "QUARTER_HOUR")) == item.end
