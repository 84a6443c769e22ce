"""Pytest fixtures backed by the SolarEdge simulator (registered as a ``pytest11`` plugin).

Fixtures:
    solaredge_simulator: A `Simulator` with a small fleet (5 sites, one account), no
        per-minute limit and no monthly cap, "now" frozen at 2026-05-12T12:00:00Z.
    solaredge_client: A ``SolarEdgeClient`` wired to ``solaredge_simulator`` through its
        in-process transport, with the simulator's API key and no client-side rate limit.
        It needs the anyio pytest plugin (``@pytest.mark.anyio``), and the test is skipped
        when ``solaredge_async.client`` is not importable.

Importing this module is cheap: the simulator loads when a fixture is first used.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from solaredge_async.testing._simulator import Simulator

__all__ = ["solaredge_client", "solaredge_simulator"]

#: The instant the fixture simulator calls "now".
FIXTURE_NOW = datetime(2026, 5, 12, 12, 0, tzinfo=UTC)


@pytest.fixture
def solaredge_simulator() -> Simulator:
    """Return a small, unlimited `Simulator` (5 sites, one account, frozen "now")."""
    from solaredge_async.testing._config import FleetSpec, SimulatorConfig  # noqa: PLC0415
    from solaredge_async.testing._simulator import Simulator  # noqa: PLC0415

    return Simulator(
        SimulatorConfig(
            fleet=FleetSpec(sites=5),
            now=FIXTURE_NOW,
            requests_per_minute=None,
            monthly_credits=None,
        )
    )


@pytest.fixture
async def solaredge_client(
    solaredge_simulator: Simulator,
    anyio_backend: object,  # noqa: ARG001 - runs the fixture on the test's backend
) -> AsyncIterator[object]:
    """Yield a ``SolarEdgeClient`` talking to ``solaredge_simulator`` in-process."""
    try:
        from solaredge_async.client import SolarEdgeClient  # noqa: PLC0415
    except ImportError as exc:
        pytest.skip(f"solaredge_async.client is not importable: {exc}")
    client = SolarEdgeClient(
        api_key=solaredge_simulator.api_key,
        transport=solaredge_simulator.transport(),
        requests_per_minute=None,
        base_url=solaredge_simulator.base_url,
    )
    async with client as entered:
        yield entered
