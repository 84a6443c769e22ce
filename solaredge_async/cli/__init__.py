"""The ``solaredge-async`` command line: fleet syncs and sweeps, the site list, the simulator.

::

    solaredge-async sync --simulate --db sqlite:///demo.db  # no credentials needed
    solaredge-async sync --db postgresql://host/db --since 2026-05-01
    solaredge-async sweep --simulate --out sweep-out
    solaredge-async sweep --what energy,inverter_telemetry --start 2026-05-01 --out DIR
    solaredge-async sweep --dry-run                         # the price, nothing fetched
    solaredge-async sweep --out DIR --resume                # continue an interrupted run
    solaredge-async sites --format jsonl
    solaredge-async simulate --port 8080                    # the loopback simulator

The API key comes from ``--api-key`` or the ``SOLAREDGE_API_KEY`` environment
variable (several keys: ``--api-key`` repeated, or comma-separated in the variable;
each site is fetched with a key that sees it, each account at its own rate) and is
never printed or written to a file; it is sent only to the base URL
given by ``--base-url`` or ``SOLAREDGE_BASE_URL`` (default: the real API), never to
one read from an output directory unless ``--trust-manifest-url`` says so.

Exit status: 0 done (also a clean stop on SIGTERM), 1 some items failed or were
not attempted, 2 usage error (bad flag, unusable or locked output, damaged state
file), 3 refused before spending (the credits ran out before any data call), 130
interrupted by SIGINT. SIGINT and SIGTERM stop scheduling, commit what was fetched,
mark the run interrupted and print one line. Only the standard library is used
(orjson speeds up JSONL, pyarrow enables Parquet).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from types import FrameType

__all__ = ["build_parser", "main", "parse_bound", "parse_instant", "parse_sites", "parse_what"]

from solaredge_async.cli._defaults import (
    DEFAULT_DB,
    DEFAULT_WHAT,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_STATUSES,
    EXIT_USAGE,
    SYNC_WHAT,
    Terminated,
)
from solaredge_async.cli._flags import (
    aware,
    non_negative_float,
    non_negative_int,
    parse_bound,
    parse_instant,
    parse_sites,
    parse_what,
    positive_int,
)

#: The simulator's flags: name, parser, help.
_SIM_FLAGS: Final[tuple[tuple[str, Callable[[str], object], str], ...]] = (
    ("--sim-sites", positive_int, "simulated sites (300)"),
    ("--sim-seed", int, "seed of the simulated fleet (0)"),
    (
        "--sim-requests-per-minute",
        int,
        "the simulator's enforced limit, calls per minute; 0 none (12000)",
    ),
    ("--sim-monthly-credits", int, "the simulator's monthly credits; 0 unlimited (100000)"),
    ("--sim-latency-ms", str, "simulated latency, MEAN[±JITTER] milliseconds (30±10)"),
    (
        "--sim-now",
        aware,
        (
            "freeze the simulator's clock at this ISO 8601 instant with offset "
            "(reproducible runs; default: the wall clock)"
        ),
    ),
)


def _connection_options() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    g = parent.add_argument_group("connection")
    g.add_argument(
        "--base-url",
        help="the V2 base URL (default: $SOLAREDGE_BASE_URL, else the real API; or a "
        "loopback simulator's URL)",
    )
    g.add_argument(
        "--api-key",
        action="append",
        metavar="KEY",
        help="an API key; repeat it for the keys of several accounts, each site is then "
        "fetched with a key that sees it (default: $SOLAREDGE_API_KEY, several "
        "comma-separated; prefer the variable: a flag is visible in the process list). "
        "Never printed",
    )
    g.add_argument(
        "--shared-state",
        metavar="URL",
        help="redis://host:port/db: share each account's rate limit, Retry-After pauses, "
        "monthly credit ledger and quota breaker with every other process through Redis "
        "(default: $SOLAREDGE_SHARED_STATE; needs the redis extra). Fails, never falls "
        "back to an unshared limit, when Redis is unreachable",
    )
    g.add_argument(
        "--requests-per-minute",
        type=non_negative_float,
        help="client-side rate limit, calls per minute; 0 turns it off "
        "(default 10, the free tier; with --simulate the simulator's limit)",
    )
    g.add_argument(
        "--concurrency",
        type=positive_int,
        help="requests in flight at most (default 3; with --simulate 8)",
    )
    g.add_argument(
        "--backend", choices=("asyncio", "trio"), default="asyncio", help="event loop (asyncio)"
    )
    g.add_argument(
        "--log-level",
        type=str.lower,
        choices=("debug", "info", "warning", "error"),
        help="log the library's messages at this level on stderr (default: none)",
    )
    s = parent.add_argument_group("simulator (with --simulate)")
    s.add_argument(
        "--simulate",
        action="store_true",
        help="run against the embedded simulator, in process (no credentials, no network)",
    )
    for flag, parse, text in _SIM_FLAGS:
        s.add_argument(flag, type=parse, help=text)
    return parent


def _targets_help(default: tuple[str, ...]) -> str:
    from solaredge_async._endpoints import (  # noqa: PLC0415 - only when a parser is built
        BULK_TARGETS,
        DEVICE_METRICS,
        SITE_TARGETS,
    )

    return (
        f"comma-separated targets (default: {','.join(default)}): "
        f"{', '.join((*SITE_TARGETS, *BULK_TARGETS))}, or a device metric "
        f"({', '.join(sorted(DEVICE_METRICS))})"
    )


def _add_what_and_span(
    parser: argparse.ArgumentParser,
    default_what: tuple[str, ...],
    parse: Callable[[str], object],
    **bounds: str,
) -> None:
    """Add ``--what`` and the span's two bounds (flag name: help), both read by ``parse``."""
    parser.add_argument("--what", type=parse_what, help=_targets_help(default_what))
    for name, text in bounds.items():
        parser.add_argument(f"--{name}", type=parse, help=text)


def _run_options() -> argparse.ArgumentParser:
    """The options every fetching command shares: what, which sites, how to report."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--sites", type=parse_sites, help="comma-separated site ids (default: all)")
    parent.add_argument(
        "--dry-run",
        action="store_true",
        help="print the plan's price and duration; spends only discovery (the site list)",
    )
    parent.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    budget = parent.add_argument_group("credit budget")
    budget.add_argument(
        "--monthly-credits",
        type=non_negative_int,
        metavar="N",
        help="the account's monthly credits; 0 unlimited (default 2000, the free tier; with "
        "--simulate the simulator's)",
    )
    budget.add_argument(
        "--billing-day",
        type=positive_int,
        metavar="D",
        help="day of the month (1-28, UTC) the credits reset on (default 1)",
    )
    budget.add_argument(
        "--state-dir",
        metavar="DIR",
        help="where the credit ledger and learned window caps persist across runs and "
        "processes (default: $SOLAREDGE_STATE_DIR, else ~/.local/state/solaredge-async; "
        "with --simulate: in memory unless given)",
    )
    budget.add_argument(
        "--allow-over-budget",
        action="store_true",
        help="run a plan that costs more than remains this cycle (else: exit 3, nothing spent)",
    )
    parent.add_argument(
        "--output",
        choices=("text", "json"),
        default="text",
        help="json: the last line of stdout is one JSON object (credits, rows, succeeded, "
        "failed, not_attempted, rate_limited, ...)",
    )
    return parent


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``solaredge-async``."""
    from solaredge_async._version import __version__  # noqa: PLC0415

    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="solaredge-async",
        description="Sync or sweep a SolarEdge fleet through the Monitoring API V2.",
        epilog=EXIT_STATUSES,
        formatter_class=formatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    conn = _connection_options()
    run_opts = _run_options()

    sy = sub.add_parser(
        "sync",
        parents=[conn, run_opts],
        help="keep a database (SQLite by default) current with the fleet's data",
        description="Plan what the database lacks (from its watermarks), price it, fetch it "
        "at the rate limit and upsert the rows; a rerun fetches only what is still open.",
        epilog=EXIT_STATUSES,
        formatter_class=formatter,
    )
    sy.add_argument(
        "--db",
        default=DEFAULT_DB,
        metavar="URL",
        help=f"the store: sqlite:///PATH or postgresql://... (default: {DEFAULT_DB})",
    )
    _add_what_and_span(
        sy,
        SYNC_WHAT,
        parse_instant,
        since="a first run backfills from this day (YYYY-MM-DD, site-local; today, yesterday "
        "or -N days) or ISO instant (default: 7 days ago)",
        until="sync up to the end of this day (site-local, inclusive) or this instant "
        "(default: now; only closed buckets are stored)",
    )
    sy.add_argument(
        "--settle",
        type=non_negative_float,
        metavar="MINUTES",
        help="re-fetch sub-daily buckets this recent, as late data arrives (default: 120)",
    )

    sw = sub.add_parser(
        "sweep",
        parents=[conn, run_opts],
        help="fetch data of every site (or --sites) into --out DIR",
        description="Plan a fleet sweep, price it, run it at the rate limit and write flat "
        "rows (site_id, device_serial, source, metric, resolution, period_start, period_end, "
        "value, unit, details) to DIR.",
        epilog=EXIT_STATUSES,
        formatter_class=formatter,
    )
    _add_what_and_span(
        sw,
        DEFAULT_WHAT,
        parse_bound,
        start="first day (YYYY-MM-DD, site-local, inclusive), an ISO date-time, today, "
        "yesterday or -N (default: yesterday)",
        end="last day, inclusive, same forms (default: yesterday)",
    )
    sw.add_argument(
        "--resolution",
        type=str.upper,
        choices=("QUARTER_HOUR", "HOUR", "DAY", "WEEK", "MONTH", "YEAR", "TOTAL"),
        help="bucket length (default: the API's, QUARTER_HOUR)",
    )
    sw.add_argument("--out", metavar="DIR", help="output directory (required unless --dry-run)")
    sw.add_argument(
        "--format",
        choices=("jsonl", "csv", "parquet"),
        help="output format (jsonl; parquet needs pyarrow)",
    )
    sw.add_argument(
        "--include-null",
        action="store_true",
        help="also write buckets that hold no value (null); left out by default",
    )
    sw.add_argument(
        "--resume",
        action="store_true",
        help="continue the sweep in DIR with its options, skipping what it wrote",
    )
    sw.add_argument(
        "--trust-manifest-url",
        action="store_true",
        help="with --resume: send the API key to the base URL stored in DIR's manifest "
        "(without it, the key goes only to --base-url or the default API)",
    )
    sw.add_argument(
        "--overwrite", action="store_true", help="replace a previous sweep's files in DIR"
    )
    sw.add_argument(
        "--per-device",
        action="store_true",
        help="fetch single device metrics per device instead of through bulk telemetry",
    )
    sw.add_argument(
        "--split-overview",
        action="store_true",
        help="split /overview windows at the 12 h quarter-hour cap (for servers that cap them)",
    )
    sw.add_argument("--only-open-alerts", action="store_true", help="with alerts: open only")

    si = sub.add_parser(
        "sites",
        parents=[conn],
        help="list the sites the API keys see, with the key(s) that see each",
        description="List sites.",
        epilog=EXIT_STATUSES,
        formatter_class=formatter,
    )
    si.add_argument("--format", choices=("table", "jsonl", "csv"), default="table")

    from solaredge_async.cli._poll import add_poll_parser  # noqa: PLC0415

    add_poll_parser(sub, conn)

    sub.add_parser(
        "simulate",
        help="serve the simulator over HTTP (see: solaredge-async simulate --help)",
        add_help=False,
    )
    return parser


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    del signum, frame
    raise Terminated


@contextlib.contextmanager
def _early_signals(*, keep: bool) -> Iterator[None]:
    """From the first line of `main`: SIGINT raises KeyboardInterrupt, SIGTERM `Terminated`.

    The commands replace both with a graceful stop once they run; these cover start-up.
    On the way out the previous handlers come back when ``keep`` (`main` called as a
    function); as the program's entry point the status is decided by then, so both
    signals are ignored until the interpreter exits (its shutdown would otherwise die
    of them with -2). Only the main thread can install handlers (elsewhere: nothing).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    # default_int_handler itself: asyncio's runner and trio replace it with their own,
    # which interrupt at safe points.
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    previous_term = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous_int if keep else signal.SIG_IGN)
        signal.signal(signal.SIGTERM, previous_term if keep else signal.SIG_IGN)


def _quiet_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null so the exit flush stays silent."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # a captured stdout has no descriptor
        pass


def _configure_logging(level: str | None) -> None:
    if level is None:
        return
    logging.basicConfig(
        level=level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status.

    0 done (or stopped cleanly by SIGTERM), 1 some items failed or were not attempted,
    2 usage error, 3 refused before spending, 130 interrupted (SIGINT). A closed stdout
    (``solaredge-async sites | head``) ends the command quietly with 0.
    """
    status = EXIT_INTERRUPTED
    try:
        with _early_signals(keep=argv is not None):
            try:
                status = _main(argv)
            except KeyboardInterrupt:
                status = _say("interrupted", EXIT_INTERRUPTED)
            except Terminated:
                status = _say("stopped by SIGTERM", EXIT_OK)
            except BrokenPipeError:
                _quiet_stdout()
                status = EXIT_OK
            except Exception as exc:
                if not _interrupted(exc):
                    raise
                status = _say("interrupted", EXIT_INTERRUPTED)
    except KeyboardInterrupt:  # a late signal, run while the handlers were restored
        status = EXIT_INTERRUPTED if status == EXIT_OK else status
    except Terminated:
        pass
    if argv is None and status == EXIT_INTERRUPTED:
        _exit_now(status)
    return status


def _interrupted(exc: BaseException) -> bool:
    """Whether ``exc`` wraps a KeyboardInterrupt (an import turns one into a RuntimeError)."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False


def _exit_now(status: int) -> None:
    """End the process with ``status`` at once (the program's entry point, after SIGINT).

    CPython remembers a KeyboardInterrupt that crossed code run from a string (as
    dataclasses and namedtuples do while a module is imported) and then ends the
    process with -2, whatever status the program returned; exiting here keeps 130.
    Everything was committed and closed by now; the standard streams are flushed.
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    logging.shutdown()
    os._exit(status)


def _say(message: str, status: int) -> int:
    with contextlib.suppress(OSError, ValueError):
        print(f"solaredge-async: {message}", file=sys.stderr)
    return status


def _main(argv: Sequence[str] | None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] == "simulate":
        from solaredge_async.testing import main as simulate_main  # noqa: PLC0415

        return simulate_main(args_list[1:])
    parser = build_parser()
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else EXIT_USAGE)
    _configure_logging(args.log_level)
    logging.getLogger("solaredge_async.cli").debug("starting %s", args.command)
    if args.command == "poll":
        from solaredge_async.cli._poll import run_poll  # noqa: PLC0415 - heavy imports

        return run_poll(args)
    from solaredge_async.cli._run import run  # noqa: PLC0415 - heavy imports

    return run(args, parser)
