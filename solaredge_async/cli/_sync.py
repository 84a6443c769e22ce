"""The ``sync`` command: keep a database current with the fleet's data.

Plans from the store's watermarks (only what is missing), prices it, fetches it with
a progress bar and upserts the rows (`solaredge_async.sync`), then prints a summary
with a sample query. SIGINT/SIGTERM commit what was fetched (the library does it in
a shielded scope) and record the run as interrupted; a rerun continues.
"""

from __future__ import annotations

import sqlite3
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TextIO

import anyio

from solaredge_async.cli import _commands as commands
from solaredge_async.cli._defaults import (
    EXIT_INCOMPLETE,
    EXIT_OK,
    EXIT_REFUSED,
    SYNC_WHAT,
)
from solaredge_async.cli._progress import ProgressBar, format_duration
from solaredge_async.cli._sweep import (
    dry_run_json,
    print_failed_credentials,
    print_failed_sites,
    summary_json,
)

if TYPE_CHECKING:
    import argparse
    from typing import TextIO

    from solaredge_async.client import SolarEdgeClient
    from solaredge_async.fleet import ClientPool
    from solaredge_async.sync import PoolSyncPlan, PoolSyncReport, SyncProgress

__all__ = ["SAMPLE_QUERY", "sqlite_path", "sync_command"]

#: The query the summary runs on a SQLite store: energy per site and UTC day (SQLite
#: knows no time zones, so the column says UTC; a site's local days need its zone).
SAMPLE_QUERY: Final = (
    "SELECT site_id, substr(period_start, 1, 10) AS utc_day, "
    "round(sum(value) / 1000, 1) AS kwh "
    "FROM measurements WHERE source = 'energy' AND metric = 'energy' "
    "GROUP BY site_id, utc_day ORDER BY site_id, utc_day LIMIT 3"
)
_SQLITE: Final = "sqlite:///"
#: The counters of a `SyncProgress` that the sweep's `SweepProgress` has too.
_PROGRESS_COUNTS: Final = (
    "total",
    "done",
    "succeeded",
    "failed",
    "not_attempted",
    "credits",
    "rate_limited",
)


def sqlite_path(url: str) -> Path | None:
    """The file of a ``sqlite:///PATH`` URL (``sqlite:////abs`` is absolute); else None."""
    if not url.startswith(_SQLITE):
        return None
    return Path(url[len(_SQLITE) :].split("?", 1)[0])


class _SyncBar:
    """Adapts `SyncProgress` snapshots to the sweep's `ProgressBar`."""

    def __init__(self, bar: ProgressBar, planned_credits: int) -> None:
        self._bar = bar
        self._planned = planned_credits
        self._started = time.monotonic()

    def __call__(self, p: SyncProgress) -> None:
        from solaredge_async.fleet import SweepProgress  # noqa: PLC0415

        elapsed = max(time.monotonic() - self._started, 1e-9)
        rate = p.credits * 60.0 / elapsed
        left = p.total - p.done
        eta = elapsed * left / p.done if p.done else None
        self._bar(
            SweepProgress(
                **commands.fields_of(p, _PROGRESS_COUNTS),
                planned_credits=self._planned,
                retries=0,
                rate=rate,
                elapsed=elapsed,
                eta=eta,
                stopped=None,
            )
        )

    def close(self) -> None:
        """End the bar's line."""
        self._bar.close()


def _print_plan(plan: PoolSyncPlan, out: TextIO, label: str, db: str) -> None:
    kinds = ", ".join(f"{k} {n:,}" for k, n in plan.breakdown().items())
    print(f"Source: {label}", file=out)
    print(f"Store: {db}", file=out)
    print(
        f"Plan: {len(plan.sites):,} sites, {len(plan.items):,} items missing data = "
        f"{plan.credits:,} credits ({kinds or 'nothing to fetch'}); discovery spent "
        f"{plan.discovery_credits:,}",
        file=out,
    )
    print_failed_credentials(plan.failed_credentials)
    print_failed_sites(plan.failed_sites)


def _sample(path: Path) -> tuple[int, int, list[tuple[Any, ...]]]:
    """Sites and rows in the SQLite file, and the sample query's result."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        sites = db.execute("SELECT count(DISTINCT site_id) FROM measurements").fetchone()[0]
        rows = db.execute("SELECT count(*) FROM measurements").fetchone()[0]
        return int(sites), int(rows), db.execute(SAMPLE_QUERY).fetchall()
    finally:
        db.close()


def _status(report: PoolSyncReport) -> int:
    if report.complete:
        return EXIT_OK
    if report.succeeded == report.failed == 0 and report.not_attempted:
        return EXIT_REFUSED  # the credits were gone before the first data call
    return EXIT_INCOMPLETE


async def _check_budgets(
    pool: ClientPool, plan: PoolSyncPlan, args: argparse.Namespace, out: TextIO
) -> None:
    """Each key's share against its own account's budget (see `_check_budget`)."""
    several = len(plan.parts) > 1
    for part in plan.parts:
        client = pool.client(part.credential)
        label = f"{part.credential}: " if several else ""
        await _check_budget(client, part.plan.credits, args, out, label=label)


async def _check_budget(
    client: SolarEdgeClient, price: int, args: argparse.Namespace, out: TextIO, *, label: str = ""
) -> None:
    """Print what remains this cycle; refuse (exit 3) a sync that costs more.

    Raises:
        RefusedError: ``price`` is over what remains and ``--allow-over-budget`` is off.
    """
    budget = await client.budget()
    remaining, total = budget.remaining, budget.monthly_credits
    left = "unlimited" if remaining is None else f"{remaining:,} of {total:,}"
    reset = f"{budget.cycle_end:%Y-%m-%d %H:%M} UTC"
    print(f"Budget: {label}{left} credits remain this cycle (resets {reset})", file=out)
    over = remaining is not None and (budget.exhausted or price > remaining)
    if over and not args.allow_over_budget:
        raise commands.RefusedError(
            f"{label}the sync costs {price:,} credits but {left} remain this cycle (monthly budget "
            f"{budget.monthly_credits:,}, resets {reset}); nothing was fetched beyond "
            "discovery. Pass --allow-over-budget to run it anyway, --monthly-credits N if the "
            "account has more, or --since/--sites to sync less"
        )


async def sync_command(args: argparse.Namespace, stop: commands.Stop) -> int:  # noqa: C901, PLR0915
    """``sync``: bring ``--db`` up to date (see the module docstring)."""
    from solaredge_async.store import StoreLockedError, open_store, redact_url  # noqa: PLC0415
    from solaredge_async.sync import (  # noqa: PLC0415
        DEFAULT_SETTLE,
        REPORT_COUNTS,
        SyncSpec,
        plan_pool_sync,
        run_pool_sync,
    )

    json_out = args.output == "json"
    out = sys.stderr if json_out else sys.stdout
    options = commands.options_from_args(args)
    commands.check_sim_flags(args, options)
    settle = DEFAULT_SETTLE if args.settle is None else timedelta(minutes=args.settle)
    try:
        spec = SyncSpec(
            what=args.what or SYNC_WHAT,
            since=args.since,
            until=args.until,
            sites=args.sites,
            settle=settle,
        )
    except (TypeError, ValueError) as exc:
        raise commands.UsageError(str(exc)) from None
    shown_db = redact_url(args.db)
    path = sqlite_path(args.db)
    if path is not None and not args.dry_run:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise commands.UsageError(
                f"cannot create {path.parent}: {exc.strerror or exc}"
            ) from None
    started = time.perf_counter()
    async with commands.connect(args, options) as conn:
        try:
            # A dry run writes nothing: no file, no migration; a missing file is empty.
            store_cm = open_store(args.db, exclusive=not args.dry_run, read_only=args.dry_run)
            async with store_cm as store:
                if spec.sites is not None:
                    await commands.check_site_ids(conn, spec.sites)
                plan = await plan_pool_sync(conn.pool, store, spec, now=conn.now())
                _print_plan(plan, out, conn.label, shown_db)
                await _check_budgets(conn.pool, plan, args, out)
                if args.dry_run:
                    print("Dry run: nothing fetched beyond discovery.", file=out)
                    if json_out:
                        print(
                            dry_run_json(
                                discovery_credits=plan.discovery_credits,
                                planned_credits=plan.credits,
                                items=len(plan.items),
                                sites=len(plan.sites),
                            )
                        )
                    return EXIT_OK
                stop.note = "what was fetched is committed; run the same sync again to continue"
                bar = _SyncBar(ProgressBar(sys.stderr, enabled=not args.no_progress), plan.credits)
                try:
                    report = await run_pool_sync(conn.pool, store, plan, on_progress=bar)
                finally:
                    bar.close()
        except StoreLockedError as exc:
            raise commands.UsageError(f"{shown_db} is in use by another process ({exc})") from None
    elapsed = time.perf_counter() - started
    spent = report.credits + plan.discovery_credits
    print(
        f"Done in {format_duration(elapsed)} ({elapsed:.1f} s): {report.succeeded:,} items "
        f"committed, {report.failed:,} failed, {report.not_attempted:,} not attempted.",
        file=out,
    )
    print(
        f"Rows: {report.rows_inserted:,} new, {report.rows_updated:,} changed, "
        f"{report.rows_unchanged:,} unchanged; credits: {spent:,} spent "
        f"({plan.discovery_credits:,} discovery + {report.credits:,} data), "
        f"{report.rate_limited:,} x 429.",
        file=out,
    )
    for key, message in report.errors[: commands.SHOW_FAILURES]:
        print(f"  failed: {key}: {message}", file=sys.stderr)
    stored_sites = stored_rows = None
    if path is not None and path.exists():
        stored_sites, stored_rows, sample = await anyio.to_thread.run_sync(_sample, path)
        print(f"In {path}: {stored_rows:,} rows of {stored_sites:,} sites. Sample query:", file=out)
        print(f"  {SAMPLE_QUERY}", file=out)
        for row in sample:
            print("  " + " | ".join(map(str, row)), file=out)
    status = _status(report)
    if json_out:
        print(
            summary_json(
                status=report.outcome,
                credits=spent,
                discovery_credits=plan.discovery_credits,
                **commands.fields_of(report, (*REPORT_COUNTS, "complete", "run_id")),
                stored_rows=stored_rows,
                seconds=round(elapsed, 3),
                db=shown_db,
                exit_status=status,
            )
        )
    return status
