"""`SolarEdgeClient`: the async client for the SolarEdge Monitoring API V2.

One client holds one credential, one connection pool, one rate limiter and one
concurrency bound; every endpoint method goes through them. Use it as an async
context manager::

    async with SolarEdgeClient(api_key="...") as client:
        async for site in client.sites():
            energy = await client.site_energy(site.site_id, start=day, end=day)

Each method keeps an explicit, typed, documented signature; its body reads the
operation's path, resolutions, units and paging from the endpoint table
(`solaredge_async._endpoints`), and its arguments are checked by `_checks` before any
call is made. Sweeps over a fleet are `solaredge_async.fleet.plan_sweep` and
`solaredge_async.fleet.sweep` (functions over a client: the client knows nothing of
fleets).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final, TypeAlias

import anyio
import attrs

from solaredge_async import _checks, errors
from solaredge_async._base_client import (
    BaseClient,
    StateOfEnergyInput,
    StateOfEnergyScale,
    TimeInput,
)
from solaredge_async._checks import DEFAULT_BASE_URL, check_base_url
from solaredge_async._endpoints import DEVICE_METRICS, ENDPOINTS, FAMILIES
from solaredge_async._series import merge_telemetry, trim_telemetry
from solaredge_async.models import (
    Alert,
    Device,
    DeviceType,
    EnvironmentalBenefits,
    JSONValue,
    Measurements,
    MeasurementSystem,
    OverviewPerformance,
    PowerFlow,
    Resolution,
    Site,
    SiteOverview,
    SitesPage,
    Telemetry,
    Unit,
)

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Collection, Mapping, Sequence
    from zoneinfo import ZoneInfo

    from solaredge_async._endpoints import DeviceFamily, DeviceMetric, Endpoint, ResolutionName

__all__ = [
    "DEFAULT_BASE_URL",
    "SolarEdgeClient",
    "StateOfEnergyInput",
    "StateOfEnergyScale",
    "TimeInput",
    "check_base_url",
]

logger = logging.getLogger(__name__)

#: A resolution argument: the enum or its name (a typo is a mypy error).
ResolutionArg: TypeAlias = "Resolution | ResolutionName | None"

_SOE_METRIC: Final = "stateOfEnergy"
MAX_SITES_PAGE: Final = ENDPOINTS["sites"].page_max or 1000
MAX_ALERTS_PAGE: Final = ENDPOINTS["fleet_alerts"].page_max or 100


class SolarEdgeClient(BaseClient):
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
        resolutions: Which resolutions an operation accepts, by operation name
            (``energy``, ``power``, ``inverter_telemetry``, ``inverter_voltage``, ...;
            see `resolutions`), overriding the endpoint table's allow-list.
        site_timezones: IANA time zone names by site id, known in advance (saves the
            one call per site that looks the zone up).
        on_request: Called after every attempt with a `RequestEvent`.
        state_of_energy: The scale state-of-energy values are returned in (device
            metric ``storage_state_of_energy`` and the ``stateOfEnergy`` series of
            storage telemetry): ``"as_sent"`` (default: the server's values as they
            are; live they are a 0-1 fraction labelled ``PERCENTAGE``, the docs show
            0-100), ``"fraction"`` (0-1) or ``"percent"`` (0-100).
        state_of_energy_input: The scale the server sends: ``"auto"`` (default: a
            series with any value above 1, or with the unit ``PERCENTAGE_100``, is
            0-100, else 0-1), ``"fraction"`` or ``"percent"``. Used only when
            ``state_of_energy`` is not ``"as_sent"``.
        monthly_credits: The monthly credit budget (default 2,000, the free tier; 0 =
            unlimited). Every request sent is charged to the credit ledger, errors and
            429s included; one that would overspend is refused before it is sent
            (`BudgetExceededError`), and the server's monthly 429 marks the ledger used
            up until the cycle resets. See `budget`.
        billing_day: The day of the month (1..28, UTC) the credits reset (default 1).
        ledger: The credit ledger (`solaredge_async.limits.CreditLedger`), shared
            with other clients or processes of the account; by default one in memory,
            or a file in ``state_dir``.
        state_dir: A directory for the ledger and the learned window caps, kept in one
            file (``solaredge-state.json``) so that runs and processes share them.
        probe_caps: Ask once per endpoint family and resolution for the longest
            plausible window (a whole day of quarter-hours, a month of days) and
            remember the answer (default); a refusal costs one credit, then the
            documented cap (``window_caps``) is used. False: documented caps only.
        cap_store: Where learned caps are kept (`solaredge_async.limits.CapStore`);
            by default in memory, in ``state_dir``, or in a file-backed ledger's file.
        reprobe_after: How long a learned cap is trusted before it is probed again.
        shared_state: ``redis://host:port/db`` (default ``$SOLAREDGE_SHARED_STATE``):
            share the per-minute bucket, the ``Retry-After`` pause, the adopted limit,
            the monthly ledger and the quota breaker with every process of the account
            through Redis (extra ``redis``). Connected on ``async with`` (calls outside
            it are refused), closed on exit; an unreachable Redis raises
            `SharedStateUnavailableError` after a bounded wait, never an unshared
            fallback. Not with ``rate_limiter``, ``ledger`` or ``state_dir``.

    Raises:
        ConfigurationError: Missing or malformed credentials, both ``api_key`` and
            ``token_provider``, both ``transport`` and ``http_client``, an unsafe
            ``base_url``, a limit out of range, an unknown scale, or a malformed or
            conflicting ``shared_state``.
        SharedStateUnavailableError: (on ``async with``) Redis is unreachable.
    """

    async def get(
        self, path: str, params: Mapping[str, str | Sequence[str]] | None = None
    ) -> JSONValue:
        """GET any path below the base URL and return the decoded JSON, unparsed.

        For operations this client has no method for. ``path`` starts with ``/``. A
        list or tuple value is sent as a repeated parameter
        (``{"types": ["INVERTER", "METER"]}`` sends ``types=INVERTER&types=METER``).

        Raises:
            InvalidRequestError: A path that is not a relative path starting with
                ``/``, or a parameter value that is not a string or a list of strings.
            APIStatusError, TransportError, ResponseValidationError: As for every call.
        """
        path = _checks.check_get_path(path)
        self._refuse_bearer(path)
        query: list[tuple[str, str]] = []
        for name, value in (params or {}).items():
            values = [value] if isinstance(value, str) else value
            if not isinstance(values, list | tuple) or not all(isinstance(v, str) for v in values):
                raise errors.InvalidRequestError(
                    f"params[{name!r}] must be a string or a list of strings, got {value!r}"
                )
            query.extend((name, v) for v in values)
        return await self._get(path, query)

    async def site_timezone(self, site_id: int) -> ZoneInfo:
        """The site's time zone, looked up once (one call) and cached.

        Raises:
            ResponseValidationError: The site has no usable ``location.timezone``.
        """
        site_id = _checks.check_site_id(site_id)
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
        op = ENDPOINTS["sites"]
        page_size = _checks.check_page_size(page_size, MAX_SITES_PAGE, "page_size")
        self._check_open()
        self._refuse_bearer(op.path)
        seen = 0
        seen_ids: set[int] = set()
        page_no = 1
        while True:
            params = [("page", str(page_no)), (str(op.page_size_param), str(page_size))]
            page = self._parser.sites_page(await self._get(op.path, params), op.path)
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
        self, op: Endpoint, path: str, only_open: bool, page_size: int
    ) -> AsyncGenerator[Alert, None]:
        page_size = _checks.check_page_size(page_size, MAX_ALERTS_PAGE, "page_size")
        flag = _checks.check_bool(only_open, "only_open")
        self._check_open()
        page_no = 1
        previous: tuple[Alert, ...] = ()
        while True:
            params = [
                ("page", str(page_no)),
                (str(op.page_size_param), str(page_size)),
                ("only-open", flag),
            ]
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
        op = ENDPOINTS["fleet_alerts"]
        self._refuse_bearer(op.path)
        async for alert in self._alert_pages(op, op.path, only_open, page_size):
            yield alert

    # -- site ------------------------------------------------------------------

    async def site(self, site_id: int) -> Site:
        """The site's details (``GET /sites/{site_id}``); its time zone is cached."""
        path = ENDPOINTS["site"].render(_checks.check_site_id(site_id))
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
        site_id = _checks.check_site_id(site_id)
        path = ENDPOINTS["overview"].render(site_id)
        params = await self._window_params(site_id, start, end)
        return self._parser.overview(await self._get(path, params), path)

    async def site_energy(
        self,
        site_id: int,
        *,
        start: TimeInput | None = None,
        end: TimeInput | None = None,
        resolution: ResolutionArg = None,
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
        op = ENDPOINTS["energy"]
        return await self._measurements(op, site_id, None, start, end, resolution, unit)

    async def site_power(
        self,
        site_id: int,
        *,
        start: TimeInput | None = None,
        end: TimeInput | None = None,
        resolution: ResolutionArg = None,
        unit: Unit | str | None = None,
    ) -> Measurements:
        """Average power per bucket (``/power``, in W unless ``unit=``), PV net of the battery.

        As `site_energy`, with ``unit`` W, KW or MW and sub-daily resolutions.
        """
        op = ENDPOINTS["power"]
        return await self._measurements(op, site_id, None, start, end, resolution, unit)

    async def devices(
        self, site_id: int, *, types: Collection[DeviceType | str] | None = None
    ) -> tuple[Device, ...]:
        """The site's devices (``/devices``); inverters only unless ``types`` is given.

        ``types`` is sent as a repeated parameter.

        Raises:
            InvalidRequestError: An unknown device type.
        """
        path = ENDPOINTS["devices"].render(_checks.check_site_id(site_id))
        if isinstance(types, str):
            raise errors.InvalidRequestError(
                "types must be a collection of device types, e.g. ['INVERTER', 'METER']"
            )
        known = frozenset(DeviceType)
        params = [("types", _checks.check_choice(t, known, "device type")) for t in types or ()]
        return self._parser.devices(await self._get(path, params), path)

    async def site_alerts(
        self, site_id: int, *, only_open: bool = False, page_size: int = MAX_ALERTS_PAGE
    ) -> AsyncGenerator[Alert, None]:
        """The site's alerts, all pages (``/sites/{id}/alerts``).

        ``only-open`` is always sent (its server default is unknown).

        Raises:
            InvalidRequestError: A bad id, a page size out of 1..100.
        """
        op = ENDPOINTS["alerts"]
        path = op.render(_checks.check_site_id(site_id))
        async for alert in self._alert_pages(op, path, only_open, page_size):
            yield alert

    async def environmental_benefits(
        self, site_id: int, *, unit: MeasurementSystem | str | None = None
    ) -> EnvironmentalBenefits:
        """CO2 saved and similar figures (``/environmental-benefits``).

        Args:
            site_id: The site.
            unit: METRIC or IMPERIAL.
        """
        path = ENDPOINTS["environmental_benefits"].render(_checks.check_site_id(site_id))
        params = (
            []
            if unit is None
            else [("unit", _checks.check_choice(unit, frozenset(MeasurementSystem), "unit"))]
        )
        return self._parser.environmental_benefits(await self._get(path, params), path)

    async def overview_performance(
        self, site_id: int, *, start: TimeInput | None = None, end: TimeInput | None = None
    ) -> OverviewPerformance:
        """Specific yield and performance ratio (``/overview/performance``; shape unverified)."""
        site_id = _checks.check_site_id(site_id)
        path = ENDPOINTS["overview_performance"].render(site_id)
        params = await self._window_params(site_id, start, end)
        return self._parser.overview_performance(await self._get(path, params), path)

    async def power_flow(self, site_id: int) -> PowerFlow:
        """The live power flow (``/power-flow``; Advanced Monitoring tiers only, else 403)."""
        path = ENDPOINTS["power_flow"].render(_checks.check_site_id(site_id))
        return self._parser.power_flow(await self._get(path), path)

    async def telemetry(
        self,
        family: DeviceFamily,
        site_id: int,
        *,
        start: TimeInput | None = None,
        end: TimeInput | None = None,
        resolution: ResolutionArg = None,
    ) -> Telemetry:
        """Every metric of every device of a family, in one call per window.

        ``Telemetry.devices`` maps serial → metric → series. Windows as `site_energy`.

        Args:
            family: ``inverters``, ``meters`` or ``storage``.
            site_id: The site.
            start: As `site_energy`.
            end: As `site_energy`.
            resolution: As `site_energy`, without TOTAL.

        Raises:
            InvalidRequestError: An unknown family, a bad id, window or resolution.
            SpanTooLongError: Over the cap with splitting off.
        """
        if family not in FAMILIES:
            raise errors.InvalidRequestError(
                f"family must be one of {', '.join(FAMILIES)}; got {family!r}"
            )
        op = ENDPOINTS[FAMILIES[family].telemetry]
        site_id = _checks.check_site_id(site_id)
        res = self._resolution(op, resolution)
        path = op.render(site_id)
        parts, window = await self._windowed(
            op,
            path,
            site_id,
            start,
            end,
            res,
            [],
            lambda d: self._parser.telemetry(d, path, family),
        )
        merged = parts[0] if len(parts) == 1 else merge_telemetry(parts)
        if window is not None:
            merged = trim_telemetry(merged, family, window, res)
        if self._settings.soe_scale == "as_sent" or family != "storage":
            return merged
        devices = {
            serial: {
                name: self._scale(series) if name == _SOE_METRIC else series
                for name, series in metrics.items()
            }
            for serial, metrics in merged.devices.items()
        }
        return attrs.evolve(merged, devices=devices)

    # -- device ------------------------------------------------------------------

    async def device_metric(
        self,
        site_id: int,
        serial: str,
        metric: DeviceMetric,
        *,
        start: TimeInput | None = None,
        end: TimeInput | None = None,
        resolution: ResolutionArg = None,
        unit: Unit | str | None = None,
    ) -> Measurements:
        """One metric of one device (``/sites/{id}/{family}/{serial}/{metric}``).

        Stamps mark the bucket start, except voltage and frequency (the end).

        Args:
            site_id: The site.
            serial: The device's serial number (URL-encoded when sent).
            metric: A `DeviceMetric` (a key of `DEVICE_METRICS`), e.g.
                ``"inverter_voltage"`` or ``"storage_state_of_energy"``.
            start: As `site_energy`.
            end: As `site_energy`.
            resolution: As `site_energy`, without TOTAL.
            unit: For power metrics W/KW/MW, for energy WH..GWH, for state of energy
                PERCENTAGE; not accepted for voltage, current and frequency (VOLT,
                AMPERE, HERTZ).

        Raises:
            InvalidRequestError: An unknown metric, bad serial, or a unit of the
                quantity the metric does not measure.
        """
        _checks.check_site_id(site_id)
        _checks.check_serial(serial)
        op = DEVICE_METRICS.get(metric) if isinstance(metric, str) else None
        if op is None:
            raise errors.InvalidRequestError(
                f"unknown metric {metric!r}; known: {', '.join(sorted(DEVICE_METRICS))}"
            )
        return await self._measurements(op, site_id, serial, start, end, resolution, unit)
