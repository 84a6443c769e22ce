"""The ``solaredge-async`` command line: fleet sweeps, the site list, the simulator.

::

    solaredge-async sweep --simulate --out sweep-out        # no credentials needed
    solaredge-async sweep --what energy,inverter_telemetry --start 2026-05-01 --out DIR
    solaredge-async sweep --dry-run                         # the price, nothing fetched
    solaredge-async sweep --out DIR --resume                # continue an interrupted run
    solaredge-async sites --format jsonl
    solaredge-async simulate --port 8080                    # the loopback simulator

The API key comes from ``--api-key`` or the ``SOLAREDGE_API_KEY`` environment
variable and is never printed or written to a file.

Exit status: 0 when every item succeeded, 1 when any failed or was not attempted
(or the API refused), 2 for a usage error (bad flag, unusable output directory),
130 when interrupted. Only the standard library is used (orjson speeds up JSONL,
pyarrow enables Parquet).
"""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["build_parser", "main"]

from solaredge_async.cli._defaults import DEFAULT_WHAT

_RELATIVE: Final = {"today": 0, "yesterday": -1}


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def _aware(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an ISO 8601 instant, got {text!r}") from None
    if value.utcoffset() is None:
        raise argparse.ArgumentTypeError(f"the instant needs an offset, e.g. {text}+00:00")
    return value


def parse_what(text: str) -> tuple[str, ...]:
    """Parse ``--what``: comma-separated targets, each checked against the allowed ones."""
    from solaredge_async._endpoints import TARGETS  # noqa: PLC0415 - keeps --help fast

    names = tuple(dict.fromkeys(p.strip() for p in text.split(",") if p.strip()))
    unknown = [n for n in names if n not in TARGETS]
    if unknown or not names:
        shown = ", ".join(repr(u) for u in unknown) or "nothing"
        raise argparse.ArgumentTypeError(f"unknown target {shown}; allowed: {', '.join(TARGETS)}")
    return names


def parse_sites(text: str) -> tuple[int, ...]:
    """Parse ``--sites``: comma-separated positive site ids."""
    ids: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if not part.isdigit() or int(part) < 1:
            raise argparse.ArgumentTypeError(f"site ids are positive integers, got {part!r}")
        ids.append(int(part))
    if not ids:
        raise argparse.ArgumentTypeError("no site id given")
    return tuple(dict.fromkeys(ids))


def parse_bound(text: str) -> str:
    """Check a ``--start`` / ``--end`` value; the text is kept (and stored for resume).

    Accepts ``YYYY-MM-DD`` (a site-local day, inclusive), an ISO 8601 date-time
    (naive: site-local), ``today``, ``yesterday`` or ``-N`` (N days ago, site-local).
    """
    value = text.strip().lower()
    if value in _RELATIVE or (value.startswith("-") and value[1:].isdigit()):
        return value
    try:
        if len(value) == 10:  # noqa: PLR2004 - YYYY-MM-DD
            date.fromisoformat(value)
        else:
            datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected YYYY-MM-DD, an ISO date-time, 'today', 'yesterday' or -N, got {text!r}"
        ) from None
    return text.strip()


def _connection_options() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    g = parent.add_argument_group("connection")
    g.add_argument(
        "--base-url",
        help="the V2 base URL (default: the real API; or a loopback simulator's URL)",
    )
    g.add_argument(
        "--api-key",
        help="the API key (default: $SOLAREDGE_API_KEY; prefer the variable: a flag is "
        "visible in the process list). Never printed",
    )
    g.add_argument(
        "--requests-per-minute",
        type=_non_negative_float,
        help="client-side rate limit, calls per minute; 0 turns it off "
        "(default 10, the free tier; with --simulate the simulator's limit)",
    )
    g.add_argument(
        "--concurrency",
        type=_positive_int,
        help="requests in flight at most (default 3; with --simulate 8)",
    )
    g.add_argument(
        "--backend", choices=("asyncio", "trio"), default="asyncio", help="event loop (asyncio)"
    )
    s = parent.add_argument_group("simulator (with --simulate)")
    s.add_argument(
        "--simulate",
        action="store_true",
        help="run against the embedded simulator, in process (no credentials, no network)",
    )
    s.add_argument("--sim-sites", type=_positive_int, help="simulated sites (300)")
    s.add_argument("--sim-seed", type=int, help="seed of the simulated fleet (0)")
    s.add_argument(
        "--sim-requests-per-minute",
        type=int,
        help="the simulator's enforced limit, calls per minute; 0 none (12000)",
    )
    s.add_argument(
        "--sim-monthly-credits",
        type=int,
        help="the simulator's monthly credits; 0 unlimited (100000)",
    )
    s.add_argument("--sim-latency-ms", help="simulated latency, MEAN[±JITTER] milliseconds (30±10)")
    s.add_argument(
        "--sim-now",
        type=_aware,
        help="freeze the simulator's clock at this ISO 8601 instant with offset "
        "(reproducible runs; default: the wall clock)",
    )
    return parent


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``solaredge-async``."""
    from solaredge_async._endpoints import (  # noqa: PLC0415 - only when a parser is built
        BULK_TARGETS,
        DEVICE_METRICS,
        SITE_TARGETS,
    )
    from solaredge_async._version import __version__  # noqa: PLC0415

    parser = argparse.ArgumentParser(
        prog="solaredge-async",
        description="Sweep a SolarEdge fleet through the Monitoring API V2.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    conn = _connection_options()

    sw = sub.add_parser(
        "sweep",
        parents=[conn],
        help="fetch data of every site (or --sites) into --out DIR",
        description="Plan a fleet sweep, price it, run it at the rate limit and write flat "
        "rows (site_id, device_serial, source, metric, resolution, period_start, period_end, "
        "value, unit, details) to DIR.",
    )
    sw.add_argument(
        "--what",
        type=parse_what,
        help=f"comma-separated targets (default: {','.join(DEFAULT_WHAT)}): "
        f"{', '.join((*SITE_TARGETS, *BULK_TARGETS))}, or a device metric "
        f"({', '.join(sorted(DEVICE_METRICS))})",
    )
    sw.add_argument("--sites", type=parse_sites, help="comma-separated site ids (default: all)")
    sw.add_argument(
        "--start",
        type=parse_bound,
        help="first day (YYYY-MM-DD, site-local, inclusive), an ISO date-time, today, "
        "yesterday or -N (default: yesterday)",
    )
    sw.add_argument(
        "--end", type=parse_bound, help="last day, inclusive, same forms (default: yesterday)"
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
        "--dry-run",
        action="store_true",
        help="print the plan's price and duration; spends only discovery (the site list)",
    )
    sw.add_argument(
        "--resume",
        action="store_true",
        help="continue the sweep in DIR with its options, skipping what it wrote",
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
    sw.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")

    si = sub.add_parser(
        "sites", parents=[conn], help="list the sites the API key sees", description="List sites."
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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (0 ok, 1 failures, 2 usage, 130 ^C)."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] == "simulate":
        from solaredge_async.testing import main as simulate_main  # noqa: PLC0415

        return simulate_main(args_list[1:])
    parser = build_parser()
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    if args.command == "poll":
        from solaredge_async.cli._poll import run_poll  # noqa: PLC0415 - heavy imports

        return run_poll(args)
    from solaredge_async.cli._commands import run  # noqa: PLC0415 - heavy imports

    return run(args, parser)
