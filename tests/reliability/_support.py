"""Shared pieces of the reliability tests: one call per endpoint method, runners, checks."""

from __future__ import annotations

import inspect
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

import anyio
import httpx

from solaredge_async import SolarEdgeClient
from tests._clock import virtual_backend

T = TypeVar("T")

#: A site and a serial the calls use (any values the mocks answer for).
SITE = 1
OTHER_SITE = 2
SERIAL = "7F16E777-F1"
TZ = timezone(timedelta(hours=2))
#: A 6 h window (one request at QUARTER_HOUR) and a 24 h one (split into two).
START = datetime(2026, 5, 12, 0, 0, tzinfo=TZ)
END_6H = START + timedelta(hours=6)
END_24H = START + timedelta(hours=24)

Call = Callable[[SolarEdgeClient], Awaitable[object]]


async def collect(items: AsyncIterator[T]) -> list[T]:
    """Drain an async iterator into a list."""
    return [item async for item in items]


#: One representative call of every public endpoint method, by method name. Windowed
#: calls use `SITE`, whose zone the client knows (``site_timezones``), so the only
#: requests are the endpoint's own; `site_energy` and `inverter_telemetry` span 24 h at
#: quarter hours and are split into two concurrent requests.
CALLS: dict[str, Call] = {
    "get": lambda c: c.get("/sites/1/overview"),
    "sites": lambda c: collect(c.sites(page_size=2)),
    "site_pages": lambda c: collect(c.site_pages(page_size=2)),
    "alerts": lambda c: collect(c.alerts(page_size=2)),
    "site_alerts": lambda c: collect(c.site_alerts(SITE, only_open=True, page_size=2)),
    "site": lambda c: c.site(SITE),
    "site_timezone": lambda c: c.site_timezone(OTHER_SITE),
    "site_overview": lambda c: c.site_overview(SITE, start=START, end=END_6H),
    "overview_performance": lambda c: c.overview_performance(SITE, start=START, end=END_6H),
    "site_energy": lambda c: c.site_energy(SITE, start=START, end=END_24H),
    "site_power": lambda c: c.site_power(SITE, start=START, end=END_6H, unit="KW"),
    "devices": lambda c: c.devices(SITE, types=["INVERTER", "METER", "BATTERY"]),
    "environmental_benefits": lambda c: c.environmental_benefits(SITE, unit="METRIC"),
    "power_flow": lambda c: c.power_flow(SITE),
    "inverter_telemetry": lambda c: c.inverter_telemetry(SITE, start=START, end=END_24H),
    "meter_telemetry": lambda c: c.meter_telemetry(SITE),
    "storage_telemetry": lambda c: c.storage_telemetry(
        SITE, start=START, end=END_6H, resolution="HOUR"
    ),
    "device_metric": lambda c: c.device_metric(
        SITE, SERIAL, "meter_import_energy", start=START, end=END_6H
    ),
    "inverter_voltage": lambda c: c.inverter_voltage(SITE, SERIAL),
    "inverter_current": lambda c: c.inverter_current(SITE, SERIAL, start=START, end=END_6H),
    "inverter_frequency": lambda c: c.inverter_frequency(SITE, SERIAL),
    "inverter_power": lambda c: c.inverter_power(SITE, SERIAL, unit="W"),
    "inverter_energy": lambda c: c.inverter_energy(SITE, SERIAL, resolution="DAY"),
    "meter_metric": lambda c: c.meter_metric(SITE, SERIAL, "export", "power"),
    "storage_metric": lambda c: c.storage_metric(SITE, SERIAL, "charge_energy"),
    "storage_state_of_energy": lambda c: c.storage_state_of_energy(SITE, SERIAL),
}

#: The response shape each call parses (a key of the reference bodies).
SHAPES: dict[str, str] = {
    "get": "overview",
    "sites": "sites",
    "site_pages": "sites",
    "alerts": "alerts",
    "site_alerts": "alerts",
    "site": "site",
    "site_timezone": "site",
    "site_overview": "overview",
    "overview_performance": "overview_performance",
    "site_energy": "measurements",
    "site_power": "measurements",
    "devices": "devices",
    "environmental_benefits": "environmental_benefits",
    "power_flow": "power_flow",
    "inverter_telemetry": "telemetry",
    "meter_telemetry": "telemetry",
    "storage_telemetry": "telemetry",
    **{
        name: "measurements"
        for name in (
            "device_metric",
            "inverter_voltage",
            "inverter_current",
            "inverter_frequency",
            "inverter_power",
            "inverter_energy",
            "meter_metric",
            "storage_metric",
            "storage_state_of_energy",
        )
    },
}


#: Public coroutine methods that are not one endpoint: lifecycle, and fleet planning
#: (covered by the chaos sweeps of ``test_chaos.py``).
NOT_ENDPOINTS = frozenset({"aclose", "plan_sweep"})


def endpoint_methods() -> set[str]:
    """The public methods of `SolarEdgeClient` that talk to the API."""
    return {
        name
        for name, member in inspect.getmembers(SolarEdgeClient)
        if not name.startswith("_")
        and name not in NOT_ENDPOINTS
        and (inspect.iscoroutinefunction(member) or inspect.isasyncgenfunction(member))
    }


def run_virtual(backend: str, main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``main`` on ``backend`` (asyncio or trio) with an auto-jumping virtual clock."""
    name, options = virtual_backend(backend)
    return anyio.run(main, backend=name, backend_options=options)


def mock_client(
    handler: Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]],
    key: str,
    **kwargs: Any,
) -> SolarEdgeClient:
    """A client over an `httpx.MockTransport`, no rate limit unless asked, `SITE`'s zone known."""
    kwargs.setdefault("requests_per_minute", None)
    kwargs.setdefault("site_timezones", {SITE: "Europe/Berlin"})
    return SolarEdgeClient(api_key=key, transport=httpx.MockTransport(handler), **kwargs)


def exception_texts(exc: BaseException) -> Iterable[str]:
    """Every text an exception shows: message, repr, attributes, and its printed traceback."""
    yield str(exc)
    yield repr(exc)
    yield "".join(traceback.format_exception(exc))
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield str(current)
        yield repr(current)
        yield repr(getattr(current, "__dict__", {}))
        yield repr(getattr(current, "__notes__", ()))
        if isinstance(current, BaseExceptionGroup):
            stack.extend(current.exceptions)
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                stack.append(linked)
