"""The client's machinery: settings, lifecycle, the request path, windows and merging.

`SolarEdgeClient` (``client.py``) adds the typed endpoint methods on top of
`BaseClient`; the split keeps one concern per module (the public methods there, how a
call is checked, windowed, sent, gathered and stitched here).
"""

from __future__ import annotations

import functools
import logging
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Final, Generic, Literal, Self, TypeAlias, TypeVar
from urllib.parse import quote

import anyio
import attrs
import httpx

from solaredge_async import _budget, _checks, _shared_state, _windows, errors
from solaredge_async._adaptive import AdaptiveCaps, CapChoice, cap_family
from solaredge_async._checks import DEFAULT_BASE_URL, check_base_url
from solaredge_async._client_setup import (
    account_of,
    http_client_for,
    ledger_of,
    limiters,
    make_credential,
    resolution_table,
)
from solaredge_async._closing import Closable
from solaredge_async._credentials import (
    ApiKeyCredential,
    BearerCredential,
    TokenProvider,
)
from solaredge_async._endpoints import ENDPOINTS, Endpoint
from solaredge_async._engine import Engine, QueryParams
from solaredge_async._retry import RetryPolicy
from solaredge_async._series import merge_measurements, trim_measurements
from solaredge_async._usage import Ledger, RequestEvent, Usage
from solaredge_async.converters import ResponseParser, decode_json
from solaredge_async.limits._caps import DEFAULT_REPROBE_AFTER
from solaredge_async.limits._errors import BudgetExceededError
from solaredge_async.models import (
    JSONValue,
    Measurements,
    Resolution,
    Site,
    TelemetrySeries,
    Unit,
)

if TYPE_CHECKING:
    import os
    from collections.abc import Awaitable, Callable, Collection, Mapping
    from zoneinfo import ZoneInfo

    from solaredge_async.limits._bucket import RateLimiter
    from solaredge_async.limits._caps import CapStore
    from solaredge_async.limits._ledger import CreditLedger, LedgerState

__all__ = [
    "BaseClient",
    "StateOfEnergyInput",
    "StateOfEnergyScale",
    "TimeInput",
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


@attrs.frozen(kw_only=True)
class _Settings:
    """The client's settings that shape requests (after checking)."""

    caps: _windows.WindowCaps
    split: bool
    resolutions: Mapping[str, frozenset[str]]
    soe_scale: StateOfEnergyScale
    soe_input: StateOfEnergyInput


def _span(a: datetime, b: datetime) -> timedelta:
    """Elapsed time between two aware datetimes (not wall clock: PEP 495)."""
    return b.astimezone(UTC) - a.astimezone(UTC)


class BaseClient(Closable):
    """The machinery under `SolarEdgeClient` (see there for the arguments)."""

    _closed_message = (
        "this SolarEdgeClient is closed; create a new one (or use it inside "
        "`async with SolarEdgeClient(...) as client:`)"
    )

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
        monthly_credits: int | None = None,
        billing_day: int | None = None,
        ledger: CreditLedger | None = None,
        state_dir: str | os.PathLike[str] | None = None,
        probe_caps: bool = True,
        cap_store: CapStore | None = None,
        reprobe_after: timedelta = DEFAULT_REPROBE_AFTER,
        shared_state: str | None = None,
    ) -> None:
        credential = make_credential(api_key, account_key, token_provider)
        self._credential = credential
        self._credit_ledger = _budget.make_ledger(
            ledger=ledger if ledger is not None else ledger_of(rate_limiter),
            monthly_credits=monthly_credits,
            billing_day=billing_day,
            state_dir=state_dir,
        )
        self._account = account_of(rate_limiter, credential.id)
        self._clear_exhausted = False
        self._base_url = check_base_url(base_url, allow_insecure_http=allow_insecure_http)
        if transport is not None and http_client is not None:
            raise errors.ConfigurationError("pass either transport or http_client, not both")
        self._max_concurrency = _checks.check_concurrency(max_concurrency)
        if (
            ledger is not None
            and rate_limiter is not None
            and rate_limiter.ledger is not None
            and rate_limiter.ledger is not ledger
        ):
            raise errors.ConfigurationError(
                "rate_limiter charges another ledger than ledger=; pass one of them"
            )
        limiter, engine_limiter = limiters(
            rate_limiter, requests_per_minute, burst, self._credit_ledger, self._account
        )
        self._limiter = limiter
        self._shared = _shared_state.configure(
            shared_state,
            account=self._account,
            requests_per_minute=requests_per_minute,
            burst=burst,
            ledger=self._credit_ledger,
            conflicts={"rate_limiter": rate_limiter, "ledger": ledger, "state_dir": state_dir},
        )
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
        caps = window_caps if window_caps is not None else _windows.WindowCaps()
        if not isinstance(probe_caps, bool):
            raise errors.ConfigurationError(f"probe_caps must be True or False, got {probe_caps!r}")
        self._caps = AdaptiveCaps(
            account=self._account,
            documented=caps,
            plausible=_windows.PLAUSIBLE_CAPS,
            store=_budget.make_cap_store(
                probe_caps=probe_caps and split_windows,
                cap_store=cap_store,
                state_dir=state_dir,
                reprobe_after=reprobe_after,
                ledger=self._credit_ledger,
            ),
        )
        self._settings = _Settings(
            caps=caps,
            split=split_windows,
            resolutions=resolution_table(resolutions),
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
            http_client = http_client_for(transport, timeout, max_concurrency)
        self._http = http_client
        self._ledger = Ledger(credential=credential.id)
        self._engine = Engine(
            http=self._http,
            base_url=self._base_url,
            credential=credential,
            limiter=engine_limiter,
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
        state = self._state()
        return (
            f"<SolarEdgeClient {state} base_url={self._base_url!r} "
            f"credential={self._credential.id!r}>"
        )

    async def __aenter__(self) -> Self:
        if self._shared is not None and not self._closed:
            # Fails closed (SharedStateUnavailableError) when Redis cannot be reached.
            self._limiter, self._engine.limiter, self._credit_ledger = await self._shared.open()
        self._check_open()
        return self

    async def aclose(self) -> None:
        """Close the connection pool (unless it is the caller's); idempotent.

        Any later call raises `ClientClosedError`.
        """
        if self._closed:
            return
        self._closed = True
        if self._shared is not None:
            await self._shared.aclose()
        if self._owns_http:
            with anyio.CancelScope(shield=True):
                await self._http.aclose()

    def _check_open(self) -> None:
        super()._check_open()
        if self._shared is not None and not self._shared.is_open:
            raise self._shared.not_open_error()

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
        return self._limiter

    @property
    def ledger(self) -> CreditLedger:
        """The credit ledger every request sent is charged to."""
        return self._credit_ledger

    @property
    def ledger_account(self) -> str:
        """The name the ledger counts this client's credits under (a fingerprint)."""
        return self._account

    @property
    def cap_store(self) -> CapStore | None:
        """Where learned window caps are kept, or None when probing is off."""
        return self._caps.store

    async def budget(self) -> LedgerState:
        """The monthly budget now: spent, remaining, the cycle's start and end (UTC).

        ``remaining`` is None when the budget is unlimited (``monthly_credits=0``) and
        0 once the server said the month's credits are used up.

        Raises:
            StateFileError: A file-backed ledger is damaged or cannot be read.
        """
        if self._shared is not None and not self._shared.is_open:
            raise self._shared.not_open_error()
        await self._sync_quota()
        return await self._credit_ledger.state(self._account)

    async def _sync_quota(self) -> None:
        """Bring the local quota flag and the ledger's exhaustion mark into line."""
        ledger, account = self._credit_ledger, self._account
        if self._clear_exhausted:
            self._clear_exhausted = False
            await ledger.clear_exhausted(account)
        elif self._ledger.quota_exhausted and not (await ledger.state(account)).exhausted:
            # The billing cycle turned since the monthly 429: the credits are back.
            self._ledger.quota_exhausted = False

    async def cap_choice(self, operation: str, resolution: str) -> CapChoice:
        """How a window of ``operation`` (``energy``, ...) at ``resolution`` is split now.

        For planners: the caps known (learned, or documented), and whether the next
        window longer than the documented cap is a probe. No call is made.

        Raises:
            InvalidRequestError: An unknown operation or resolution.
            StateFileError: A file-backed caps store is damaged.
        """
        op = ENDPOINTS.get(operation)
        if op is None or op.window != "capped":
            raise errors.InvalidRequestError(
                f"{operation!r} is not an operation whose windows are capped"
            )
        return await self._caps.choose(cap_family(op), resolution)

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
        """Allow calls again after the monthly credits ran out (the operator knows better).

        Also clears the ledger's mark before the next call. Without it, calls are
        allowed again by themselves once the billing cycle resets.
        """
        self._ledger.quota_exhausted = False
        self._clear_exhausted = True

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
        ledger, account = self._credit_ledger, self._account
        await self._sync_quota()
        known = self._ledger.quota_exhausted  # then the engine refuses without sending
        try:
            response = await self._engine.request("GET", path, params)
        except errors.QuotaExhaustedError as exc:
            if not known and not isinstance(exc, BudgetExceededError):
                # The server's monthly 429: refuse every call until the cycle resets.
                with anyio.CancelScope(shield=True):
                    await ledger.mark_exhausted(account)
            raise
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
        if not capped:
            return list(_windows.planned_windows(start, end, zone, res, None).queries)  # type: ignore[arg-type]
        window = _windows.resolve_window(start, end, zone)
        if window is None:  # pragma: no cover - both are given
            raise errors.InvalidRequestError("pass both start and end, or neither")
        lo, hi = window
        if split:
            windows = _windows.split_window(lo, hi, res, caps, zone)
        else:
            _windows.check_span(lo, hi, res, caps, zone)
            windows = [(lo, hi)]
        return [
            (_windows.format_api_time(a, zone), _windows.format_api_time(b, zone))
            for a, b in windows
        ]

    async def _get_parsed(
        self, path: str, params: QueryParams, parse: Callable[[JSONValue], T]
    ) -> T:
        return parse(await self._get(path, params))

    async def _gather(self, calls: list[Callable[[], Awaitable[T]]]) -> list[T]:
        """Run calls concurrently (bounded by the client's slots); results in order."""
        if len(calls) == 1:
            return [await calls[0]()]
        results: list[T | None] = [None] * len(calls)

        async def run(index: int, call: Callable[[], Awaitable[T]]) -> None:
            results[index] = await call()

        try:
            async with anyio.create_task_group() as tg:
                for index, call in enumerate(calls[1:], 1):
                    tg.start_soon(run, index, call)
                await run(0, calls[0])  # in this task: one task fewer to start
        except BaseExceptionGroup as group:
            # Callers get one library error, as from an unsplit call, not a group.
            error = _one_error(group)
            if error is None:
                raise
            raise error from None
        return results  # type: ignore[return-value]

    async def _windowed(  # noqa: PLR0917
        self,
        op: Endpoint,
        path: str,
        site_id: int,
        start: TimeInput | None,
        end: TimeInput | None,
        resolution: str | None,
        params: QueryParams,
        parse: Callable[[JSONValue], T],
    ) -> tuple[list[T], tuple[datetime, datetime] | None]:
        """One parsed response per window sent, in order, and the window asked for.

        The window is split at the caps known for the operation and resolution
        (learned, or documented; see `solaredge_async._adaptive`). While nothing is
        known, the first piece longer than the documented cap goes alone as a probe.
        A piece longer than the documented cap that the server refuses with a 400 is
        split at the documented cap and sent again.
        """
        base = [*([] if resolution is None else [("resolution", resolution)]), *params]
        if start is None and end is None:
            return [parse(await self._get(path, base))], None
        res = resolution or Resolution.QUARTER_HOUR
        if not self._settings.split:
            windows = await self._windows(site_id, start, end, resolution)
            (a, b), *_ = windows or [("", "")]
            one = parse(await self._get(path, [("from", a), ("to", b), *base]))
            return [one], _windows.resolve_window(start, end, await self.site_timezone(site_id))
        _checks.check_time_inputs(start, end)
        zone = await self.site_timezone(site_id)
        family = cap_family(op)
        caps = self._caps
        choice = await caps.choose(family, res)
        if not choice.goes_alone:
            planned = _windows.planned_windows(start, end, zone, res, choice.caps)  # type: ignore[arg-type]
            if not choice.is_probe(planned.longest):
                # The usual case, on a plan made once per window and zone: no piece is
                # longer than the documented cap, so none needs the caps' bookkeeping.
                calls: list[Callable[[], Awaitable[T]]] = [
                    functools.partial(
                        self._get_parsed, path, [("from", a), ("to", b), *base], parse
                    )
                    for a, b in planned.queries
                ]
                return await self._gather(calls), planned.window
        window = _windows.resolve_window(start, end, zone)
        if window is None:  # pragma: no cover - both are given (checked above)
            raise errors.InvalidRequestError("pass both start and end, or neither")
        lo, hi = window
        sender = _Pieces(self, family, path, zone, res, base, parse)
        pieces = _windows.split_window(lo, hi, res, choice.caps, zone)
        parts: list[T] = []
        if choice.goes_alone and choice.is_probe(_span(*pieces[0])):
            async with caps.lock(family, res):
                # Another call may have probed while this one waited.
                choice = await caps.choose(family, res)
                pieces = _windows.split_window(lo, hi, res, choice.caps, zone)
                if choice.goes_alone and choice.is_probe(_span(*pieces[0])):
                    parts.extend(await sender.send(*pieces[0], choice))
                    rest = pieces[0][1]
                    if _span(rest, hi) <= timedelta(0):
                        return parts, (lo, hi)
                    choice = await caps.choose(family, res)
                    pieces = _windows.split_window(rest, hi, res, choice.caps, zone)
        parts.extend(await sender.gather(pieces, choice))
        return parts, (lo, hi)

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
        parts, window = await self._windowed(
            op, path, site_id, start, end, res, params, lambda d: self._parser.measurements(d, path)
        )
        merged = parts[0] if len(parts) == 1 else merge_measurements(parts)
        if window is not None:
            merged = trim_measurements(merged, window, res, stamps_end=op.stamps == "end")
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


class _Pieces(Generic[T]):
    """Sends the pieces of one split window and parses each answer."""

    def __init__(  # noqa: PLR0917
        self,
        client: BaseClient,
        family: str,
        path: str,
        zone: ZoneInfo,
        resolution: str,
        base: QueryParams,
        parse: Callable[[JSONValue], T],
    ) -> None:
        self.client = client
        self.family = family
        self.path = path
        self.zone = zone
        self.resolution = resolution
        self.base = base
        self.parse = parse

    async def send(self, start: datetime, end: datetime, choice: CapChoice) -> list[T]:
        """One piece; a probe the server refuses is split at the documented cap."""
        client, zone, res = self.client, self.zone, self.resolution
        query = [
            ("from", _windows.format_api_time(start, zone)),
            ("to", _windows.format_api_time(end, zone)),
            *self.base,
        ]
        span = _span(start, end)
        probe = choice.is_probe(span)
        try:
            body = await client._get(self.path, query)  # noqa: SLF001
        except errors.BadRequestError:
            if not probe:
                raise
            # The server's "window too long": the documented cap it is, from now on.
            logger.info("%s at %s: a window of %s was refused", self.family, res, span)
            caps = client._caps  # noqa: SLF001
            await caps.refused(self.family, res)
            subs = _windows.split_window(start, end, res, caps.documented, zone)
            return await self.gather(subs, attrs.evolve(choice, probing=False, documented=None))
        if probe:
            await client._caps.accepted(self.family, res, span)  # noqa: SLF001
        return [self.parse(body)]

    async def gather(self, pieces: list[tuple[datetime, datetime]], choice: CapChoice) -> list[T]:
        """Every piece, concurrently (bounded by the client's slots); results in order."""

        def call(start: datetime, end: datetime) -> Callable[[], Awaitable[list[T]]]:
            return lambda: self.send(start, end, choice)

        groups = await self.client._gather([call(a, b) for a, b in pieces])  # noqa: SLF001
        return [part for group in groups for part in group]


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
