"""Running many client calls: through `solaredge_async.fleet` when it is there, else directly.

`drive` is the direct way: ``concurrency`` workers in an anyio task group pull calls
from one shared iterator (so work starts only when a worker is free and nothing is
held in advance), hand each result to ``sink`` and stop taking work at ``deadline``.
"""

from __future__ import annotations

import importlib.util
import time
from typing import TYPE_CHECKING

import anyio

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable


def fleet_available() -> bool:
    """Whether `solaredge_async.fleet` (plan_sweep, sweep) can be imported."""
    try:
        return importlib.util.find_spec("solaredge_async.fleet") is not None
    except (ImportError, ValueError):
        return False


class Outcome:
    """Counts of a run: results, failures (by error type), whether the deadline hit."""

    def __init__(self) -> None:
        self.done = 0
        self.failed: dict[str, int] = {}
        self.timed_out = False
        self.seconds = 0.0

    @property
    def failures(self) -> int:
        """All failures."""
        return sum(self.failed.values())


async def drive(
    calls: Iterable[Callable[[], Awaitable[object]]],
    concurrency: int,
    *,
    sink: Callable[[object], None] | None = None,
    deadline: float | None = None,
) -> Outcome:
    """Run ``calls`` with ``concurrency`` workers; ``deadline`` is a `time.perf_counter` time."""
    outcome = Outcome()
    iterator = iter(calls)
    start = time.perf_counter()

    async def worker() -> None:
        for call in iterator:
            if deadline is not None and time.perf_counter() >= deadline:
                outcome.timed_out = True
                return
            try:
                result = await call()
            except Exception as exc:  # counted, like a sweep's failed item
                name = type(exc).__name__
                outcome.failed[name] = outcome.failed.get(name, 0) + 1
                continue
            outcome.done += 1
            if sink is not None:
                sink(result)

    async with anyio.create_task_group() as tg:
        for _ in range(concurrency):
            tg.start_soon(worker)
    outcome.seconds = time.perf_counter() - start
    return outcome


async def fleet_sweep(
    client: object,
    plan: object,
    *,
    sink: Callable[[object], None] | None = None,
    deadline: float | None = None,
) -> Outcome:
    """Run a `SweepPlan` with `solaredge_async.fleet.sweep`; stop reading at ``deadline``.

    ``sink`` gets each `ItemSucceeded`. Leaving early cancels the rest (the sweep's
    own clean-up), which is how a time-bounded sweep ends.
    """
    from solaredge_async import SolarEdgeClient  # noqa: PLC0415
    from solaredge_async.fleet import ItemFailed, ItemSucceeded, SweepPlan, sweep  # noqa: PLC0415

    assert isinstance(client, SolarEdgeClient)
    assert isinstance(plan, SweepPlan)
    outcome = Outcome()
    start = time.perf_counter()
    async with sweep(client, plan) as results:
        async for result in results:
            if isinstance(result, ItemSucceeded):
                outcome.done += 1
                if sink is not None:
                    sink(result)
            else:
                name = (
                    type(result.error).__name__
                    if isinstance(result, ItemFailed)
                    else f"not attempted: {result.reason}"
                )
                outcome.failed[name] = outcome.failed.get(name, 0) + 1
            if deadline is not None and time.perf_counter() >= deadline:
                outcome.timed_out = True
                break
    outcome.seconds = time.perf_counter() - start
    return outcome
