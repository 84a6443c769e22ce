"""Store benchmark: rows per second upserted into SQLite and PostgreSQL.

Run ``python benchmarks/bench_store.py [--sites 1000] [--days 7] [--rounds 3]
[--json out.json]``. For a fleet's week of quarter-hour rows (sites x 96 x days x
metrics), committed in batches of ``--batch-sites`` sites with one watermark per site,
it reports the median rows per second (and the spread over rounds) of

* ``first``: the first insert into an empty store;
* ``again``: re-upserting the same rows unchanged (what a settle-delay re-fetch does).

Dialects alternate within each round (SQLite first in odd rounds, PostgreSQL first in
even ones) so a busy machine penalises both alike. Only the time inside
`Store.commit_batch` counts; building the rows does not.

``--driver`` also measures how psycopg is best driven from anyio: its
``AsyncConnection`` (asyncio only: it waits through ``loop.add_reader``) against its
blocking connection in a worker thread on asyncio and on trio, for round trips
(``SELECT 1``) and for a 10,000-row ``COPY``.

PostgreSQL is ``$SOLAREDGE_TEST_POSTGRES_URL`` or a throwaway server started like the
tests do (``tests/_postgres.py``); without one, only SQLite is measured.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import anyio
import anyio.to_thread

from solaredge_async.store import ItemKey, MeasurementRow, WatermarkAdvance, open_store
from tests import _postgres

T0 = datetime(2026, 5, 4, tzinfo=UTC)
METRICS = (("energy", "Wh"), ("power", "W"), ("voltage", "V"), ("frequency", "Hz"))


def batch_rows(first_site: int, sites: int, days: int, metrics: int) -> list[MeasurementRow]:
    out = []
    quarter = timedelta(minutes=15)
    stamps = [T0 + quarter * i for i in range(96 * days)]
    for site in range(first_site, first_site + sites):
        for metric, unit in METRICS[:metrics]:
            for i, start in enumerate(stamps):
                out.append(
                    MeasurementRow(
                        site_id=site,
                        device_serial="",
                        source="site_energy" if metric == "energy" else "site_power",
                        metric=metric,
                        resolution="QUARTER_OF_AN_HOUR",
                        period_start=start,
                        period_end=start + quarter,
                        value=float((site * 7 + i) % 1000),
                        unit=unit,
                    )
                )
    return out


async def one_pass(url: str, args: argparse.Namespace) -> tuple[float, int]:
    """Commit the whole fleet once; return (seconds inside commit_batch, rows)."""
    spent = 0.0
    total = 0
    until = T0 + timedelta(days=args.days)
    async with open_store(url) as store:
        for first in range(1, args.sites + 1, args.batch_sites):
            count = min(args.batch_sites, args.sites + 1 - first)
            rows = batch_rows(first, count, args.days, args.metrics)
            marks = [
                WatermarkAdvance(
                    item=ItemKey(site_id=s, target="site_energy", resolution="QUARTER_OF_AN_HOUR"),
                    complete_until=until,
                )
                for s in range(first, first + count)
            ]
            t0 = time.perf_counter()
            await store.commit_batch(rows, watermarks=marks)
            spent += time.perf_counter() - t0
            total += len(rows)
    return spent, total


def fresh_url(dialect: str, workdir: Path, server: str | None, n: int) -> str:
    if dialect == "sqlite":
        return f"sqlite:///{workdir / f'bench{n}.db'}"
    assert server is not None
    return _postgres.fresh_schema_url(server)


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):>10,.0f}  [{min(values):,.0f} .. {max(values):,.0f}]"


def bench_upserts(
    args: argparse.Namespace, server: str | None
) -> dict[str, dict[str, list[float]]]:
    dialects = ["sqlite"] + (["postgresql"] if server else [])
    results: dict[str, dict[str, list[float]]] = {d: {"first": [], "again": []} for d in dialects}
    with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
        workdir = Path(tmp)
        n = 0
        for round_no in range(args.rounds):
            order = dialects if round_no % 2 == 0 else dialects[::-1]
            for dialect in order:
                n += 1
                url = fresh_url(dialect, workdir, server, n)
                for phase in ("first", "again"):
                    spent, rows = anyio.run(one_pass, url, args)
                    results[dialect][phase].append(rows / spent)
                    print(
                        f"round {round_no + 1} {dialect:10} {phase:5}: {rows:,} rows "
                        f"in {spent:.2f} s = {rows / spent:,.0f} rows/s",
                        flush=True,
                    )
    return results


async def _driver_threads(
    url: str, queries: int, rows: list[tuple[object, ...]]
) -> tuple[float, float]:
    import psycopg  # noqa: PLC0415 - the extra is optional

    conn = await anyio.to_thread.run_sync(lambda: psycopg.connect(url, autocommit=True))
    try:
        limiter = anyio.CapacityLimiter(1)
        t0 = time.perf_counter()
        for _ in range(queries):
            await anyio.to_thread.run_sync(
                lambda: conn.execute("SELECT 1").fetchone(), limiter=limiter
            )
        trip = (time.perf_counter() - t0) / queries

        def copy() -> None:
            with conn.transaction(), conn.cursor() as cur:
                cur.execute("CREATE TEMP TABLE IF NOT EXISTS b (a int, b text, c float8)")
                with cur.copy("COPY b FROM STDIN") as cp:
                    for row in rows:
                        cp.write_row(row)
                cur.execute("TRUNCATE b")

        t0 = time.perf_counter()
        await anyio.to_thread.run_sync(copy, limiter=limiter)
        return trip, time.perf_counter() - t0
    finally:
        conn.close()


async def _driver_async(
    url: str, queries: int, rows: list[tuple[object, ...]]
) -> tuple[float, float]:
    import psycopg  # noqa: PLC0415 - the extra is optional

    conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
    try:
        t0 = time.perf_counter()
        for _ in range(queries):
            await (await conn.execute("SELECT 1")).fetchone()
        trip = (time.perf_counter() - t0) / queries
        t0 = time.perf_counter()
        async with conn.transaction(), conn.cursor() as cur:
            await cur.execute("CREATE TEMP TABLE IF NOT EXISTS b (a int, b text, c float8)")
            async with cur.copy("COPY b FROM STDIN") as cp:
                for row in rows:
                    await cp.write_row(row)
            await cur.execute("TRUNCATE b")
        return trip, time.perf_counter() - t0
    finally:
        await conn.close()


def bench_driver(server: str, rounds: int) -> dict[str, dict[str, list[float]]]:
    rows: list[tuple[object, ...]] = [(i, f"s{i}", i * 0.5) for i in range(10_000)]
    variants = {
        "async-asyncio": (_driver_async, "asyncio"),
        "thread-asyncio": (_driver_threads, "asyncio"),
        "thread-trio": (_driver_threads, "trio"),
    }
    out: dict[str, dict[str, list[float]]] = {
        k: {"trip_us": [], "copy_rows_s": []} for k in variants
    }
    for round_no in range(rounds):
        names = list(variants) if round_no % 2 == 0 else list(variants)[::-1]
        for name in names:
            func, backend = variants[name]
            trip, copy = anyio.run(func, server, 2000, rows, backend=backend)
            out[name]["trip_us"].append(trip * 1e6)
            out[name]["copy_rows_s"].append(len(rows) / copy)
    try:
        anyio.run(_driver_async, server, 1, rows[:1], backend="trio")
    except Exception as exc:
        print(f"psycopg AsyncConnection on trio fails: {type(exc).__name__}: {exc}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--metrics", type=int, default=2, choices=range(1, 5))
    parser.add_argument("--batch-sites", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--driver", action="store_true", help="also compare psycopg drivers")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    # SIGTERM unwinds like Ctrl-C, so a throwaway server is stopped on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(_postgres.postgres_server())
        if server is None:
            print("no PostgreSQL server: measuring SQLite only")
        rows = args.sites * 96 * args.days * args.metrics
        print(
            f"{args.sites} sites x {args.days} days x 96 quarter-hours x {args.metrics} metrics "
            f"= {rows:,} rows, batches of {args.batch_sites} sites, {args.rounds} rounds"
        )
        results = bench_upserts(args, server)
        report: dict[str, object] = {"rows": rows, "upserts": results}
        print("\nrows per second: median  [min .. max]")
        for dialect, phases in results.items():
            for phase, values in phases.items():
                print(f"  {dialect:10} {phase:5} {spread(values)}")
        if args.driver and server:
            driver = bench_driver(server, args.rounds)
            report["driver"] = driver
            print("\npsycopg from anyio: median  [min .. max]")
            for name, figures in driver.items():
                print(f"  {name:15} round trip µs {spread(figures['trip_us'])}")
                print(f"  {name:15} COPY rows/s   {spread(figures['copy_rows_s'])}")
        if args.json:
            args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
