"""T9: a fleet-day sweep against a raw asyncio client doing the same requests and parsing.

The simulator (its own process, limits off) serves a 10,000-site fleet. The sweep is
``SweepSpec(what={"overview", "inverter_telemetry"}, start=2026-05-10,
end=2026-05-11)``: per site one overview call for the window and four
inverter-telemetry calls (the plan splits the 48 h at the 12 h QUARTER_HOUR cap), the
1 + 4 requests per site of target T9 (50,000 calls in all). Every contender gets 10
requests in flight:

* ``sweep``: `plan_sweep` + `sweep` on `SolarEdgeClient` over httpx's own transport
  (one httpcore pool: the first release);
* ``sweep_fast``: the same client as shipped (its default transport, `FastTransport`);
* ``sweep_pools``: the same client over `PoolsTransport` (the default without httptools);
* ``sweep_aiohttp``: the same client over `AiohttpTransport`;
* ``raw``: 10 asyncio stream connections sending the plan's exact requests and parsing
  each body with the library's own decoder and `ResponseParser` (the floor).

A whole sweep per contender per round would take minutes, so each contender runs the
same sweep for a fixed time per round (contenders interleaved, the order rotated each
round) and the rate is items completed ÷ seconds; figures are medians over rounds.

Run: ``python benchmarks/bench_fleet.py [--quick]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

import _sweeps
from _common import API_KEY, NOW, SimServer, Stopwatch, median
from bench_request_path import read_response

if TYPE_CHECKING:
    from solaredge_async.fleet import WorkItem

SITES = 10_000
CONCURRENCY = 10
#: The documented cap of a quarter-hour telemetry window (the raw client splits by it).
TELEMETRY_CAP = timedelta(hours=12)
FIRST, LAST = date(2026, 5, 10), date(2026, 5, 11)
CONTENDERS = ("sweep", "sweep_fast", "sweep_pools", "sweep_aiohttp", "raw")


def _spec() -> object:
    from solaredge_async.fleet import SweepSpec  # noqa: PLC0415

    return SweepSpec(what={"overview", "inverter_telemetry"}, start=FIRST, end=LAST)


def _client(server: SimServer, name: str) -> object:
    import httpx  # noqa: PLC0415

    from solaredge_async import SolarEdgeClient  # noqa: PLC0415

    transport: object = None  # "sweep_fast": the client's default, FastTransport
    if name == "sweep_pools":
        from solaredge_async.transports._pools import PoolsTransport  # noqa: PLC0415

        transport = PoolsTransport.for_concurrency(CONCURRENCY)
    elif name == "sweep":
        transport = httpx.AsyncHTTPTransport(
            limits=httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
        )
    elif name == "sweep_aiohttp":
        from solaredge_async.transports._aiohttp import AiohttpTransport  # noqa: PLC0415

        transport = AiohttpTransport(max_connections=CONCURRENCY)
    return SolarEdgeClient(
        api_key=API_KEY,
        base_url=server.base_url,
        requests_per_minute=None,
        monthly_credits=0,  # the benchmark's fleets spend more than the free tier
        probe_caps=False,  # the documented caps: the raw client splits at them too
        max_concurrency=CONCURRENCY,
        transport=transport,  # type: ignore[arg-type]
    )


async def _plan(server: SimServer) -> object:
    from solaredge_async import SolarEdgeClient  # noqa: PLC0415
    from solaredge_async.fleet import SweepSpec, plan_sweep  # noqa: PLC0415

    client = _client(server, "sweep")
    assert isinstance(client, SolarEdgeClient)
    spec = _spec()
    assert isinstance(spec, SweepSpec)
    async with client:
        return await plan_sweep(client, spec, now=datetime.fromisoformat(NOW))


async def _sweep(server: SimServer, name: str, plan: object, seconds: float) -> tuple[int, float]:
    client = _client(server, name)
    async with client:  # type: ignore[attr-defined]
        deadline = time.perf_counter() + seconds
        outcome = await _sweeps.fleet_sweep(client, plan, deadline=deadline)
    if outcome.failures:
        raise RuntimeError(f"{name}: {outcome.failed}")
    return outcome.done, outcome.seconds


async def _raw(server: SimServer, plan: object, seconds: float) -> tuple[int, float]:
    from solaredge_async.converters import ResponseParser, decode_json  # noqa: PLC0415

    parser = ResponseParser(strict=False)
    host = f"{server.host}:{server.port}"
    prefix = server.prefix
    items = iter(plan)  # type: ignore[call-overload]
    done = 0
    deadline = time.perf_counter() + seconds

    def requests(item: WorkItem) -> tuple[list[bytes], str]:
        """The item's requests: telemetry in pieces of the documented 12 h cap."""
        path = (
            f"/sites/{item.site_id}/overview"
            if item.kind == "overview"
            else f"/sites/{item.site_id}/inverters/telemetry"
        )
        assert item.start is not None
        assert item.end is not None
        step = item.end - item.start if item.kind == "overview" else TELEMETRY_CAP
        heads = []
        start = item.start
        while start < item.end:
            end = min(start + step, item.end)
            query = (
                f"from={start.replace(tzinfo=None).isoformat()}"
                f"&to={end.replace(tzinfo=None).isoformat()}"
            )
            if item.resolution is not None:
                query += f"&resolution={item.resolution}"
            heads.append(
                (
                    f"GET {prefix}{path}?{query} HTTP/1.1\r\nHost: {host}\r\n"
                    f"X-API-Key: {API_KEY}\r\nAccept: application/json\r\n\r\n"
                ).encode()
            )
            start = end
        return heads, path

    async def worker() -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection(server.host, server.port)
        try:
            for item in items:
                if time.perf_counter() >= deadline:
                    return
                heads, path = requests(item)
                for data in heads:
                    writer.write(data)
                    status, body = await read_response(reader)
                    if status != 200:
                        raise RuntimeError(f"raw: status {status} for {path}")
                    decoded = decode_json(body, path)
                    if item.kind == "overview":
                        parser.overview(decoded, path)
                    else:
                        parser.telemetry(decoded, path, "inverters")
                done += 1
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return done, time.perf_counter() - start


def run(*, quick: bool = False) -> dict[str, float]:
    """Items/s of each contender and each client's ratio to the raw floor (``t9_*``)."""
    rounds = 1 if quick else 3
    seconds = 1.5 if quick else 5.0
    sites = 1_000 if quick else SITES
    samples: dict[str, list[tuple[float, float]]] = {n: [] for n in CONTENDERS}
    with SimServer(sites=sites) as server:
        plan = asyncio.run(_plan(server))
        for name in CONTENDERS:  # warm-up: connections, the simulator's day caches
            _measure(server, name, plan, 0.5)
        for r in range(rounds):
            order = CONTENDERS[r % len(CONTENDERS) :] + CONTENDERS[: r % len(CONTENDERS)]
            for name in order:
                samples[name].append(_measure(server, name, plan, seconds))
    results: dict[str, float] = {"t9_sites": float(sites), "t9_items": float(len(plan))}  # type: ignore[arg-type]
    results["t9_items_per_site"] = results["t9_items"] / sites
    for name, values in samples.items():
        results[f"t9_rps_{name}"] = median([v[0] for v in values])
        results[f"t9_cpu_us_{name}"] = median([v[1] for v in values])
    floor = results["t9_rps_raw"]
    for name in CONTENDERS[:-1]:
        results[f"t9_ratio_{name}"] = results[f"t9_rps_{name}"] / floor
    return results


def _measure(server: SimServer, name: str, plan: object, seconds: float) -> tuple[float, float]:
    with Stopwatch() as watch:
        if name == "raw":
            done, elapsed = asyncio.run(_raw(server, plan, seconds))
        else:
            done, elapsed = asyncio.run(_sweep(server, name, plan, seconds))
    return done / elapsed, watch.cpu / max(done, 1) * 1e6


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    print(json.dumps(run(quick=a.quick), indent=2))
