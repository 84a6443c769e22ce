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
    SyncProgress,
    SyncReport,
    run_sync,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from solaredge_async.fleet import ClientPool
    from solaredge_async.models import Site
    from solaredge_async.store import ItemKey, Store
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

    @property
    def discovery_credits(self) -> int:
        """Credits spent planning: the site listing plus each share's discovery."""
        return self.listing_credits + sum(part.plan.discovery_credits for part in self.parts)

    def breakdown(self) -> dict[str, int]:
        """Credits by target, all credentials together."""
        total: Counter[str] = Counter()
        for part in self.parts:
            total.update(part.plan.breakdown())
        return dict(sorted(total.items()))


@attrs.frozen(kw_only=True)
class PoolSyncReport:
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

    credits: int
    rows: int
    rows_inserted: int
    rows_updated: int
    rows_unchanged: int
    succeeded: int
    failed: int
    not_attempted: int
    rate_limited: int
    run_id: int
    sites: int
    complete: bool
    held_elsewhere: int = 0
    outcome: str = "ok"
    errors: tuple[tuple[ItemKey, str], ...] = ()
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
    failed_sites: dict[int, errors.SolarEdgeError] = dict(unseen)
    records = {site.site_id: site.site for site in await pool.sites()}
    failed_credentials: dict[str, errors.SolarEdgeError] = dict(pool.listing_errors)
    plans: dict[str, SyncPlan] = {}
    refused: list[errors.InvalidRequestError] = []
    limit = anyio.Semaphore(_PLANNING_CONCURRENCY)

    async def plan_one(credential: str, share: list[int]) -> None:
        async with limit:
            try:
                plan = await plan_sync(
                    pool.client(credential), store, attrs.evolve(spec, sites=share), now=now
                )
            except errors.InvalidRequestError as exc:
                refused.append(exc)
            except errors.SolarEdgeError as exc:
                failed_credentials[credential] = exc
                failed_sites.update(dict.fromkeys(share, exc))
            else:
                plans[credential] = _records(records, share, plan)

    async with anyio.create_task_group() as tg:
        for credential, share in shares.items():
            tg.start_soon(plan_one, credential, share)
    if refused:
        raise refused[0]
    parts = tuple(
        PoolSyncPart(credential=cred, account=pool.account_of(cred), plan=plans[cred])
        for cred in pool.credentials
        if cred in plans
    )
    for part in parts:
        failed_sites.update(part.plan.failed_sites)
    return PoolSyncPlan(
        spec=spec,
        now=now,
        parts=parts,
        failed_sites=failed_sites,
        failed_credentials=failed_credentials,
        listing_credits=pool.listing_credits,
    )


def _merge(plan: PoolSyncPlan, reports: Mapping[str, SyncReport]) -> PoolSyncReport:
    each = [reports[p.credential] for p in plan.parts if p.credential in reports]
    worst = max((_OUTCOMES.index(r.outcome) for r in each if r.outcome in _OUTCOMES), default=0)
    failures = tuple(e for r in each for e in r.errors)[:_MAX_ERRORS]
    return PoolSyncReport(
        credits=sum(r.credits for r in each),
        rows=sum(r.rows for r in each),
        rows_inserted=sum(r.rows_inserted for r in each),
        rows_updated=sum(r.rows_updated for r in each),
        rows_unchanged=sum(r.rows_unchanged for r in each),
        succeeded=sum(r.succeeded for r in each),
        failed=sum(r.failed for r in each),
        not_attempted=sum(r.not_attempted for r in each),
        rate_limited=sum(r.rate_limited for r in each),
        run_id=each[0].run_id if each else 0,
        sites=sum(r.sites for r in each),
        complete=all(r.complete for r in each)
        and not plan.failed_sites
        and not plan.failed_credentials,
        held_elsewhere=sum(r.held_elsewhere for r in each),
        outcome=_OUTCOMES[worst],
        errors=failures,
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
    lease_ttl: float = 300.0,
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

    def report_progress() -> None:
        if on_progress is None:
            return
        snaps = list(progress.values())
        waiting = sum(len(p.plan.items) for p in plan.parts if p.credential not in progress)
        on_progress(
            SyncProgress(
                done=sum(s.done for s in snaps),
                total=sum(s.total for s in snaps) + waiting,
                credits=sum(s.credits for s in snaps),
                rows=sum(s.rows for s in snaps),
                failed=sum(s.failed for s in snaps),
                succeeded=sum(s.succeeded for s in snaps),
                not_attempted=sum(s.not_attempted for s in snaps),
                rate_limited=sum(s.rate_limited for s in snaps),
            )
        )

    async def run_one(part: PoolSyncPart) -> None:
        def seen(snapshot: SyncProgress) -> None:
            progress[part.credential] = snapshot
            report_progress()

        async with slots:
            reports[part.credential] = await run_sync(
                pool.client(part.credential),
                store,
                part.plan,
                on_progress=seen,
                owner=owner,
                batch_items=batch_items,
                batch_seconds=batch_seconds,
                concurrency=concurrency,
                lease_ttl=lease_ttl,
            )

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
