"""Sweep rows are committed on a timer too, not only every 500 items or 1 MiB."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import anyio
import pytest

from solaredge_async.cli import _output
from solaredge_async.cli._sweep import COMMIT_SECONDS, results_or_ticks
from tests._clock import virtual_backend

if TYPE_CHECKING:
    from anyio.streams.memory import MemoryObjectReceiveStream


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request):
    """Both backends on a virtual clock."""
    return virtual_backend(request.param)


class _Results:
    """Like the sweep's results: a memory stream, so a timed-out receive loses nothing."""

    def __init__(self, receive: MemoryObjectReceiveStream[int]) -> None:
        self._receive = receive

    def __aiter__(self) -> _Results:
        return self

    async def __anext__(self) -> int:
        try:
            return await self._receive.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None


async def _collect(values: list[int], gap: float, every: float) -> list[int | None]:
    send, receive = anyio.create_memory_object_stream[int]()

    async def produce() -> None:
        async with send:
            for value in values:
                await anyio.sleep(gap)
                await send.send(value)

    seen: list[int | None] = []
    async with anyio.create_task_group() as tg, receive:
        tg.start_soon(produce)
        seen.extend([item async for item in results_or_ticks(_Results(receive), every)])
    return seen


@pytest.mark.anyio
async def test_a_tick_comes_whenever_no_result_arrives_in_time():
    """One result every 25 s with a 10 s timer: two ticks between results, nothing lost."""
    seen = await _collect([1, 2, 3], 25.0, COMMIT_SECONDS)
    assert seen == [None, None, 1, None, None, 2, None, None, 3]


@pytest.mark.anyio
async def test_fast_results_bring_no_ticks():
    """Results faster than the timer pass straight through."""
    assert await _collect([1, 2, 3], 1.0, 10.0) == [1, 2, 3]


def test_commit_due_after_the_interval_with_something_queued(tmp_path, monkeypatch):
    """commit_due: something queued and the last commit COMMIT_SECONDS old."""
    clock = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    store = _output.OutputStore(tmp_path, "jsonl", resume=False)
    assert not store.commit_due(COMMIT_SECONDS)  # nothing queued
    store._add_bytes(b"{}\n")
    store._pending_ids.append("a")
    clock[0] += COMMIT_SECONDS - 1
    assert not store.commit_due(COMMIT_SECONDS)
    clock[0] += 1
    assert store.commit_due(COMMIT_SECONDS)
    store.commit()
    assert not store.commit_due(COMMIT_SECONDS)
    assert (tmp_path / "journal.tsv").read_text() == "i\ta\nc\t3\n"
    store.close()
