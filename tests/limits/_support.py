"""Helpers of the limits tests: a settable wall clock."""

from __future__ import annotations

import datetime as dt


class WallClock:
    """A wall clock the test sets and moves (aware UTC datetimes)."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        """Move the clock forward by a timedelta's keyword arguments."""
        self.now += dt.timedelta(**delta)


def utc(*args: int) -> dt.datetime:
    """An aware UTC datetime."""
    return dt.datetime(*args, tzinfo=dt.UTC)  # type: ignore[misc]
