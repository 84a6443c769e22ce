"""The simulator's settings: the fleet, the limits, the faults and the API's open points.

Every default reproduces the live behaviour recorded in the API reference; every point the
reference marks as uncertain is a setting here, so a client can be tested against each
reading of it.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final, Literal

import attrs

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from solaredge_async.testing._clock import SimClock

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_OAUTH_CLIENT_ID",
    "DEFAULT_OAUTH_CLIENT_SECRET",
    "DEFAULT_SPAN_CAPS",
    "FAULT_KINDS",
    "RESOLUTIONS",
    "Faults",
    "FleetSpec",
    "SimulatorConfig",
]

#: Every resolution the API knows, finest first.
RESOLUTIONS: Final = ("QUARTER_HOUR", "HOUR", "DAY", "WEEK", "MONTH", "YEAR", "TOTAL")

#: The documented maximum ``to - from`` per resolution; ``None`` means no cap.
#: "1 month" for ``DAY`` is read as 31 days.
DEFAULT_SPAN_CAPS: Final[Mapping[str, timedelta | None]] = {
    "QUARTER_HOUR": timedelta(hours=12),
    "HOUR": timedelta(hours=24),
    "DAY": timedelta(days=31),
    "WEEK": None,
    "MONTH": None,
    "YEAR": None,
    "TOTAL": None,
}

#: The API key of the single account of a default fleet.
DEFAULT_API_KEY: Final = "SIMULATOR0KEY0000000000000000000"
#: The OAuth client registered by default (``client_id``).
DEFAULT_OAUTH_CLIENT_ID: Final = "simulator-client"
#: The secret of the default OAuth client.
DEFAULT_OAUTH_CLIENT_SECRET: Final = "simulator-secret"  # noqa: S105 - a fake, public secret

#: The fault kinds that replace a response, in the order their rates are stacked.
FAULT_KINDS: Final = (
    "rate_limit_burst",
    "server_error",
    "html_error",
    "connection_reset",
    "timeout",
    "malformed_json",
    "truncated_json",
    "schema_drift",
)


def _rate(_inst: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0 or math.isnan(value):
        raise ValueError(f"{attribute.name} must be a probability in [0, 1], got {value!r}")


def _latency(
    _inst: object, _attribute: attrs.Attribute[tuple[float, float] | None], value: object
) -> None:
    if value is None:
        return
    if not isinstance(value, tuple) or len(value) != 2:  # noqa: PLR2004
        raise ValueError("latency must be None or a (mean, jitter) pair of seconds")
    mean, jitter = value
    if mean < 0 or jitter < 0:
        raise ValueError("latency mean and jitter must be >= 0 seconds")


@attrs.frozen(kw_only=True)
class Faults:
    """Seeded misbehaviour, each kind at its own rate (a probability per request).

    Faults are drawn only for data requests that passed authentication and the limits
    (OAuth calls and 401/429 answers are never faulted), so a rate is the share of such
    requests that show the fault. The kinds other than latency exclude each other; their
    rates must add up to at most 1.

    What each kind does, and whether the call is charged a credit:

    ================== ============================================================= =======
    kind               effect                                                        credit
    ================== ============================================================= =======
    latency            every response is delayed by ``mean ± jitter`` seconds         yes
                       (uniform), on the event loop's clock
    rate_limit_burst   a per-minute 429 (``remaining 0`` and ``Retry-After``), as     no
                       if another app of the account had used the minute
    server_error       a 500/502/503/504 with a problem+json body                     yes
    html_error         a 502/503/504/52x HTML page from the CDN edge, without the     no
                       gateway's headers; it takes no slot of the minute either
    connection_reset   the connection drops after the request was processed;          yes
                       in-process `httpx.ReadError` or `httpx.RemoteProtocolError`
    timeout            the response never comes; in-process, sleeps the request's     yes
                       read timeout (or ``stall`` seconds) then raises
                       `httpx.ReadTimeout`; the server stalls, then closes
    malformed_json     200 with a body that is not JSON                               yes
    truncated_json     200 with the JSON body cut short (Content-Length matches)      yes
    schema_drift       200 with unknown extra fields and unknown enum values          yes
    ================== ============================================================= =======

    The body faults (malformed, truncated, drift) only touch successful JSON responses;
    on an error response they are drawn but leave it alone, and are not counted.

    Attributes:
        latency: ``(mean, jitter)`` in seconds, or ``None`` for instant answers.
        rate_limit_burst: Rate of spurious per-minute 429s.
        server_error: Rate of JSON 5xx answers.
        html_error: Rate of HTML 5xx pages.
        connection_reset: Rate of dropped connections.
        timeout: Rate of responses that never arrive.
        malformed_json: Rate of 200s whose body is not JSON.
        truncated_json: Rate of 200s whose JSON is cut short.
        schema_drift: Rate of 200s with unknown fields and enum values.
        stall: Seconds a ``timeout`` fault stalls when the request has no read timeout
            (in-process) or before the server closes the connection.
        seed: Seed of the fault draws; ``None`` uses the simulator's seed.
    """

    latency: tuple[float, float] | None = attrs.field(default=None, validator=_latency)
    rate_limit_burst: float = attrs.field(default=0.0, validator=_rate)
    server_error: float = attrs.field(default=0.0, validator=_rate)
    html_error: float = attrs.field(default=0.0, validator=_rate)
    connection_reset: float = attrs.field(default=0.0, validator=_rate)
    timeout: float = attrs.field(default=0.0, validator=_rate)
    malformed_json: float = attrs.field(default=0.0, validator=_rate)
    truncated_json: float = attrs.field(default=0.0, validator=_rate)
    schema_drift: float = attrs.field(default=0.0, validator=_rate)
    stall: float = attrs.field(default=30.0)
    seed: int | None = None

    def __attrs_post_init__(self) -> None:
        total = sum(self.rates().values())
        if total > 1.0 + 1e-9:
            raise ValueError(f"the fault rates add up to {total:g}, more than 1")
        if self.stall < 0:
            raise ValueError("stall must be >= 0 seconds")

    def rates(self) -> dict[str, float]:
        """Return the rate of each exclusive fault kind (latency excluded)."""
        return {kind: float(getattr(self, kind)) for kind in FAULT_KINDS}

    @property
    def any(self) -> bool:
        """Whether any fault (latency included) is switched on."""
        return self.latency is not None or any(self.rates().values())


def _positive(_inst: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 1:
        raise ValueError(f"{attribute.name} must be >= 1, got {value!r}")


def _keys(_inst: object, _attribute: attrs.Attribute[tuple[str, ...]], value: object) -> None:
    if not isinstance(value, tuple) or not value:
        raise ValueError("api_keys must be a non-empty tuple of strings")
    if len(set(value)) != len(value) or not all(isinstance(k, str) and k for k in value):
        raise ValueError("api_keys must be distinct non-empty strings")


@attrs.frozen(kw_only=True)
class FleetSpec:
    """The shape of the simulated fleet; every site is derived lazily from ``(seed, index)``.

    Site ``index`` (0-based) belongs to the account ``api_keys[index % len(api_keys)]``.

    Attributes:
        sites: Number of sites, 1 to 1,000,000.
        api_keys: One API key per account; at least one.
        first_site_id: Offset of the (scrambled, positive) site ids.
        meter_fraction: Share of sites with a consumption meter.
        battery_fraction: Share of metered sites that also have batteries.
        alert_fraction: Share of sites that have alerts.
        zones: IANA zones to place sites in; ``None`` for the built-in worldwide mix
            (both hemispheres, with and without DST, half-hour offsets).
    """

    sites: int = attrs.field(default=10, validator=_positive)
    api_keys: tuple[str, ...] = attrs.field(default=(DEFAULT_API_KEY,), validator=_keys)
    first_site_id: int = attrs.field(default=1_000_000, validator=_positive)
    meter_fraction: float = attrs.field(default=0.4, validator=_rate)
    battery_fraction: float = attrs.field(default=0.5, validator=_rate)
    alert_fraction: float = attrs.field(default=0.3, validator=_rate)
    zones: tuple[str, ...] | None = None

    def __attrs_post_init__(self) -> None:
        if self.sites > 1_000_000:  # noqa: PLR2004
            raise ValueError("at most 1,000,000 sites")


def _caps(
    _inst: object,
    _attribute: attrs.Attribute[Mapping[str, timedelta | None]],
    value: Mapping[str, timedelta | None],
) -> None:
    unknown = set(value) - set(RESOLUTIONS)
    if unknown:
        raise ValueError(f"unknown resolutions in span_caps: {sorted(unknown)}")


def _now(_inst: object, _attribute: attrs.Attribute[datetime | None], value: object) -> None:
    if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
        raise ValueError("now must be an aware datetime or None")


def _strip_slash(value: str) -> str:
    return str(value).rstrip("/")


def _zero_is_none(value: int | None) -> int | None:
    return None if value is None or value == 0 else value


@attrs.frozen(kw_only=True)
class SimulatorConfig:
    """Everything the simulator can be told; the defaults are the live API.

    Attributes:
        seed: Seed of the fleet, the weather and the faults.
        fleet: The fleet's shape and accounts.
        now: The instant the simulator calls "now" (aware), frozen there, or ``None``
            for the wall clock. Change it later with `Simulator.set_now`.
        sim_clock: The `SimClock` every part of the simulator reads "now" from (rate
            windows, "today", published data, tokens, billing month), e.g.
            ``SimClock(start=..., speed=240.0)`` to run four minutes a second; ``None``
            makes one from `now`. The simulator moves it on `Simulator.set_now` and
            `Simulator.advance`. Give either this or `now`, not both.
        clock: The monotonic tick (seconds) callers stamp requests with, or ``None``:
            ``anyio.current_time()`` in-process, ``time.monotonic()`` in the server.
            `SimClock.gateway_time` maps ticks onto the simulator's wall-clock minutes.
        prefix: The path the API is mounted under (``"/v2"``; ``""`` for the root).
        monitoring_alias: Also serve everything under ``{prefix}/monitoring``.
        requests_per_minute: Per-account limit per wall-clock minute of the simulator's
            clock, as the live gateway counts (0/None: none; the headers then report
            an unreachable limit).
        monthly_credits: Per-account credits per billing month (0/None: unlimited).
        enforce_monthly: Refuse calls with a monthly 429 once the credits are used up
            (one live report saw the cap unenforced; then calls are only counted).
        billing_day: Day of the month the credits reset on (follows `now`), or ``None``
            for manual resets only (`Simulator.reset_month`).
        max_in_flight: Per-account concurrency cap answered with a 429 + ``Retry-After:
            1``, or ``None`` for none (no V2 limit is documented).
        charge_rate_limited: Whether a 429 costs a credit (default: no; the gateway
            refuses it before the API counts it).
        charge_oauth: Whether token and revoke calls cost a credit (default: no).
        rate_limit_body: ``"kong"`` (``{"message": "API rate limit exceeded"}``) or
            ``"problem"`` (problem+json) for 429 bodies.
        faults: Seeded misbehaviour.
        time_input: How a ``from``/``to`` with ``Z`` or an offset is read: ``"ignore"``
            reads its wall clock as site-local (what the 2023 tutorial shows),
            ``"convert"`` converts the instant to the site's zone.
        span_caps: Maximum ``to - from`` per resolution (``None``: no cap).
        subdaily_cap_hours: The QUARTER_HOUR and HOUR caps: ``12`` keeps `span_caps` (12 h
            and 24 h as documented); ``24`` raises both to at least a whole day (the
            fleet clients that fetch whole days of quarter-hours).
        include_bucket_at_to: List the bucket that starts exactly at an explicit ``to``
            (what one fleet client reports of the live API); off by default.
        gzip_responses: Gzip-compress 200s (with ``content-encoding: gzip`` and ``vary:
            accept-encoding``) when the client's ``Accept-Encoding`` allows gzip, as
            live; errors are never compressed.
        cap_default_window: Apply the caps to the default (midnight to now) window too.
        cap_overview: Apply the quarter-hour span cap to ``/overview`` windows too (the
            reference names no cap for totals; off by default).
        span_clock: Measure ``to - from`` in ``"elapsed"`` time (a fall-back day is 25 h)
            or in ``"wall"``-clock time (every local day is 24 h).
        allow_single_bound: Accept only one of ``from``/``to`` (the other defaults)
            instead of answering 400.
        power_resolutions: Resolutions ``/power`` and power-like device metrics accept.
        energy_resolutions: Resolutions ``/energy`` and energy-like metrics accept.
        publish_delay: How long after a quarter-hour closes its data appear (seconds).
        unknown_site_status: 403 or 404 for a site id that does not exist.
        bearer_key_only_status: Status for a bearer token on ``/sites`` or ``/alerts``.
        sites_count: What ``sites.count`` holds: ``"total"`` sites of the account or
            ``"page"`` length.
        sites_shape: ``"nested"`` (``{"sites": {"count", "site"}}``) or ``"bare"`` list.
        site_details_wrapped: Wrap site details as ``{"site": {...}}``.
        sites_page_size: Default ``sites-in-page``. sites_page_max: its maximum.
        alerts_page_size: Default ``alerts-in-page``. alerts_page_max: its maximum.
        only_open_default: What an omitted ``only-open`` means.
        types_comma_separated: Accept ``types=INVERTER,METER`` besides repeated params.
        honour_unit: Convert to the requested ``unit`` (else always answer WH / W).
        overview_units: Units of overview ``production`` and ``consumption``.
        overview_performance: Add the 2023 doc's ``performance`` block to overviews.
        soe_scale: ``stateOfEnergy`` as a ``"fraction"`` (0-1, live) or ``"percent"``.
        negative_storage_energy: Share of storage charge/discharge energy samples that
            come out negative (as seen in real data).
        advanced_tier: Every account is on an Advanced Monitoring tier (power-flow).
        advanced_accounts: API keys (and OAuth client ids) on an Advanced tier.
        v1_gone: Answer 410 on V1 paths (``/site/{id}/...``).
        trace_id_in_properties: Put the 401's trace id in ``properties`` with
            ``instance: null`` (live) instead of at the top level.
        oauth_clients: Registered OAuth apps, ``client_id`` to ``client_secret``.
        access_token_ttl: Access token lifetime, seconds (7200).
        refresh_token_ttl: Refresh token lifetime, seconds (30 days).
        record_requests: How many received requests `Simulator.requests` keeps (the
            newest); 0 keeps none.
    """

    seed: int = 0
    fleet: FleetSpec = attrs.field(factory=FleetSpec)
    now: datetime | None = attrs.field(default=None, validator=_now)
    sim_clock: SimClock | None = None
    clock: Callable[[], float] | None = None
    prefix: str = attrs.field(default="/v2", converter=_strip_slash)
    monitoring_alias: bool = False
    requests_per_minute: int | None = attrs.field(default=10, converter=_zero_is_none)
    monthly_credits: int | None = attrs.field(default=2000, converter=_zero_is_none)
    enforce_monthly: bool = True
    billing_day: int | None = None
    max_in_flight: int | None = attrs.field(default=None, converter=_zero_is_none)
    charge_rate_limited: bool = False
    charge_oauth: bool = False
    rate_limit_body: Literal["kong", "problem"] = "kong"
    faults: Faults = attrs.field(factory=Faults)
    time_input: Literal["ignore", "convert"] = "ignore"
    span_caps: Mapping[str, timedelta | None] = attrs.field(
        factory=lambda: dict(DEFAULT_SPAN_CAPS), validator=_caps
    )
    subdaily_cap_hours: Literal[12, 24] = 12
    include_bucket_at_to: bool = False
    gzip_responses: bool = True
    cap_default_window: bool = False
    cap_overview: bool = False
    span_clock: Literal["elapsed", "wall"] = "elapsed"
    allow_single_bound: bool = False
    power_resolutions: frozenset[str] = frozenset({"QUARTER_HOUR", "HOUR"})
    energy_resolutions: frozenset[str] = frozenset(RESOLUTIONS)
    publish_delay: float = 120.0
    unknown_site_status: Literal[403, 404] = 403
    bearer_key_only_status: Literal[401, 403] = 403
    sites_count: Literal["total", "page"] = "total"
    sites_shape: Literal["nested", "bare"] = "nested"
    site_details_wrapped: bool = False
    sites_page_size: int = 50
    sites_page_max: int = 1000
    alerts_page_size: int = 100
    alerts_page_max: int = 100
    only_open_default: bool = False
    types_comma_separated: bool = False
    honour_unit: bool = True
    overview_units: tuple[str, str] = ("WH", "WH")
    overview_performance: bool = False
    soe_scale: Literal["fraction", "percent"] = "fraction"
    negative_storage_energy: float = attrs.field(default=0.0, validator=_rate)
    advanced_tier: bool = False
    advanced_accounts: frozenset[str] = frozenset()
    v1_gone: bool = True
    trace_id_in_properties: bool = True
    oauth_clients: Mapping[str, str] = attrs.field(
        factory=lambda: {DEFAULT_OAUTH_CLIENT_ID: DEFAULT_OAUTH_CLIENT_SECRET}
    )
    access_token_ttl: float = 7200.0
    refresh_token_ttl: float = 30 * 86400.0
    record_requests: int = 10_000

    def __attrs_post_init__(self) -> None:
        if self.prefix and not self.prefix.startswith("/"):
            raise ValueError("prefix must be empty or start with '/'")
        if self.billing_day is not None and not 1 <= self.billing_day <= 28:  # noqa: PLR2004
            raise ValueError("billing_day must be in 1..28")
        for unit in self.overview_units:
            if unit not in {"WH", "KWH", "MWH", "GWH"}:
                raise ValueError(f"unknown overview unit {unit!r}")
        for name in ("requests_per_minute", "monthly_credits", "max_in_flight"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0 or None")
        if self.record_requests < 0:
            raise ValueError("record_requests must be >= 0")
        if self.subdaily_cap_hours not in {12, 24}:
            raise ValueError("subdaily_cap_hours must be 12 or 24")
        if self.sim_clock is not None and self.now is not None:
            raise ValueError("give either now or sim_clock, not both")

    def is_advanced(self, account: str) -> bool:
        """Whether ``account`` (an API key or OAuth client id) is on an Advanced tier."""
        return self.advanced_tier or account in self.advanced_accounts
