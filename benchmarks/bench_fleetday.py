"""T10: the side-by-side fleet day, the library's sweep against bare clients (issue 16).

The simulator serves 200 sites from its own process on loopback, limits off. Every
contender makes the same fleet-day requests: per site one overview, the quarter-hour
energy and the inverter telemetry of 2026-05-11 (the plan's own calls; the telemetry day
is two 12 h calls). Contenders, each at 1, 10, 50 and 200 requests in flight:

* ``sweep_fast`` / ``sweep_pools`` / ``sweep_aiohttp``: `plan_sweep` + `sweep` on
  `SolarEdgeClient` (limits off, retries on, every body parsed into records; whole
  sweeps of the plan, back to back, until the measured time is up) over
  `FastTransport` (the default with httptools), `PoolsTransport` and `AiohttpTransport`
  (asyncio only); ``sweep_fast`` and ``sweep_pools`` run under trio as well;
* ``httpx``: bare `httpx.AsyncClient` (pool limits = in flight) + `json.loads`
  (asyncio and trio); ``httpx_fast``: the same over `FastTransport`;
* ``aiohttp``: bare `aiohttp.ClientSession` (connector limit = in flight) + `json.loads`;
* ``raw``: an asyncio streams client, one keep-alive connection per worker, + `json.loads`.

The bare clients fetch the exact URLs the sweep sends (recorded once from a sweep).
Each measurement runs for a fixed time after a short warm-up, in a fresh event loop;
contenders are interleaved and their order rotated each round; figures are the median,
min and max over the rounds. Client CPU is `time.process_time` of this process over the
measured part, divided by the requests completed (the server's CPU is not in it).

Run: ``python benchmarks/bench_fleetday.py [--quick] [--rounds N] [--only a,b] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import _sweeps
from _common import API_KEY, NOW, SimServer, Stopwatch, median
from bench_request_path import read_response

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

SITES = 200
DAY = date(2026, 5, 11)
CONCURRENCY = (1, 10, 50, 200)
#: (backend, contender) pairs, in the table's order.
CONTENDERS: tuple[tuple[str, str], ...] = (
    ("asyncio", "sweep_fast"),
    ("asyncio", "sweep_pools"),
    ("asyncio", "sweep_aiohttp"),
    ("asyncio", "httpx"),
    ("asyncio", "httpx_fast"),
    ("asyncio", "aiohttp"),
    ("asyncio", "raw"),
    ("trio", "sweep_fast"),
    ("trio", "sweep_pools"),
    ("trio", "httpx"),
    ("trio", "httpx_fast"),
)
#: Failed items per (contender, concurrency), over the whole run.
FAILURES: dict[tuple[str, int], int] = {}
HEADERS = {"User-Agent": "bench", "Accept": "application/json", "X-API-Key": API_KEY}


def _transport(name: str, concurrency: int) -> object:
    if name == "sweep_pools":
        from solaredge_async.transports._pools import PoolsTransport  # noqa: PLC0415

        return PoolsTransport.for_concurrency(concurrency)
    if name == "sweep_aiohttp":
        from solaredge_async.transports._aiohttp import AiohttpTransport  # noqa: PLC0415

        return AiohttpTransport(max_connections=concurrency)
    from solaredge_async.transports._fast import FastTransport  # noqa: PLC0415

    return FastTransport(max_connections=concurrency)


def _client(server: SimServer, transport: object, concurrency: int) -> Any:
    from solaredge_async import SolarEdgeClient  # noqa: PLC0415

    return SolarEdgeClient(
        api_key=API_KEY,
        base_url=server.base_url,
        requests_per_minute=None,
        monthly_credits=0,  # no budget: limits off, as for the bare clients
        probe_caps=False,  # the documented caps: every contender sends the same calls
        max_concurrency=concurrency,
        transport=transport,  # type: ignore[arg-type]
        site_timezones=None,
    )


async def _plan_and_urls(server: SimServer) -> tuple[object, list[str]]:
    """The sweep plan and the URL of every call it makes (recorded from one sweep)."""
    import httpx  # noqa: PLC0415

    from solaredge_async.fleet import SweepSpec, plan_sweep  # noqa: PLC0415

    urls: list[str] = []
    inner = _transport("sweep_fast", 10)

    class Recording(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            urls.append(str(request.url))
            return await inner.handle_async_request(request)  # type: ignore[attr-defined]

        async def aclose(self) -> None:
            await inner.aclose()  # type: ignore[attr-defined]

    spec = SweepSpec(what={"overview", "energy", "inverter_telemetry"}, start=DAY, end=DAY)
    async with _client(server, Recording(), 10) as client:
        plan = await plan_sweep(client, spec, now=datetime.fromisoformat(NOW))
        urls.clear()  # the plan's own look-ups (time zones) are not fleet-day calls
        outcome = await _sweeps.fleet_sweep(client, plan)
    if outcome.failures:
        raise RuntimeError(f"recording sweep failed: {outcome.failed}")
    return plan, urls


# --- contenders: each returns (requests done, wall seconds, cpu seconds) -----------------


async def _sweep(  # noqa: PLR0917
    server: SimServer, name: str, plan: object, c: int, warmup: float, seconds: float
) -> tuple[int, float, float]:
    async with _client(server, _transport(name, c), c) as client:
        await _sweeps.fleet_sweep(client, plan, deadline=time.perf_counter() + warmup)
        # Requests sent, read from the client's own counters: a request hook would add
        # its cost to the library's side only.
        sent = client.usage.credits
        # Whole sweeps, back to back, until the time is up: a sweep cut at the deadline
        # would cancel up to 2 x ``c`` items already sent (their CPU counted, their
        # answers not), while the bare clients finish the requests they started.
        deadline = time.perf_counter() + seconds
        failures: dict[str, int] = {}
        with Stopwatch() as watch:
            while time.perf_counter() < deadline:
                outcome = await _sweeps.fleet_sweep(client, plan)
                for error, count in outcome.failed.items():
                    failures[error] = failures.get(error, 0) + count
    outcome.failed = failures
    if outcome.failures:
        # Reported, not fatal: a shared machine can stall a loopback server past a
        # timeout now and then; the count goes into the results.
        print(f"[fleetday] {name} at {c} in flight: failures {outcome.failed}", file=sys.stderr)
        FAILURES[name, c] = FAILURES.get((name, c), 0) + outcome.failures
    # Requests sent (an item may take several: the telemetry day is two calls); a
    # failed one is counted in FAILURES and reported.
    return client.usage.credits - sent, watch.wall, watch.cpu


async def _workers(
    c: int, warmup: float, seconds: float, one: Callable[[int], Any]
) -> tuple[int, float, float]:
    """``c`` workers calling ``one(i)`` (i = 0, 1, ... shared) until the deadline."""
    import anyio  # noqa: PLC0415

    counter = [0]

    async def run(deadline: float) -> None:
        perf = time.perf_counter
        while perf() < deadline:
            i = counter[0]
            counter[0] = i + 1
            await one(i)

    async def phase(duration: float) -> None:
        deadline = time.perf_counter() + duration
        async with anyio.create_task_group() as tg:
            for _ in range(c):
                tg.start_soon(run, deadline)

    await phase(warmup)
    counter[0] = 0
    with Stopwatch() as watch:
        await phase(seconds)
    return counter[0], watch.wall, watch.cpu


async def _httpx(
    urls: Sequence[str], c: int, warmup: float, seconds: float, *, fast: bool = False
) -> Any:
    import httpx  # noqa: PLC0415

    k = len(urls)
    async with httpx.AsyncClient(
        transport=_transport("sweep_fast", c) if fast else None,  # type: ignore[arg-type]
        limits=httpx.Limits(max_connections=c, max_keepalive_connections=c),
        headers=HEADERS,
        timeout=30.0,
        trust_env=False,
    ) as http:

        async def one(i: int) -> None:
            response = await http.get(urls[i % k])
            if response.status_code != 200:
                raise RuntimeError(f"httpx: status {response.status_code}")
            json.loads(response.content)

        return await _workers(c, warmup, seconds, one)


async def _aiohttp(urls: Sequence[str], c: int, warmup: float, seconds: float) -> Any:
    import aiohttp  # noqa: PLC0415

    k = len(urls)
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=c), headers=HEADERS
    ) as session:

        async def one(i: int) -> None:
            async with session.get(urls[i % k]) as response:
                body = await response.read()
                if response.status != 200:
                    raise RuntimeError(f"aiohttp: status {response.status}")
            json.loads(body)

        return await _workers(c, warmup, seconds, one)


async def _raw(
    server: SimServer, urls: Sequence[str], c: int, warmup: float, seconds: float
) -> Any:
    host = f"{server.host}:{server.port}"
    heads = []
    for url in urls:
        parts = urlsplit(url)
        target = parts.path + ("?" + parts.query if parts.query else "")
        heads.append(
            (
                f"GET {target} HTTP/1.1\r\nHost: {host}\r\nX-API-Key: {API_KEY}\r\n"
                "Accept: application/json\r\n\r\n"
            ).encode()
        )
    k = len(heads)
    free: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    opened: list[asyncio.StreamWriter] = []

    async def one(i: int) -> None:
        if free:
            conn = free.pop()
        else:
            conn = await asyncio.open_connection(server.host, server.port)
            opened.append(conn[1])
        reader, writer = conn
        writer.write(heads[i % k])
        status, body = await read_response(reader)
        if status != 200:
            raise RuntimeError(f"raw: status {status}")
        free.append(conn)
        json.loads(body)

    try:
        return await _workers(c, warmup, seconds, one)
    finally:
        for writer in opened:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


def _measure(  # noqa: PLR0917
    server: SimServer,
    backend: str,
    name: str,
    plan: object,
    urls: Sequence[str],
    c: int,
    warmup: float,
    seconds: float,
) -> tuple[float, float]:
    """(requests/s, client CPU µs per request) of one contender, in a fresh event loop."""
    import anyio  # noqa: PLC0415

    async def main() -> Any:
        if name.startswith("sweep"):
            return await _sweep(server, name, plan, c, warmup, seconds)
        if name.startswith("httpx"):
            return await _httpx(urls, c, warmup, seconds, fast=name == "httpx_fast")
        if name == "aiohttp":
            return await _aiohttp(urls, c, warmup, seconds)
        return await _raw(server, urls, c, warmup, seconds)

    done, wall, cpu = anyio.run(main, backend=backend)
    return done / wall, cpu / max(done, 1) * 1e6


def _available(only: Sequence[str] = ()) -> list[tuple[str, str]]:
    import importlib.util  # noqa: PLC0415

    out = []
    for backend, name in CONTENDERS:
        if only and f"{backend}:{name}" not in only and name not in only:
            continue
        if "aiohttp" in name and importlib.util.find_spec("aiohttp") is None:
            continue
        if backend == "trio" and importlib.util.find_spec("trio") is None:
            continue
        if name.endswith("_fast") and importlib.util.find_spec("httptools") is None:
            continue
        out.append((backend, name))
    return out


def run(
    *,
    quick: bool = False,
    rounds: int | None = None,
    seconds: float | None = None,
    concurrency: Sequence[int] = CONCURRENCY,
    only: Sequence[str] = (),
) -> dict[str, float]:
    """Measure; keys ``t10_rps_<backend>_<name>_<c>`` (+ ``_min``/``_max``), ``t10_cpu_us_...``.

    Also ``t10_ratio_<backend>_<name>_<c>``: the median req/s over plain aiohttp's
    (asyncio) median at the same concurrency. ``only``: contenders to run (``name`` or
    ``backend:name``; all when empty), for quick comparisons while working.
    """
    rounds = rounds or (1 if quick else 5)
    seconds = seconds or (0.4 if quick else 1.0)
    warmup = 0.1 if quick else 0.25
    pairs = _available(only)
    samples: dict[tuple[str, str, int], list[tuple[float, float]]] = {}
    with SimServer(sites=SITES) as server:
        plan, urls = asyncio.run(_plan_and_urls(server))
        for r in range(rounds):
            order = pairs[r % len(pairs) :] + pairs[: r % len(pairs)]
            for c in concurrency:
                for backend, name in order:
                    value = _measure(server, backend, name, plan, urls, c, warmup, seconds)
                    samples.setdefault((backend, name, c), []).append(value)
    results: dict[str, float] = {"t10_sites": float(SITES), "t10_requests": float(len(urls))}
    for (backend, name, c), values in samples.items():
        key = f"{backend}_{name}_{c}"
        rps = [v[0] for v in values]
        cpu = [v[1] for v in values]
        results[f"t10_rps_{key}"] = median(rps)
        results[f"t10_rps_{key}_min"] = min(rps)
        results[f"t10_rps_{key}_max"] = max(rps)
        results[f"t10_cpu_us_{key}"] = median(cpu)
        results[f"t10_cpu_us_{key}_min"] = min(cpu)
        results[f"t10_cpu_us_{key}_max"] = max(cpu)
    for (name, c), count in FAILURES.items():
        results[f"t10_failures_{name}_{c}"] = float(count)
    for (backend, name, c), _values in samples.items():
        base = results.get(f"t10_rps_asyncio_aiohttp_{c}")
        if base:
            key = f"{backend}_{name}_{c}"
            results[f"t10_ratio_{key}"] = results[f"t10_rps_{key}"] / base
    return results


def table(results: dict[str, float], concurrency: Sequence[int] = CONCURRENCY) -> str:
    """Markdown: per contender and concurrency, req/s median [min-max], ratio, CPU µs."""
    lines = [
        "| backend | contender | "
        + " | ".join(f"{c} in flight: req/s [min-max], x aiohttp, CPU µs/req" for c in concurrency)
        + " |",
        "|---|---|" + "---|" * len(concurrency),
    ]
    for backend, name in CONTENDERS:
        cells = []
        for c in concurrency:
            key = f"{backend}_{name}_{c}"
            rps = results.get(f"t10_rps_{key}")
            if rps is None:
                cells.append("-")
                continue
            ratio = results.get(f"t10_ratio_{key}")
            cells.append(
                f"{rps:,.0f} [{results[f't10_rps_{key}_min']:,.0f}-"
                f"{results[f't10_rps_{key}_max']:,.0f}], "
                f"{'-' if ratio is None else f'{ratio:.2f}x'}, "
                f"{results[f't10_cpu_us_{key}']:,.0f} "
                f"[{results[f't10_cpu_us_{key}_min']:,.0f}-"
                f"{results[f't10_cpu_us_{key}_max']:,.0f}]"
            )
        if any(cell != "-" for cell in cells):
            lines.append(f"| {backend} | {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def verdicts(results: dict[str, float], concurrency: Sequence[int] = CONCURRENCY) -> list[str]:
    """T10's three figures for the default transport, each as met or not."""
    out = []
    for backend, goal in (("asyncio", 0.8), ("trio", 0.6)):
        ratios = [results.get(f"t10_ratio_{backend}_sweep_fast_{c}") for c in concurrency]
        known = [r for r in ratios if r is not None]
        if known:
            worst = min(known)
            out.append(
                f"{backend}: sweep ≥ {goal}x aiohttp at every concurrency: "
                f"{'met' if worst >= goal and len(known) == len(ratios) else 'NOT met'} "
                f"(worst {worst:.2f}x; "
                + ", ".join(f"{c}: {r:.2f}x" for c, r in zip(concurrency, ratios, strict=True) if r)
                + ")"
            )
    cpus = [
        results[k]
        for c in concurrency
        for b in ("asyncio", "trio")
        if (k := f"t10_cpu_us_{b}_sweep_fast_{c}") in results
    ]
    if cpus:
        out.append(
            f"client CPU ≤ 500 µs per request: {'met' if max(cpus) <= 500 else 'NOT met'} "
            f"(worst median {max(cpus):.0f} µs)"
        )
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--seconds", type=float)
    ap.add_argument("--concurrency", default=",".join(map(str, CONCURRENCY)))
    ap.add_argument("--only", default="", help="e.g. asyncio:sweep_fast,aiohttp,trio:sweep_fast")
    ap.add_argument("--json")
    a = ap.parse_args()
    conc = [int(x) for x in a.concurrency.split(",")]
    only = [x for x in a.only.split(",") if x]
    res = run(quick=a.quick, rounds=a.rounds, seconds=a.seconds, concurrency=conc, only=only)
    print(f"{int(res['t10_requests'])} requests per fleet day ({SITES} sites)\n")
    print(table(res, conc))
    print()
    print("\n".join(verdicts(res, conc)))
    if a.json:
        with open(a.json, "w", encoding="utf-8") as fh:  # noqa: PTH123
            json.dump(res, fh, indent=2)
