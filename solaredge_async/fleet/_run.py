"""Running a sweep: bounded fan-out behind the client's limiter, results streamed out.

The shape is aiometer's ``amap``: an async context manager that owns a task group and
hands out the receiving end of a bounded memory stream. A driver task walks the plan
lazily with ``concurrency`` workers: a worker takes the next item only when it is
free, makes its call through the client (its rate limiter and concurrency bound) and
sends one result into the stream, waiting until the result is taken. A slow consumer
therefore stops the sweep instead of growing memory: at most ``concurrency`` items in
progress and ``buffer_size`` results exist at any time, whatever the fleet size.

Every item ends as exactly one result: `ItemSucceeded`, `ItemFailed` or
`ItemNotAttempted`. A failure is captured as a result and never cancels the others.
When the monthly credits run out (`QuotaExhaustedError`), the client was closed, or
the credential was refused (401), nothing new is launched, the tasks already running
finish, and every remaining item is reported not attempted with the reason.
"""

from __future__ import annotations

import abc
import contextlib
import functools
import logging
import math
from collections import deque
from typing import TYPE_CHECKING, Final, Generic, Protocol, Self, TypeAlias, TypeVar, cast

import anyio
import attrs

from solaredge_async import errors
from solaredge_async._closing import TaskGroupExit
from solaredge_async._endpoints import ENDPOINTS
from solaredge_async.fleet._budget import check_budget
from solaredge_async.models import (
    Alert,
    Device,
    DeviceType,
    Measurements,
    SiteOverview,
    Telemetry,
    TelemetrySeries,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterator, Mapping

    from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

    from solaredge_async._endpoints import DeviceFamily, DeviceMetric, ResolutionName
    from solaredge_async.client import SolarEdgeClient
    from solaredge_async.fleet._plan import SweepPlan, WorkItem

_D = TypeVar("_D", bound="_Driven")

__all__ = [
    "ItemFailed",
    "ItemNotAttempted",
    "ItemSucceeded",
    "ProgressReports",
    "ResultStream",
    "SweepProgress",
    "SweepRecord",
    "SweepResult",
    "SweepResults",
    "sweep",
]

logger = logging.getLogger("solaredge_async.fleet")

#: What a successful item holds, by kind: ``overview`` a `SiteOverview`; ``energy``,
#: ``power`` and single device metrics `Measurements`; bulk telemetry `Telemetry`;
#: ``devices`` a tuple of `Device`; ``alerts`` and ``fleet_alerts`` a tuple of `Alert`.
SweepRecord: TypeAlias = (
    SiteOverview | Measurements | Telemetry | tuple[Device, ...] | tuple[Alert, ...]
)

#: Reason of `ItemNotAttempted` when the monthly credits ran out.
QUOTA_EXHAUSTED: Final = "quota exhausted"
#: Reason of `ItemNotAttempted` when the credential was refused (401).
AUTHENTICATION_FAILED: Final = "authentication failed"
#: Reason of `ItemNotAttempted` when the client was closed during the sweep.
CLIENT_CLOSED: Final = "client closed"

_ALL_DEVICE_TYPES: Final = tuple(DeviceType)
_RATE_WINDOW: Final = 60.0


def _res(item: WorkItem) -> ResolutionName | None:
    return cast("ResolutionName | None", item.resolution)


_Call: TypeAlias = "Callable[[SolarEdgeClient, WorkItem], Awaitable[SweepRecord]]"

#: The client method of each site-level operation a plan holds that has no family
#: or paging (those are dispatched by their table entry: telemetry by family, device
#: metrics by name, alert lists by page).
_SITE_CALLS: Final[Mapping[str, _Call]] = {
    "overview": lambda c, i: c.site_overview(i.site_id, start=i.start, end=i.end),
    "energy": lambda c, i: c.site_energy(i.site_id, start=i.start, end=i.end, resolution=_res(i)),
    "power": lambda c, i: c.site_power(i.site_id, start=i.start, end=i.end, resolution=_res(i)),
    "devices": lambda c, i: c.devices(i.site_id, types=_ALL_DEVICE_TYPES),
}


@attrs.frozen(kw_only=True)
class ItemSucceeded:
    """An item whose call succeeded.

    Attributes:
        item: The work item.
        record: The parsed response (see `SweepRecord`); bulk telemetry keeps only the
            metrics the spec asked for.
    """

    item: WorkItem
    record: SweepRecord


@attrs.frozen(kw_only=True)
class ItemFailed:
    """An item whose call failed; the other items carry on.

    Attributes:
        item: The work item.
        error: The error: a `solaredge_async.SolarEdgeError` subclass for every API,
            transport and validation failure (e.g. `PermissionDeniedError` for a site
            the credential cannot see); any other exception is a bug, reported here
            rather than cancelling the fleet.
    """

    item: WorkItem
    error: Exception


@attrs.frozen(kw_only=True)
class ItemNotAttempted:
    """An item the sweep did not get data for, and spent no credit on.

    Run it later with ``plan.only(ids)`` (or ``plan.without(done_ids)``).

    Attributes:
        item: The work item.
        reason: Why: ``"quota exhausted"`` (the monthly credits ran out, before or
            while the call was made: a monthly 429 costs no credit),
            ``"authentication failed"`` (the credential was refused on another
            item) or ``"client closed"``.
    """

    item: WorkItem
    reason: str


#: One result per item.
SweepResult: TypeAlias = ItemSucceeded | ItemFailed | ItemNotAttempted


@attrs.frozen(kw_only=True)
class SweepProgress:
    """A snapshot of a running sweep.

    Attributes:
        total: Items in the plan.
        done: Items finished (results produced, whether or not read yet).
        succeeded: Items that succeeded.
        failed: Items that failed.
        not_attempted: Items reported not attempted.
        credits: Credits the client spent since the sweep started (retries included;
            read from the client's ledger, so other calls on the same client count).
        planned_credits: The plan's price.
        retries: Retried attempts since the sweep started.
        rate_limited: 429 answers since the sweep started (per minute and monthly).
        rate: Calls per minute over the last minute (the whole run while shorter).
        elapsed: Seconds since the sweep started.
        eta: Seconds to go at the current rate, or `None` while unknown.
        stopped: Why the sweep stopped launching items, or `None`.
    """

    total: int
    done: int
    succeeded: int
    failed: int
    not_attempted: int
    credits: int
    planned_credits: int
    retries: int
    rate_limited: int
    rate: float
    elapsed: float
    eta: float | None
    stopped: str | None


def _filter_telemetry(record: Telemetry, keep: frozenset[str]) -> Telemetry:
    devices: dict[str, Mapping[str, TelemetrySeries]] = {
        serial: {name: series for name, series in metrics.items() if name in keep}
        for serial, metrics in record.devices.items()
    }
    return attrs.evolve(record, devices=devices)


class ProgressReports(abc.ABC):
    """Progress reports of a run, made from the task that reads its results.

    ``on_progress`` gets `snapshot` at most every ``progress_interval`` seconds while
    results are read, and once at the end.
    """

    def __init__(
        self, on_progress: Callable[[SweepProgress], object] | None, progress_interval: float
    ) -> None:
        self.on_progress = on_progress
        self.progress_interval = progress_interval
        self.last_report = -math.inf
        self.reported_end = False

    @abc.abstractmethod
    def snapshot(self) -> SweepProgress:
        """The progress now."""

    def tick(self) -> None:
        """Called by the consumer per result: report progress at most every interval."""
        if self.on_progress is None:
            return
        now = anyio.current_time()
        if now - self.last_report >= self.progress_interval:
            self.last_report = now
            self.on_progress(self.snapshot())

    def finish(self) -> None:
        """Called by the consumer at the end of the results: report once more."""
        if not self.reported_end:
            self.reported_end = True
            if self.on_progress is not None:
                self.on_progress(self.snapshot())


class _Run(ProgressReports):
    """The mutable state of one sweep: counters, the stop flag, the call dispatch."""

    def __init__(
        self,
        client: SolarEdgeClient,
        plan: SweepPlan,
        *,
        concurrency: int,
        on_progress: Callable[[SweepProgress], object] | None,
        progress_interval: float,
    ) -> None:
        self.client = client
        self.plan = plan
        self.total = len(plan)
        self.planned = plan.credits
        self.concurrency = concurrency
        super().__init__(on_progress, progress_interval)
        self.succeeded = 0
        self.failed = 0
        self.not_attempted = 0
        self.stop_reason: str | None = None
        usage = client.usage
        self.credits0 = usage.credits
        self.retries0 = usage.retries
        self.limited0 = usage.rate_limited_minute + usage.rate_limited_monthly
        self.started = anyio.current_time()
        self.samples: deque[tuple[float, int]] = deque([(self.started, usage.credits)])

    # -- driving -----------------------------------------------------------------

    async def drive(self, send: MemoryObjectSendStream[SweepResult]) -> None:
        # ``concurrency`` long-lived workers share one lazy walk of the plan: a worker
        # takes the next item only once it is free (its last result was taken), so
        # no item is held in advance, and no task is started per item.
        items = iter(self.plan)
        async with send, anyio.create_task_group() as tg:
            for _ in range(min(self.concurrency, self.total)):
                tg.start_soon(self._worker, items, send)

    async def _worker(
        self, items: Iterator[WorkItem], send: MemoryObjectSendStream[SweepResult]
    ) -> None:
        for item in items:
            reason = self.stop_reason
            result = (
                await self._execute(item)
                if reason is None
                else ItemNotAttempted(item=item, reason=reason)
            )
            await self._send(send, result)

    async def _send(self, send: MemoryObjectSendStream[SweepResult], result: SweepResult) -> None:
        if isinstance(result, ItemSucceeded):
            self.succeeded += 1
        elif isinstance(result, ItemFailed):
            self.failed += 1
        else:
            self.not_attempted += 1
        try:
            # Straight into the buffer when it has room: a loop turn per result would
            # cost as much as the hand-off itself (the next request yields anyway).
            send.send_nowait(result)
        except anyio.WouldBlock:
            await send.send(result)

    def _stop(self, reason: str) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason
            logger.warning("sweep: %s; no further items are launched", reason)

    async def _execute(self, item: WorkItem) -> SweepResult:
        try:
            record = await self._call(item)
        except errors.QuotaExhaustedError:
            self._stop(QUOTA_EXHAUSTED)
            return ItemNotAttempted(item=item, reason=QUOTA_EXHAUSTED)
        except errors.ClientClosedError:
            self._stop(CLIENT_CLOSED)
            return ItemNotAttempted(item=item, reason=CLIENT_CLOSED)
        except errors.AuthenticationError as exc:
            self._stop(AUTHENTICATION_FAILED)
            return ItemFailed(item=item, error=exc)
        except errors.SolarEdgeError as exc:
            return ItemFailed(item=item, error=exc)
        except Exception as exc:
            logger.exception("sweep: unexpected error on item %s", item.id)
            return ItemFailed(item=item, error=exc)
        return ItemSucceeded(item=item, record=record)

    async def _call(self, item: WorkItem) -> SweepRecord:
        client = self.client
        if item.start is not None:
            # The plan knows every site's zone: give it to the client, so a client that
            # did not plan this sweep spends no call looking it up.
            key = getattr(item.start.tzinfo, "key", None)
            if isinstance(key, str) and client.known_site_timezone(item.site_id) is None:
                client.set_site_timezone(item.site_id, key)
        op = ENDPOINTS.get(item.kind)
        if op is None:
            raise errors.InvalidRequestError(f"unknown work item kind {item.kind!r}")
        if op.page_size_param is not None and op.record is Alert:
            return await self._alerts(item)
        if op.level == "device":
            if item.serial is None:
                raise errors.InvalidRequestError(f"a {item.kind!r} item needs a serial")
            return await client.device_metric(
                item.site_id,
                item.serial,
                cast("DeviceMetric", op.name),
                start=item.start,
                end=item.end,
                resolution=_res(item),
            )
        if op.family is not None:
            return await self._telemetry(item, op.family)
        call = _SITE_CALLS.get(op.name)
        if call is None:
            raise errors.InvalidRequestError(f"a sweep cannot run {item.kind!r} items")
        return await call(client, item)

    async def _telemetry(self, item: WorkItem, family: DeviceFamily) -> Telemetry:
        tel = await self.client.telemetry(
            family, item.site_id, start=item.start, end=item.end, resolution=_res(item)
        )
        keep = self.plan.telemetry_metrics.get(item.kind)
        return tel if keep is None else _filter_telemetry(tel, keep)

    async def _alerts(self, item: WorkItem) -> tuple[Alert, ...]:
        only_open = self.plan.spec.only_open_alerts
        pages = (
            self.client.alerts(only_open=only_open)
            if item.kind == "fleet_alerts"
            else self.client.site_alerts(item.site_id, only_open=only_open)
        )
        # The client's list methods are async generators: close them even when a page
        # fails or the sweep is cancelled half-way.
        async with contextlib.aclosing(pages) as it:
            return tuple([alert async for alert in it])

    # -- progress ----------------------------------------------------------------

    def snapshot(self) -> SweepProgress:
        now = anyio.current_time()
        usage = self.client.usage
        self._sample(now, usage.credits)
        t0, c0 = self.samples[0]
        span = now - t0
        rate = (usage.credits - c0) * 60.0 / span if span > 0 else 0.0
        done = self.succeeded + self.failed + self.not_attempted
        remaining = max(0, self.total - done)
        eta: float | None
        if remaining == 0:
            eta = 0.0
        elif rate > 0 and self.stop_reason is None:
            eta = remaining * 60.0 / rate
        else:
            eta = None
        return SweepProgress(
            total=self.total,
            done=done,
            succeeded=self.succeeded,
            failed=self.failed,
            not_attempted=self.not_attempted,
            credits=usage.credits - self.credits0,
            planned_credits=self.planned,
            retries=usage.retries - self.retries0,
            rate_limited=usage.rate_limited_minute + usage.rate_limited_monthly - self.limited0,
            rate=rate,
            elapsed=now - self.started,
            eta=eta,
            stopped=self.stop_reason,
        )

    def _sample(self, now: float, spent: int) -> None:
        samples = self.samples
        if now - samples[-1][0] >= 1.0:
            samples.append((now, spent))
        # Keep the oldest sample at most a minute back (but always one).
        while len(samples) > 1 and now - samples[1][0] >= _RATE_WINDOW:
            samples.popleft()


class _Driven(Protocol):
    """A run that feeds a result stream (a sweep's, or a pool's)."""

    async def drive(self, send: MemoryObjectSendStream[SweepResult]) -> None: ...

    def tick(self) -> None: ...

    def finish(self) -> None: ...

    def snapshot(self) -> SweepProgress: ...


class ResultStream(Generic[_D]):
    """A running sweep's results (``async for result in results``), and its progress.

    Each item of the plan comes out exactly once, in completion order. Iteration ends
    when every item is accounted for.
    """

    def __init__(self, run: _D, receive: MemoryObjectReceiveStream[SweepResult]) -> None:
        self._run = run
        self._receive = receive

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> SweepResult:
        receive = self._receive
        try:
            try:
                # A result already waiting is taken without a loop turn: the buffer
                # bounds how many come that way before the consumer waits (and yields).
                result = receive.receive_nowait()
            except anyio.WouldBlock:
                result = await receive.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            self._run.finish()
            raise StopAsyncIteration from None
        self._run.tick()
        return result

    @property
    def progress(self) -> SweepProgress:
        """A snapshot of the progress so far."""
        return self._run.snapshot()


class SweepResults(ResultStream["_Run"]):
    """The stream of results of a running sweep (``async for result in results``).

    Each item of the plan comes out exactly once, in completion order. Iteration ends
    when every item is accounted for.
    """

    @property
    def plan(self) -> SweepPlan:
        """The plan being run."""
        return self._run.plan

    @property
    def stop_reason(self) -> str | None:
        """Why no further items are launched (e.g. ``"quota exhausted"``), or `None`."""
        return self._run.stop_reason


class StreamedRun(TaskGroupExit, Generic[_D]):
    """Starts a run in a task group on entering, and on leaving cancels and waits for it.

    Leaving the block (normally, by ``break``, by an exception or by cancellation)
    cancels whatever is still running and waits for it: no task, rate-limiter token,
    concurrency slot or connection outlives the block. An exception raised in the
    block propagates unchanged (not wrapped in an exception group).
    """

    _cancel_on_exit = True

    def __init__(self, start: Callable[[], _D], buffer_size: int) -> None:
        self._start = start
        self._buffer_size = buffer_size
        self._entered = False
        self._receive: MemoryObjectReceiveStream[SweepResult] | None = None

    async def _open(self) -> tuple[_D, MemoryObjectReceiveStream[SweepResult]]:
        if self._entered:
            raise RuntimeError(f"a {type(self).__name__} can be entered only once")
        self._entered = True
        run = self._start()
        send, receive = anyio.create_memory_object_stream[SweepResult](self._buffer_size)
        self._receive = receive
        task_group = await self._open_task_group()
        task_group.start_soon(run.drive, send)
        return run, receive

    def _exited(self) -> None:
        if self._receive is not None:
            self._receive.close()


class Sweep(StreamedRun["_Run"]):
    """The async context manager `sweep` returns; entering it starts the sweep.

    Leaving the block (normally, by ``break``, by an exception or by cancellation)
    cancels whatever is still running and waits for it: no task, rate-limiter token,
    concurrency slot or connection outlives the block, and the client stays usable.
    An exception raised in the block propagates unchanged (not wrapped in an
    exception group).
    """

    def __init__(
        self,
        start: Callable[[], _Run],
        buffer_size: int,
        precheck: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        super().__init__(start, buffer_size)
        self._precheck = precheck

    async def __aenter__(self) -> SweepResults:
        if self._entered:
            raise RuntimeError("a Sweep can be entered only once")
        if self._precheck is not None:
            await self._precheck()
        return SweepResults(*await self._open())


def sweep(
    client: SolarEdgeClient,
    plan: SweepPlan,
    *,
    concurrency: int | None = None,
    buffer_size: int | None = None,
    on_progress: Callable[[SweepProgress], object] | None = None,
    progress_interval: float = 0.5,
    allow_over_budget: bool = False,
) -> Sweep:
    """Run a plan, streaming one result per item out of an ``async with`` block.

    ::

        plan = await plan_sweep(client, SweepSpec(what={"energy"}, start=day, end=day))
        async with sweep(client, plan) as results:
            async for result in results:
                if isinstance(result, ItemSucceeded):
                    store(result.item, result.record)

    Args:
        client: The client (the one that made the plan): its rate limiter and
            concurrency bound pace every call.
        plan: The plan, e.g. from `plan_sweep` (or ``plan.only(ids)`` to resume).
        concurrency: Items in progress at most (default: twice the client's
            ``max_concurrency``, so a ready item is waiting whenever a request slot
            frees up; the client still bounds requests in flight).
        buffer_size: Results buffered for a slow consumer (default ``concurrency``).
        on_progress: Called with a `SweepProgress` from the consuming task, at most
            every ``progress_interval`` seconds and once at the end.
        progress_interval: Seconds between progress calls.
        allow_over_budget: Run a plan that may cost more credits than remain this
            billing cycle (it stops, items not attempted, when the ledger runs out).

    Returns:
        An async context manager yielding `SweepResults`.

    Raises:
        InvalidRequestError: A plan made with other window caps than the client's,
            or a concurrency or buffer size out of range.
        PlanOverBudgetError: (on entering) the plan's price, its upper bound while a
            cap is unprobed (`SweepPlan.credits_max`), is over the credits that remain
            this cycle (read from the client's ledger now); nothing was sent. Pass
            ``allow_over_budget=True`` to run it anyway.
    """
    if plan.window_caps != client.window_caps:
        raise errors.InvalidRequestError(
            "the plan was made with other window caps than this client's; plan the "
            "sweep with the client that runs it"
        )
    if concurrency is None:
        concurrency = 2 * client.max_concurrency
    if concurrency < 1:
        raise errors.InvalidRequestError(f"concurrency must be >= 1, got {concurrency!r}")
    if buffer_size is None:
        buffer_size = concurrency
    if buffer_size < 0:
        raise errors.InvalidRequestError(f"buffer_size must be >= 0, got {buffer_size!r}")
    start = functools.partial(
        _Run,
        client,
        plan,
        concurrency=concurrency,
        on_progress=on_progress,
        progress_interval=progress_interval,
    )
    if not isinstance(allow_over_budget, bool):
        raise errors.InvalidRequestError(
            f"allow_over_budget must be True or False, got {allow_over_budget!r}"
        )
    what = f"a sweep of {len(plan.sites)} site(s) and {plan.credits} call(s)"
    precheck = functools.partial(
        check_budget,
        client,
        plan.credits_max,
        what=what,
        allow_over_budget=allow_over_budget,
    )
    return Sweep(start, buffer_size, precheck)
