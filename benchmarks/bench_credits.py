"""Credits (T2): what a day, a week and a year of data cost, against the fewest calls.

For quarter-hour energy (``/energy``) and inverter telemetry (the bulk endpoint: one
call covers every inverter of a site), over a day (2026-05-11), a week (2026-05-04 to
05-10) and a year (2025) of a few Europe/Berlin sites, on two simulators: one that caps
QUARTER_HOUR windows at 12 h (the documented cap, the simulator's default) and one that
allows 24 h (``subdaily_cap_hours=24``, what fleet clients report of the live API).
The simulator runs in process (the figures are counts, not speeds).

Each sweep is planned and run twice on one client:

* **cold**: nothing learned yet. The plan's price is a range (every unprobed cap
  accepted .. refused); the first window of each endpoint family is the probe, and
  on the 12 h server its refusal is the one credit lost per family and resolution.
* **warm**: the same sweep again, caps learned: the price is exact.

"Fewest possible calls" is computed here from the server's true cap alone: the
fewest windows on the bucket grid, each within the cap in elapsed time (no DST
margin), per site. T2 asks charged ÷ price = 1.00 and price ÷ fewest = 1.00.

Run: ``python benchmarks/bench_credits.py [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ZONE_NAME: Final = "Europe/Berlin"
ZONE: Final = ZoneInfo(ZONE_NAME)
NOW: Final = datetime(2026, 5, 12, 14, 37, 12, tzinfo=UTC)
SPANS: Final = {
    "day": (date(2026, 5, 11), date(2026, 5, 11)),
    "week": (date(2026, 5, 4), date(2026, 5, 10)),
    "year": (date(2025, 1, 1), date(2025, 12, 31)),
}
TARGETS: Final = {"energy": "energy", "telemetry": "inverter_telemetry"}
SERVERS: Final = {"12h": 12, "24h": 24}

#: Row labels for the benchmark table (``run.py``), by result name.
LABELS: Final = {
    f"{what}_{span}_{server}": (
        f"a {span} of quarter-hour {'energy' if what == 'energy' else 'inverter telemetry'}, "
        f"{server} server"
    )
    for what in TARGETS
    for span in SPANS
    for server in SERVERS
}


def fewest_calls(first: date, last: date, cap_hours: int) -> int:
    """The fewest windows covering ``first..last`` (site-local days) at the server's cap."""
    from solaredge_async._windows import WindowCaps, resolve_window, split_window  # noqa: PLC0415

    window = resolve_window(first, last, ZONE)
    caps = WindowCaps(quarter_hour=timedelta(hours=cap_hours), dst_margin=timedelta(0))
    return len(split_window(*window, "QUARTER_HOUR", caps, ZONE))


async def _sweep_twice(sites: int, name: str) -> dict[str, float]:
    """Plan and run sweep ``name`` cold, then warm, on one client; count everything."""
    from solaredge_async import SolarEdgeClient  # noqa: PLC0415
    from solaredge_async.fleet import ItemSucceeded, SweepSpec, plan_sweep, sweep  # noqa: PLC0415
    from solaredge_async.testing import FleetSpec, Simulator, SimulatorConfig  # noqa: PLC0415

    what, span, server = name.split("_")
    first, last = SPANS[span]
    sim = Simulator(
        SimulatorConfig(
            fleet=FleetSpec(sites=sites, zones=(ZONE_NAME,)),
            now=NOW,
            requests_per_minute=None,
            monthly_credits=None,
            subdaily_cap_hours=SERVERS[server],  # type: ignore[arg-type]
        )
    )
    ids = list(sim.fleet.sites_for(sim.api_key))
    out: dict[str, float] = {}
    async with SolarEdgeClient(
        api_key=sim.api_key,
        transport=sim.transport(),
        base_url=sim.base_url,
        requests_per_minute=None,
        monthly_credits=0,
        max_concurrency=8,
        site_timezones=dict.fromkeys(ids, ZONE_NAME),
    ) as client:
        spec = SweepSpec(what={TARGETS[what]}, start=first, end=last, site_ids=ids)
        for run in ("cold", "warm"):
            before = sim.ledger(sim.api_key).credits
            plan = await plan_sweep(client, spec, now=NOW)
            async with sweep(client, plan, concurrency=16) as results:
                ok = sum([isinstance(r, ItemSucceeded) async for r in results])
            if ok != len(plan):
                raise RuntimeError(f"{name}: {len(plan) - ok} items did not succeed")
            spent = sim.ledger(sim.api_key).credits - before
            out[f"{run}_spent"] = float(spent)
            out[f"{run}_price"] = float(plan.credits + plan.discovery_credits)
            out[f"{run}_price_max"] = float(plan.credits_max + plan.discovery_credits)
    return out


def run(*, quick: bool = False) -> dict[str, float]:
    """Credits charged, plan price and fewest calls of each sweep, cold and warm."""
    import anyio  # noqa: PLC0415

    sites = 2 if quick else 5
    results: dict[str, float] = {"credits_sites": float(sites)}
    for name in LABELS:
        _what, span, server = name.split("_")
        figures = anyio.run(_sweep_twice, sites, name)
        fewest = sites * fewest_calls(*SPANS[span], SERVERS[server])
        key = f"credits_{name}"
        results[f"{key}_minimum"] = float(fewest)
        for field, value in figures.items():
            results[f"{key}_{field}"] = value
        # The T2 figures: the warm run (caps learned), as run.py reads them.
        results[f"{key}_spent"] = figures["warm_spent"]
        results[f"{key}_price"] = figures["warm_price"]
        results[f"{key}_spent_over_price"] = figures["warm_spent"] / figures["warm_price"]
        results[f"{key}_price_over_minimum"] = figures["warm_price"] / fewest
        results[f"{key}_cold_spent_over_minimum"] = figures["cold_spent"] / fewest
    return results


def table(results: dict[str, float]) -> str:
    """The T2 table as Markdown."""
    sites = int(results["credits_sites"])
    head = (
        f"| sweep ({sites} sites) | fewest | cold: price range | cold: charged "
        "| warm: price | warm: charged | charged ÷ price | price ÷ fewest |"
    )
    lines = [
        head,
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, label in LABELS.items():
        k = f"credits_{name}"
        lines.append(
            f"| {label} | {results[f'{k}_minimum']:.0f} "
            f"| {results[f'{k}_cold_price']:.0f}..{results[f'{k}_cold_price_max']:.0f} "
            f"| {results[f'{k}_cold_spent']:.0f} | {results[f'{k}_warm_price']:.0f} "
            f"| {results[f'{k}_warm_spent']:.0f} | {results[f'{k}_spent_over_price']:.2f} "
            f"| {results[f'{k}_price_over_minimum']:.2f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    a = ap.parse_args()
    figures = run(quick=a.quick)
    print(json.dumps(figures, indent=2) if a.json else table(figures))
