"""A per-minute limit shared through Redis by 1, 3 and 8 processes.

The simulator (its own process) enforces 600 calls a minute for one account;
N worker processes (asyncio and trio alternately) share that account's limit
through one `RedisLimits` bucket and send ``GET /sites`` as fast as it lets
them for a short run. Reported per N:

* ``util_N``: the achieved rate ÷ the enforced limit, from the first send to the
  last one over all processes (the limiter paces at 600 per 60.5 s, so 0.992 is
  the ceiling);
* ``429s_N``: per-minute 429s the *server* counted (the target is 0);
* ``acquire_ms_N`` / ``acquire_p99_ms_N``: the median and 99th percentile of one
  reservation's round trip to Redis (the script alone, not the pacing wait).

Then the command line as an operator runs it (issue 14's "done when"): three
``solaredge-async sweep`` processes on one key, ``--shared-state`` on one Redis,
``--requests-per-minute 120``, against ONE simulator enforcing 120 calls a minute, each
sweeping the same sites' ``overview`` (overlapping cron jobs). Reported:

* ``cli3_calls``: calls made by the three (each: the site list and one per site);
* ``cli3_ideal_s``: those calls at exactly 120 a minute (``calls / 2`` seconds);
* ``cli3_seconds``: from the first launch to the last exit (start-up included);
* ``cli3_ratio``: ``cli3_seconds / cli3_ideal_s`` (the target: at most 1.3);
* ``cli3_429s``: per-minute 429s the server counted, ``cli3_429s_seen`` the ones the
  processes reported in ``--output json`` (the target: 0).

Redis: ``$SOLAREDGE_BENCH_REDIS_URL``, else a private ``redis-server`` on a free
loopback port. Run: ``python benchmarks/bench_shared_limit.py [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Self

from _common import API_KEY, SimServer, median

HERE = Path(__file__).resolve().parent
RATE = 600
PROCESSES = (1, 3, 8)


def _worker(args: list[str]) -> None:
    """One worker process: share the limit, send for ``duration`` s, print JSON figures."""
    # Imported here: the parent process needs none of them.
    import anyio  # noqa: PLC0415
    import httpx  # noqa: PLC0415

    from solaredge_async.limits import RedisLimits  # noqa: PLC0415

    redis_url, prefix, base_url, duration, backend = args
    sends: list[float] = []
    latencies: list[float] = []
    statuses: dict[str, int] = {}

    async def main() -> None:
        async with (
            RedisLimits(redis_url, prefix=prefix) as shared,
            httpx.AsyncClient(base_url=base_url, headers={"X-API-Key": API_KEY}) as http,
        ):
            limiter = shared.limiter("key#bench000", RATE)
            stop = time.time() + float(duration)
            while time.time() < stop:
                started = time.perf_counter()
                reservation = await limiter.reserve()
                latencies.append(time.perf_counter() - started)
                await anyio.sleep(reservation.wait)
                if time.time() >= stop:
                    break
                sends.append(time.time())
                response = await http.get("/sites", params={"sites-in-page": "1"})
                limiter.observe(None, None)
                statuses[str(response.status_code)] = statuses.get(str(response.status_code), 0) + 1

    anyio.run(main, backend=backend)
    print(json.dumps({"sends": sends, "latencies": latencies, "statuses": statuses}))


class _Redis:
    """The Redis server of the benchmark: the given URL or a private one."""

    def __init__(self) -> None:
        self.url = os.environ.get("SOLAREDGE_BENCH_REDIS_URL", "")
        self._proc: subprocess.Popen[bytes] | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None

    def __enter__(self) -> Self:
        if self.url:
            return self
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("no redis-server: install it or set SOLAREDGE_BENCH_REDIS_URL")
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self._dir = tempfile.TemporaryDirectory()
        self._proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self._dir.name,
            ],
            stdout=subprocess.DEVNULL,
        )
        self.url = f"redis://127.0.0.1:{port}/0"
        for _ in range(200):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.02)
        raise SystemExit("redis-server did not start")

    def __exit__(self, *_exc: object) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=10)
        if self._dir is not None:
            self._dir.cleanup()


def _round(redis_url: str, server: SimServer, processes: int, duration: float) -> dict[str, float]:
    before = server.usage()
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--worker",
                redis_url,
                prefix,
                server.base_url,
                str(duration),
                ("asyncio", "trio")[i % 2],
            ],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for i in range(processes)
    ]
    sends: list[float] = []
    latencies: list[float] = []
    for worker in workers:
        out, _ = worker.communicate(timeout=duration + 120)
        figures = json.loads(out)
        sends += figures["sends"]
        latencies += figures["latencies"]
    after = server.usage()
    sends.sort()
    latencies.sort()
    pace = (len(sends) - 1) / (sends[-1] - sends[0]) * 60.0 if len(sends) > 1 else 0.0
    return {
        f"util_{processes}": round(pace / RATE, 3),
        f"429s_{processes}": float(int(after["minute_429s"]) - int(before["minute_429s"])),  # type: ignore[call-overload]
        f"calls_{processes}": float(len(sends)),
        f"acquire_ms_{processes}": round(median(latencies) * 1000, 3),
        f"acquire_p99_ms_{processes}": round(latencies[int(0.99 * (len(latencies) - 1))] * 1000, 3),
    }


CLI_RATE = 120
CLI_PROCESSES = 3
#: The day every CLI process sweeps (the simulator's yesterday: whole and published).
CLI_DAY = "2026-05-11"


def _cli_round(redis_url: str, sites: int) -> dict[str, float]:
    """Three CLI sweeps of ``sites`` sites on one key through Redis, 120 calls a minute."""
    prefix_env = {**os.environ, "PYTHONPATH": str(HERE.parent), "SOLAREDGE_API_KEY": API_KEY}
    prefix_env.pop("SOLAREDGE_SHARED_STATE", None)
    with (
        SimServer(sites=sites, rate=CLI_RATE) as server,
        tempfile.TemporaryDirectory() as out,
    ):
        before = server.usage()
        started = time.perf_counter()
        workers = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "solaredge_async.cli",
                    "sweep",
                    "--base-url",
                    server.base_url,
                    "--shared-state",
                    redis_url,
                    "--requests-per-minute",
                    str(CLI_RATE),
                    "--what",
                    "overview",
                    "--start",
                    CLI_DAY,
                    "--end",
                    CLI_DAY,
                    "--out",
                    str(Path(out) / f"run{i}"),
                    "--no-progress",
                    "--output",
                    "json",
                    "--backend",
                    ("asyncio", "trio")[i % 2],
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=prefix_env,
            )
            for i in range(CLI_PROCESSES)
        ]
        summaries = []
        for worker in workers:
            stdout, stderr = worker.communicate(timeout=1800)
            if worker.returncode != 0:
                raise SystemExit(f"a sweep process failed ({worker.returncode}): {stderr}")
            summaries.append(json.loads(stdout.splitlines()[-1]))
        seconds = time.perf_counter() - started
        after = server.usage()
    calls = float(int(after["calls"]) - int(before["calls"]))  # type: ignore[call-overload]
    ideal = calls * 60.0 / CLI_RATE
    return {
        "cli3_calls": calls,
        "cli3_ideal_s": round(ideal, 1),
        "cli3_seconds": round(seconds, 1),
        "cli3_ratio": round(seconds / ideal, 3),
        "cli3_429s": float(int(after["minute_429s"]) - int(before["minute_429s"])),  # type: ignore[call-overload]
        "cli3_429s_seen": float(sum(int(s["rate_limited"]) for s in summaries)),
    }


def run(*, quick: bool = False, cli_only: bool = False) -> dict[str, float]:
    """Every round; figures keyed by name (see the module docstring)."""
    duration = 6.0 if quick else 20.0
    results: dict[str, float] = {}
    with _Redis() as redis:
        if not cli_only:
            with SimServer(sites=10, rate=RATE) as server:
                for processes in PROCESSES:
                    results.update(_round(redis.url, server, processes, duration))
        # Quick: 3 x 11 calls (about 17 s); full: 3 x 41 (about a minute: a fixed
        # minute of the server is filled, so a missed share would show as 429s).
        results.update(_cli_round(redis.url, 10 if quick else 40))
    return results


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        _worker(sys.argv[2:])
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="6 s rounds instead of 20 s")
    parser.add_argument(
        "--cli-only", action="store_true", help="only the three CLI processes at 120/min"
    )
    options = parser.parse_args()
    figures = run(quick=options.quick, cli_only=options.cli_only)
    width = max(map(len, figures))
    for name, value in figures.items():
        print(f"{name:<{width}}  {value:g}")
