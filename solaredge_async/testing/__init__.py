"""A faithful local simulator of the SolarEdge Monitoring API V2, for tests and benchmarks.

The simulator follows the project's API reference: live behaviour by default, and every
uncertain point as a setting of `SimulatorConfig`. It serves a deterministic fleet
(derived lazily from a seed, 1 to 100,000+ sites) whose energy follows the sun, with the
gateway's per-minute and monthly limits, OAuth, and seeded faults::

    from solaredge_async.testing import Simulator, SimulatorConfig, FleetSpec, Faults

    sim = Simulator(SimulatorConfig(fleet=FleetSpec(sites=100), requests_per_minute=None))
    transport = sim.transport()                # in-process httpx transport
    async with sim.serve() as base_url: ...    # loopback HTTP server (background thread)

`sim.fleet` (a `SimulatedFleet`) is the ground truth (sites, expected energy),
`sim.ledger(key)` the account's `SimulatedUsage`, and `sim.clock` the `SimClock` every part
of the simulator reads "now" from (frozen, or running at a speed from a start instant).
`route_templates()` lists every path the simulator serves. Run
``python -m solaredge_async.testing --help`` for a standalone server.

Importing this package is cheap: the submodules load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from solaredge_async.testing._cli import main
    from solaredge_async.testing._clock import SimClock
    from solaredge_async.testing._config import Faults, FleetSpec, SimulatorConfig
    from solaredge_async.testing._fleet import SimulatedFleet, SiteTruth
    from solaredge_async.testing._gateway import RequestRecord
    from solaredge_async.testing._limits import SimulatedUsage
    from solaredge_async.testing._replies import Reply
    from solaredge_async.testing._routes import route_templates
    from solaredge_async.testing._simulator import Simulator
    from solaredge_async.testing._transport import SimulatorTransport

__all__ = [
    "Faults",
    "FleetSpec",
    "Reply",
    "RequestRecord",
    "SimClock",
    "SimulatedFleet",
    "SimulatedUsage",
    "Simulator",
    "SimulatorConfig",
    "SimulatorTransport",
    "SiteTruth",
    "main",
    "route_templates",
]

_LAZY = {
    "Faults": "_config",
    "FleetSpec": "_config",
    "SimulatorConfig": "_config",
    "SimClock": "_clock",
    "SimulatedFleet": "_fleet",
    "SiteTruth": "_fleet",
    "Reply": "_replies",
    "RequestRecord": "_gateway",
    "SimulatedUsage": "_limits",
    "route_templates": "_routes",
    "Simulator": "_simulator",
    "SimulatorTransport": "_transport",
    "main": "_cli",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
