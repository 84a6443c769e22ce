"""The poller's fetch callable over a client and a store: fetch, map, commit, report.

`StoreFetcher` is the `FetchBatch` the `Poller` drives against the real API (or the
simulator). For each `DueItem` of a batch it:

* fetches the item's window ``[start, end)`` with the client (``/energy`` or
  ``/power``; the client splits a window over the span caps and stitches the parts);
* maps the buckets to `MeasurementRow` s through the sync engine's row mapping
  (``fleet._rows.series_buckets``: the bucket-start convention, ``period_end`` on the
  site-local grid; both stored in UTC), so ``poll`` and ``sync`` write the same rows;
  buckets without a value are left out: completeness lives in the watermark;
* moves the item's watermark to the end of the last closed bucket fetched whole: the
  window's end (the scheduler hands out published buckets only, and a published
  ``null`` is final: nights), unless the data stop just before the end of a window
  that closed within `DEFAULT_TAIL_GRACE` (the server lagging), then the end of the
  last bucket with a value;

then commits every item's rows and watermark in **one transaction** per batch
(`Store.commit_batch`), so a stop or a crash never leaves rows without their watermark
or a watermark without its rows. Fleet alerts (``/alerts``, all pages) are counted and
kept in memory (`StoreFetcher.alerts`): the store has no alerts table yet.

Credits and 429s are attributed to the item whose task made each attempt through
`RequestTally`, the client's ``on_request`` hook; a restart resumes from the store's
watermarks (`poll_watermarks`) and from the credit ledger's spent credits.
"""

from __future__ import annotations

import contextvars
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final, cast

import anyio
import attrs

from solaredge_async import errors
from solaredge_async.fleet import ItemSucceeded, WorkItem
from solaredge_async.fleet._rows import series_buckets
from solaredge_async.poll._poller import FetchOutcome, ScaledClock
from solaredge_async.poll._schedule import Cadence, DueItem, WatermarkKey
from solaredge_async.store import (
    Attempt,
    ItemKey,
    MeasurementRow,
    StoreError,
    WatermarkAdvance,
)
from solaredge_async.sync._rows import stored_row

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence
    from zoneinfo import ZoneInfo

    from solaredge_async._endpoints import ResolutionName
    from solaredge_async._usage import RequestEvent
    from solaredge_async.client import SolarEdgeClient
    from solaredge_async.models import Alert, Measurements
    from solaredge_async.poll._night import PollSite
    from solaredge_async.poll._poller import Clock
    from solaredge_async.store import Store

__all__ = [
    "BUCKET_TARGETS",
    "DEFAULT_TAIL_GRACE",
    "FLEET_ALERTS",
    "RequestTally",
    "StoreFetcher",
    "discover_sites",
    "poll_watermarks",
]

_log = logging.getLogger("solaredge_async.poll")

#: The site-level bucketed targets the fetcher handles, by name (the fleet's names).
BUCKET_TARGETS: Final = ("energy", "power")
#: The name of the fleet alerts target (``GET /alerts``, every page).
FLEET_ALERTS: Final = "alerts"
#: How long a ``null`` tail after a value may hold a watermark back: buckets that
#: ended longer ago are taken as final (an inverter that stopped reporting), so one
#: silent site cannot make its window grow for ever; ``sync``'s settle re-fetch
#: catches data that arrive later still.
DEFAULT_TAIL_GRACE: Final = timedelta(hours=2)
_TOO_MANY: Final = 429
_GRID: Final = {
    "QUARTER_HOUR": Cadence.QUARTER_HOURLY,
    "HOUR": Cadence.HOURLY,
    "DAY": Cadence.DAILY,
    "WEEK": Cadence.WEEKLY,
}
_MAX_ERROR: Final = 300


@attrs.define
class _Cell:
    credits: int = 0
    rate_limited: int = 0


_CURRENT: Final[contextvars.ContextVar[_Cell | None]] = contextvars.ContextVar(
    "solaredge_async_poll_item", default=None
)


class RequestTally:
    """The client's ``on_request`` hook that charges each attempt to its poll item.

    `StoreFetcher` runs every item in its own task and marks it in a context variable,
    so attempts made for it (retries and split windows included, even from child
    tasks) add to its credits and 429s. Every event is then passed on to ``forward``
    (e.g. `PollMetrics.on_request`, or an OpenTelemetry hook).

    Args:
        forward: Another hook to call with every event, or `None`.
    """

    def __init__(self, forward: Callable[[RequestEvent], object] | None = None) -> None:
        self.forward = forward

    def __call__(self, event: RequestEvent) -> None:
        """Count one attempt (credits, 429) for the item in progress, then forward it."""
        cell = _CURRENT.get()
        if cell is not None:
            cell.credits += event.credits
            if event.status_code == _TOO_MANY:
                cell.rate_limited += 1
        if self.forward is not None:
            self.forward(event)


async def poll_watermarks(
    store: Store, *, site_ids: Sequence[int] | None = None, targets: Sequence[str] | None = None
) -> dict[WatermarkKey, datetime]:
    """The store's watermarks as the `Poller` takes them (``watermarks=``), for a restart.

    Keys are ``(site_id, target, resolution)``; items never completed are left out.

    Raises:
        StoreError: The store cannot be read.
    """
    states = await store.watermarks(site_ids=site_ids, targets=targets)
    return {
        (s.item.site_id, s.item.target, s.item.resolution): s.complete_until
        for s in states
        if s.complete_until is not None
    }


async def discover_sites(
    client: SolarEdgeClient,
    store: Store | None = None,
    *,
    site_ids: Sequence[int] | None = None,
    coordinates: Mapping[int, tuple[float, float]] | None = None,
    now: datetime | None = None,
) -> tuple[PollSite, ...]:
    """The fleet as the poller sees it, from the site list (one credit per page).

    The client remembers each site's zone on the way; with a store, the sites are
    upserted into its ``sites`` table too. The API gives no coordinates, so the night
    skip learns from observed production unless ``coordinates`` (latitude, longitude
    in degrees, by site id) are given.

    Args:
        client: The client.
        store: Where to upsert the sites, or `None`.
        site_ids: Keep only these sites (default: every site the key sees).
        coordinates: Known positions, by site id.
        now: The upsert's time (aware; default: the current time).

    Raises:
        SolarEdgeError: The site list could not be fetched.
        StoreError: The store refused the sites.
    """
    from solaredge_async.poll._night import PollSite  # noqa: PLC0415 - a sibling record

    wanted = None if site_ids is None else frozenset(site_ids)
    listed = [s async for s in client.sites() if wanted is None or s.site_id in wanted]
    if store is not None and listed:
        await store.upsert_sites(listed, now=now)
    known = coordinates or {}
    sites: list[PollSite] = []
    for site in listed:
        zone = site.location.timezone if site.location is not None else None
        latitude, longitude = known.get(site.site_id, (None, None))
        sites.append(
            PollSite(site_id=site.site_id, zone=zone, latitude=latitude, longitude=longitude)
        )
    return tuple(sites)


@attrs.frozen
class _Fetched:
    outcome: FetchOutcome
    rows: tuple[MeasurementRow, ...] = ()
    advance: WatermarkAdvance | None = None
    quota: errors.QuotaExhaustedError | None = None


def _message(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:_MAX_ERROR]


class StoreFetcher:
    """Fetch due items with a client, store their rows and watermarks, report outcomes.

    Call it with a batch of `DueItem` (it is a `FetchBatch`); it returns one
    `FetchOutcome` per item, after the batch's single commit. Items run concurrently
    (at most ``concurrency``), behind the client's own rate limiter.

    Args:
        client: The client (give it ``on_request=tally``, see `RequestTally`, for
            per-item credits; without it credits are read from ``client.usage`` and
            split evenly over the batch).
        store: Where rows and watermarks go.
        sites: The fleet, for each site's zone (bucket ends on the site-local grid)
            and for the night skip's observations.
        clock: The poller's clock: "now" for the commit and the ``null`` tail
            (default: a `ScaledClock` at real time; pass the poller's own when it
            runs on simulated time).
        tally: The `RequestTally` the client was given, if any.
        concurrency: Items fetched at once.
        tail_grace: See `DEFAULT_TAIL_GRACE`.
        only_open_alerts: Ask ``/alerts`` for open alerts only.

    Raises:
        InvalidRequestError: A non-positive concurrency.
    """

    def __init__(
        self,
        client: SolarEdgeClient,
        store: Store,
        *,
        sites: Iterable[PollSite],
        clock: Clock | None = None,
        tally: RequestTally | None = None,
        concurrency: int = 4,
        tail_grace: timedelta = DEFAULT_TAIL_GRACE,
        only_open_alerts: bool = False,
    ) -> None:
        if concurrency < 1:
            raise errors.InvalidRequestError(f"concurrency must be >= 1, got {concurrency}")
        self._client = client
        self._store = store
        self._sites = {site.site_id: site for site in sites}
        self._clock: Clock = clock if clock is not None else ScaledClock()
        self._tally = tally
        self._limiter = anyio.CapacityLimiter(concurrency)
        self._tail_grace = tail_grace
        self._only_open = only_open_alerts
        self._stopping = False
        self.rows = 0
        self.alerts: tuple[Alert, ...] = ()
        self.alert_polls = 0

    @property
    def stopping(self) -> bool:
        """Whether `stop` was called."""
        return self._stopping

    def stop(self) -> None:
        """Start no more items: those running finish and are committed with their batch.

        Call it beside `Poller.stop` so that a stop does not wait for a whole batch at
        the rate limit (100 items take 10 minutes at 10 calls a minute): the items not
        started are left out of the outcomes (not attempted) and are due again when the
        poller next runs.
        """
        self._stopping = True

    # -- one item -------------------------------------------------------------------

    def _zone(self, site_id: int) -> ZoneInfo:
        site = self._sites.get(site_id)
        if site is not None:
            return site.tz
        from solaredge_async._windows import site_zone  # noqa: PLC0415 - rare fallback

        return site_zone(None)

    async def _series(self, item: DueItem) -> Measurements:
        site_id = cast("int", item.site_id)
        resolution = cast("ResolutionName", item.resolution)
        call = self._client.site_energy if item.target == "energy" else self._client.site_power
        return await call(site_id, start=item.start, end=item.end, resolution=resolution)

    def _map(
        self, item: DueItem, record: Measurements, now: datetime
    ) -> tuple[tuple[MeasurementRow, ...], datetime | None, tuple[datetime, datetime] | None]:
        """The rows of a window, the watermark it reaches, and its production span."""
        site_id = cast("int", item.site_id)
        resolution = cast("ResolutionName", item.resolution)
        tz = self._zone(site_id)
        # The sync engine's row mapping: bucket-start bounds on the site-local grid.
        work = WorkItem(
            kind=item.target,
            site_id=site_id,
            start=item.start.astimezone(tz),
            end=item.end.astimezone(tz),
            resolution=resolution,
        )
        buckets = sorted(
            series_buckets(ItemSucceeded(item=work, record=record), include_null=True),
            key=lambda b: b.start,
        )
        rows: list[MeasurementRow] = []
        last_value_end: datetime | None = None
        tail: list[float | None] = []  # the window's values, in time order
        producing: list[datetime] = []
        for bucket in buckets:
            start, end = bucket.start.astimezone(UTC), bucket.end.astimezone(UTC)
            if not item.start <= start < item.end:
                continue  # the bucket at `to`, or one before the window: not asked for
            tail.append(bucket.value)
            if bucket.value is None:
                continue
            last_value_end = end if last_value_end is None else max(last_value_end, end)
            if bucket.value > 0:
                producing.append(start)
            rows.append(stored_row(bucket))
        # The scheduler hands out only published buckets, and a published null is
        # final (nights, an inverter offline). One shape is suspicious: data that stop
        # at the newest bucket (a value, then nulls to the end) in a window that just
        # closed, as when the server lags; then the watermark stays at the last value
        # and the tail is fetched again next time.
        lagging = (
            len(tail) >= 2  # noqa: PLR2004 - a value, then the null tail
            and tail[-1] is None
            and tail[-2] is not None
            and item.end > now - self._tail_grace
        )
        mark = last_value_end if lagging else item.end
        production = None
        if producing and item.end - item.start <= timedelta(days=1):
            production = (min(producing), max(producing))
        return tuple(rows), mark, production

    async def _bucketed(self, item: DueItem, cell: _Cell) -> _Fetched:
        record = await self._series(item)
        rows, mark, production = self._map(item, record, self._clock.now())
        advance = None
        if mark is not None and mark > item.start:
            key = ItemKey(
                site_id=cast("int", item.site_id),
                target=item.target,
                resolution=cast("str", item.resolution),
            )
            advance = WatermarkAdvance(item=key, complete_until=mark.astimezone(UTC))
        outcome = FetchOutcome(
            item=item,
            succeeded=True,
            complete_until=mark,
            credits=cell.credits,
            rate_limited=cell.rate_limited,
            production=production,
        )
        return _Fetched(outcome=outcome, rows=rows, advance=advance)

    async def _alerts(self, item: DueItem, cell: _Cell) -> _Fetched:
        alerts = [a async for a in self._client.alerts(only_open=self._only_open)]
        self.alerts = tuple(alerts)
        self.alert_polls += 1
        outcome = FetchOutcome(
            item=item,
            succeeded=True,
            complete_until=item.end,
            credits=cell.credits,
            rate_limited=cell.rate_limited,
        )
        return _Fetched(outcome=outcome)

    async def _one(self, item: DueItem) -> _Fetched | None:
        alerts = item.target == FLEET_ALERTS and item.site_id is None
        if not alerts and (item.target not in BUCKET_TARGETS or item.resolution not in _GRID):
            msg = (
                f"the store fetcher cannot fetch {item.target!r} at {item.resolution!r}: "
                f"poll {', '.join(BUCKET_TARGETS)} or the fleet's {FLEET_ALERTS!r}"
            )
            return _Fetched(outcome=FetchOutcome(item=item, succeeded=False, error=msg))
        cell = _Cell()
        token = _CURRENT.set(cell)
        try:
            async with self._limiter:
                if self._stopping:
                    return None  # not started: left out, due again at the next run
                if alerts:
                    return await self._alerts(item, cell)
                return await self._bucketed(item, cell)
        except Exception as exc:  # noqa: BLE001 - a bad body or a refused call fails its own item only
            if not isinstance(exc, errors.SolarEdgeError):
                _log.exception("poll: unexpected error on %s %s", item.site_id, item.target)
            failed = FetchOutcome(
                item=item,
                succeeded=False,
                credits=cell.credits,
                rate_limited=cell.rate_limited,
                error=_message(exc),
            )
            quota = exc if isinstance(exc, errors.QuotaExhaustedError) else None
            return _Fetched(outcome=failed, quota=quota)
        finally:
            _CURRENT.reset(token)

    # -- the batch ------------------------------------------------------------------

    async def __call__(self, items: Sequence[DueItem]) -> list[FetchOutcome]:
        """Fetch, then commit the batch in one transaction; one outcome per item attempted.

        Items not started when `stop` was called are left out (not attempted).

        Raises:
            QuotaExhaustedError: The server said the month's credits are gone and no
                item of the batch could be stored (the poller re-paces).
        """
        usage0 = self._client.usage
        credits0 = usage0.credits
        limited0 = usage0.rate_limited_minute + usage0.rate_limited_monthly
        fetched: list[_Fetched | None] = [None] * len(items)
        _log.debug("poll: fetching a batch of %d items", len(items))

        async def run(index: int, item: DueItem) -> None:
            fetched[index] = await self._one(item)

        async with anyio.create_task_group() as tg:
            for index, item in enumerate(items):
                tg.start_soon(run, index, item)
        done = [f for f in fetched if f is not None]
        if self._tally is None:
            done = self._split_usage(done, credits0, limited0)
        # The commit must not be abandoned half-way by a cancellation: a batch is
        # stored whole or not at all, and the transaction is short.
        with anyio.CancelScope(shield=True):
            done = await self._commit(done)
        quota = [f.quota for f in done if f.quota is not None]
        if done and len(quota) == len(done):
            raise quota[0]
        return [f.outcome for f in done]

    def _split_usage(self, done: list[_Fetched], credits0: int, limited0: int) -> list[_Fetched]:
        usage = self._client.usage
        spent = usage.credits - credits0
        limited = usage.rate_limited_minute + usage.rate_limited_monthly - limited0
        if not done:
            return done
        share, extra = divmod(spent, len(done))
        return [
            attrs.evolve(
                f,
                outcome=attrs.evolve(
                    f.outcome,
                    credits=share + (1 if i < extra else 0),
                    rate_limited=limited if i == 0 else 0,
                ),
            )
            for i, f in enumerate(done)
        ]

    async def _commit(self, done: list[_Fetched]) -> list[_Fetched]:
        now = self._clock.now().astimezone(UTC)
        rows = [row for f in done for row in f.rows]
        advances = [f.advance for f in done if f.advance is not None]
        attempts = [
            Attempt(
                item=ItemKey(
                    site_id=f.outcome.item.site_id,
                    target=f.outcome.item.target,
                    resolution=f.outcome.item.resolution,
                ),
                at=now,
                error=f.outcome.error,
            )
            for f in done
            if not f.outcome.succeeded
            and f.outcome.item.site_id is not None
            and f.outcome.item.resolution is not None
        ]
        if rows or advances:
            try:
                result = await self._store.commit_batch(rows, watermarks=advances, now=now)
            except StoreError as exc:
                # Nothing was written: every item of the batch failed, none moved.
                message = _message(exc)
                _log.warning("poll: the batch's commit failed: %s", message)
                return [
                    attrs.evolve(
                        f,
                        outcome=attrs.evolve(
                            f.outcome, succeeded=False, complete_until=None, error=message
                        ),
                    )
                    if f.rows or f.advance is not None
                    else f
                    for f in done
                ]
            self.rows += result.inserted + result.updated
        if attempts:
            try:
                await self._store.record_attempts(attempts)
            except StoreError as exc:
                _log.warning("poll: could not record failed attempts: %s", _message(exc))
        return done
