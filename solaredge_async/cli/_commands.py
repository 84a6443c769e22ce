"""What the commands share: the stop signal's record, options, the connection; ``sites``.

`_run` runs a command under signal handling; the other commands live in `_sweep`
(``sweep``) and `_sync` (``sync``), each imported only when it runs.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import signal
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TextIO, cast

import attrs

from solaredge_async import errors
from solaredge_async.cli._defaults import (
    API,
    DEFAULT_WHAT,
    EXIT_INCOMPLETE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    SIM_DEMO,
    Defaults,
)
from solaredge_async.cli._output import OutputError
from solaredge_async.client import DEFAULT_BASE_URL, SolarEdgeClient
from solaredge_async.fleet import ClientPool, SiteDay, SweepBound, SweepSpec
from solaredge_async.models import Site

if TYPE_CHECKING:
    import argparse
    from collections.abc import AsyncIterator, Callable, Iterable

    from solaredge_async._endpoints import ResolutionName, Target
    from solaredge_async.testing import SimClock, Simulator

__all__ = ["ENV_BASE_URL", "RefusedError", "Stop", "UsageError", "fail"]

#: The environment variable that may name the base URL (as ``--base-url`` does).
ENV_BASE_URL: Final = "SOLAREDGE_BASE_URL"
_ENV_API_KEY: Final = "SOLAREDGE_API_KEY"
_ENV_SHARED_STATE: Final = "SOLAREDGE_SHARED_STATE"
_ENV_STATE_DIR: Final = "SOLAREDGE_STATE_DIR"

SHOW_FAILURES: Final = 5
_RESOLUTIONS: Final = ("QUARTER_HOUR", "HOUR", "DAY", "WEEK", "MONTH", "YEAR", "TOTAL")


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
    """A bad combination of flags, an unusable output or a damaged state file: exit 2."""


class RefusedError(Exception):
    """Refused before spending a data credit (the credits ran out): exit 3."""


@attrs.define
class Stop:
    """Which signal stopped the command, and what the command wants said about it.

    A command sets `note` (e.g. "run again with --resume to continue") once it has
    something to keep; `run` prints ``stopped by SIGTERM: <note>`` as one line.
    """

    signum: int | None = None
    note: str = "nothing was written"

    @property
    def status(self) -> int:
        """The exit status: 0 for SIGTERM (a clean stop), 130 for SIGINT."""
        return EXIT_OK if self.signum == signal.SIGTERM else EXIT_INTERRUPTED


def fields_of(record: object, names: Iterable[str]) -> dict[str, Any]:
    """``{name: record.name}`` for each of ``names``: a record's fields to pass on by name."""
    return {name: getattr(record, name) for name in names}


def fail(message: str, status: int) -> int:
    """Print ``solaredge-async: message`` on stderr; return ``status``."""
    with contextlib.suppress(OSError, ValueError):
        print(f"solaredge-async: {message}", file=sys.stderr)
    return status


# -- options ------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Options:
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


def options_from_args(args: argparse.Namespace) -> Options:
    """The options of a fresh sweep (or of ``sites``) from the flags."""
    simulate = bool(args.simulate)

    def opt(name: str, default: object = None) -> Any:  # noqa: ANN401 - argparse values
        return getattr(args, name, default)  # `sites` lacks the sweep-only flags

    return Options(
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
        sim_sites=(args.sim_sites or SIM_DEMO.sites) if simulate else None,
        sim_seed=(args.sim_seed or 0) if simulate else None,
        base_url=None if simulate else base_url_of(args),
    )


def base_url_of(args: argparse.Namespace) -> str:
    """``--base-url``, else ``$SOLAREDGE_BASE_URL``, else the real API."""
    return str(args.base_url or os.environ.get(ENV_BASE_URL) or DEFAULT_BASE_URL)


def _stored(stored: dict[str, Any], name: str, kinds: tuple[type, ...]) -> Any:  # noqa: ANN401
    """``stored[name]``, which must be one of ``kinds`` (None allowed when listed)."""
    if name not in stored:
        raise OutputError(f"the manifest's sweep options are damaged (no {name!r})")
    value = stored[name]
    # bool is an int: refuse it where an int is wanted, and an int where a bool is.
    ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
    if not ok:
        wanted = " or ".join("null" if k is type(None) else k.__name__ for k in kinds)
        raise OutputError(
            f"the manifest's sweep options are damaged ({name!r} is "
            f"{type(value).__name__}, expected {wanted})"
        )
    return value


def _stored_options(stored: object) -> Options:  # noqa: C901 - one check per field
    """The `Options` kept in a manifest, each field checked (`OutputError` when damaged)."""
    import argparse  # noqa: PLC0415

    from solaredge_async._endpoints import TARGETS  # noqa: PLC0415
    from solaredge_async.cli._flags import parse_bound  # noqa: PLC0415
    from solaredge_async.cli._output import FORMATS  # noqa: PLC0415

    if not isinstance(stored, dict):
        raise OutputError("the manifest's sweep options are damaged ('sweep' is not an object)")
    none = type(None)
    what = _stored(stored, "what", (list,))
    if not what or not all(isinstance(w, str) and w in TARGETS for w in what):
        raise OutputError(f"the manifest's sweep options are damaged (what: {what!r:.80})")
    sites = _stored(stored, "sites", (list, none))
    if sites is not None and not all(
        isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in sites
    ):
        raise OutputError("the manifest's sweep options are damaged (sites: not site ids)")
    bounds = {}
    for name in ("start", "end"):
        text = _stored(stored, name, (str,))
        try:
            bounds[name] = parse_bound(text)
        except argparse.ArgumentTypeError as exc:
            raise OutputError(f"the manifest's sweep options are damaged ({name}: {exc})") from None
    resolution = _stored(stored, "resolution", (str, none))
    fmt = _stored(stored, "format", (str,))
    if fmt not in FORMATS:
        raise OutputError(f"the manifest's sweep options are damaged (format {fmt!r:.40})")
    sim_sites = _stored(stored, "sim_sites", (int, none))
    now = _stored(stored, "now", (str, none))
    if now is not None:
        try:
            if datetime.fromisoformat(now).utcoffset() is None:
                raise ValueError(now)  # noqa: TRY301 - reported below
        except ValueError:
            raise OutputError(
                f"the manifest's sweep options are damaged (now: {now!r:.40})"
            ) from None
    if resolution is not None and resolution not in _RESOLUTIONS:
        raise OutputError(
            f"the manifest's sweep options are damaged (resolution {resolution!r:.40})"
        )
    if sim_sites is not None and sim_sites < 1:
        raise OutputError("the manifest's sweep options are damaged (sim_sites < 1)")
    return Options(
        what=tuple(what),
        sites=None if sites is None else tuple(sites),
        start=bounds["start"],
        end=bounds["end"],
        resolution=resolution,
        format=fmt,
        prefer_bulk=_stored(stored, "prefer_bulk", (bool,)),
        split_overview=_stored(stored, "split_overview", (bool,)),
        only_open_alerts=_stored(stored, "only_open_alerts", (bool,)),
        simulate=_stored(stored, "simulate", (bool,)),
        sim_sites=sim_sites,
        sim_seed=_stored(stored, "sim_seed", (int, none)),
        base_url=_stored(stored, "base_url", (str, none)),
        now=now,
    )


def resumed_options(args: argparse.Namespace, manifest: dict[str, Any]) -> Options:
    """The stored options; any flag given that contradicts them is a usage error.

    The API key goes only to a base URL given by ``--base-url`` or ``$SOLAREDGE_BASE_URL``
    (or the default API): a manifest naming another URL is refused unless
    ``--trust-manifest-url`` says to send the key there.

    Raises:
        OutputError: The manifest's options are damaged.
        UsageError: A flag contradicts them, or the stored URL is not trusted.
    """
    options = _stored_options(manifest.get("sweep"))
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
                f"{flag} differs from the sweep being resumed ({show(kept)}); --resume "
                "continues that sweep with its own options (drop the flag)"
            )
    if options.simulate:
        return options
    url = args.base_url or os.environ.get(ENV_BASE_URL) or None
    if url is None:
        url = options.base_url if args.trust_manifest_url else DEFAULT_BASE_URL
    if url != options.base_url:
        raise UsageError(
            f"the sweep being resumed was made against {show(options.base_url)}, not {url}; "
            "the API key goes only to a URL given by --base-url or $SOLAREDGE_BASE_URL: pass "
            "--base-url with that URL if you trust it (or --trust-manifest-url)"
        )
    return attrs.evolve(options, base_url=url)


def check_sim_flags(args: argparse.Namespace, options: Options) -> None:
    """Refuse ``--sim-*`` flags without ``--simulate`` (`UsageError`)."""
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


def show(value: object) -> str:
    """A flag value as the user would type it."""
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


def sweep_spec(options: Options) -> SweepSpec:
    """The library's `SweepSpec` of these options."""
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
class Connection:
    """The connected clients, the clock of their server (the simulator's, or UTC now), a label.

    ``pool`` holds one client per API key; ``client`` is its first (the only one
    with a single key).
    """

    client: SolarEdgeClient
    pool: ClientPool
    now: Callable[[], datetime]
    label: str


_LATENCY = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*(?:(?:±|\+-|\+/-|,|:)\s*(\d+(?:\.\d*)?))?\s*$")


def _latency(text: str) -> tuple[float, float]:
    m = _LATENCY.match(text)
    if m is None:
        raise UsageError(f"--sim-latency-ms must look like 30 or 30±10, got {text!r}")
    return float(m.group(1)) / 1000.0, float(m.group(2) or 0.0) / 1000.0


def default_state_dir() -> Path:
    """Where the CLI keeps its credit ledger and learned caps by default.

    ``$SOLAREDGE_STATE_DIR``, else ``$XDG_STATE_HOME/solaredge-async``, else
    ``~/.local/state/solaredge-async``.
    """
    explicit = os.environ.get(_ENV_STATE_DIR)
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_STATE_HOME") or str(Path("~/.local/state").expanduser())
    return Path(base) / "solaredge-async"


def _budget_settings(
    args: argparse.Namespace, *, default_credits: int | None, default_state: Path | None
) -> dict[str, Any]:
    """The client's budget arguments from the budget flags (or their defaults).

    Commands without ``--monthly-credits``, ``--billing-day`` and ``--state-dir`` get the
    defaults given.
    """
    monthly = getattr(args, "monthly_credits", None)
    state = getattr(args, "state_dir", None)
    settings: dict[str, Any] = {
        "monthly_credits": monthly if monthly is not None else default_credits,
        "billing_day": getattr(args, "billing_day", None),
    }
    directory = Path(state).expanduser() if state else default_state
    if directory is not None:
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create the state directory {directory}: {exc}") from None
        settings["state_dir"] = directory
    return settings


#: "No limit": a limit out of reach (the simulator still sends the gateway's headers).
_UNREACHABLE: Final = 1_000_000_000


def simulated(args: argparse.Namespace, defaults: Defaults) -> Defaults:
    """``defaults`` with the ``--sim-*`` flags and ``--concurrency`` given in their place."""
    rpm, monthly = args.sim_requests_per_minute, args.sim_monthly_credits
    return Defaults(
        requests_per_minute=defaults.requests_per_minute if rpm is None else rpm,
        monthly_credits=defaults.monthly_credits if monthly is None else monthly,
        concurrency=args.concurrency or defaults.concurrency,
        sites=args.sim_sites or defaults.sites,
        latency=args.sim_latency_ms or defaults.latency,
    )


def embedded_simulator(
    settings: Defaults,
    *,
    seed: int,
    now: datetime | None = None,
    sim_clock: SimClock | None = None,
    billing_day: int | None = None,
) -> Simulator:
    """The in-process simulator of ``--simulate``: the sites, limits and latency of ``settings``.

    ``now`` freezes its clock, or ``sim_clock`` drives it; ``billing_day`` is the day
    its credits renew.

    Raises:
        UsageError: The latency is not ``MEAN[±JITTER]``, or the simulator refuses a setting.
    """
    from solaredge_async.testing import (  # noqa: PLC0415 - only for --simulate
        Faults,
        FleetSpec,
        Simulator,
        SimulatorConfig,
    )

    mean_jitter = _latency(settings.latency)
    try:
        return Simulator(
            SimulatorConfig(
                seed=seed,
                fleet=FleetSpec(sites=settings.sites),
                # "No limit" is a limit out of reach: the gateway's headers are
                # still sent (as live), so a monthly 429 is told from a minute's.
                requests_per_minute=settings.requests_per_minute or _UNREACHABLE,
                monthly_credits=settings.monthly_credits or None,
                billing_day=billing_day,
                faults=Faults(latency=mean_jitter if mean_jitter[0] > 0 else None),
                now=now,
                sim_clock=sim_clock,
                record_requests=0,
            )
        )
    except ValueError as exc:
        raise UsageError(f"simulator: {exc}") from None


@contextlib.asynccontextmanager
async def connect(args: argparse.Namespace, options: Options) -> AsyncIterator[Connection]:
    """The client the flags describe: the embedded simulator, or a real or loopback server.

    Raises:
        UsageError: No API key for a real server, or bad simulator flags.
    """
    rpm_flag: float | None = args.requests_per_minute
    if options.simulate:
        settings = simulated(args, SIM_DEMO._replace(sites=options.sim_sites or SIM_DEMO.sites))
        sim_rpm, monthly = settings.requests_per_minute, settings.monthly_credits
        sim = embedded_simulator(settings, seed=options.sim_seed or 0, now=args.sim_now)
        rpm = rpm_flag if rpm_flag is not None else float(sim_rpm)
        # A simulated account's budget is the simulator's, kept in memory (a demo must
        # not spend the real account's ledger); its caps are the documented ones.
        budget = _budget_settings(args, default_credits=monthly, default_state=None)
        pool = ClientPool(
            [
                SolarEdgeClient(
                    api_key=sim.api_key,
                    transport=sim.transport(),
                    base_url=sim.base_url,
                    requests_per_minute=rpm or None,
                    burst=_burst(rpm),
                    max_concurrency=settings.concurrency,
                    probe_caps=False,
                    shared_state=args.shared_state,
                    **budget,
                )
            ]
        )
        limit = f"limit {sim_rpm:,} calls/min" if sim_rpm else "no limit"
        label = (
            f"simulated fleet of {options.sim_sites:,} sites "
            f"({limit}, latency {settings.latency} ms)"
        )
        now = sim.now
    else:
        keys = api_keys_of(args)
        rpm = rpm_flag if rpm_flag is not None else float(API.requests_per_minute)
        # With shared state the ledger is Redis's: no default state directory then.
        shared = args.shared_state or os.environ.get(_ENV_SHARED_STATE) or None
        budget = _budget_settings(
            args, default_credits=None, default_state=None if shared else default_state_dir()
        )
        if len(keys) > 1 and "state_dir" in budget:
            budget = _one_state_file(budget)
        # One client per key (each its own account: limiter, ledger); one key is a
        # pool of one, planned and run exactly as a plain client.
        pool = ClientPool.from_api_keys(
            keys,
            base_url=options.base_url or base_url_of(args),
            requests_per_minute=rpm or None,
            burst=_burst(rpm),
            max_concurrency=args.concurrency or API.concurrency,
            shared_state=args.shared_state,
            **budget,
        )
        label = pool.clients[0].base_url + (f" ({len(keys)} API keys)" if len(keys) > 1 else "")

        def now() -> datetime:
            return datetime.now(UTC)

    async with pool:
        yield Connection(client=pool.clients[0], pool=pool, now=now, label=label)


def _one_state_file(budget: dict[str, Any]) -> dict[str, Any]:
    """Budget settings that give every key's client one ledger and one caps store.

    Each keeps its own account inside them; shared objects serialise their updates in
    the process, so the clients never wait on each other for the state file's lock.
    """
    from solaredge_async._budget import state_file  # noqa: PLC0415
    from solaredge_async.limits import FileCapStore, FileCreditLedger  # noqa: PLC0415

    path = state_file(budget["state_dir"])
    ledger_options = {
        name: budget[name]
        for name in ("monthly_credits", "billing_day")
        if budget.get(name) is not None
    }
    return {
        "ledger": FileCreditLedger(path, **ledger_options),
        "cap_store": FileCapStore(path),
    }


def api_keys_of(args: argparse.Namespace) -> list[str]:
    """The API keys: every ``--api-key``, else ``$SOLAREDGE_API_KEY`` split at commas.

    Repeats are dropped (the first one is kept), and so are empty items of the
    variable (a trailing comma); an empty ``--api-key`` is refused by the client.

    Raises:
        UsageError: No key at all.
    """
    keys: list[str] = list(dict.fromkeys(args.api_key or []))
    if not keys:
        given = [k.strip() for k in os.environ.get(_ENV_API_KEY, "").split(",")]
        keys = list(dict.fromkeys(k for k in given if k))
    if not keys:
        raise UsageError(
            f"no API key: pass --api-key KEY (repeat it for several accounts) or set the "
            f"{_ENV_API_KEY} environment variable (several keys comma-separated), or try "
            "--simulate: no key needed"
        )
    return keys


async def check_site_ids(conn: Connection, site_ids: tuple[int, ...]) -> None:
    """Check ``--sites`` against the site listing, so unknown ids cost no lookups.

    One key: the listing (one credit per 1,000 sites) also teaches the client every
    site's zone; it stops once every id was seen, and is skipped for a single id (one
    lookup is cheaper); a bearer token, which cannot list, leaves the ids to the
    planner. Several keys: the pool's listing (every key's sites, once).

    Raises:
        UsageError: Some ids are not in the fleet the keys see.
    """
    if len(conn.pool) > 1:
        _shares, unseen = await conn.pool.shares(site_ids)
        if unseen:
            _refuse_unknown(sorted(unseen), "the API keys see")
        return
    client = conn.client
    wanted = {s for s in site_ids if client.known_site_timezone(s) is None}
    if len(wanted) <= 1:
        return
    try:
        pages = client.site_pages()
        async with contextlib.aclosing(pages) as listing:
            async for page in listing:
                wanted.difference_update(site.site_id for site in page.sites)
                if not wanted:
                    return
    except errors.InvalidRequestError:  # a bearer token cannot list the fleet
        return
    _refuse_unknown(sorted(wanted), "the API key sees")


def _refuse_unknown(unknown: list[int], who: str) -> None:
    shown = ", ".join(map(str, unknown[:SHOW_FAILURES]))
    more = f" and {len(unknown) - SHOW_FAILURES:,} more" if len(unknown) > SHOW_FAILURES else ""
    raise UsageError(
        f"{len(unknown):,} of the --sites ids are not in the fleet {who}: {shown}{more}"
    )


def report_listing_errors(pool: ClientPool) -> bool:
    """Print each key whose site listing failed (by fingerprint) on stderr; True if any.

    Raises:
        SolarEdgeError: Every key's listing failed (the first key's error).
    """
    failures = pool.listing_errors
    if failures and len(failures) == len(pool):
        raise next(iter(failures.values()))
    for credential, exc in failures.items():
        print(
            f"warning: listing the sites of {credential} failed ({type(exc).__name__}: {exc}); "
            "its sites are left out",
            file=sys.stderr,
        )
    return bool(failures)


# -- sites --------------------------------------------------------------------------

_SITE_COLUMNS: Final = (
    "site_id",
    "name",
    "peak_power_kw",
    "timezone",
    "country",
    "status",
    "installed",
    "credentials",
)


def _site_row(site: Site, credentials: tuple[str, ...]) -> tuple[object, ...]:
    loc = site.location
    installed = site.installation_date
    return (
        site.site_id,
        site.name,
        site.peak_power,
        loc.timezone if loc is not None else None,
        loc.country if loc is not None else None,
        None if site.activation_status is None else str(site.activation_status),
        None if installed is None else installed.date().isoformat(),
        credentials,
    )


async def sites_command(args: argparse.Namespace, stop: Stop) -> int:
    """``sites``: list the fleet as a table, JSONL or CSV on stdout.

    With several keys, the union of their sites, each once; the last column names
    the key(s) that see each site, by fingerprint (``key#1a2b3c4d``), never the key.
    """
    del stop
    options = options_from_args(args)
    check_sim_flags(args, options)
    out = sys.stdout
    rows: list[tuple[object, ...]] = []
    writer = csv.writer(out, lineterminator="\n") if args.format == "csv" else None
    if writer is not None:
        writer.writerow(_SITE_COLUMNS)

    def emit(row: tuple[object, ...]) -> None:
        if args.format == "jsonl":
            print(json.dumps(dict(zip(_SITE_COLUMNS, row, strict=True))), file=out)
            return
        flat = (*row[:-1], " ".join(cast("tuple[str, ...]", row[-1])))
        if writer is not None:
            writer.writerow(flat)
        else:
            rows.append(flat)

    failed = False
    async with connect(args, options) as conn:
        if len(conn.pool) == 1:  # streamed, as listed
            credentials = (conn.client.credential_id,)
            async for site in conn.client.sites():
                emit(_site_row(site, credentials))
        else:
            for pooled in await conn.pool.sites():
                site = pooled.site if pooled.site is not None else Site(site_id=pooled.site_id)
                emit(_site_row(site, pooled.credentials))
            failed = report_listing_errors(conn.pool)
    if args.format == "table":
        _print_table(rows, out)
    return EXIT_INCOMPLETE if failed else EXIT_OK


def _print_table(rows: list[tuple[object, ...]], out: TextIO) -> None:
    text = [tuple("" if v is None else str(v) for v in row) for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in text)]) for i, h in enumerate(_SITE_COLUMNS)]
    print("  ".join(h.ljust(w) for h, w in zip(_SITE_COLUMNS, widths, strict=True)), file=out)
    for r in text:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip(), file=out)
    print(f"{len(rows):,} sites", file=out)
