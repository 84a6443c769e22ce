"""Budget pacing: the finest cadences the fleet can afford until the billing cycle ends.

The arithmetic (API reference §3): the free tier allows 2,000 credits a month and 10
calls a minute; one site polled for energy and power every 15 min would spend 5,760 a
month. So the poller projects, for every target and every rung of its ladder (15 min,
hourly, daily, daily at DAY resolution, weekly at DAY resolution, paused), the calls it
would make until the cycle ends, and picks rungs so that

* the projected calls fit the credits left, less a safety margin, and
* the calls a minute at the finest cadence in use fit the per-minute limit, less the
  same margin.

Choosing (deterministic, `pace`):

1. Start every target on its finest rung.
2. While the plan does not fit, degrade by one rung the target on the finest rung, the
   least important first (highest `PollTarget.priority`, then name): cadences fall
   evenly across targets instead of one target losing everything.
3. When re-pacing, a target would move finer than its current rung only if the plan
   fits with some headroom (hysteresis); otherwise it holds its rung.
4. Then, most important first, move each target back up as far as the plan still fits,
   so spare credits are spent where they matter most.

Every choice comes with a `CadenceDecision` saying which rung and why, for logs,
metrics and the CLI. Everything here is pure: numbers in, a `PacingReport` out.
"""

from __future__ import annotations

import calendar
import math
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final

import attrs

from solaredge_async._windows import WindowCaps
from solaredge_async.errors import InvalidRequestError
from solaredge_async.poll._schedule import Cadence, PollTarget, Rung

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

__all__ = [
    "BudgetState",
    "CadenceDecision",
    "PacingReport",
    "TargetDemand",
    "billing_cycle",
    "estimate_demand",
    "pace",
]

_DAY_SECONDS: Final = 86_400.0


def billing_cycle(now: datetime, billing_day: int = 1) -> tuple[datetime, datetime]:
    """The billing cycle holding ``now``: from one anniversary to the next (UTC).

    The month resets on the billing-cycle anniversary, not on the 1st (API reference
    §3). A billing day past a month's end means that month's last day.

    Raises:
        InvalidRequestError: A billing day outside 1-31, or a naive ``now``.
    """
    if not 1 <= billing_day <= 31:  # noqa: PLR2004 - days of a month
        raise InvalidRequestError(f"billing_day must be within 1..31, got {billing_day!r}")
    if now.utcoffset() is None:
        raise InvalidRequestError(f"now must be an aware datetime, got the naive {now!r}")
    now = now.astimezone(UTC)

    def anniversary(year: int, month: int) -> datetime:
        day = min(billing_day, calendar.monthrange(year, month)[1])
        return datetime(year, month, day, tzinfo=UTC)

    start = anniversary(now.year, now.month)
    if start > now:
        year, month = (now.year, now.month - 1) if now.month > 1 else (now.year - 1, 12)
        start = anniversary(year, month)
    year, month = (start.year, start.month + 1) if start.month < 12 else (start.year + 1, 1)  # noqa: PLR2004
    return start, anniversary(year, month)


def _check_fraction(_instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise InvalidRequestError(f"{attribute.name} must be within [0, 1), got {value!r}")


@attrs.frozen(kw_only=True)
class BudgetState:
    """The credits of one billing cycle, as the pacer sees them.

    Attributes:
        credits_per_cycle: The cycle's allowance (free tier: 2,000 credits).
        credits_spent: Credits already spent in this cycle (the ledger's count).
        cycle_end: When the cycle ends and the allowance renews (UTC).
        per_minute: Calls allowed a minute (free tier: 10).
        safety_margin: The share of the cycle's allowance and of the per-minute limit
            kept unplanned (default 0.1): estimates err, other apps share the
            account. It is a fixed reserve (200 of 2,000 credits), not a share of what
            is left, so re-pacing every hour never eats into it.

    Raises:
        InvalidRequestError: Negative numbers, or a margin outside [0, 1).
    """

    credits_per_cycle: int = 2000
    credits_spent: int = 0
    cycle_end: datetime
    per_minute: float = 10.0
    safety_margin: float = attrs.field(default=0.1, validator=_check_fraction)

    def __attrs_post_init__(self) -> None:
        if self.credits_per_cycle < 0 or self.credits_spent < 0 or self.per_minute <= 0:
            msg = (
                "credits_per_cycle and credits_spent must not be negative and per_minute "
                f"must be positive, got {self.credits_per_cycle}, {self.credits_spent}, "
                f"{self.per_minute}"
            )
            raise InvalidRequestError(msg)

    @property
    def credits_remaining(self) -> int:
        """Credits left in the cycle (never negative)."""
        return max(0, self.credits_per_cycle - self.credits_spent)

    @property
    def credits_available(self) -> float:
        """Credits the pacer may plan: those left, less the reserve (never negative)."""
        return max(0.0, self.credits_remaining - self.credits_per_cycle * self.safety_margin)

    @property
    def per_minute_available(self) -> float:
        """Calls a minute the pacer may plan: the limit less the safety margin."""
        return self.per_minute * (1.0 - self.safety_margin)


@attrs.frozen(kw_only=True)
class TargetDemand:
    """What a target would cost at each rung of its ladder until the cycle ends.

    Attributes:
        target: The target's name.
        priority: Lower is more important.
        rungs: The ladder, finest first.
        calls: Projected calls until the cycle ends, per rung (same order).
        calls_per_minute: Average calls a minute while polling at that rung, per rung
            (during daylight for PV targets: the busiest stretch).
    """

    target: str
    priority: int
    rungs: tuple[Rung, ...]
    calls: tuple[float, ...]
    calls_per_minute: tuple[float, ...]

    def __attrs_post_init__(self) -> None:
        if not (len(self.rungs) == len(self.calls) == len(self.calls_per_minute) > 0):
            msg = f"target {self.target!r}: rungs, calls and calls_per_minute must match"
            raise InvalidRequestError(msg)


def _calls_per_poll(rung: Rung, interval: float, caps: WindowCaps) -> int:
    """Calls one poll costs per site: its span split at the resolution's cap."""
    if rung.resolution is None:
        return 1
    cap = caps.cap_for(rung.resolution)
    if cap is None:
        return 1
    return max(1, math.ceil(interval / cap.total_seconds()))


def _catch_up(rung: Rung, backlog: Mapping[str, Sequence[timedelta]], caps: WindowCaps) -> float:
    if rung.resolution is None or rung.cadence is Cadence.PAUSED:
        return 0.0
    cap = caps.cap_for(rung.resolution)
    spans = backlog.get(rung.resolution, ())
    if cap is None:
        return float(sum(1 for span in spans if span > timedelta(0)))
    # Beyond one poll's regular span, each capped stretch of the backlog is a call.
    regular = timedelta(seconds=rung.grid.seconds or 0.0)
    return float(sum(math.ceil((span - regular) / cap) for span in spans if span > regular))


def _rung_cost(
    rung: Rung,
    *,
    units: int,
    horizon: float,
    daylight: float,
    pv: bool,
    caps: WindowCaps,
    per_poll: int,
) -> tuple[float, float]:
    interval = rung.grid.seconds
    if interval is None or units == 0 or horizon <= 0:
        return 0.0, 0.0
    calls = _calls_per_poll(rung, interval, caps) * per_poll
    if interval >= _DAY_SECONDS or not pv or daylight >= 1.0:
        per_day = calls * _DAY_SECONDS / interval
    else:
        # Daylight polls each cover one interval; the first poll of the morning
        # covers the whole night as well.
        night_span = (1.0 - daylight) * _DAY_SECONDS + interval
        morning = _calls_per_poll(rung, night_span, caps) * per_poll
        per_day = max(daylight * _DAY_SECONDS / interval - 1.0, 0.0) * calls + morning
    total = units * per_day * horizon / _DAY_SECONDS
    per_minute = units * calls / (min(interval, _DAY_SECONDS) / 60.0)
    return total, per_minute


def estimate_demand(
    target: PollTarget,
    *,
    sites: int,
    horizon: timedelta,
    daylight_fraction: float = 1.0,
    caps: WindowCaps | None = None,
    backlog: Mapping[str, Sequence[timedelta]] | None = None,
) -> TargetDemand:
    """Project a target's calls at every rung of its ladder over ``horizon``.

    Args:
        target: The target.
        sites: Sites it is polled for (ignored for fleet targets: one poll each time).
        horizon: Time left in the billing cycle.
        daylight_fraction: Share of a day PV sites are polled (their daylight window,
            0-1; the fleet's mean). Ignored for non-PV targets.
        caps: Span caps per resolution (default `WindowCaps`): a poll covering more
            than the cap costs more than one call.
        backlog: Per resolution, the span each site's first poll at that resolution
            would cover (`Scheduler.backlog`): catching up after an outage or a switch
            of resolution costs one call per capped span, once.

    Raises:
        InvalidRequestError: A negative site count or a fraction outside [0, 1].
    """
    if sites < 0 or not 0.0 <= daylight_fraction <= 1.0:
        msg = (
            "sites must be >= 0 and daylight_fraction within 0..1, "
            f"got {sites}, {daylight_fraction}"
        )
        raise InvalidRequestError(msg)
    caps = caps or WindowCaps()
    units = (1 if sites else 0) if target.fleet else sites
    costs = [
        _rung_cost(
            rung,
            units=units,
            horizon=horizon.total_seconds(),
            daylight=daylight_fraction,
            pv=target.pv,
            caps=caps,
            per_poll=target.calls_per_poll,
        )
        for rung in target.ladder
    ]
    extra = [_catch_up(rung, backlog or {}, caps) for rung in target.ladder]
    costs = [(c + x, m) for (c, m), x in zip(costs, extra, strict=True)]
    return TargetDemand(
        target=target.name,
        priority=target.priority,
        rungs=target.ladder,
        calls=tuple(c for c, _ in costs),
        calls_per_minute=tuple(m for _, m in costs),
    )


@attrs.frozen(kw_only=True)
class CadenceDecision:
    """The rung chosen for one target, and why.

    Attributes:
        target: The target's name.
        rung: The rung chosen.
        level: Its index on the ladder (0: the finest).
        projected_calls: Calls projected until the cycle ends at this rung.
        reason: One sentence for a log line: fits at the finest rung, or what the next
            finer rung would have cost against what was available.
    """

    target: str
    rung: Rung
    level: int
    projected_calls: float
    reason: str

    @property
    def degraded(self) -> bool:
        """Whether the target runs below its finest rung."""
        return self.level > 0


@attrs.frozen(kw_only=True)
class PacingReport:
    """The outcome of one pacing: a decision per target and the totals behind them.

    Attributes:
        decided_at: When the pacing ran (UTC).
        decisions: One per target, in the order given.
        credits_remaining: Credits left in the cycle.
        credits_available: Credits planned at most (remaining less the reserve).
        projected_calls: Calls projected until the cycle ends with these decisions.
        per_minute_available: Calls a minute planned at most.
        projected_per_minute: Calls a minute at the finest cadences chosen.
        time_left: Until the cycle ends.
        fits: Whether the projection fits; False only if even the coarsest rungs
            do not (a ladder without ``paused``), which the report then says.
    """

    decided_at: datetime
    decisions: tuple[CadenceDecision, ...]
    credits_remaining: int
    credits_available: float
    projected_calls: float
    per_minute_available: float
    projected_per_minute: float
    time_left: timedelta
    fits: bool

    def rung(self, target: str) -> Rung:
        """The rung chosen for a target.

        Raises:
            KeyError: An unknown target name.
        """
        for decision in self.decisions:
            if decision.target == target:
                return decision.rung
        raise KeyError(target)


def _totals(demands: Sequence[TargetDemand], levels: Sequence[int]) -> tuple[float, float]:
    calls = sum(d.calls[i] for d, i in zip(demands, levels, strict=True))
    per_minute = sum(d.calls_per_minute[i] for d, i in zip(demands, levels, strict=True))
    return calls, per_minute


def pace(
    demands: Sequence[TargetDemand],
    budget: BudgetState,
    now: datetime,
    *,
    current: Mapping[str, Rung] | None = None,
    hysteresis: float = 0.1,
) -> PacingReport:
    """Choose a rung per target so the projected spend fits the budget (see the module).

    Args:
        demands: Each target's projected cost per rung, e.g. from `estimate_demand`
            with ``horizon = budget.cycle_end - now``.
        budget: Credits and limits of the cycle.
        now: The current instant (aware).
        current: The rungs in force (re-pacing a running poller). Moving a target
            finer than its current rung needs ``hysteresis`` of headroom, so that
            small drifts of the projection do not flip cadences back and forth.
        hysteresis: The headroom share for such moves (default 0.1).

    Returns:
        The decisions, in the order of ``demands``.

    Raises:
        InvalidRequestError: A naive ``now``.
    """
    if now.utcoffset() is None:
        raise InvalidRequestError(f"now must be an aware datetime, got the naive {now!r}")
    available = budget.credits_available
    per_minute_cap = budget.per_minute_available

    def fits(levels: Sequence[int], headroom: float = 0.0) -> bool:
        calls, per_minute = _totals(demands, levels)
        keep = 1.0 - headroom
        return calls <= available * keep and per_minute <= per_minute_cap * keep

    now_levels = [
        d.rungs.index(current[d.target])
        if current and d.target in current and current[d.target] in d.rungs
        else 0
        for d in demands
    ]
    levels = _degrade(demands, fits)
    if fits(levels):
        _recover(demands, levels, now_levels, fits, hysteresis)
    calls, per_minute = _totals(demands, levels)
    decisions = tuple(
        _decide(demands, levels, i, available=available, per_minute_cap=per_minute_cap)
        for i in range(len(demands))
    )
    return PacingReport(
        decided_at=now.astimezone(UTC),
        decisions=decisions,
        credits_remaining=budget.credits_remaining,
        credits_available=available,
        projected_calls=calls,
        per_minute_available=per_minute_cap,
        projected_per_minute=per_minute,
        time_left=max(budget.cycle_end - now, timedelta(0)),
        fits=calls <= available and per_minute <= per_minute_cap,
    )


def _degrade(demands: Sequence[TargetDemand], fits: Callable[[Sequence[int]], bool]) -> list[int]:
    """Step 2: from the finest rungs, degrade evenly until the plan fits."""
    levels = [0] * len(demands)
    while not fits(levels):
        movable = [i for i in range(len(demands)) if levels[i] < len(demands[i].rungs) - 1]
        if not movable:
            break
        # The finest rung first, then the least important target.
        worst = min(movable, key=lambda i: (levels[i], -demands[i].priority, demands[i].target))
        levels[worst] += 1
    return levels


def _recover(
    demands: Sequence[TargetDemand],
    levels: list[int],
    now_levels: Sequence[int],
    fits: Callable[[Sequence[int], float], bool],
    hysteresis: float,
) -> None:
    """Steps 3 and 4: hold rungs near the edge, then move the important ones back up."""
    importance = sorted(range(len(demands)), key=lambda i: (demands[i].priority, demands[i].target))
    # Targets that would move finer than their current rung do so only with headroom;
    # otherwise they hold where they are (least important first).
    for i in reversed(importance):
        if levels[i] < now_levels[i] and not fits(levels, hysteresis):
            levels[i] = now_levels[i]
    for i in importance:
        while levels[i] > 0:
            levels[i] -= 1
            if not fits(levels, hysteresis if levels[i] < now_levels[i] else 0.0):
                levels[i] += 1
                break


def _decide(
    demands: Sequence[TargetDemand],
    levels: Sequence[int],
    index: int,
    *,
    available: float,
    per_minute_cap: float,
) -> CadenceDecision:
    demand = demands[index]
    level = levels[index]
    rung = demand.rungs[level]
    calls, per_minute = _totals(demands, levels)
    if level == 0:
        if calls <= available and per_minute <= per_minute_cap:
            reason = "fits at the finest cadence"
        else:
            reason = "at the finest cadence, yet the plan does not fit"
    else:
        finer = list(levels)
        finer[index] -= 1
        finer_calls, finer_per_minute = _totals(demands, finer)
        label = demand.rungs[level - 1].label
        if finer_per_minute > per_minute_cap:
            reason = (
                f"{label} would need {finer_per_minute:.1f} calls/min, over the "
                f"{per_minute_cap:.1f} planned of the per-minute limit"
            )
        else:
            reason = (
                f"{label} would project {finer_calls:.0f} calls to the cycle's end, over "
                f"the {available:.0f} credits available"
            )
        if rung.cadence is Cadence.PAUSED:
            reason = f"paused: {reason}"
    return CadenceDecision(
        target=demand.target,
        rung=rung,
        level=level,
        projected_calls=demand.calls[level],
        reason=reason,
    )
