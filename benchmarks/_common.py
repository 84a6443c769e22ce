"""Shared pieces of the benchmarks: the simulator subprocess, medians, formatting."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Self
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import TracebackType

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: The benchmark account's API key (a fake; the simulator accepts any configured key).
API_KEY = "BENCH0KEY0000000000000000000000A"
#: The simulator's frozen "now": yesterday (2026-05-11) is a whole, published day.
NOW = "2026-05-12T14:37:12+02:00"


class SimServer:
    """The simulator's loopback server in its own process (see `_simproc.py`).

    Args:
        sites: Fleet size.
        rate: Per-minute limit, or None for none.
        credits: Monthly credits, or None for unlimited.
        latency: ``(mean, jitter)`` seconds, or None.
        zones: IANA zones of the sites, or None for the worldwide mix.
        span_caps: Enforce the documented span caps.
        api_keys: One API key per account (sites are dealt out in turn).
    """

    def __init__(
        self,
        *,
        sites: int = 100,
        rate: int | None = None,
        credits: int | None = None,  # noqa: A002
        latency: tuple[float, float] | None = None,
        zones: Sequence[str] | None = ("Europe/Berlin",),
        span_caps: bool = True,
        api_keys: Sequence[str] = (API_KEY,),
    ) -> None:
        self.settings = {
            "sites": sites,
            "api_key": api_keys[0],
            "api_keys": list(api_keys),
            "now": NOW,
            "rate": rate,
            "credits": credits,
            "latency": list(latency) if latency is not None else None,
            "zones": list(zones) if zones is not None else None,
            "span_caps": span_caps,
        }
        self.proc: subprocess.Popen[str] | None = None
        self.base_url = ""

    @property
    def host(self) -> str:
        """The server's host."""
        return urlsplit(self.base_url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        """The server's port."""
        return urlsplit(self.base_url).port or 80

    @property
    def prefix(self) -> str:
        """The path the API is mounted under (``/v2``)."""
        return urlsplit(self.base_url).path

    def __enter__(self) -> Self:
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "_simproc.py"), json.dumps(self.settings)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line.startswith("http://"):
            self.proc.kill()
            raise RuntimeError(f"the simulator did not start: {line!r}")
        self.base_url = line
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        proc = self.proc
        if proc is None:
            return
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def _ask(self, command: str) -> str:
        proc = self.proc
        assert proc is not None
        assert proc.stdin is not None
        assert proc.stdout is not None
        proc.stdin.write(command + "\n")
        proc.stdin.flush()
        return proc.stdout.readline()

    def usage(self, api_key: str = API_KEY) -> dict[str, object]:
        """An account's usage: calls, credits, 429s, statuses."""
        result: dict[str, object] = json.loads(self._ask(f"usage {api_key}"))
        return result

    def reset(self) -> None:
        """Start a new billing month (credits back to zero)."""
        self._ask("reset")


def median(values: Sequence[float]) -> float:
    """The median (NaN for no values)."""
    return statistics.median(values) if values else float("nan")


class Stopwatch:
    """Wall and client-CPU time of a block (`time.perf_counter`, `time.process_time`)."""

    def __init__(self) -> None:
        self.wall = 0.0
        self.cpu = 0.0
        self._wall0 = 0.0
        self._cpu0 = 0.0

    def __enter__(self) -> Self:
        self._wall0 = time.perf_counter()
        self._cpu0 = time.process_time()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.wall = time.perf_counter() - self._wall0
        self.cpu = time.process_time() - self._cpu0


def site_ids(server: SimServer, count: int) -> list[int]:
    """The first ``count`` site ids of the fleet (``GET /sites`` pages of 1,000)."""
    import urllib.request  # noqa: PLC0415

    ids: list[int] = []
    page = 1
    while len(ids) < count:
        req = urllib.request.Request(  # noqa: S310 - loopback http
            f"{server.base_url}/sites?page={page}&sites-in-page=1000",
            headers={"X-API-Key": API_KEY},
        )
        with urllib.request.urlopen(req) as resp:  # noqa: S310
            batch = [int(s["siteId"]) for s in json.loads(resp.read())["sites"]["site"]]
        ids.extend(batch)
        page += 1
        if len(batch) < 1000:
            break
    return ids[:count]
