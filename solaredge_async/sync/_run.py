"""Running a sync: fetch the planned windows, upsert rows and move watermarks together.

Items are fetched concurrently behind the client's rate limiter and concurrency bound.
A fetched item waits in memory until the next commit: every ``batch_items`` items or
``batch_seconds`` seconds, whichever comes first, its rows and its watermark advance
go to the store in ONE transaction with the other items of the batch. A crash (even
``kill -9``) therefore loses at most the batch not yet committed, and the next run
fetches it again because its watermark did not move.

Several workers (processes, hosts) may run the same plan against one PostgreSQL
store: each claims items through leases before fetching them, skips an item whose
watermark moved since it planned (another worker did it), commits with its owner name
and releases the leases after committing.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final, cast

import anyio
import attrs

from solaredge_async import errors
from solaredge_async._endpoints import ENDPOINTS, FAMILIES
from solaredge_async.fleet import WorkItem
from solaredge_async.store import (
    Attempt,
    InvalidRowError,
    LeaseLostError,
    MeasurementRow,
    RunTotals,
    StoreError,
    WatermarkAdvance,
)
from solaredge_async.sync._plan import bucket_floor
from solaredge_async.sync._rows import item_rows

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from solaredge_async._endpoints import ResolutionName
    from solaredge_async.client import SolarEdgeClient
    from solaredge_async.fleet import SweepRecord
    from solaredge_async.store import ItemKey, Store
    from solaredge_async.sync._plan import SyncItem, SyncPlan

__all__ = ["SyncProgress", "SyncReport", "default_owner", "run_sync"]

logger = logging.getLogger("solaredge_async.sync")

#: Items committed together at most (a batch also commits every ``batch_seconds``).
DEFAULT_BATCH_ITEMS: Final = 200
#: Seconds a fetched item waits for its commit at most.
DEFAULT_BATCH_SECONDS: Final = 10.0
#: Seconds an item's lease lasts by default.
DEFAULT_LEASE_TTL: Final = 300.0
#: Seconds the shielded clean-up after a cancellation may take at most.
SHUTDOWN_TIMEOUT: Final = 30.0
_SUB_DAILY: Final = {"QUARTER_HOUR": timedelta(minutes=15), "HOUR": timedelta(hours=1)}


@attrs.frozen(kw_only=True)
class SyncProgress:
    """A snapshot of a running sync (for a progress bar).

    Attributes:
        done: Items finished (fetched, failed or skipped).
        total: Items in the plan.
        credits: Credits the client spent since the run started (retries included).
        rows: Rows inserted or updated so far (committed).
        failed: Items that failed.
        succeeded: Items committed.
        not_attempted: Items left for a later run.
        rate_limited: HTTP 429 answers since the run started.
    """

    done: int
    total: int
    credits: int
    rows: int
    failed: int
    succeeded: int = 0
    not_attempted: int = 0
    rate_limited: int = 0


#: The row and item counts of a `SyncReport`, in the order summaries show them.
REPORT_COUNTS: Final = (
    "rows",
    "rows_inserted",
    "rows_updated",
    "rows_unchanged",
    "succeeded",
    "failed",
    "not_attempted",
    "rate_limited",
    "sites",
)


@attrs.frozen(kw_only=True)
class SyncReport(RunTotals):
    """What a sync did: the totals its run ends with in the store, and more.

    Attributes:
        credits: Credits the client spent during the run (retries included, discovery
            excluded: see `SyncPlan.discovery_credits`).
        rows: Rows inserted or updated.
        rows_inserted: Rows that were new.
        rows_updated: Rows whose value (or unit) changed.
        rows_unchanged: Rows fetched again and found identical.
        succeeded: Items committed (rows and watermark).
        failed: Items that failed (their watermark did not move; the next run retries).
        not_attempted: Items left for a later run (quota, authentication, interruption).
        rate_limited: HTTP 429 answers seen.
        run_id: The id of the run in the store's ``runs`` table.
        sites: Sites planned.
        complete: Whether every planned item was committed (none failed or left).
        held_elsewhere: Items another worker held or had just done (not this run's work).
        outcome: ``"ok"``, ``"partial"``, ``"failed"`` or ``"interrupted"``.
        errors: ``(item key, message)`` of each failed item (at most 100).
    """

    rows_inserted: int
    rows_updated: int
    rows_unchanged: int
    run_id: int
    sites: int
    complete: bool
    held_elsewhere: int = 0
    errors: tuple[tuple[ItemKey, str], ...] = ()


def default_owner(store: Store) -> str:
    """The lease owner name `run_sync` uses by default.

    PostgreSQL: host, process id and a random suffix (unique per run, so a crashed
    worker's leases are left to expire). SQLite has one sync at a time (`run_sync` holds
    the file for exclusive use): a fixed name, so a rerun after a crash takes its items
    back at once.
    """
    if store.dialect == "sqlite":
        return "local"
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@attrs.frozen
class _Fetched:
    key: ItemKey
    rows: list[MeasurementRow]
    advance: WatermarkAdvance | None
    complete: bool = True  # False: only a prefix of the item's windows came back whole


def _message(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:500]


class _Runner:
    def __init__(
        self,
        client: SolarEdgeClient,
        store: Store,
        plan: SyncPlan,
        *,
        owner: str,
        on_progress: Callable[[SyncProgress], object] | None,
        batch_items: int,
        batch_seconds: float,
        concurrency: int,
        lease_ttl: float,
    ) -> None:
        self.client = client
        self.store = store
        self.plan = plan
        self.owner = owner
        self.on_progress = on_progress
        self.batch_items = batch_items
        self.batch_seconds = batch_seconds
        self.concurrency = concurrency
        self.lease_ttl = lease_ttl
        self.pending: list[_Fetched] = []
        self.attempts: list[Attempt] = []
        self.flush_lock = anyio.Lock()
        self.total = len(plan.items)
        # Items by how they ended, and rows by what their commit did.
        self.done = self.succeeded = self.failed = self.not_attempted = self.held_elsewhere = 0
        self.inserted = self.updated = self.unchanged = 0
        self.errors: list[tuple[ItemKey, str]] = []
        self.stop_reason: str | None = None
        usage = client.usage
        self.credits0 = usage.credits
        self.limited0 = usage.rate_limited_minute + usage.rate_limited_monthly

    # -- counters --------------------------------------------------------------------

    def credits(self) -> int:
        return self.client.usage.credits - self.credits0

    def rate_limited(self) -> int:
        usage = self.client.usage
        return usage.rate_limited_minute + usage.rate_limited_monthly - self.limited0

    def progress(self) -> None:
        if self.on_progress is not None:
            self.on_progress(
                SyncProgress(
                    done=self.done,
                    total=self.total,
                    credits=self.credits(),
                    rows=self.inserted + self.updated,
                    failed=self.failed,
                    succeeded=self.succeeded,
                    not_attempted=self.not_attempted,
                    rate_limited=self.rate_limited(),
                )
            )

    def fail(self, key: ItemKey, exc: BaseException) -> None:
        self.failed += 1
        message = _message(exc)
        if len(self.errors) < 100:  # noqa: PLR2004 - the report keeps the first hundred
            self.errors.append((key, message))
        self.attempts.append(Attempt(item=key, at=datetime.now(UTC), error=message))

    # -- fetching --------------------------------------------------------------------

    async def _call(
        self, item: SyncItem, start: datetime, end: datetime
    ) -> tuple[WorkItem, SweepRecord]:
        client, key = self.client, item.key
        op = ENDPOINTS[key.target]
        res = cast("ResolutionName", key.resolution)
        if op.family is None:
            kind = op.name
            call = client.site_energy if op.name == "energy" else client.site_power
            record: SweepRecord = await call(key.site_id, start=start, end=end, resolution=res)
        else:
            family = op.family
            kind = FAMILIES[family].telemetry
            tel = await client.telemetry(family, key.site_id, start=start, end=end, resolution=res)
            if op.level == "device":
                keep = op.metric
                tel = attrs.evolve(
                    tel,
                    devices={
                        serial: {n: s for n, s in metrics.items() if n == keep}
                        for serial, metrics in tel.devices.items()
                    },
                )
            record = tel
        work = WorkItem(kind=kind, site_id=key.site_id, start=start, end=end, resolution=res)
        return work, record

    def _watermark(self, item: SyncItem, last_value_end: datetime | None) -> datetime:
        """Where the watermark may move: the end, unless recent tail buckets are null."""
        res = item.key.resolution
        recent = max(self.plan.spec.settle, _SUB_DAILY.get(res, timedelta(0)))
        cut = self.plan.now - recent
        if item.end <= cut or (last_value_end is not None and last_value_end >= item.end):
            return item.end
        floor = item.start if last_value_end is None else max(item.start, last_value_end)
        return max(floor, min(item.end, bucket_floor(cut, res, item.zone)))

    async def fetch(self, item: SyncItem) -> tuple[_Fetched | None, BaseException | None]:
        """Fetch the item's windows; keep the longest prefix fetched whole.

        Returns what to commit (`None`: nothing) and the error of the first window that
        failed (`None`: every window came back). A failure cancels the later windows
        only: the earlier ones are committed and the watermark moves to their end, so
        the next run pays from the failed window on, not for the whole backfill again.
        The watermark never passes the last bucket the server sent (null ones
        included): a window whose series stops short ends the prefix there.
        """
        parts, error = await self._fetch_windows(item)
        rows, last_value_end, covered, whole = self._prefix(item, parts)
        key = item.key
        mark = self._watermark(item, last_value_end)
        if not whole:
            mark = min(mark, covered)
        advance = None
        if mark > (item.watermark or item.start) or (item.watermark is None and whole):
            advance = WatermarkAdvance(item=key, complete_until=mark.astimezone(UTC))
        if advance is None and not rows and error is not None:
            return None, error
        return _Fetched(key, rows, advance, complete=error is None), error

    async def _fetch_windows(
        self, item: SyncItem
    ) -> tuple[list[tuple[WorkItem, SweepRecord] | None], BaseException | None]:
        """Every window's result (`None`: failed or cancelled) and the first failure."""
        windows = item.windows
        parts: list[tuple[WorkItem, SweepRecord] | None] = [None] * len(windows)
        failures: dict[int, BaseException] = {}
        scopes = [anyio.CancelScope() for _ in windows]

        async def one(index: int, start: datetime, end: datetime) -> None:
            with scopes[index]:
                try:
                    parts[index] = await self._call(item, start, end)
                except Exception as exc:  # noqa: BLE001 - kept and returned, group-free
                    failures[index] = exc
                    for later in scopes[index + 1 :]:
                        later.cancel()

        async with anyio.create_task_group() as tg:
            for index, (start, end) in enumerate(windows):
                tg.start_soon(one, index, start, end)
        return parts, failures[min(failures)] if failures else None

    def _prefix(
        self, item: SyncItem, parts: Sequence[tuple[WorkItem, SweepRecord] | None]
    ) -> tuple[list[MeasurementRow], datetime | None, datetime, bool]:
        """The rows of the windows received whole, in order, and what they cover.

        Returns the rows, the end of their last value, how far every bucket came back,
        and whether that is every window.
        """
        rows: list[MeasurementRow] = []
        last_value_end: datetime | None = None
        covered = item.start  # every bucket before this came back
        for (start, end), part in zip(item.windows, parts, strict=True):
            if part is None:
                return rows, last_value_end, covered, False
            got, value_end, bucket_end = item_rows([part])
            rows.extend(got)
            if value_end is not None and (last_value_end is None or value_end > last_value_end):
                last_value_end = value_end
            # No bucket at all (no device of the family): nothing is missing.
            if bucket_end is not None and bucket_end < end:
                if end <= self.plan.now:  # a closed window came back short (not the open tail)
                    logger.warning(
                        "sync: %s: the series of %s..%s stops at %s; the watermark stays there",
                        item.key,
                        start.isoformat(),
                        end.isoformat(),
                        bucket_end.isoformat(),
                    )
                return rows, last_value_end, max(covered, bucket_end), False
            covered = max(covered, end)
        return rows, last_value_end, covered, True

    async def _fetch_into_pending(self, item: SyncItem) -> None:
        """Queue what the item got for the next commit; raise its first failure."""
        fetched, error = await self.fetch(item)
        if fetched is not None:
            self.pending.append(fetched)
        if error is not None:
            raise error

    async def run_item(self, item: SyncItem) -> None:
        if self.stop_reason is not None:
            self.not_attempted += 1
            self.done += 1
            return
        try:
            await self._fetch_into_pending(item)
        except errors.QuotaExhaustedError:
            self._stop("quota exhausted")
            self.not_attempted += 1
        except errors.ClientClosedError:
            self._stop("client closed")
            self.not_attempted += 1
        except errors.AuthenticationError as exc:
            self._stop("authentication failed")
            self.fail(item.key, exc)
        except Exception as exc:  # a bad body fails its own item only
            if not isinstance(exc, errors.SolarEdgeError):
                logger.exception("sync: unexpected error on %s", item.key)
            self.fail(item.key, exc)
        self.done += 1
        self.progress()
        if len(self.pending) >= self.batch_items:
            await self.flush()

    def _stop(self, reason: str) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason
            logger.warning("sync: %s; no further items are fetched", reason)

    # -- committing --------------------------------------------------------------------

    async def flush(self) -> None:
        """Commit what was fetched, shielded: a cancellation waits for the commit.

        The shield has a deadline (`SHUTDOWN_TIMEOUT` seconds, or the caller's sooner
        deadline: a nested shield would otherwise void it), so a store that stopped
        answering cannot hold a cancelled run forever. A commit cut off there fails its
        items (their watermarks did not move: the next run fetches them again).
        """
        outer = anyio.current_effective_deadline()
        bound = anyio.current_time() + SHUTDOWN_TIMEOUT
        if anyio.current_time() < outer < bound:
            bound = outer
        async with self.flush_lock:
            with anyio.CancelScope(shield=True, deadline=bound) as scope:
                batch, self.pending = self.pending, []
                committed = False
                if batch:
                    await self._commit(batch)
                committed = True
                attempts, self.attempts = self.attempts, []
                if attempts:
                    await self.store.record_attempts(attempts)
            if scope.cancelled_caught and batch and not committed:
                logger.error(
                    "sync: a commit of %d items did not finish within %.0f s; they are "
                    "fetched again by the next run",
                    len(batch),
                    SHUTDOWN_TIMEOUT,
                )
                cut = StoreError(
                    f"the store did not commit within {SHUTDOWN_TIMEOUT:.0f} s: fetched again "
                    "by the next run"
                )
                for fetched in batch:
                    self.fail(fetched.key, cut)

    async def _commit(self, batch: Sequence[_Fetched]) -> None:
        rows = [row for f in batch for row in f.rows]
        marks = [f.advance for f in batch if f.advance is not None]
        try:
            result = await self.store.commit_batch(rows, watermarks=marks, owner=self.owner)
        except (InvalidRowError, LeaseLostError) as exc:
            if len(batch) > 1:  # find the culprit: the others commit alone
                for fetched in batch:
                    await self._commit([fetched])
                return
            if isinstance(exc, LeaseLostError):
                self.held_elsewhere += 1
            else:
                self.fail(batch[0].key, exc)
            return
        self.succeeded += sum(f.complete for f in batch)
        self.inserted += result.inserted
        self.updated += result.updated
        self.unchanged += result.unchanged

    async def timer(self) -> None:
        while True:
            await anyio.sleep(self.batch_seconds)
            await self.flush()

    async def renewer(self) -> None:
        """Renew the held leases every third of their ttl, so none lapses mid-chunk."""
        while True:
            await anyio.sleep(self.lease_ttl / 3)
            try:
                await self.store.renew(self.owner, ttl=self.lease_ttl)
            except StoreError as exc:  # the commit then finds out (LeaseLostError)
                logger.warning("sync: renewing the leases of %s failed: %s", self.owner, exc)

    # -- driving ---------------------------------------------------------------------

    async def drive(self, claim_size: int) -> None:
        items = self.plan.items
        limit = anyio.Semaphore(self.concurrency)
        for first in range(0, len(items), claim_size):
            chunk = items[first : first + claim_size]
            if self.stop_reason is not None:
                self.not_attempted += len(chunk)
                self.done += len(chunk)
                continue
            mine = await self._claim(chunk)

            async def run(item: SyncItem) -> None:
                try:
                    await self.run_item(item)
                finally:
                    limit.release()

            async with anyio.create_task_group() as tg:
                for item in mine:
                    await limit.acquire()
                    tg.start_soon(run, item)
            await self.flush()
            await self.store.release(self.owner, [i.key for i in chunk])
        self.progress()

    async def _claim(self, chunk: Sequence[SyncItem]) -> list[SyncItem]:
        by_key = {i.key: i for i in chunk}
        sites = sorted({k.site_id for k in by_key})
        targets = sorted({k.target for k in by_key})
        claimed = await self.store.claim(
            self.owner,
            until=self.plan.now + timedelta(days=1),
            ttl=self.lease_ttl,
            limit=len(sites) * len(targets) * 8,
            targets=targets,
            site_ids=sites,
        )
        mine: list[SyncItem] = []
        extra: list[ItemKey] = []
        for state in claimed:
            item = by_key.pop(state.item, None)
            if item is None:
                extra.append(state.item)
            elif state.complete_until != item.watermark:
                self.held_elsewhere += 1  # another worker committed it since we planned
                self.done += 1
                extra.append(state.item)
            else:
                mine.append(item)
        self.held_elsewhere += len(by_key)  # leased by another worker
        self.done += len(by_key)
        if extra:
            await self.store.release(self.owner, extra)
        return mine

    def report(self, run_id: int, outcome: str) -> SyncReport:
        return SyncReport(
            credits=self.credits(),
            rows=self.inserted + self.updated,
            rows_inserted=self.inserted,
            rows_updated=self.updated,
            rows_unchanged=self.unchanged,
            succeeded=self.succeeded,
            failed=self.failed,
            not_attempted=self.not_attempted,
            rate_limited=self.rate_limited(),
            run_id=run_id,
            sites=len(self.plan.sites),
            complete=outcome == "ok",
            held_elsewhere=self.held_elsewhere,
            outcome=outcome,
            errors=tuple(self.errors),
        )

    def outcome(self) -> str:
        if self.failed == 0 and self.not_attempted == 0:
            return "ok"
        return "failed" if self.succeeded == 0 and self.failed else "partial"


async def _wind_up(runner: _Runner, run_id: int, outcome: str, *, raising: bool) -> None:
    """Commit what is in hand, record the run's end, drop the leases.

    After a failure or an interruption a store error here is logged, not raised, so
    the original exception propagates.
    """
    store = runner.store
    try:
        try:
            await runner.flush()
        finally:
            if outcome == "interrupted":
                runner.not_attempted += max(0, runner.total - runner.done)
            await store.finish_run(run_id, runner.report(run_id, outcome))
            await store.release(runner.owner)
    except StoreError:
        if not raising:
            raise
        logger.exception("sync: winding up run %s failed", run_id)


async def run_sync(
    client: SolarEdgeClient,
    store: Store,
    plan: SyncPlan,
    *,
    on_progress: Callable[[SyncProgress], object] | None = None,
    owner: str | None = None,
    batch_items: int = DEFAULT_BATCH_ITEMS,
    batch_seconds: float = DEFAULT_BATCH_SECONDS,
    concurrency: int | None = None,
    lease_ttl: float = DEFAULT_LEASE_TTL,
    claim_size: int | None = None,
) -> SyncReport:
    """Fetch what ``plan`` misses and commit rows with their watermarks.

    Writes the discovered sites, creates the items' ``sync_state`` rows, records the
    run in ``runs``, and commits fetched items in batches (rows and watermark advances
    in one transaction per batch). A failed item (bad body, refused call) is recorded
    with its error and leaves its watermark, so the next run fills the gap; the monthly
    quota running out or a refused credential stops launching items.

    Cancellation (SIGINT/SIGTERM in the CLI): the items fetched whole are committed in
    a shielded scope (at most `SHUTDOWN_TIMEOUT` seconds), the run is recorded as
    ``interrupted``, the leases are released, and the cancellation propagates.

    Args:
        client: The client that planned ``plan``.
        store: The store. On SQLite the run holds it for exclusive use (unless it
            was opened with ``exclusive=True``), so a second sync on the same file
            fails with `StoreLockedError` before fetching anything.
        plan: From `plan_sync`.
        on_progress: Called with a `SyncProgress` after each item and at the end.
        owner: The lease owner name (default `default_owner`).
        batch_items: Items per commit at most.
        batch_seconds: Seconds between commits at most.
        concurrency: Items fetched at once (default twice the client's
            ``max_concurrency``; the client still bounds requests in flight).
        lease_ttl: Seconds an item's lease lasts (a crashed worker's items free up then);
            the run renews its leases every ``lease_ttl / 3`` seconds.
        claim_size: Items leased at a time (default ``4 * concurrency``).

    Returns:
        The `SyncReport`.

    Raises:
        InvalidRequestError: A batch size, interval or concurrency out of range.
        StoreLockedError: SQLite: another sync (or an exclusive store) holds the file.
        StoreError: The store failed (the batch in flight was rolled back whole).
    """
    if concurrency is None:
        concurrency = 2 * client.max_concurrency
    good_interval = batch_seconds > 0 and math.isfinite(batch_seconds)
    good_interval = good_interval and lease_ttl > 0 and math.isfinite(lease_ttl)
    if concurrency < 1 or batch_items < 1 or not good_interval:
        raise errors.InvalidRequestError(
            "concurrency and batch_items must be >= 1, batch_seconds and lease_ttl positive "
            f"numbers; got {concurrency!r}, {batch_items!r}, {batch_seconds!r}, {lease_ttl!r}"
        )
    runner = _Runner(
        client,
        store,
        plan,
        owner=owner or default_owner(store),
        on_progress=on_progress,
        batch_items=batch_items,
        batch_seconds=batch_seconds,
        concurrency=concurrency,
        lease_ttl=lease_ttl,
    )
    # SQLite: one sync at a time per file (all its runs lease as one owner name).
    took = store.dialect == "sqlite" and await store.lock_exclusive()
    try:
        if plan.site_records:
            await store.upsert_sites(plan.site_records)
        await store.ensure_items(plan.keys)
        run_id = await store.start_run()
    except BaseException:
        if took:
            with anyio.CancelScope(shield=True):
                await store.unlock_exclusive()
        raise
    outcome = "failed"
    raising = True
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(runner.timer)
            tg.start_soon(runner.renewer)
            await runner.drive(claim_size or 4 * concurrency)
            tg.cancel_scope.cancel()
        outcome = runner.outcome()
        raising = False
    except anyio.get_cancelled_exc_class():
        outcome = "interrupted"
        raise
    except BaseException as exc:
        outcome = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        raise
    finally:
        try:
            with anyio.CancelScope(shield=True) as scope:
                scope.deadline = anyio.current_time() + SHUTDOWN_TIMEOUT
                await _wind_up(runner, run_id, outcome, raising=raising)
        finally:
            if took:
                with anyio.CancelScope(shield=True):
                    await store.unlock_exclusive()
    runner.progress()
    return runner.report(run_id, outcome)
