"""Shared pieces of the reliability tests: one call per endpoint method, runners, checks."""

from __future__ import annotations

import inspect
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

import anyio
import httpx
import pytest

from solaredge_async import SolarEdgeClient
from solaredge_async.fleet import SweepSpec, plan_sweep
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
    "telemetry": lambda c: c.telemetry("meters", SITE, start=START, end=END_6H),
    "device_metric": lambda c: c.device_metric(
        SITE, SERIAL, "meter_import_energy", start=START, end=END_6H
    ),
    # Fleet planning: discovery (the site list), then windows per site zone.
    "plan_sweep": lambda c: plan_sweep(
        c, SweepSpec(what={"energy", "overview"}, start=START, end=END_24H), now=END_24H
    ),
}

#: The response shape each call parses (a key of the reference bodies).
SHAPES: dict[str, str] = {
    "get": "overview",
    "plan_sweep": "sites",
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
    "telemetry": "meters",
    **dict.fromkeys(
        ("device_metric",),
        "measurements",
    ),
}


#: Public coroutine methods that make no request.
NOT_ENDPOINTS = frozenset({"aclose", "budget", "cap_choice"})


#: A valid body of each response shape, as the simulator serves them.
REFERENCE: dict[str, str] = {
    "sites": (
        '{"sites":{"count":2,"site":[{"siteId":1,"name":"Utrecht Carport 0","peakPower":12.02,'
        '"installationDate":"2016-01-22T00:00:00+01:00","location":{"address":"89 Church Street",'
        '"city":"Utrecht","state":"","zip":"4689","country":"Netherlands",'
        '"timezone":"Europe/Amsterdam"},"activationStatus":"ACTIVE","note":""},{"siteId":2,'
        '"name":"Lyon Barn 1","peakPower":9.82,"installationDate":"2020-08-10T00:00:00+02:00",'
        '"location":{"address":"18 Station Street","city":"Lyon","state":"","zip":"50851",'
        '"country":"France","timezone":"Europe/Paris"},"activationStatus":"ACTIVE","note":""}]}}'
    ),
    "site": (
        '{"siteId":2,"name":"Utrecht Carport 0","peakPower":12.02,'
        '"installationDate":"2016-01-22T00:00:00+01:00","location":{"address":"89 Church Street",'
        '"city":"Utrecht","state":"","zip":"4689","country":"Netherlands",'
        '"timezone":"Europe/Amsterdam"},"activationStatus":"ACTIVE","note":"","accountId":50000,'
        '"lastUpdateTime":"2026-05-12T13:45:00+02:00"}'
    ),
    "overview": (
        '{"siteId":1,"production":{"total":21798.0,"unit":"WH","toSelfConsumption":3413.0,'
        '"toStorage":18385.0,"toGrid":0.0},"consumption":{"total":5454.0,"unit":"WH",'
        '"fromPv":3413.0,"fromStorage":0.0,"fromGrid":2041.0}}'
    ),
    "overview_performance": '{"specificYield":1.813,"performanceRatio":0.819}',
    "measurements": (
        '{"period":{"from":"2026-05-12T00:00:00+02:00","to":"2026-05-12T06:00:00+02:00"},'
        '"unit":"WH","resolution":"QUARTER_HOUR","values":[{"timestamp":'
        '"2026-05-12T05:00:00+02:00","value":697.0},{"timestamp":"2026-05-12T05:15:00+02:00",'
        '"value":612.0},{"timestamp":"2026-05-12T05:30:00+02:00","value":null}]}'
    ),
    "devices": (
        '[{"type":"INVERTER","serialNumber":"CD7B22A7","manufacturer":"SolarEdge",'
        '"partNumber":"SE7600H-RW000BNN4","createdAt":"2016-01-22T11:00:00+01:00",'
        '"firmwareVersion":"4.22.11","connectedTo":null,"active":true,"nameplate":0,'
        '"name":"Inverter 1","form":null,"communicationType":"CELLULAR",'
        '"connectedOptimizers":16},{"type":"METER","serialNumber":"284722837",'
        '"manufacturer":"SolarEdge","partNumber":"SE-MTR-3Y-400V-A",'
        '"createdAt":"2016-01-22T11:00:00+01:00","connectedTo":"CD7B22A7","active":true,'
        '"name":"Consumption Meter","meterType":"CONSUMPTION"}]'
    ),
    "alerts": (
        '[{"alertId":70000002,"siteId":1,"type":"PANEL_COMMUNICATION_FAULT",'
        '"category":"EQUIPMENT","impact":4,"status":"CLOSED",'
        '"firstTrigger":"2024-01-27T06:18:39+01:00","lastTrigger":"2024-01-27T09:26:22+01:00",'
        '"component":{"name":"Inverter 1","serialNumber":"CD7B22A7"},"errorCodes":[106]}]'
    ),
    "environmental_benefits": (
        '{"siteId":1,"unit":"METRIC","co2Emissions":46641.77,'
        '"treesPlanted":2142.48,"lightBulbs":5324.4,"evMiles":384794.59}'
    ),
    "power_flow": (
        '{"siteCurrentPowerFlow":{"updateRefreshRate":3,"unit":"kW","connections":'
        '[{"from":"PV","to":"Load"}],"GRID":{"status":"Active","currentPower":0.0},'
        '"LOAD":{"status":"Active","currentPower":0.524},"PV":{"status":"Active",'
        '"currentPower":3.234},"STORAGE":{"status":"Charging","currentPower":2.712,'
        '"chargeLevel":89.2,"critical":false}}}'
    ),
    "inverters": (
        '{"period":{"from":"2026-05-12T00:00:00+02:00","to":"2026-05-12T06:00:00+02:00"},'
        '"resolution":"QUARTER_HOUR","inverters":{"CD7B22A7":{"power":{"unit":"W","values":'
        '[{"timestamp":"2026-05-12T05:00:00+02:00","value":1200.0},{"timestamp":'
        '"2026-05-12T05:15:00+02:00","value":1060.0}]},"energy":{"unit":"WH","values":'
        '[{"timestamp":"2026-05-12T05:00:00+02:00","value":300.0}]}}}}'
    ),
    "meters": (
        '{"period":{"from":"2026-05-12T00:00:00+02:00","to":"2026-05-12T06:00:00+02:00"},'
        '"meters":{"284722837":{"importPower":{"unit":"W","values":[{"timestamp":'
        '"2026-05-12T05:00:00+02:00","value":5.0}]}}}}'
    ),
    "storage": (
        '{"storage":{"19932CB2":{"stateOfEnergy":{"unit":"PERCENTAGE","values":[{"timestamp":'
        '"2026-05-12T05:00:00+02:00","value":0.2682}]}}}}'
    ),
}


def endpoint_methods() -> set[str]:
    """The public methods of `SolarEdgeClient` that talk to the API, and `plan_sweep`.

    `solaredge_async.fleet.plan_sweep` is a function over a client (the client knows
    nothing of fleets); it reads the site list, so it is fed the same bad answers.
    """
    return {
        name
        for name, member in inspect.getmembers(SolarEdgeClient)
        if not name.startswith("_")
        and name not in NOT_ENDPOINTS
        and (inspect.iscoroutinefunction(member) or inspect.isasyncgenfunction(member))
    } | {"plan_sweep"}


def run_virtual(backend: str, main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``main`` on ``backend`` (asyncio or trio) with an auto-jumping virtual clock."""
    name, options = virtual_backend(backend)
    return anyio.run(main, backend=name, backend_options=options)


def mock_client(
    handler: Callable[[httpx.Request], httpx.Response]
    | Callable[[httpx.Request], Coroutine[None, None, httpx.Response]],
    key: str,
    **kwargs: Any,
) -> SolarEdgeClient:
    """A client over an `httpx.MockTransport`, no rate limit unless asked, `SITE`'s zone known."""
    kwargs.setdefault("requests_per_minute", None)
    kwargs.setdefault("site_timezones", {SITE: "Europe/Berlin"})
    return SolarEdgeClient(api_key=key, transport=httpx.MockTransport(handler), **kwargs)


def httpcore_pools(client: SolarEdgeClient) -> list[Any]:
    """The httpcore connection pools behind a client's own transport (one or several)."""
    transport = client._http._transport
    return [t._pool for t in getattr(transport, "pools", [transport])]


def pool_state(client: SolarEdgeClient) -> tuple[int, int]:
    """(connections in use, requests queued or assigned) over the client's httpx pools."""
    transport = client._http._transport
    if hasattr(transport, "busy"):  # FastTransport, PoolsTransport
        return transport.busy()
    busy = queued = 0
    for pool in httpcore_pools(client):
        busy += sum(not (c.is_idle() or c.is_closed()) for c in pool.connections)
        queued += len(pool._requests)
    return busy, queued


#: httpx's response iterators are async generators nested in one another; when a body is
#: abandoned (the size cap, a cancellation) the outer one is closed and trio then warns
#: about the inner ones being finalised by the garbage collector. That is httpx's
#: (encode/httpx#3593, #3777), not a leak: the tests assert the streams are closed and the
#: pools idle.
HTTPX_INNER_GENERATORS = pytest.mark.filterwarnings(
    "ignore:Exception ignored in. <async_generator object "
    "(Response.aiter_raw|BoundAsyncStream.__aiter__|AsyncResponseStream.__aiter__|"
    "PoolByteStream.__aiter__|HTTP11ConnectionByteStream.__aiter__|_Counted.__aiter__)"
    ":pytest.PytestUnraisableExceptionWarning"
)


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
        stack.extend(e for e in (current.__cause__, current.__context__) if e is not None)
