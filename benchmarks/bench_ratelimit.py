"""Rate-limit utilisation: achieved rate ÷ the enforced per-minute limit, and the 429 count.

* ``loopback``: the simulator in its own process enforces 600 calls/min with 150 ± 50 ms
  latency; the client (told 600/min) plans and runs an overview sweep of every site
  (`plan_sweep` + `sweep`; the site list included) sized to last ~30 s.

Achieved rate = (calls - 1) ÷ the time from the first call sent to the last call sent
(send times from the client's ``on_request`` events): the pace the limiter keeps. The
``*_wall`` figures divide all calls by the sweep's whole wall time instead (one
latency more at the end, one call more at the start).
* ``free_tier``: the free tier's 10/min on a virtual clock (trio's ``MockClock``, the
  simulator in process, same latency): 60 calls, ~6 virtual minutes in well under 1 s.
* ``loopback_strict``: the same, side by side on a second account, with `StrictLimiter`
  (the limiter before it lent half its margin to event-loop lateness);
* ``adopted``: virtual clock, the server enforces 600/min, the client starts at its
  default (10/min) and must learn the limit from ``x-ratelimit-limit-minute``.

Run: ``python benchmarks/bench_ratelimit.py [--quick]``.
"""

from __future__ import annotations

import argparse
import functools
import json
import time
from datetime import datetime

import _sweeps
from _common import API_KEY, NOW, SimServer

from solaredge_async.limits._bucket import RateLimiter

#: A second account, for the side-by-side run.
OTHER_KEY = "BENCH0KEY0000000000000000000000B"
LATENCY = (0.150, 0.050)
RATE = 600
FREE_RATE = 10


class Sweep:
    """One sweep's figures: calls done, wall seconds, send times (anyio clock)."""

    def __init__(self) -> None:
        self.done = 0
        self.elapsed = 0.0
        self.sends: list[float] = []

    @property
    def pace(self) -> float:
        """Calls per minute between the first and the last send."""
        sends = sorted(self.sends)
        return (len(sends) - 1) / (sends[-1] - sends[0]) * 60.0

    @property
    def wall_rate(self) -> float:
        """Calls per minute over the whole wall time."""
        return self.done / self.elapsed * 60.0


class StrictLimiter(RateLimiter):
    """The limiter before it lent half its margin to lateness: the bucket holds ``burst``.

    With ``burst=1`` every waiter that wakes a little after its token was due
    (event-loop lateness, 1-2 ms on a busy machine) loses that lateness for good, so
    the pace drifts below the limit by lateness ÷ interval. Kept here to show the
    change side by side with the limiter as shipped.
    """

    def _capacity_for(self, interval: float) -> float:  # noqa: ARG002 - same signature
        return float(self._burst)


async def _sweep(
    base_url: str,
    rpm: float | None,
    transport: object,
    api_key: str = API_KEY,
    limiter: RateLimiter | None = None,
) -> Sweep:
    """Plan and run an overview sweep of every site (fleet), counting every call's send."""
    import anyio  # noqa: PLC0415

    from solaredge_async import RequestEvent, SolarEdgeClient  # noqa: PLC0415

    sweep = Sweep()

    def sent(event: RequestEvent) -> None:
        sweep.sends.append(anyio.current_time() - event.duration)

    kwargs: dict[str, object] = {} if rpm is None else {"requests_per_minute": rpm}
    if limiter is not None:
        kwargs["rate_limiter"] = limiter
    client = SolarEdgeClient(
        api_key=api_key,
        base_url=base_url,
        max_concurrency=10,
        monthly_credits=0,  # more calls than the free tier's month
        transport=transport,  # type: ignore[arg-type]
        on_request=sent,
        **kwargs,  # type: ignore[arg-type]
    )
    start = anyio.current_time()
    async with client:
        if _sweeps.fleet_available():
            from solaredge_async.fleet import SweepSpec, plan_sweep  # noqa: PLC0415

            plan = await plan_sweep(client, SweepSpec(what={"overview"}), now=_now())
            outcome = await _sweeps.fleet_sweep(client, plan)
        else:
            sites = [site.site_id async for site in client.sites()]
            work = [functools.partial(client.site_overview, s) for s in sites]
            outcome = await _sweeps.drive(work, client.max_concurrency)
    sweep.elapsed = anyio.current_time() - start
    sweep.done = len(sweep.sends)
    if outcome.failures:
        raise RuntimeError(f"failed calls: {outcome.failed}")
    return sweep


def _now() -> datetime:
    return datetime.fromisoformat(NOW)


def loopback(seconds: float) -> dict[str, float]:
    """The 600/min case over the loopback server, for about ``seconds``.

    Two accounts side by side in one run (the server limits each on its own): one
    client with the limiter as shipped, one with `StrictLimiter` (the one before).
    """
    import anyio  # noqa: PLC0415

    calls = round(seconds * RATE / 60.0)
    sweeps: dict[str, Sweep] = {}

    async def both(url: str) -> None:
        async def one(name: str, key: str, limiter: RateLimiter | None) -> None:
            sweeps[name] = await _sweep(url, RATE, None, key, limiter)

        async with anyio.create_task_group() as tg:
            tg.start_soon(one, "loopback", API_KEY, None)
            tg.start_soon(one, "loopback_strict", OTHER_KEY, StrictLimiter(RATE))

    keys = (API_KEY, OTHER_KEY)
    with SimServer(sites=2 * (calls - 1), rate=RATE, latency=LATENCY, api_keys=keys) as server:
        anyio.run(both, server.base_url)
        usage = {API_KEY: server.usage(API_KEY), OTHER_KEY: server.usage(OTHER_KEY)}
    out: dict[str, float] = {}
    for name, key in (("loopback", API_KEY), ("loopback_strict", OTHER_KEY)):
        sweep = sweeps[name]
        out |= {
            f"ratelimit_{name}_calls": float(sweep.done),
            f"ratelimit_{name}_server_calls": float(usage[key]["calls"]),  # type: ignore[arg-type]
            f"ratelimit_{name}_seconds": sweep.elapsed,
            f"ratelimit_{name}_rate_per_min": sweep.pace,
            f"ratelimit_{name}_utilisation": sweep.pace / RATE,
            f"ratelimit_{name}_utilisation_wall": sweep.wall_rate / RATE,
            f"ratelimit_{name}_429s": float(usage[key]["minute_429s"]),  # type: ignore[arg-type]
        }
    return out


def _virtual(server_rate: int, client_rate: float | None, calls: int) -> tuple[Sweep, int]:
    import trio  # noqa: PLC0415
    import trio.testing  # noqa: PLC0415

    from solaredge_async.testing import Faults, FleetSpec, Simulator, SimulatorConfig  # noqa: PLC0415

    sim = Simulator(
        SimulatorConfig(
            fleet=FleetSpec(sites=calls - 1, api_keys=(API_KEY,), zones=("Europe/Berlin",)),
            now=datetime.fromisoformat(NOW),
            requests_per_minute=server_rate,
            monthly_credits=None,
            faults=Faults(latency=LATENCY),
            record_requests=0,
        )
    )
    result: list[Sweep] = []

    async def main() -> None:
        result.append(await _sweep(sim.base_url, client_rate, sim.transport()))

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    return result[0], sim.ledger(API_KEY).minute_429s


def virtual(quick: bool) -> dict[str, float]:
    """The free tier (10/min) and the learned-limit case, on trio's virtual clock."""
    out: dict[str, float] = {}
    calls = 30 if quick else 60
    wall = time.perf_counter()
    sweep, c429 = _virtual(FREE_RATE, FREE_RATE, calls)
    out |= {
        "ratelimit_free_calls": float(sweep.done),
        "ratelimit_free_virtual_seconds": sweep.elapsed,
        "ratelimit_free_utilisation": sweep.pace / FREE_RATE,
        "ratelimit_free_utilisation_wall": sweep.wall_rate / FREE_RATE,
        "ratelimit_free_429s": float(c429),
        "ratelimit_free_wall_seconds": time.perf_counter() - wall,
    }
    calls = 600 if quick else 1200
    sweep, c429 = _virtual(RATE, None, calls)
    sends = sorted(sweep.sends)
    out |= {
        "ratelimit_adopted_calls": float(sweep.done),
        "ratelimit_adopted_virtual_seconds": sweep.elapsed,
        "ratelimit_adopted_utilisation": sweep.pace / RATE,
        "ratelimit_adopted_first_gap_seconds": sends[1] - sends[0],
        "ratelimit_adopted_429s": float(c429),
    }
    return out


def run(*, quick: bool = False) -> dict[str, float]:
    """Every utilisation figure (ratios to the enforced limit, 429 counts)."""
    return virtual(quick) | loopback(8.0 if quick else 30.0)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    print(json.dumps(run(quick=a.quick), indent=2))
