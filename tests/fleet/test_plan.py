"""Planning: discovery cost, items one per call, windows split at the caps, exact price."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from solaredge_async import InvalidRequestError, SpanTooLongError
from solaredge_async.fleet import (
    TARGETS,
    TODAY,
    YESTERDAY,
    SiteDay,
    SweepSpec,
    WorkItem,
    plan_sweep,
)

from ._support import DAILY, NOW, make_client, make_sim

pytestmark = pytest.mark.anyio


async def test_daily_plan_prices_every_call_and_lists_sites_once():
    """300 sites x (1 overview + 2 energy + 2 telemetry halves) = 1,500 calls, 1 discovery."""
    sim = make_sim(300, zones=("Europe/Berlin", "Asia/Kolkata", "America/New_York"))
    async with make_client(sim) as client:
        plan = await plan_sweep(client, DAILY, now=sim.now())
        assert plan.discovery_credits == 1  # one GET /sites page of up to 1,000 sites
        assert sim.ledger(sim.api_key).credits == 1
        assert len(plan.sites) == 300
        assert plan.breakdown() == {"energy": 600, "inverter_telemetry": 600, "overview": 300}
        assert plan.credits == len(plan) == len(list(plan)) == 1500
        assert plan.exact
        ids = [item.id for item in plan]
        assert len(set(ids)) == len(ids)
        assert [item.id for item in plan] == ids  # stable order


async def test_windows_are_site_local_days_split_at_the_quarter_hour_cap():
    """Yesterday in Kolkata is its own midnight to midnight, sent as two 12 h windows."""
    sim = make_sim(3, zones=("Asia/Kolkata",))
    async with make_client(sim) as client:
        spec = SweepSpec(what={"energy"}, start=YESTERDAY, end=YESTERDAY)
        plan = await plan_sweep(client, spec, now=sim.now())
    first, second = [i for i in plan if i.site_id == plan.sites[0]]
    assert first.start is not None
    assert first.start.isoformat() == "2026-05-11T00:00:00+05:30"
    assert first.end == second.start
    assert second.end is not None
    assert second.end.isoformat() == "2026-05-12T00:00:00+05:30"
    assert first.id.endswith(":2026-05-11T00:00:00+05:30/2026-05-11T12:00:00+05:30")
    assert first.id.startswith(f"{plan.sites[0]}:energy:")


async def test_fall_back_day_needs_three_quarter_hour_windows():
    """The 25 h fall-back day in Berlin is split into three windows per endpoint."""
    now = datetime(2026, 10, 26, 12, 0, tzinfo=UTC)
    sim = make_sim(2, zones=("Europe/Berlin",), now=now)
    async with make_client(sim) as client:
        plan = await plan_sweep(client, DAILY, now=now)
    assert plan.breakdown() == {"energy": 6, "inverter_telemetry": 6, "overview": 2}
    windows = [(i.start, i.end) for i in plan if i.kind == "energy" and i.site_id == plan.sites[0]]
    # Same-zone datetimes subtract by wall clock (PEP 495): measure elapsed time in UTC.
    total = sum((b.astimezone(UTC) - a.astimezone(UTC) for a, b in windows), timedelta())  # type: ignore[union-attr]
    assert total == timedelta(hours=25)


async def test_coarse_resolutions_take_fewer_calls():
    """A month at DAY is two calls (28-day cap); at HOUR one per day; overview split apart."""
    sim = make_sim(1, zones=("Europe/Berlin",))
    async with make_client(sim) as client:
        day = SweepSpec(
            what={"energy"}, start=date(2026, 3, 1), end=date(2026, 3, 31), resolution="DAY"
        )
        hour = SweepSpec(
            what={"energy", "power"},
            start=date(2026, 3, 1),
            end=date(2026, 3, 3),
            resolution="HOUR",
        )
        assert (await plan_sweep(client, day, now=sim.now())).credits == 2
        plan = await plan_sweep(client, hour, now=sim.now())
    assert plan.breakdown() == {"energy": 3, "power": 3}
    assert {i.resolution for i in plan} == {"HOUR"}


async def test_single_inverter_metrics_ride_on_bulk_telemetry():
    """Voltage and power of every inverter cost one telemetry call per window, not per device."""
    sim = make_sim(10)
    async with make_client(sim) as client:
        spec = SweepSpec(
            what={"inverter_voltage", "inverter_power"}, start=YESTERDAY, end=YESTERDAY
        )
        plan = await plan_sweep(client, spec, now=sim.now())
        assert plan.breakdown() == {"inverter_telemetry": 20}
        assert plan.telemetry_metrics == {"inverter_telemetry": frozenset({"voltage", "power"})}
        assert plan.discovery_credits == 1

        per_device = await plan_sweep(
            client,
            SweepSpec(
                what={"inverter_voltage", "inverter_power"},
                start=YESTERDAY,
                end=YESTERDAY,
                prefer_bulk=False,
            ),
            now=sim.now(),
        )
    inverters = sum(len(sim.fleet.site(s).inverters) for s in sim.fleet.sites_for(sim.api_key))
    # The device lists cost one call per site; then 2 metrics x 2 windows per inverter.
    assert per_device.discovery_credits == 1 + 10
    assert per_device.breakdown() == {
        "inverter_power": 2 * inverters,
        "inverter_voltage": 2 * inverters,
    }
    assert per_device.credits > plan.credits
    serials = {i.serial for i in per_device}
    assert None not in serials
    assert len(serials) == inverters


async def test_named_sites_with_known_zones_cost_nothing_to_plan():
    """Sites whose zones the client knows are planned with no call at all."""
    sim = make_sim(5)
    ids = sim.fleet.sites_for(sim.api_key)
    zones = {s: sim.fleet.site(s).timezone for s in ids}
    async with make_client(sim, site_timezones=zones) as client:
        plan = await plan_sweep(
            client,
            DAILY.__class__(what={"energy"}, site_ids=ids[:3], start=YESTERDAY, end=YESTERDAY),
            now=sim.now(),
        )
    assert plan.discovery_credits == 0
    assert sim.ledger(sim.api_key).calls == 0
    assert plan.sites == ids[:3]


async def test_unknown_zones_of_named_sites_come_from_one_site_list_page():
    """Four named sites of unknown zone cost one /sites page, not four lookups."""
    sim = make_sim(30)
    ids = sim.fleet.sites_for(sim.api_key)
    async with make_client(sim) as client:
        spec = SweepSpec(what={"overview"}, site_ids=ids[5:9], start=TODAY, end=TODAY)
        plan = await plan_sweep(client, spec, now=sim.now())
        assert plan.discovery_credits == 1
        one = await plan_sweep(
            make_client(sim),
            SweepSpec(what={"overview"}, site_ids=ids[:1], start=TODAY, end=TODAY),
            now=sim.now(),
        )
    assert one.discovery_credits == 1  # a single site: one /sites/{id} lookup


async def test_inaccessible_named_site_is_reported_not_planned():
    """A site of another account is kept out of the plan with its error."""
    sim = make_sim(4)
    ids = sim.fleet.sites_for(sim.api_key)
    async with make_client(sim) as client:
        spec = SweepSpec(what={"energy"}, site_ids=[ids[0], 999], start=YESTERDAY, end=YESTERDAY)
        plan = await plan_sweep(client, spec, now=sim.now())
    assert plan.sites == (ids[0],)
    assert set(plan.failed_sites) == {999}
    assert type(plan.failed_sites[999]).__name__ == "PermissionDeniedError"


async def test_default_window_needs_no_zones_and_fleet_alerts_use_one_call():
    """No window: no zone lookups; alerts of the whole fleet come from GET /alerts."""
    sim = make_sim(6)
    async with make_client(sim) as client:
        plan = await plan_sweep(client, SweepSpec(what={"energy", "alerts", "devices"}), now=NOW)
    assert plan.discovery_credits == 1
    assert plan.breakdown() == {"devices": 6, "energy": 6, "fleet_alerts": 1}
    assert not plan.exact  # alert pages are a lower bound
    ids = {i.id for i in plan}
    assert "fleet:alerts" in ids
    assert all(i.id.endswith(":default") for i in plan if i.kind == "energy")


async def test_only_and_without_filter_items_and_price():
    """`only` keeps the named items, `without` drops them; prices follow."""
    sim = make_sim(4)
    async with make_client(sim) as client:
        plan = await plan_sweep(client, DAILY, now=sim.now())
    ids = [i.id for i in plan]
    some = ids[:5]
    assert [i.id for i in plan.only(some)] == some
    assert plan.only(some).credits == 5
    rest = plan.without(some)
    assert [i.id for i in rest] == ids[5:]
    assert rest.credits == len(ids) - 5
    assert rest.only(ids[4:7]).credits == 2
    assert plan.duration(600) == pytest.approx(len(ids) * 60.5 / 600)


async def test_resolution_refused_before_any_call():
    """Power at DAY is refused while planning, before discovery spends a credit."""
    sim = make_sim(2)
    async with make_client(sim) as client:
        with pytest.raises(InvalidRequestError, match="power"):
            await plan_sweep(
                client,
                SweepSpec(what={"power"}, start=YESTERDAY, end=YESTERDAY, resolution="DAY"),
            )
    assert sim.ledger(sim.api_key).calls == 0


async def test_span_over_the_cap_without_splitting_is_refused():
    """With the client's splitting off, a day at quarter hours cannot be planned."""
    sim = make_sim(1)
    async with make_client(sim, split_windows=False) as client:
        with pytest.raises(SpanTooLongError):
            await plan_sweep(
                client, SweepSpec(what={"energy"}, start=YESTERDAY, end=YESTERDAY), now=NOW
            )


def test_spec_validation():
    """Unknown targets, lone bounds, bad ids and resolutions are refused with the choices."""
    with pytest.raises(InvalidRequestError, match="allowed: overview"):
        SweepSpec(what={"energy", "nonsense"})
    with pytest.raises(InvalidRequestError, match="both start and end"):
        SweepSpec(what={"energy"}, start=YESTERDAY)
    with pytest.raises(InvalidRequestError, match="positive"):
        SweepSpec(what={"energy"}, site_ids=[0])
    with pytest.raises(InvalidRequestError, match="resolution"):
        SweepSpec(what={"energy"}, resolution="DECADE")
    with pytest.raises(InvalidRequestError):
        SiteDay(1.5)  # type: ignore[arg-type]
    spec = SweepSpec(what="energy, power", site_ids=[3, 2, 3], resolution="hour")
    assert spec.what == frozenset({"energy", "power"})
    assert spec.site_ids == (3, 2)
    assert spec.resolution == "HOUR"
    assert "inverter_voltage" in TARGETS
    assert "storage_telemetry" in TARGETS


def test_work_item_ids_are_stable_and_distinct():
    """Ids name the kind, resolution, device and window; serials are escaped."""
    start = datetime(2026, 5, 11, tzinfo=UTC)
    item = WorkItem(
        kind="inverter_voltage",
        site_id=7,
        start=start,
        end=start + timedelta(hours=12),
        resolution="QUARTER_HOUR",
        serial="7F16:E7/77",
    )
    assert item.id == (
        "7:inverter_voltage@QUARTER_HOUR:7F16%3AE7%2F77:"
        "2026-05-11T00:00:00+00:00/2026-05-11T12:00:00+00:00"
    )
    assert WorkItem(kind="devices", site_id=7).id == "7:devices"
    assert WorkItem(kind="fleet_alerts", site_id=0).id == "fleet:alerts"
    assert item.cost == 1
