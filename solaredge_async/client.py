"""`SolarEdgeClient`: the async client for the SolarEdge Monitoring API V2.

One client holds one credential, one connection pool, one rate limiter and one
concurrency bound; every endpoint method goes through them. Use it as an async
context manager::

    async with SolarEdgeClient(api_key="...") as client:
        async for site in client.sites():
            energy = await client.site_energy(site.site_id, start=day, end=day)
"""

from __future__ import annotations

import ipaddress
import logging
import math
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Final, Literal, Self, TypeVar
from urllib.parse import quote, urlsplit

import anyio
import attrs
import httpx

from solaredge_async import _windows, errors
from solaredge_async._credentials import (
    ApiKeyCredential,
    BearerCredential,
    Credential,
    TokenProvider,
)
from solaredge_async._engine import Engine, QueryParams
from solaredge_async._retry import RetryPolicy
from solaredge_async._usage import Ledger, RequestEvent, Usage
from solaredge_async.converters import ResponseParser, decode_json
from solaredge_async.limits._bucket import DEFAULT_SAFETY_MARGIN, RateLimiter
from solaredge_async.models import (
    Alert,
    Device,
    DeviceType,
    EnvironmentalBenefits,
    JSONValue,
    Measurements,
    MeasurementSystem,
    OverviewPerformance,
    Period,
    PowerFlow,
    Resolution,
    Site,
    SiteOverview,
    SitesPage,
    Telemetry,
    TelemetrySeries,
    Unit,
)

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Awaitable, Callable, Collection, Mapping
    from types import TracebackType
    from zoneinfo import ZoneInfo

    from solaredge_async.fleet import Sweep, SweepPlan, SweepProgress, SweepSpec

__all__ = ["DEFAULT_BASE_URL", "SolarEdgeClient"]

logger = logging.getLogger(__name__)

#: The V2 base URL; every path is appended to it verbatim.
DEFAULT_BASE_URL: Final = "https://monitoringapi.solaredge.com/v2"

#: What a start or end of a window may be.
TimeInput = datetime | date

_ENERGY_UNITS: Final = frozenset({Unit.WH, Unit.KWH, Unit.MWH, Unit.GWH})
_POWER_UNITS: Final = frozenset({Unit.W, Unit.KW, Unit.MW})
_ALL_RESOLUTIONS: Final = frozenset(Resolution)
_SUB_DAILY: Final = frozenset({Resolution.QUARTER_HOUR, Resolution.HOUR})

#: The resolutions each kind of call accepts (the reference: /energy takes all
#: seven; /power probably only sub-daily ones). Override with ``resolutions=``.
DEFAULT_RESOLUTIONS: Final[Mapping[str, frozenset[Resolution]]] = {
    "energy": _ALL_RESOLUTIONS,
    "power": _SUB_DAILY,
    "telemetry": _ALL_RESOLUTIONS - {Resolution.TOTAL},
    "device_energy": _ALL_RESOLUTIONS - {Resolution.TOTAL},
    "device_instant": _ALL_RESOLUTIONS - {Resolution.TOTAL},
}

MAX_SITES_PAGE: Final = 1000
MAX_ALERTS_PAGE: Final = 100

DeviceFamily = Literal["inverters", "meters", "storage"]


@attrs.frozen
class _Metric:
    family: DeviceFamily
    path: str
    kind: Literal["energy", "power", "instant", "percent"]


#: Every single-metric device path of the reference (§9.3), by metric name.
DEVICE_METRICS: Final[Mapping[str, _Metric]] = {
    "inverter_voltage": _Metric("inverters", "voltage", "instant"),
    "inverter_current": _Metric("inverters", "current", "instant"),
    "inverter_frequency": _Metric("inverters", "frequency", "instant"),
    "inverter_power": _Metric("inverters", "power", "power"),
    "inverter_energy": _Metric("inverters", "energy", "energy"),
    **{
        f"meter_{d}_{q}": _Metric("meters", f"{d}-{q}", q)
        for d in ("import", "export", "production", "consumption")
        for q in ("power", "energy")
    },
    "storage_state_of_energy": _Metric("storage", "state-of-energy", "percent"),
    "storage_charge_power": _Metric("storage", "charge-power", "power"),
    "storage_discharge_power": _Metric("storage", "discharge-power", "power"),
    "storage_charge_energy": _Metric("storage", "charge-energy", "energy"),
    "storage_discharge_energy": _Metric("storage", "discharge-energy", "energy"),
    "storage_remaining_energy": _Metric("storage", "remaining-energy", "energy"),
}

_LOOPBACK_NAMES: Final = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})

T = TypeVar("T")


def _is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host in _LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(base_url: str, *, allow_insecure_http: bool = False) -> str:
    """Validate a base URL and return it without a trailing slash.

    Raises:
        ConfigurationError: Not an absolute http(s) URL, carries credentials, a query
            or fragment, or is plain ``http://`` to a host that is not loopback
            without ``allow_insecure_http=True``.
    """
    if not isinstance(base_url, str) or not base_url:
        raise errors.ConfigurationError("base_url must be a non-empty string")
    if any(c.isspace() or ord(c) < 0x20 for c in base_url):  # noqa: PLR2004
        raise errors.ConfigurationError("base_url contains whitespace or control characters")
    parts = urlsplit(base_url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise errors.ConfigurationError(
            "base_url must be an absolute http(s) URL such as "
            f"{DEFAULT_BASE_URL!r}, got a URL with scheme {parts.scheme!r}"
        )
    if parts.username or parts.password:
        raise errors.ConfigurationError(
            "base_url must not carry credentials; pass api_key= or token_provider="
        )
    if parts.query or parts.fragment:
        raise errors.ConfigurationError("base_url must not have a query string or fragment")
    if parts.scheme == "http" and not allow_insecure_http and not _is_loopback(parts.hostname):
        raise errors.ConfigurationError(
            f"refusing to send credentials in clear text to http://{parts.hostname}: use "
            "https://, a loopback host, or pass allow_insecure_http=True if you mean it"
        )
    return base_url.rstrip("/")


def _check_site_id(site_id: object) -> int:
    if isinstance(site_id, bool) or not isinstance(site_id, int) or site_id <= 0:
        raise errors.InvalidRequestError(
            f"site_id must be a positive integer, got {site_id!r}"
            + (f" ({type(site_id).__name__})" if not isinstance(site_id, int) else "")
        )
    return site_id


def _check_serial(serial: object) -> str:
    if not isinstance(serial, str) or not serial or serial.strip() != serial:
        raise errors.InvalidRequestError(
            f"serial must be a non-empty string without surrounding spaces, got {serial!r}"
        )
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in serial):  # noqa: PLR2004
        raise errors.InvalidRequestError(
            "serial contains control characters; serials are printable strings such as "
            "'7F16E777-F1'"
        )
    if len(serial) > 128:  # noqa: PLR2004
        raise errors.InvalidRequestError(f"serial is {len(serial)} characters; at most 128")
    return serial


def _check_page_size(value: object, maximum: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise errors.InvalidRequestError(
            f"{name} must be an integer from 1 to {maximum}, got {value!r}"
        )
    return value


def _enum_value(value: object, allowed: Collection[str], what: str) -> str:
    if not isinstance(value, str) or value not in allowed:
        listed = ", ".join(sorted(str(a) for a in allowed))
        raise errors.InvalidRequestError(f"{what} must be one of {listed}; got {value!r}")
    return str(value)


def _check_time_inputs(start: object, end: object) -> None:
    """Refuse a window that cannot be valid, before any call (a zone lookup costs one)."""
    if (start is None) != (end is None):
        raise errors.InvalidRequestError(
            "pass both start and end, or neither (for the server's default window: "
            "site-local midnight to now)"
        )
    naive: list[bool] = []
    for name, value in (("start", start), ("end", end)):
        if not isinstance(value, date):
            raise errors.InvalidRequestError(
                f"{name} must be a datetime or a date, got {type(value).__name__}"
            )
        naive.append(not isinstance(value, datetime) or value.utcoffset() is None)
    if naive[0] != naive[1]:
        raise errors.InvalidRequestError(
            "start and end mix a naive (site-local) and an aware datetime; use one kind for both"
        )
    lo = start if isinstance(start, datetime) else datetime.combine(start, time())  # type: ignore[arg-type]
    hi = end if isinstance(end, datetime) else datetime.combine(end, time.max)  # type: ignore[arg-type]
    if not isinstance(start, datetime) and isinstance(end, datetime):
        lo = lo.replace(tzinfo=end.tzinfo)
    if isinstance(start, datetime) and not isinstance(end, datetime):
        hi = hi.replace(tzinfo=start.tzinfo)
    if hi <= lo:
        raise errors.InvalidRequestError(
            f"end ({hi.isoformat()}) must be after start ({lo.isoformat()})"
        )


def _site_zone(name: object) -> ZoneInfo:
    if not isinstance(name, str):
        # site_zone(None) means UTC (a site without a zone); a caller's None is a mistake.
        raise errors.InvalidRequestError(
            f"a site time zone must be an IANA name such as 'Europe/Berlin', got {name!r}"
        )
    return _windows.site_zone(name)


#: How far a span in wall-clock time (naive datetimes, dates) can be from its elapsed
#: length: one DST change (1 h almost everywhere, 2 h at most), with room to spare.
_WALL_SLACK: Final = timedelta(hours=3)


def _check_span_without_zone(
    start: TimeInput, end: TimeInput, resolution: str, caps: _windows.WindowCaps
) -> None:
    """Refuse a window over its cap before the site's zone is looked up (a paid call).

    Only a window over the cap in every zone is refused here; the exact check, with
    the DST margin, runs once the zone is known.

    Raises:
        SpanTooLongError: The window is longer than the cap whatever the zone.
    """
    cap = caps.cap_for(resolution)
    if cap is None:
        return
    lo = start if isinstance(start, datetime) else datetime.combine(start, time())
    hi = end if isinstance(end, datetime) else datetime.combine(end + timedelta(days=1), time())
    aware = lo.utcoffset() is not None
    if aware != (hi.utcoffset() is not None):
        return  # a date with an aware datetime: where the date starts depends on the zone
    # Aware: elapsed time (in UTC: equal tzinfos would subtract wall clocks); else wall.
    span = hi.astimezone(UTC) - lo.astimezone(UTC) if aware else hi - lo
    if span > cap + (timedelta(0) if aware else _WALL_SLACK):
        hours = span.total_seconds() / 3600
        raise errors.SpanTooLongError(
            f"The window {lo.isoformat()} to {hi.isoformat()} spans {hours:g} h at "
            f"{resolution}, over the cap of {cap.total_seconds() / 3600:g} h per request. "
            "Pass split_windows=True (the default) to send it as several requests, or raise "
            f"WindowCaps.{str(resolution).lower()} if the server allows more"
        )


def _resolve(
    start: TimeInput | None, end: TimeInput | None, zone: ZoneInfo
) -> tuple[datetime, datetime]:
    window = _windows.resolve_window(start, end, zone)
    if window is None:  # pragma: no cover - callers checked both are given
        raise errors.InvalidRequestError("pass both start and end, or neither")
    return window


def _bool_param(value: object, name: str) -> str:
    if not isinstance(value, bool):
        raise errors.InvalidRequestError(f"{name} must be True or False, got {value!r}")
    return "true" if value else "false"


class SolarEdgeClient:
    """An async client for the SolarEdge Monitoring API V2.

    Credentials come from ``api_key`` (sent as ``X-API-Key``, with the optional legacy
    ``account_key`` as ``X-Account-Key``), from ``token_provider`` (an async callable
    returning an OAuth access token, sent as ``Authorization: Bearer``), or from the
    ``SOLAREDGE_API_KEY`` / ``SOLAREDGE_ACCOUNT_KEY`` environment variables.

    Args:
        api_key: The API key. Mutually exclusive with ``token_provider``.
        account_key: The legacy account key, sent only when given.
        token_provider: An async callable returning a current OAuth access token.
        base_url: The V2 base URL; every path is appended verbatim.
        allow_insecure_http: Allow ``http://`` to a host that is not loopback.
        transport: An httpx transport for the client's own connection pool (the
            simulator's ``Simulator.transport()``, a mock, `AiohttpTransport` under
            asyncio, ...). By default a `FastTransport` (with the ``fast`` extra's
            httptools), else a `PoolsTransport`, sized to ``max_concurrency``.
        http_client: A caller-owned ``httpx.AsyncClient``; the client does not close
            it. Its ``base_url`` and auth are not used.
        requests_per_minute: The limiter's starting rate (calls per minute; the free
            tier's 10 by default). ``None`` turns client-side rate limiting off.
        burst: The most calls the limiter lets through at once (1: no burst).
        rate_limiter: A `RateLimiter` to share between clients using one account
            (overrides ``requests_per_minute`` and ``burst``).
        max_concurrency: Requests in flight at most; the connection pool is sized to it.
        timeout: Per-attempt httpx timeout in seconds, or an ``httpx.Timeout``.
        retry: The retry policy.
        strict: Parse responses strictly (unknown fields and enum values are errors);
            for tests. The default keeps unknown values.
        window_caps: The longest window per resolution.
        split_windows: Split a window over its cap into several calls and stitch the
            results (default); when False, such a request raises `SpanTooLongError`.
        resolutions: Which resolutions each kind of call accepts, to override
            `DEFAULT_RESOLUTIONS` (keys ``energy``, ``power``, ``telemetry``,
            ``device_energy``, ``device_instant``).
        site_timezones: IANA time zone names by site id, known in advance (saves the
            one call per site that looks the zone up).
        on_request: Called after every attempt with a `RequestEvent`.

    Raises:
        ConfigurationError: Missing or malformed credentials, both ``api_key`` and
            ``token_provider``, both ``transport`` and ``http_client``, an unsafe
            ``base_url``, or a limit out of range.
    """

    def __init__(  # noqa: C901, PLR0912
        self,
        api_key: str | None = None,
        *,
        account_key: str | None = None,
        token_provider: TokenProvider | None = None,
        base_url: str = DEFAULT_BASE_URL,
        allow_insecure_http: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
        http_client: httpx.AsyncClient | None = None,
        requests_per_minute: float | None = 10,
        burst: int = 1,
        rate_limiter: RateLimiter | None = None,
        max_concurrency: int = 3,
        timeout: float | httpx.Timeout = 30.0,
        retry: RetryPolicy | None = None,
        strict: bool = False,
        window_caps: _windows.WindowCaps | None = None,
        split_windows: bool = True,
        resolutions: Mapping[str, Collection[str]] | None = None,
        site_timezones: Mapping[int, str] | None = None,
        on_request: Callable[[RequestEvent], object] | None = None,
    ) -> None:
        credential: Credential
        if token_provider is not None:
            if api_key is not None or account_key is not None:
                raise errors.ConfigurationError(
                    "pass either api_key (with account_key) or token_provider, not both"
                )
            credential = BearerCredential(token_provider)
        else:
            credential = ApiKeyCredential(api_key, account_key)
        self._credential = credential
        self._base_url = check_base_url(base_url, allow_insecure_http=allow_insecure_http)
        if transport is not None and http_client is not None:
            raise errors.ConfigurationError("pass either transport or http_client, not both")
        if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int):
            raise errors.ConfigurationError(
                f"max_concurrency must be an integer >= 1, got {max_concurrency!r}"
            )
        if max_concurrency < 1:
            raise errors.ConfigurationError(
                f"max_concurrency must be at least 1, got {max_concurrency}"
            )
        if rate_limiter is not None:
            limiter: RateLimiter | None = rate_limiter
        elif requests_per_minute is None:
            limiter = None
        else:
            limiter = RateLimiter(
                requests_per_minute, burst=burst, safety_margin=DEFAULT_SAFETY_MARGIN
            )
        if not isinstance(timeout, httpx.Timeout) and (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not (timeout > 0 and math.isfinite(timeout))
        ):
            # None (no timeout at all) included: a stalled server would hold a slot.
            raise errors.ConfigurationError(
                f"timeout must be a positive number of seconds or an httpx.Timeout, got {timeout!r}"
            )
        self._owns_http = http_client is None
        if http_client is None:
            if transport is None:
                from solaredge_async.transports import default_transport  # noqa: PLC0415

                transport = default_transport(max_concurrency)
            http_client = httpx.AsyncClient(
                transport=transport,
                timeout=timeout,
                # max_keepalive == max_connections: httpcore compares the keep-alive
                # bound with the total count, so a smaller one churns connections.
                limits=httpx.Limits(
                    max_connections=max_concurrency,
                    max_keepalive_connections=max_concurrency,
                ),
                headers={"User-Agent": _user_agent(), "Accept": "application/json"},
                follow_redirects=False,
                trust_env=False,
            )
        self._http = http_client
        self._ledger = Ledger(credential=credential.id)
        self._engine = Engine(
            http=http_client,
            base_url=self._base_url,
            credential=credential,
            limiter=limiter,
            max_concurrency=max_concurrency,
            retry=retry if retry is not None else RetryPolicy(),
            ledger=self._ledger,
            secrets=self._secrets,
            on_request=on_request,
            # The client's own pool: attempts go straight to the transport.
            transport=transport if self._owns_http else None,
        )
        self._parser = ResponseParser(strict=strict)
        self._caps = window_caps if window_caps is not None else _windows.WindowCaps()
        self._split = split_windows
        self._resolutions: dict[str, frozenset[str]] = dict(DEFAULT_RESOLUTIONS)
        if resolutions is not None:
            for kind, allowed in resolutions.items():
                if kind not in DEFAULT_RESOLUTIONS:
                    raise errors.ConfigurationError(
                        f"resolutions has an unknown kind {kind!r}; "
                        f"known: {', '.join(sorted(DEFAULT_RESOLUTIONS))}"
                    )
                values = frozenset(str(r) for r in allowed)
                unknown = values - _ALL_RESOLUTIONS
                if unknown or isinstance(allowed, str) or not values:
                    raise errors.ConfigurationError(
                        f"resolutions[{kind!r}] must be a collection of resolutions among "
                        f"{', '.join(sorted(_ALL_RESOLUTIONS))}; got {sorted(unknown)}"
                    )
                self._resolutions[kind] = values
        self._zones: dict[int, ZoneInfo] = {}
        self._zone_locks: dict[int, anyio.Lock] = {}
        for site_id, name in (site_timezones or {}).items():
            self._zones[_check_site_id(site_id)] = _site_zone(name)
        self._closed = False
        self._max_concurrency = max_concurrency

    # -- lifecycle -----------------------------------------------------------------

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return (
            f"<SolarEdgeClient {state} base_url={self._base_url!r} "
            f"credential={self._credential.id!r}>"
        )

    async def __aenter__(self) -> Self:
        self._check_open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool (unless it is the caller's); idempotent.

        Any later call raises `ClientClosedError`.
        """
        if self._closed:
            return
        self._closed = True
        if self._owns_http:
            with anyio.CancelScope(shield=True):
                await self._http.aclose()

    @property
    def is_closed(self) -> bool:
        """True once `aclose` was called."""
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise errors.ClientClosedError(
                "this SolarEdgeClient is closed; create a new one (or use it inside "
                "`async with SolarEdgeClient(...) as client:`)"
            )

    # -- state -------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The base URL every path is appended to."""
        return self._base_url

    @property
    def credential_id(self) -> str:
        """A one-way fingerprint of the credential, safe to log."""
        return self._credential.id

    @property
    def usage(self) -> Usage:
        """What this client's credential has spent so far (a snapshot)."""
        return self._ledger.snapshot()

    @property
    def rate_limiter(self) -> RateLimiter | None:
        """The credential's rate limiter, or None when limiting is off."""
        return self._engine.limiter

    @property
    def max_concurrency(self) -> int:
        """The most requests in flight."""
        return self._max_concurrency

    @property
    def window_caps(self) -> _windows.WindowCaps:
        """The longest window per resolution this client sends."""
        return self._caps

    @property
    def split_windows(self) -> bool:
        """Whether windows over their cap are split (else refused)."""
        return self._split

    @property
    def resolutions(self) -> Mapping[str, frozenset[str]]:
        """The resolutions each kind of call accepts (see `DEFAULT_RESOLUTIONS`)."""
        return dict(self._resolutions)

    def known_site_timezone(self, site_id: int) -> ZoneInfo | None:
        """The site's time zone if already known (from `sites`, `site` or given); no call."""
        return self._zones.get(site_id)

    async def plan_sweep(self, spec: SweepSpec, *, now: datetime | None = None) -> SweepPlan:
        """Plan a fleet sweep: see `solaredge_async.fleet.plan_sweep`."""
        from solaredge_async.fleet import plan_sweep  # noqa: PLC0415

        return await plan_sweep(self, spec, now=now)

    def sweep(
        self,
        plan: SweepPlan,
        *,
        concurrency: int | None = None,
        buffer_size: int | None = None,
        on_progress: Callable[[SweepProgress], object] | None = None,
        progress_interval: float = 0.5,
    ) -> Sweep:
        """Run a planned sweep: ``async with client.sweep(plan) as results:``.

        See `solaredge_async.fleet.sweep`.
        """
        from solaredge_async.fleet import sweep  # noqa: PLC0415

        return sweep(
            self,
            plan,
            concurrency=concurrency,
            buffer_size=buffer_size,
            on_progress=on_progress,
            progress_interval=progress_interval,
        )

    def reset_quota(self) -> None:
        """Allow calls again after the monthly credits ran out (after the billing day)."""
        self._ledger.quota_exhausted = False

    def set_site_timezone(self, site_id: int, timezone: str) -> None:
        """Record a site's IANA time zone, so no call is spent looking it up.

        Raises:
            InvalidRequestError: A bad site id or an unknown zone name.
        """
        self._zones[_check_site_id(site_id)] = _site_zone(timezone)

    def _secrets(self) -> tuple[str, ...]:
        cred = self._credential
        if isinstance(cred, ApiKeyCredential):
            return tuple(cred._headers.values())  # noqa: SLF001
        return ()

    # -- the request path ---------------------------------------------------------

    async def _get(self, path: str, params: QueryParams = ()) -> JSONValue:
        self._check_open()
        response = await self._engine.request("GET", path, params)
        return decode_json(response.content, path)

    async def get(self, path: str, params: Mapping[str, str] | None = None) -> JSONValue:
        """GET any path below the base URL and return the decoded JSON, unparsed.

        For operations this client has no method for. ``path`` starts with ``/``.

        Raises:
            InvalidRequestError: A path that is not a relative path starting with ``/``.
            APIStatusError, TransportError, ResponseValidationError: As for every call.
        """
        if not isinstance(path, str) or not path.startswith("/") or "//" in path:
            raise errors.InvalidRequestError(
                f"path must start with a single '/', e.g. '/sites/1/energy'; got {path!r}"
            )
        if any(c.isspace() or ord(c) < 0x20 or c in "?#" for c in path):  # noqa: PLR2004
            raise errors.InvalidRequestError(
                "path must not contain whitespace, control characters, '?' or '#'; "
                "pass query parameters in params="
            )
        self._refuse_bearer(path)
        return await self._get(path, tuple((params or {}).items()))

    def _refuse_bearer(self, path: str) -> None:
        if isinstance(self._credential, BearerCredential) and path in {"/sites", "/alerts"}:
            raise errors.InvalidRequestError(
                f"GET {path} accepts API keys only and refuses OAuth bearer tokens; "
                "use SolarEdgeClient(api_key=...) for fleet-level calls"
            )

    # -- time zones and windows ---------------------------------------------------

    def _remember_site(self, site: Site) -> None:
        tz = site.location.timezone if site.location is not None else None
        if tz:
            try:
                self._zones[site.site_id] = _windows.site_zone(tz)
            except errors.InvalidRequestError:
                logger.warning("site %s has an unknown time zone %r", site.site_id, tz)

    async def site_timezone(self, site_id: int) -> ZoneInfo:
        """The site's time zone, looked up once (one call) and cached.

        Raises:
            ResponseValidationError: The site has no usable ``location.timezone``.
        """
        site_id = _check_site_id(site_id)
        zone = self._zones.get(site_id)
        if zone is not None:
            return zone
        lock = self._zone_locks.setdefault(site_id, anyio.Lock())
        async with lock:
            zone = self._zones.get(site_id)
            if zone is None:
                site = await self.site(site_id)
                zone = self._zones.get(site.site_id)
                if zone is None:
                    raise errors.ResponseValidationError(
                        f"site {site_id} has no usable location.timezone; pass "
                        "site_timezones={...} to the client or call set_site_timezone()",
                        path=f"/sites/{site_id}",
                    )
                self._zones[site_id] = zone
        self._zone_locks.pop(site_id, None)
        return zone

    def _check_resolution(self, resolution: object, kind: str) -> str | None:
        if resolution is None:
            return None
        return _enum_value(resolution, self._resolutions[kind], "resolution")

    async def _windows(
        self,
        site_id: int,
        start: TimeInput | None,
        end: TimeInput | None,
        resolution: str | None,
    ) -> list[tuple[str, str]] | None:
        """The ``from``/``to`` pairs to send, or None for the server's default window."""
        if start is None and end is None:
            return None
        _check_time_inputs(start, end)
        res = resolution or Resolution.QUARTER_HOUR
        if not self._split:
            _check_span_without_zone(start, end, res, self._caps)  # type: ignore[arg-type]
        zone = await self.site_timezone(site_id)
        lo, hi = _resolve(start, end, zone)
        if self._split:
            windows = _windows.split_window(lo, hi, res, self._caps, zone)
        else:
            _windows.check_span(lo, hi, res, self._caps, zone)
            windows = [(lo, hi)]
        return [
            (_windows.format_api_time(a, zone), _windows.format_api_time(b, zone))
            for a, b in windows
        ]

    async def _gather(self, calls: list[Callable[[], Awaitable[T]]]) -> list[T]:
        """Run calls concurrently (bounded by the client's slots); results in order."""
        if len(calls) == 1:
            return [await calls[0]()]
        results: list[T | None] = [None] * len(calls)

        async def run(index: int, call: Callable[[], Awaitable[T]]) -> None:
            results[index] = await call()

        try:
            async with anyio.create_task_group() as tg:
                for index, call in enumerate(calls):
                    tg.start_soon(run, index, call)
        except BaseExceptionGroup as group:
            # Callers get one library error, as from an unsplit call, not a group.
            error = _one_error(group)
            if error is None:
                raise
            raise error from None
        return results  # type: ignore[return-value]

    async def _measurements(  # noqa: PLR0917
        self,
        path: str,
        site_id: int,
        start: TimeInput | None,
        end: TimeInput | None,
        resolution: str | None,
        extra: QueryParams,
    ) -> Measurements:
        windows = await self._windows(site_id, start, end, resolution)
        base: list[tuple[str, str]] = []
        if resolution is not None:
            base.append(("resolution", resolution))
        base.extend(extra)
        if windows is None:
            return self._parser.measurements(await self._get(path, base), path)

        def call(a: str, b: str) -> Callable[[], Awaitable[Measurements]]:
            async def run() -> Measurements:
                data = await self._get(path, [("from", a), ("to", b), *base])
                return self._parser.measurements(data, path)

            return run

        parts = await self._gather([call(a, b) for a, b in windows])
        return parts[0] if len(parts) == 1 else _merge_measurements(parts)

    # -- fleet ------------------------------------------------------------------

    async def site_pages(
        self, *, page_size: int = MAX_SITES_PAGE
    ) -> AsyncGenerator[SitesPage, None]:
        """Every page of ``GET /sites``, in order (one call per page).

        Stops on the first short page, or when ``count`` shows every site was seen,
        so no empty trailing page is fetched (it would cost a credit) unless the
        server's ``count`` is ambiguous.

        Args:
            page_size: Sites per page, 1 to 1000 (the API's maximum).

        Raises:
            InvalidRequestError: A page size out of range, or a bearer credential.
        """
        page_size = _check_page_size(page_size, MAX_SITES_PAGE, "page_size")
        self._check_open()
        self._refuse_bearer("/sites")
        seen = 0
        seen_ids: set[int] = set()
        page_no = 1
        while True:
            data = await self._get(
                "/sites", [("page", str(page_no)), ("sites-in-page", str(page_size))]
            )
            page = self._parser.sites_page(data, "/sites")
            ids = {site.site_id for site in page.sites}
            if ids and ids <= seen_ids:
                # A full page of sites already seen: the server ignores `page`; going
                # on would fetch the same page forever, a credit each time.
                logger.warning("GET /sites: page %d repeats earlier sites; stopping", page_no)
                return
            seen_ids |= ids
            for site in page.sites:
                self._remember_site(site)
            seen += len(page.sites)
            yield page
            if len(page.sites) < page_size:
                return
            # `count` is the total when it exceeds one page; when it equals what
            # was seen after page 2+ every site is in.
            if page.count is not None and page.count == seen and page_no > 1:
                return
            if page.count is not None and page.count == seen and page.count != page_size:
                return
            page_no += 1

    async def sites(self, *, page_size: int = MAX_SITES_PAGE) -> AsyncGenerator[Site, None]:
        """Every site the API key sees, all pages (``GET /sites``).

        Each site's time zone is remembered, so later windowed calls cost no
        lookup. Raises as `site_pages`.
        """
        async for page in self.site_pages(page_size=page_size):
            for site in page.sites:
                yield site

    async def _alert_pages(
        self, path: str, only_open: bool | None, page_size: int
    ) -> AsyncGenerator[Alert, None]:
        page_size = _check_page_size(page_size, MAX_ALERTS_PAGE, "page_size")
        flag = None if only_open is None else _bool_param(only_open, "only_open")
        self._check_open()
        page_no = 1
        previous: tuple[Alert, ...] = ()
        while True:
            params = [("page", str(page_no)), ("alerts-in-page", str(page_size))]
            if flag is not None:
                params.append(("only-open", flag))
            alerts = self._parser.alerts(await self._get(path, params), path)
            if alerts and alerts == previous:
                # The same full page again: the server ignores `page` (see site_pages).
                logger.warning(
                    "GET %s: page %d repeats page %d; stopping", path, page_no, page_no - 1
                )
                return
            previous = alerts
            for alert in alerts:
                yield alert
            if len(alerts) < page_size:
                return
            page_no += 1

    async def alerts(
        self, *, only_open: bool = False, page_size: int = MAX_ALERTS_PAGE
    ) -> AsyncGenerator[Alert, None]:
        """Every alert of every site, all pages (``GET /alerts``).

        ``only-open`` is always sent (its server default is unknown).

        Raises:
            InvalidRequestError: A page size out of 1..100, or a bearer credential.
        """
        self._refuse_bearer("/alerts")
        async for alert in self._alert_pages("/alerts", only_open, page_size):
            yield alert

    # -- site ------------------------------------------------------------------

    async def site(self, site_id: int) -> Site:
        """The site's details (``GET /sites/{site_id}``); its time zone is cached."""
        site_id = _check_site_id(site_id)
        path = f"/sites/{site_id}"
        site = self._parser.site(await self._get(path), path)
        self._remember_site(site)
        return site

    async def site_overview(
        self, site_id: int, *, start: TimeInput | None = None, end: TimeInput | None = None
    ) -> SiteOverview:
        """Production and consumption totals for a window (``/overview``).

        With no window, today's running totals in the site's day (not lifetime).
        Energies are in the unit each block states (``production.unit``).

        Raises:
            InvalidRequestError: Only one of start/end, end before start, mixed
                naive and aware datetimes.
        """
        site_id = _check_site_id(site_id)
        path = f"/sites/{site_id}/overview"
        params: list[tuple[str, str]] = []
        if start is not None or end is not None:
            _check_time_inputs(start, end)
            zone = await self.site_timezone(site_id)
            lo, hi = _resolve(start, end, zone)
            params = [
                ("from", _windows.format_api_time(lo, zone)),
                ("to", _windows.format_api_time(hi, zone)),
            ]
        return self._parser.overview(await self._get(path, params), path)

    async def site_energy(
        self,
        site_id: int,
        *,
        start: TimeInput | None = None,
        end: TimeInput | None = None,
        resolution: Resolution | str | None = None,
        unit: Unit | str | None = None,
    ) -> Measurements:
        """Energy per bucket (``/energy``), each value the bucket's total.

        With no window: site-local midnight to now at quarter hours. A window over
        the cap for its resolution is split and stitched (see `split_windows`).
        Values are in the response's ``unit`` (``WH`` unless ``unit=`` asks).

        Args:
            site_id: The site.
            start: Aware datetime, naive datetime (site-local) or date (inclusive).
            end: As ``start``; both or neither.
            resolution: QUARTER_HOUR (server default) ... YEAR, TOTAL.
            unit: WH, KWH, MWH or GWH.

        Raises:
            InvalidRequestError: A bad id, window, resolution or unit.
            SpanTooLongError: Over the cap with splitting off.
        """
        site_id = _check_site_id(site_id)
        res = self._check_resolution(resolution, "energy")
        extra = [] if unit is None else [("unit", _enum_value(unit, _ENERGY_UNITS, "unit"))]
        return await self._measurements(f"/sites/{site_id}/energy", site_id, start, end, res, extra)

    async def site_power(
        self,
        site_id: int,
        *,
        start: TimeInput | None = None,
        end: TimeInput | None = None,
        resolution: Resolution | str | None = None,
        unit: Unit | str | None = None,
    ) -> Measurements:
        """Average power per bucket (``/power``), PV net of the battery.

        As `site_energy`, with ``unit`` W, KW or MW and sub-daily resolutions.
        """
        site_id = _check_site_id(site_id)
        res = self._check_resolution(resolution, "power")
        extra = [] if unit is None else [("unit", _enum_value(unit, _POWER_UNITS, "unit"))]
        return await self._measurements(f"/sites/{site_id}/power", site_id, start, end, res, extra)

    async def devices(
        self, site_id: int, *, types: Collection[DeviceType | str] | None = None
    ) -> tuple[Device, ...]:
        """The site's devices (``/devices``); inverters only unless ``types`` is given.

        ``types`` is sent as a repeated parameter.

        Raises:
            InvalidRequestError: An unknown device type.
        """
        site_id = _check_site_id(site_id)
        if isinstance(types, str):
            raise errors.InvalidRequestError(
                "types must be a collection of device types, e.g. ['INVERTER', 'METER']"
            )
        params = [
            ("types", _enum_value(t, frozenset(DeviceType), "device type")) for t in types or ()
        ]
        path = f"/sites/{site_id}/devices"
        return self._parser.devices(await self._get(path, params), path)

    async def site_alerts(
        self, site_id: int, *, only_open: bool | None = None, page_size: int = MAX_ALERTS_PAGE
    ) -> AsyncGenerator[Alert, None]:
        """The site's alerts, all pages (``/sites/{id}/alerts``).

        ``only-open`` is sent when given (``False`` and ``True`` both).
        """
        site_id = _check_site_id(site_id)
        async for alert in self._alert_pages(f"/sites/{site_id}/alerts", only_open, page_size):
            yield alert

    async def environmental_benefits(
        self, site_id: int, *, unit: MeasurementSystem | str | None = None
    ) -> EnvironmentalBenefits:
        """CO2 saved and similar figures (``/environmental-benefits``).

        Args:
            site_id: The site.
            unit: METRIC or IMPERIAL.
        """
        site_id = _check_site_id(site_id)
        params = (
            []
            if unit is None
            else [("unit", _enum_value(unit, frozenset(MeasurementSystem), "unit"))]
        )
        path = f"/sites/{site_id}/environmental-benefits"
        return self._parser.environmental_benefits(await self._get(path, params), path)

    async def overview_performance(
        self, site_id: int, *, start: TimeInput | None = None, end: TimeInput | None = None
    ) -> OverviewPerformance:
        """Specific yield and performance ratio (``/overview/performance``; shape unverified)."""
        site_id = _check_site_id(site_id)
        path = f"/sites/{site_id}/overview/performance"
        params: list[tuple[str, str]] = []
        if start is not None or end is not None:
            _check_time_inputs(start, end)
            zone = await self.site_timezone(site_id)
            lo, hi = _resolve(start, end, zone)
            params = [
                ("from", _windows.format_api_time(lo, zone)),
                ("to", _windows.format_api_time(hi, zone)),
            ]
        return self._parser.overview_performance(await self._get(path, params), path)

    async def power_flow(self, site_id: int) -> PowerFlow:
        """The live power flow (``/power-flow``; Advanced Monitoring tiers only, else 403)."""
        site_id = _check_site_id(site_id)
        path = f"/sites/{site_id}/power-flow"
        return self._parser.power_flow(await self._get(path), path)

    async def _telemetry(
        self,
        family: DeviceFamily,
        site_id: int,
        start: TimeInput | None,
        end: TimeInput | None,
        resolution: Resolution | str | None,
    ) -> Telemetry:
        site_id = _check_site_id(site_id)
        res = self._check_resolution(resolution, "telemetry")
        path = f"/sites/{site_id}/{family}/telemetry"
        windows = await self._windows(site_id, start, end, res)
        base = [] if res is None else [("resolution", res)]
        if windows is None:
            return self._parser.telemetry(await self._get(path, base), path, family)

        def call(a: str, b: str) -> Callable[[], Awaitable[Telemetry]]:
            async def run() -> Telemetry:
                data = await self._get(path, [("from", a), ("to", b), *base])
                return self._parser.telemetry(data, path, family)

            return run

        parts = await self._gather([call(a, b) for a, b in windows])
        return parts[0] if len(parts) == 1 else _merge_telemetry(parts)

    async def inverter_telemetry(
        self,
        site_id: int,
        *,
        start: TimeInput | None = None,
        end: TimeInput | None = None,
        resolution: Resolution | str | None = None,
    ) -> Telemetry:
        """Power, energy, voltage, current and frequency of every inverter, in one call.

        ``Telemetry.devices`` maps serial → metric → series. Windows as `site_energy`.
        """
        return await self._telemetry("inverters", site_id, start, end, resolution)

    async def meter_telemetry(
        self,
        site_id: int,
        *,
        start: TimeInput | None = None,
        end: TimeInput | None = None,
        resolution: Resolution | str | None = None,
    ) -> Telemetry:
        """Import/export/production/consumption power and energy of every meter."""
        return await self._telemetry("meters", site_id, start, end, resolution)

    async def storage_telemetry(
        self,
        site_id: int,
        *,
        start: TimeInput | None = None,
        end: TimeInput | None = None,
        resolution: Resolution | str | None = None,
    ) -> Telemetry:
        """Charge/discharge power and energy, state of energy (0-1 fraction live) of batteries."""
        return await self._telemetry("storage", site_id, start, end, resolution)

    # -- device ------------------------------------------------------------------

    async def device_metric(
        self,
        site_id: int,
        serial: str,
        metric: str,
        *,
        start: TimeInput | None = None,
        end: TimeInput | None = None,
        resolution: Resolution | str | None = None,
        unit: Unit | str | None = None,
    ) -> Measurements:
        """One metric of one device (``/sites/{id}/{family}/{serial}/{metric}``).

        Args:
            site_id: The site.
            serial: The device's serial number (URL-encoded when sent).
            metric: A key of `DEVICE_METRICS`, e.g. ``"inverter_voltage"`` or
                ``"storage_state_of_energy"``.
            start: As `site_energy`.
            end: As `site_energy`.
            resolution: As `site_energy`.
            unit: For power metrics W/KW/MW, for energy WH..GWH, for state of energy
                PERCENTAGE; not accepted for voltage, current and frequency.

        Raises:
            InvalidRequestError: An unknown metric, bad serial, or a unit of the
                wrong kind.
        """
        site_id = _check_site_id(site_id)
        serial = _check_serial(serial)
        spec = DEVICE_METRICS.get(metric) if isinstance(metric, str) else None
        if spec is None:
            raise errors.InvalidRequestError(
                f"unknown metric {metric!r}; known: {', '.join(sorted(DEVICE_METRICS))}"
            )
        kind = "device_instant" if spec.kind in {"instant", "percent"} else "device_energy"
        res = self._check_resolution(resolution, kind)
        extra: list[tuple[str, str]] = []
        if unit is not None:
            allowed: frozenset[str] = {
                "energy": _ENERGY_UNITS,
                "power": _POWER_UNITS,
                "percent": frozenset({Unit.PERCENTAGE, Unit.PERCENTAGE_100}),
                "instant": frozenset(),
            }[spec.kind]
            if not allowed:
                raise errors.InvalidRequestError(
                    f"{metric} takes no unit (the API answers in "
                    f"{ {'voltage': 'VOLT', 'current': 'AMPERE'}.get(spec.path, 'HERTZ') })"
                )
            extra.append(("unit", _enum_value(unit, allowed, f"unit for {metric}")))
        path = f"/sites/{site_id}/{spec.family}/{quote(serial, safe='')}/{spec.path}"
        return await self._measurements(path, site_id, start, end, res, extra)

    async def inverter_voltage(
        self,
        site_id: int,
        serial: str,
        *,
        start: TimeInput | None = None,
        end: TimeInput | None = None,
        resolution: Resolution | str | None = None,
    ) -> Measurements:
        """The inverter's AC voltage (V, mean over phases); stamps mark the bucket END."""
        return await self.device_metric(
            site_id, serial, "inverter_voltage", start=start, end=end, resolution=resolution
        )

    async def inverter_current(
        self,
        site_id: int,
        serial: str,
        *,
        start: TimeInput | None = None,
        end: TimeInput | None = None,
        resolution: Resolution | str | None = None,
    ) -> Measurements:
        """The inverter's AC current (A, derived as power / voltage)."""
        return await self.device_metric(
            site_id, serial, "inverter_current", start=start, end=end, resolution=resolution
        )

    async def inverter_frequency(
        self,
        site_id: int,
        serial: str,
        *,
        start: TimeInput | None = None,
        end: TimeInput | None = None,
        resolution: Resolution | str | None = None,
    ) -> Measurements:
        """The inverter's AC frequency (Hz); stamps mark the bucket END."""
        return await self.device_metric(
            site_id, serial, "inverter_frequency", start=start, end=end, resolution=resolution
        )

    async def inverter_power(
        self,
        site_id: int,
        serial: str,
        *,
        start: TimeInput | None = None,
        end: TimeInput | None = None,
        resolution: Resolution | str | None = None,
        unit: Unit | str | None = None,
    ) -> Measurements:
        """The inverter's average AC power per bucket (W unless ``unit=``)."""
        return await self.device_metric(
            site_id,
            serial,
            "inverter_power",
            start=start,
            end=end,
            resolution=resolution,
            unit=unit,
        )

    async def inverter_energy(
        self,
        site_id: int,
        serial: str,
        *,
        start: TimeInput | None = None,
        end: TimeInput | None = None,
        resolution: Resolution | str | None = None,
        unit: Unit | str | None = None,
    ) -> Measurements:
        """The inverter's energy per bucket (Wh unless ``unit=``)."""
        return await self.device_metric(
            site_id,
            serial,
            "inverter_energy",
            start=start,
            end=end,
            resolution=resolution,
            unit=unit,
        )

    async def meter_metric(
        self,
        site_id: int,
        serial: str,
        direction: Literal["import", "export", "production", "consumption"],
        quantity: Literal["power", "energy"],
        *,
        start: TimeInput | None = None,
        end: TimeInput | None = None,
        resolution: Resolution | str | None = None,
        unit: Unit | str | None = None,
    ) -> Measurements:
        """A meter's import/export/production/consumption power (W) or energy (Wh)."""
        return await self.device_metric(
            site_id,
            serial,
            f"meter_{direction}_{quantity}",
            start=start,
            end=end,
            resolution=resolution,
            unit=unit,
        )

    async def storage_metric(
        self,
        site_id: int,
        serial: str,
        metric: Literal[
            "state_of_energy",
            "charge_power",
            "discharge_power",
            "charge_energy",
            "discharge_energy",
            "remaining_energy",
        ],
        *,
        start: TimeInput | None = None,
        end: TimeInput | None = None,
        resolution: Resolution | str | None = None,
        unit: Unit | str | None = None,
    ) -> Measurements:
        """A battery's state of energy, charge/discharge power or energy, remaining energy.

        State of energy comes as a 0-1 fraction labelled ``PERCENTAGE`` on the live
        API (the docs show 0-100); the value is kept as sent.
        """
        return await self.device_metric(
            site_id,
            serial,
            f"storage_{metric}",
            start=start,
            end=end,
            resolution=resolution,
            unit=unit,
        )

    async def storage_state_of_energy(
        self,
        site_id: int,
        serial: str,
        *,
        start: TimeInput | None = None,
        end: TimeInput | None = None,
        resolution: Resolution | str | None = None,
    ) -> Measurements:
        """A battery's state of energy (see `storage_metric` for the scale)."""
        return await self.storage_metric(
            site_id, serial, "state_of_energy", start=start, end=end, resolution=resolution
        )


def _one_error(group: BaseExceptionGroup[BaseException]) -> errors.SolarEdgeError | None:
    """The error to raise for a group of library errors (None if anything else is in it).

    The monthly-credit error wins (a sweep stops on it), else the first one.
    """
    matched, rest = group.split(errors.SolarEdgeError)
    if rest is not None or matched is None:
        return None
    leaves: list[errors.SolarEdgeError] = []
    stack: list[BaseException] = [matched]
    while stack:
        exc = stack.pop(0)
        if isinstance(exc, BaseExceptionGroup):
            stack[:0] = exc.exceptions
        elif isinstance(exc, errors.SolarEdgeError):
            leaves.append(exc)
    quota = [e for e in leaves if isinstance(e, errors.QuotaExhaustedError)]
    return (quota or leaves or [None])[0]


def _merge_measurements(parts: list[Measurements]) -> Measurements:
    first, last = parts[0], parts[-1]
    timestamps, values = _windows.merge_series([(p.timestamps, p.values) for p in parts])
    period = None
    if first.period is not None and last.period is not None:
        period = Period(start=first.period.start, end=last.period.end)
    return attrs.evolve(first, period=period, timestamps=timestamps, values=values)


def _merge_telemetry(parts: list[Telemetry]) -> Telemetry:
    first, last = parts[0], parts[-1]
    merged: dict[str, dict[str, TelemetrySeries]] = {}
    for serial in dict.fromkeys(s for p in parts for s in p.devices):
        metrics: dict[str, TelemetrySeries] = {}
        for metric in dict.fromkeys(m for p in parts for m in p.devices.get(serial, {})):
            series = [
                p.devices[serial][metric] for p in parts if metric in p.devices.get(serial, {})
            ]
            timestamps, values = _windows.merge_series([(s.timestamps, s.values) for s in series])
            metrics[metric] = attrs.evolve(series[0], timestamps=timestamps, values=values)
        merged[serial] = metrics
    period = None
    if first.period is not None and last.period is not None:
        period = Period(start=first.period.start, end=last.period.end)
    return attrs.evolve(first, period=period, devices=merged)


def _user_agent() -> str:
    from solaredge_async._version import __version__  # noqa: PLC0415

    return f"solaredge-async/{__version__} httpx/{httpx.__version__}"
