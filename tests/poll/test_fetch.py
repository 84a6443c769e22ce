"""The store fetcher alone: watermarks from null tails, failed commits, quotas, attribution."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import attrs
import pytest

from solaredge_async import errors
from solaredge_async._usage import RequestEvent
from solaredge_async.models import Measurements
from solaredge_async.poll import DueItem, PollSite, RequestTally, StoreFetcher, poll_watermarks
from solaredge_async.store import StoreError, open_store

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 6, 10, 12, 2, tzinfo=UTC)
QUARTER = timedelta(minutes=15)
SITE = PollSite(site_id=7, zone="UTC")


class FixedClock:
    """A clock that stands at ``NOW``."""

    def now(self) -> datetime:
        """``NOW``."""
        return NOW

    async def sleep_until(self, when: datetime) -> None:
        """Never needed here."""
        raise AssertionError(when)


@attrs.define
class Usage:
    """The client's usage counters the fetcher reads without a tally."""

    credits: int = 0
    rate_limited_minute: int = 0
    rate_limited_monthly: int = 0


class FakeClient:
    """Answers ``/energy`` with given values per quarter from the window's start."""

    def __init__(self, values: list[float | None], *, fail: Exception | None = None) -> None:
        self.values = values
        self.fail = fail
        self.usage = Usage()
        self.hook: RequestTally | None = None

    async def site_energy(self, site_id: int, **kwargs: Any) -> Measurements:
        """Charge one credit (through the hook if any), then answer or fail."""
        del site_id
        self.usage.credits += 1
        if self.hook is not None:
            self.hook(
                RequestEvent(
                    method="GET",
                    path="/sites/7/energy",
                    status_code=200,
                    attempt=1,
                    duration=0.0,
                    credits=1,
                )
            )
        if self.fail is not None:
            raise self.fail
        start: datetime = kwargs["start"]
        stamps = tuple(start + i * QUARTER for i in range(len(self.values)))
        return Measurements(
            unit="WH", resolution="QUARTER_HOUR", timestamps=stamps, values=tuple(self.values)
        )

    site_power = site_energy

    async def alerts(self, **_: Any) -> AsyncIterator[Any]:
        """No alerts."""
        return
        yield


def _item(start: datetime, quarters: int, target: str = "energy") -> DueItem:
    return DueItem(
        site_id=SITE.site_id,
        target=target,
        resolution="QUARTER_HOUR",
        start=start,
        end=start + quarters * QUARTER,
        due=NOW,
    )


@pytest.mark.parametrize(
    ("values", "end_offset", "expected"),
    [
        # Every bucket has a value: the whole window is complete.
        ([1.0, 2.0, 3.0, 4.0], timedelta(0), 4),
        # Nulls all through (a night): published and final.
        ([None, None, None, None], timedelta(0), 4),
        # Data that stop just before the end of a fresh window: the server lags.
        ([1.0, 2.0, 3.0, None], timedelta(0), 3),
        # The same shape three hours ago: taken as final (an inverter gone quiet).
        ([1.0, 2.0, 3.0, None], timedelta(hours=3), 4),
    ],
)
async def test_the_watermark_follows_published_buckets(
    tmp_path: Path, values: list[float | None], end_offset: timedelta, expected: int
) -> None:
    """A null tail right after values holds the watermark back; other nulls do not."""
    start = NOW.replace(minute=0) - 4 * QUARTER - end_offset
    item = _item(start, 4)
    async with open_store(f"sqlite:///{tmp_path / 'w.db'}") as store:
        client = FakeClient(values)
        fetcher = StoreFetcher(client, store, sites=[SITE], clock=FixedClock())  # type: ignore[arg-type]
        [outcome] = await fetcher([item])
        assert outcome.succeeded
        assert outcome.complete_until == start + expected * QUARTER
        marks = await poll_watermarks(store)
        assert marks == {item.key: start + expected * QUARTER}
        assert await store.count_measurements() == sum(v is not None for v in values)
        assert outcome.credits == 1  # no tally: the batch's usage, split


async def test_a_failed_commit_fails_the_batch_and_moves_nothing(tmp_path: Path) -> None:
    """The store refuses the batch: every item with rows fails, no watermark moves."""
    async with open_store(f"sqlite:///{tmp_path / 'f.db'}") as store:

        async def refuse(*_: object, **__: object) -> None:
            raise StoreError("disk full")

        client = FakeClient([1.0, 2.0])
        fetcher = StoreFetcher(client, store, sites=[SITE], clock=FixedClock())  # type: ignore[arg-type]
        store.commit_batch = refuse  # type: ignore[method-assign]
        [outcome] = await fetcher([_item(NOW.replace(minute=0) - 2 * QUARTER, 2)])
        assert not outcome.succeeded
        assert outcome.complete_until is None
        assert "disk full" in (outcome.error or "")
        assert fetcher.rows == 0


async def test_quota_fails_the_batch_loudly_only_when_nothing_was_stored(tmp_path: Path) -> None:
    """Every item refused for the month's credits: the error reaches the poller."""
    async with open_store(f"sqlite:///{tmp_path / 'q.db'}") as store:
        client = FakeClient(
            [1.0],
            fail=errors.QuotaExhaustedError(status_code=429, method="GET", path="/sites/7/energy"),
        )
        fetcher = StoreFetcher(client, store, sites=[SITE], clock=FixedClock())  # type: ignore[arg-type]
        with pytest.raises(errors.QuotaExhaustedError):
            await fetcher([_item(NOW.replace(minute=0) - QUARTER, 1)])
        assert await poll_watermarks(store) == {}


async def test_a_bad_item_fails_alone_and_credits_go_to_their_item(tmp_path: Path) -> None:
    """An unsupported target fails its own item; the tally charges the other one."""
    async with open_store(f"sqlite:///{tmp_path / 't.db'}") as store:
        client = FakeClient([1.0, 2.0])
        seen: list[RequestEvent] = []
        tally = RequestTally(forward=seen.append)
        client.hook = tally
        fetcher = StoreFetcher(
            client,  # type: ignore[arg-type]
            store,
            sites=[SITE],
            clock=FixedClock(),
            tally=tally,
        )
        start = NOW.replace(minute=0) - 2 * QUARTER
        good, bad = await fetcher([_item(start, 2), _item(start, 2, target="overview")])
        assert good.succeeded
        assert good.credits == 1
        assert not bad.succeeded
        assert bad.credits == 0
        assert "cannot fetch 'overview'" in (bad.error or "")
        assert len(seen) == 1
        states = await store.watermarks()
        assert {s.item.target: s.last_error is not None for s in states} == {
            "energy": False,
            "overview": True,
        }


def test_a_fetcher_needs_a_positive_concurrency() -> None:
    """concurrency=0 is refused with the library's error."""
    with pytest.raises(errors.InvalidRequestError, match="concurrency"):
        StoreFetcher(FakeClient([]), None, sites=[], clock=FixedClock(), concurrency=0)  # type: ignore[arg-type]


async def test_stop_lets_running_items_commit_and_leaves_the_rest_out(tmp_path: Path) -> None:
    """`stop` during a batch: the item running is stored; items not started are left out."""
    async with open_store(f"sqlite:///{tmp_path / 's.db'}") as store:
        client = FakeClient([1.0, 2.0])
        fetcher = StoreFetcher(
            client,  # type: ignore[arg-type]
            store,
            sites=[SITE, PollSite(site_id=8, zone="UTC")],
            clock=FixedClock(),
            concurrency=1,
        )
        answer = client.site_energy

        async def stop_then_answer(site_id: int, **kwargs: Any) -> Measurements:
            fetcher.stop()
            return await answer(site_id, **kwargs)

        client.site_energy = stop_then_answer  # type: ignore[method-assign]
        start = NOW.replace(minute=0) - 2 * QUARTER
        other = attrs.evolve(_item(start, 2), site_id=8)
        outcomes = await fetcher([_item(start, 2), other])
        assert fetcher.stopping
        assert len(outcomes) == 1
        assert outcomes[0].succeeded
        assert client.usage.credits == 1
        marks = await poll_watermarks(store)
        assert marks == {outcomes[0].item.key: start + 2 * QUARTER}
