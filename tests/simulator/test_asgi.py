"""The simulator as an ASGI app answers like its httpx transport."""

from __future__ import annotations

import httpx
import pytest

from solaredge_async import SolarEdgeClient
from solaredge_async.testing import FleetSpec, Simulator, SimulatorConfig

pytestmark = pytest.mark.anyio


async def test_asgi_app_serves_the_client_and_the_same_answers():
    """A client over httpx.ASGITransport gets the same records as over the transport."""
    sim = Simulator(SimulatorConfig(fleet=FleetSpec(sites=3), requests_per_minute=None))
    site_id = sim.fleet.sites_for(sim.api_key)[0]
    via_asgi = SolarEdgeClient(
        api_key=sim.api_key,
        base_url=sim.base_url,
        transport=httpx.ASGITransport(app=sim.asgi_app()),
        requests_per_minute=None,
    )
    via_transport = SolarEdgeClient(
        api_key=sim.api_key,
        base_url=sim.base_url,
        transport=sim.transport(),
        requests_per_minute=None,
    )
    async with via_asgi, via_transport:
        assert [s.site_id async for s in via_asgi.sites()] == list(sim.fleet.sites_for(sim.api_key))
        assert await via_asgi.site(site_id) == await via_transport.site(site_id)
        assert await via_asgi.devices(site_id) == await via_transport.devices(site_id)
    assert sim.ledger(sim.api_key).credits == 5


async def test_asgi_app_answers_problem_json_for_unknown_routes():
    """Unknown routes get the 404 problem body with rate-limit headers."""
    sim = Simulator(SimulatorConfig(fleet=FleetSpec(sites=1)))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim.asgi_app())) as http:
        response = await http.get(
            "https://simulator.solaredge.invalid/v2/sites/1/powerFlow",
            headers={"X-API-Key": sim.api_key},
        )
    assert response.status_code == 404
    assert response.json()["detail"] == "Unknown endpoint"
    assert response.headers["x-ratelimit-limit-minute"] == "10"
