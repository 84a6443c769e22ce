"""``solaredge-async poll``: keep a fleet current in a database, within the credit budget.

::

    solaredge-async poll --db sqlite:///fleet.db                    # until SIGTERM/SIGINT
    solaredge-async poll --db sqlite:///fleet.db --metrics-port 9464 --output json
    solaredge-async poll --db sqlite:///demo.db --simulate --sim-speed 240 --duration 45

The `Poller` schedules each site's energy and power just after each bucket is
published, skips PV targets at night, paces the fleet to the monthly credits and
polls fleet alerts; the `StoreFetcher` commits each batch's rows and watermarks in one
transaction. A restart resumes from the store's watermarks, and, with ``--ledger``,
from the credits the ledger file says were spent this cycle.

SIGTERM and SIGINT (systemd, Kubernetes, Ctrl-C) call `Poller.stop`: the batch in
flight finishes and commits, the summary is printed, the exit status is 0.

``--simulate --sim-speed X`` runs the in-process simulator and the poller on one
clock (the poller follows the simulator's `SimClock`, which ticks on the event loop's
clock) X times faster than real time, from ``--sim-now`` (default: the wall clock).
"""

from __future__ import annotations

import functools
import json
import signal
import sys
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final

from solaredge_async.cli._defaults import API, SIM_POLL
from solaredge_async.cli._flags import parse_names, parse_sites, positive_float, tcp_port

__all__ = ["add_poll_parser", "run_poll"]

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable

    from anyio import CancelScope
    from anyio.abc import TaskStatus

    from solaredge_async._usage import RequestEvent
    from solaredge_async.client import SolarEdgeClient
    from solaredge_async.limits import RateLimiter
    from solaredge_async.poll import Clock, Poller, PollSummary, PollTarget, StoreFetcher

#: What ``poll`` keeps current.
POLL_WHAT: Final = ("energy", "power", "alerts")
DEFAULT_POLL_WHAT: Final = ("energy", "power", "alerts")
#: The counters of a `PollSummary` that a run's `RunTotals` records.
_RUN_COUNTS: Final = ("credits", "succeeded", "failed", "not_attempted", "rate_limited")


def add_poll_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    conn: argparse.ArgumentParser,
) -> argparse.ArgumentParser:
    """Register ``poll`` (with the shared connection options ``conn``) on ``sub``."""
    p = sub.add_parser(
        "poll",
        parents=[conn],
        help="keep the fleet's data current in --db, paced to the monthly credits",
        description="Poll each site's buckets just after they are published, skip PV "
        "targets at night, degrade the cadence (15 min, hourly, daily) when the budget is "
        "short, and store rows and watermarks in --db. Ends on SIGTERM/SIGINT (the batch "
        "in flight commits; exit 0) or after --duration.",
    )
    p.add_argument("--db", required=True, metavar="URL", help="sqlite:///file.db or postgresql://")
    p.add_argument(
        "--what",
        type=functools.partial(parse_names, allowed=POLL_WHAT),
        help=f"comma-separated targets (default: {','.join(DEFAULT_POLL_WHAT)}): "
        f"{', '.join(POLL_WHAT)}",
    )
    p.add_argument("--sites", type=parse_sites, help="comma-separated site ids (default: all)")
    p.add_argument(
        "--duration",
        type=positive_float,
        metavar="SECONDS",
        help="stop after this many seconds of real time (default: run until signalled)",
    )
    p.add_argument(
        "--metrics-port",
        type=tcp_port,
        metavar="P",
        help="serve Prometheus metrics at http://HOST:P/metrics (0: any free port)",
    )
    p.add_argument(
        "--metrics-host", default="127.0.0.1", help="address the metrics listen on (127.0.0.1)"
    )
    p.add_argument("--output", choices=("text", "json"), default="text", help="summary format")
    p.add_argument(
        "--monthly-credits",
        type=int,
        help="credits a billing cycle allows (default 2000, the free tier; "
        "with --simulate the simulator's)",
    )
    p.add_argument(
        "--billing-day", type=int, default=1, help="day of the month the credits renew (1)"
    )
    p.add_argument(
        "--ledger",
        metavar="FILE",
        help="credit ledger file: the credits spent this cycle survive restarts and are "
        "shared with other commands given the same file",
    )
    p.add_argument(
        "--sim-speed",
        type=positive_float,
        help="with --simulate: simulated seconds per real second (240: a day in 6 minutes)",
    )
    return p


def run_poll(args: argparse.Namespace) -> int:
    """Run ``poll``; return the exit status.

    0 when it ran to ``--duration`` or was stopped by SIGTERM/SIGINT (the batch in
    flight committed), 1 when it could not run (API, store), 2 for a usage error, 130
    when a second signal abandoned the batch in flight.
    """
    import anyio  # noqa: PLC0415 - heavy imports only when the command runs

    from solaredge_async.cli._run import _check_backend, _status_for  # noqa: PLC0415
    from solaredge_async.store import StoreError  # noqa: PLC0415

    try:
        _check(args)
        _check_backend(args.backend)
        return anyio.run(functools.partial(_poll, args), backend=args.backend)
    except _UsageError as exc:
        return _fail(f"error: {exc}", 2)
    except (StoreError, OSError) as exc:
        return _fail(f"error: {type(exc).__name__}: {exc}", 1)
    except KeyboardInterrupt:  # ^C before the handlers were in place
        return _fail("interrupted", 130)
    except Exception as exc:
        mapped = _status_for(exc)
        if mapped is None:
            raise
        return _fail(*mapped)


class _UsageError(Exception):
    pass


def _fail(message: str, status: int) -> int:
    print(f"solaredge-async: {message}", file=sys.stderr)
    return status


def _check(args: argparse.Namespace) -> None:
    sim_only = {
        "--sim-speed": args.sim_speed,
        "--sim-now": args.sim_now,
        "--sim-sites": args.sim_sites,
        "--sim-seed": args.sim_seed,
        "--sim-requests-per-minute": args.sim_requests_per_minute,
        "--sim-monthly-credits": args.sim_monthly_credits,
        "--sim-latency-ms": args.sim_latency_ms,
    }
    if not args.simulate:
        given = [flag for flag, value in sim_only.items() if value is not None]
        if given:
            raise _UsageError(f"{', '.join(given)} need --simulate")
        _api_key(args)  # one key at most
    if args.shared_state is not None and (args.simulate or args.ledger):
        raise _UsageError(
            "--shared-state keeps the credit ledger in Redis and paces on the real clock: "
            "not with --ledger or --simulate"
        )
    if not 1 <= args.billing_day <= 31:  # noqa: PLR2004 - days of a month
        raise _UsageError(f"--billing-day must be within 1..31, got {args.billing_day}")
    if args.monthly_credits is not None and args.monthly_credits < 1:
        raise _UsageError(f"--monthly-credits must be positive, got {args.monthly_credits}")


def _targets(what: tuple[str, ...]) -> list[PollTarget]:
    from solaredge_async.poll import PollTarget, default_ladder  # noqa: PLC0415

    targets: list[PollTarget] = []
    for priority, name in enumerate(what):
        if name == "alerts":
            # Alerts have no buckets: hourly at best, then daily, then paused.
            ladder = default_ladder(None)[1:]
            targets.append(
                PollTarget(name=name, resolution=None, fleet=True, priority=priority, ladder=ladder)
            )
        elif name == "power":
            ladder = default_ladder("QUARTER_HOUR", day_fallback=False)  # no DAY for /power
            targets.append(PollTarget(name=name, pv=True, priority=priority, ladder=ladder))
        else:
            targets.append(PollTarget(name=name, pv=True, priority=priority))
    return targets


class _World:
    """The client, the clock and the labels of one run (simulated or real)."""

    def __init__(self, client: SolarEdgeClient, clock: Clock, speed: float, label: str) -> None:
        self.client = client
        self.clock = clock
        self.speed = speed
        self.label = label
        self.coordinates: dict[int, tuple[float, float]] = {}
        self.monthly: int = API.monthly_credits
        self.per_minute: float = float(API.requests_per_minute)


def _api_key(args: argparse.Namespace) -> str | None:
    """The one key ``poll`` runs on (``--api-key`` is repeatable for the other commands).

    `None`: the client reads ``SOLAREDGE_API_KEY`` (and names it when it is missing).
    """
    import os  # noqa: PLC0415

    keys = list(dict.fromkeys(args.api_key or []))
    if not keys:
        keys = [k.strip() for k in os.environ.get("SOLAREDGE_API_KEY", "").split(",") if k.strip()]
    if len(keys) > 1:
        raise _UsageError(
            "poll runs on one API key: give one --api-key (or one in SOLAREDGE_API_KEY)"
        )
    return keys[0] if keys else None


def _world(
    args: argparse.Namespace,
    hook: Callable[[RequestEvent], object],
    limiter: Callable[[float], RateLimiter | None],
) -> _World:
    from solaredge_async.cli._commands import (  # noqa: PLC0415
        _UNREACHABLE,
        _burst,
        base_url_of,
        embedded_simulator,
        simulated,
    )
    from solaredge_async.client import SolarEdgeClient  # noqa: PLC0415
    from solaredge_async.poll import FollowClock, ScaledClock  # noqa: PLC0415

    rpm_flag: float | None = args.requests_per_minute
    if not args.simulate:
        rpm = float(API.requests_per_minute) if rpm_flag is None else rpm_flag
        client = SolarEdgeClient(
            api_key=_api_key(args),
            base_url=base_url_of(args),  # --base-url, else $SOLAREDGE_BASE_URL, else the API
            requests_per_minute=rpm or None,
            burst=_burst(rpm),
            rate_limiter=limiter(rpm) if rpm else None,
            max_concurrency=args.concurrency or API.concurrency,
            on_request=hook,
            shared_state=args.shared_state,
        )
        world = _World(client, ScaledClock(), 1.0, client.base_url)
        world.per_minute = rpm or float(_UNREACHABLE)
        world.monthly = args.monthly_credits or API.monthly_credits
        return world

    import anyio  # noqa: PLC0415

    from solaredge_async.testing import SimClock  # noqa: PLC0415 - only for --simulate

    speed = args.sim_speed or 1.0
    # One clock: the simulator's runs on the event loop's clock, the poller follows it.
    sim_clock = SimClock(args.sim_now, speed=speed, ticks=anyio.current_time)
    settings = simulated(args, SIM_POLL)
    sim_rpm = settings.requests_per_minute
    sim = embedded_simulator(
        settings,
        seed=args.sim_seed or 0,
        sim_clock=sim_clock,
        billing_day=min(args.billing_day, 28),
    )
    # The per-minute limit counts simulated minutes: X times more calls a real minute.
    rpm = (float(sim_rpm) if rpm_flag is None else rpm_flag) * speed
    client = SolarEdgeClient(
        api_key=sim.api_key,
        transport=sim.transport(),
        base_url=sim.base_url,
        requests_per_minute=rpm or None,
        burst=_burst(rpm),
        rate_limiter=limiter(rpm) if rpm else None,
        max_concurrency=settings.concurrency,
        on_request=hook,
    )
    label = (
        f"simulated fleet of {settings.sites} sites at {speed:g}x "
        f"from {sim_clock.now().isoformat(timespec='seconds')}"
    )
    world = _World(client, FollowClock(sim_clock), speed, label)
    for site_id in sim.fleet.sites_for(sim.api_key):
        truth = sim.fleet.site(site_id)
        world.coordinates[site_id] = (truth.latitude, truth.longitude)
    world.monthly = args.monthly_credits or settings.monthly_credits or API.monthly_credits
    world.per_minute = float(sim_rpm or _UNREACHABLE)
    return world


def _summary_json(
    summary: PollSummary,
    *,
    rows: int,
    alerts: int,
    alert_polls: int,
    sites: int,
    metrics_port: int | None,
) -> dict[str, object]:
    return {
        "command": "poll",
        "started": summary.started.isoformat(),
        "ended": summary.ended.isoformat(),
        "stopped": summary.stopped,
        "sites": sites,
        "credits": summary.credits,
        "rows": rows,
        "succeeded": summary.succeeded,
        "failed": summary.failed,
        "not_attempted": summary.not_attempted,
        "rate_limited": summary.rate_limited,
        "batches": summary.batches,
        "alerts": alerts,
        "alert_polls": alert_polls,
        "cadence": {d.target: d.rung.label for d in summary.decisions},
        "changes": [
            {"target": d.target, "rung": d.rung.label, "reason": d.reason} for d in summary.changes
        ],
        "metrics_port": metrics_port,
    }


async def _poll(args: argparse.Namespace) -> int:  # noqa: C901, PLR0915 - one linear story
    import anyio  # noqa: PLC0415

    from solaredge_async.cli._commands import fields_of  # noqa: PLC0415
    from solaredge_async.limits import FileCreditLedger, RateLimiter  # noqa: PLC0415
    from solaredge_async.poll import (  # noqa: PLC0415
        BudgetConfig,
        Poller,
        PollMetrics,
        RequestTally,
        StoreFetcher,
        discover_sites,
        poll_watermarks,
        serve_metrics,
    )
    from solaredge_async.store import RunTotals, open_store, redact_url  # noqa: PLC0415

    metrics = PollMetrics()
    tally = RequestTally(forward=metrics.on_request)
    ledger_box: list[FileCreditLedger] = []
    clock_box: list[Clock] = []

    def ledger_now() -> datetime:
        return clock_box[0].now() if clock_box else datetime.now(UTC)

    if args.ledger:
        ledger_box.append(
            FileCreditLedger(
                args.ledger,
                monthly_credits=args.monthly_credits or API.monthly_credits,
                billing_day=min(args.billing_day, 28),
                clock=ledger_now,
            )
        )

    account = "simulated"
    if ledger_box and not args.simulate:
        from solaredge_async._credentials import fingerprint  # noqa: PLC0415

        key = _api_key(args)
        account = fingerprint("key", key) if key else "unknown"

    def limiter(rpm: float) -> RateLimiter | None:
        if not ledger_box and not args.simulate:
            return None  # the client's default limiter
        return RateLimiter(
            rpm,
            burst=_burst_of(rpm),
            # The simulator's headers count simulated minutes: at X times real time
            # they would slow the client X times too much if it adopted them.
            adopt_server_limit=not args.simulate,
            ledger=ledger_box[0] if ledger_box else None,
            account=account if ledger_box else None,
        )

    world = _world(args, tally, limiter)
    clock_box.append(world.clock)
    what = args.what or DEFAULT_POLL_WHAT
    err = sys.stderr
    async with world.client as client, open_store(args.db, exclusive=True) as store:
        start = world.clock.now()
        print(f"poll: {world.label}; store {redact_url(args.db)}", file=err, flush=True)
        sites = await discover_sites(
            client, store, site_ids=args.sites, coordinates=world.coordinates, now=start
        )
        if not sites:
            raise _UsageError("no site to poll (check the API key or --sites)")
        spent = 0
        if ledger_box:
            spent = (await ledger_box[0].state(account)).spent
        budget = BudgetConfig(
            credits_per_cycle=world.monthly,
            per_minute=world.per_minute,
            billing_day=args.billing_day,
            credits_spent=spent,
        )
        marks = await poll_watermarks(store, site_ids=[s.site_id for s in sites])
        # Items started wait their turn at the rate limit; a stop waits for them. At
        # most ~10 s of calls in flight keeps SIGTERM quick (free tier: one at a time).
        in_flight = max(1, min(args.concurrency or 4, int(world.per_minute * world.speed / 6)))
        fetcher = StoreFetcher(
            client, store, sites=sites, clock=world.clock, tally=tally, concurrency=in_flight
        )
        poller = Poller(
            sites=sites,
            targets=_targets(what),
            fetch=fetcher,
            clock=world.clock,
            budget=budget,
            watermarks=marks,
            metrics=metrics,
        )
        until = None
        if args.duration is not None:
            until = world.clock.now() + timedelta(seconds=args.duration * world.speed)
        run_id = await store.start_run(now=start)
        port: int | None = None
        finished: list[PollSummary] = []
        async with anyio.create_task_group() as tg:
            if args.metrics_port is not None:
                port = await tg.start(
                    functools.partial(
                        serve_metrics, metrics, host=args.metrics_host, port=args.metrics_port
                    )
                )
                print(f"poll: metrics at http://{args.metrics_host}:{port}/metrics", file=err)
            # Handlers in place before the first batch starts.
            await tg.start(_on_signals, poller, fetcher, tg.cancel_scope)
            print(
                f"poll: {len(sites)} sites, targets {','.join(what)}; "
                f"{len(marks)} watermarks resumed; {spent} credits spent this cycle",
                file=err,
                flush=True,
            )
            finished.append(await poller.run(until=until))
            tg.cancel_scope.cancel()
        if not finished:  # a second signal abandoned the batch in flight
            with anyio.CancelScope(shield=True):
                await store.finish_run(
                    run_id, RunTotals(outcome="interrupted"), now=world.clock.now()
                )
            print("solaredge-async: interrupted", file=err)
            return 130
        summary = finished[0]
        outcome = "interrupted" if summary.stopped else "ok"
        if summary.failed:
            outcome = "partial"
        await store.finish_run(
            run_id,
            RunTotals(**fields_of(summary, _RUN_COUNTS), rows=fetcher.rows, outcome=outcome),
            now=world.clock.now(),
        )
    _print_summary(args, summary, fetcher, sites=len(sites), port=port)
    return 0


def _burst_of(rpm: float) -> int:
    from solaredge_async.cli._commands import _burst  # noqa: PLC0415

    return _burst(rpm)


async def _on_signals(
    poller: Poller, fetcher: StoreFetcher, scope: CancelScope, *, task_status: TaskStatus[None]
) -> None:
    """The first SIGTERM/SIGINT stops the poller gently; a second abandons the batch."""
    import threading  # noqa: PLC0415

    import anyio  # noqa: PLC0415

    if threading.current_thread() is not threading.main_thread():
        task_status.started()  # only the main thread receives signals
        await anyio.sleep_forever()
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        task_status.started()
        async for signum in signals:
            name = signal.Signals(signum).name
            if poller.stopping:
                print(f"poll: {name} again: abandoning the batch in flight", file=sys.stderr)
                scope.cancel()
                return
            print(f"poll: {name}: finishing the batch in flight", file=sys.stderr, flush=True)
            fetcher.stop()  # no new item starts; those running finish and commit
            poller.stop()


def _print_summary(
    args: argparse.Namespace,
    summary: PollSummary,
    fetcher: StoreFetcher,
    *,
    sites: int,
    port: int | None,
) -> None:
    rows, alerts = fetcher.rows, len(fetcher.alerts)
    if args.output == "json":
        line = _summary_json(
            summary,
            rows=rows,
            alerts=alerts,
            alert_polls=fetcher.alert_polls,
            sites=sites,
            metrics_port=port,
        )
        print(json.dumps(line, separators=(",", ":")), flush=True)
        return
    span = summary.ended - summary.started
    cadence = ", ".join(f"{d.target} {d.rung.label}" for d in summary.decisions)
    print(
        f"polled {sites} sites for {span} (clock time)"
        f"{' until stopped' if summary.stopped else ''}: "
        f"{summary.succeeded} items stored, {summary.failed} failed, {rows} rows, "
        f"{summary.credits} credits, {summary.rate_limited} rate-limited, {alerts} alerts; "
        f"cadence {cadence}",
        flush=True,
    )
