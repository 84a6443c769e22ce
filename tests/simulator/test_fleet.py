"""Ground truth and physics of the simulated fleet (no HTTP)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from solaredge_async.testing import FleetSpec, Simulator, SimulatorConfig, _fleet
from solaredge_async.testing._timeutil import day_grid

from ._support import BERLIN, make_sim, site_with


def test_fleet_is_deterministic_per_seed():
    """The same seed gives the same sites; another seed gives others."""
    a = Simulator(SimulatorConfig(seed=3, fleet=FleetSpec(sites=50)))
    b = Simulator(SimulatorConfig(seed=3, fleet=FleetSpec(sites=50)))
    c = Simulator(SimulatorConfig(seed=4, fleet=FleetSpec(sites=50)))
    ids = a.fleet.sites_for(a.api_key)
    assert ids == b.fleet.sites_for(b.api_key)
    assert ids != c.fleet.sites_for(c.api_key)
    assert a.fleet.site(ids[7]) == b.fleet.site(ids[7])


def test_site_ids_are_scrambled_unique_and_reversible():
    """Ids are positive, not 1..N, distinct, and map back to their index."""
    sim = Simulator(SimulatorConfig(fleet=FleetSpec(sites=5000)))
    ids = sim.fleet.sites_for(sim.api_key)
    assert len(set(ids)) == 5000
    assert all(i > 0 for i in ids)
    assert sorted(ids) != ids
    assert all(sim.fleet.index_of(sid) == n for n, sid in enumerate(ids))
    assert sim.fleet.index_of(max(ids) + 1) is None or max(ids) + 1 in ids
    with pytest.raises(KeyError):
        sim.fleet.site(1)


def test_huge_fleet_is_lazy(monkeypatch):
    """A 100,000-site fleet derives only the sites asked for, never the whole fleet."""
    derived: list[int] = []
    real = _fleet.derive_site

    def counting(index, **kw):
        derived.append(index)
        return real(index, **kw)

    monkeypatch.setattr(_fleet, "derive_site", counting)
    sim = Simulator(SimulatorConfig(fleet=FleetSpec(sites=100_000, api_keys=("a", "b", "c"))))
    site = sim.fleet.site(sim.fleet.site_id(99_999))
    assert site.account == ("a", "b", "c")[99_999 % 3]
    assert len(sim.fleet.sites_for("b")) == 33_333
    assert derived == [99_999]


def test_sites_are_varied_and_plausible():
    """Zones span hemispheres and DST rules; devices and sizes have the documented forms."""
    sim = Simulator(SimulatorConfig(fleet=FleetSpec(sites=400)))
    sites = [sim.fleet.site(i) for i in sim.fleet.sites_for(sim.api_key)]
    zones = {s.timezone for s in sites}
    assert {"Europe/Berlin", "Australia/Sydney", "America/Los_Angeles"} <= zones
    assert any(s.latitude < 0 for s in sites)
    assert any(s.latitude > 0 for s in sites)
    assert all(3.0 <= s.peak_power_kw <= 500.0 for s in sites)
    assert all(1 <= len(s.inverters) <= 4 for s in sites)
    assert any(s.meters for s in sites)
    assert any(not s.meters for s in sites)
    assert any(s.batteries for s in sites)
    for s in sites:
        for serial in s.inverters:
            assert len(serial) in {8, 11}
            int(serial.replace("-", ""), 16)
        for serial in s.meters:
            assert len(serial) == 9
            assert serial.isdigit()
        for serial in s.batteries:
            assert len(serial) == 8
            int(serial, 16)
    assert sim.api_key not in repr(sites[0])


def test_a_day_is_computed_once(monkeypatch):
    """A site's day is computed once, then served from the cache (cost: bench_simulator)."""
    computed: list[int] = []
    real = _fleet.compute_day

    def counting(model, grid):
        computed.append(len(grid.stamps))
        return real(model, grid)

    monkeypatch.setattr(_fleet, "compute_day", counting)
    sim = make_sim()
    m = sim.fleet.model(0)
    ordinal = date(2026, 5, 12).toordinal()
    first = sim.fleet.day(m, ordinal)
    assert sim.fleet.day(m, ordinal) is first
    assert computed == [len(day_grid(m.tz, ordinal).stamps)]


@pytest.mark.parametrize("zone", ["Europe/Berlin", "Australia/Sydney", "Asia/Kolkata", "UTC"])
def test_overview_equals_sum_of_energy_buckets(zone):
    """Today's overview equals the sum of today's quarter-hour energy buckets exactly."""
    sim = make_sim(sites=8, zones=(zone,))
    for site_id in sim.fleet.sites_for(sim.api_key):
        buckets = sim.fleet.energy(site_id)
        total = sum(v for _, v in buckets if v is not None)
        assert sim.fleet.overview(site_id)["production"] == total


def test_energy_is_whole_wh_and_power_is_four_times_energy():
    """Quarter-hour energy is a whole number of Wh; power is about 4 times the energy."""
    sim = make_sim()
    site_id = sim.fleet.sites_for(sim.api_key)[0]
    day = (datetime(2026, 5, 11, tzinfo=BERLIN), datetime(2026, 5, 12, tzinfo=BERLIN))
    energy = sim.fleet.energy(site_id, *day)
    power = sim.fleet.power(site_id, *day)
    assert [t for t, _ in energy] == [t for t, _ in power]
    produced = [(e, p) for (_, e), (_, p) in zip(energy, power, strict=True) if e is not None]
    assert len(produced) > 40
    for e, p in produced:
        assert e == int(e)
        assert p is not None
        assert abs(p - 4 * e) <= 4.0


def test_naive_bounds_are_site_local():
    """Naive window bounds mean the site's wall clock, like offset-free API input."""
    sim = make_sim()
    site_id = sim.fleet.sites_for(sim.api_key)[0]
    naive = sim.fleet.energy(site_id, datetime(2026, 5, 11, 6), datetime(2026, 5, 11, 9))
    aware = sim.fleet.energy(
        site_id, datetime(2026, 5, 11, 6, tzinfo=BERLIN), datetime(2026, 5, 11, 9, tzinfo=BERLIN)
    )
    assert naive == aware
    assert len(naive) == 12


def test_night_buckets_are_null_and_sunrise_has_zero_or_more():
    """Night quarter-hours are null (not 0.0) and production starts after sunrise."""
    sim = make_sim()
    site_id = sim.fleet.sites_for(sim.api_key)[0]
    energy = sim.fleet.energy(
        site_id, datetime(2026, 5, 11, tzinfo=BERLIN), datetime(2026, 5, 12, tzinfo=BERLIN)
    )
    assert len(energy) == 96
    assert all(v is None for t, v in energy if t.hour < 3 or t.hour >= 23)
    assert all(v is not None for t, v in energy if 9 <= t.hour < 17)


def test_open_and_unpublished_buckets_are_null():
    """The open bucket and one that closed under two minutes ago are null."""
    sim = make_sim()
    site_id = sim.fleet.sites_for(sim.api_key)[0]
    sim.set_now(datetime(2026, 5, 12, 13, 1, 0, tzinfo=BERLIN))
    buckets = dict(sim.fleet.energy(site_id))
    at = {t.strftime("%H:%M"): v for t, v in buckets.items()}
    assert at["12:30"] is not None
    assert at["12:45"] is None  # closed 60 s ago: not yet published
    assert at["13:00"] is None  # still open
    sim.set_now(datetime(2026, 5, 12, 13, 2, 1, tzinfo=BERLIN))
    at = {t.strftime("%H:%M"): v for t, v in sim.fleet.energy(site_id)}
    assert at["12:45"] is not None


def test_open_hour_is_null_but_today_is_a_running_total():
    """The current hour is null until published; today's DAY bucket is a running total."""
    sim = make_sim()
    site_id = sim.fleet.sites_for(sim.api_key)[0]
    hours = dict(sim.fleet.energy(site_id, resolution="HOUR"))
    at = {t.strftime("%H"): v for t, v in hours.items()}
    assert at["13"] is not None
    assert at["14"] is None  # 14:37: the hour is still open
    ((_, today),) = sim.fleet.energy(site_id, resolution="DAY")
    assert today == sim.fleet.overview(site_id)["production"]
    assert today == sum(v for v in hours.values() if v is not None) + sum(
        v or 0 for t, v in sim.fleet.energy(site_id) if t.hour == 14
    )


def test_nothing_before_installation():
    """Buckets before the installation date are null and totals are None."""
    sim = make_sim(sites=30)
    site = sim.fleet.site(sim.fleet.sites_for(sim.api_key)[0])
    before = site.installation_date - timedelta(days=1)
    assert sim.fleet.day_energy(site.site_id, before) is None
    assert sim.fleet.day_energy(site.site_id, site.installation_date) is not None
    start = datetime.combine(before - timedelta(days=3), datetime.min.time())
    days = sim.fleet.energy(site.site_id, start, start + timedelta(days=5), "DAY")
    assert [v is None for _, v in days] == [True, True, True, True, False]


@pytest.mark.parametrize(
    ("day", "expected"),
    [(date(2026, 3, 29), 92), (date(2026, 10, 25), 100), (date(2026, 5, 12), 96)],
)
def test_dst_days_have_92_or_100_quarter_hours(day, expected):
    """Berlin's spring-forward day has 92 quarter-hours, fall-back 100; offsets change inside."""
    sim = make_sim()
    sim.set_now(datetime(2026, 12, 1, tzinfo=BERLIN))
    site_id = sim.fleet.sites_for(sim.api_key)[0]
    start = datetime.combine(day, datetime.min.time())
    buckets = sim.fleet.energy(site_id, start, start + timedelta(days=1))
    assert len(buckets) == expected
    instants = [t.timestamp() for t, _ in buckets]
    assert instants == sorted(set(instants))
    assert all(b - a == 900 for a, b in pairwise(instants))
    offsets = {t.utcoffset() for t, _ in buckets}
    assert len(offsets) == (1 if expected == 96 else 2)


def test_calendar_buckets_align_to_site_local_boundaries():
    """DAY..YEAR buckets start at local midnights; a YEAR query from April stamps January 1."""
    sim = make_sim(sites=12)
    sim.set_now(datetime(2026, 6, 1, tzinfo=BERLIN))
    site_id = next(
        s
        for s in sim.fleet.sites_for(sim.api_key)
        if sim.fleet.site(s).installation_date < date(2025, 1, 1)
    )
    year = sim.fleet.energy(
        site_id, datetime(2025, 4, 1, tzinfo=BERLIN), datetime(2026, 2, 1, tzinfo=BERLIN), "YEAR"
    )
    assert [t.isoformat() for t, _ in year] == [
        "2025-01-01T00:00:00+01:00",
        "2026-01-01T00:00:00+01:00",
    ]
    month = sim.fleet.energy(
        site_id, datetime(2025, 3, 15, tzinfo=BERLIN), datetime(2025, 5, 2, tzinfo=BERLIN), "MONTH"
    )
    assert [t.isoformat() for t, _ in month] == [
        "2025-03-01T00:00:00+01:00",
        "2025-04-01T00:00:00+02:00",
        "2025-05-01T00:00:00+02:00",
    ]
    week = sim.fleet.energy(
        site_id, datetime(2025, 5, 1, tzinfo=BERLIN), datetime(2025, 5, 10, tzinfo=BERLIN), "WEEK"
    )
    assert [t.date() for t, _ in week] == [date(2025, 4, 28), date(2025, 5, 5)]
    # Every resolution sums the same quarter-hours of the window.
    window = (datetime(2025, 4, 1, tzinfo=BERLIN), datetime(2025, 7, 1, tzinfo=BERLIN))
    totals = {
        res: sum(v or 0 for _, v in sim.fleet.energy(site_id, *window, res))
        for res in ("DAY", "WEEK", "MONTH", "YEAR", "TOTAL")
    }
    assert len(set(totals.values())) == 1
    assert totals["DAY"] == sim.fleet.overview(site_id, *window)["production"]


def test_hour_buckets_on_a_half_hour_zone():
    """HOUR buckets follow local hours in a +05:30 zone."""
    sim = make_sim(zones=("Asia/Kolkata",))
    site_id = sim.fleet.sites_for(sim.api_key)[0]
    kolkata = ZoneInfo("Asia/Kolkata")
    sim.set_now(datetime(2026, 5, 13, tzinfo=kolkata))
    hours = sim.fleet.energy(
        site_id,
        datetime(2026, 5, 12, 6, 30, tzinfo=kolkata),
        datetime(2026, 5, 12, 9, tzinfo=kolkata),
        "HOUR",
    )
    assert [t.strftime("%H:%M%z") for t, _ in hours] == ["06:00+0530", "07:00+0530", "08:00+0530"]
    quarters = sim.fleet.energy(
        site_id, datetime(2026, 5, 12, 7, tzinfo=kolkata), datetime(2026, 5, 12, 8, tzinfo=kolkata)
    )
    assert hours[1][1] == sum(v or 0 for _, v in quarters)


def test_breakdowns_balance_on_a_battery_site():
    """Production and consumption breakdowns add up; storage flows are present."""
    sim = make_sim(sites=60, zones=None)
    site_id = site_with(sim, meter=True, battery=True)
    o = sim.fleet.overview(
        site_id, datetime(2026, 5, 1, tzinfo=BERLIN), datetime(2026, 5, 12, tzinfo=BERLIN)
    )
    assert o["production"] == o["self_consumption"] + o["to_storage"] + o["to_grid"]
    assert o["consumption"] == o["self_consumption"] + o["from_storage"] + o["from_grid"]
    assert o["to_storage"] > 0
    assert o["from_storage"] > 0


def test_no_meter_means_null_breakdowns():
    """Without a meter the consumption side and production breakdowns are None."""
    sim = make_sim(sites=30, zones=None)
    o = sim.fleet.overview(site_with(sim, meter=False))
    assert o["production"] is not None
    assert o["consumption"] is None
    assert o["to_grid"] is None
    assert o["to_storage"] is None


def test_lifetime_total_of_a_pv_site_computes_no_day(monkeypatch):
    """Ten years of TOTAL energy use closed-form day totals: not one day is computed."""
    computed: list[object] = []
    monkeypatch.setattr(_fleet, "compute_day", lambda _model, grid: computed.append(grid))
    sim = make_sim(sites=30, zones=None)
    site_id = site_with(sim, meter=False)
    ((_, total),) = sim.fleet.energy(
        site_id, datetime(2015, 1, 1, tzinfo=BERLIN), datetime(2026, 5, 12, tzinfo=BERLIN), "TOTAL"
    )
    assert computed == []
    assert total is not None
    assert total > 0
