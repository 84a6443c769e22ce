"""`FollowClock`: the poller's clock read from another clock, so that both agree.

With ``--simulate --sim-speed X`` the simulator and the poller must live on one
timeline: the simulator publishes buckets by its `SimClock`, and the poller schedules
by its own clock. Building the poller's clock *from* the simulator's (rather than two
clocks started side by side) leaves nothing to drift::

    sim_clock = SimClock(start, speed=240.0, ticks=anyio.current_time)
    poller = Poller(..., clock=FollowClock(sim_clock))
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Protocol

import anyio

from solaredge_async.errors import InvalidRequestError

__all__ = ["FollowClock", "TimeSource"]

_EPSILON = 1e-6


class TimeSource(Protocol):
    """A clock to follow: its reading and its speed (e.g. the simulator's `SimClock`)."""

    @property
    def speed(self) -> float:
        """Its seconds per second of anyio's clock."""
        ...

    def now(self) -> datetime:
        """Its current instant (aware)."""
        ...


class FollowClock:
    """A `Clock` whose ``now()`` is ``source.now()``; it sleeps ``delta / speed``.

    The source must advance with anyio's clock (a `SimClock` made with
    ``ticks=anyio.current_time``, inside the event loop), so that sleeping on anyio's
    clock lands on the source's instant; under a virtual anyio clock a simulated day
    then passes in milliseconds.

    Args:
        source: The clock to follow.

    Raises:
        InvalidRequestError: A source whose speed is not a positive finite number.
    """

    def __init__(self, source: TimeSource) -> None:
        speed = source.speed
        if not speed > 0 or math.isinf(speed):
            raise InvalidRequestError(f"the source's speed must be positive, got {speed!r}")
        self._source = source

    @property
    def source(self) -> TimeSource:
        """The clock followed."""
        return self._source

    def now(self) -> datetime:
        """The source's current instant, in UTC."""
        return self._source.now().astimezone(UTC)

    async def sleep_until(self, when: datetime) -> None:
        """Sleep until the source reads ``when`` (at once if it has passed).

        A source moved by hand (`SimClock.set`) while sleeping is not noticed: the
        sleep ends at the anyio time computed when it began.
        """
        delay = (when - self.now()).total_seconds() / self._source.speed
        # A microsecond more, so that float rounding never wakes it a hair early (and
        # a virtual clock always moves).
        await anyio.sleep(delay + _EPSILON if delay > 0 else 0)
