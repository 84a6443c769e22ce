"""The Poller on a virtual clock: a day of polling, restarts, stops, budgets."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pytest

from solaredge_async.errors import QuotaExhaustedError
from solaredge_async.poll import (
    BudgetConfig,
    Cadence,
    DueItem,
    FetchOutcome,
    NightSkip,
    Poller,
    PollMetrics,
    PollSite,
    PollTarget,
    ScaledClock,
    default_ladder,
)
from tests._clock import virtual_backend
from tests.poll._fakes import FakeSync

pytestmark = pytest.mark.anyio

START = datetime(2026, 6, 1, tzinfo=UTC)
SITES = (
    PollSite(site_id=1, zone="Europe/Berlin", latitude=52.52, longitude=13.40),
    PollSite(site_id=2, zone="Australia/Sydney", latitude=-33.87, longitude=151.21),
    PollSite(site_id=3, zone="America/Los_Angeles", latitude=37.77, longitude=-122.42),
)
ROOMY = BudgetConfig(credits_per_cycle=10**6, per_minute=10**4)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    """Each test once on asyncio and once on trio, both with a virtual clock."""
    return virtual_backend(str(request.param))


def _targets() -> list[PollTarget]:
    return [
        PollTarget(name="energy", pv=True),
        PollTarget(name="storage", pv=False),
        PollTarget(name="alerts", resolution=None, fleet=True, ladder=default_ladder(None)[1:]),
    ]


def _assert_contiguous(windows: list[tuple[datetime, datetime]], first: datetime) -> None:
    assert windows, "no window fetched"
    assert windows[0][0] == first
    for (_, end), (start, _) in itertools.pairwise(windows):
        assert start == end, "a gap or an overlap between two consecutive windows"
    assert all(start < end for start, end in windows)


async def test_a_day_of_polling_one_call_per_slot_none_at_night():
    """A day: windows tile the day, one call per target and slot, no PV call at night."""
    clock = ScaledClock(start=START)
    fake = FakeSync(clock)
    night = NightSkip()
    poller = Poller(
        sites=SITES, targets=_targets(), fetch=fake, clock=clock, budget=ROOMY, night=night
    )
    summary = await poller.run(until=START + timedelta(days=1))

    assert summary.failed == 0
    assert summary.not_attempted == 0
    assert summary.credits == sum(fake.price(c.item) for c in fake.calls)
    assert [d.rung.cadence for d in summary.decisions] == [
        Cadence.QUARTER_HOURLY,
        Cadence.QUARTER_HOURLY,
        Cadence.HOURLY,
    ]
    for site in SITES:
        midnight = START.astimezone(site.tz).replace(hour=0, minute=0).astimezone(UTC)
        for target in ("energy", "storage"):
            windows = fake.windows(site.site_id, target)
            _assert_contiguous(windows, midnight)
            # Caught up to within one bucket and the publication delay (PV: to dusk).
            caught_up = START + timedelta(days=1)
            if target == "energy":
                local = (caught_up - timedelta(seconds=1)).astimezone(site.tz).date()
                spans = [night.window(site, local + timedelta(days=d)) for d in (-1, 0)]
                caught_up = max(e for span in spans if span for e in span[1:] if e <= caught_up)
            assert windows[-1][1] >= caught_up - timedelta(minutes=30)
            times = [
                c.at
                for c in fake.calls
                if (c.item.site_id, c.item.target) == (site.site_id, target)
            ]
            slots = [
                (t - timedelta(minutes=2)).replace(
                    minute=(t - timedelta(minutes=2)).minute // 15 * 15, second=0, microsecond=0
                )
                for t in times
            ]
            assert len(set(slots)) == len(slots), "two calls in one quarter-hour slot"
        pv_times = [
            c.at for c in fake.calls if (c.item.site_id, c.item.target) == (site.site_id, "energy")
        ]
        assert not any(night.is_night(site, t) for t in pv_times)
        storage_times = [
            c.at for c in fake.calls if (c.item.site_id, c.item.target) == (site.site_id, "storage")
        ]
        assert any(night.is_night(site, t) for t in storage_times), "non-PV targets poll at night"
        # Fewer PV calls than storage calls: the night is skipped. 96 slots in a day,
        # plus the catch-up at the start, which belongs to the slot before.
        assert len(pv_times) < len(storage_times) <= 97
    alerts = fake.windows(None, "alerts")
    assert 24 <= len(alerts) <= 25
    assert alerts[0] == (START, START)


async def test_restart_mid_day_resumes_without_gap_or_duplicate():
    """Two runs, the second from the first's watermarks: windows tile the whole day."""
    midday = START + timedelta(hours=12, minutes=7)
    clock = ScaledClock(start=START)
    first = FakeSync(clock)
    summary = await Poller(
        sites=SITES, targets=_targets(), fetch=first, clock=clock, budget=ROOMY
    ).run(until=midday)

    clock2 = ScaledClock(start=midday + timedelta(minutes=41))  # 41 min of downtime
    second = FakeSync(clock2)
    await Poller(
        sites=SITES,
        targets=_targets(),
        fetch=second,
        clock=clock2,
        budget=ROOMY,
        watermarks=summary.watermarks,
    ).run(until=START + timedelta(days=1))

    for site in SITES:
        midnight = START.astimezone(site.tz).replace(hour=0, minute=0).astimezone(UTC)
        for target in ("energy", "storage"):
            before = first.windows(site.site_id, target)
            after = second.windows(site.site_id, target)
            assert (
                after[0][0]
                == before[-1][1]
                == summary.watermarks[(site.site_id, target, "QUARTER_HOUR")]
            )
            _assert_contiguous(before + after, midnight)


async def test_stop_during_a_batch_lets_it_finish():
    """stop() while the fetch callable works: the batch completes, then run returns."""
    clock = ScaledClock(start=START)
    fake = FakeSync(clock, duration=30.0)
    poller = Poller(sites=SITES, targets=_targets(), fetch=fake, clock=clock, budget=ROOMY)
    result: list[Any] = []

    async def run() -> None:
        result.append(await poller.run())

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        await anyio.sleep(10.0)  # inside the first batch (it takes 30 s)
        assert len(fake.batches) == 1
        assert not fake.calls
        poller.stop()
    (summary,) = result
    assert summary.stopped
    assert summary.batches == 1
    assert summary.succeeded == len(fake.batches[0]) == len(fake.calls) > 0


async def test_stop_while_sleeping_returns_at_once():
    """stop() between batches wakes the poller without waiting for the next slot."""
    clock = ScaledClock(start=START + timedelta(hours=12))
    fake = FakeSync(clock)
    poller = Poller(sites=SITES, targets=_targets(), fetch=fake, clock=clock, budget=ROOMY)
    async with anyio.create_task_group() as tg:
        tg.start_soon(poller.run)
        await anyio.sleep(60.0)
        batches = len(fake.batches)
        poller.stop()
    assert clock.now() < START + timedelta(hours=12, minutes=2)
    assert len(fake.batches) == batches


async def test_stop_before_run_returns_an_empty_summary():
    """A poller stopped before it runs does no work."""
    clock = ScaledClock(start=START)
    fake = FakeSync(clock)
    poller = Poller(sites=SITES, targets=_targets(), fetch=fake, clock=clock, budget=ROOMY)
    poller.stop()
    summary = await poller.run()
    assert summary.batches == 0
    assert summary.stopped
    assert not fake.calls


async def test_a_small_budget_degrades_and_stays_inside_it():
    """Ten sites on the free tier: slower cadences, a day's spend within the day's share."""
    clock = ScaledClock(start=START)
    fake = FakeSync(clock)
    targets = [
        PollTarget(name="energy", pv=True),
        PollTarget(
            name="power",
            pv=True,
            priority=1,
            ladder=default_ladder("QUARTER_HOUR", day_fallback=False),
        ),
        PollTarget(name="alerts", resolution=None, fleet=True, priority=2),
    ]
    sites = [
        PollSite(site_id=i, zone="Europe/Berlin", latitude=52.5, longitude=13.4) for i in range(10)
    ]
    metrics = PollMetrics()
    summary = await Poller(
        sites=sites, targets=targets, fetch=fake, clock=clock, metrics=metrics
    ).run(until=START + timedelta(days=1))
    assert all(d.degraded for d in summary.decisions)
    assert all(d.reason for d in summary.decisions)
    # 2,000 credits over June's 30 days, 10 % kept back.
    assert summary.credits <= 2000 * 0.9 / 30
    assert metrics.credits_spent == summary.credits
    assert metrics.credits_remaining == 2000 - summary.credits


async def test_free_tier_month_of_a_100_site_fleet():
    """A simulated month, 100 sites, free tier: within 2,000 credits, lag within cadence."""
    clock = ScaledClock(start=START)
    fake = FakeSync(clock)
    zones = [
        ("Europe/Berlin", 52.5, 13.4),
        ("America/New_York", 40.7, -74.0),
        ("Australia/Sydney", -33.9, 151.2),
        ("Asia/Kolkata", 19.1, 72.9),
    ]
    sites = [
        PollSite(
            site_id=i, zone=zones[i % 4][0], latitude=zones[i % 4][1], longitude=zones[i % 4][2]
        )
        for i in range(100)
    ]
    targets = [
        PollTarget(name="energy", pv=True),
        PollTarget(
            name="power",
            pv=True,
            priority=1,
            ladder=default_ladder("QUARTER_HOUR", day_fallback=False),
        ),
        PollTarget(name="alerts", resolution=None, fleet=True, priority=2),
    ]
    end = datetime(2026, 7, 1, tzinfo=UTC)
    poller = Poller(sites=sites, targets=targets, fetch=fake, clock=clock)
    summary = await poller.run(until=end)
    assert summary.credits <= 2000
    assert summary.failed == 0
    energy = poller.report.rung("energy") if poller.report else None
    assert energy is not None
    assert energy.resolution == "DAY"
    assert energy.cadence in {Cadence.WEEKLY, Cadence.DAILY}
    scheduler = poller.scheduler
    assert scheduler is not None
    oldest = scheduler.oldest_watermark("energy")
    assert oldest is not None
    # Weekly at DAY resolution: every site complete to within a week and a day.
    assert end - oldest <= timedelta(days=8)


async def test_quota_error_pauses_everything():
    """The server's monthly 429 trips the pacer: every target paused for the cycle."""
    clock = ScaledClock(start=START)
    calls: list[list[DueItem]] = []

    async def fetch(items):
        calls.append(list(items))
        raise QuotaExhaustedError(
            status_code=429, method="GET", path="/sites/1/energy", remaining=3
        )

    poller = Poller(sites=SITES, targets=_targets(), fetch=fetch, clock=clock, budget=ROOMY)
    summary = await poller.run(until=START + timedelta(days=2))
    assert len(calls) == 1
    assert summary.failed == len(calls[0])
    assert all(d.rung.cadence is Cadence.PAUSED for d in summary.decisions)
    assert all(d.reason.startswith("paused") for d in summary.decisions)


async def test_failures_and_omissions_retry_at_the_next_slot():
    """A failed or omitted item keeps its watermark and is retried once per slot."""
    clock = ScaledClock(start=START + timedelta(hours=10))
    fake = FakeSync(clock)
    fake.fail.add((1, "energy"))
    fake.skip.add((2, "storage"))
    metrics = PollMetrics()
    summary = await Poller(
        sites=SITES, targets=_targets(), fetch=fake, clock=clock, budget=ROOMY, metrics=metrics
    ).run(until=START + timedelta(hours=12))
    failed = fake.windows(1, "energy")
    assert len({start for start, _ in failed}) == 1  # the watermark never moved
    assert len(failed) <= 9  # the first call and at most one per quarter hour after
    assert summary.failed == len(failed)
    assert summary.not_attempted >= 1
    assert metrics.failed_items["energy"] == 1
    assert metrics.lag["energy"] > 10 * 3600
    assert summary.watermarks[(1, "energy", "QUARTER_HOUR")] == START.astimezone(
        SITES[0].tz
    ).replace(hour=0).astimezone(UTC)


async def test_watermark_short_of_the_window_is_fetched_again():
    """A fetch that completes less than asked makes the next window start there."""
    clock = ScaledClock(start=START + timedelta(hours=12))
    fake = FakeSync(clock, lag=timedelta(minutes=15))
    await Poller(
        sites=SITES[:1], targets=[PollTarget(name="storage")], fetch=fake, clock=clock, budget=ROOMY
    ).run(until=START + timedelta(hours=13))
    windows = fake.windows(1, "storage")
    for (_, end), (start, _) in itertools.pairwise(windows):
        assert start == end - timedelta(minutes=15)


async def test_learned_night_skip_from_observed_production():
    """A site without coordinates learns its night from the production it reports."""
    clock = ScaledClock(start=START)
    site = PollSite(site_id=7, zone="Europe/Berlin")
    calls: list[datetime] = []

    async def fetch(items):
        out = []
        for item in items:
            calls.append(clock.now())
            day = item.end.astimezone(site.tz).date()
            first = datetime(day.year, day.month, day.day, 6, 0, tzinfo=site.tz)
            last = datetime(day.year, day.month, day.day, 20, 0, tzinfo=site.tz)
            seen = (max(first, item.start), min(last, item.end - timedelta(minutes=15)))
            out.append(
                FetchOutcome(
                    item=item,
                    succeeded=True,
                    complete_until=item.end,
                    credits=1,
                    production=seen if seen[0] <= seen[1] else None,
                )
            )
        return out

    night = NightSkip()
    await Poller(
        sites=[site],
        targets=[PollTarget(name="energy", pv=True)],
        fetch=fetch,
        clock=clock,
        budget=ROOMY,
        night=night,
    ).run(until=START + timedelta(days=3))
    last_day = [t for t in calls if t >= START + timedelta(days=2)]
    local_hours = {t.astimezone(site.tz).hour for t in last_day}
    assert 2 not in local_hours  # 02:00 site-local is night by now
    assert 12 in local_hours


async def test_alert_pages_are_learned_and_priced():
    """Fleet alerts costing three pages a poll are priced at three calls a poll."""
    clock = ScaledClock(start=START)

    async def fetch(items):
        return [
            FetchOutcome(
                item=i, succeeded=True, complete_until=i.end, credits=3 if i.site_id is None else 1
            )
            for i in items
        ]

    alerts = PollTarget(name="alerts", resolution=None, fleet=True, ladder=default_ladder(None)[1:])
    poller = Poller(sites=SITES, targets=[alerts], fetch=fetch, clock=clock)
    await poller.run(until=START + timedelta(hours=1, minutes=30))
    assert poller.report is not None
    (decision,) = poller.report.decisions
    # One page a poll fitted hourly (720 a month); three pages do not (2,160 > 1,800),
    # so alerts drop to daily at three calls a day for the ~30 days left.
    days_left = (
        datetime(2026, 7, 1, tzinfo=UTC) - START - timedelta(hours=1)
    ).total_seconds() / 86400
    assert decision.rung.cadence is Cadence.DAILY
    assert decision.projected_calls == pytest.approx(3 * days_left, rel=0.01)


async def test_scaled_clock_runs_faster_than_anyio_time():
    """At 240x, one anyio minute is four simulated hours, both ways."""
    clock = ScaledClock(start=START, speed=240)
    begin = anyio.current_time()
    assert clock.now() == START
    await clock.sleep_until(START + timedelta(hours=4))
    assert anyio.current_time() - begin == pytest.approx(60.0)
    assert clock.now() == START + timedelta(hours=4)
    real = ScaledClock()
    assert abs(real.now() - datetime.now(UTC)) < timedelta(seconds=5)


async def test_a_library_error_fails_the_batch_and_the_run_goes_on():
    """A SolarEdgeError from the fetch callable fails its items; others propagate."""
    from solaredge_async.errors import ServerError

    clock = ScaledClock(start=START + timedelta(hours=12))
    calls = 0

    async def fetch(items):
        nonlocal calls
        calls += 1
        raise ServerError(status_code=503, method="GET", path="/sites/1/energy")

    summary = await Poller(
        sites=SITES[:1],
        targets=[PollTarget(name="storage")],
        fetch=fetch,
        clock=clock,
        budget=ROOMY,
    ).run(until=START + timedelta(hours=13))
    # At the start (12:00), then once per published bucket: 12:02, 12:17, 12:32, 12:47.
    assert calls == summary.failed == 5

    async def broken(items):
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError, match="a bug"):
        await Poller(
            sites=SITES[:1], targets=[PollTarget(name="storage")], fetch=broken, clock=clock
        ).run()


def test_bad_arguments_are_refused():
    """Empty targets, bad batch sizes, clocks and deadlines are refused up front."""
    from solaredge_async.errors import InvalidRequestError

    async def fetch(items):
        return []

    with pytest.raises(InvalidRequestError, match="target"):
        Poller(sites=SITES, targets=[], fetch=fetch)
    with pytest.raises(InvalidRequestError, match="max_batch"):
        Poller(sites=SITES, targets=_targets(), fetch=fetch, max_batch=0)
    with pytest.raises(InvalidRequestError, match="billing_day"):
        BudgetConfig(billing_day=32)
    with pytest.raises(InvalidRequestError, match="per_minute"):
        BudgetConfig(per_minute=0)
    with pytest.raises(InvalidRequestError, match="speed"):
        ScaledClock(speed=0)
    with pytest.raises(InvalidRequestError, match="aware"):
        ScaledClock(start=datetime(2026, 6, 1))


async def test_a_fall_back_day_is_tiled_by_100_quarter_hours():
    """Europe/Berlin on 25 October 2026 (25 h): hourly polls tile all 100 buckets."""
    site = PollSite(site_id=1, zone="Europe/Berlin")
    midnight = datetime(2026, 10, 24, 22, 0, tzinfo=UTC)  # 00:00 CEST
    next_midnight = datetime(2026, 10, 25, 23, 0, tzinfo=UTC)  # 00:00 CET, 25 h later
    clock = ScaledClock(start=midnight)
    fake = FakeSync(clock)
    hourly = default_ladder("QUARTER_HOUR")[1:]
    await Poller(
        sites=[site],
        targets=[PollTarget(name="storage", ladder=hourly)],
        fetch=fake,
        clock=clock,
        budget=ROOMY,
    ).run(until=next_midnight + timedelta(minutes=3))
    windows = fake.windows(1, "storage")
    _assert_contiguous(windows, midnight)
    assert windows[-1][1] == next_midnight
    assert sum((end - start) / timedelta(minutes=15) for start, end in windows) == 100
    # One poll per site-local hour: 25 of them, each just after the hour is published.
    assert len(windows) == 25
    assert {c.at.astimezone(site.tz).minute for c in fake.calls} == {2}
