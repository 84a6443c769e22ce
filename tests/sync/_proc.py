"""Child processes of the sync tests: ``python -m tests.sync._proc MODE URL ...``.

``hang N``: sync the standard fleet into URL, committing every 2 items; after N items
print ``ready`` and block (the parent kills the process with SIGKILL).
``worker OWNER``: sync the standard fleet into URL with lease owner OWNER and print the
report as one JSON line, with every data window it requested (path, from, to).
"""

from __future__ import annotations

import json
import sys

import anyio
import httpx

from solaredge_async import SolarEdgeClient
from solaredge_async.store import open_store
from solaredge_async.sync import SyncProgress, SyncSpec, plan_sync, run_sync
from tests.fleet._support import NOW, make_client, make_sim
from tests.sync._support import SINCE

#: The fleet the child processes sync (the parent builds the same one).
SITES = 8
SPEC = SyncSpec(what=("energy", "power", "inverter_telemetry"), since=SINCE)


async def _hang(url: str, after: int) -> None:
    sim = make_sim(SITES)

    def progress(p: SyncProgress) -> None:
        if p.done == after:
            sys.stdout.write("ready\n")
            sys.stdout.flush()
            sys.stdin.readline()  # blocks the whole process until it is killed

    async with make_client(sim, max_concurrency=1) as client, open_store(url) as store:
        plan = await plan_sync(client, store, SPEC, now=NOW)
        await run_sync(client, store, plan, on_progress=progress, batch_items=2, concurrency=1)


class _Recording(httpx.AsyncBaseTransport):
    """The simulator's transport, keeping each data window requested (path, from, to)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.windows: list[list[str]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        params = request.url.params
        if "from" in params:
            self.windows.append([request.url.path, params["from"], params.get("to", "")])
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def _worker(url: str, owner: str) -> None:
    sim = make_sim(SITES)
    recording = _Recording(sim.transport())
    client = SolarEdgeClient(
        api_key=sim.api_key,
        transport=recording,
        base_url=sim.base_url,
        requests_per_minute=None,
        max_concurrency=8,
    )
    async with client, open_store(url, busy_timeout=30.0) as store:
        plan = await plan_sync(client, store, SPEC, now=NOW)
        report = await run_sync(client, store, plan, owner=owner, claim_size=3, concurrency=2)
    line = {
        "credits": report.credits,
        "succeeded": report.succeeded,
        "failed": report.failed,
        "held_elsewhere": report.held_elsewhere,
        "windows": recording.windows,
    }
    sys.stdout.write(json.dumps(line) + "\n")


def main(argv: list[str]) -> None:
    """Run the mode named in ``argv``."""
    mode, url, arg = argv[1], argv[2], argv[3]
    if mode == "hang":
        anyio.run(_hang, url, int(arg))
    else:
        anyio.run(_worker, url, arg)


if __name__ == "__main__":
    main(sys.argv)
