"""A worker process for the shared-ledger tests: charge one file ledger N times.

Usage: python -m tests.limits._ledger_worker PATH ACCOUNT N BACKEND
"""

from __future__ import annotations

import sys

import anyio

from solaredge_async.limits import FileCreditLedger


async def _main(path: str, account: str, count: int) -> None:
    ledger = FileCreditLedger(path, monthly_credits=0)
    async with anyio.create_task_group() as tg:
        for _ in range(4):  # four tasks per process: threads of one process contend too
            tg.start_soon(_charge, ledger, account, count // 4)


async def _charge(ledger: FileCreditLedger, account: str, count: int) -> None:
    for _ in range(count):
        await ledger.charge(account)


if __name__ == "__main__":
    path, account, count, backend = sys.argv[1:5]
    anyio.run(_main, path, account, int(count), backend=backend)
