"""A stand-in for the sync engine: records every window and prices it like the API."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import anyio
import attrs

from solaredge_async._windows import WindowCaps
from solaredge_async.poll import DueItem, FetchOutcome

if TYPE_CHECKING:
    from collections.abc import Sequence


@attrs.frozen
class Call:
    """One item as the fake saw it, with the clock time of the fetch."""

    item: DueItem
    at: datetime


class FakeSync:
    """Fetch callable: each item costs one credit per capped span, like `split_window`."""

    def __init__(self, clock, *, duration: float = 0.0, lag: timedelta = timedelta(0)) -> None:
        self.clock = clock
        self.duration = duration
        self.lag = lag
        self.calls: list[Call] = []
        self.batches: list[list[DueItem]] = []
        self.fail: set[tuple[int | None, str]] = set()
        self.skip: set[tuple[int | None, str]] = set()
        self.caps = WindowCaps()

    def price(self, item: DueItem) -> int:
        if item.resolution is None:
            return 1
        cap = self.caps.cap_for(item.resolution)
        assert cap is not None
        return max(1, math.ceil((item.end - item.start) / cap))

    async def __call__(self, items: Sequence[DueItem]) -> list[FetchOutcome]:
        self.batches.append(list(items))
        if self.duration:
            await anyio.sleep(self.duration)
        now = self.clock.now()
        outcomes = []
        for item in items:
            key = (item.site_id, item.target)
            if key in self.skip:
                continue
            self.calls.append(Call(item, now))
            if key in self.fail:
                outcomes.append(FetchOutcome(item=item, succeeded=False, credits=1, error="boom"))
                continue
            outcomes.append(
                FetchOutcome(
                    item=item,
                    succeeded=True,
                    complete_until=item.end - self.lag if item.resolution else item.end,
                    credits=self.price(item),
                )
            )
        return outcomes

    def windows(self, site_id: int | None, target: str) -> list[tuple[datetime, datetime]]:
        return [
            (c.item.start, c.item.end)
            for c in self.calls
            if (c.item.site_id, c.item.target) == (site_id, target)
        ]
