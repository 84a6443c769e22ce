"""solaredge_async: an asyncio-first fleet client for the SolarEdge Monitoring API V2.

Works under asyncio and trio (through anyio). The public API::

    from solaredge_async import SolarEdgeClient

    async with SolarEdgeClient(api_key="...") as client:
        async for site in client.sites():
            ...

Names are imported lazily on first use, so ``import solaredge_async`` stays cheap.
`_EXPORTS` is the one list of public names (by the module that defines them; the
error classes are `solaredge_async.errors.__all__`, a module cheap enough to import
now); `__all__` and the lazy lookup are built from it, and a test checks that the
type-checking imports below name the same things.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from solaredge_async import errors
from solaredge_async._lazy import lazy_getattr
from solaredge_async._version import __version__ as __version__

if TYPE_CHECKING:
    from solaredge_async._endpoints import (
        DEVICE_METRICS as DEVICE_METRICS,
    )
    from solaredge_async._endpoints import (
        TARGETS as TARGETS,
    )
    from solaredge_async._endpoints import (
        DeviceMetric as DeviceMetric,
    )
    from solaredge_async._endpoints import (
        ResolutionName as ResolutionName,
    )
    from solaredge_async._endpoints import (
        Target as Target,
    )
    from solaredge_async._retry import (
        RetryPolicy as RetryPolicy,
    )
    from solaredge_async._usage import (
        RequestEvent as RequestEvent,
    )
    from solaredge_async._usage import (
        Usage as Usage,
    )
    from solaredge_async._windows import (
        WindowCaps as WindowCaps,
    )
    from solaredge_async.client import (
        DEFAULT_BASE_URL as DEFAULT_BASE_URL,
    )
    from solaredge_async.client import (
        SolarEdgeClient as SolarEdgeClient,
    )
    from solaredge_async.client import (
        StateOfEnergyInput as StateOfEnergyInput,
    )
    from solaredge_async.client import (
        StateOfEnergyScale as StateOfEnergyScale,
    )
    from solaredge_async.errors import (
        APIStatusError as APIStatusError,
    )
    from solaredge_async.errors import (
        AuthenticationError as AuthenticationError,
    )
    from solaredge_async.errors import (
        BadRequestError as BadRequestError,
    )
    from solaredge_async.errors import (
        ClientClosedError as ClientClosedError,
    )
    from solaredge_async.errors import (
        ConfigurationError as ConfigurationError,
    )
    from solaredge_async.errors import (
        GoneError as GoneError,
    )
    from solaredge_async.errors import (
        InvalidRequestError as InvalidRequestError,
    )
    from solaredge_async.errors import (
        NotFoundError as NotFoundError,
    )
    from solaredge_async.errors import (
        OAuthError as OAuthError,
    )
    from solaredge_async.errors import (
        PermissionDeniedError as PermissionDeniedError,
    )
    from solaredge_async.errors import (
        QuotaExhaustedError as QuotaExhaustedError,
    )
    from solaredge_async.errors import (
        RateLimitedError as RateLimitedError,
    )
    from solaredge_async.errors import (
        RequestTimeoutError as RequestTimeoutError,
    )
    from solaredge_async.errors import (
        ResponseValidationError as ResponseValidationError,
    )
    from solaredge_async.errors import (
        ServerError as ServerError,
    )
    from solaredge_async.errors import (
        SolarEdgeError as SolarEdgeError,
    )
    from solaredge_async.errors import (
        SpanTooLongError as SpanTooLongError,
    )
    from solaredge_async.errors import (
        TransportError as TransportError,
    )
    from solaredge_async.fleet import (
        TODAY as TODAY,
    )
    from solaredge_async.fleet import (
        YESTERDAY as YESTERDAY,
    )
    from solaredge_async.fleet import (
        ClientPool as ClientPool,
    )
    from solaredge_async.fleet import (
        ItemFailed as ItemFailed,
    )
    from solaredge_async.fleet import (
        ItemNotAttempted as ItemNotAttempted,
    )
    from solaredge_async.fleet import (
        ItemSucceeded as ItemSucceeded,
    )
    from solaredge_async.fleet import (
        PoolSite as PoolSite,
    )
    from solaredge_async.fleet import (
        PoolSweepPlan as PoolSweepPlan,
    )
    from solaredge_async.fleet import (
        Row as Row,
    )
    from solaredge_async.fleet import (
        SiteDay as SiteDay,
    )
    from solaredge_async.fleet import (
        SiteNotInPoolError as SiteNotInPoolError,
    )
    from solaredge_async.fleet import (
        SweepPlan as SweepPlan,
    )
    from solaredge_async.fleet import (
        SweepProgress as SweepProgress,
    )
    from solaredge_async.fleet import (
        SweepSpec as SweepSpec,
    )
    from solaredge_async.fleet import (
        WorkItem as WorkItem,
    )
    from solaredge_async.fleet import (
        flat_rows as flat_rows,
    )
    from solaredge_async.fleet import (
        plan_pool_sweep as plan_pool_sweep,
    )
    from solaredge_async.fleet import (
        plan_sweep as plan_sweep,
    )
    from solaredge_async.fleet import (
        pool_sweep as pool_sweep,
    )
    from solaredge_async.fleet import (
        sweep as sweep,
    )
    from solaredge_async.limits._bucket import (
        RateLimiter as RateLimiter,
    )
    from solaredge_async.models import (
        ActivationStatus as ActivationStatus,
    )
    from solaredge_async.models import (
        Alert as Alert,
    )
    from solaredge_async.models import (
        AlertComponent as AlertComponent,
    )
    from solaredge_async.models import (
        AlertStatus as AlertStatus,
    )
    from solaredge_async.models import (
        Consumption as Consumption,
    )
    from solaredge_async.models import (
        Device as Device,
    )
    from solaredge_async.models import (
        DeviceType as DeviceType,
    )
    from solaredge_async.models import (
        EnvironmentalBenefits as EnvironmentalBenefits,
    )
    from solaredge_async.models import (
        Location as Location,
    )
    from solaredge_async.models import (
        Measurements as Measurements,
    )
    from solaredge_async.models import (
        MeasurementSystem as MeasurementSystem,
    )
    from solaredge_async.models import (
        OverviewPerformance as OverviewPerformance,
    )
    from solaredge_async.models import (
        Performance as Performance,
    )
    from solaredge_async.models import (
        Period as Period,
    )
    from solaredge_async.models import (
        PowerFlow as PowerFlow,
    )
    from solaredge_async.models import (
        Production as Production,
    )
    from solaredge_async.models import (
        Resolution as Resolution,
    )
    from solaredge_async.models import (
        Site as Site,
    )
    from solaredge_async.models import (
        SiteOverview as SiteOverview,
    )
    from solaredge_async.models import (
        SitesPage as SitesPage,
    )
    from solaredge_async.models import (
        Telemetry as Telemetry,
    )
    from solaredge_async.models import (
        TelemetrySeries as TelemetrySeries,
    )
    from solaredge_async.models import (
        Unit as Unit,
    )
    from solaredge_async.oauth import (
        OAuthClient as OAuthClient,
    )
    from solaredge_async.oauth import (
        RefreshingTokenProvider as RefreshingTokenProvider,
    )
    from solaredge_async.oauth import (
        TokenSet as TokenSet,
    )
    from solaredge_async.oauth import (
        authorize_url as authorize_url,
    )
    from solaredge_async.transports._aiohttp import (
        AiohttpTransport as AiohttpTransport,
    )
    from solaredge_async.transports._fast import (
        FastTransport as FastTransport,
    )
    from solaredge_async.transports._pools import (
        PoolsTransport as PoolsTransport,
    )

#: Every public name, by the module it is imported from on first use.
_EXPORTS: Final[dict[str, tuple[str, ...]]] = {
    "solaredge_async._endpoints": (
        "DEVICE_METRICS",
        "DeviceMetric",
        "ResolutionName",
        "TARGETS",
        "Target",
    ),
    "solaredge_async._retry": ("RetryPolicy",),
    "solaredge_async._usage": (
        "RequestEvent",
        "Usage",
    ),
    "solaredge_async._windows": ("WindowCaps",),
    "solaredge_async.client": (
        "DEFAULT_BASE_URL",
        "SolarEdgeClient",
        "StateOfEnergyInput",
        "StateOfEnergyScale",
    ),
    "solaredge_async.errors": tuple(errors.__all__),  # every error class
    "solaredge_async.fleet": (
        "ClientPool",
        "ItemFailed",
        "ItemNotAttempted",
        "ItemSucceeded",
        "PoolSite",
        "PoolSweepPlan",
        "Row",
        "SiteNotInPoolError",
        "SiteDay",
        "SweepPlan",
        "SweepProgress",
        "SweepSpec",
        "TODAY",
        "WorkItem",
        "YESTERDAY",
        "flat_rows",
        "plan_pool_sweep",
        "plan_sweep",
        "pool_sweep",
        "sweep",
    ),
    "solaredge_async.limits._bucket": ("RateLimiter",),
    "solaredge_async.models": (
        "ActivationStatus",
        "Alert",
        "AlertComponent",
        "AlertStatus",
        "Consumption",
        "Device",
        "DeviceType",
        "EnvironmentalBenefits",
        "Location",
        "MeasurementSystem",
        "Measurements",
        "OverviewPerformance",
        "Performance",
        "Period",
        "PowerFlow",
        "Production",
        "Resolution",
        "Site",
        "SiteOverview",
        "SitesPage",
        "Telemetry",
        "TelemetrySeries",
        "Unit",
    ),
    "solaredge_async.oauth": (
        "OAuthClient",
        "RefreshingTokenProvider",
        "TokenSet",
        "authorize_url",
    ),
    "solaredge_async.transports._aiohttp": ("AiohttpTransport",),
    "solaredge_async.transports._fast": ("FastTransport",),
    "solaredge_async.transports._pools": ("PoolsTransport",),
}

_LAZY: Final = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted([*_LAZY, "__version__"])  # noqa: PLE0605 - built from the one list


__getattr__ = lazy_getattr(__name__, _LAZY)


def __dir__() -> list[str]:
    return __all__
