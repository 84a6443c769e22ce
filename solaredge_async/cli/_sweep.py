"""The ``sweep`` command: plan, price and run a fleet sweep into an output directory."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final, TextIO

import anyio

from solaredge_async.cli._commands import (
    SHOW_FAILURES,
    RefusedError,
    Stop,
    UsageError,
    check_sim_flags,
    check_site_ids,
    connect,
    options_from_args,
    resumed_options,
    sweep_spec,
)
from solaredge_async.cli._defaults import EXIT_INCOMPLETE, EXIT_OK, EXIT_REFUSED
from solaredge_async.cli._output import (
    ERRORS,
    JOURNAL,
    MANIFEST,
    DirectoryLock,
    OutputError,
    OutputStore,
    check_writable,
    read_manifest,
    write_manifest,
)
from solaredge_async.cli._progress import ProgressBar, format_duration
from solaredge_async.fleet import (
    ROW_FIELDS,
    ItemFailed,
    ItemSucceeded,
    PoolSweepPlan,
    plan_pool_sweep,
    pool_sweep,
)

if TYPE_CHECKING:
    import argparse
    from collections.abc import AsyncIterator, Mapping

    from solaredge_async.cli._commands import Options
    from solaredge_async.fleet import SweepResult

__all__ = [
    "COMMIT_SECONDS",
    "dry_run_json",
    "print_failed_credentials",
    "print_failed_sites",
    "results_or_ticks",
    "summary_json",
    "sweep_command",
]

#: Fetched rows are committed at least this often (seconds), besides every 500 items
#: or 1 MiB, so a crash at a slow rate re-spends little.
COMMIT_SECONDS: Final = 10.0


def summary_json(**fields: object) -> str:
    """The one-line JSON summary of ``--output json`` (keys in the order given)."""
    return json.dumps(fields, separators=(",", ":"), default=str)


def print_failed_credentials(failed: Mapping[str, BaseException]) -> None:
    """Name the keys (by fingerprint) whose sites are left out of a plan, on stderr."""
    for credential, exc in failed.items():
        print(
            f"warning: {credential} could not be used ({type(exc).__name__}: {exc}); "
            "its sites are left out",
            file=sys.stderr,
        )


def print_failed_sites(failed: Mapping[int, BaseException]) -> None:
    """Name the sites a plan could not cover (the first `SHOW_FAILURES`), on stderr."""
    if failed:
        print(f"{len(failed):,} sites could not be planned:", file=sys.stderr)
        for site_id, exc in list(failed.items())[:SHOW_FAILURES]:
            print(f"  site {site_id}: {type(exc).__name__}: {exc}", file=sys.stderr)


#: The counters of a summary when nothing was fetched.
_NOTHING_FETCHED: Final = {
    "rows": 0,
    "succeeded": 0,
    "failed": 0,
    "not_attempted": 0,
    "rate_limited": 0,
}


def dry_run_json(*, discovery_credits: int, planned_credits: int, items: int, sites: int) -> str:
    """The ``--output json`` summary of ``--dry-run``: discovery spent, nothing fetched."""
    return summary_json(
        dry_run=True,
        credits=discovery_credits,
        planned_credits=planned_credits,
        items=items,
        sites=sites,
        **_NOTHING_FETCHED,
    )


async def results_or_ticks(
    results: AsyncIterator[SweepResult], every: float
) -> AsyncIterator[SweepResult | None]:
    """The sweep's results, with a `None` whenever ``every`` seconds pass without one.

    The receive is cancel-safe (a memory stream), so waiting with a timeout loses
    nothing; the caller commits on each `None`.
    """
    while True:
        got = False
        with anyio.move_on_after(every):
            try:
                result = await results.__anext__()
            except StopAsyncIteration:
                return
            got = True
        yield result if got else None


def _our_files(directory: Path) -> list[Path]:
    names = (MANIFEST, JOURNAL, ERRORS, "records.jsonl", "records.csv", "records")
    return [directory / n for n in names if (directory / n).exists()]


def _prepare_fresh(directory: Path, *, overwrite: bool) -> None:
    found = _our_files(directory)
    if found and not overwrite:
        raise UsageError(
            f"{directory} already holds a sweep's output ({found[0].name}); pass --resume to "
            "continue it, --overwrite to replace it, or choose another directory"
        )
    try:
        for path in found:
            if path.is_dir():
                for part in path.iterdir():
                    if part.name.startswith("part-"):
                        part.unlink()
                with contextlib.suppress(OSError):
                    path.rmdir()
            else:
                path.unlink()
    except OSError as exc:
        raise OutputError(f"cannot replace the files in {directory}: {exc}") from None


def _check_format(fmt: str) -> None:
    if fmt != "parquet":
        return
    try:
        import pyarrow.parquet  # noqa: F401, PLC0415
    except ImportError:
        raise UsageError(
            "--format parquet needs pyarrow: pip install 'solaredge-async[parquet]' "
            "(or use --format jsonl or csv)"
        ) from None


def _print_plan(plan: PoolSweepPlan, out: TextIO, label: str) -> None:
    kinds = ", ".join(f"{k} {n:,}" for k, n in plan.breakdown().items())
    price = f"{plan.credits:,}" if plan.exact else f"at least {plan.credits:,}"
    print(f"Source: {label}", file=out)
    print(
        f"Plan: {len(plan.sites):,} sites, {len(plan):,} calls = {price} credits ({kinds or '-'})",
        file=out,
    )
    rate = plan.requests_per_minute
    pace = (
        f"about {format_duration(plan.duration())} at {rate:,.0f} calls/min"
        if rate
        else "no client-side rate limit"
    )
    print(
        f"Discovery spent {plan.discovery_credits:,} credit"
        f"{'' if plan.discovery_credits == 1 else 's'}; {pace}",
        file=out,
    )
    print(f"Budget: {plan.describe()}", file=out)
    print_failed_credentials(plan.failed_credentials)
    print_failed_sites(plan.failed_sites)


def _manifest(options: Options, plan: PoolSweepPlan, store: OutputStore) -> dict[str, Any]:
    import attrs  # noqa: PLC0415

    from solaredge_async._version import __version__  # noqa: PLC0415

    return {
        "format_version": 1,
        "tool": f"solaredge-async {__version__}",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "sweep": {**attrs.asdict(options), "now": plan.now.isoformat()},
        "output": {
            "format": store.fmt,
            "data": store.data_name,
            "journal": JOURNAL,
            "errors": ERRORS,
            "columns": list(ROW_FIELDS),
        },
        "plan": {
            "sites": len(plan.sites),
            "items": len(plan),
            "credits": plan.credits,
            "exact": plan.exact,
            "breakdown": plan.breakdown(),
        },
        "runs": [],
        "complete": False,
    }


def _error_line(result: SweepResult, run_no: int) -> dict[str, object]:
    line: dict[str, object] = {"run": run_no, "item_id": result.item.id}
    if isinstance(result, ItemFailed):
        line.update(status="failed", error=type(result.error).__name__, message=str(result.error))
    elif not isinstance(result, ItemSucceeded):
        line.update(status="not_attempted", reason=result.reason)
    return line


async def sweep_command(args: argparse.Namespace, stop: Stop) -> int:
    """``sweep``: plan, price and run a sweep into ``--out DIR`` (see `_output`)."""
    directory = Path(args.out) if args.out else None
    manifest: dict[str, Any] | None = None
    if args.resume and directory is None:
        raise UsageError("--resume needs --out DIR (the directory of the sweep to continue)")
    if args.resume and args.overwrite:
        raise UsageError("--resume and --overwrite exclude each other")
    if args.trust_manifest_url and not args.resume:
        raise UsageError("--trust-manifest-url goes with --resume")
    if directory is None and not args.dry_run:
        raise UsageError("--out DIR is required (or --dry-run to see the price)")
    with contextlib.ExitStack() as held:
        if directory is not None and not args.dry_run:
            check_writable(directory)
            held.enter_context(DirectoryLock(directory))
        if args.resume:
            assert directory is not None  # noqa: S101 - checked above
            manifest = read_manifest(directory)
            options = resumed_options(args, manifest)
            if manifest["complete"]:
                json_out = args.output == "json"
                print(
                    f"The sweep in {directory} is already complete; nothing to do.",
                    file=sys.stderr if json_out else sys.stdout,
                )
                if json_out:
                    print(
                        summary_json(
                            status="complete", credits=0, **_NOTHING_FETCHED, exit_status=EXIT_OK
                        )
                    )
                return EXIT_OK
        else:
            options = options_from_args(args)
        check_sim_flags(args, options)
        _check_format(options.format)
        if directory is not None and not args.dry_run and not args.resume:
            _prepare_fresh(directory, overwrite=args.overwrite)
        return await _run_sweep(args, stop, options, directory, manifest)


async def _run_sweep(  # noqa: C901, PLR0912, PLR0915
    args: argparse.Namespace,
    stop: Stop,
    options: Options,
    directory: Path | None,
    manifest: dict[str, Any] | None,
) -> int:
    json_out = args.output == "json"
    out = sys.stderr if json_out else sys.stdout
    spec = sweep_spec(options)
    async with connect(args, options) as conn:
        pool = conn.pool
        if options.sites is not None:
            await check_site_ids(conn, options.sites)
        now = datetime.fromisoformat(options.now) if options.now else conn.now()
        plan = await plan_pool_sweep(pool, spec, now=now)
        _print_plan(plan, out, conn.label)
        refused = plan.over_budget and not args.allow_over_budget
        if args.dry_run or directory is None or refused:
            print(
                "Dry run: nothing fetched beyond discovery "
                f"({plan.discovery_credits:,} credits spent listing or locating sites).",
                file=out,
            )
            if json_out:
                print(
                    dry_run_json(
                        discovery_credits=plan.discovery_credits,
                        planned_credits=plan.credits,
                        items=len(plan),
                        sites=len(plan.sites),
                    )
                )
            if refused:
                raise RefusedError(
                    f"the plan costs up to {plan.credits_max:,} credits, over the budget: "
                    f"{plan.describe()}; pass --allow-over-budget to run it anyway, or "
                    "--monthly-credits N if the account has more"
                )
            return EXIT_OK

        store = OutputStore(
            directory, options.format, resume=args.resume, include_null=args.include_null
        )
        if manifest is None:
            manifest = _manifest(options, plan, store)
        todo = plan.without(store.done) if store.done else plan
        run_no = len(manifest["runs"]) + 1
        run_info: dict[str, Any] = {
            "run": run_no,
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "status": "running",
            "skipped_already_written": len(plan) - len(todo),
        }
        manifest["runs"].append(run_info)
        write_manifest(directory, manifest)
        stop.note = "what was fetched is committed; run again with --resume to continue"
        if args.resume:
            print(
                f"Resuming: {len(plan) - len(todo):,} items already written, {len(todo):,} to go.",
                file=out,
            )

        bar = ProgressBar(sys.stderr, enabled=not args.no_progress)
        shown: list[str] = []
        spent_before = pool.usage.credits
        started = time.perf_counter()
        counts = {"succeeded": 0, "failed": 0, "not_attempted": 0}
        stopped: str | None = None
        write_error: OutputError | None = None
        errors_file: IO[str] | None = None
        try:
            errors_file = (directory / ERRORS).open("a", encoding="utf-8")
            async with pool_sweep(
                pool, todo, on_progress=bar, allow_over_budget=args.allow_over_budget
            ) as results:
                async for result in results_or_ticks(results, COMMIT_SECONDS):
                    if result is None:  # COMMIT_SECONDS without a result
                        store.commit()
                        continue
                    if isinstance(result, ItemSucceeded):
                        counts["succeeded"] += 1
                        store.add(result)
                        if store.batch_full() or store.commit_due(COMMIT_SECONDS):
                            store.commit()
                        continue
                    errors_file.write(json.dumps(_error_line(result, run_no)) + "\n")
                    if isinstance(result, ItemFailed):
                        counts["failed"] += 1
                        if len(shown) < SHOW_FAILURES:
                            shown.append(
                                f"  {result.item.id}: {type(result.error).__name__}: {result.error}"
                            )
                    else:
                        counts["not_attempted"] += 1
                stopped = results.stop_reason
            store.close()
            run_info["status"] = (
                "complete" if counts["failed"] == counts["not_attempted"] == 0 else "incomplete"
            )
        except OSError as exc:  # the errors file, on a full disk
            write_error = OutputError(f"cannot write to {directory}: {exc.strerror or exc}")
        except OutputError as exc:
            write_error = exc
        finally:
            bar.close()
            elapsed = time.perf_counter() - started
            usage = pool.usage
            with contextlib.suppress(OutputError):
                store.close()  # commits what is queued (never after a failed write)
            if errors_file is not None:
                with contextlib.suppress(OSError):
                    errors_file.close()
            run_info.update(
                finished=datetime.now(UTC).isoformat(timespec="seconds"),
                seconds=round(elapsed, 3),
                **counts,
                rows_written=store.rows_committed,
                credits_spent=usage.credits - spent_before,
                discovery_credits=plan.discovery_credits,
                retries=usage.retries,
                rate_limited=usage.rate_limited_minute + usage.rate_limited_monthly,
                stopped=stopped,
            )
            if write_error is not None:
                run_info["status"] = "failed"
                run_info["error"] = str(write_error)
            elif run_info["status"] == "running":
                run_info["status"] = "interrupted"
            manifest["complete"] = (
                run_info["status"] == "complete"
                and not plan.failed_sites
                and not plan.failed_credentials
            )
            write_manifest(directory, manifest)

    if write_error is not None:
        raise write_error
    total = sum(counts.values())
    print(
        f"Done in {format_duration(elapsed)} ({elapsed:.1f} s): {counts['succeeded']:,} "
        f"succeeded, {counts['failed']:,} failed, {counts['not_attempted']:,} not attempted "
        f"(of {total:,} items this run).",
        file=out,
    )
    sweep_credits = run_info["credits_spent"]
    print(
        f"Credits: {sweep_credits + plan.discovery_credits:,} spent = "
        f"{plan.discovery_credits:,} discovery + {sweep_credits:,} sweep "
        f"(plan price {todo.credits:,}); {run_info['retries']:,} retries, "
        f"{run_info['rate_limited']:,} x 429.",
        file=out,
    )
    print(
        f"Rows: {store.rows_committed:,} written to {directory / store.data_name} "
        f"({options.format}); manifest in {directory / MANIFEST}.",
        file=out,
    )
    if shown:
        print("Failed items (all in errors.jsonl):", file=sys.stderr)
        for line in shown:
            print(line, file=sys.stderr)
    if stopped:
        print(
            f"Stopped early: {stopped}. Run again with --resume to fetch the "
            f"{counts['not_attempted'] + counts['failed']:,} remaining items.",
            file=out,
        )
    ok = (
        counts["failed"] == 0
        and counts["not_attempted"] == 0
        and not plan.failed_sites
        and not plan.failed_credentials
    )
    status = EXIT_OK if ok else EXIT_INCOMPLETE
    if counts["succeeded"] == counts["failed"] == 0 and stopped:
        status = EXIT_REFUSED  # nothing could be spent: the credits were already gone
    if json_out:
        print(
            summary_json(
                status=run_info["status"],
                credits=sweep_credits + plan.discovery_credits,
                discovery_credits=plan.discovery_credits,
                rows=store.rows_committed,
                succeeded=counts["succeeded"],
                failed=counts["failed"],
                not_attempted=counts["not_attempted"],
                rate_limited=run_info["rate_limited"],
                retries=run_info["retries"],
                seconds=round(elapsed, 3),
                stopped=stopped,
                out=str(directory),
                exit_status=status,
            )
        )
    return status
