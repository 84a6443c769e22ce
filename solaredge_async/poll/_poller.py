"""The `Poller`: a long-running loop that keeps a fleet current within its budget.

It drives a `Scheduler` with two things injected, so that it runs the same on the real
clock, on a virtual clock in tests and at a speed factor in demos:

* a **fetch callable**, ``async fetch(items) -> outcomes``: given a batch of `DueItem`
  (site, target, resolution and the window ``[start, end)`` from the watermark to the
  newest published bucket), it fetches and stores them (the sync engine) and returns one
  `FetchOutcome` per item it attempted: the new watermark, the credits spent, the 429s.
  An item it leaves out counts as not attempted and is due again at its next slot;
* a **clock** (`Clock`): ``now()`` and ``sleep_until()``. `ScaledClock` maps anyio's
  clock (virtual under trio's ``MockClock``) onto wall-clock instants at any speed.

Every ``repace_every`` (and after a quota error) the poller re-runs the budget pacing
with the credits left in the cycle and moves targets between rungs; every change is
kept as a `CadenceDecision` in the summary and logged.

`Poller.stop` ends the run gracefully: a sleeping poller wakes at once; a batch in
flight finishes (the fetch callable commits it) before `Poller.run` returns its
`PollSummary`. Cancelling the task that runs `Poller.run` instead abandons the batch.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol, TypeAlias

import anyio
import attrs

from solaredge_async.errors import InvalidRequestError, QuotaExhaustedError, SolarEdgeError
from solaredge_async.poll._budget import (
    BudgetState,
    CadenceDecision,
    PacingReport,
    billing_cycle,
    estimate_demand,
    pace,
)
from solaredge_async.poll._night import NightSkip, PollSite
from solaredge_async.poll._schedule import DueItem, PollTarget, Scheduler, WatermarkKey

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from solaredge_async._windows import WindowCaps
    from solaredge_async.poll._metrics import PollMetrics

__all__ = [
    "BudgetConfig",
    "Clock",
    "FetchBatch",
    "FetchOutcome",
    "PollSummary",
    "Poller",
    "ScaledClock",
]

_log = logging.getLogger("solaredge_async.poll")


class Clock(Protocol):
    """Where the poller reads the time and waits (aware datetimes)."""

    def now(self) -> datetime:
        """The current instant (aware)."""
        ...

    async def sleep_until(self, when: datetime) -> None:
        """Return at ``when`` (at once if it has passed)."""
        ...


class ScaledClock:
    """Wall-clock instants driven by anyio's clock, optionally faster than real time.

    ``now() = start + speed * (anyio.current_time() - t0)``, where ``t0`` is anyio's
    time at the first reading. Under trio's ``MockClock`` (or the test suite's virtual
    asyncio loop) anyio's clock is virtual, so a simulated day runs in milliseconds.

    Args:
        start: The instant the clock starts at (default: the real now, UTC).
        speed: Simulated seconds per anyio second (``--sim-speed``; default 1).

    Raises:
        InvalidRequestError: A naive start or a speed that is not positive.
    """

    def __init__(self, *, start: datetime | None = None, speed: float = 1.0) -> None:
        if start is not None and start.utcoffset() is None:
            raise InvalidRequestError(f"start must be an aware datetime, got {start!r}")
        if not speed > 0 or math.isinf(speed):
            raise InvalidRequestError(f"speed must be a positive number, got {speed!r}")
        self._start = start
        self._speed = speed
        self._t0: float | None = None

    def _origin(self) -> tuple[datetime, float]:
        if self._t0 is None or self._start is None:
            self._t0 = anyio.current_time()
            self._start = (self._start or datetime.now(UTC)).astimezone(UTC)
        return self._start, self._t0

    def now(self) -> datetime:
        """The current instant (UTC); must be called inside the event loop."""
        start, t0 = self._origin()
        return start + timedelta(seconds=(anyio.current_time() - t0) * self._speed)

    async def sleep_until(self, when: datetime) -> None:
        """Sleep until the clock reads ``when``."""
        start, t0 = self._origin()
        await anyio.sleep_until(t0 + (when - start).total_seconds() / self._speed)


@attrs.frozen(kw_only=True)
class FetchOutcome:
    """What the fetch callable did with one `DueItem`.

    Attributes:
        item: The item, as handed over.
        succeeded: Whether the item was fetched and stored.
        complete_until: The watermark after this item (UTC or any aware zone), or
            `None` when it did not move. Normally ``item.end``; less when the newest
            buckets were not final yet. It never moves back.
        credits: Credits spent on the item (every attempt, retries and errors too).
        rate_limited: 429 answers among those attempts.
        error: A short description of the failure (never a secret).
        production: For PV targets of sites without coordinates: the starts of the
            first and last non-zero production buckets in the window, which teach
            the night skip (`NightSkip.observe`).
    """

    item: DueItem
    succeeded: bool
    complete_until: datetime | None = None
    credits: int = 0
    rate_limited: int = 0
    error: str | None = None
    production: tuple[datetime, datetime] | None = None


#: ``async def fetch(items: Sequence[DueItem]) -> Sequence[FetchOutcome]``.
FetchBatch: TypeAlias = Callable[[Sequence[DueItem]], Awaitable[Sequence[FetchOutcome]]]


def _check_positive(_instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not value > 0:
        raise InvalidRequestError(f"{attribute.name} must be positive, got {value!r}")


def _check_billing_day(_instance: object, _attribute: object, value: int) -> None:
    if not 1 <= value <= 31:  # noqa: PLR2004 - days of a month
        raise InvalidRequestError(f"billing_day must be within 1..31, got {value!r}")


@attrs.frozen(kw_only=True)
class BudgetConfig:
    """The account's limits, as the poller paces against them.

    Attributes:
        credits_per_cycle: Credits a billing cycle allows (free tier: 2,000).
        per_minute: Calls a minute allowed (free tier: 10).
        billing_day: Day of the month the cycle renews (1-31).
        credits_spent: Credits already spent in the current cycle when the run starts
            (from the credit ledger or the store's ``runs``).
        safety_margin: The share of credits and of the per-minute limit left unplanned.

    Raises:
        InvalidRequestError: A billing day outside 1-31 or a non-positive per-minute
            limit (the other values are checked when pacing starts).
    """

    credits_per_cycle: int = 2000
    per_minute: float = attrs.field(default=10.0, validator=_check_positive)
    billing_day: int = attrs.field(default=1, validator=_check_billing_day)
    credits_spent: int = 0
    safety_margin: float = 0.1


@attrs.frozen(kw_only=True)
class PollSummary:
    """What one `Poller.run` did.

    Attributes:
        started: When it started (clock time, UTC).
        ended: When it ended.
        credits: Credits spent by the fetch callable.
        succeeded: Items fetched and stored.
        failed: Items attempted that failed.
        not_attempted: Items handed over but left out of the outcomes.
        rate_limited: 429 answers.
        batches: Calls of the fetch callable.
        stopped: Whether `Poller.stop` ended it (else ``until`` was reached).
        decisions: The latest cadence decision per target.
        changes: Every decision that moved a target to another rung, in order (the
            first pacing included).
        watermarks: ``complete_until`` per key at the end.
    """

    started: datetime
    ended: datetime
    credits: int
    succeeded: int
    failed: int
    not_attempted: int
    rate_limited: int
    batches: int
    stopped: bool
    decisions: tuple[CadenceDecision, ...]
    changes: tuple[CadenceDecision, ...]
    watermarks: Mapping[WatermarkKey, datetime]


class Poller:
    """Keep a fleet current: schedule, skip nights, pace the budget, fetch in batches.

    Args:
        sites: The fleet.
        targets: What to keep current (alerts as a fleet target with its own ladder).
        fetch: The fetch callable (see the module docstring).
        clock: The clock (default: `ScaledClock` at real time).
        budget: The account's limits (default: the free tier).
        watermarks: ``complete_until`` per key, from the store on a restart.
        since: Where keys without a watermark start (default: site-local midnight).
        night: The night skip for PV targets (default: a `NightSkip` with 30 min margin).
        caps: Span caps, for pricing polls (default: `WindowCaps`).
        max_batch: The most items handed to one fetch call.
        repace_every: How often the budget is re-paced (clock time).
        metrics: Counters to update (optional; see `PollMetrics`).

    Raises:
        InvalidRequestError: An empty target list, a non-positive batch size or pacing
            interval.
    """

    def __init__(
        self,
        *,
        sites: Iterable[PollSite],
        targets: Iterable[PollTarget],
        fetch: FetchBatch,
        clock: Clock | None = None,
        budget: BudgetConfig | None = None,
        watermarks: Mapping[WatermarkKey, datetime] | None = None,
        since: datetime | None = None,
        night: NightSkip | None = None,
        caps: WindowCaps | None = None,
        max_batch: int = 100,
        repace_every: timedelta = timedelta(hours=1),
        metrics: PollMetrics | None = None,
    ) -> None:
        self._sites = tuple(sites)
        self._targets = tuple(targets)
        if not self._targets:
            raise InvalidRequestError("a poller needs at least one target")
        if max_batch < 1 or repace_every <= timedelta(0):
            msg = f"max_batch and repace_every must be positive, got {max_batch}, {repace_every}"
            raise InvalidRequestError(msg)
        self._fetch = fetch
        self._clock: Clock = clock or ScaledClock()
        self._budget = budget or BudgetConfig()
        self._watermarks = dict(watermarks or {})
        self._since = since
        self._night = night if night is not None else NightSkip()
        self._caps = caps
        self._max_batch = max_batch
        self._repace_every = repace_every
        self._metrics = metrics
        self._by_id = {site.site_id: site for site in self._sites}
        self._stop = False
        self._sleep_scope: anyio.CancelScope | None = None
        self._scheduler: Scheduler | None = None
        self._report: PacingReport | None = None
        self._changes: list[CadenceDecision] = []
        self._failing: set[tuple[int | None, str]] = set()
        self._cycle_end: datetime | None = None
        self._spent_in_cycle = self._budget.credits_spent
        self._counts = {"credits": 0, "succeeded": 0, "failed": 0, "not_attempted": 0}
        self._rate_limited = 0
        self._batches = 0
        self._fleet_calls: dict[str, int] = {}
        self._fleet_names = {target.name for target in self._targets if target.fleet}

    @property
    def report(self) -> PacingReport | None:
        """The latest pacing (`None` before the run starts)."""
        return self._report

    @property
    def scheduler(self) -> Scheduler | None:
        """The scheduler of the current or last run."""
        return self._scheduler

    @property
    def stopping(self) -> bool:
        """Whether `stop` was called."""
        return self._stop

    def stop(self) -> None:
        """Ask the run to end: a batch in flight finishes, then `run` returns.

        Safe to call from any task of the run's event loop (a signal handler's task),
        before or during the run, more than once.
        """
        self._stop = True
        if self._sleep_scope is not None:
            self._sleep_scope.cancel()

    async def run(self, *, until: datetime | None = None) -> PollSummary:
        """Poll until ``until`` (clock time) or `stop`, then return the summary.

        Raises:
            InvalidRequestError: A naive ``until``.
            Exception: Whatever the fetch callable raises that is not a
                `SolarEdgeError` (those fail their batch's items and the run goes on).
        """
        if until is not None and until.utcoffset() is None:
            raise InvalidRequestError(f"until must be an aware datetime, got {until!r}")
        started = self._clock.now()
        self._scheduler = Scheduler(
            self._sites,
            self._targets,
            now=started,
            watermarks=self._watermarks,
            since=self._since,
            night=self._night,
        )
        self._repace(started)
        next_pace = started + self._repace_every
        while not self._stop:
            now = self._clock.now()
            if until is not None and now >= until:
                break
            if now >= next_pace or (self._cycle_end is not None and now >= self._cycle_end):
                self._repace(now)
                next_pace = now + self._repace_every
            items = self._scheduler.pop_due(now, limit=self._max_batch)
            if items:
                await self._run_batch(items)
                continue
            wake = min(
                w for w in (self._scheduler.next_due(), until, next_pace, self._cycle_end) if w
            )
            with anyio.CancelScope() as scope:
                self._sleep_scope = scope
                if self.stopping:
                    scope.cancel()
                await self._clock.sleep_until(wake)
            self._sleep_scope = None
        ended = self._clock.now()
        self._update_gauges(ended)
        report = self._report
        if report is None:  # pragma: no cover - paced before the loop
            raise AssertionError
        return PollSummary(
            started=started.astimezone(UTC),
            ended=ended.astimezone(UTC),
            credits=self._counts["credits"],
            succeeded=self._counts["succeeded"],
            failed=self._counts["failed"],
            not_attempted=self._counts["not_attempted"],
            rate_limited=self._rate_limited,
            batches=self._batches,
            stopped=self._stop,
            decisions=report.decisions,
            changes=tuple(self._changes),
            watermarks=self._scheduler.watermarks(),
        )

    def _pace(self, scheduler: Scheduler, now: datetime) -> PacingReport:
        _, end = billing_cycle(now, self._budget.billing_day)
        if self._cycle_end is not None and end != self._cycle_end:
            self._spent_in_cycle = 0  # a new cycle: the allowance renewed
        self._cycle_end = end
        state = BudgetState(
            credits_per_cycle=self._budget.credits_per_cycle,
            credits_spent=self._spent_in_cycle,
            cycle_end=end,
            per_minute=self._budget.per_minute,
            safety_margin=self._budget.safety_margin,
        )
        horizon = end - now
        fractions = (
            [
                self._night.daylight_fraction(site, now.astimezone(site.tz).date())
                for site in self._sites
            ]
            if any(target.pv for target in self._targets)
            else []
        )
        daylight = sum(fractions) / len(fractions) if fractions else 1.0
        demands = [
            estimate_demand(
                self._priced(target),
                sites=len(self._sites),
                horizon=horizon,
                daylight_fraction=daylight if target.pv else 1.0,
                caps=self._caps,
                backlog={
                    resolution: scheduler.backlog(target.name, resolution, now)
                    for resolution in {r.resolution for r in target.ladder}
                    if resolution is not None
                },
            )
            for target in self._targets
        ]
        current = (
            None if self._report is None else {d.target: d.rung for d in self._report.decisions}
        )
        report = pace(demands, state, now, current=current)
        previous = (
            {} if self._report is None else {d.target: d.rung for d in self._report.decisions}
        )
        for decision in report.decisions:
            if previous.get(decision.target) != decision.rung:
                self._changes.append(decision)
                _log.info(
                    "poll cadence: %s -> %s (%s)",
                    decision.target,
                    decision.rung.label,
                    decision.reason,
                )
        if self._metrics is not None:
            self._metrics.credits_remaining = state.credits_remaining
            for decision in report.decisions:
                seconds = decision.rung.grid.seconds
                self._metrics.cadence[decision.target] = seconds or 0.0
        return report

    def _priced(self, target: PollTarget) -> PollTarget:
        # A fleet target's pages per poll (``/alerts`` grows with the fleet's open
        # alerts) are learned from what its last poll cost.
        pages = self._fleet_calls.get(target.name)
        if not target.fleet or pages is None or pages == target.calls_per_poll:
            return target
        return attrs.evolve(target, calls_per_poll=pages)

    def _repace(self, now: datetime) -> None:
        if self._scheduler is None:  # pragma: no cover - only called while running
            raise AssertionError
        self._report = self._pace(self._scheduler, now)
        for decision in self._report.decisions:
            self._scheduler.set_rung(decision.target, decision.rung, now)

    async def _run_batch(self, items: list[DueItem]) -> None:
        if self._scheduler is None:  # pragma: no cover - only called while running
            raise AssertionError
        self._batches += 1
        if self._metrics is not None:
            self._metrics.batches += 1
        outcomes: Sequence[FetchOutcome]
        quota = False
        try:
            outcomes = await self._fetch(items)
        except QuotaExhaustedError as exc:
            quota = True
            outcomes = [FetchOutcome(item=i, succeeded=False, error=str(exc)) for i in items]
        except SolarEdgeError as exc:
            outcomes = [FetchOutcome(item=i, succeeded=False, error=str(exc)) for i in items]
        now = self._clock.now()
        by_key = {outcome.item.key: outcome for outcome in outcomes}
        for item in items:
            self._settle(item, by_key.get(item.key), now)
        if quota:
            # The server says the month's credits are gone, whatever the ledger says.
            self._spent_in_cycle = max(self._spent_in_cycle, self._budget.credits_per_cycle)
            self._repace(now)
        self._update_gauges(now)

    def _settle(self, item: DueItem, outcome: FetchOutcome | None, now: datetime) -> None:
        if self._scheduler is None:  # pragma: no cover - only called while running
            raise AssertionError
        entry = (item.site_id, item.target)
        if outcome is None:
            self._counts["not_attempted"] += 1
            self._scheduler.complete(item, now, None)
            if self._metrics is not None:
                self._metrics.record_item(item.target, "not_attempted", spent=0, rate_limited=0)
            return
        kind = "succeeded" if outcome.succeeded else "failed"
        self._counts[kind] += 1
        self._counts["credits"] += outcome.credits
        self._spent_in_cycle += outcome.credits
        self._rate_limited += outcome.rate_limited
        if outcome.succeeded:
            self._failing.discard(entry)
            if item.target in self._fleet_names and outcome.credits > 0:
                self._fleet_calls[item.target] = outcome.credits
        else:
            self._failing.add(entry)
            _log.warning("poll item failed: %s (%s)", item.target, outcome.error or "no detail")
        site = self._by_id.get(item.site_id) if item.site_id is not None else None
        if outcome.production is not None and site is not None:
            self._night.observe(site, *outcome.production)
        self._scheduler.complete(item, now, outcome.complete_until)
        if self._metrics is not None:
            self._metrics.record_item(
                item.target, kind, spent=outcome.credits, rate_limited=outcome.rate_limited
            )

    def _update_gauges(self, now: datetime) -> None:
        if self._metrics is None or self._scheduler is None:
            return
        self._metrics.credits_remaining = max(
            0, self._budget.credits_per_cycle - self._spent_in_cycle
        )
        for target in self._targets:
            oldest = self._scheduler.oldest_watermark(target.name)
            if oldest is not None:
                self._metrics.lag[target.name] = max(0.0, (now - oldest).total_seconds())
            self._metrics.failed_items[target.name] = sum(
                1 for _, name in self._failing if name == target.name
            )
