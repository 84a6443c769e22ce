"""Requests per second of the simulator's loopback server.

The server runs in its own process (``python -m solaredge_async.testing``); a raw
asyncio streams client keeps ~50 keep-alive requests in flight and counts answers for a
small body (``/overview``) and a 96-point quarter-hour energy day (``/energy``). For
reference it also times the in-process core (`Simulator.handle`) on the same requests,
the physics of one 96-point day, and ten years of lifetime ``TOTAL`` energy (closed-form
day totals): the checks that used to be timed assertions in the simulator's tests.

Run: ``python benchmarks/bench_simulator.py [--seconds 3] [--concurrency 50]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import subprocess
import sys
import time
from datetime import datetime
from urllib.parse import urlsplit

API_KEY = "BENCH0KEY0000000000000000000000"
NOW = "2026-05-12T14:37:12+02:00"
DAY = "from=2026-05-11T00:00:00&to=2026-05-12T00:00:00"
TARGET_RPS = 5000.0


def _start_server(sites: int) -> tuple[subprocess.Popen[str], str]:
    cmd = [
        sys.executable,
        "-m",
        "solaredge_async.testing",
        "--port",
        "0",
        "--sites",
        str(sites),
        "--zones",
        "Europe/Berlin",
        "--api-key",
        API_KEY,
        "--rate-limit",
        "0",
        "--monthly-credits",
        "0",
        "--no-span-caps",
        "--now",
        NOW,
        "--quiet",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.startswith("http://"):
        proc.kill()
        raise RuntimeError(f"the simulator did not start: {line!r}")
    return proc, line


def _request(host: str, path: str) -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nX-API-Key: {API_KEY}\r\n"
        "Accept: application/json\r\n\r\n"
    ).encode()


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
            break
    body = await reader.readexactly(length)
    return status, body


async def _load(url: str, paths: list[str], seconds: float, concurrency: int) -> tuple[float, int]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    requests = [_request(f"{host}:{port}", parts.path + p) for p in paths]
    done = 0
    size = 0
    deadline = 0.0

    async def worker(offset: int) -> None:
        nonlocal done, size
        reader, writer = await asyncio.open_connection(host, port)
        i = offset
        try:
            while time.perf_counter() < deadline:
                writer.write(requests[i % len(requests)])
                status, body = await _read_response(reader)
                if status != 200:
                    raise RuntimeError(f"status {status}: {body[:200]!r}")
                size = len(body)
                done += 1
                i += 1
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    # Warm up (fills the day caches), then measure.
    deadline = time.perf_counter() + 0.5
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    done = 0
    start = time.perf_counter()
    deadline = start + seconds
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return done / (time.perf_counter() - start), size


async def _site_ids(url: str, n: int) -> list[int]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(_request(f"{host}:{port}", f"{parts.path}/sites?sites-in-page={n}"))
    _status, body = await _read_response(reader)
    writer.close()
    return [s["siteId"] for s in json.loads(body)["sites"]["site"]]


def _in_process(paths: list[str], prefix: str, sites: int, seconds: float) -> float:
    from solaredge_async.testing import FleetSpec, Simulator, SimulatorConfig  # noqa: PLC0415
    from solaredge_async.testing._config import RESOLUTIONS  # noqa: PLC0415

    sim = Simulator(
        SimulatorConfig(
            fleet=FleetSpec(sites=sites, api_keys=(API_KEY,), zones=("Europe/Berlin",)),
            now=datetime.fromisoformat(NOW),
            requests_per_minute=None,
            monthly_credits=None,
            span_caps=dict.fromkeys(RESOLUTIONS),
            record_requests=0,
        )
    )
    headers = {"x-api-key": API_KEY}
    split = [(prefix + p).partition("?") for p in paths]
    for path, _, query in split:
        sim.handle("GET", path, query, headers)
    n = 0
    start = time.perf_counter()
    end = start + seconds
    while time.perf_counter() < end:
        for path, _, query in split:
            sim.handle("GET", path, query, headers, mono=0.0)
        n += len(split)
    return n / (time.perf_counter() - start)


def _physics() -> tuple[float, float]:
    """Return (µs per computed 96-point day, ms for ten years of TOTAL energy)."""
    from datetime import date  # noqa: PLC0415
    from zoneinfo import ZoneInfo  # noqa: PLC0415

    from solaredge_async.testing import FleetSpec, Simulator, SimulatorConfig  # noqa: PLC0415
    from solaredge_async.testing._solar import compute_day  # noqa: PLC0415
    from solaredge_async.testing._timeutil import day_grid  # noqa: PLC0415

    berlin = ZoneInfo("Europe/Berlin")
    sim = Simulator(
        SimulatorConfig(
            fleet=FleetSpec(sites=30, api_keys=(API_KEY,)), now=datetime.fromisoformat(NOW)
        )
    )
    model = sim.fleet.model(0)
    grid = day_grid(model.tz, date(2026, 5, 12).toordinal())
    rounds = 200
    start = time.perf_counter()
    for _ in range(rounds):
        compute_day(model, grid)
    day_us = (time.perf_counter() - start) / rounds * 1e6
    pv_only = next(s for s in sim.fleet.sites_for(API_KEY) if not sim.fleet.site(s).has_meter)
    start = time.perf_counter()
    sim.fleet.energy(
        pv_only, datetime(2015, 1, 1, tzinfo=berlin), datetime(2026, 5, 12, tzinfo=berlin), "TOTAL"
    )
    return day_us, (time.perf_counter() - start) * 1e3


def run(seconds: float = 3.0, concurrency: int = 50, sites: int = 100) -> dict[str, float]:
    """Measure and print the server's requests/s; return the numbers."""
    proc, url = _start_server(sites)
    try:
        ids = asyncio.run(_site_ids(url, min(sites, 50)))
        overview = [f"/sites/{i}/overview" for i in ids]
        energy = [f"/sites/{i}/energy?{DAY}" for i in ids]
        ov_rps, ov_size = asyncio.run(_load(url, overview, seconds, concurrency))
        en_rps, en_size = asyncio.run(_load(url, energy, seconds, concurrency))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
    prefix = urlsplit(url).path
    results = {
        "server_overview_rps": ov_rps,
        "server_overview_bytes": float(ov_size),
        "server_energy_day_rps": en_rps,
        "server_energy_day_bytes": float(en_size),
        "inprocess_overview_rps": _in_process(overview, prefix, sites, 1.0),
        "inprocess_energy_day_rps": _in_process(energy, prefix, sites, 1.0),
    }
    results["day_compute_us"], results["lifetime_total_ms"] = _physics()
    print(f"simulator loopback server, {concurrency} in flight, raw asyncio client")
    for name in ("overview", "energy_day"):
        rps = results[f"server_{name}_rps"]
        verdict = "met" if rps >= TARGET_RPS else "NOT met"
        print(
            f"  {name:<11} {rps:9.0f} req/s  ({results[f'server_{name}_bytes']:.0f} B body; "
            f"target >= {TARGET_RPS:.0f}: {verdict}); in-process core "
            f"{results[f'inprocess_{name}_rps']:.0f} req/s"
        )
    print(
        f"  physics: one 96-point day {results['day_compute_us']:.0f} µs (target < 1000); "
        f"ten years of TOTAL energy {results['lifetime_total_ms']:.1f} ms (target < 500)"
    )
    return results


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--sites", type=int, default=100)
    a = ap.parse_args()
    run(a.seconds, a.concurrency, a.sites)
