"""Client behaviour driven by the endpoint table and its settings.

Repeated query parameters in ``get``, ``only-open`` on every alert page, the
state-of-energy scale (reference §6), resolution overrides by operation name, the
one ``telemetry`` call, and named flat rows.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from urllib.parse import parse_qsl

import httpx
import pytest

from solaredge_async import (
    ConfigurationError,
    InvalidRequestError,
    ItemSucceeded,
    Measurements,
    Row,
    SolarEdgeClient,
    WorkItem,
    flat_rows,
)

pytestmark = pytest.mark.anyio

HEADERS = {"x-ratelimit-limit-minute": "1000", "x-ratelimit-remaining-minute": "999"}
STAMP = "2026-05-12T10:15:00+02:00"


class Api:
    """Answers every call with a state-of-energy series (or telemetry) of given values."""

    def __init__(self, values: list[float | None], unit: str = "PERCENTAGE") -> None:
        self.values = values
        self.unit = unit
        self.requests: list[httpx.Request] = []

    def series(self) -> dict[str, object]:
        """One series in the API's shape."""
        return {
            "unit": self.unit,
            "values": [{"timestamp": STAMP, "value": v} for v in self.values],
        }

    def __call__(self, request: httpx.Request) -> httpx.Response:
        """Answer one request."""
        self.requests.append(request)
        path = request.url.path
        body: object
        if path.endswith("/storage/telemetry"):
            body = {
                "storage": {"BAT1": {"stateOfEnergy": self.series(), "chargePower": self.series()}}
            }
        elif path.endswith(("/alerts", "/devices")):
            body = []
        else:
            body = {**self.series(), "resolution": "QUARTER_HOUR"}
        return httpx.Response(200, content=json.dumps(body).encode(), headers=HEADERS)

    def query(self, index: int = -1) -> list[tuple[str, str]]:
        """The query of a request, in order."""
        return parse_qsl(self.requests[index].url.query.decode())


def _client(api: Api, **settings: object) -> SolarEdgeClient:
    return SolarEdgeClient(
        api_key="k",
        transport=httpx.MockTransport(api),
        requests_per_minute=None,
        **settings,  # type: ignore[arg-type]
    )


async def test_get_sends_a_list_as_repeated_parameters() -> None:
    """``types=[...]`` goes out as types=INVERTER&types=METER, a string as one value."""
    api = Api([])
    async with _client(api) as client:
        await client.get("/sites/1/devices", {"types": ["INVERTER", "METER"], "x": "1"})
        assert api.query() == [("types", "INVERTER"), ("types", "METER"), ("x", "1")]
        await client.get("/sites/1/devices", {"types": ("BATTERY",)})
        assert api.query() == [("types", "BATTERY")]
        with pytest.raises(InvalidRequestError, match=r"params\['types'\]"):
            await client.get("/sites/1/devices", {"types": [1, 2]})  # type: ignore[list-item]
    assert len(api.requests) == 2


@pytest.mark.parametrize(("only_open", "sent"), [(None, "false"), (True, "true"), (False, "false")])
async def test_site_alerts_always_send_only_open(only_open: bool | None, sent: str) -> None:
    """``only-open`` goes out on every page, ``false`` by default (its server default is unknown)."""
    api = Api([])
    async with _client(api) as client:
        kwargs = {} if only_open is None else {"only_open": only_open}
        _ = [a async for a in client.site_alerts(7, **kwargs)]
        _ = [a async for a in client.alerts(**kwargs)]
    for index in (0, 1):
        assert ("only-open", sent) in api.query(index)


@pytest.mark.parametrize(
    ("values", "unit", "scale", "source", "expected"),
    [
        ([0.8125, None], "PERCENTAGE", "as_sent", "auto", [0.8125, None]),
        ([0.8125, None], "PERCENTAGE", "percent", "auto", [81.25, None]),
        ([0.5, 1.0], "PERCENTAGE", "fraction", "auto", [0.5, 1.0]),
        ([65.2, 0.5], "PERCENTAGE", "fraction", "auto", [0.652, 0.005]),
        ([65.2], "PERCENTAGE", "percent", "auto", [65.2]),
        ([0.5], "PERCENTAGE_100", "fraction", "auto", [0.005]),
        ([0.5], "PERCENTAGE", "fraction", "percent", [0.005]),
        ([50.0], "PERCENTAGE", "percent", "fraction", [5000.0]),
    ],
)
async def test_state_of_energy_scale(
    values: list[float | None], unit: str, scale: str, source: str, expected: list[float | None]
) -> None:
    """The device metric and storage telemetry come on the chosen scale; other series as sent."""
    api = Api(values, unit)
    async with _client(api, state_of_energy=scale, state_of_energy_input=source) as client:
        soe = await client.device_metric(1, "BAT1", "storage_state_of_energy")
        tel = await client.telemetry("storage", 1)
        power = await client.device_metric(1, "BAT1", "storage_charge_power")
    assert soe.values == pytest.approx(expected)
    assert tel.devices["BAT1"]["stateOfEnergy"].values == pytest.approx(expected)
    assert tel.devices["BAT1"]["chargePower"].values == tuple(values)
    assert power.values == tuple(values)


@pytest.mark.parametrize(
    "settings",
    [{"state_of_energy": "0-100"}, {"state_of_energy_input": "guess"}, {"state_of_energy": None}],
)
def test_state_of_energy_settings_are_checked(settings: dict[str, object]) -> None:
    """An unknown scale is refused when the client is made, naming the choices."""
    with pytest.raises(ConfigurationError, match="must be one of"):
        _client(Api([]), **settings)


async def test_resolutions_are_overridden_by_operation_name() -> None:
    """``resolutions={"power": [...]}`` widens that operation only; unknown names refused."""
    api = Api([1.0])
    async with _client(api, resolutions={"power": ["DAY"]}) as client:
        assert client.resolutions["power"] == {"DAY"}
        assert "TOTAL" in client.resolutions["energy"]
        await client.site_power(1, resolution="DAY")
        assert ("resolution", "DAY") in api.query()
        with pytest.raises(InvalidRequestError, match="resolution must be one of DAY"):
            await client.site_power(1, resolution="HOUR")
        with pytest.raises(InvalidRequestError, match="resolution must be one of"):
            await client.device_metric(1, "SN", "inverter_voltage", resolution="TOTAL")
    with pytest.raises(ConfigurationError, match="unknown operation 'telemetry'.*known: energy"):
        _client(api, resolutions={"telemetry": ["DAY"]})


async def test_telemetry_takes_a_family() -> None:
    """``telemetry(family, site)`` is the one bulk call; an unknown family is refused unsent."""
    api = Api([0.5])
    async with _client(api) as client:
        tel = await client.telemetry("storage", 1, resolution="HOUR")
        assert tel.family == "storage"
        assert api.requests[-1].url.path == "/v2/sites/1/storage/telemetry"
        with pytest.raises(InvalidRequestError, match="family must be one of"):
            await client.telemetry("batteries", 1)  # type: ignore[arg-type]
    assert len(api.requests) == 1


def test_flat_rows_are_named_records() -> None:
    """A row has named fields and is still the plain tuple the writers stream."""
    stamp = datetime.fromisoformat(STAMP)
    record = Measurements(unit="VOLT", resolution="HOUR", timestamps=(stamp,), values=(231.5,))
    item = WorkItem(kind="inverter_voltage", site_id=7, serial="SN-1", resolution="HOUR")
    (row,) = flat_rows(ItemSucceeded(item=item, record=record))
    assert isinstance(row, Row)
    assert (row.site_id, row.device_serial, row.source, row.metric) == (
        7,
        "SN-1",
        "inverters/voltage",
        "voltage",
    )
    # Voltage stamps mark the bucket end: the row starts one bucket earlier.
    start = (stamp - timedelta(hours=1)).isoformat()
    assert (row.period_start, row.period_end) == (start, STAMP)
    assert (row.value, row.unit, row.resolution) == (231.5, "VOLT", "HOUR")
    assert tuple(row) == (
        7,
        "SN-1",
        "inverters/voltage",
        "voltage",
        "HOUR",
        start,
        STAMP,
        231.5,
        "VOLT",
        None,
    )
