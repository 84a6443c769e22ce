"""Shared support of the fleet tests: a frozen simulator and a client wired to it."""

from __future__ import annotations

from datetime import UTC, datetime

from solaredge_async import SolarEdgeClient
from solaredge_async.fleet import YESTERDAY, SweepResult, SweepSpec, sweep
from solaredge_async.testing import FleetSpec, Simulator, SimulatorConfig

#: The simulator's frozen "now": every site's yesterday is fully published.
NOW = datetime(2026, 5, 12, 14, 37, 12, tzinfo=UTC)

#: The daily job: yesterday's overview, energy and inverter telemetry.
DAILY = SweepSpec(what={"overview", "energy", "inverter_telemetry"}, start=YESTERDAY, end=YESTERDAY)


def make_sim(sites: int = 20, **kw: object) -> Simulator:
    """A simulator frozen at `NOW`, limits off unless given."""
    fleet_kw = {k: kw.pop(k) for k in ("zones", "meter_fraction", "battery_fraction") if k in kw}
    settings: dict[str, object] = {
        "fleet": FleetSpec(sites=sites, **fleet_kw),  # type: ignore[arg-type]
        "now": NOW,
        "requests_per_minute": None,
        "monthly_credits": None,
        "record_requests": 0,
    }
    settings.update(kw)
    return Simulator(SimulatorConfig(**settings))  # type: ignore[arg-type]


def make_client(sim: Simulator, **kw: object) -> SolarEdgeClient:
    """A client on the simulator's in-process transport.

    By default: no client-side limit, no monthly budget, documented window caps (the
    probing of longer windows and the budget are tested in ``tests/budget``).
    """
    settings: dict[str, object] = {
        "requests_per_minute": None,
        "max_concurrency": 8,
        "monthly_credits": 0,
        "probe_caps": False,
    }
    settings.update(kw)
    return SolarEdgeClient(
        api_key=sim.api_key,
        transport=sim.transport(),
        base_url=sim.base_url,
        **settings,  # type: ignore[arg-type]
    )


async def run_all(client: SolarEdgeClient, plan: object, **kw: object) -> list[SweepResult]:
    """Run a plan to the end and return every result."""
    out: list[SweepResult] = []
    async with sweep(client, plan, **kw) as results:  # type: ignore[arg-type]
        out.extend([r async for r in results])
    return out


def leaks(client: SolarEdgeClient) -> list[str]:
    """What a finished or cancelled sweep left behind in the client (empty: nothing)."""
    found = []
    engine = client._engine
    if engine.slots.borrowed_tokens:
        found.append(f"{engine.slots.borrowed_tokens} concurrency slots still borrowed")
    limiter = client.rate_limiter
    if limiter is not None and limiter._lock.locked():
        found.append("the rate limiter's lock is held")
    return found
