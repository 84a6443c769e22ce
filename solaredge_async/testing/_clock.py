"""`SimClock`: the simulator's one notion of "now", injectable, frozen or running at a speed.

Every part of the simulator that needs the time reads this clock: the per-minute rate
windows (wall-clock minutes, as the live gateway counts them), the site's "today" and the
default window, which buckets are published, token expiry and the billing month.

A running clock starts at ``start`` and advances ``speed`` times faster than its tick
source (``time.monotonic`` unless given), so a poller and the simulator can run a day in
six minutes (``SimClock(start=..., speed=240.0)``). A frozen clock stays put until
`SimClock.set` or `SimClock.advance` moves it.

The per-minute windows need one more thing: callers (the in-process transport, the
loopback server) stamp each request with their own tick, often an event loop's virtual
clock. `SimClock.gateway_time` maps such a tick onto the clock's timeline: the instant of
the first tick seen is the clock's reading then, and later ticks add their elapsed time
times ``speed``. So a frozen clock at 16:05:57 still sees the next wall-clock minute begin
3 (virtual) seconds later, as the live gateway would.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["SimClock"]


class SimClock:
    """The simulator's clock: an instant that is frozen or runs at ``speed`` from ``start``.

    Args:
        start: The instant the clock reads at creation (aware), or ``None`` for the real
            wall clock's current time.
        speed: Simulated seconds per second of the tick source (> 0; 1.0 is real time).
        frozen: Stay at ``start`` until `set` or `advance` moves the clock.
        ticks: The tick source of a running clock, seconds (default ``time.monotonic``).

    Raises:
        ValueError: ``start`` is naive, or ``speed`` is not a positive finite number.
    """

    __slots__ = ("_anchor", "_base", "_epoch", "_frozen", "_lock", "_speed", "_tick0", "_ticks")

    def __init__(
        self,
        start: datetime | None = None,
        *,
        speed: float = 1.0,
        frozen: bool = False,
        ticks: Callable[[], float] | None = None,
    ) -> None:
        if not (speed > 0 and speed != float("inf")):
            raise ValueError(f"speed must be a positive finite number, got {speed!r}")
        if start is not None and start.tzinfo is None:
            raise ValueError("start must be an aware datetime (or None for the wall clock)")
        self._ticks = ticks or time.monotonic
        self._speed = float(speed)
        self._frozen = frozen
        self._base = time.time() if start is None else start.timestamp()
        self._tick0 = self._ticks()
        self._epoch = 0
        self._anchor: tuple[float, float, int] | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        state = "frozen" if self._frozen else f"speed={self._speed:g}"
        return f"<SimClock {self.now().isoformat()} {state}>"

    @property
    def speed(self) -> float:
        """Simulated seconds per second of the tick source."""
        return self._speed

    @property
    def frozen(self) -> bool:
        """Whether the clock stands still until moved."""
        return self._frozen

    def timestamp(self) -> float:
        """Return the clock's "now", POSIX seconds."""
        if self._frozen:
            return self._base
        return self._base + (self._ticks() - self._tick0) * self._speed

    def now(self) -> datetime:
        """Return the clock's "now" as an aware UTC datetime."""
        return datetime.fromtimestamp(self.timestamp(), UTC)

    def set(self, when: datetime, *, frozen: bool | None = None) -> None:
        """Jump to ``when`` (aware); ``frozen`` also stops or restarts the clock.

        Raises:
            ValueError: ``when`` is naive.
        """
        if when.tzinfo is None:
            raise ValueError("SimClock.set needs an aware datetime")
        self._rebase(when.timestamp(), self._frozen if frozen is None else frozen)

    def follow_wall_clock(self) -> None:
        """Run from the real wall clock's current time, at the clock's speed."""
        self._rebase(time.time(), frozen=False)

    def advance(self, delta: timedelta | float) -> None:
        """Move the clock forward by ``delta`` (a timedelta or seconds)."""
        seconds = delta.total_seconds() if isinstance(delta, timedelta) else float(delta)
        self._rebase(self.timestamp() + seconds, self._frozen)

    def _rebase(self, base: float, frozen: bool) -> None:
        with self._lock:
            self._base = base
            self._tick0 = self._ticks()
            self._frozen = frozen
            self._epoch += 1

    def gateway_time(self, tick: float) -> float:
        """Map a caller's tick (seconds of its own monotonic clock) onto the timeline.

        The first tick after the clock was created or moved reads the clock's "now";
        later ticks add their elapsed time times `speed`, whether or not the clock is
        frozen. The result, POSIX seconds, places the per-minute windows on the
        timeline's wall-clock minutes.
        """
        anchor = self._anchor
        if anchor is None or anchor[2] != self._epoch:
            with self._lock:
                anchor = self._anchor = (tick, self.timestamp(), self._epoch)
        return anchor[1] + (tick - anchor[0]) * self._speed
