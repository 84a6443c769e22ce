"""Every endpoint method: the request it sends and the record it parses (strictly)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

import httpx
import pytest

from solaredge_async import (
    DEVICE_METRICS,
    InvalidRequestError,
    Resolution,
    SolarEdgeClient,
    SpanTooLongError,
    Unit,
)

pytestmark = pytest.mark.anyio

BERLIN = ZoneInfo("Europe/Berlin")
SITE = {
    "siteId": 4815162,
    "name": "Example Roof",
    "peakPower": 9.9,
    "installationDate": "2023-04-17T00:00:00+02:00",
    "location": {
        "address": "Musterstr. 1",
        "city": "Musterstadt",
        "state": "",
        "zip": "12345",
        "country": "Germany",
        "timezone": "Europe/Berlin",
    },
    "activationStatus": "ACTIVE",
    "note": "",
}
HEADERS = {"x-ratelimit-limit-minute": "1000", "x-ratelimit-remaining-minute": "999"}


def _quarter_hours(lo: datetime, hi: datetime) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    t = lo.astimezone(UTC)
    end = hi.astimezone(UTC)
    while t < end:
        local = t.astimezone(BERLIN)
        out.append(
            {"timestamp": local.isoformat(), "value": float(local.hour * 100 + local.minute)}
        )
        t += timedelta(minutes=15)
    return out


class Server:
    """A tiny strict fake of the API for one Berlin site."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        """Answer one request."""
        self.requests.append(request)
        path = request.url.path.removeprefix("/v2")
        q = dict(parse_qsl(request.url.query.decode()))
        body: object
        if path == "/sites":
            body = {"sites": {"count": 1, "site": [SITE]}}
        elif path == "/sites/4815162":
            body = SITE
        elif path.endswith("/overview"):
            body = {
                "siteId": 4815162,
                "production": {
                    "total": 21873.0,
                    "unit": "WH",
                    "toSelfConsumption": None,
                    "toStorage": None,
                    "toGrid": None,
                },
                "consumption": {
                    "total": None,
                    "unit": "WH",
                    "fromPv": None,
                    "fromStorage": None,
                    "fromGrid": None,
                },
            }
        elif path.endswith(("/energy", "/power", "/voltage", "/state-of-energy")):
            if "from" in q:
                lo = datetime.fromisoformat(q["from"]).replace(tzinfo=BERLIN)
                hi = datetime.fromisoformat(q["to"]).replace(tzinfo=BERLIN)
            else:
                lo = datetime(2026, 5, 12, tzinfo=BERLIN)
                hi = datetime(2026, 5, 12, 14, 37, 12, tzinfo=BERLIN)
            body = {
                "period": {"from": lo.isoformat(), "to": hi.isoformat()},
                "unit": q.get("unit", "WH"),
                "resolution": q.get("resolution", "QUARTER_HOUR"),
                "values": _quarter_hours(lo, hi),
            }
        elif path.endswith("/devices"):
            body = [
                {
                    "type": "INVERTER",
                    "serialNumber": "7A1B2C3D-4E",
                    "manufacturer": "SolarEdge",
                    "partNumber": "SE8000H",
                    "createdAt": "2023-04-17T09:12:44+02:00",
                    "firmwareVersion": "4.20.1",
                    "connectedTo": None,
                    "active": True,
                    "nameplate": 0,
                    "name": "Inverter 1",
                    "form": None,
                    "communicationType": "ETHERNET",
                    "firmware": "4.20.1.9.100.1234.2.100.1500",
                    "connectedOptimizers": 22,
                }
            ]
        elif path.endswith("/alerts"):
            body = []
        elif path.endswith("/telemetry"):
            body = {
                "inverters": {
                    "7A1B2C3D-4E": {
                        "power": {
                            "unit": "W",
                            "values": [{"timestamp": "2026-05-12T10:15:00+02:00", "value": 12.5}],
                        }
                    }
                }
            }
        else:
            return httpx.Response(
                404,
                json={"title": "Not Found", "detail": "Unknown endpoint"},
                headers={"content-type": "application/problem+json", **HEADERS},
            )
        return httpx.Response(200, content=json.dumps(body).encode(), headers=HEADERS)


@pytest.fixture
def server() -> Server:
    """A fresh fake API."""
    return Server()


@pytest.fixture
async def client(server):
    """A strict client over the fake API, no rate limit, documented window caps."""
    async with SolarEdgeClient(
        api_key="k",
        transport=httpx.MockTransport(server),
        requests_per_minute=None,
        strict=True,
        probe_caps=False,
    ) as c:
        yield c


def _query(request: httpx.Request) -> list[tuple[str, str]]:
    return parse_qsl(request.url.query.decode())


async def test_sites_reads_the_nested_envelope_and_stops_on_a_short_page(client, server):
    """/sites: page size always sent; one short page means one call; zones remembered."""
    sites = [s async for s in client.sites()]
    assert [s.site_id for s in sites] == [4815162]
    assert sites[0].location.timezone == "Europe/Berlin"
    assert sites[0].installation_date == datetime(2023, 4, 17, tzinfo=BERLIN).astimezone(
        sites[0].installation_date.tzinfo
    )
    assert len(server.requests) == 1
    assert _query(server.requests[0]) == [("page", "1"), ("sites-in-page", "1000")]
    # The zone came with the list: a windowed call needs no /sites/{id} lookup.
    await client.site_energy(4815162, start=date(2026, 5, 1), end=date(2026, 5, 1))
    assert not any(r.url.path == "/v2/sites/4815162" for r in server.requests)


async def test_site_details_and_zone_lookup_once(client, server):
    """The zone of an unknown site is looked up with one call, then cached."""
    await client.site_energy(4815162, start=date(2026, 5, 1), end=date(2026, 5, 1))
    await client.site_power(4815162, start=date(2026, 5, 2), end=date(2026, 5, 2))
    lookups = [r for r in server.requests if r.url.path == "/v2/sites/4815162"]
    assert len(lookups) == 1


async def test_overview_default_and_windowed(client, server):
    """No window: no from/to. A date window: offset-free site-local from/to."""
    ov = await client.site_overview(4815162)
    assert ov.production.total == 21873.0
    assert ov.production.unit == Unit.WH
    assert ov.consumption.from_grid is None
    assert _query(server.requests[-1]) == []
    await client.site_overview(4815162, start=date(2026, 5, 1), end=date(2026, 5, 3))
    assert _query(server.requests[-1]) == [
        ("from", "2026-05-01T00:00:00"),
        ("to", "2026-05-04T00:00:00"),
    ]


async def test_energy_default_window_with_nanosecond_period(server):
    """A defaulted energy call sends nothing but what was asked and parses null buckets."""

    def handler(request: httpx.Request) -> httpx.Response:
        server.requests.append(request)
        body = (
            b'{"period":{"from":"2026-05-12T00:00:00+02:00","to":"2026-05-12T14:37:12.123456789+02:00"},'
            b'"unit":"WH","resolution":"QUARTER_HOUR","values":[{"timestamp":"2026-05-12T00:00:00+02:00","value":null},'
            b'{"timestamp":"2026-05-12T05:15:00+02:00","value":0.0},{"timestamp":"2026-05-12T12:00:00+02:00","value":1604.0}]}'
        )
        return httpx.Response(200, content=body, headers=HEADERS)

    async with SolarEdgeClient(
        api_key="k", transport=httpx.MockTransport(handler), requests_per_minute=None, strict=True
    ) as c:
        m = await c.site_energy(4815162, unit="WH")
    assert _query(server.requests[0]) == [("unit", "WH")]
    assert m.values == (None, 0.0, 1604.0)
    assert m.period.end.microsecond == 123456
    assert m.timestamps[1].utcoffset() == timedelta(hours=2)


async def test_day_of_quarter_hours_is_split_at_the_cap_and_stitched(client, server):
    """A day at QUARTER_HOUR (12 h cap) takes two calls and gives 96 buckets once each."""
    m = await client.site_energy(
        4815162, start=date(2026, 5, 12), end=date(2026, 5, 12), resolution="QUARTER_HOUR"
    )
    calls = [r for r in server.requests if r.url.path.endswith("/energy")]
    assert len(calls) == 2
    assert len(m.values) == 96
    assert len({t.astimezone(UTC) for t in m.timestamps}) == 96
    assert m.period.start == datetime(2026, 5, 12, tzinfo=BERLIN)


@pytest.mark.parametrize(("day", "buckets"), [(date(2026, 10, 25), 100), (date(2026, 3, 29), 92)])
async def test_dst_days_lose_and_double_nothing(client, server, day, buckets):
    """Fall-back day: 100 quarter hours; spring-forward: 92; every instant once."""
    m = await client.site_energy(4815162, start=day, end=day, resolution=Resolution.QUARTER_HOUR)
    instants = [t.astimezone(UTC) for t in m.timestamps]
    assert len(instants) == buckets
    assert instants == sorted(set(instants))


async def test_split_off_refuses_before_spending(server):
    """split_windows=False: a span over the cap raises SpanTooLongError, no request."""
    async with SolarEdgeClient(
        api_key="k",
        transport=httpx.MockTransport(server),
        requests_per_minute=None,
        split_windows=False,
        site_timezones={4815162: "Europe/Berlin"},
    ) as c:
        with pytest.raises(SpanTooLongError, match="12:00:00|12 h"):
            await c.site_energy(
                4815162, start=date(2026, 5, 1), end=date(2026, 5, 2), resolution="QUARTER_HOUR"
            )
    assert server.requests == []


async def test_devices_types_are_repeated(client, server):
    """Types is sent as a repeated parameter; device fields parse."""
    devices = await client.devices(4815162, types=["INVERTER", "METER"])
    assert _query(server.requests[-1]) == [("types", "INVERTER"), ("types", "METER")]
    assert devices[0].serial_number == "7A1B2C3D-4E"
    assert devices[0].connected_optimizers == 22


async def test_alerts_send_only_open_and_page_size(client, server):
    """Site alerts: page, size and only-open go out; an empty list ends paging."""
    alerts = [a async for a in client.site_alerts(4815162, only_open=True)]
    assert alerts == []
    assert _query(server.requests[-1]) == [
        ("page", "1"),
        ("alerts-in-page", "100"),
        ("only-open", "true"),
    ]


async def test_inverter_telemetry_bulk_map(client, server):
    """Bulk telemetry is keyed by serial then metric."""
    t = await client.telemetry("inverters", 4815162)
    assert t.devices["7A1B2C3D-4E"]["power"].values == (12.5,)
    assert server.requests[-1].url.path == "/v2/sites/4815162/inverters/telemetry"


async def test_device_metric_url_encodes_serials(client, server):
    """Serials are URL-encoded into the path."""
    await client.device_metric(4815162, "7F16/E777 F1", "inverter_voltage")
    assert (
        server.requests[-1]
        .url.raw_path.decode()
        .startswith("/v2/sites/4815162/inverters/7F16%2FE777%20F1/voltage")
    )


@pytest.mark.parametrize("metric", sorted(DEVICE_METRICS))
async def test_every_device_metric_has_a_kebab_case_path(client, server, metric):
    """Each single-metric path of the reference is reachable through device_metric."""
    spec = DEVICE_METRICS[metric]
    try:
        await client.device_metric(4815162, "SN1", metric)
    except Exception:
        pass
    path = server.requests[-1].url.path
    assert path == "/v2" + spec.render(4815162, "SN1")
    assert path.startswith(f"/v2/sites/4815162/{spec.family}/SN1/")
    assert spec.path == spec.path.lower()
    assert "_" not in spec.path.replace("{site_id}", "")


BAD_CALLS = [
    ("site_id 0", lambda c: c.site(0), "positive integer"),
    ("site_id negative", lambda c: c.site_energy(-3), "positive integer"),
    ("site_id str", lambda c: c.site_overview("12"), "positive integer"),
    ("site_id bool", lambda c: c.devices(True), "positive integer"),
    ("site_id float", lambda c: c.site(1.5), "positive integer"),
    ("only start", lambda c: c.site_energy(1, start=date(2026, 1, 1)), "both"),
    (
        "end before start",
        lambda c: c.site_energy(1, start=date(2026, 1, 2), end=date(2026, 1, 1)),
        "after start",
    ),
    (
        "mixed naive aware",
        lambda c: c.site_power(1, start=datetime(2026, 1, 1), end=datetime(2026, 1, 2, tzinfo=UTC)),
        "naive",
    ),
    ("power at DAY", lambda c: c.site_power(1, resolution="DAY"), "resolution must be one of"),
    (
        "unknown resolution",
        lambda c: c.site_energy(1, resolution="MINUTE"),
        "resolution must be one of",
    ),
    ("energy unit of power", lambda c: c.site_energy(1, unit="KW"), "unit must be one of"),
    ("power unit of energy", lambda c: c.site_power(1, unit="KWH"), "unit must be one of"),
    (
        "voltage takes no unit",
        lambda c: c.device_metric(1, "SN", "inverter_voltage", unit="W"),
        "takes no unit",
    ),
    (
        "unknown metric",
        lambda c: c.device_metric(1, "SN", "inverter_temperature"),
        "unknown metric",
    ),
    ("empty serial", lambda c: c.device_metric(1, "", "inverter_voltage"), "serial"),
    ("control serial", lambda c: c.device_metric(1, "SN\r\nX: y", "inverter_voltage"), "control"),
    ("unknown device type", lambda c: c.devices(1, types=["SOLAR_PANEL"]), "device type"),
    ("types as a string", lambda c: c.devices(1, types="INVERTER"), "collection"),
    ("environmental unit", lambda c: c.environmental_benefits(1, unit="SI"), "METRIC"),
    ("bad get path", lambda c: c.get("sites/1"), "start with"),
    ("get with query", lambda c: c.get("/sites/1?x=1"), "params"),
]


async def _drain(obj):
    if hasattr(obj, "__anext__"):
        return [x async for x in obj]
    return await obj


@pytest.mark.parametrize(("name", "call", "match"), BAD_CALLS, ids=[b[0] for b in BAD_CALLS])
async def test_impossible_requests_are_refused_before_any_call(client, server, name, call, match):
    """Each invalid request raises InvalidRequestError naming what is allowed; nothing is sent."""
    with pytest.raises(InvalidRequestError, match=match):
        await _drain(call(client))
    assert server.requests == []
    assert client.usage.credits == 0


@pytest.mark.parametrize("size", [0, 1001, -1, True])
async def test_page_size_out_of_range(client, server, size):
    """sites-in-page must be 1..1000."""
    with pytest.raises(InvalidRequestError, match="1 to 1000"):
        await _drain(client.sites(page_size=size))
    assert server.requests == []
