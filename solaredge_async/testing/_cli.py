"""The ``simulate`` command: run the simulator as a standalone HTTP server."""

from __future__ import annotations

import argparse
import re
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Final

from solaredge_async.testing._clock import SimClock
from solaredge_async.testing._config import (
    DEFAULT_API_KEY,
    DEFAULT_SPAN_CAPS,
    RESOLUTIONS,
    Faults,
    FleetSpec,
    SimulatorConfig,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["build_parser", "config_from_args", "main", "parse_latency"]

#: The fault flags: ``--fault-NAME``, the `Faults` rate (0..1) it sets, its help.
_FAULT_FLAGS: Final = (
    ("5xx", "server_error", "rate of JSON 5xx"),
    ("html", "html_error", "rate of HTML 5xx pages"),
    ("reset", "connection_reset", "rate of dropped connections"),
    ("timeout", "timeout", "rate of stalled answers"),
    ("malformed", "malformed_json", "rate of non-JSON 200s"),
    ("truncated", "truncated_json", "rate of cut JSON 200s"),
    ("drift", "schema_drift", "rate of schema drift"),
    ("burst", "rate_limit_burst", "rate of spurious 429s"),
)
#: The `SimulatorConfig` fields set to a flag's value as parsed: field -> the flag's dest.
_CONFIG_FLAGS: Final = {
    "prefix": "prefix",
    "monitoring_alias": "monitoring_alias",
    "requests_per_minute": "rate_limit",
    "monthly_credits": "monthly_credits",
    "max_in_flight": "max_in_flight",
    "advanced_tier": "advanced",
    "time_input": "time_input",
    "unknown_site_status": "unknown_site_status",
    "soe_scale": "soe_scale",
    "record_requests": "record_requests",
    "subdaily_cap_hours": "subdaily_cap_hours",
}

_LATENCY_RE = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*(?:(?:±|\+-|\+/-|,|:)\s*(\d+(?:\.\d*)?))?\s*$")


def parse_latency(text: str) -> tuple[float, float]:
    """Parse ``MEAN[±JITTER]`` milliseconds (``150±50``, ``150+-50``, ``150``) to seconds.

    Raises:
        ValueError: Not of that form.
    """
    m = _LATENCY_RE.match(text)
    if m is None:
        raise ValueError(f"latency must look like 150 or 150±50 (ms), got {text!r}")
    mean = float(m.group(1)) / 1000.0
    jitter = float(m.group(2) or 0.0) / 1000.0
    return mean, jitter


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("a rate must be within 0..1")
    return value


def _aware(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError("--now needs an offset, e.g. 2026-05-12T14:37:12+02:00")
    return value


def build_parser(prog: str = "solaredge-async simulate") -> argparse.ArgumentParser:
    """Return the argument parser of the ``simulate`` command."""
    p = argparse.ArgumentParser(
        prog=prog,
        description="Serve a simulated SolarEdge Monitoring API V2 over HTTP/1.1.",
    )
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port to bind; 0 picks one (8080)")
    p.add_argument("--prefix", default="/v2", help="path to mount the API under (/v2)")
    p.add_argument("--monitoring-alias", action="store_true", help="also serve /v2/monitoring")
    p.add_argument("--sites", type=int, default=10, help="number of sites (10)")
    p.add_argument("--seed", type=int, default=0, help="seed of the fleet and faults (0)")
    p.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        metavar="KEY",
        help="an account's API key; repeat for several accounts",
    )
    p.add_argument("--meter-fraction", type=_rate, default=0.4, help="share of metered sites")
    p.add_argument("--battery-fraction", type=_rate, default=0.5, help="share with batteries")
    p.add_argument("--zones", help="comma-separated IANA zones (default: a worldwide mix)")
    p.add_argument("--now", type=_aware, help="freeze 'now' at this aware ISO 8601 instant")
    p.add_argument(
        "--speed",
        type=float,
        help="run the clock SPEED times faster than real time (from --now, else from now)",
    )
    p.add_argument(
        "--rate-limit", type=int, default=10, help="calls per minute per account; 0 none (10)"
    )
    p.add_argument(
        "--monthly-credits", type=int, default=2000, help="credits per month; 0 unlimited (2000)"
    )
    p.add_argument(
        "--no-monthly-enforcement", action="store_true", help="count credits, never refuse"
    )
    p.add_argument("--max-in-flight", type=int, default=0, help="concurrency cap; 0 none")
    p.add_argument("--advanced", action="store_true", help="Advanced tier (power-flow)")
    p.add_argument("--time-input", choices=("ignore", "convert"), default="ignore")
    p.add_argument("--no-span-caps", action="store_true", help="accept windows of any length")
    p.add_argument(
        "--subdaily-cap-hours",
        type=int,
        choices=(12, 24),
        default=12,
        help="QUARTER_HOUR/HOUR caps: 12 (documented) or 24 (whole days)",
    )
    p.add_argument(
        "--bucket-at-to", action="store_true", help="also list the bucket starting at 'to'"
    )
    p.add_argument("--no-gzip", action="store_true", help="never gzip-compress 200s")
    p.add_argument("--unknown-site-status", type=int, choices=(403, 404), default=403)
    p.add_argument("--soe-scale", choices=("fraction", "percent"), default="fraction")
    p.add_argument("--record-requests", type=int, default=0, help="keep the newest N requests (0)")
    p.add_argument("--latency-ms", type=parse_latency, help="MEAN[±JITTER] milliseconds")
    for name, _field, text in _FAULT_FLAGS:
        p.add_argument(f"--fault-{name}", type=_rate, default=0.0, help=text)
    p.add_argument("--stall", type=float, default=30.0, help="seconds a stall lasts (30)")
    p.add_argument("--quiet", action="store_true", help="print only the base URL")
    return p


def config_from_args(args: argparse.Namespace) -> SimulatorConfig:
    """Build a `SimulatorConfig` from parsed arguments.

    Raises:
        ValueError: The arguments describe an invalid configuration.
    """
    zones = tuple(z.strip() for z in args.zones.split(",") if z.strip()) if args.zones else None
    rates = {field: getattr(args, f"fault_{name}") for name, field, _text in _FAULT_FLAGS}
    faults = Faults(latency=args.latency_ms, stall=args.stall, **rates)
    clock = None
    if args.speed is not None:
        clock = SimClock(args.now, speed=args.speed)
    return SimulatorConfig(
        **{field: getattr(args, dest) for field, dest in _CONFIG_FLAGS.items()},
        seed=args.seed,
        fleet=FleetSpec(
            sites=args.sites,
            api_keys=tuple(args.api_keys or (DEFAULT_API_KEY,)),
            meter_fraction=args.meter_fraction,
            battery_fraction=args.battery_fraction,
            zones=zones,
        ),
        now=args.now if clock is None else None,
        sim_clock=clock,
        enforce_monthly=not args.no_monthly_enforcement,
        faults=faults,
        span_caps=dict.fromkeys(RESOLUTIONS) if args.no_span_caps else dict(DEFAULT_SPAN_CAPS),
        include_bucket_at_to=args.bucket_at_to,
        gzip_responses=not args.no_gzip,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the simulator server until interrupted; return the exit status.

    Prints ``listening on <base URL>`` once the port is bound (stdout, flushed).
    """
    from solaredge_async.testing._simulator import Simulator  # noqa: PLC0415 - cheap --help

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        sim = Simulator(config_from_args(args))
    except ValueError as exc:
        print(f"simulate: {exc}", file=sys.stderr)  # noqa: T201
        return 2

    def ready(url: str) -> None:
        if args.quiet:
            print(url, flush=True)  # noqa: T201
            return
        n_keys = len(sim.api_keys)
        print(  # noqa: T201
            f"SolarEdge simulator: {args.sites} sites, {n_keys} account(s), "
            f"{args.rate_limit or 'no'} calls/min; listening on {url}\n"
            f"API key it accepts: {sim.api_keys[0]} (e.g. SOLAREDGE_API_KEY={sim.api_keys[0]} "
            f"solaredge-async sites --base-url {url})",
            flush=True,
        )

    try:
        sim.run_server(args.host, args.port, on_ready=ready)
    except OSError as exc:
        print(f"simulate: cannot serve on {args.host}:{args.port}: {exc}", file=sys.stderr)  # noqa: T201
        return 1
    return 0
