"""Shared support of the budget tests: a frozen simulator, a client on it, a wall clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from solaredge_async import SolarEdgeClient
from solaredge_async.testing import FleetSpec, Simulator, SimulatorConfig

#: The simulator's frozen "now": the days before are fully published.
NOW = datetime(2026, 5, 12, 14, 37, 12, tzinfo=UTC)
#: Five whole site-local days before `NOW` (inclusive dates).
FIRST_DAY = date(2026, 5, 6)
LAST_DAY = date(2026, 5, 10)
ZONE = "Europe/Berlin"


def make_sim(sites: int = 3, *, cap_hours: int = 12, **kw: Any) -> Simulator:
    """A Berlin fleet frozen at `NOW`, limits off, every request recorded.

    ``cap_hours``: the simulator's QUARTER_HOUR/HOUR caps, 12 (documented) or 24.
    """
    settings: dict[str, Any] = {
        "fleet": FleetSpec(sites=sites, zones=(ZONE,)),
        "now": NOW,
        "requests_per_minute": None,
        "monthly_credits": None,
        "record_requests": 100_000,
        "subdaily_cap_hours": cap_hours,
    }
    settings.update(kw)
    return Simulator(SimulatorConfig(**settings))


def sites(sim: Simulator) -> list[int]:
    """The simulator's site ids for its default key."""
    return list(sim.fleet.sites_for(sim.api_key))


def make_client(sim: Simulator, **kw: Any) -> SolarEdgeClient:
    """A client on the simulator's transport that knows every site's zone (no lookups)."""
    settings: dict[str, Any] = {
        "requests_per_minute": None,
        "site_timezones": dict.fromkeys(sites(sim), ZONE),
    }
    settings.update(kw)
    return SolarEdgeClient(
        api_key=sim.api_key, transport=sim.transport(), base_url=sim.base_url, **settings
    )


def calls(sim: Simulator, suffix: str = "", status: int | None = None) -> int:
    """Requests the simulator received whose path ends with ``suffix`` (and had ``status``)."""
    return sum(
        1
        for r in sim.requests
        if r.path.endswith(suffix) and (status is None or r.status == status)
    )


class WallClock:
    """A settable UTC wall clock for ledgers and caps stores."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward."""
        self.now += delta
