"""The poller's schedule: what is due when, per site and target. Pure: no I/O, no clock.

A target's data arrives in buckets (15 min, an hour, a site-local day) that the server
publishes a little after they close (1-2 min for quarter-hours, API reference §3). A
poll is worth its credit only once a new bucket is out, so for each (site, target) the
next poll is due at the first point of the *cadence grid* (every 15 min, every hour,
every site-local midnight or Monday) after the watermark, plus the publication delay;
never twice in one cadence slot; for PV targets of a site at night, not before the
night ends (see `NightSkip`). Each due item covers the whole stretch from the watermark
(``complete_until``, given by the caller on a restart and by every fetch outcome) to the
end of the newest published bucket, so resuming leaves no gap and repeats no window.

Grids are site-local: a daily cadence polls after each site's own midnight. Every
instant taken or returned is an aware `datetime`; returned ones are in UTC.
"""

from __future__ import annotations

import enum
import functools
import heapq
import itertools
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Final, TypeAlias

import attrs

from solaredge_async._windows import day_window, site_zone
from solaredge_async.errors import InvalidRequestError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from zoneinfo import ZoneInfo

    from solaredge_async.poll._night import NightSkip, PollSite

__all__ = [
    "PUBLICATION_DELAY",
    "Cadence",
    "DueItem",
    "PollTarget",
    "Rung",
    "Scheduler",
    "WatermarkKey",
    "default_ladder",
    "next_boundary",
    "next_due",
    "previous_boundary",
]

#: How long after a bucket closes the server has published it ("1-2 min").
PUBLICATION_DELAY: Final = timedelta(minutes=2)
_QUARTER: Final = timedelta(minutes=15)
_HOUR: Final = timedelta(hours=1)
_DAY: Final = timedelta(days=1)


class Cadence(enum.StrEnum):
    """How often a target is polled, finest first; `PAUSED` means not at all."""

    #: Every quarter hour (the finest bucket; polling faster wastes credits).
    QUARTER_HOURLY = "15min"
    #: Every hour.
    HOURLY = "hourly"
    #: Once a site-local day.
    DAILY = "daily"
    #: Once a site-local week (Monday midnight).
    WEEKLY = "weekly"
    #: Not polled until the budget allows it again.
    PAUSED = "paused"

    @property
    def seconds(self) -> float | None:
        """The nominal interval, seconds (`None` when paused; a day may have 23-25 h)."""
        return _CADENCE_SECONDS[self]


_CADENCE_SECONDS: Final[dict[Cadence, float | None]] = {
    Cadence.QUARTER_HOURLY: 900.0,
    Cadence.HOURLY: 3600.0,
    Cadence.DAILY: 86_400.0,
    Cadence.WEEKLY: 604_800.0,
    Cadence.PAUSED: None,
}

#: The grid of each resolution the poller fetches, as the cadence of the same length.
_RESOLUTION_GRID: Final = {
    "QUARTER_HOUR": Cadence.QUARTER_HOURLY,
    "HOUR": Cadence.HOURLY,
    "DAY": Cadence.DAILY,
    "WEEK": Cadence.WEEKLY,
}
_ORDER: Final = (Cadence.QUARTER_HOURLY, Cadence.HOURLY, Cadence.DAILY, Cadence.WEEKLY)


def _check_resolution(_instance: object, _attribute: object, value: str | None) -> None:
    if value is not None and value not in _RESOLUTION_GRID:
        msg = f"resolution must be one of {sorted(_RESOLUTION_GRID)} or None, got {value!r}"
        raise InvalidRequestError(msg)


def _coarser(a: Cadence, b: Cadence) -> Cadence:
    return a if _ORDER.index(a) >= _ORDER.index(b) else b


@attrs.frozen(kw_only=True)
class Rung:
    """One step of a target's degradation ladder: how often, and at which resolution.

    Attributes:
        cadence: How often the target is polled.
        resolution: The bucket length fetched (``"QUARTER_HOUR"``, ``"HOUR"``,
            ``"DAY"``, ``"WEEK"``), or `None` for targets without a time series
            (alerts). A cadence finer than the resolution polls at the resolution's
            pace: a day bucket cannot be fetched complete every 15 min.

    Raises:
        InvalidRequestError: A resolution the poller does not fetch.
    """

    cadence: Cadence
    resolution: str | None = attrs.field(default=None, validator=_check_resolution)

    @property
    def label(self) -> str:
        """``"hourly"``, or ``"weekly/DAY"`` when a resolution is set."""
        if self.resolution is None:
            return str(self.cadence)
        return f"{self.cadence}/{self.resolution}"

    @property
    def grid(self) -> Cadence:
        """The effective cadence: the cadence, or the resolution's grid if coarser."""
        if self.resolution is None or self.cadence is Cadence.PAUSED:
            return self.cadence
        return _coarser(self.cadence, _RESOLUTION_GRID[self.resolution])


def default_ladder(resolution: str | None, *, day_fallback: bool = True) -> tuple[Rung, ...]:
    """The ladder 15 min -> hourly -> daily [-> daily/DAY -> weekly/DAY] -> paused.

    Args:
        resolution: The finest resolution the target fetches (`None` for alerts).
        day_fallback: For sub-daily resolutions, add rungs that fetch DAY buckets
            (one call a day, then one a week, per site) before pausing: the only way
            a large fleet fits a small budget, since sub-daily buckets cost at least
            one call per 12 or 24 h of data. Off for endpoints without DAY resolution
            (``/power``).

    Raises:
        InvalidRequestError: An unknown resolution.
    """
    _check_resolution(None, None, resolution)
    cadences = [
        c
        for c in _ORDER[:3]
        if resolution is None or _ORDER.index(c) >= _ORDER.index(_RESOLUTION_GRID[resolution])
    ]
    rungs = [Rung(cadence=c, resolution=resolution) for c in cadences]
    if resolution in {"QUARTER_HOUR", "HOUR"} and day_fallback:
        rungs += [
            Rung(cadence=Cadence.DAILY, resolution="DAY"),
            Rung(cadence=Cadence.WEEKLY, resolution="DAY"),
        ]
    elif resolution == "DAY":
        rungs.append(Rung(cadence=Cadence.WEEKLY, resolution="DAY"))
    rungs.append(Rung(cadence=Cadence.PAUSED, resolution=resolution))
    return tuple(rungs)


def _default_ladder_for(instance: PollTarget) -> tuple[Rung, ...]:
    return default_ladder(instance.resolution)


def _check_ladder(instance: PollTarget, _attribute: object, value: tuple[Rung, ...]) -> None:
    if not value:
        raise InvalidRequestError(f"target {instance.name!r} needs at least one rung")
    if (instance.resolution is None) != all(r.resolution is None for r in value):
        msg = f"target {instance.name!r}: rungs must have a resolution exactly when the target does"
        raise InvalidRequestError(msg)


@attrs.frozen(kw_only=True)
class PollTarget:
    """One kind of data the poller keeps current, e.g. site energy or fleet alerts.

    Attributes:
        name: The target's name as the fetch callable knows it (``"energy"``,
            ``"power"``, ``"alerts"``, ``"storage_telemetry"``...).
        resolution: The finest resolution fetched; `None` for data without buckets
            (alerts: each poll covers from the previous poll to now).
        pv: Skip the site's night (PV production). False for alerts, batteries,
            consumption meters: whatever changes at night.
        fleet: One item for the whole fleet (``site_id`` `None`), like ``/alerts``.
        priority: Lower is more important; less important targets degrade first.
        ladder: The rungs to degrade through, finest first (default `default_ladder`).
        publication_delay: How long after a bucket closes it is published (2 min).
        calls_per_poll: Calls one poll of a fleet target costs (pages of ``/alerts``);
            the `Poller` replaces it with what the last poll cost.

    Raises:
        InvalidRequestError: An unknown resolution or an inconsistent ladder.
    """

    name: str
    resolution: str | None = attrs.field(default="QUARTER_HOUR", validator=_check_resolution)
    pv: bool = False
    fleet: bool = False
    priority: int = 0
    ladder: tuple[Rung, ...] = attrs.field(
        default=attrs.Factory(_default_ladder_for, takes_self=True), validator=_check_ladder
    )
    publication_delay: timedelta = PUBLICATION_DELAY
    calls_per_poll: int = 1


#: Watermarks are keyed by (site id or `None` for fleet targets, target, resolution).
WatermarkKey: TypeAlias = tuple[int | None, str, str | None]


@attrs.frozen(kw_only=True)
class DueItem:
    """One piece of due work: fetch ``target`` for ``site_id`` over ``[start, end)``.

    Attributes:
        site_id: The site, or `None` for a fleet target.
        target: The target's name.
        resolution: The resolution to fetch (`None` for alerts).
        start: The watermark: everything before it is complete (UTC).
        end: The end of the newest published bucket, or the poll time for alerts (UTC).
        due: When the item became due (UTC).
    """

    site_id: int | None
    target: str
    resolution: str | None
    start: datetime
    end: datetime
    due: datetime

    @property
    def key(self) -> WatermarkKey:
        """The watermark this item moves."""
        return (self.site_id, self.target, self.resolution)


def _utc(instant: datetime) -> datetime:
    if instant.utcoffset() is None:
        raise InvalidRequestError(f"expected an aware datetime, got the naive {instant!r}")
    return instant.astimezone(UTC)


@functools.lru_cache(maxsize=8192)
def _local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return day_window(day, tz)[0].astimezone(UTC)


def next_boundary(instant: datetime, grid: Cadence, tz: ZoneInfo) -> datetime:
    """The first point of a site-local grid strictly after ``instant`` (UTC).

    Quarter hours are the same in every zone (every offset in use is a multiple of
    15 min); hours, midnights and Mondays are site-local.

    Raises:
        InvalidRequestError: A naive instant, or `Cadence.PAUSED` (it has no grid).
    """
    instant = _utc(instant)
    if grid is Cadence.QUARTER_HOURLY or grid is Cadence.HOURLY:
        point = instant.replace(
            minute=instant.minute - instant.minute % 15, second=0, microsecond=0
        )
        point += _QUARTER
        while grid is Cadence.HOURLY and point.astimezone(tz).minute != 0:
            point += _QUARTER
        return point
    if grid is Cadence.PAUSED:
        raise InvalidRequestError("a paused cadence has no grid")
    day = instant.astimezone(tz).date() + _DAY
    while grid is Cadence.WEEKLY and day.weekday() != 0:
        day += _DAY
    return _local_midnight(day, tz)


def previous_boundary(instant: datetime, grid: Cadence, tz: ZoneInfo) -> datetime:
    """The last point of a site-local grid at or before ``instant`` (UTC).

    Raises:
        InvalidRequestError: A naive instant, or `Cadence.PAUSED`.
    """
    instant = _utc(instant)
    if grid is Cadence.QUARTER_HOURLY or grid is Cadence.HOURLY:
        point = instant.replace(
            minute=instant.minute - instant.minute % 15, second=0, microsecond=0
        )
        while grid is Cadence.HOURLY and point.astimezone(tz).minute != 0:
            point -= _QUARTER
        return point
    if grid is Cadence.PAUSED:
        raise InvalidRequestError("a paused cadence has no grid")
    day = instant.astimezone(tz).date()
    while grid is Cadence.WEEKLY and day.weekday() != 0:
        day -= _DAY
    point = _local_midnight(day, tz)
    # A zone whose day starts at 01:00 (a DST change at midnight) puts the instant
    # before its own date's first instant; step back one more day.
    return point if point <= instant else previous_boundary(instant - _DAY, grid, tz)


def next_due(
    *,
    watermark: datetime,
    rung: Rung,
    tz: ZoneInfo,
    delay: timedelta = PUBLICATION_DELAY,
    last_attempt: datetime | None = None,
) -> datetime | None:
    """When a (site, target) at ``watermark`` is next worth polling (UTC), night aside.

    Just after the first point of the effective cadence grid past the watermark is
    published (that point plus ``delay``), and never in the cadence slot of the last
    attempt again.

    Returns:
        `None` for a paused rung.
    """
    grid = rung.grid
    if grid is Cadence.PAUSED:
        return None
    due = next_boundary(watermark, grid, tz) + delay
    if last_attempt is not None:
        due = max(due, next_boundary(_utc(last_attempt) - delay, grid, tz) + delay)
    return due


@attrs.define
class _Entry:
    site: PollSite | None
    target: PollTarget
    rung: Rung
    last_attempt: datetime | None = None
    due: datetime | None = None
    version: int = 0
    in_flight: bool = False


class Scheduler:
    """A priority queue of due work for every (site, target). Pure and deterministic.

    Args:
        sites: The fleet.
        targets: What to keep current. Fleet targets get one entry; the others one per
            site.
        now: The current instant; items without a watermark start from ``since``.
        watermarks: ``complete_until`` per `WatermarkKey`, e.g. read from the store on a
            restart. The first item of each key starts exactly there.
        since: Where keys without a watermark start. Default: the site-local midnight
            of ``now`` (for fleet targets: ``now``, so alerts are fetched at once).
        night: The night skip for PV targets (`None`: never skip).
        rungs: The starting rung per target name (default: each ladder's first).

    Raises:
        InvalidRequestError: Naive datetimes, duplicate target names, or a rung that is
            not on its target's ladder.
    """

    def __init__(
        self,
        sites: Iterable[PollSite],
        targets: Iterable[PollTarget],
        *,
        now: datetime,
        watermarks: Mapping[WatermarkKey, datetime] | None = None,
        since: datetime | None = None,
        night: NightSkip | None = None,
        rungs: Mapping[str, Rung] | None = None,
    ) -> None:
        self._sites = tuple(sites)
        listed = tuple(targets)
        self._targets = {t.name: t for t in listed}
        if len(self._targets) != len(listed):
            names = sorted(t.name for t in listed)
            raise InvalidRequestError(f"target names must be unique, got {names}")
        self._night = night
        self._since = None if since is None else _utc(since)
        self._marks: dict[tuple[int | None, str], dict[str | None, datetime]] = {}
        for (site_id, name, resolution), mark in (watermarks or {}).items():
            self._marks.setdefault((site_id, name), {})[resolution] = _utc(mark)
        self._entries: dict[tuple[int | None, str], _Entry] = {}
        self._heap: list[tuple[datetime, int, tuple[int | None, str], int]] = []
        self._seq = itertools.count()
        now = _utc(now)
        chosen = dict(rungs or {})
        for target in self._targets.values():
            rung = chosen.get(target.name, target.ladder[0])
            self._check_rung(target, rung)
            owners: tuple[PollSite | None, ...] = (None,) if target.fleet else self._sites
            for site in owners:
                entry = _Entry(site=site, target=target, rung=rung)
                self._entries[(None if site is None else site.site_id, target.name)] = entry
                self._start(entry, now)
                self._plan(entry, now)

    @staticmethod
    def _check_rung(target: PollTarget, rung: Rung) -> None:
        if rung not in target.ladder:
            msg = f"rung {rung.label!r} is not on the ladder of target {target.name!r}"
            raise InvalidRequestError(msg)

    @property
    def targets(self) -> Mapping[str, PollTarget]:
        """The targets, by name."""
        return dict(self._targets)

    @property
    def sites(self) -> tuple[PollSite, ...]:
        """The fleet."""
        return self._sites

    def rung(self, target: str) -> Rung:
        """The current rung of a target.

        Raises:
            KeyError: An unknown target name.
        """
        for (_, name), entry in self._entries.items():
            if name == target:
                return entry.rung
        raise KeyError(target)

    def watermark(self, key: WatermarkKey) -> datetime | None:
        """The ``complete_until`` known for a key (UTC), or `None`."""
        return self._marks.get(key[:2], {}).get(key[2])

    def watermarks(self) -> dict[WatermarkKey, datetime]:
        """Every watermark known, by key (a copy)."""
        return {
            (site_id, name, resolution): mark
            for (site_id, name), marks in self._marks.items()
            for resolution, mark in marks.items()
        }

    def _key(self, entry: _Entry) -> WatermarkKey:
        site_id = None if entry.site is None else entry.site.site_id
        return (site_id, entry.target.name, entry.rung.resolution)

    @staticmethod
    def _tz(entry: _Entry) -> ZoneInfo:
        return site_zone(None) if entry.site is None else entry.site.tz

    def _start_mark(self, entry: _Entry, resolution: str | None, now: datetime) -> datetime:
        """Where an entry's polls at ``resolution`` start: its own watermark, or later.

        Switching resolution continues from the newest watermark of any resolution of
        the same (site, target), floored onto the new grid: the degraded stretch keeps
        its data at the coarser resolution, and the finer one is left for ``sync`` to
        backfill, so a switch never costs a catch-up the budget did not price.
        """
        tz = self._tz(entry)
        marks = self._marks.get(self._entry_key(entry), {})
        own = marks.get(resolution)
        others = [mark for res, mark in marks.items() if res != resolution]
        if others:
            start = max(others) if own is None else max(own, *others)
        elif own is not None:
            return own
        elif self._since is not None:
            start = self._since
        elif entry.target.fleet or resolution is None:
            start = now
        else:
            start = _local_midnight(now.astimezone(tz).date(), tz)
        if resolution is not None:
            start = previous_boundary(start, _RESOLUTION_GRID[resolution], tz)
        return start if own is None else max(own, start)

    def _start(self, entry: _Entry, now: datetime) -> None:
        """Set the watermark the entry's current rung starts from (first run, switch)."""
        marks = self._marks.setdefault(self._entry_key(entry), {})
        marks[entry.rung.resolution] = self._start_mark(entry, entry.rung.resolution, now)

    def backlog(self, target: str, resolution: str | None, now: datetime) -> list[timedelta]:
        """Per entry of a target: the span its next poll at ``resolution`` would cover.

        The pacer prices switching rungs with it (a restart after an outage, a move to
        another resolution).
        """
        now = _utc(now)
        return [
            max(now - self._start_mark(entry, resolution, now), timedelta(0))
            for (_, name), entry in self._entries.items()
            if name == target
        ]

    def _plan(self, entry: _Entry, now: datetime) -> None:
        entry.version += 1
        watermark = self._marks[self._entry_key(entry)][entry.rung.resolution]
        delay = (
            entry.target.publication_delay if entry.rung.resolution is not None else timedelta(0)
        )
        if (
            entry.target.fleet
            and entry.last_attempt is None
            and entry.rung.grid is not Cadence.PAUSED
        ):
            due: datetime | None = now  # fleet targets (alerts) are fetched at once
        else:
            due = next_due(
                watermark=watermark,
                rung=entry.rung,
                tz=self._tz(entry),
                delay=delay,
                last_attempt=entry.last_attempt,
            )
        if due is not None and entry.target.pv and entry.site is not None and self._night:
            # An overdue PV item (a restart in the evening) waits for daylight too.
            due = self._night.night_end(entry.site, max(due, now))
        entry.due = due
        if due is not None and not entry.in_flight:
            heapq.heappush(
                self._heap, (due, next(self._seq), self._entry_key(entry), entry.version)
            )

    @staticmethod
    def _entry_key(entry: _Entry) -> tuple[int | None, str]:
        return (None if entry.site is None else entry.site.site_id, entry.target.name)

    def set_rung(self, target: str, rung: Rung, now: datetime) -> None:
        """Move a target (all its sites) to another rung of its ladder and re-plan.

        Raises:
            KeyError: An unknown target name.
            InvalidRequestError: A rung that is not on the target's ladder.
        """
        spec = self._targets[target]
        self._check_rung(spec, rung)
        now = _utc(now)
        for (_, name), entry in self._entries.items():
            if name == target and entry.rung != rung:
                entry.rung = rung
                self._start(entry, now)
                if not entry.in_flight:
                    self._plan(entry, now)

    def next_due(self) -> datetime | None:
        """The earliest instant any work is due (UTC), or `None` when nothing is."""
        while self._heap:
            due, _, key, version = self._heap[0]
            entry = self._entries[key]
            if entry.version == version and not entry.in_flight:
                return due
            heapq.heappop(self._heap)
        return None

    def pop_due(self, now: datetime, *, limit: int | None = None) -> list[DueItem]:
        """Take the items due at or before ``now``, earliest first (at most ``limit``).

        Each taken (site, target) is in flight until `complete` or `release` is called
        for it, and never handed out twice meanwhile.
        """
        now = _utc(now)
        items: list[DueItem] = []
        while (limit is None or len(items) < limit) and (due := self.next_due()) is not None:
            if due > now:
                break
            _, _, key, _ = heapq.heappop(self._heap)
            entry = self._entries[key]
            item = self._item(entry, now, due)
            if item is None:  # nothing published yet past the watermark: try next slot
                entry.last_attempt = now
                self._plan(entry, now)
                continue
            entry.in_flight = True
            items.append(item)
        return items

    def _item(self, entry: _Entry, now: datetime, due: datetime) -> DueItem | None:
        key = self._key(entry)
        start = self._marks[key[:2]][key[2]]
        resolution = entry.rung.resolution
        if resolution is None:
            end = now
        else:
            grid = _RESOLUTION_GRID[resolution]
            end = previous_boundary(now - entry.target.publication_delay, grid, self._tz(entry))
        # Alerts have no buckets: a poll right after the previous one is still a poll.
        if end < start or (end == start and resolution is not None):
            return None
        return DueItem(
            site_id=key[0], target=key[1], resolution=resolution, start=start, end=end, due=due
        )

    def complete(self, item: DueItem, now: datetime, complete_until: datetime | None) -> None:
        """Record an attempt on an item and plan the next one.

        Args:
            item: The item handed out by `pop_due`.
            now: When the attempt ended.
            complete_until: The new watermark the fetch reported (`None`: unchanged,
                e.g. a failure). A watermark never moves back, nor past ``item.end``.
        """
        entry = self._entries[(item.site_id, item.target)]
        if complete_until is not None:
            # Never past the window handed out: data beyond it was not asked for.
            mark = min(_utc(complete_until), item.end)
            marks = self._marks.setdefault((item.site_id, item.target), {})
            if mark > marks.get(item.resolution, mark - timedelta(1)):
                marks[item.resolution] = mark
        entry.in_flight = False
        entry.last_attempt = _utc(now)
        if entry.rung.resolution != item.resolution:
            self._start(entry, _utc(now))
        self._plan(entry, _utc(now))

    def release(self, item: DueItem) -> None:
        """Give back an item that was not attempted; it is due again at its old time."""
        entry = self._entries[(item.site_id, item.target)]
        entry.in_flight = False
        entry.version += 1
        entry.due = item.due
        key = (item.site_id, item.target)
        heapq.heappush(self._heap, (item.due, next(self._seq), key, entry.version))

    def oldest_watermark(self, target: str) -> datetime | None:
        """The oldest watermark of a target over its sites, at its current resolution."""
        marks = [
            self._marks[key][entry.rung.resolution]
            for key, entry in self._entries.items()
            if key[1] == target
        ]
        return min(marks) if marks else None

    def entries(self, target: str) -> int:
        """How many (site, target) entries a target has (1 for fleet targets)."""
        return sum(1 for _, name in self._entries if name == target)
