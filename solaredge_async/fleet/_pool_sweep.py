"""One sweep over a credential pool: a plan per credential, one merged result stream.

`plan_pool_sweep` lists the pool's sites (`ClientPool.sites`), routes each site
to one credential that sees it, and plans each credential's share with
`solaredge_async.fleet.plan_sweep` on that credential's client (the spec's
``site_ids`` restricted to its sites). `pool_sweep` runs those plans, each with
`solaredge_async.fleet.sweep` on its own client (its own limiter, ledger and
concurrency bound), and merges their streams into one: every planned item comes
out exactly once. Accounts run side by side, each at its own rate.

A spec without ``site_ids`` that asks for ``alerts`` is fetched per site (one
call per site and 100 alerts): ``GET /alerts`` lists every site of a key, also the
ones routed to another credential, so it would fetch some alerts twice.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import anyio
import attrs

from solaredge_async import errors
from solaredge_async.fleet._plan import SweepPlan, plan_sweep
from solaredge_async.fleet._run import (
    QUOTA_EXHAUSTED,
    ItemFailed,
    ItemNotAttempted,
    ItemSucceeded,
    ProgressReports,
    ResultStream,
    StreamedRun,
    SweepProgress,
    SweepResult,
    SweepResults,
    sweep,
)
from solaredge_async.limits._bucket import DEFAULT_SAFETY_MARGIN

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterator, Mapping

    from anyio.streams.memory import MemoryObjectSendStream

    from solaredge_async.fleet._plan import WorkItem
    from solaredge_async.fleet._pool import ClientPool, PoolSite
    from solaredge_async.fleet._run import Sweep
    from solaredge_async.fleet._spec import SweepSpec

__all__ = [
    "PoolPart",
    "PoolSweep",
    "PoolSweepPlan",
    "PoolSweepResults",
    "plan_pool_sweep",
    "pool_sweep",
]

#: Credentials planned at once at most (each plan's discovery at its account's rate).
_PLANNING_CONCURRENCY = 8
#: Credentials swept at once by default, at least (see `pool_sweep`).
_MIN_PARALLEL = 8


@attrs.frozen(kw_only=True)
class PoolPart:
    """One credential's share of a pool sweep.

    Attributes:
        credential: The credential's fingerprint.
        account: The account it is counted under (`ClientPool.account_of`).
        plan: Its plan, made with its client.
    """

    credential: str
    account: str
    plan: SweepPlan


class PoolSweepPlan:
    """The work of a sweep over a credential pool: one `SweepPlan` per credential.

    Made by `plan_pool_sweep`; run with `pool_sweep`. Iterating yields every
    `WorkItem`, credential by credential. Immutable: `only` and `without` return
    filtered copies.

    Attributes:
        spec: The spec it was made from.
        now: The instant relative days were resolved against (the same for all parts).
        parts: The credentials' shares, in pool order (credentials with no site
            omitted).
        failed_sites: Sites that could not be planned, with the error: a site no
            credential sees (`SiteNotInPoolError`), and each part's failed sites.
        failed_credentials: Credentials whose site listing or planning failed,
            with the error (their sites are in no part unless another credential
            sees them).
        listing_credits: Credits spent listing the pool's sites (``GET /sites``).
    """

    def __init__(
        self,
        *,
        spec: SweepSpec,
        now: datetime,
        parts: tuple[PoolPart, ...],
        failed_sites: Mapping[int, errors.SolarEdgeError],
        failed_credentials: Mapping[str, errors.SolarEdgeError],
        listing_credits: int,
    ) -> None:
        self.spec = spec
        self.now = now
        self.parts = parts
        self.failed_sites = failed_sites
        self.failed_credentials = failed_credentials
        self.listing_credits = listing_credits

    def __repr__(self) -> str:
        return (
            f"<PoolSweepPlan credentials={len(self.parts)} sites={len(self.sites)} "
            f"items={len(self)} credits={self.credits}>"
        )

    def __iter__(self) -> Iterator[WorkItem]:
        """Every item, credential by credential, generated on the fly."""
        for part in self.parts:
            yield from part.plan

    def __len__(self) -> int:
        """The number of items (API calls)."""
        return sum(len(part.plan) for part in self.parts)

    @property
    def credits(self) -> int:
        """The credits the sweep costs when nothing is retried (see `SweepPlan.credits`)."""
        return sum(part.plan.credits for part in self.parts)

    @property
    def exact(self) -> bool:
        """Whether `credits` is exact (alert lists make it a lower bound)."""
        return all(part.plan.exact for part in self.parts)

    @property
    def credits_max(self) -> int:
        """The highest price when nothing is retried (see `SweepPlan.credits_max`)."""
        return sum(part.plan.credits_max for part in self.parts)

    @property
    def over_budget(self) -> bool:
        """Whether an account's shares may cost more than it had left when planned.

        Shares of one account (`PoolPart.account`) are added up against the least
        that any of them saw remaining.
        """
        return bool(self._over_budget_accounts())

    def _over_budget_accounts(self) -> list[str]:
        price: dict[str, int] = {}
        left: dict[str, int] = {}
        for part in self.parts:
            price[part.account] = price.get(part.account, 0) + part.plan.credits_max
            remaining = part.plan.remaining
            if remaining is not None:
                left[part.account] = min(left.get(part.account, remaining), remaining)
        return [acct for acct, cost in price.items() if acct in left and cost > left[acct]]

    def describe(self) -> str:
        """One line on the price and the budgets, e.g. for a dry run.

        One credential: its plan's line (`SweepPlan.describe`). Several: the total,
        and the accounts whose budget the plan may overrun.
        """
        if len(self.parts) == 1:
            return self.parts[0].plan.describe()
        price = f"{self.credits} credits"
        if self.credits_max != self.credits:
            price += f" ({self.credits}..{self.credits_max}: window caps not probed yet)"
        accounts = {part.account for part in self.parts}
        text = f"{price} over {len(self.parts)} credentials ({len(accounts)} accounts)"
        over = self._over_budget_accounts()
        if over:
            shown = ", ".join(over[:5]) + (f" and {len(over) - 5} more" if len(over) > 5 else "")  # noqa: PLR2004
            text += f"; more than {shown} had left this cycle (OVER BUDGET)"
        return text

    @property
    def discovery_credits(self) -> int:
        """Credits spent planning: the site listing plus each part's discovery."""
        return self.listing_credits + sum(part.plan.discovery_credits for part in self.parts)

    def breakdown(self) -> dict[str, int]:
        """Credits by item kind, all credentials together."""
        total: Counter[str] = Counter()
        for part in self.parts:
            total.update(part.plan.breakdown())
        return dict(sorted(total.items()))

    def credits_by_account(self) -> dict[str, int]:
        """Credits by account (`PoolPart.account`): what each account's budget pays."""
        total: Counter[str] = Counter()
        for part in self.parts:
            total[part.account] += part.plan.credits
        return dict(total)

    @property
    def sites(self) -> tuple[int, ...]:
        """The planned sites, credential by credential (failed sites excluded)."""
        return tuple(site for part in self.parts for site in part.plan.sites)

    @property
    def requests_per_minute(self) -> float | None:
        """The accounts' rates added up (calls per minute): the pool's pace when all run.

        Each account counted once (its parts share its limiter); `None` when no part
        has a client-side limit.
        """
        rates: dict[str, float] = {}
        for part in self.parts:
            rate = part.plan.requests_per_minute
            if rate is not None and rate > 0 and math.isfinite(rate):
                rates[part.account] = max(rates.get(part.account, 0.0), rate)
        return sum(rates.values()) if rates else None

    def duration(self, requests_per_minute: float | None = None) -> float:
        """Seconds the sweep takes at the accounts' rate limits, side by side.

        Accounts run at once, so this is the longest account's time: its credits
        at its rate (`SweepPlan.duration`), the limiter's safety margin included.

        Args:
            requests_per_minute: One rate for every account (calls per minute);
                default each part's client limit when the plan was made. With no
                limit at all, 0.0.
        """
        seconds: dict[str, float] = {}
        for part in self.parts:
            rate = (
                requests_per_minute
                if requests_per_minute is not None
                else part.plan.requests_per_minute
            )
            if rate is None or rate <= 0 or not math.isfinite(rate):
                continue
            seconds[part.account] = (
                seconds.get(part.account, 0.0)
                + part.plan.credits * (60.0 + DEFAULT_SAFETY_MARGIN) / rate
            )
        return max(seconds.values(), default=0.0)

    def _copy(self, parts: tuple[PoolPart, ...]) -> PoolSweepPlan:
        return PoolSweepPlan(
            spec=self.spec,
            now=self.now,
            parts=parts,
            failed_sites=self.failed_sites,
            failed_credentials=self.failed_credentials,
            listing_credits=self.listing_credits,
        )

    def only(self, ids: Collection[str]) -> PoolSweepPlan:
        """A plan of just the items whose `WorkItem.id` is in ``ids`` (e.g. to retry them)."""
        keep = frozenset(ids)
        return self._copy(tuple(attrs.evolve(p, plan=p.plan.only(keep)) for p in self.parts))

    def without(self, ids: Collection[str]) -> PoolSweepPlan:
        """A plan without the items whose `WorkItem.id` is in ``ids`` (e.g. to resume)."""
        drop = frozenset(ids)
        return self._copy(tuple(attrs.evolve(p, plan=p.plan.without(drop)) for p in self.parts))


async def plan_pool_sweep(
    pool: ClientPool, spec: SweepSpec, *, now: datetime | None = None
) -> PoolSweepPlan:
    """List the pool's sites, route each to a credential, and plan each credential's share.

    Spends credits on the site listing (`ClientPool.sites`, done once per pool) and
    on each part's discovery (see `solaredge_async.fleet.plan_sweep`; the zones of
    listed sites are already known, so that is usually nothing). Parts are planned
    concurrently, each at its own account's rate.

    Args:
        pool: The pool; each site is planned on the client that fetches it.
        spec: What to sweep. Its ``site_ids`` (or every site of the pool when
            `None`) are split over the credentials; a named site no credential sees
            is reported in `PoolSweepPlan.failed_sites`, at no cost.
        now: The instant `SiteDay` bounds are counted from (aware; default: now),
            the same for every part.

    Raises:
        InvalidRequestError: A spec the clients refuse (a resolution a target does
            not accept, a window over its cap with splitting off).
        ClientClosedError: The pool is closed.
    """
    if now is None:
        now = datetime.now(UTC)
    elif now.utcoffset() is None:
        raise errors.InvalidRequestError("now must be an aware datetime")
    if len(pool) == 1 and pool.is_listed(pool.credentials[0]):
        # One API key: exactly `plan_sweep` (its own listing, GET /alerts for alerts).
        credential = pool.credentials[0]
        plan = await plan_sweep(pool.client(credential), spec, now=now)
        return PoolSweepPlan(
            spec=spec,
            now=now,
            parts=(
                PoolPart(credential=credential, account=pool.account_of(credential), plan=plan),
            ),
            failed_sites=dict(plan.failed_sites),
            failed_credentials={},
            listing_credits=0,
        )
    shares, unseen = await pool.shares(spec.site_ids)
    failed_sites: dict[int, errors.SolarEdgeError] = dict(unseen)
    sites = await pool.sites()
    whole = _whole_fleets(pool, sites, shares, spec)
    failed_credentials: dict[str, errors.SolarEdgeError] = dict(pool.listing_errors)
    plans: dict[str, SweepPlan] = {}
    refused: list[errors.InvalidRequestError] = []
    limit = anyio.Semaphore(_PLANNING_CONCURRENCY)

    async def plan_one(credential: str, site_ids: list[int]) -> None:
        async with limit:
            try:
                own = spec if credential in whole else attrs.evolve(spec, site_ids=site_ids)
                plans[credential] = await plan_sweep(pool.client(credential), own, now=now)
            except errors.InvalidRequestError as exc:
                refused.append(exc)
            except errors.SolarEdgeError as exc:
                # This credential's share cannot be planned (its credits ran out, its
                # key was refused): the other credentials' shares still are.
                failed_credentials[credential] = exc
                failed_sites.update(dict.fromkeys(site_ids, exc))

    async with anyio.create_task_group() as tg:
        for credential, site_ids in shares.items():
            tg.start_soon(plan_one, credential, site_ids)
    if refused:
        raise refused[0]
    accounts = {cred: pool.account_of(cred) for cred in plans}
    parts = tuple(
        PoolPart(credential=cred, account=accounts[cred], plan=plans[cred])
        for cred in pool.credentials
        if cred in plans
    )
    for part in parts:
        failed_sites.update(part.plan.failed_sites)
    return PoolSweepPlan(
        spec=spec,
        now=now,
        parts=parts,
        failed_sites=failed_sites,
        failed_credentials=failed_credentials,
        listing_credits=pool.listing_credits,
    )


def _whole_fleets(
    pool: ClientPool,
    sites: tuple[PoolSite, ...],
    shares: Mapping[str, list[int]],
    spec: SweepSpec,
) -> frozenset[str]:
    """Credentials to plan with the spec as it is: their alerts in one ``GET /alerts``.

    Only for a spec over every site that asks for alerts in bulk, and only for a
    key that fetches every site it sees (so no alert is fetched twice). Its plan
    lists its sites again (one credit per 1,000 sites; per-site alert calls would
    cost one per site).
    """
    if spec.site_ids is not None or "alerts" not in spec.what or not spec.prefer_bulk:
        return frozenset()
    seen: Counter[str] = Counter(cred for site in sites for cred in site.credentials)
    return frozenset(
        cred for cred, share in shares.items() if pool.is_listed(cred) and seen[cred] == len(share)
    )


def _interleave(parts: tuple[PoolPart, ...]) -> list[int]:
    """Part indices, round-robin over accounts, so accounts start side by side."""
    queues: dict[str, list[int]] = {}
    for index, part in enumerate(parts):
        queues.setdefault(part.account, []).append(index)
    rounds = max((len(q) for q in queues.values()), default=0)
    return [q[n] for n in range(rounds) for q in queues.values() if n < len(q)]


class _PoolRun(ProgressReports):
    """The state of one pool sweep: the parts' sweeps, counters, stop reasons."""

    def __init__(
        self,
        plan: PoolSweepPlan,
        sweeps: list[Sweep],
        *,
        parallel: int,
        on_progress: Callable[[SweepProgress], object] | None,
        progress_interval: float,
    ) -> None:
        self.plan = plan
        self.sweeps = sweeps
        self.parallel = anyio.Semaphore(parallel)
        super().__init__(on_progress, progress_interval)
        self.total = len(plan)
        self.planned = plan.credits
        self.running: dict[int, SweepResults] = {}
        self.finished: dict[int, SweepProgress] = {}
        self.stop_reasons: dict[str, str] = {}
        self.exhausted: set[str] = set()
        self.succeeded = self.failed = self.not_attempted = 0
        self.started = anyio.current_time()

    async def drive(self, send: MemoryObjectSendStream[SweepResult]) -> None:
        async with send, anyio.create_task_group() as tg:
            for index in _interleave(self.plan.parts):
                await self.parallel.acquire()
                tg.start_soon(self._part, index, send)

    async def _part(self, index: int, send: MemoryObjectSendStream[SweepResult]) -> None:
        part = self.plan.parts[index]
        try:
            if part.account in self.exhausted:
                # Another credential of this account found the month's credits gone.
                self.stop_reasons[part.credential] = QUOTA_EXHAUSTED
                for item in part.plan:
                    await self._send(send, ItemNotAttempted(item=item, reason=QUOTA_EXHAUSTED))
                return
            async with self.sweeps[index] as results:
                self.running[index] = results
                async for result in results:
                    await self._send(send, result)
                reason = results.stop_reason
                self.finished[index] = results.progress
            if reason is not None:
                self.stop_reasons[part.credential] = reason
                if reason == QUOTA_EXHAUSTED:
                    self.exhausted.add(part.account)
        finally:
            self.running.pop(index, None)
            self.parallel.release()

    async def _send(self, send: MemoryObjectSendStream[SweepResult], result: SweepResult) -> None:
        if isinstance(result, ItemSucceeded):
            self.succeeded += 1
        elif isinstance(result, ItemFailed):
            self.failed += 1
        else:
            self.not_attempted += 1
        await send.send(result)

    def snapshot(self) -> SweepProgress:
        parts = [*self.finished.values(), *(r.progress for r in list(self.running.values()))]
        now = anyio.current_time()
        done = self.succeeded + self.failed + self.not_attempted
        rate = sum(p.rate for p in parts)
        remaining = max(0, self.total - done)
        eta: float | None
        if remaining == 0:
            eta = 0.0
        elif rate > 0:
            eta = remaining * 60.0 / rate
        else:
            eta = None
        stopped = self.stop_text()
        return SweepProgress(
            total=self.total,
            done=done,
            succeeded=self.succeeded,
            failed=self.failed,
            not_attempted=self.not_attempted,
            credits=sum(p.credits for p in parts),
            planned_credits=self.planned,
            retries=sum(p.retries for p in parts),
            rate_limited=sum(p.rate_limited for p in parts),
            rate=rate,
            elapsed=now - self.started,
            eta=eta,
            stopped=stopped or None,
        )

    def stop_text(self) -> str:
        """The stop reasons, each prefixed with its credential when the plan has several."""
        if len(self.plan.parts) == 1:
            return "; ".join(self.stop_reasons.values())
        return "; ".join(f"{cred}: {why}" for cred, why in self.stop_reasons.items())


class PoolSweepResults(ResultStream["_PoolRun"]):
    """The merged result stream of a pool sweep (``async for result in results``).

    Each item of the plan comes out exactly once, in completion order, whichever
    credential fetched it. Iteration ends when every item is accounted for.
    """

    @property
    def plan(self) -> PoolSweepPlan:
        """The plan being run."""
        return self._run.plan

    @property
    def progress(self) -> SweepProgress:
        """A snapshot of the whole sweep: the credentials' counts and credits summed.

        ``stopped`` names each credential that stopped launching items, with why.
        """
        return self._run.snapshot()

    @property
    def stop_reason(self) -> str | None:
        """Why credentials stopped launching items, or `None`.

        ``"quota exhausted"`` for a plan of one credential; each reason prefixed with
        its credential otherwise (``"key#1a2b3c4d: quota exhausted"``).
        """
        return self._run.stop_text() or None

    @property
    def stop_reasons(self) -> dict[str, str]:
        """Why credentials stopped launching items, by fingerprint (e.g. ``"quota exhausted"``)."""
        return dict(self._run.stop_reasons)


class PoolSweep(StreamedRun["_PoolRun"]):
    """The async context manager `pool_sweep` returns; entering it starts the sweep.

    Leaving the block (normally, by ``break``, by an exception or by cancellation)
    cancels every credential's sweep and waits for it: no task, limiter token,
    concurrency slot or connection outlives the block. An exception raised in the
    block propagates unchanged.
    """

    async def __aenter__(self) -> PoolSweepResults:
        return PoolSweepResults(*await self._open())


def _check_count(value: int | None, name: str, minimum: int) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise errors.InvalidRequestError(f"{name} must be an integer, got {value!r}")
    if value is not None and value < minimum:
        raise errors.InvalidRequestError(f"{name} must be >= {minimum}, got {value!r}")


def _default_parallel(plan: PoolSweepPlan) -> int:
    accounts = len({part.account for part in plan.parts})
    return max(1, min(len(plan.parts), max(_MIN_PARALLEL, 2 * accounts)))


def pool_sweep(
    pool: ClientPool,
    plan: PoolSweepPlan,
    *,
    concurrency: int | None = None,
    buffer_size: int | None = None,
    parallel: int | None = None,
    on_progress: Callable[[SweepProgress], object] | None = None,
    progress_interval: float = 0.5,
    allow_over_budget: bool = False,
) -> PoolSweep:
    """Run a pool plan, streaming one result per item out of an ``async with`` block.

    ::

        plan = await plan_pool_sweep(pool, SweepSpec(what={"energy"}, start=day, end=day))
        async with pool_sweep(pool, plan) as results:
            async for result in results:
                ...

    Each credential's share runs as `solaredge_async.fleet.sweep` on its own client
    (its rate limiter, credit ledger and concurrency bound). When one credential's
    monthly credits run out, its remaining items are reported not attempted, and so
    are the shares of the credentials of the same account not started yet; the
    other accounts carry on.

    Args:
        pool: The pool the plan was made with.
        plan: The plan (or ``plan.only(ids)`` / ``plan.without(ids)``).
        concurrency: Items in progress at most per credential (default: twice each
            client's ``max_concurrency``).
        buffer_size: Results buffered for a slow consumer in the merged stream
            (default 16; each credential's sweep buffers its own ``concurrency``).
        parallel: Credentials swept at once at most (default: twice the number of
            accounts, at least 8: every account busy, and a pool of many small
            grant shares of one account does not open every grant's connections
            at once). Shares start round-robin over the accounts.
        on_progress: Called with a `SweepProgress` of the whole sweep from the
            consuming task, at most every ``progress_interval`` seconds and once at
            the end.
        progress_interval: Seconds between progress calls.
        allow_over_budget: Run a share that may cost more credits than remain in its
            account's cycle (see `solaredge_async.fleet.sweep`).

    Returns:
        An async context manager yielding `PoolSweepResults`.

    Raises:
        InvalidRequestError: A plan part for a credential not in the pool, a plan
            made with other window caps than its client's, or a count out of range.
        PlanOverBudgetError: A share may cost more than its account has left, and
            ``allow_over_budget`` is off; nothing was sent.
    """
    _check_count(concurrency, "concurrency", 1)
    _check_count(buffer_size, "buffer_size", 0)
    _check_count(parallel, "parallel", 1)
    # Made now, so a plan that does not fit its client is refused before anything runs.
    sweeps = [
        sweep(
            pool.client(part.credential),
            part.plan,
            concurrency=concurrency,
            allow_over_budget=allow_over_budget,
        )
        for part in plan.parts
    ]
    start = functools.partial(
        _PoolRun,
        plan,
        sweeps,
        parallel=parallel if parallel is not None else _default_parallel(plan),
        on_progress=on_progress,
        progress_interval=progress_interval,
    )
    return PoolSweep(start, 16 if buffer_size is None else buffer_size)
