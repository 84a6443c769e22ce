"""The request path: requests/s and client CPU per request, side by side.

Every contender fetches ``GET /v2/sites/{id}/overview`` (a ~200 B JSON body) from the
simulator's loopback server, which runs in its own process, with a fixed number of
requests in flight (1, 10, 50, 200). Contenders are interleaved round by round and
each figure is the median of the rounds. Client CPU is `time.process_time` of this
process (the server's CPU is not in it).

Contenders:

* ``full``: `SolarEdgeClient` (limiter off, retries on, parsing to `SiteOverview`)
  over ONE httpcore pool sized to the in-flight bound (the client before it adopted
  `PoolsTransport`);
* ``full_pools``: the same over `PoolsTransport` (pools of 2 httpcore connections);
* ``full_fast``: the same on its default transport, `FastTransport` (as shipped);
* ``full_aiohttp``: the same over `AiohttpTransport` (the ``fast`` extra);
* ``httpx``: bare `httpx.AsyncClient`, same pool limits and headers, body read;
* ``httpx_pools``: bare httpx over `PoolsTransport`;
* ``httpx_aiohttp``: bare httpx over `AiohttpTransport`;
* ``aiohttp``: bare `aiohttp.ClientSession`, connector limit = in flight;
* ``raw``: an asyncio streams client, one keep-alive connection per worker (the floor);
* ``requests``: a `requests.Session`, sequential (1 in flight only).

Run: ``python benchmarks/bench_request_path.py [--quick] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
from typing import TYPE_CHECKING, ClassVar

import _common
from _common import API_KEY, SimServer, Stopwatch, median

if TYPE_CHECKING:
    from collections.abc import Sequence

CONCURRENCY = (1, 10, 50, 200)


class Contender:
    """One way of making the requests; `worker` loops until the deadline."""

    name: ClassVar[str] = ""
    only: ClassVar[tuple[int, ...] | None] = None

    def __init__(self, server: SimServer, ids: Sequence[int], concurrency: int) -> None:
        self.server = server
        self.ids = list(ids)
        self.concurrency = concurrency
        self.paths = [f"{server.prefix}/sites/{i}/overview" for i in ids]
        self.urls = [f"{server.base_url}/sites/{i}/overview" for i in ids]

    async def open(self) -> None:
        """Set up (inside the event loop)."""

    async def close(self) -> None:
        """Tear down (inside the event loop)."""

    async def worker(self, wid: int, deadline: float) -> int:
        """Make requests until ``deadline`` (perf_counter); return how many."""
        raise NotImplementedError


class Full(Contender):
    name = "full"

    def transport(self) -> object:
        import httpx  # noqa: PLC0415

        c = self.concurrency
        return httpx.AsyncHTTPTransport(
            limits=httpx.Limits(max_connections=c, max_keepalive_connections=c)
        )

    async def open(self) -> None:
        from solaredge_async import RetryPolicy, SolarEdgeClient  # noqa: PLC0415

        transport = self.transport()
        self.client = SolarEdgeClient(
            api_key=API_KEY,
            base_url=self.server.base_url,
            requests_per_minute=None,
            monthly_credits=0,  # more calls than the free tier's month
            max_concurrency=self.concurrency,
            retry=RetryPolicy(),
            transport=transport,  # type: ignore[arg-type]
        )

    async def close(self) -> None:
        await self.client.aclose()

    async def worker(self, wid: int, deadline: float) -> int:
        client, ids, k, step = self.client, self.ids, len(self.ids), self.concurrency
        perf = time.perf_counter
        n, i = 0, wid
        while perf() < deadline:
            await client.site_overview(ids[i % k])
            n += 1
            i += step
        return n


class FullPools(Full):
    name = "full_pools"

    def transport(self) -> object:
        from solaredge_async.transports._pools import PoolsTransport  # noqa: PLC0415

        return PoolsTransport.for_concurrency(self.concurrency)


class FullFast(Full):
    name = "full_fast"

    def transport(self) -> object:
        return None  # the client's default: FastTransport with httptools installed


class FullAiohttp(Full):
    name = "full_aiohttp"

    def transport(self) -> object:
        from solaredge_async.transports._aiohttp import AiohttpTransport  # noqa: PLC0415

        return AiohttpTransport(max_connections=self.concurrency)


class Httpx(Contender):
    name = "httpx"

    def transport(self) -> object:
        return None

    async def open(self) -> None:
        import httpx  # noqa: PLC0415

        self.http = httpx.AsyncClient(
            transport=self.transport(),  # type: ignore[arg-type]
            timeout=30.0,
            limits=httpx.Limits(
                max_connections=self.concurrency, max_keepalive_connections=self.concurrency
            ),
            headers={"User-Agent": "bench", "Accept": "application/json", "X-API-Key": API_KEY},
            follow_redirects=False,
            trust_env=False,
        )

    async def close(self) -> None:
        await self.http.aclose()

    async def worker(self, wid: int, deadline: float) -> int:
        http, urls, k, step = self.http, self.urls, len(self.urls), self.concurrency
        perf = time.perf_counter
        n, i = 0, wid
        while perf() < deadline:
            response = await http.get(urls[i % k])
            if response.status_code != 200:
                raise RuntimeError(f"status {response.status_code}")
            n += 1
            i += step
        return n


class HttpxPools(Httpx):
    name = "httpx_pools"

    def transport(self) -> object:
        from solaredge_async.transports._pools import PoolsTransport  # noqa: PLC0415

        return PoolsTransport.for_concurrency(self.concurrency)


class HttpxAiohttp(Httpx):
    name = "httpx_aiohttp"

    def transport(self) -> object:
        from solaredge_async.transports._aiohttp import AiohttpTransport  # noqa: PLC0415

        return AiohttpTransport(max_connections=self.concurrency)


class Aiohttp(Contender):
    name = "aiohttp"

    async def open(self) -> None:
        import aiohttp  # noqa: PLC0415

        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self.concurrency),
            headers={"User-Agent": "bench", "Accept": "application/json", "X-API-Key": API_KEY},
        )

    async def close(self) -> None:
        await self.session.close()

    async def worker(self, wid: int, deadline: float) -> int:
        session, urls, k, step = self.session, self.urls, len(self.urls), self.concurrency
        perf = time.perf_counter
        n, i = 0, wid
        while perf() < deadline:
            async with session.get(urls[i % k]) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"status {response.status}")
            n += 1
            i += step
        return n


class Raw(Contender):
    name = "raw"

    async def open(self) -> None:
        host = f"{self.server.host}:{self.server.port}"
        self.requests = [
            (
                f"GET {p} HTTP/1.1\r\nHost: {host}\r\nX-API-Key: {API_KEY}\r\n"
                "Accept: application/json\r\n\r\n"
            ).encode()
            for p in self.paths
        ]
        self.conns: dict[int, tuple[asyncio.StreamReader, asyncio.StreamWriter]] = {}

    async def close(self) -> None:
        for _reader, writer in self.conns.values():
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def worker(self, wid: int, deadline: float) -> int:
        conn = self.conns.get(wid)
        if conn is None:
            conn = await asyncio.open_connection(self.server.host, self.server.port)
            self.conns[wid] = conn
        reader, writer = conn
        requests, k, step = self.requests, len(self.requests), self.concurrency
        perf = time.perf_counter
        n, i = 0, wid
        while perf() < deadline:
            writer.write(requests[i % k])
            status, _body = await read_response(reader)
            if status != 200:
                raise RuntimeError(f"status {status}")
            n += 1
            i += step
        return n


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """Read one HTTP/1.1 response with a ``Content-Length`` body."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
            break
    return status, await reader.readexactly(length)


class Requests(Contender):
    name = "requests"
    only = (1,)

    async def open(self) -> None:
        import requests  # noqa: PLC0415

        self.session = requests.Session()
        self.session.headers.update(
            {"User-Agent": "bench", "Accept": "application/json", "X-API-Key": API_KEY}
        )

    async def close(self) -> None:
        self.session.close()

    async def worker(self, wid: int, deadline: float) -> int:
        session, urls, k = self.session, self.urls, len(self.urls)
        perf = time.perf_counter
        n, i = 0, wid
        while perf() < deadline:
            response = session.get(urls[i % k])
            if response.status_code != 200:
                raise RuntimeError(f"status {response.status_code}")
            n += 1
            i += 1
        return n


CONTENDERS: dict[str, type[Contender]] = {
    c.name: c
    for c in (
        Full,
        FullPools,
        FullFast,
        FullAiohttp,
        Httpx,
        HttpxPools,
        HttpxAiohttp,
        Aiohttp,
        Raw,
        Requests,
    )
}


async def _measure(contender: Contender, warmup: float, seconds: float) -> tuple[int, float, float]:
    await contender.open()
    try:
        c = contender.concurrency
        deadline = time.perf_counter() + warmup
        await asyncio.gather(*(contender.worker(w, deadline) for w in range(c)))
        with Stopwatch() as watch:
            deadline = time.perf_counter() + seconds
            counts = await asyncio.gather(*(contender.worker(w, deadline) for w in range(c)))
    finally:
        await contender.close()
    return sum(counts), watch.wall, watch.cpu


def available(names: Sequence[str]) -> list[str]:
    """The contenders whose libraries are installed."""
    import importlib.util  # noqa: PLC0415

    out = []
    for name in names:
        needs = {"aiohttp": "aiohttp", "requests": "requests"}
        module = next((m for key, m in needs.items() if key in name), None)
        if module is None or importlib.util.find_spec(module) is not None:
            out.append(name)
    return out


def run(
    *,
    quick: bool = False,
    contenders: Sequence[str] = tuple(CONTENDERS),
    concurrency: Sequence[int] = CONCURRENCY,
    rounds: int | None = None,
    seconds: float | None = None,
) -> dict[str, float]:
    """Measure every contender at every concurrency; keys ``rps_<name>_<c>``, ``cpu_us_...``."""
    rounds = rounds or (1 if quick else 5)
    seconds = seconds or (0.3 if quick else 0.6)
    warmup = 0.1 if quick else 0.2
    names = available(contenders)
    samples: dict[tuple[str, int], list[tuple[float, float]]] = {}
    with SimServer(sites=200) as server:
        ids = _common.site_ids(server, 200)
        for _round in range(rounds):
            for c in concurrency:
                for name in names:
                    cls = CONTENDERS[name]
                    if cls.only is not None and c not in cls.only:
                        continue
                    count, wall, cpu = asyncio.run(_measure(cls(server, ids, c), warmup, seconds))
                    samples.setdefault((name, c), []).append((count / wall, cpu / count * 1e6))
    results: dict[str, float] = {}
    for (name, c), values in samples.items():
        results[f"rps_{name}_{c}"] = median([v[0] for v in values])
        results[f"cpu_us_{name}_{c}"] = median([v[1] for v in values])
    return results


def table(results: dict[str, float], concurrency: Sequence[int] = CONCURRENCY) -> str:
    """The results as a Markdown table: req/s (client CPU µs/request) per concurrency."""
    names = [n for n in CONTENDERS if any(k.startswith(f"rps_{n}_") for k in results)]
    lines = [
        "| client | " + " | ".join(f"{c} in flight" for c in concurrency) + " |",
        "|---|" + "---|" * len(concurrency),
    ]
    for name in names:
        cells = []
        for c in concurrency:
            rps = results.get(f"rps_{name}_{c}")
            cpu = results.get(f"cpu_us_{name}_{c}")
            cells.append("-" if rps is None else f"{rps:,.0f} ({cpu:,.0f} µs)")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--contenders", default=",".join(CONTENDERS))
    ap.add_argument("--concurrency", default=",".join(map(str, CONCURRENCY)))
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--seconds", type=float)
    ap.add_argument("--json")
    a = ap.parse_args()
    conc = [int(x) for x in a.concurrency.split(",")]
    res = run(
        quick=a.quick,
        contenders=a.contenders.split(","),
        concurrency=conc,
        rounds=a.rounds,
        seconds=a.seconds,
    )
    print(table(res, conc))
    if a.json:
        with open(a.json, "w", encoding="utf-8") as fh:  # noqa: PTH123
            json.dump(res, fh, indent=2)
