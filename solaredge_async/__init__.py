"""solaredge_async: an asyncio-first fleet client for the SolarEdge Monitoring API V2.

Works under asyncio and trio (through anyio). The public API::

    from solaredge_async import SolarEdgeClient

    async with SolarEdgeClient(api_key="...") as client:
        async for site in client.sites():
            ...

Names are imported lazily on first use, so ``import solaredge_async`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from solaredge_async._version import __version__

if TYPE_CHECKING:
    from solaredge_async._retry import RetryPolicy
    from solaredge_async._usage import RequestEvent, Usage
    from solaredge_async._windows import WindowCaps
    from solaredge_async.client import DEFAULT_BASE_URL, DEVICE_METRICS, SolarEdgeClient
    from solaredge_async.errors import (
        APIStatusError,
        AuthenticationError,
        BadRequestError,
        ClientClosedError,
        ConfigurationError,
        GoneError,
        InvalidRequestError,
        NotFoundError,
        OAuthError,
        PermissionDeniedError,
        QuotaExhaustedError,
        RateLimitedError,
        RequestTimeoutError,
        ResponseValidationError,
        ServerError,
        SolarEdgeError,
        SpanTooLongError,
        TransportError,
    )
    from solaredge_async.fleet import (
        TODAY,
        YESTERDAY,
        ItemFailed,
        ItemNotAttempted,
        ItemSucceeded,
        SiteDay,
        SweepPlan,
        SweepProgress,
        SweepSpec,
        WorkItem,
        flat_rows,
        plan_sweep,
        sweep,
    )
    from solaredge_async.limits._bucket import RateLimiter
    from solaredge_async.models import (
        ActivationStatus,
        Alert,
        AlertComponent,
        AlertStatus,
        Consumption,
        Device,
        DeviceType,
        EnvironmentalBenefits,
        Location,
        Measurements,
        MeasurementSystem,
        OverviewPerformance,
        Performance,
        Period,
        PowerFlow,
        Production,
        Resolution,
        Site,
        SiteOverview,
        SitesPage,
        Telemetry,
        TelemetrySeries,
        Unit,
    )
    from solaredge_async.oauth import (
        OAuthClient,
        RefreshingTokenProvider,
        TokenSet,
        authorize_url,
    )
    from solaredge_async.transports._aiohttp import AiohttpTransport
    from solaredge_async.transports._fast import FastTransport
    from solaredge_async.transports._pools import PoolsTransport

_LAZY: dict[str, str] = {
    "AiohttpTransport": "solaredge_async.transports._aiohttp",
    "FastTransport": "solaredge_async.transports._fast",
    "PoolsTransport": "solaredge_async.transports._pools",
    "RateLimiter": "solaredge_async.limits._bucket",
    "RetryPolicy": "solaredge_async._retry",
    "WindowCaps": "solaredge_async._windows",
    "RequestEvent": "solaredge_async._usage",
    "Usage": "solaredge_async._usage",
    "DEFAULT_BASE_URL": "solaredge_async.client",
    "DEVICE_METRICS": "solaredge_async.client",
    "SolarEdgeClient": "solaredge_async.client",
    **dict.fromkeys(
        [
            "APIStatusError",
            "AuthenticationError",
            "BadRequestError",
            "ClientClosedError",
            "ConfigurationError",
            "GoneError",
            "InvalidRequestError",
            "NotFoundError",
            "OAuthError",
            "PermissionDeniedError",
            "QuotaExhaustedError",
            "RateLimitedError",
            "RequestTimeoutError",
            "ResponseValidationError",
            "ServerError",
            "SolarEdgeError",
            "SpanTooLongError",
            "TransportError",
        ],
        "solaredge_async.errors",
    ),
    **dict.fromkeys(
        [
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
        ],
        "solaredge_async.models",
    ),
    **dict.fromkeys(
        (
            "ItemFailed",
            "ItemNotAttempted",
            "ItemSucceeded",
            "SiteDay",
            "SweepPlan",
            "SweepProgress",
            "SweepSpec",
            "TODAY",
            "WorkItem",
            "YESTERDAY",
            "flat_rows",
            "plan_sweep",
            "sweep",
        ),
        "solaredge_async.fleet",
    ),
    **dict.fromkeys(
        ("OAuthClient", "RefreshingTokenProvider", "TokenSet", "authorize_url"),
        "solaredge_async.oauth",
    ),
}

__all__ = [
    "DEFAULT_BASE_URL",
    "DEVICE_METRICS",
    "TODAY",
    "YESTERDAY",
    "APIStatusError",
    "ActivationStatus",
    "AiohttpTransport",
    "Alert",
    "AlertComponent",
    "AlertStatus",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ConfigurationError",
    "Consumption",
    "Device",
    "DeviceType",
    "EnvironmentalBenefits",
    "FastTransport",
    "GoneError",
    "InvalidRequestError",
    "ItemFailed",
    "ItemNotAttempted",
    "ItemSucceeded",
    "Location",
    "MeasurementSystem",
    "Measurements",
    "NotFoundError",
    "OAuthClient",
    "OAuthError",
    "OverviewPerformance",
    "Performance",
    "Period",
    "PermissionDeniedError",
    "PoolsTransport",
    "PowerFlow",
    "Production",
    "QuotaExhaustedError",
    "RateLimitedError",
    "RateLimiter",
    "RefreshingTokenProvider",
    "RequestEvent",
    "RequestTimeoutError",
    "Resolution",
    "ResponseValidationError",
    "RetryPolicy",
    "ServerError",
    "Site",
    "SiteDay",
    "SiteOverview",
    "SitesPage",
    "SolarEdgeClient",
    "SolarEdgeError",
    "SpanTooLongError",
    "SweepPlan",
    "SweepProgress",
    "SweepSpec",
    "Telemetry",
    "TelemetrySeries",
    "TokenSet",
    "TransportError",
    "Unit",
    "Usage",
    "WindowCaps",
    "WorkItem",
    "__version__",
    "authorize_url",
    "flat_rows",
    "plan_sweep",
    "sweep",
]


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'solaredge_async' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
