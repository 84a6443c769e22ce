"""Sync benchmark: rows per second into SQLite and PostgreSQL, re-run credits, peak RSS.

Run ``python benchmarks/bench_sync.py [--sites 1000] [--what energy,power]
[--sizes 100,1000,5000] [--json out.json]``. The simulator runs in process with its
limits off (no per-minute limit, no monthly quota, no latency), frozen at
2026-05-12 14:37 UTC, so the figures are the library's own cost: calls, parsing, row
building and the store's upserts. For each dialect it syncs a fleet's week (the
default ``since``: seven site-local days) and reports

* ``rows_per_s``: rows inserted per second of the whole first run (wall clock,
  calls included) and ``commit_share``, the part of it spent inside commits;
* ``rerun_ratio``: credits of a second sync at the same instant (the settle window
  only) divided by the first run's credits;
* ``peak_rss_mib``: the peak resident set of a fresh process syncing 100, 1,000 and
  5,000 sites into SQLite (one process per size, so the peaks do not mix).

PostgreSQL is ``$SOLAREDGE_TEST_POSTGRES_URL`` or a throwaway server started as the
tests do (``tests/_postgres.py``); without one, only SQLite is measured.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import anyio

from solaredge_async import SolarEdgeClient
from solaredge_async.store import Store, open_store
from solaredge_async.sync import SyncSpec, plan_sync, run_sync
from solaredge_async.testing import FleetSpec, Simulator, SimulatorConfig
from tests import _postgres
from tests.fleet._support import NOW


def _sim(sites: int) -> Simulator:
    return Simulator(
        SimulatorConfig(
            fleet=FleetSpec(sites=sites),
            now=NOW,
            requests_per_minute=None,
            monthly_credits=None,
            record_requests=0,
        )
    )


class _TimedStore:
    """A store whose commit_batch time is summed (delegates everything else)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.commit_seconds = 0.0

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)

    async def commit_batch(self, *args: object, **kwargs: object) -> object:
        t0 = time.perf_counter()
        try:
            return await self._store.commit_batch(*args, **kwargs)  # type: ignore[arg-type]
        finally:
            self.commit_seconds += time.perf_counter() - t0


async def _sync(url: str, sites: int, what: tuple[str, ...]) -> dict[str, float]:
    sim = _sim(sites)
    spec = SyncSpec(what=what)  # type: ignore[arg-type]
    async with (
        SolarEdgeClient(
            api_key=sim.api_key,
            transport=sim.transport(),
            base_url=sim.base_url,
            requests_per_minute=None,
            max_concurrency=16,
        ) as client,
        open_store(url, exclusive=url.startswith("sqlite")) as raw,
    ):
        store = _TimedStore(raw)
        plan = await plan_sync(client, store, spec, now=NOW)  # type: ignore[arg-type]
        t0 = time.perf_counter()
        first = await run_sync(client, store, plan)  # type: ignore[arg-type]
        elapsed = time.perf_counter() - t0
        commit = store.commit_seconds
        again = await plan_sync(client, store, spec, now=NOW)  # type: ignore[arg-type]
        second = await run_sync(client, store, again)  # type: ignore[arg-type]
    return {
        "sites": sites,
        "items": len(plan.items),
        "credits_first": first.credits,
        "credits_second": second.credits,
        "rerun_ratio": round(second.credits / first.credits, 4),
        "rows": first.rows,
        "seconds": round(elapsed, 2),
        "rows_per_s": round(first.rows / elapsed),
        "commit_share": round(commit / elapsed, 3),
        "complete": first.complete and second.complete,
    }


def _rss_child(sites: int, what: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'rss.db'}"
        out = anyio.run(_sync, url, sites, tuple(what.split(",")))
    out["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    sys.stdout.write(json.dumps(out) + "\n")


def _rss(sites: int, what: str) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, __file__, "--rss-child", str(sites), "--what", what],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    """Parse the arguments, run the measurements, print (and optionally save) them."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--what", default="energy,power")
    parser.add_argument("--sizes", default="100,1000,5000")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--rss-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        _rss_child(args.rss_child, args.what)
        return
    what = tuple(args.what.split(","))
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = anyio.run(_sync, f"sqlite:///{Path(tmp) / 'bench.db'}", args.sites, what)
    results["sqlite"] = sqlite
    print("sqlite    ", json.dumps(sqlite))
    with _postgres.postgres_server() as server:
        if server is None:
            print("postgresql: not measured (no server; see tests/_postgres.py)")
        else:
            pg = anyio.run(_sync, _postgres.fresh_schema_url(server), args.sites, what)
            results["postgresql"] = pg
            print("postgresql", json.dumps(pg))
    rss = []
    for size in (int(s) for s in args.sizes.split(",") if s):
        row = _rss(size, args.what)
        rss.append(row)
        print(f"rss {size:>6} sites", json.dumps(row))
    results["rss"] = rss
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
