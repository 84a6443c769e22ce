"""Memory: peak RSS of a streamed sweep to JSONL, for 1,000, 10,000 and 100,000 sites.

For each fleet size the simulator runs in its own process (limits off) and a fresh
client process plans ``SweepSpec(what={"overview"})`` over every site of the account
(discovery lists the sites, 1,000 per call), then sweeps it with 50 requests in flight
through `AiohttpTransport` (the default transport when aiohttp is missing), writing
every flat row to a JSONL file as it arrives. The child reports its peak RSS (the
kernel's ``VmHWM``; ``ru_maxrss`` is reported too, but on Linux it carries over the
parent's size through ``fork`` + ``exec``), its RSS after the imports and after
planning, and how many items it finished.

The 1,000- and 10,000-site sweeps run to the end. The 100,000-site sweep would take
over a minute at loopback speed, so it is planned in full (all 100 site-list pages,
the plan over 100,000 sites) and then swept for a fixed time (``--seconds``, 25 s by
default): the plan, the site list and the result stream are all at full size, only
the number of items written is smaller.

Run: ``python benchmarks/bench_memory.py [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

from _common import API_KEY, HERE, NOW, ROOT, SimServer

SIZES = (1_000, 10_000, 100_000)


def _status_mb(field: str) -> float | None:
    """A ``/proc/self/status`` figure (``VmRSS``, ``VmHWM``) in MiB, or None off Linux."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:  # noqa: PTH123
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _rss_mb() -> float:
    return _status_mb("VmRSS") or 0.0


def _peak_mb() -> float:
    """This process's peak RSS in MiB.

    ``getrusage(RUSAGE_SELF).ru_maxrss`` is what is asked for, but on Linux it survives
    ``fork`` + ``exec``: a child started by a large parent reports at least the parent's
    size. ``VmHWM`` (the high-water mark of this address space, reset by ``exec``) is
    the child's own peak; it is used where the kernel provides it.
    """
    hwm = _status_mb("VmHWM")
    if hwm is not None:
        return hwm
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _child(url: str, seconds: float | None, out: str) -> dict[str, float]:
    import importlib.util  # noqa: PLC0415

    from solaredge_async import SolarEdgeClient  # noqa: PLC0415
    from solaredge_async.fleet import ROW_FIELDS, SweepSpec, flat_rows, plan_sweep  # noqa: PLC0415

    try:
        import orjson  # noqa: PLC0415

        def dumps(obj: object) -> bytes:
            return orjson.dumps(obj)

    except ImportError:

        def dumps(obj: object) -> bytes:
            return json.dumps(obj).encode()

    import _sweeps  # noqa: PLC0415

    transport: object = None
    if importlib.util.find_spec("aiohttp") is not None:
        from solaredge_async.transports._aiohttp import AiohttpTransport  # noqa: PLC0415

        transport = AiohttpTransport(max_connections=50)
    baseline = _rss_mb()
    rows = 0
    async with SolarEdgeClient(
        api_key=API_KEY,
        base_url=url,
        requests_per_minute=None,
        monthly_credits=0,  # the benchmark's fleets spend more than the free tier
        max_concurrency=50,
        transport=transport,  # type: ignore[arg-type]
    ) as client:
        t0 = time.perf_counter()
        from datetime import datetime  # noqa: PLC0415

        plan = await plan_sweep(
            client, SweepSpec(what={"overview"}), now=datetime.fromisoformat(NOW)
        )
        planned = time.perf_counter()
        after_plan = _rss_mb()
        with open(out, "wb") as fh:  # noqa: PTH123 - the sink is the benchmark

            def sink(result: object) -> None:
                nonlocal rows
                for row in flat_rows(result):  # type: ignore[arg-type]
                    fh.write(dumps(dict(zip(ROW_FIELDS, row, strict=True))) + b"\n")
                    rows += 1

            deadline = None if seconds is None else time.perf_counter() + seconds
            outcome = await _sweeps.fleet_sweep(client, plan, sink=sink, deadline=deadline)
    maxrss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "sites": float(len(plan.sites)),
        "items": float(len(plan)),
        "done": float(outcome.done),
        "failed": float(outcome.failures),
        "rows": float(rows),
        "plan_seconds": planned - t0,
        "sweep_seconds": outcome.seconds,
        "baseline_mb": baseline,
        "after_plan_mb": after_plan,
        "peak_mb": _peak_mb(),
        "maxrss_mb": maxrss_kb / 1024,
        "jsonl_mb": os.path.getsize(out) / 2**20,  # noqa: PTH202
    }


def measure(sites: int, seconds: float | None) -> dict[str, float]:
    """One fleet size: a simulator process and a fresh client process."""
    with SimServer(sites=sites, zones=None) as server, tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, str(HERE / "bench_memory.py"), "--child", server.base_url]
        cmd += ["--out", os.path.join(tmp, "sweep.jsonl")]  # noqa: PTH118
        if seconds is not None:
            cmd += ["--seconds", str(seconds)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=ROOT)
        if done.returncode != 0:
            raise RuntimeError(f"memory child failed: {done.stderr[-2000:]}")
        result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
        return result


def run(*, quick: bool = False, seconds: float = 25.0) -> dict[str, float]:
    """Peak RSS per fleet size (``memory_<n>_peak_mb``) and the growth 1k → 100k."""
    sizes = (1_000, 10_000) if quick else SIZES
    results: dict[str, float] = {}
    for n in sizes:
        bound = None if n < 100_000 else (5.0 if quick else seconds)
        for key, value in measure(n, bound).items():
            results[f"memory_{n}_{key}"] = value
    last = sizes[-1]
    results["memory_growth_mb"] = (
        results[f"memory_{last}_peak_mb"] - results[f"memory_{sizes[0]}_peak_mb"]
    )
    results["memory_growth_to_sites"] = float(last)
    return results


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--child", metavar="BASE_URL")
    ap.add_argument("--out")
    ap.add_argument("--seconds", type=float)
    a = ap.parse_args()
    if a.child:
        import anyio

        print(json.dumps(anyio.run(_child, a.child, a.seconds, a.out)))
    else:
        print(json.dumps(run(quick=a.quick, seconds=a.seconds or 25.0), indent=2))
