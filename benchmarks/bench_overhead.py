"""The client's own cost: the limiter per acquire, and the whole stack per request.

Run ``python benchmarks/bench_overhead.py``. Everything is in one process over
``httpx.MockTransport`` (no sockets), measured side by side in interleaved rounds,
medians reported:

* ``limiter_acquire_us``: one `RateLimiter.acquire` at a rate it never waits for,
  minus an empty loop of the same shape (µs);
* ``bare_httpx_us`` / ``stack_us``: one GET through bare ``httpx.AsyncClient`` and
  through `SolarEdgeClient.site_energy` (limiter on at an unreachable rate, retries
  on, a 96-point body parsed to records), both over the same MockTransport (µs);
* ``stack_overhead_us``: their difference, what the library adds per request.

`run` returns the figures for the benchmark suite.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from solaredge_async import RateLimiter, SolarEdgeClient

_DAY = datetime(2026, 5, 12, tzinfo=UTC)
_BODY = json.dumps(
    {
        "period": {"from": _DAY.isoformat(), "to": (_DAY + timedelta(days=1)).isoformat()},
        "unit": "WH",
        "resolution": "QUARTER_HOUR",
        "values": [
            {"timestamp": (_DAY + timedelta(minutes=15 * i)).isoformat(), "value": float(i)}
            for i in range(96)
        ],
    }
).encode()
_HEADERS = {
    "content-type": "application/json",
    "x-ratelimit-limit-minute": "100000000",
    "x-ratelimit-remaining-minute": "99999999",
}


def _handler(_request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=_BODY, headers=_HEADERS)


async def _limiter_us(n: int) -> tuple[float, float]:
    limiter = RateLimiter(1e9, burst=1_000_000)
    t0 = time.perf_counter()
    for _ in range(n):
        await limiter.acquire()
    with_limiter = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(n):
        await anyio.lowlevel.checkpoint()
    empty = time.perf_counter() - t0
    return with_limiter / n * 1e6, empty / n * 1e6


async def _bare_us(n: int) -> float:
    async with httpx.AsyncClient(transport=httpx.MockTransport(_handler)) as http:
        url = "https://simulator.solaredge.invalid/v2/sites/1/energy"
        t0 = time.perf_counter()
        for _ in range(n):
            response = await http.get(url, headers={"X-API-Key": "k"})
            response.json()
        return (time.perf_counter() - t0) / n * 1e6


async def _stack_us(n: int) -> float:
    async with SolarEdgeClient(
        api_key="k",
        transport=httpx.MockTransport(_handler),
        requests_per_minute=100_000_000,
        burst=1_000_000,
        monthly_credits=0,  # more calls than the free tier's month
    ) as client:
        t0 = time.perf_counter()
        for _ in range(n):
            await client.site_energy(1)
        return (time.perf_counter() - t0) / n * 1e6


def run(*, quick: bool = False) -> dict[str, float]:
    """Measure; return µs figures (medians of interleaved rounds)."""
    rounds, n = (3, 300) if quick else (5, 2000)
    acq: list[float] = []
    bare: list[float] = []
    stack: list[float] = []

    async def one_round() -> None:
        with_limiter, empty = await _limiter_us(n * 10)
        acq.append(with_limiter - empty)
        bare.append(await _bare_us(n))
        stack.append(await _stack_us(n))

    for _ in range(rounds):
        anyio.run(one_round)
    b, s = statistics.median(bare), statistics.median(stack)
    return {
        "limiter_acquire_us": round(statistics.median(acq), 2),
        "bare_httpx_us": round(b, 1),
        "stack_us": round(s, 1),
        "stack_overhead_us": round(s - b, 1),
        "stack_vs_bare": round(b / s, 3),
    }


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
