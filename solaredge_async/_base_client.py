"""The client's machinery: settings, lifecycle, the request path, windows and merging.

`SolarEdgeClient` (``client.py``) adds the typed endpoint methods on top of
`BaseClient`; the split keeps one concern per module (the public methods there, how a
call is checked, windowed, sent, gathered and stitched here).
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import TYPE_CHECKING, Final, Literal, Self, TypeAlias, TypeVar
from urllib.parse import quote

import anyio
import attrs
import httpx

from solaredge_async import _checks, _windows, errors
from solaredge_async._checks import DEFAULT_BASE_URL, check_base_url
from solaredge_async._credentials import (
    ApiKeyCredential,
    BearerCredential,
    Credential,
    TokenProvider,
)
from solaredge_async._endpoints import ENDPOINTS, Endpoint
from solaredge_async._engine import Engine, QueryParams
from solaredge_async._retry import RetryPolicy
from solaredge_async._usage import Ledger, RequestEvent, Usage
from solaredge_async.converters import ResponseParser, decode_json
from solaredge_async.limits._bucket import DEFAULT_SAFETY_MARGIN, RateLimiter
from solaredge_async.models import (
    JSONValue,
    Measurements,
    Period,
    Resolution,
    Site,
    Telemetry,
    TelemetrySeries,
    Unit,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Collection, Mapping
    from types import TracebackType
    from zoneinfo import ZoneInfo

__all__ = [
    "BaseClient",
    "StateOfEnergyInput",
    "StateOfEnergyScale",
    "TimeInput",
    "merge_telemetry",
    "site_zone",
]

logger = logging.getLogger("solaredge_async.client")

#: What a start or end of a window may be.
TimeInput: TypeAlias = datetime | date
#: How state-of-energy values are returned: as the server sent them, as a 0-1
#: fraction, or as a 0-100 percentage.
StateOfEnergyScale: TypeAlias = Literal["as_sent", "fraction", "percent"]
#: The scale the server sends state of energy in: ``auto`` reads it per series (any
#: value above 1, or the unit ``PERCENTAGE_100``, means 0-100), or a fixed one.
StateOfEnergyInput: TypeAlias = Literal["auto", "fraction", "percent"]

_PERCENT: Final = 100.0
_KEY_ONLY_PATHS: Final = frozenset(e.path for e in ENDPOINTS.values() if e.key_only)

T = TypeVar("T")
_S = TypeVar("_S", Measurements, TelemetrySeries)


def _credential(
    api_key: str | None, account_key: str | None, token_provider: TokenProvider | None
) -> Credential:
    if token_provider is None:
        return ApiKeyCredential(api_key, account_key)
    if api_key is not None or account_key is not None:
        raise errors.ConfigurationError(
            "pass either api_key (with account_key) or token_provider, not both"
        )
    return BearerCredential(token_provider)


def _limiter(
    rate_limiter: RateLimiter | None, requests_per_minute: float | None, burst: int
) -> RateLimiter | None:
    if rate_limiter is not None or requests_per_minute is None:
        return rate_limiter
    return RateLimiter(requests_per_minute, burst=burst, safety_margin=DEFAULT_SAFETY_MARGIN)


def _http_client(
    transport: httpx.AsyncBaseTransport,
    timeout: float | httpx.Timeout,
    max_concurrency: int,
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=transport,
        timeout=timeout,
        # max_keepalive == max_connections: httpcore compares the keep-alive
        # bound with the total count, so a smaller one churns connections.
        limits=httpx.Limits(
            max_connections=max_concurrency, max_keepalive_connections=max_concurrency
        ),
        headers={"User-Agent": _user_agent(), "Accept": "application/json"},
        follow_redirects=False,
        trust_env=False,
    )


def _resolution_table(
    overrides: Mapping[str, Collection[str]] | None,
) -> dict[str, frozenset[str]]:
    """Each operation's accepted resolutions: the table's, with the caller's overrides."""
    table = {e.name: e.resolutions for e in ENDPOINTS.values() if e.resolutions}
    all_names = frozenset(Resolution)
    for name, allowed in (overrides or {}).items():
        if name not in table:
            raise errors.ConfigurationError(
                f"resolutions has an unknown operation {name!r}; known: {', '.join(table)}"
            )
        values = frozenset(str(r) for r in allowed)
        unknown = values - all_names
        if unknown or isinstance(allowed, str) or not values:
            raise errors.ConfigurationError(
                f"resolutions[{name!r}] must be a collection of resolutions among "
                f"{', '.join(sorted(all_names))}; got {sorted(unknown)}"
            )
        table[name] = values
    return table


@attrs.frozen(kw_only=True)
class _Settings:
    """The client's settings that shape requests (after checking)."""

    caps: _windows.WindowCaps
    split: bool
    resolutions: Mapping[str, frozenset[str]]
    soe_scale: StateOfEnergyScale
    soe_input: StateOfEnergyInput


class BaseClient:
    """The machinery under `SolarEdgeClient` (see there for the arguments)."""

    #: The site's zone, looked up once; defined by `SolarEdgeClient` (it calls `site`).
    site_timezone: Callable[[int], Awaitable[ZoneInfo]]

    def __init__(
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
        state_of_energy: StateOfEnergyScale = "as_sent",
        state_of_energy_input: StateOfEnergyInput = "auto",
    ) -> None:
        credential = _credential(api_key, account_key, token_provider)
        self._credential = credential
        self._base_url = check_base_url(base_url, allow_insecure_http=allow_insecure_http)
        if transport is not None and http_client is not None:
            raise errors.ConfigurationError("pass either transport or http_client, not both")
        self._max_concurrency = _checks.check_concurrency(max_concurrency)
        limiter = _limiter(rate_limiter, requests_per_minute, burst)
        if not isinstance(timeout, httpx.Timeout):
            _checks.check_timeout(timeout)
        for name, value, choices in (
            ("state_of_energy", state_of_energy, ("as_sent", "fraction", "percent")),
            ("state_of_energy_input", state_of_energy_input, ("auto", "fraction", "percent")),
        ):
            if value not in choices:
                raise errors.ConfigurationError(
                    f"{name} must be one of {', '.join(choices)}; got {value!r}"
                )
        self._settings = _Settings(
            caps=window_caps if window_caps is not None else _windows.WindowCaps(),
            split=split_windows,
            resolutions=_resolution_table(resolutions),
            soe_scale=state_of_energy,
            soe_input=state_of_energy_input,
        )
        self._zones: dict[int, ZoneInfo] = {}
        self._zone_locks: dict[int, anyio.Lock] = {}
        for site_id, name in (site_timezones or {}).items():
            self._zones[_checks.check_site_id(site_id)] = site_zone(name)
        self._owns_http = http_client is None
        if http_client is None:
            if transport is None:
                # FastTransport with the `fast` extra's httptools, else PoolsTransport
                # (several small httpcore pools: one large pool lost 96 % of its
                # throughput at 200 in flight; benchmarks/README.md).
                from solaredge_async.transports import default_transport  # noqa: PLC0415

                transport = default_transport(max_concurrency)
            http_client = _http_client(transport, timeout, max_concurrency)
        self._http = http_client
        self._ledger = Ledger(credential=credential.id)
        self._engine = Engine(
            http=self._http,
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
        self._closed = False

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
        return self._settings.caps

    @property
    def split_windows(self) -> bool:
        """Whether windows over their cap are split (else refused)."""
        return self._settings.split

    @property
    def resolutions(self) -> Mapping[str, frozenset[str]]:
        """The resolutions each operation accepts, by operation name (``energy``, ...)."""
        return dict(self._settings.resolutions)

    def known_site_timezone(self, site_id: int) -> ZoneInfo | None:
        """The site's time zone if already known (from `sites`, `site` or given); no call."""
        return self._zones.get(site_id)

    def reset_quota(self) -> None:
        """Allow calls again after the monthly credits ran out (after the billing day)."""
        self._ledger.quota_exhausted = False

    def set_site_timezone(self, site_id: int, timezone: str) -> None:
        """Record a site's IANA time zone, so no call is spent looking it up.

        Raises:
            InvalidRequestError: A bad site id or an unknown zone name.
        """
        self._zones[_checks.check_site_id(site_id)] = site_zone(timezone)

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

    def _refuse_bearer(self, path: str) -> None:
        if isinstance(self._credential, BearerCredential) and path in _KEY_ONLY_PATHS:
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

    def _resolution(self, op: Endpoint, resolution: object) -> str | None:
        """The one place a resolution is checked: the operation's allow-list."""
        return _checks.check_resolution(resolution, self._settings.resolutions[op.name])

    def _unit(self, op: Endpoint, unit: object) -> QueryParams:
        if unit is None:
            return []
        if not op.units:
            raise errors.InvalidRequestError(
                f"{op.name} takes no unit (the API answers in {op.fixed_unit})"
            )
        what = "unit" if op.level == "site" else f"unit for {op.name}"
        return [("unit", _checks.check_choice(unit, op.units, what))]

    async def _windows(
        self,
        site_id: int,
        start: TimeInput | None,
        end: TimeInput | None,
        resolution: str | None,
        *,
        capped: bool = True,
    ) -> list[tuple[str, str]] | None:
        """The ``from``/``to`` pairs to send, or None for the server's default window.

        ``capped``: split (or refuse) at the resolution's cap; else one window.
        """
        if start is None and end is None:
            return None
        _checks.check_time_inputs(start, end)
        res = resolution or Resolution.QUARTER_HOUR
        caps, split = self._settings.caps, self._settings.split
        if capped and not split:
            _checks.check_span_without_zone(start, end, res, caps.cap_for(res))  # type: ignore[arg-type]
        zone = await self.site_timezone(site_id)
        window = _windows.resolve_window(start, end, zone)
        if window is None:  # pragma: no cover - both are given
            raise errors.InvalidRequestError("pass both start and end, or neither")
        lo, hi = window
        if not capped:
            windows = [(lo, hi)]
        elif split:
            windows = _windows.split_window(lo, hi, res, caps, zone)
        else:
            _windows.check_span(lo, hi, res, caps, zone)
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

    async def _windowed(  # noqa: PLR0917
        self,
        path: str,
        site_id: int,
        start: TimeInput | None,
        end: TimeInput | None,
        resolution: str | None,
        params: QueryParams,
        parse: Callable[[JSONValue], T],
    ) -> list[T]:
        """One parsed response per window the request is split into (one: unsplit)."""
        windows = await self._windows(site_id, start, end, resolution)
        base = [*([] if resolution is None else [("resolution", resolution)]), *params]
        if windows is None:
            return [parse(await self._get(path, base))]

        def call(a: str, b: str) -> Callable[[], Awaitable[T]]:
            async def run() -> T:
                return parse(await self._get(path, [("from", a), ("to", b), *base]))

            return run

        return await self._gather([call(a, b) for a, b in windows])

    async def _measurements(  # noqa: PLR0917
        self,
        op: Endpoint,
        site_id: int,
        serial: str | None,
        start: TimeInput | None,
        end: TimeInput | None,
        resolution: object,
        unit: object,
    ) -> Measurements:
        site_id = _checks.check_site_id(site_id)
        if serial is not None:
            serial = quote(_checks.check_serial(serial), safe="")
        res = self._resolution(op, resolution)
        params = self._unit(op, unit)
        path = op.render(site_id, serial)
        parts = await self._windowed(
            path, site_id, start, end, res, params, lambda d: self._parser.measurements(d, path)
        )
        merged = parts[0] if len(parts) == 1 else _merge_measurements(parts)
        return self._scale(merged) if op.quantity == "state_of_energy" else merged

    async def _window_params(
        self, site_id: int, start: TimeInput | None, end: TimeInput | None
    ) -> QueryParams:
        """``from``/``to`` of an operation that takes one window, uncapped (overview)."""
        windows = await self._windows(site_id, start, end, None, capped=False)
        return [] if windows is None else [("from", windows[0][0]), ("to", windows[0][1])]

    def _scale(self, series: _S) -> _S:
        """State of energy on the scale the client was asked for (reference §6)."""
        target = self._settings.soe_scale
        if target == "as_sent":
            return series
        source = self._settings.soe_input
        if source == "auto":
            over_one = any(v is not None and v > 1 for v in series.values)
            source = "percent" if over_one or series.unit == Unit.PERCENTAGE_100 else "fraction"
        if source == target:
            return series
        factor = _PERCENT if target == "percent" else 1 / _PERCENT
        values = tuple(None if v is None else v * factor for v in series.values)
        return attrs.evolve(series, values=values)


def site_zone(name: object) -> ZoneInfo:
    # site_zone(None) means UTC (a site without a zone); a caller's None is a mistake.
    return _windows.site_zone(_checks.check_zone_name(name))


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


def _merged_period(first: Period | None, last: Period | None) -> Period | None:
    if first is None or last is None:
        return None
    return Period(start=first.start, end=last.end)


def _merge_measurements(parts: list[Measurements]) -> Measurements:
    timestamps, values = _windows.merge_series([(p.timestamps, p.values) for p in parts])
    period = _merged_period(parts[0].period, parts[-1].period)
    return attrs.evolve(parts[0], period=period, timestamps=timestamps, values=values)


def merge_telemetry(parts: list[Telemetry]) -> Telemetry:
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
    period = _merged_period(parts[0].period, parts[-1].period)
    return attrs.evolve(parts[0], period=period, devices=merged)


def _user_agent() -> str:
    from solaredge_async._version import __version__  # noqa: PLC0415

    return f"solaredge-async/{__version__} httpx/{httpx.__version__}"
