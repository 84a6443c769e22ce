"""Virtual clocks for timing tests, on both anyio backends.

trio has ``MockClock(autojump_threshold=0)``: when every task is blocked the
clock jumps to the next deadline. `VirtualClockLoop` does the same for asyncio:
its ``time()`` is virtual and, when the selector would block with a timeout, the
clock jumps by that timeout instead. Use as a module-level fixture override::

    from tests._clock import virtual_backend

    @pytest.fixture(params=["asyncio", "trio"])
    def anyio_backend(request):
        return virtual_backend(request.param)

Both clocks jump while a task waits for a worker thread (``anyio.to_thread``), so a
timer can fire before the thread's work is done. A test on a virtual clock that uses a
store opens it with ``open_store(url, _inline=True)``: its calls then run on the event
loop's thread and the clock cannot pass them.
"""

from __future__ import annotations

import asyncio
import selectors
from typing import Any


class _JumpingSelector(selectors.DefaultSelector):  # type: ignore[misc,valid-type]
    def __init__(self, loop: VirtualClockLoop) -> None:
        super().__init__()
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[Any]:
        events = super().select(0)
        if not events and timeout is not None and timeout > 0:
            self._loop.virtual_time += timeout
        return events


class VirtualClockLoop(asyncio.SelectorEventLoop):
    """An asyncio loop whose clock jumps to the next timer when all tasks wait."""

    def __init__(self) -> None:
        self.virtual_time = 0.0
        super().__init__(_JumpingSelector(self))

    def time(self) -> float:
        return self.virtual_time


def virtual_backend(name: str) -> tuple[str, dict[str, Any]]:
    """An anyio_backend value with a fresh virtual clock for ``name``."""
    if name == "asyncio":
        return ("asyncio", {"loop_factory": VirtualClockLoop})
    import trio.testing

    return ("trio", {"clock": trio.testing.MockClock(autojump_threshold=0)})
