"""The poller end to end: simulator, client, store fetcher and SQLite, on a virtual clock.

The simulator's `SimClock` ticks on anyio's (virtual) clock and the poller follows it
(`FollowClock`), so both agree on "now" and a simulated day runs in seconds.
The store is opened with ``_inline=True``: its calls run on the loop's thread, since a
virtual clock would jump ahead while a task waits for a worker thread.
"""

from __future__ import annotations

import contextlib
import itertools
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import anyio
import attrs
import pytest

from solaredge_async import SolarEdgeClient
from solaredge_async.poll import (
    BudgetConfig,
    Cadence,
    DueItem,
    FetchOutcome,
    FollowClock,
    NightSkip,
    Poller,
    PollMetrics,
    PollSite,
    PollTarget,
    RequestTally,
    StoreFetcher,
    default_ladder,
    discover_sites,
    poll_watermarks,
    sun_times,
)
from solaredge_async.store import open_store
from solaredge_async.sync import SyncSpec, plan_sync, run_sync
from solaredge_async.testing import FleetSpec, SimClock, Simulator, SimulatorConfig
from tests._clock import virtual_backend

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence
    from pathlib import Path

    from solaredge_async._usage import RequestEvent
    from solaredge_async.store import Store

pytestmark = pytest.mark.anyio

#: A June day, 00:00 UTC: night in Europe, day in the Americas' evening.
START = datetime(2026, 6, 10, tzinfo=UTC)
QUARTER = timedelta(minutes=15)
ROOMY = BudgetConfig(credits_per_cycle=10**6, per_minute=10**4)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    """Each test once on asyncio and once on trio, both with a virtual clock."""
    return virtual_backend(str(request.param))


def _targets() -> list[PollTarget]:
    return [
        PollTarget(name="energy", pv=True),
        PollTarget(
            name="power", pv=True, ladder=default_ladder("QUARTER_HOUR", day_fallback=False)
        ),
        PollTarget(name="alerts", resolution=None, fleet=True, ladder=default_ladder(None)[1:]),
    ]


@attrs.define
class World:
    """One simulated fleet, a client on it, a store, and what the client sent."""

    sim: Simulator
    clock: FollowClock
    client: SolarEdgeClient
    store: Store
    tally: RequestTally
    metrics: PollMetrics
    sites: tuple[PollSite, ...]
    events: list[tuple[datetime, str, int | None]] = attrs.Factory(list)
    discovery: int = 0

    def spent(self) -> int:
        """Credits the client spent after discovery."""
        return self.client.usage.credits - self.discovery

    def fetcher(self) -> StoreFetcher:
        """A store fetcher over this world's client and store."""
        return StoreFetcher(
            self.client, self.store, sites=self.sites, clock=self.clock, tally=self.tally
        )

    def poller(self, **kwargs: Any) -> Poller:
        """A poller of this world's fleet (energy, power, alerts), options overridden."""
        options: dict[str, Any] = {
            "sites": self.sites,
            "targets": _targets(),
            "fetch": self.fetcher(),
            "clock": self.clock,
            "budget": ROOMY,
            "metrics": self.metrics,
        }
        options.update(kwargs)
        return Poller(**options)


@contextlib.asynccontextmanager
async def _world(db: Path, *, sites: int = 3, start: datetime = START) -> AsyncIterator[World]:
    sim_clock = SimClock(start, speed=1.0, ticks=anyio.current_time)
    sim = Simulator(
        SimulatorConfig(
            fleet=FleetSpec(sites=sites),
            sim_clock=sim_clock,
            requests_per_minute=None,
            monthly_credits=None,
            record_requests=0,
        )
    )
    clock = FollowClock(sim_clock)
    metrics = PollMetrics()
    events: list[tuple[datetime, str, int | None]] = []

    def hook(event: RequestEvent) -> None:
        events.append((clock.now(), event.path, event.status_code))
        metrics.on_request(event)

    tally = RequestTally(forward=hook)
    client = SolarEdgeClient(
        api_key=sim.api_key,
        transport=sim.transport(),
        base_url=sim.base_url,
        requests_per_minute=None,
        on_request=tally,
    )
    async with client, open_store(f"sqlite:///{db}", _inline=True) as store:
        coordinates = {
            s: (sim.fleet.site(s).latitude, sim.fleet.site(s).longitude)
            for s in sim.fleet.sites_for(sim.api_key)
        }
        found = await discover_sites(client, store, coordinates=coordinates, now=clock.now())
        events.clear()
        spent = client.usage.credits
        yield World(sim, clock, client, store, tally, metrics, found, events, spent)


class Recorder:
    """Wraps a fetch callable and keeps every (item, outcome) pair, in order."""

    def __init__(self, inner: StoreFetcher) -> None:
        self.inner = inner
        self.pairs: list[tuple[DueItem, FetchOutcome]] = []
        self.batches = 0
        self.on_batch: list[Any] = []

    async def __call__(self, items: Sequence[DueItem]) -> Sequence[FetchOutcome]:
        """Fetch through the wrapped callable and record the outcomes."""
        self.batches += 1
        for hook in self.on_batch:
            hook(self.batches)
        outcomes = await self.inner(items)
        self.pairs.extend((o.item, o) for o in outcomes)
        return outcomes


def _data_calls(world: World) -> list[tuple[datetime, str]]:
    return [(at, path) for at, path, _ in world.events if path.endswith(("/energy", "/power"))]


async def _rows(store: Store, sites: Sequence[PollSite], end: datetime) -> set[tuple[Any, ...]]:
    rows: set[tuple[Any, ...]] = set()
    for site in sites:
        for r in await store.measurements(site.site_id, start=START - timedelta(days=2), end=end):
            rows.add((r.site_id, r.source, r.resolution, r.period_start, r.period_end, r.value))
    return rows


async def test_a_day_of_polling_calls_once_per_bucket_cycle_and_never_at_night(
    tmp_path: Path,
) -> None:
    """A simulated day: at most one call per site, target and quarter; PV sleeps at night."""
    async with _world(tmp_path / "day.db") as world:
        recorder = Recorder(world.fetcher())
        poller = world.poller(fetch=recorder, since=START)
        summary = await poller.run(until=START + timedelta(days=1))

        assert summary.failed == 0
        assert summary.succeeded > 0
        data_calls = _data_calls(world)
        per_slot = Counter(
            (path, (at - START) // QUARTER) for at, path in data_calls
        )  # one call a site, endpoint and quarter-hour at most
        assert per_slot
        assert max(per_slot.values()) == 1
        # Alerts ran around the clock (the loop never slept through the night) ...
        alert_hours = {
            (at - START) // timedelta(hours=1) for at, p, _ in world.events if p.endswith("/alerts")
        }
        assert len(alert_hours) == 24
        # ... while each site's PV targets were polled only in its daylight (+ margins).
        by_site = {site.site_id: site for site in world.sites}
        margin = NightSkip().margin + QUARTER
        for at, path in data_calls:
            site = by_site[int(path.split("/")[-2])]
            assert site.latitude is not None
            assert site.longitude is not None
            local_day = at.astimezone(site.tz).date()
            sun = sun_times(site.latitude, site.longitude, local_day, site.tz)
            assert sun.sunrise is not None
            assert sun.sunset is not None
            assert sun.sunrise - margin <= at <= sun.sunset + margin, (path, at)
        # Each site had a night: far fewer calls than 96 quarters x 2 PV targets.
        for site in world.sites:
            calls = sum(1 for _, p in data_calls if f"/{site.site_id}/" in p)
            assert 0 < calls < 96 * 2
        # The store holds what was fetched, the watermarks say how far it is complete.
        marks = await poll_watermarks(world.store)
        assert set(marks) == {
            (s.site_id, t, "QUARTER_HOUR") for s in world.sites for t in ("energy", "power")
        }
        assert marks == {k: v for k, v in summary.watermarks.items() if k[0] is not None}
        assert await world.store.count_measurements() > 0
        assert summary.credits == world.spent()
        assert sum(o.credits for _, o in recorder.pairs) == summary.credits


async def test_a_small_budget_degrades_the_cadence_and_is_not_overspent(tmp_path: Path) -> None:
    """50 credits left for 21 days: the poller falls back to DAY buckets and keeps inside."""
    budget = BudgetConfig(credits_per_cycle=2000, credits_spent=1950, per_minute=10)
    async with _world(tmp_path / "budget.db") as world:
        poller = world.poller(budget=budget, since=START)
        summary = await poller.run(until=START + timedelta(days=1))

        rungs = {d.target: d.rung for d in summary.decisions}
        assert rungs["energy"].grid is not Cadence.QUARTER_HOURLY
        assert rungs["power"].grid is not Cadence.QUARTER_HOURLY
        assert any("budget" in d.reason or d.reason for d in summary.changes)
        # A day's share of what is left (50 credits over 21 days), with room for
        # the first alerts poll: far below the 15-min cadence's ~150 calls.
        assert summary.credits <= 50
        assert summary.credits == world.spent()
        assert world.metrics.credits_remaining == 2000 - 1950 - summary.credits


async def test_a_restart_mid_day_resumes_without_gap_or_duplicate(tmp_path: Path) -> None:
    """Stop at noon, restart from the store: the windows join and the rows equal one run."""
    noon, evening = START + timedelta(hours=12), START + timedelta(hours=20)
    async with _world(tmp_path / "one.db") as world:
        await world.poller(since=START).run(until=evening)
        uninterrupted = await _rows(world.store, world.sites, evening)

    async with _world(tmp_path / "two.db") as world:
        first = Recorder(world.fetcher())
        await world.poller(fetch=first, since=START).run(until=noon)
        calls_before = len(_data_calls(world))
        marks = await poll_watermarks(world.store)
        second = Recorder(world.fetcher())
        # A new poller (a new process), with the store's watermarks.
        await world.poller(fetch=second, watermarks=marks, since=START).run(until=evening)
        resumed = await _rows(world.store, world.sites, evening)

        for key, mark in marks.items():
            items = [i for i, _ in second.pairs if i.key == key]
            if items:
                assert items[0].start == mark  # no gap, no repeat
        windows: dict[Any, list[tuple[datetime, datetime | None]]] = defaultdict(list)
        for item, outcome in first.pairs + second.pairs:
            if item.site_id is not None:
                windows[item.key].append((item.start, outcome.complete_until))
        for key, spans in windows.items():
            for (before, mark), (start, _) in itertools.pairwise(spans):
                assert start == (before if mark is None else mark), key
        assert len(_data_calls(world)) > calls_before
    assert resumed == uninterrupted
    assert resumed


async def test_stop_during_a_batch_commits_that_batch(tmp_path: Path) -> None:
    """`stop` while a batch is in flight: the batch is stored, then the run returns."""
    async with _world(tmp_path / "stop.db") as world:
        recorder = Recorder(world.fetcher())
        poller = world.poller(fetch=recorder, since=START)

        stopped_at: list[int] = []

        def stop_in_the_morning(batch: int) -> None:
            if not stopped_at and world.clock.now() >= START + timedelta(hours=8):
                stopped_at.append(batch)
                poller.stop()

        recorder.on_batch.append(stop_in_the_morning)
        summary = await poller.run(until=START + timedelta(days=1))

        assert summary.stopped
        assert [summary.batches] == stopped_at  # the batch in flight was the last
        last = [o for i, o in recorder.pairs if i.site_id is not None][-1]
        assert last.succeeded
        stored = await poll_watermarks(world.store)
        assert stored[last.item.key] == last.complete_until
        for key, mark in summary.watermarks.items():
            if key[0] is not None:  # stored, or never fetched at all (still at `since`)
                assert stored.get(key, START) == mark
        assert await world.store.count_measurements() > 0


async def test_poll_resumes_where_a_sync_stopped_and_writes_the_same_rows(tmp_path: Path) -> None:
    """`sync` then `poll` share watermarks and rows: the poll starts at sync's marks."""
    morning = START + timedelta(hours=8)
    async with _world(tmp_path / "shared.db", start=morning) as world:
        spec = SyncSpec(what=("energy", "power"), since=START, resolution="QUARTER_HOUR")
        plan = await plan_sync(world.client, world.store, spec, now=world.clock.now())
        report = await run_sync(world.client, world.store, plan)
        assert report.failed == 0
        synced = await poll_watermarks(world.store)
        assert synced
        assert set(synced) == {
            (s.site_id, t, "QUARTER_HOUR") for s in world.sites for t in ("energy", "power")
        }
        rows_after_sync = await _rows(world.store, world.sites, morning)

        recorder = Recorder(world.fetcher())
        poller = world.poller(fetch=recorder, watermarks=synced, targets=_targets()[:2])
        await poller.run(until=morning + timedelta(hours=2))
        firsts: dict[Any, DueItem] = {}
        for item, _ in recorder.pairs:
            firsts.setdefault(item.key, item)
        assert {key: item.start for key, item in firsts.items()} == synced
        # What sync stored is still there, unchanged: poll wrote the same rows.
        after = await _rows(world.store, world.sites, morning)
        assert rows_after_sync <= after
