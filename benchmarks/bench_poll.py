"""Poll benchmark: a simulated month of a fleet on the free tier, credits against the budget.

Run ``python benchmarks/bench_poll.py [--sites 100] [--days 30] [--backend trio]
[--start 2026-06-01T00:00:00+00:00] [--json out.json]``.

The whole stack runs as in production: the `Poller` (scheduling, night skip, budget
pacing), the `StoreFetcher` over a `SolarEdgeClient` (rate limiter at 10 calls a
minute, no adoption of headers) and a SQLite store, against the in-process simulator
with the free tier's limits enforced (10 calls a minute, 2,000 credits a month). The
simulator's `SimClock` ticks on the event loop's clock, which is *virtual* (trio's
``MockClock(autojump_threshold=0)``, or the test suite's auto-jumping asyncio loop),
and the poller follows it (`FollowClock`): a month passes in seconds of wall time.

Targets: site energy (PV, 15 min ladder down to daily/DAY and weekly/DAY) and fleet
alerts (hourly, daily). Reported: credits spent by the poller and in total (site
discovery included) against the 2,000-credit budget, calls by target, cadence changes,
rows stored, the lag of the oldest energy watermark at the end, 429s, and wall time.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import anyio

from solaredge_async import SolarEdgeClient
from solaredge_async.limits import RateLimiter
from solaredge_async.poll import (
    BudgetConfig,
    FollowClock,
    Poller,
    PollMetrics,
    PollTarget,
    RequestTally,
    StoreFetcher,
    default_ladder,
    discover_sites,
)
from solaredge_async.store import open_store
from solaredge_async.testing import FleetSpec, SimClock, Simulator, SimulatorConfig
from tests._clock import virtual_backend

FREE_CREDITS = 2000
FREE_RPM = 10


async def month(
    sites: int, days: float, start: datetime, db: Path, *, targets: tuple[str, ...]
) -> dict[str, Any]:
    """Poll ``sites`` for ``days`` from ``start`` on a virtual clock; return the figures."""
    sim_clock = SimClock(start, speed=1.0, ticks=anyio.current_time)
    sim = Simulator(
        SimulatorConfig(
            fleet=FleetSpec(sites=sites),
            sim_clock=sim_clock,
            requests_per_minute=FREE_RPM,
            monthly_credits=FREE_CREDITS,
            billing_day=1,
            record_requests=0,
        )
    )
    clock = FollowClock(sim_clock)
    metrics = PollMetrics()
    by_target: Counter[str] = Counter()

    def count(event: Any) -> None:
        metrics.on_request(event)
        by_target[event.path.rsplit("/", 1)[-1]] += event.credits

    tally = RequestTally(forward=count)
    client = SolarEdgeClient(
        api_key=sim.api_key,
        transport=sim.transport(),
        base_url=sim.base_url,
        rate_limiter=RateLimiter(FREE_RPM, adopt_server_limit=False),
        on_request=tally,
    )
    poll_targets = []
    if "energy" in targets:
        poll_targets.append(PollTarget(name="energy", pv=True))
    if "power" in targets:
        ladder = default_ladder("QUARTER_HOUR", day_fallback=False)
        poll_targets.append(PollTarget(name="power", pv=True, priority=1, ladder=ladder))
    if "alerts" in targets:
        poll_targets.append(
            PollTarget(
                name="alerts",
                resolution=None,
                fleet=True,
                priority=2,
                ladder=default_ladder(None)[1:],
            )
        )
    async with client, open_store(f"sqlite:///{db}") as store:
        coordinates = {
            s: (sim.fleet.site(s).latitude, sim.fleet.site(s).longitude)
            for s in sim.fleet.sites_for(sim.api_key)
        }
        fleet = await discover_sites(client, store, coordinates=coordinates, now=clock.now())
        discovery = client.usage.credits
        fetcher = StoreFetcher(client, store, sites=fleet, clock=clock, tally=tally)
        poller = Poller(
            sites=fleet,
            targets=poll_targets,
            fetch=fetcher,
            clock=clock,
            budget=BudgetConfig(
                credits_per_cycle=FREE_CREDITS, per_minute=FREE_RPM, credits_spent=discovery
            ),
            metrics=metrics,
        )
        wall = time.perf_counter()
        summary = await poller.run(until=start + timedelta(days=days))
        wall = time.perf_counter() - wall
        rows = await store.count_measurements()
        end = summary.ended
        energy_marks = [m for (s, t, _), m in summary.watermarks.items() if s and t == "energy"]
    return {
        "sites": sites,
        "days": days,
        "start": start.isoformat(),
        "budget": FREE_CREDITS,
        "credits_poll": summary.credits,
        "credits_discovery": discovery,
        "credits_total": client.usage.credits,
        "server_credits": sim.ledger(sim.api_key).credits,
        "within_budget": client.usage.credits <= FREE_CREDITS,
        "credits_by_endpoint": dict(by_target),
        "rate_limited": summary.rate_limited,
        "succeeded": summary.succeeded,
        "failed": summary.failed,
        "rows": rows,
        "oldest_energy_lag_h": round((end - min(energy_marks)).total_seconds() / 3600, 1)
        if energy_marks
        else None,
        "final_cadence": {d.target: d.rung.label for d in summary.decisions},
        "changes": [f"{d.target} -> {d.rung.label} ({d.reason})" for d in summary.changes],
        "wall_s": round(wall, 2),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures (JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=100)
    parser.add_argument("--days", type=float, default=30.0)
    parser.add_argument("--start", default="2026-06-01T00:00:00+00:00")
    parser.add_argument("--what", default="energy,alerts", help="energy, power, alerts")
    parser.add_argument("--backend", choices=("trio", "asyncio"), default="trio")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    backend, options = virtual_backend(args.backend)
    with tempfile.TemporaryDirectory() as tmp:
        figures = anyio.run(
            lambda: month(
                args.sites,
                args.days,
                datetime.fromisoformat(args.start),
                Path(tmp) / "poll.db",
                targets=tuple(args.what.split(",")),
            ),
            backend=backend,
            backend_options=options,
        )
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
