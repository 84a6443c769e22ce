"""A worker process for the shared-limit tests: reserve slots on one Redis bucket.

Usage: python -m tests.limits._redis_worker URL PREFIX ACCOUNT RATE COUNT BACKEND MODE

MODE ``reserve`` only reserves (no waiting); ``acquire`` waits for each slot.
Prints one reserved send time (Redis server clock) per line.
"""

from __future__ import annotations

import sys

import anyio

from solaredge_async.limits import RedisLimits


async def _main(  # noqa: PLR0917 - the command line, in order
    url: str, prefix: str, account: str, rate: float, count: int, mode: str
) -> None:
    async with RedisLimits(url, prefix=prefix) as shared:
        ledger = shared.ledger(monthly_credits=0)
        limiter = shared.limiter(account, rate, safety_margin=0.5, ledger=ledger)
        for _ in range(count):
            if mode == "reserve":
                reservation = await limiter.reserve()
            else:
                reservation = await limiter.acquire()
            sys.stdout.write(f"{reservation.send_at:.6f}\n")


if __name__ == "__main__":
    url, prefix, account, rate, count, backend, mode = sys.argv[1:8]
    anyio.run(_main, url, prefix, account, float(rate), int(count), mode, backend=backend)
