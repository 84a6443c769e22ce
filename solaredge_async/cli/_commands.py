"""The ``sweep`` and ``sites`` commands (imported only when a command runs)."""

from __future__ import annotations

import contextlib
import csv
import functools
import json
import re
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final, TextIO, cast

import anyio
import attrs

from solaredge_async import errors
from solaredge_async.cli._defaults import DEFAULT_WHAT
from solaredge_async.cli._output import (
    ERRORS,
    JOURNAL,
    MANIFEST,
    OutputError,
    OutputStore,
    check_writable,
    read_manifest,
    write_manifest,
)
from solaredge_async.cli._progress import ProgressBar, format_duration
from solaredge_async.client import DEFAULT_BASE_URL, SolarEdgeClient
from solaredge_async.fleet import (
    ROW_FIELDS,
    ItemFailed,
    ItemSucceeded,
    SiteDay,
    SweepBound,
    SweepPlan,
    SweepSpec,
    plan_sweep,
    sweep,
)

if TYPE_CHECKING:
    import argparse
    from collections.abc import AsyncIterator, Callable

    from solaredge_async._endpoints import ResolutionName, Target
    from solaredge_async.fleet import SweepResult

__all__ = ["UsageError", "run"]

# The demo's simulator: a few hundred sites, a generous enforced limit, some latency.
SIM_SITES: Final = 300
SIM_REQUESTS_PER_MINUTE: Final = 12_000
SIM_MONTHLY_CREDITS: Final = 100_000
SIM_LATENCY: Final = "30±10"
SIM_CONCURRENCY: Final = 8
API_CONCURRENCY: Final = 3
API_REQUESTS_PER_MINUTE: Final = 10.0
_SHOW_FAILURES: Final = 5
_UNREACHABLE: Final = 1_000_000_000

_LATENCY = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*(?:(?:±|\+-|\+/-|,|:)\s*(\d+(?:\.\d*)?))?\s*$")


def _burst(rpm: float | None) -> int:
    """The limiter burst a per-minute limit tolerates.

    Kong counts fixed minutes and the limiter paces ``rpm`` per 60.5 s, so a fixed
    minute sees at most ``burst + rpm * 60 / 60.5`` grants. A quarter of the 0.5 s
    margin (the rest absorbs latency jitter) keeps that under the limit, and lets the
    limiter catch up on event-loop lateness that a burst of 1 loses for good
    (measured: 0.8 of the limit at 200 calls/s in process).
    """
    if not rpm:
        return 1
    return max(1, int(rpm * 0.25 / 60.5))


class UsageError(Exception):
    """A bad combination of flags or an unusable output: exit status 2."""


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Run the parsed command; return the exit status."""
    del parser
    command = _sweep_command if args.command == "sweep" else _sites_command
    try:
        return anyio.run(functools.partial(command, args), backend=args.backend)
    except (UsageError, OutputError) as exc:
        return _fail(f"error: {exc}", 2)
    except (errors.ConfigurationError, errors.InvalidRequestError) as exc:
        return _fail(f"error: {exc}", 2)
    except errors.SolarEdgeError as exc:
        return _fail(f"error: {type(exc).__name__}: {exc}", 1)
    except ModuleNotFoundError as exc:
        if exc.name == "trio":
            return _fail("error: --backend trio needs trio: pip install 'solaredge-async[trio]'", 2)
        raise
    except KeyboardInterrupt:
        return _fail(
            "interrupted; what was written is kept: run again with --resume to continue", 130
        )


def _fail(message: str, status: int) -> int:
    print(f"solaredge-async: {message}", file=sys.stderr)
    return status


# -- options ------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class _Options:
    """The options that define a sweep's output (stored in the manifest for resume)."""

    what: tuple[str, ...]
    sites: tuple[int, ...] | None
    start: str
    end: str
    resolution: str | None
    format: str
    prefer_bulk: bool
    split_overview: bool
    only_open_alerts: bool
    simulate: bool
    sim_sites: int | None
    sim_seed: int | None
    base_url: str | None
    now: str | None = None


def _from_args(args: argparse.Namespace) -> _Options:
    simulate = bool(args.simulate)

    def opt(name: str, default: object = None) -> Any:  # noqa: ANN401 - argparse values
        return getattr(args, name, default)  # `sites` lacks the sweep-only flags

    return _Options(
        what=tuple(opt("what", None) or DEFAULT_WHAT),
        sites=opt("sites", None),
        start=opt("start", None) or "yesterday",
        end=opt("end", None) or "yesterday",
        resolution=opt("resolution", None),
        format=opt("format", None) or "jsonl",
        prefer_bulk=not opt("per_device"),
        split_overview=bool(opt("split_overview")),
        only_open_alerts=bool(opt("only_open_alerts")),
        simulate=simulate,
        sim_sites=(args.sim_sites or SIM_SITES) if simulate else None,
        sim_seed=(args.sim_seed or 0) if simulate else None,
        base_url=None if simulate else (args.base_url or DEFAULT_BASE_URL),
    )


def _resumed(args: argparse.Namespace, manifest: dict[str, Any]) -> _Options:
    """The stored options; any flag given that contradicts them is a usage error."""
    try:
        stored = manifest["sweep"]
        sites = stored["sites"]
        options = _Options(
            what=tuple(stored["what"]),
            sites=None if sites is None else tuple(int(s) for s in sites),
            start=str(stored["start"]),
            end=str(stored["end"]),
            resolution=stored["resolution"],
            format=str(stored["format"]),
            prefer_bulk=bool(stored["prefer_bulk"]),
            split_overview=bool(stored["split_overview"]),
            only_open_alerts=bool(stored["only_open_alerts"]),
            simulate=bool(stored["simulate"]),
            sim_sites=stored["sim_sites"],
            sim_seed=stored["sim_seed"],
            base_url=stored["base_url"],
            now=stored["now"],
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise OutputError(f"the manifest's sweep options are damaged ({exc})") from None
    given: dict[str, tuple[object, object]] = {
        "--what": (args.what, options.what),
        "--sites": (args.sites, options.sites),
        "--start": (args.start, options.start),
        "--end": (args.end, options.end),
        "--resolution": (args.resolution, options.resolution),
        "--format": (args.format, options.format),
        "--per-device": (args.per_device or None, not options.prefer_bulk or None),
        "--split-overview": (args.split_overview or None, options.split_overview or None),
        "--only-open-alerts": (args.only_open_alerts or None, options.only_open_alerts),
        "--simulate": (args.simulate or None, options.simulate),
        "--sim-sites": (args.sim_sites, options.sim_sites),
        "--sim-seed": (args.sim_seed, options.sim_seed),
        "--base-url": (args.base_url, options.base_url),
    }
    for flag, (value, kept) in given.items():
        if value is not None and value != kept:
            raise UsageError(
                f"{flag} differs from the sweep being resumed ({_show(kept)}); --resume "
                "continues that sweep with its own options (drop the flag)"
            )
    return options


def _check_sim_flags(args: argparse.Namespace, options: _Options) -> None:
    sim_flags = (
        "sim_sites",
        "sim_seed",
        "sim_requests_per_minute",
        "sim_monthly_credits",
        "sim_now",
    )
    if not options.simulate and any(getattr(args, f) is not None for f in sim_flags):
        raise UsageError("the --sim-* flags need --simulate")
    if not options.simulate and args.sim_latency_ms is not None:
        raise UsageError("the --sim-* flags need --simulate")


def _show(value: object) -> str:
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return "not set" if value is None else str(value)


def _bound(text: str) -> SweepBound:
    value = text.lower()
    if value == "today":
        return SiteDay(0)
    if value == "yesterday":
        return SiteDay(-1)
    if value.startswith("-") and value[1:].isdigit():
        return SiteDay(-int(value[1:]))
    if len(text) == 10:  # noqa: PLR2004 - YYYY-MM-DD
        return date.fromisoformat(text)
    return datetime.fromisoformat(text)


def _spec(options: _Options) -> SweepSpec:
    # The parser checked both against the endpoint table (parse_what, choices=).
    return SweepSpec(
        what=cast("tuple[Target, ...]", options.what),
        site_ids=options.sites,
        start=_bound(options.start),
        end=_bound(options.end),
        resolution=cast("ResolutionName | None", options.resolution),
        prefer_bulk=options.prefer_bulk,
        only_open_alerts=options.only_open_alerts,
        split_overview=options.split_overview,
    )


# -- connection ---------------------------------------------------------------------


@attrs.frozen
class _Connection:
    client: SolarEdgeClient
    now: Callable[[], datetime]
    label: str


def _latency(text: str) -> tuple[float, float]:
    m = _LATENCY.match(text)
    if m is None:
        raise UsageError(f"--sim-latency-ms must look like 30 or 30±10, got {text!r}")
    return float(m.group(1)) / 1000.0, float(m.group(2) or 0.0) / 1000.0


@contextlib.asynccontextmanager
async def _connect(args: argparse.Namespace, options: _Options) -> AsyncIterator[_Connection]:
    rpm_flag: float | None = args.requests_per_minute
    if options.simulate:
        from solaredge_async.testing import (  # noqa: PLC0415 - only for --simulate
            Faults,
            FleetSpec,
            Simulator,
            SimulatorConfig,
        )

        sim_rpm = (
            SIM_REQUESTS_PER_MINUTE
            if args.sim_requests_per_minute is None
            else args.sim_requests_per_minute
        )
        monthly = (
            SIM_MONTHLY_CREDITS if args.sim_monthly_credits is None else args.sim_monthly_credits
        )
        latency = _latency(args.sim_latency_ms or SIM_LATENCY)
        try:
            sim = Simulator(
                SimulatorConfig(
                    seed=options.sim_seed or 0,
                    fleet=FleetSpec(sites=options.sim_sites or SIM_SITES),
                    # "No limit" is a limit out of reach: the gateway's headers are
                    # still sent (as live), so a monthly 429 is told from a minute's.
                    requests_per_minute=sim_rpm or _UNREACHABLE,
                    monthly_credits=monthly or None,
                    faults=Faults(latency=latency if latency[0] > 0 else None),
                    now=args.sim_now,
                    record_requests=0,
                )
            )
        except ValueError as exc:
            raise UsageError(f"simulator: {exc}") from None
        rpm = rpm_flag if rpm_flag is not None else float(sim_rpm)
        client = SolarEdgeClient(
            api_key=sim.api_key,
            transport=sim.transport(),
            base_url=sim.base_url,
            requests_per_minute=rpm or None,
            burst=_burst(rpm),
            max_concurrency=args.concurrency or SIM_CONCURRENCY,
            probe_caps=False,  # documented caps until the CLI has its budget options
        )
        limit = f"limit {sim_rpm:,} calls/min" if sim_rpm else "no limit"
        label = (
            f"simulated fleet of {options.sim_sites:,} sites "
            f"({limit}, latency {args.sim_latency_ms or SIM_LATENCY} ms)"
        )
        now = sim.now
    else:
        rpm = rpm_flag if rpm_flag is not None else API_REQUESTS_PER_MINUTE
        client = SolarEdgeClient(
            api_key=args.api_key,
            base_url=options.base_url or args.base_url or DEFAULT_BASE_URL,
            requests_per_minute=rpm or None,
            burst=_burst(rpm),
            max_concurrency=args.concurrency or API_CONCURRENCY,
            probe_caps=False,  # documented caps until the CLI has its budget options
        )
        label = client.base_url

        def now() -> datetime:
            return datetime.now(UTC)

    async with client:
        yield _Connection(client=client, now=now, label=label)


# -- sweep --------------------------------------------------------------------------


def _our_files(directory: Path) -> list[Path]:
    names = (MANIFEST, JOURNAL, ERRORS, "records.jsonl", "records.csv", "records")
    return [directory / n for n in names if (directory / n).exists()]


def _prepare_fresh(directory: Path, *, overwrite: bool) -> None:
    check_writable(directory)
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


def _print_plan(plan: SweepPlan, out: TextIO, label: str) -> None:
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
    if plan.failed_sites:
        print(f"{len(plan.failed_sites):,} sites could not be planned:", file=sys.stderr)
        for site_id, exc in list(plan.failed_sites.items())[:_SHOW_FAILURES]:
            print(f"  site {site_id}: {type(exc).__name__}: {exc}", file=sys.stderr)


def _manifest(options: _Options, plan: SweepPlan, store: OutputStore) -> dict[str, Any]:
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


async def _sweep_command(args: argparse.Namespace) -> int:  # noqa: C901, PLR0912, PLR0915
    out = sys.stdout
    directory = Path(args.out) if args.out else None
    manifest: dict[str, Any] | None = None
    if args.resume:
        if directory is None:
            raise UsageError("--resume needs --out DIR (the directory of the sweep to continue)")
        if args.overwrite:
            raise UsageError("--resume and --overwrite exclude each other")
        manifest = read_manifest(directory)
        options = _resumed(args, manifest)
        if manifest.get("complete"):
            print(f"The sweep in {directory} is already complete; nothing to do.", file=out)
            return 0
    else:
        options = _from_args(args)
    _check_sim_flags(args, options)
    spec = _spec(options)
    if directory is None and not args.dry_run:
        raise UsageError("--out DIR is required (or --dry-run to see the price)")
    _check_format(options.format)
    if directory is not None and not args.dry_run:
        if args.resume:
            check_writable(directory)
        else:
            _prepare_fresh(directory, overwrite=args.overwrite)

    async with _connect(args, options) as conn:
        client = conn.client
        now = datetime.fromisoformat(options.now) if options.now else conn.now()
        plan = await plan_sweep(client, spec, now=now)
        _print_plan(plan, out, conn.label)
        if args.dry_run or directory is None:
            print(
                "Dry run: nothing fetched beyond discovery "
                f"({plan.discovery_credits:,} credits spent listing or locating sites).",
                file=out,
            )
            return 0

        store = OutputStore(directory, options.format, resume=args.resume)
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
        if args.resume:
            print(
                f"Resuming: {len(plan) - len(todo):,} items already written, {len(todo):,} to go.",
                file=out,
            )

        bar = ProgressBar(sys.stderr, enabled=not args.no_progress)
        shown: list[str] = []
        spent_before = client.usage.credits
        started = time.perf_counter()
        errors_file: IO[str] = (directory / ERRORS).open("a", encoding="utf-8")
        counts = {"succeeded": 0, "failed": 0, "not_attempted": 0}
        stopped: str | None = None
        try:
            async with sweep(client, todo, on_progress=bar) as results:
                async for result in results:
                    if isinstance(result, ItemSucceeded):
                        counts["succeeded"] += 1
                        store.add(result)
                        if store.batch_full():
                            store.commit()
                        continue
                    errors_file.write(json.dumps(_error_line(result, run_no)) + "\n")
                    if isinstance(result, ItemFailed):
                        counts["failed"] += 1
                        if len(shown) < _SHOW_FAILURES:
                            shown.append(
                                f"  {result.item.id}: {type(result.error).__name__}: {result.error}"
                            )
                    else:
                        counts["not_attempted"] += 1
                stopped = results.stop_reason
            run_info["status"] = (
                "complete" if counts["failed"] == counts["not_attempted"] == 0 else "incomplete"
            )
        finally:
            bar.close()
            elapsed = time.perf_counter() - started
            usage = client.usage
            store.close()
            errors_file.close()
            run_info.update(
                finished=datetime.now(UTC).isoformat(timespec="seconds"),
                seconds=round(elapsed, 3),
                **counts,
                rows_written=store.rows_written,
                credits_spent=usage.credits - spent_before,
                discovery_credits=plan.discovery_credits,
                retries=usage.retries,
                rate_limited=usage.rate_limited_minute + usage.rate_limited_monthly,
                stopped=stopped,
            )
            if run_info["status"] == "running":
                run_info["status"] = "interrupted"
            manifest["complete"] = run_info["status"] == "complete" and not plan.failed_sites
            write_manifest(directory, manifest)

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
        f"Rows: {store.rows_written:,} written to {directory / store.data_name} "
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
    ok = counts["failed"] == 0 and counts["not_attempted"] == 0 and not plan.failed_sites
    return 0 if ok else 1


# -- sites --------------------------------------------------------------------------

_SITE_COLUMNS: Final = (
    "site_id",
    "name",
    "peak_power_kw",
    "timezone",
    "country",
    "status",
    "installed",
)


async def _sites_command(args: argparse.Namespace) -> int:
    options = _from_args(args)
    _check_sim_flags(args, options)
    out = sys.stdout
    rows: list[tuple[object, ...]] = []
    writer = csv.writer(out, lineterminator="\n") if args.format == "csv" else None
    if writer is not None:
        writer.writerow(_SITE_COLUMNS)
    async with _connect(args, options) as conn:
        async for site in conn.client.sites():
            loc = site.location
            row = (
                site.site_id,
                site.name,
                site.peak_power,
                loc.timezone if loc is not None else None,
                loc.country if loc is not None else None,
                None if site.activation_status is None else str(site.activation_status),
                None
                if site.installation_date is None
                else site.installation_date.date().isoformat(),
            )
            if args.format == "jsonl":
                print(json.dumps(dict(zip(_SITE_COLUMNS, row, strict=True))), file=out)
            elif writer is not None:
                writer.writerow(row)
            else:
                rows.append(row)
    if args.format == "table":
        _print_table(rows, out)
    return 0


def _print_table(rows: list[tuple[object, ...]], out: TextIO) -> None:
    text = [tuple("" if v is None else str(v) for v in row) for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in text)]) for i, h in enumerate(_SITE_COLUMNS)]
    print("  ".join(h.ljust(w) for h, w in zip(_SITE_COLUMNS, widths, strict=True)), file=out)
    for r in text:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip(), file=out)
    print(f"{len(rows):,} sites", file=out)
