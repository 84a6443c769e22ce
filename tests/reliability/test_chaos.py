"""Chaos sweeps: 2,000 sites under faults, nothing lost, nothing twice, every value true.

A fleet of 2,000 sites on the in-process simulator (virtual clock, so retry backoffs and
``Retry-After`` pauses cost no real time) with every fault kind on: 5xx answers 5 %,
connection resets 2 %, stalled responses 1 %, malformed JSON 1 %, schema drift 2 %, and
spurious per-minute 429s that close the rest of a minute (a burst of 429s each time).

Checked for each sweep:

* every planned item is reported exactly once, none lost, none twice;
* every success equals the simulator's ground truth (`Simulator.fleet`);
* no call made more attempts than the retry policy allows, and the client's retry count
  is exactly the attempts beyond the first;
* the credits agree with the simulator's ledger. They cannot agree to the credit: the
  client counts every request it sends (``Usage.credits``, conservative), while the
  simulator, like the gateway it models, does not charge a 429 (the gateway refuses it
  before the API counts it; `SimulatorConfig.charge_rate_limited`). So the client's
  figure is the simulator's plus the 429s answered, exactly;
* malformed JSON is not retried (the API reference's rule: only transport errors, 5xx
  and per-minute 429s are), so those items fail; a second pass over just the failed
  items (``plan.only``) completes them, and then every item has succeeded once.

With the monthly credits set to run out at 70 % of the plan, the sweep stops launching,
reports the rest as not attempted (spending nothing on them), and a resume after the
month resets runs exactly the rest.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, date, datetime
from typing import Any

import anyio
import pytest

from solaredge_async import (
    Measurements,
    RequestEvent,
    ResponseValidationError,
    RetryPolicy,
    SiteOverview,
    SolarEdgeClient,
)
from solaredge_async.fleet import (
    QUOTA_EXHAUSTED,
    ItemFailed,
    ItemNotAttempted,
    ItemSucceeded,
    SweepPlan,
    SweepResult,
    SweepSpec,
    plan_sweep,
    sweep,
)
from solaredge_async.testing import Faults, FleetSpec, Simulator, SimulatorConfig
from tests.reliability import _figures

pytestmark = pytest.mark.anyio

SITES = 2000
NOW = datetime(2026, 5, 12, 12, 0, tzinfo=UTC)
DAY = date(2026, 5, 11)
#: The simulator's per-minute limit, and the client's (adopted from the headers anyway).
PER_MINUTE = 3000
POLICY = RetryPolicy(max_attempts=8, initial_backoff=0.5, max_backoff=10.0, deadline=None)
FAULTS = Faults(
    server_error=0.05,
    connection_reset=0.02,
    timeout=0.01,
    malformed_json=0.01,
    schema_drift=0.02,
    rate_limit_burst=0.005,
)
#: Every day of the sweep: the whole site-local day, at hourly resolution (one call per
#: site for energy, one for the overview).
SPEC = SweepSpec(what={"energy", "overview"}, start=DAY, end=DAY, resolution="HOUR")


def make_sim(faults: Faults = FAULTS, **overrides: Any) -> Simulator:
    """A 2,000-site fleet worldwide (every zone mix), record keeping off for speed."""
    settings: dict[str, Any] = {
        "fleet": FleetSpec(sites=SITES),
        "now": NOW,
        "requests_per_minute": PER_MINUTE,
        "monthly_credits": None,
        "faults": faults,
        "record_requests": 0,
    }
    settings.update(overrides)
    return Simulator(SimulatorConfig(**settings))


def make_client(sim: Simulator, events: list[RequestEvent]) -> SolarEdgeClient:
    """A client paced at the simulator's limit, 32 requests in flight."""
    return SolarEdgeClient(
        api_key=sim.api_key,
        transport=sim.transport(),
        base_url=sim.base_url,
        requests_per_minute=PER_MINUTE,
        monthly_credits=0,  # the simulator's monthly credits are the ones under test
        max_concurrency=32,
        timeout=10.0,
        retry=POLICY,
        on_request=events.append,
    )


async def run_sweep(client: SolarEdgeClient, plan: SweepPlan) -> list[SweepResult]:
    """Every result of a sweep, under a (virtual) time bound so a hang fails the test."""
    results: list[SweepResult] = []
    with anyio.fail_after(24 * 3600):
        async with sweep(client, plan) as stream:
            results.extend([r async for r in stream])
    return results


def check_exactly_once(plan: SweepPlan, results: list[SweepResult]) -> None:
    """Every planned item comes out once: none lost, none twice, none unplanned."""
    ids = Counter(r.item.id for r in results)
    duplicates = sum(n - 1 for n in ids.values() if n > 1)
    lost = {item.id for item in plan} - set(ids)
    _figures.chaos["duplicates"] += duplicates
    _figures.chaos["items lost"] += len(lost)
    assert duplicates == 0
    assert not lost
    assert set(ids) == {item.id for item in plan}
    assert len(results) == len(plan)


def check_truth(sim: Simulator, result: ItemSucceeded) -> None:
    """A success holds exactly what the simulator's ground truth says."""
    item, record = result.item, result.record
    if item.kind == "energy":
        assert isinstance(record, Measurements)
        expected = sim.fleet.energy(item.site_id, item.start, item.end, "HOUR")
        assert record.unit == "WH"
        assert list(zip(record.timestamps, record.values, strict=True)) == expected
    else:
        assert item.kind == "overview"
        assert isinstance(record, SiteOverview)
        truth = sim.fleet.overview(item.site_id, item.start, item.end)
        assert record.production is not None
        assert record.production.total == truth["production"]
        consumption = record.consumption.total if record.consumption is not None else None
        assert consumption == truth["consumption"]


def check_retries(events: list[RequestEvent], client: SolarEdgeClient) -> None:
    """No call beyond the policy's attempts; the client's retry count is exact."""
    assert max(e.attempt for e in events) <= POLICY.max_attempts
    # A retry the credit ledger refuses (the month marked used up by another item's
    # monthly 429) is counted but sends nothing, so it has no event.
    sent_retries = sum(e.attempt > 1 for e in events)
    assert sent_retries <= client.usage.retries
    if not client.usage.rate_limited_monthly:
        assert client.usage.retries == sent_retries
    assert client.usage.credits == sum(e.credits for e in events)


async def test_a_2000_site_sweep_under_faults_loses_nothing() -> None:
    """2,000 sites, every fault on: each item once, successes true, credits reconciled."""
    sim = make_sim()
    events: list[RequestEvent] = []
    async with make_client(sim, events) as client:
        plan = await plan_sweep(client, SPEC, now=sim.now())
        assert len(plan) == 2 * SITES
        results = await run_sweep(client, plan)
        check_exactly_once(plan, results)
        failed = [r for r in results if isinstance(r, ItemFailed)]
        assert not [r for r in results if isinstance(r, ItemNotAttempted)]
        # Only malformed bodies fail (never retried); every other fault was survived.
        assert all(isinstance(r.error, ResponseValidationError) for r in failed)
        first = sim.ledger(sim.api_key)
        assert len(failed) == first.faults["malformed_json"]

        # A second pass over just the failed items completes them.
        rerun_results: list[SweepResult] = []
        rerun = plan
        for _ in range(3):
            rerun = plan.only({r.item.id for r in failed})
            again = await run_sweep(client, rerun)
            check_exactly_once(rerun, again)
            rerun_results += again
            failed = [r for r in again if isinstance(r, ItemFailed)]
            if not failed:
                break
        assert not failed

        succeeded = [r for r in (*results, *rerun_results) if isinstance(r, ItemSucceeded)]
        assert Counter(r.item.id for r in succeeded) == Counter(item.id for item in plan)
        for result in succeeded:
            check_truth(sim, result)
        check_retries(events, client)

        ledger = sim.ledger(sim.api_key)
        usage = client.usage
        # The client counts every request sent; the simulator charges all but the 429s.
        assert usage.credits == ledger.credits + ledger.minute_429s
        assert usage.rate_limited_minute == ledger.minute_429s
        assert usage.calls == len(plan) + len(rerun_results) + plan.discovery_credits
        # Every fault kind really happened, and was survived (or re-run, for malformed).
        kinds = ("server_error", "connection_reset", "timeout", "malformed_json", "schema_drift")
        assert all(ledger.faults.get(kind, 0) > 0 for kind in (*kinds, "rate_limit_burst"))
        assert ledger.minute_429s >= ledger.faults["rate_limit_burst"]
    _figures.chaos["sites swept under faults"] += SITES
    _figures.chaos["items"] += len(plan)
    _figures.chaos["retries"] += usage.retries
    for kind, count in ledger.faults.items():
        _figures.chaos[f"fault {kind}"] += count
    _figures.chaos["429 answers"] += ledger.minute_429s


async def test_monthly_credits_running_out_at_70_percent_then_resume() -> None:
    """Credits run out at 70 %: the rest is not attempted (and free); a resume does the rest."""
    sim = make_sim(Faults(server_error=0.03, connection_reset=0.01), monthly_credits=10**6)
    events: list[RequestEvent] = []
    spec = SweepSpec(what={"energy"}, start=DAY, end=DAY, resolution="HOUR")
    async with make_client(sim, events) as client:
        plan = await plan_sweep(client, spec, now=sim.now())
        budget = math.floor(0.7 * len(plan))
        sim.use_credits(sim.api_key, 10**6 - budget)  # `budget` credits left this month
        results = await run_sweep(client, plan)
        check_exactly_once(plan, results)
        done = [r for r in results if isinstance(r, ItemSucceeded)]
        skipped = [r for r in results if isinstance(r, ItemNotAttempted)]
        assert not [r for r in results if isinstance(r, ItemFailed)]
        assert {r.reason for r in skipped} == {QUOTA_EXHAUSTED}
        ledger = sim.ledger(sim.api_key)
        assert ledger.credits == 10**6  # every credit of the month was used, no more
        # Failed attempts (5xx, resets) used credits too: fewer than `budget` items got
        # through, and each success is one answered 200 (a reset drops a 200 it answered).
        answered = ledger.statuses[200] - ledger.faults.get("connection_reset", 0)
        assert answered == len(done) + plan.discovery_credits
        assert 0.6 * len(plan) < len(done) <= budget
        assert client.usage.quota_exhausted
        monthly_429s = ledger.monthly_429s
        assert monthly_429s >= 1
        # The monthly 429s cost nothing at the server; the client counts each request.
        assert client.usage.credits - plan.discovery_credits == budget + monthly_429s

        sim.reset_month()
        client.reset_quota()
        rest = plan.only({r.item.id for r in skipped})
        assert len(rest) == len(skipped)
        resumed = await run_sweep(client, rest)
        check_exactly_once(rest, resumed)
        assert all(isinstance(r, ItemSucceeded) for r in resumed)
        everything = Counter(r.item.id for r in (*done, *resumed))
        assert everything == Counter(item.id for item in plan)
        for result in (*done, *resumed):
            assert isinstance(result, ItemSucceeded)
            check_truth(sim, result)
        check_retries(events, client)
    _figures.chaos["quota sweeps: items not attempted then resumed"] += len(skipped)
