"""Plans priced against the ledger; a plan over budget is refused before any data call."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from solaredge_async.errors import InvalidRequestError, QuotaExhaustedError
from solaredge_async.fleet import (
    QUOTA_EXHAUSTED,
    BudgetExceededError,
    ItemNotAttempted,
    ItemSucceeded,
    PlanOverBudgetError,
    SweepSpec,
    check_budget,
    plan_sweep,
    sweep,
)
from solaredge_async.limits import MemoryCreditLedger
from tests.budget._support import FIRST_DAY, NOW, WallClock, calls, make_client, make_sim, sites

pytestmark = pytest.mark.anyio

WALL = datetime(2026, 5, 20, tzinfo=UTC)


def _spec(site_ids: list[int]) -> SweepSpec:
    return SweepSpec(
        what={"energy", "overview"},
        start=FIRST_DAY,
        end=FIRST_DAY,
        site_ids=site_ids,
        resolution="HOUR",
    )


async def test_a_plan_states_its_price_what_remains_and_the_reset() -> None:
    """20 calls; of 100 credits 30 already spent: fits, 70 remain, resets on the 1st."""
    sim = make_sim(10)
    ledger = MemoryCreditLedger(monthly_credits=100, clock=WallClock(WALL))
    await ledger.charge("elsewhere#1", 5)  # another account: not ours
    async with make_client(sim, ledger=ledger, probe_caps=False) as client:
        await ledger.charge(client.ledger_account, 30)
        plan = await plan_sweep(client, _spec(sites(sim)), now=NOW)
    assert plan.discovery_credits == 0
    assert (plan.credits, plan.credits_max) == (20, 20)
    assert plan.remaining == 70
    assert plan.cycle_end == datetime(2026, 6, 1, tzinfo=UTC)
    assert not plan.over_budget
    text = plan.describe()
    assert "20 credits" in text
    assert "70 of 100 credits remain" in text
    assert "2026-06-01 00:00 UTC" in text
    assert calls(sim) == 0


async def test_an_over_budget_plan_is_refused_and_spends_nothing() -> None:
    """Budget 15, price 20: PlanOverBudgetError on entering, zero data calls sent."""
    sim = make_sim(10)
    async with make_client(sim, monthly_credits=15, probe_caps=False) as client:
        plan = await plan_sweep(client, _spec(sites(sim)), now=NOW)
        assert plan.over_budget
        assert "OVER BUDGET" in plan.describe()
        with pytest.raises(PlanOverBudgetError) as caught:
            async with sweep(client, plan):
                pytest.fail("the sweep must not start")  # pragma: no cover
        error = caught.value
        assert isinstance(error, BudgetExceededError)
        assert isinstance(error, QuotaExhaustedError)
        assert (error.needed, error.remaining_credits, error.monthly_credits) == (20, 15, 15)
        assert "allow_over_budget=True" in str(error)
        assert (await client.budget()).spent == 0
    assert calls(sim) == 0


async def test_an_unprobed_cap_is_priced_at_its_upper_bound() -> None:
    """10 calls if a day is accepted, 21 if not: a budget of 15 refuses it."""
    sim = make_sim(10, cap_hours=24)
    async with make_client(sim, monthly_credits=15) as client:
        plan = await plan_sweep(
            client,
            SweepSpec(what={"energy"}, start=FIRST_DAY, end=FIRST_DAY, site_ids=sites(sim)),
            now=NOW,
        )
        assert (plan.credits, plan.credits_max) == (10, 21)
        with pytest.raises(PlanOverBudgetError, match="up to 21 credits"):
            async with sweep(client, plan):
                pass  # pragma: no cover
    assert calls(sim) == 0


async def test_allow_over_budget_runs_until_the_ledger_refuses() -> None:
    """Opted out: 15 items run, the other 5 are not attempted (and cost nothing)."""
    sim = make_sim(10)
    async with make_client(sim, monthly_credits=15, probe_caps=False) as client:
        plan = await plan_sweep(client, _spec(sites(sim)), now=NOW)
        async with sweep(client, plan, allow_over_budget=True, concurrency=1) as results:
            outcomes = [r async for r in results]
        assert (await client.budget()).remaining == 0
    done = [r for r in outcomes if isinstance(r, ItemSucceeded)]
    skipped = [r for r in outcomes if isinstance(r, ItemNotAttempted)]
    assert (len(done), len(skipped)) == (15, 5)
    assert {r.reason for r in skipped} == {QUOTA_EXHAUSTED}
    assert calls(sim) == 15


async def test_check_budget_is_the_reusable_check() -> None:
    """Any planner (sync, the CLI) asks the same question without a call."""
    sim = make_sim(2)
    async with make_client(sim, monthly_credits=10) as client:
        state = await check_budget(client, 10, what="a sync of 2 sites")
        assert state.remaining == 10
        with pytest.raises(PlanOverBudgetError, match="a sync of 2 sites refused"):
            await check_budget(client, 11, what="a sync of 2 sites")
        assert (await check_budget(client, 11, allow_over_budget=True)).remaining == 10
    async with make_client(sim, monthly_credits=0) as client:
        assert (await check_budget(client, 10**9)).remaining is None
    assert calls(sim) == 0


async def test_a_filtered_plan_keeps_its_range_and_the_budget() -> None:
    """plan.only() prices its own items; an unlimited budget is said so."""
    sim = make_sim(4, cap_hours=24)
    spec = SweepSpec(what={"energy"}, start=FIRST_DAY, end=FIRST_DAY, site_ids=sites(sim))
    async with make_client(sim, monthly_credits=0) as client:
        plan = await plan_sweep(client, spec, now=NOW)
        part = plan.only([item.id for item in list(plan)[:2]])
        assert (part.credits, part.credits_max) == (2, 2 * 2 + 1)
        assert part.budget == plan.budget
        assert part.remaining is None
        assert not part.over_budget
        assert "the budget is unlimited" in part.describe()
        assert "energy@QUARTER_HOUR not probed yet" in part.describe()
        with pytest.raises(InvalidRequestError, match="not an operation whose windows are capped"):
            await client.cap_choice("overview", "QUARTER_HOUR")
    assert calls(sim) == 0
