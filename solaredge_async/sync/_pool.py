"""One sync over a credential pool: a plan per credential, one store, one report.

`plan_pool_sync` lists the pool's sites (`solaredge_async.fleet.ClientPool.sites`),
routes each to one credential that sees it, and plans each credential's share with
`plan_sync` on its client (``spec.sites`` restricted to its sites). `run_pool_sync`
runs the shares side by side with `run_sync`, each on its own client (its limiter,
ledger and concurrency bound) and all into the same store: the shares' items are
disjoint, so their leases never meet. A pool of one API key plans and runs exactly
as `plan_sync` and `run_sync`.
"""

from __future__ import annotations

import functools
from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

import anyio
import attrs

from solaredge_async import errors
from solaredge_async.sync._plan import SyncItem, SyncPlan, plan_sync
from solaredge_async.sync._run import (
    DEFAULT_BATCH_ITEMS,
    DEFAULT_BATCH_SECONDS,
    DEFAULT_LEASE_TTL,
    REPORT_COUNTS,
    SyncProgress,
    SyncReport,
    run_sync,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

    from solaredge_async.fleet import ClientPool
    from solaredge_async.models import Site
    from solaredge_async.store import Store
    from solaredge_async.sync._plan import SyncSpec

__all__ = [
    "PoolSyncPart",
    "PoolSyncPlan",
    "PoolSyncReport",
    "plan_pool_sync",
    "run_pool_sync",
]

#: Credentials planned at once at most.
_PLANNING_CONCURRENCY: Final = 8
#: Credentials synced at once by default, at least (see `run_pool_sync`).
_MIN_PARALLEL: Final = 8
#: The outcomes of the shares' runs, best first: the pool's is the worst one.
_OUTCOMES: Final = ("ok", "partial", "interrupted", "failed")
_MAX_ERRORS: Final = 100
#: The counters of `SyncReport` a pool's report sums over its shares.
_SUMMED: Final = ("credits", *REPORT_COUNTS, "held_elsewhere")
#: The fields of `SyncProgress`, every one a count the pool's progress sums.
_PROGRESS_FIELDS: Final = tuple(field.name for field in attrs.fields(SyncProgress))


@attrs.frozen(kw_only=True)
class PoolSyncPart:
    """One credential's share of a pool sync.

    Attributes:
        credential: The credential's fingerprint.
        account: The account it is counted under.
        plan: Its plan, made with its client.
    """

    credential: str
    account: str
    plan: SyncPlan


@attrs.frozen(kw_only=True)
class PoolSyncPlan:
    """What a pool sync will fetch, priced; run it with `run_pool_sync`.

    Attributes:
        spec: The spec it was made from.
        now: The instant it was made for (aware UTC), the same for every share.
        parts: The credentials' shares, in pool order (credentials with no site omitted).
        failed_sites: Sites that could not be planned, with the error: a site no
            credential sees (`SiteNotInPoolError`), and each share's failed sites.
        failed_credentials: Credentials whose listing or planning failed, with the error.
        listing_credits: Credits spent listing the pool's sites.
    """

    spec: SyncSpec
    now: datetime
    parts: tuple[PoolSyncPart, ...]
    failed_sites: Mapping[int, errors.SolarEdgeError] = attrs.field(factory=dict)
    failed_credentials: Mapping[str, errors.SolarEdgeError] = attrs.field(factory=dict)
    listing_credits: int = 0

    @property
    def items(self) -> tuple[SyncItem, ...]:
        """Every share's items, credential by credential."""
        return tuple(item for part in self.parts for item in part.plan.items)

    @property
    def sites(self) -> tuple[int, ...]:
        """Every planned site id, credential by credential."""
        return tuple(site for part in self.parts for site in part.plan.sites)

    @property
    def credits(self) -> int:
        """The data calls the plan costs when nothing is retried (discovery excluded)."""
        return sum(part.plan.credits for part in self.parts)

    def breakdown(self) -> dict[str, int]:
        """Credits by target, all credentials together."""
        total = sum((Counter(part.plan.breakdown()) for part in self.parts), Counter[str]())
        return dict(sorted(total.items()))

    @property
    def discovery_credits(self) -> int:
        """Credits spent planning: the site listing plus each share's discovery."""
        return self.listing_credits + sum(part.plan.discovery_credits for part in self.parts)


@attrs.frozen(kw_only=True)
class PoolSyncReport(SyncReport):
    """What a pool sync did: the shares' reports summed (fields as `SyncReport`).

    Attributes:
        credits: Credits spent by every credential during the runs.
        rows: Rows inserted or updated.
        rows_inserted: Rows that were new.
        rows_updated: Rows whose value changed.
        rows_unchanged: Rows fetched again and found identical.
        succeeded: Items committed.
        failed: Items that failed.
        not_attempted: Items left for a later run.
        rate_limited: HTTP 429 answers seen.
        run_id: The first share's run id in the store's ``runs`` table (0: none ran).
        sites: Sites planned.
        complete: Whether every share committed every item, and no site or credential
            failed planning.
        held_elsewhere: Items another worker held.
        outcome: The worst share's outcome (``"ok"``, ``"partial"``, ``"failed"``,
            ``"interrupted"``).
        errors: ``(item key, message)`` of failed items (at most 100).
        run_ids: Every share's run id, by credential fingerprint.
        parts: Every share's report, by credential fingerprint.
    """

    run_ids: Mapping[str, int] = attrs.field(factory=dict)
    parts: Mapping[str, SyncReport] = attrs.field(factory=dict)


def _records(pool_sites: Mapping[int, Site | None], share: list[int], plan: SyncPlan) -> SyncPlan:
    """The share's plan with the listed sites' records (written to the store's ``sites``)."""
    have = {site.site_id for site in plan.site_records}
    extra = [
        record
        for site_id in share
        if site_id not in have and (record := pool_sites.get(site_id)) is not None
    ]
    if not extra:
        return plan
    return attrs.evolve(plan, site_records=(*plan.site_records, *extra))


def _utc_now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.utcoffset() is None:
        raise errors.InvalidRequestError("now must be an aware datetime")
    return now.astimezone(UTC)


async def _plan_shares(
    pool: ClientPool, store: Store, spec: SyncSpec, now: datetime, shares: Mapping[str, list[int]]
) -> dict[str, SyncPlan | errors.SolarEdgeError]:
    """Each credential's plan of its share, or the error that stopped it.

    A share fails alone (its key refused, its credits used up): the other
    credentials' shares are still planned.
    """
    records = {site.site_id: site.site for site in await pool.sites()}
    outcomes: dict[str, SyncPlan | errors.SolarEdgeError] = {}
    limit = anyio.Semaphore(_PLANNING_CONCURRENCY)

    async def plan_one(credential: str, share: list[int]) -> None:
        async with limit:
            try:
                plan = await plan_sync(
                    pool.client(credential), store, attrs.evolve(spec, sites=share), now=now
                )
            except errors.SolarEdgeError as exc:
                outcomes[credential] = exc
            else:
                outcomes[credential] = _records(records, share, plan)

    async with anyio.create_task_group() as tg:
        for credential, share in shares.items():
            tg.start_soon(plan_one, credential, share)
    return outcomes


async def plan_pool_sync(
    pool: ClientPool, store: Store, spec: SyncSpec, *, now: datetime | None = None
) -> PoolSyncPlan:
    """Plan and price what ``spec`` still misses in ``store``, over every credential.

    Spends credits on discovery only: the pool's site listing (once per pool) and each
    share's zone lookups for sites no listing located (grants). Writes nothing.

    Args:
        pool: The pool; each site is planned on the client that fetches it.
        store: The store whose watermarks say what is complete.
        spec: What to sync; its ``sites`` (or every site of the pool when `None`) are
            split over the credentials, and a named site no credential sees is
            reported in `PoolSyncPlan.failed_sites`, at no cost.
        now: The current instant (aware; default the clock), the same for every share.

    Raises:
        InvalidRequestError: A resolution a target does not accept, or a naive ``now``.
        StoreError: Reading the watermarks failed.
        ClientClosedError: The pool is closed.
    """
    now = _utc_now(now)
    if len(pool) == 1 and pool.is_listed(pool.credentials[0]):
        credential = pool.credentials[0]
        plan = await plan_sync(pool.client(credential), store, spec, now=now)
        part = PoolSyncPart(credential=credential, account=pool.account_of(credential), plan=plan)
        return PoolSyncPlan(spec=spec, now=now, parts=(part,), failed_sites=plan.failed_sites)
    shares, unseen = await pool.shares(spec.sites)
    outcomes = await _plan_shares(pool, store, spec, now, shares)
    for refused in outcomes.values():
        if isinstance(refused, errors.InvalidRequestError):
            raise refused  # the spec is wrong for every credential, not this one's fault
    failed_sites: dict[int, errors.SolarEdgeError] = dict(unseen)
    failed_credentials: dict[str, errors.SolarEdgeError] = dict(pool.listing_errors)
    parts: list[PoolSyncPart] = []
    for credential in pool.credentials:
        outcome = outcomes.get(credential)
        if isinstance(outcome, errors.SolarEdgeError):
            failed_credentials[credential] = outcome
            failed_sites.update(dict.fromkeys(shares[credential], outcome))
        elif outcome is not None:
            account = pool.account_of(credential)
            parts.append(PoolSyncPart(credential=credential, account=account, plan=outcome))
    for part in parts:
        failed_sites.update(part.plan.failed_sites)
    return PoolSyncPlan(
        spec=spec,
        now=now,
        parts=tuple(parts),
        failed_sites=failed_sites,
        failed_credentials=failed_credentials,
        listing_credits=pool.listing_credits,
    )


def _sums(records: Sequence[object], names: Iterable[str]) -> dict[str, int]:
    """Each named counter summed over ``records``."""
    return {name: sum(getattr(record, name) for record in records) for name in names}


def _merge(plan: PoolSyncPlan, reports: Mapping[str, SyncReport]) -> PoolSyncReport:
    each = [reports[p.credential] for p in plan.parts if p.credential in reports]
    worst = max((_OUTCOMES.index(r.outcome) for r in each if r.outcome in _OUTCOMES), default=0)
    return PoolSyncReport(
        **_sums(each, _SUMMED),
        run_id=each[0].run_id if each else 0,
        complete=all(r.complete for r in each)
        and not plan.failed_sites
        and not plan.failed_credentials,
        outcome=_OUTCOMES[worst],
        errors=tuple(e for r in each for e in r.errors)[:_MAX_ERRORS],
        run_ids={cred: r.run_id for cred, r in reports.items()},
        parts=dict(reports),
    )


async def run_pool_sync(
    pool: ClientPool,
    store: Store,
    plan: PoolSyncPlan,
    *,
    on_progress: Callable[[SyncProgress], object] | None = None,
    owner: str | None = None,
    batch_items: int = DEFAULT_BATCH_ITEMS,
    batch_seconds: float = DEFAULT_BATCH_SECONDS,
    concurrency: int | None = None,
    lease_ttl: float = DEFAULT_LEASE_TTL,
    parallel: int | None = None,
) -> PoolSyncReport:
    """Run every share of ``plan`` with `run_sync` on its own client, into one store.

    Args:
        pool: The pool the plan was made with.
        store: The store.
        plan: From `plan_pool_sync`.
        on_progress: Called with the shares' `SyncProgress` summed, after each item
            of any share and at the end.
        owner: The lease owner name, as `run_sync` (every share uses it).
        batch_items: Items per commit at most, per share.
        batch_seconds: Seconds between commits at most, per share.
        lease_ttl: Seconds an item's lease lasts.
        concurrency: Items fetched at once per credential (as `run_sync`).
        parallel: Credentials synced at once at most (default: twice the accounts,
            at least 8).

    Returns:
        The shares' reports summed (`PoolSyncReport`).

    Raises:
        InvalidRequestError: A share for a credential not in the pool, or a setting
            out of range.
        StoreError: The store failed (the other shares are cancelled).
        StoreLockedError: SQLite: another sync (or an exclusive store) holds the file.
    """
    for part in plan.parts:
        pool.client(part.credential)  # raises for a credential not in the pool
    if parallel is None:
        accounts = len({part.account for part in plan.parts})
        parallel = max(1, min(len(plan.parts), max(_MIN_PARALLEL, 2 * accounts)))
    if isinstance(parallel, bool) or not isinstance(parallel, int) or parallel < 1:
        raise errors.InvalidRequestError(f"parallel must be an integer >= 1, got {parallel!r}")
    progress: dict[str, SyncProgress] = {}
    reports: dict[str, SyncReport] = {}
    slots = anyio.Semaphore(parallel)
    # Every share runs with the same settings.
    sync = functools.partial(
        run_sync,
        owner=owner,
        batch_items=batch_items,
        batch_seconds=batch_seconds,
        concurrency=concurrency,
        lease_ttl=lease_ttl,
    )

    def report_progress() -> None:
        if on_progress is None:
            return
        sums = _sums(list(progress.values()), _PROGRESS_FIELDS)
        sums["total"] += sum(len(p.plan.items) for p in plan.parts if p.credential not in progress)
        on_progress(SyncProgress(**sums))

    async def run_one(part: PoolSyncPart) -> None:
        def seen(snapshot: SyncProgress) -> None:
            progress[part.credential] = snapshot
            report_progress()

        async with slots:
            client = pool.client(part.credential)
            reports[part.credential] = await sync(client, store, part.plan, on_progress=seen)

    # SQLite: one sync at a time per file. The pool's shares are one sync: the lock is
    # taken once for all of them (each share's run_sync then finds it held).
    took = store.dialect == "sqlite" and await store.lock_exclusive()
    try:
        async with anyio.create_task_group() as tg:
            for part in plan.parts:
                tg.start_soon(run_one, part)
    finally:
        if took:
            with anyio.CancelScope(shield=True):
                await store.unlock_exclusive()
    report_progress()
    return _merge(plan, reports)
