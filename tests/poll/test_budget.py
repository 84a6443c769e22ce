"""Budget pacing with numbers: the free tier and fleets of 1, 10 and 100 sites."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from solaredge_async.errors import InvalidRequestError
from solaredge_async.poll import (
    BudgetState,
    Cadence,
    PollTarget,
    Rung,
    billing_cycle,
    default_ladder,
    estimate_demand,
    pace,
)

NOW = datetime(2026, 6, 1, tzinfo=UTC)
FREE = BudgetState(cycle_end=datetime(2026, 7, 1, tzinfo=UTC))  # 2,000 credits, 10/min
TARGETS = (
    PollTarget(name="energy", pv=True),
    PollTarget(
        name="power", pv=True, priority=1, ladder=default_ladder("QUARTER_HOUR", day_fallback=False)
    ),
    PollTarget(name="alerts", resolution=None, fleet=True, priority=2),
)


def _demands(sites: int, *, daylight: float = 0.5, horizon: timedelta = timedelta(days=30)):
    return [
        estimate_demand(t, sites=sites, horizon=horizon, daylight_fraction=daylight)
        for t in TARGETS
    ]


def test_the_issue_arithmetic():
    """One site, energy and power every 15 min, no night skip: 5,760 calls in 30 days."""
    demands = [estimate_demand(t, sites=1, horizon=timedelta(days=30)) for t in TARGETS[:2]]
    assert sum(d.calls[0] for d in demands) == pytest.approx(5760)
    # With a 12 h night skipped: 47 daylight polls and one morning catch-up a day.
    energy = estimate_demand(TARGETS[0], sites=1, horizon=timedelta(days=30), daylight_fraction=0.5)
    assert energy.calls[0] == pytest.approx((47 + 2) * 30)
    # Daily at QUARTER_HOUR: two 12 h windows a day; weekly at DAY: one call a week.
    assert energy.calls[2] == pytest.approx(60)
    assert energy.calls[4] == pytest.approx(30 / 7)
    assert energy.calls[-1] == 0


@pytest.mark.parametrize(
    ("sites", "expected"),
    [
        (1, {"energy": "hourly/QUARTER_HOUR", "power": "hourly/QUARTER_HOUR", "alerts": "hourly"}),
        (10, {"energy": "daily/QUARTER_HOUR", "power": "daily/QUARTER_HOUR", "alerts": "daily"}),
        (100, {"energy": "weekly/DAY", "power": "paused/QUARTER_HOUR", "alerts": "hourly"}),
    ],
)
def test_free_tier_fleets_degrade_and_fit(sites, expected):
    """1, 10 and 100 sites on 2,000 credits a month: slower cadences, always within 1,800."""
    report = pace(_demands(sites), FREE, NOW)
    assert report.fits
    assert {d.target: d.rung.label for d in report.decisions} == expected
    assert report.projected_calls <= report.credits_available == 1800
    assert report.projected_per_minute <= report.per_minute_available == 9
    assert all(d.degraded for d in report.decisions)
    for decision in report.decisions:
        assert "over the 1800 credits available" in decision.reason
    power = next(d for d in report.decisions if d.target == "power")
    assert power.reason.startswith("paused") == (sites == 100)


def test_a_generous_budget_keeps_the_finest_cadence():
    """Enough credits: every target every 15 min, and the report says so."""
    budget = BudgetState(credits_per_cycle=10**6, per_minute=1000, cycle_end=FREE.cycle_end)
    report = pace(_demands(1), budget, NOW)
    assert [d.rung.cadence for d in report.decisions] == [Cadence.QUARTER_HOURLY] * 3
    assert {d.reason for d in report.decisions} == {"fits at the finest cadence"}
    assert report.rung("alerts") == Rung(cadence=Cadence.QUARTER_HOURLY)
    with pytest.raises(KeyError):
        report.rung("nothing")


def test_the_per_minute_limit_degrades_on_its_own():
    """Plenty of credits, 10 calls a minute: 100 sites cannot all poll every 15 min."""
    budget = BudgetState(credits_per_cycle=10**7, cycle_end=FREE.cycle_end)
    report = pace(_demands(100), budget, NOW)
    assert report.projected_per_minute <= 9
    degraded = [d for d in report.decisions if d.degraded]
    assert degraded
    assert any("calls/min" in d.reason for d in degraded)
    assert report.rung("energy").cadence is Cadence.QUARTER_HOURLY  # the most important


def test_less_important_targets_degrade_first():
    """With room for one 15 min target, the priority-0 target gets it back first."""
    demands = _demands(1, daylight=1.0)
    # 4,500 available: 2,880 (15 min) + 720 + 720 (hourly) fits, two at 15 min do not.
    budget = BudgetState(credits_per_cycle=5000, per_minute=100, cycle_end=FREE.cycle_end)
    report = pace(demands, budget, NOW)
    assert report.rung("energy").cadence is Cadence.QUARTER_HOURLY
    assert report.rung("power").cadence is Cadence.HOURLY
    assert report.rung("alerts").cadence is Cadence.HOURLY


def test_spent_credits_leave_only_the_reserve():
    """A cycle already spent down to the reserve pauses everything, and says why."""
    budget = BudgetState(credits_spent=1800, cycle_end=FREE.cycle_end)
    report = pace(_demands(1), budget, NOW)
    assert report.credits_remaining == 200
    assert report.credits_available == 0
    assert [d.rung.cadence for d in report.decisions] == [Cadence.PAUSED] * 3
    assert all(d.reason.startswith("paused") for d in report.decisions)


def test_a_ladder_without_pause_may_not_fit_and_says_so():
    """A target that cannot be paused and does not fit: fits is False."""
    target = PollTarget(name="energy", ladder=default_ladder("QUARTER_HOUR")[:3])
    demand = estimate_demand(target, sites=100, horizon=timedelta(days=30))
    report = pace([demand], FREE, NOW)
    assert not report.fits
    assert report.rung("energy").label == "daily/QUARTER_HOUR"


def test_hysteresis_holds_a_coarser_cadence_near_the_edge():
    """Moving back up needs 10 % headroom; staying put does not."""
    target = PollTarget(name="energy", resolution="HOUR", ladder=default_ladder("HOUR")[:2])
    demand = estimate_demand(target, sites=1, horizon=timedelta(days=30))
    hourly_calls = demand.calls[0]  # 720
    budget = BudgetState(
        credits_per_cycle=round(hourly_calls / 0.9 * 1.05),
        safety_margin=0.1,
        cycle_end=FREE.cycle_end,
    )
    daily = demand.rungs[1]
    assert pace([demand], budget, NOW).rung("energy") == demand.rungs[0]
    assert pace([demand], budget, NOW, current={"energy": daily}).rung("energy") == daily
    assert (
        pace([demand], budget, NOW, current={"energy": demand.rungs[0]}).rung("energy")
        == demand.rungs[0]
    )


def test_backlog_is_priced_once():
    """A week behind at QUARTER_HOUR costs 14 more calls per site at every QH rung."""
    plain = estimate_demand(TARGETS[0], sites=2, horizon=timedelta(days=1))
    behind = estimate_demand(
        TARGETS[0],
        sites=2,
        horizon=timedelta(days=1),
        backlog={"QUARTER_HOUR": [timedelta(days=7, minutes=15)] * 2, "DAY": [timedelta(0)] * 2},
    )
    assert behind.calls[0] - plain.calls[0] == pytest.approx(28)
    assert behind.calls[3] == plain.calls[3]


@given(
    sites=st.integers(min_value=0, max_value=5000),
    spent=st.integers(min_value=0, max_value=3000),
    days_left=st.floats(min_value=0.01, max_value=31),
    daylight=st.floats(min_value=0.0, max_value=1.0),
    per_minute=st.sampled_from([1.0, 10.0, 100.0]),
)
def test_pacing_always_fits_when_every_ladder_can_pause(
    sites, spent, days_left, daylight, per_minute
):
    """Whatever the fleet and the budget: the plan fits, deterministically."""
    budget = BudgetState(
        credits_spent=spent, per_minute=per_minute, cycle_end=NOW + timedelta(days=days_left)
    )
    demands = _demands(sites, daylight=daylight, horizon=timedelta(days=days_left))
    report = pace(demands, budget, NOW)
    assert report.fits
    assert report.projected_calls <= report.credits_available + 1e-9
    assert report == pace(demands, budget, NOW)


def test_billing_cycle_runs_anniversary_to_anniversary():
    """Billing day 15: 15 June to 15 July; day 31 clamps to short months."""
    assert billing_cycle(datetime(2026, 6, 20, tzinfo=UTC), 15) == (
        datetime(2026, 6, 15, tzinfo=UTC),
        datetime(2026, 7, 15, tzinfo=UTC),
    )
    assert billing_cycle(datetime(2026, 6, 10, tzinfo=UTC), 15) == (
        datetime(2026, 5, 15, tzinfo=UTC),
        datetime(2026, 6, 15, tzinfo=UTC),
    )
    assert billing_cycle(datetime(2026, 2, 28, 12, tzinfo=UTC), 31) == (
        datetime(2026, 2, 28, tzinfo=UTC),
        datetime(2026, 3, 31, tzinfo=UTC),
    )
    assert billing_cycle(datetime(2026, 1, 5, tzinfo=UTC), 10)[0] == datetime(
        2025, 12, 10, tzinfo=UTC
    )
    assert billing_cycle(datetime(2026, 12, 20, tzinfo=UTC), 10)[1] == datetime(
        2027, 1, 10, tzinfo=UTC
    )
    with pytest.raises(InvalidRequestError, match="billing_day"):
        billing_cycle(NOW, 0)
    with pytest.raises(InvalidRequestError, match="naive"):
        billing_cycle(datetime(2026, 6, 1), 1)


def test_bad_numbers_are_refused():
    """Negative budgets, margins outside [0, 1), bad demand inputs."""
    with pytest.raises(InvalidRequestError):
        BudgetState(credits_spent=-1, cycle_end=NOW)
    with pytest.raises(InvalidRequestError, match="safety_margin"):
        BudgetState(safety_margin=1.0, cycle_end=NOW)
    with pytest.raises(InvalidRequestError):
        estimate_demand(TARGETS[0], sites=-1, horizon=timedelta(days=1))
    with pytest.raises(InvalidRequestError, match="naive"):
        pace([], FREE, datetime(2026, 6, 1))
