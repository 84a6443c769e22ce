"""Shared fixtures-in-code of the simulator tests: a small simulator and a client."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import httpx

from solaredge_async.testing import FleetSpec, Simulator, SimulatorConfig

BERLIN = ZoneInfo("Europe/Berlin")
#: 2026-05-12 14:37:12.123456 in Berlin: a sunny afternoon, mid-bucket.
NOW = datetime(2026, 5, 12, 14, 37, 12, 123456, tzinfo=BERLIN)


def make_sim(
    sites: int = 6, zones: tuple[str, ...] | None = ("Europe/Berlin",), **kw: object
) -> Simulator:
    """Return a simulator with a small Berlin fleet, frozen at `NOW`, limits off."""
    fleet = kw.pop("fleet", None) or FleetSpec(sites=sites, zones=zones)
    settings: dict[str, object] = {
        "fleet": fleet,
        "now": NOW,
        "requests_per_minute": None,
        "monthly_credits": None,
    }
    settings.update(kw)
    return Simulator(SimulatorConfig(**settings))  # type: ignore[arg-type]


def client(sim: Simulator, key: str | None = None, **kw: object) -> httpx.AsyncClient:
    """Return an httpx client on the simulator's in-process transport."""
    headers = {} if key == "" else {"X-API-Key": key or sim.api_key}
    return httpx.AsyncClient(
        transport=sim.transport(),
        base_url=sim.base_url,
        headers=headers,
        **kw,  # type: ignore[arg-type]
    )


def site_with(sim: Simulator, *, meter: bool | None = None, battery: bool | None = None) -> int:
    """Return the id of the first site with (or without) a meter / battery."""
    for site_id in sim.fleet.sites_for(sim.api_key):
        s = sim.fleet.site(site_id)
        if meter is not None and s.has_meter != meter:
            continue
        if battery is not None and s.has_battery != battery:
            continue
        return site_id
    raise LookupError("no such site in the fleet")
