"""Credits: what standard sweeps cost, against the plan's price and the least possible.

Three standard sweeps over a fleet of Europe/Berlin sites (the simulator in its own
process, the documented span caps enforced, limits off):

* ``energy_day``: a day (2026-05-11) of quarter-hour energy for every site;
* ``telemetry_day``: a day of quarter-hour inverter telemetry for every site (the bulk
  endpoint: one call covers every inverter of the site);
* ``energy_year``: a year (2025) of daily energy for every site;
* ``energy_year_31d``: the same, the client's DAY cap set to 31 days (its default is
  28, the conservative reading of the documented "1 month").

For each: the credits the simulator charged, the plan's price (`plan_sweep`: its items
plus the discovery it spent listing the sites; without `solaredge_async.fleet` the
client is driven directly and there is no price), and the least number of calls that can return the
data, computed here from the simulator's caps alone (12 h at QUARTER_HOUR, 31 days at
DAY, measured in elapsed time; one ``/sites`` page per 1,000 sites for the time zones).

Run: ``python benchmarks/bench_credits.py [--quick]``.
"""

from __future__ import annotations

import argparse
import json
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import _sweeps
from _common import API_KEY, NOW, SimServer

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

ZONE = ZoneInfo("Europe/Berlin")
DAY = date(2026, 5, 11)
YEAR = (date(2025, 1, 1), date(2025, 12, 31))
#: The simulator's caps (its defaults; "1 month" read as 31 days), elapsed time.
CAPS = {"QUARTER_HOUR": timedelta(hours=12), "DAY": timedelta(days=31)}
STEPS = {"QUARTER_HOUR": timedelta(minutes=15), "DAY": timedelta(days=1)}

SWEEPS: dict[str, tuple[str, date, date, str]] = {
    # name: (what, first day, last day (inclusive), resolution)
    "energy_day": ("energy", DAY, DAY, "QUARTER_HOUR"),
    "telemetry_day": ("inverter_telemetry", DAY, DAY, "QUARTER_HOUR"),
    "energy_year": ("energy", YEAR[0], YEAR[1], "DAY"),
    # The same with the client's DAY cap at the simulator's 31 days (default: 28).
    "energy_year_31d": ("energy", YEAR[0], YEAR[1], "DAY"),
}


def _caps(name: str) -> dict[str, object]:
    """Client keyword arguments of sweep ``name`` (the window caps it runs with)."""
    if not name.endswith("_31d"):
        return {}
    from solaredge_async import WindowCaps  # noqa: PLC0415

    return {"window_caps": WindowCaps(day=timedelta(days=31))}


def min_windows(first: date, last: date, resolution: str) -> int:
    """The fewest windows tiling ``first..last`` (site-local days) within the cap.

    Windows end on the bucket grid (local quarter hours or midnights); each may span
    at most the cap in elapsed time. Greedy from the start, longest window first,
    which is optimal for covering an interval.
    """
    cap, step = CAPS[resolution], STEPS[resolution]
    pos = datetime.combine(first, datetime.min.time())
    end = datetime.combine(last + timedelta(days=1), datetime.min.time())
    count = 0
    while pos < end:
        nxt = pos
        while nxt < end:
            candidate = nxt + step
            span = candidate.replace(tzinfo=ZONE) - pos.replace(tzinfo=ZONE)
            if span > cap:
                break
            nxt = candidate
        if nxt == pos:
            raise ValueError("a cap shorter than one bucket")
        pos = nxt
        count += 1
    return count


def minimum_calls(sites: int, name: str) -> int:
    """Least calls for sweep ``name`` over ``sites`` sites, time-zone lookups included."""
    _what, first, last, resolution = SWEEPS[name]
    return -(-sites // 1000) + sites * min_windows(first, last, resolution)


async def _fleet(base_url: str, name: str) -> tuple[int, int, int]:
    """Plan and run sweep ``name``; return (plan price, discovery credits, client count)."""
    from solaredge_async import SolarEdgeClient  # noqa: PLC0415
    from solaredge_async.fleet import SweepSpec, plan_sweep  # noqa: PLC0415

    what, first, last, resolution = SWEEPS[name]
    async with SolarEdgeClient(
        api_key=API_KEY,
        base_url=base_url,
        requests_per_minute=None,
        max_concurrency=10,
        **_caps(name),  # type: ignore[arg-type]
    ) as client:
        spec = SweepSpec(what={what}, start=first, end=last, resolution=resolution)
        plan = await plan_sweep(client, spec, now=datetime.fromisoformat(NOW))
        outcome = await _sweeps.fleet_sweep(client, plan)
        if outcome.failures:
            raise RuntimeError(f"{name}: failed items {outcome.failed}")
        return plan.credits, plan.discovery_credits, client.usage.credits


async def _direct(base_url: str, name: str) -> tuple[int, int, int]:
    """Without `solaredge_async.fleet`: the client directly; no plan, so no price."""
    from solaredge_async import SolarEdgeClient  # noqa: PLC0415

    what, first, last, resolution = SWEEPS[name]
    async with SolarEdgeClient(
        api_key=API_KEY,
        base_url=base_url,
        requests_per_minute=None,
        max_concurrency=10,
        **_caps(name),  # type: ignore[arg-type]
    ) as client:
        ids = [site.site_id async for site in client.sites()]
        discovery = client.usage.credits

        def call(site: int) -> Callable[[], Awaitable[object]]:
            if what == "energy":
                return lambda: client.site_energy(
                    site, start=first, end=last, resolution=resolution
                )
            return lambda: client.inverter_telemetry(
                site, start=first, end=last, resolution=resolution
            )

        outcome = await _sweeps.drive([call(s) for s in ids], 10)
        if outcome.failures:
            raise RuntimeError(f"{name}: failed calls {outcome.failed}")
        return -1, discovery, client.usage.credits


def run(*, quick: bool = False) -> dict[str, float]:
    """Credits spent, plan price and minimum for each standard sweep, and their ratios."""
    import anyio  # noqa: PLC0415

    sites = 20 if quick else 100
    fleet = _sweeps.fleet_available()
    results: dict[str, float] = {"credits_sites": float(sites), "credits_mode_fleet": float(fleet)}
    with SimServer(sites=sites) as server:
        for name in SWEEPS:
            server.reset()
            price, discovery, client_count = anyio.run(
                _fleet if fleet else _direct, server.base_url, name
            )
            spent = float(server.usage()["credits"])  # type: ignore[arg-type]
            minimum = minimum_calls(sites, name)
            # The price of the data: the sweep's items plus the discovery they need.
            total_price = price + discovery
            results[f"credits_{name}_spent"] = spent
            results[f"credits_{name}_client_count"] = float(client_count)
            results[f"credits_{name}_minimum"] = float(minimum)
            results[f"credits_{name}_spent_over_minimum"] = spent / minimum
            if price >= 0:
                results[f"credits_{name}_price"] = float(total_price)
                results[f"credits_{name}_discovery"] = float(discovery)
                results[f"credits_{name}_spent_over_price"] = spent / total_price
                results[f"credits_{name}_price_over_minimum"] = total_price / minimum
    return results


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    print(json.dumps(run(quick=a.quick), indent=2))
