"""Tests for the converters: every §11 body through the strict parser, modes, errors."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solaredge_async.converters import (
    MAX_ERRORS,
    ResponseParser,
    _decoding,
    _series,
    decode_json,
    make_converter,
    parse_timestamp,
)
from solaredge_async.errors import ResponseValidationError
from solaredge_async.models import (
    ActivationStatus,
    AlertStatus,
    DeviceType,
    Location,
    Measurements,
    Resolution,
    Site,
    Telemetry,
    Unit,
)
from solaredge_async.models._json import FrozenDict

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

STRICT = ResponseParser(strict=True)
LENIENT = ResponseParser()
CEST = timezone(timedelta(hours=2))
PST = timezone(timedelta(hours=-8))

# --- the reference's §11 bodies (reflowed) ------------------------------------------

SITES = """{"sites":{"count":1,"site":[{"siteId":4815162,"name":"Example Roof","peakPower":9.9,
"installationDate":"2023-04-17T00:00:00+02:00","location":{"address":"Musterstr. 1",
"city":"Musterstadt","state":"","zip":"12345","country":"Germany",
"timezone":"Europe/Berlin"},"activationStatus":"ACTIVE","note":""}]}}"""

OVERVIEW = """{"siteId":4815162,"production":{"total":21873.0,"unit":"WH","toSelfConsumption":null,
"toStorage":null,"toGrid":null},"consumption":{"total":null,"unit":"WH","fromPv":null,
"fromStorage":null,"fromGrid":null}}"""

DEVICES = """[{"type":"INVERTER","serialNumber":"7A1B2C3D-4E","manufacturer":"SolarEdge",
"partNumber":"SE8000H-EXAMPLE0","createdAt":"2023-04-17T09:12:44+02:00",
"firmwareVersion":"4.20.1","connectedTo":null,"active":true,"nameplate":0,
"name":"Inverter 1","form":null,"communicationType":"ETHERNET",
"firmware":"4.20.1.9.100.1234.2.100.1500","connectedOptimizers":22}]"""

ENERGY = """{"period":{"from":"2026-05-12T00:00:00+02:00",
"to":"2026-05-12T14:37:12.123456789+02:00"},
"unit":"WH","resolution":"QUARTER_HOUR",
"values":[{"timestamp":"2026-05-12T00:00:00+02:00","value":null},
{"timestamp":"2026-05-12T05:15:00+02:00","value":0.0},
{"timestamp":"2026-05-12T12:00:00+02:00","value":1604.0},
{"timestamp":"2026-05-12T14:15:00+02:00","value":1388.0},
{"timestamp":"2026-05-12T14:30:00+02:00","value":null}]}"""

VOLTAGE = """{"period":{"from":"2022-01-01T00:00:00-08:00","to":"2022-01-02T00:00:00-08:00"},
"unit":"VOLT","resolution":"HOUR","values":[{"timestamp":"2022-01-01T00:00:00-08:00",
"value":246.3737},{"timestamp":"2022-01-01T01:00:00-08:00","value":246.52864}]}"""

STORAGE = """{"storage":{"7B00C0DE":{"stateOfEnergy":{"unit":"PERCENTAGE",
"values":[{"timestamp":"2026-05-12T10:15:00+02:00","value":0.8125}]}}}}"""

ALERTS = """[{"alertId":9,"siteId":4815162,"category":"EQUIPMENT","impact":3,"status":"OPEN",
"type":"INVERTER_COMMUNICATION_FAULT","firstTrigger":"2026-05-12T08:00:00+02:00",
"component":{"name":"Inverter 1","serialNumber":"7A1B2C3D-4E"},"errorCodes":[18]}]"""

METERS = """{"meters":{"900112233":{"importPower":{"unit":"W",
"values":[{"timestamp":"2026-05-12T10:15:00+02:00","value":12.5}]}}}}"""


def body(text: str) -> Any:
    """A fresh decoded copy of a reference body."""
    return json.loads(text)


def outcome(call: Callable[..., object], *args: object) -> ResponseValidationError | None:
    """Run a parser call; return its error, or None if it returned a record."""
    try:
        call(*args)
    except ResponseValidationError as error:
        return error
    return None


def errors_of(call: Callable[..., object], *args: object) -> ResponseValidationError:
    """Run a parser call that must fail; return its error."""
    with pytest.raises(ResponseValidationError) as info:
        call(*args)
    return info.value


# --- the reference bodies, strict -------------------------------------------------


def test_nested_sites_page() -> None:
    """The live nested /sites shape gives every field, typed."""
    page = STRICT.sites_page(body(SITES), "/sites")
    assert page.count == 1
    (site,) = page.sites
    assert site.site_id == 4815162
    assert site.name == "Example Roof"
    assert site.peak_power == 9.9
    assert site.installation_date == datetime(2023, 4, 17, tzinfo=CEST)
    assert site.installation_date.utcoffset() == timedelta(hours=2)
    assert site.activation_status is ActivationStatus.ACTIVE
    assert site.note == ""
    assert site.location == Location(
        address="Musterstr. 1",
        city="Musterstadt",
        state="",
        zip="12345",
        country="Germany",
        timezone="Europe/Berlin",
    )
    assert site.last_update_time is None
    assert site.account_id is None


def test_bare_sites_array() -> None:
    """The old bare-array /sites shape is accepted, with no count."""
    sites = body(SITES)["sites"]["site"]
    page = STRICT.sites_page(sites, "/sites")
    assert page.count is None
    assert page.sites == STRICT.sites_page(body(SITES), "/sites").sites


def test_sites_object_holding_a_list_is_lenient_only() -> None:
    """``{"sites": [...]}`` is tolerated by the lenient parser, refused by the strict one."""
    data = {"sites": body(SITES)["sites"]["site"]}
    assert len(LENIENT.sites_page(data, "/sites").sites) == 1
    error = errors_of(STRICT.sites_page, data, "/sites")
    assert error.errors == ("expected an object, got array @ $.sites",)


def test_site_details_bare_and_wrapped() -> None:
    """``GET /sites/{id}`` is accepted as a top-level object and as ``{"site": {...}}``."""
    site = body(SITES)["sites"]["site"][0]
    site["lastUpdateTime"] = "2026-05-12T14:37:00+02:00"
    site["accountId"] = 77
    bare = STRICT.site(site, "/sites/4815162")
    wrapped = STRICT.site({"site": site}, "/sites/4815162")
    assert bare == wrapped
    assert bare.last_update_time == datetime(2026, 5, 12, 14, 37, tzinfo=CEST)
    assert bare.account_id == 77


def test_wrapped_site_errors_point_inside_the_wrapper() -> None:
    """A bad field of a wrapped site is reported under ``$.site``."""
    site = body(SITES)["sites"]["site"][0]
    site["peakPower"] = "big"
    error = errors_of(STRICT.site, {"site": site}, "/sites/1")
    assert error.errors == ("expected float, got string 'big' @ $.site.peakPower",)


def test_overview_with_null_breakdowns() -> None:
    """Breakdowns without a meter are None, never 0.0; units are enum members."""
    overview = STRICT.overview(body(OVERVIEW), "/sites/4815162/overview")
    assert overview.site_id == 4815162
    assert overview.production is not None
    assert overview.production.total == 21873.0
    assert overview.production.unit is Unit.WH
    assert overview.production.to_self_consumption is None
    assert overview.production.to_storage is None
    assert overview.production.to_grid is None
    assert overview.consumption is not None
    assert overview.consumption.total is None
    assert overview.consumption.from_grid is None
    assert overview.performance is None


def test_overview_doc_example_ints_and_performance() -> None:
    """The 2023 doc shape: int totals become floats; the performance block is read."""
    data = {
        "siteId": 1,
        "production": {"total": 17994812, "unit": "WH", "toStorage": 12.5},
        "performance": {"specificYield": 3.2, "performanceRatio": 0.81},
    }
    overview = STRICT.overview(data, "/o")
    assert overview.production is not None
    assert overview.production.total == 17994812.0
    assert type(overview.production.total) is float
    assert overview.production.to_storage == 12.5
    assert overview.performance is not None
    assert overview.performance.specific_yield == 3.2
    assert overview.performance.performance_ratio == 0.81


def test_devices_bare_array() -> None:
    """The live inverter record: every field, ``model`` absent, nothing extra."""
    (device,) = STRICT.devices(body(DEVICES), "/sites/1/devices")
    assert device.type is DeviceType.INVERTER
    assert device.serial_number == "7A1B2C3D-4E"
    assert device.manufacturer == "SolarEdge"
    assert device.part_number == "SE8000H-EXAMPLE0"
    assert device.created_at == datetime(2023, 4, 17, 9, 12, 44, tzinfo=CEST)
    assert device.firmware_version == "4.20.1"
    assert device.firmware == "4.20.1.9.100.1234.2.100.1500"
    assert device.connected_to is None
    assert device.active is True
    assert device.nameplate == 0.0
    assert device.name == "Inverter 1"
    assert device.form is None
    assert device.communication_type == "ETHERNET"
    assert device.connected_optimizers == 22
    assert device.model is None
    assert device.meter_type is None
    assert device.extra == {}


def test_devices_with_model_and_meter_type() -> None:
    """The documented but not live fields are read when present."""
    data = [
        {"type": "INVERTER", "serialNumber": "1", "model": "SE7600"},
        {"type": "METER", "serialNumber": "900112233", "meterType": "PRODUCTION"},
    ]
    inverter, meter = STRICT.devices(data, "/d")
    assert inverter.model == "SE7600"
    assert meter.type is DeviceType.METER
    assert meter.meter_type == "PRODUCTION"


def test_energy_with_null_buckets_and_nanosecond_period() -> None:
    """Null buckets stay None (not 0.0), real zeros stay 0.0, 9-digit fractions are cut."""
    energy = STRICT.measurements(body(ENERGY), "/sites/1/energy")
    assert energy.unit is Unit.WH
    assert energy.resolution is Resolution.QUARTER_HOUR
    assert energy.period is not None
    assert energy.period.start == datetime(2026, 5, 12, tzinfo=CEST)
    assert energy.period.end == datetime(2026, 5, 12, 14, 37, 12, 123456, tzinfo=CEST)
    assert energy.values == (None, 0.0, 1604.0, 1388.0, None)
    assert energy.values[0] is None
    assert energy.values[1] == 0.0
    assert energy.values[1] is not None
    assert energy.timestamps == (
        datetime(2026, 5, 12, 0, 0, tzinfo=CEST),
        datetime(2026, 5, 12, 5, 15, tzinfo=CEST),
        datetime(2026, 5, 12, 12, 0, tzinfo=CEST),
        datetime(2026, 5, 12, 14, 15, tzinfo=CEST),
        datetime(2026, 5, 12, 14, 30, tzinfo=CEST),
    )
    assert all(t.utcoffset() == timedelta(hours=2) for t in energy.timestamps)


def test_tutorial_voltage_series() -> None:
    """The official tutorial's voltage body (HOUR, -08:00)."""
    voltage = STRICT.measurements(body(VOLTAGE), "/sites/1/inverters/7F16E777-F1/voltage")
    assert voltage.unit is Unit.VOLT
    assert voltage.resolution is Resolution.HOUR
    assert voltage.values == (246.3737, 246.52864)
    assert voltage.timestamps[1] == datetime(2022, 1, 1, 1, tzinfo=PST)


def test_offsets_change_within_a_series() -> None:
    """Each stamp keeps its own offset (a DST fall-back day repeats a wall-clock hour)."""
    data = {
        "values": [
            {"timestamp": "2026-10-25T02:00:00+02:00", "value": 1},
            {"timestamp": "2026-10-25T02:00:00+01:00", "value": 2},
        ]
    }
    series = STRICT.measurements(data, "/e")
    first, second = series.timestamps
    assert second - first == timedelta(hours=1)
    assert first.utcoffset() == timedelta(hours=2)
    assert second.utcoffset() == timedelta(hours=1)


def test_storage_telemetry() -> None:
    """Storage bulk telemetry: serial → metric → columnar series; the fraction is kept raw."""
    telemetry = STRICT.telemetry(body(STORAGE), "/sites/1/storage/telemetry", "storage")
    assert telemetry.family == "storage"
    assert telemetry.period is None
    assert telemetry.resolution is None
    series = telemetry.devices["7B00C0DE"]["stateOfEnergy"]
    assert series.unit is Unit.PERCENTAGE
    assert series.values == (0.8125,)
    assert series.timestamps == (datetime(2026, 5, 12, 10, 15, tzinfo=CEST),)


def test_meter_telemetry_with_period_and_resolution() -> None:
    """Meter bulk telemetry keeps camelCase metric names; top-level period is read."""
    data = body(METERS)
    data["period"] = {"from": "2026-05-12T00:00:00+02:00", "to": "2026-05-13T00:00:00+02:00"}
    data["resolution"] = "QUARTER_HOUR"
    data["meters"]["900112233"]["exportEnergy"] = {
        "unit": "WH",
        "resolution": "QUARTER_HOUR",
        "values": [],
    }
    telemetry = STRICT.telemetry(data, "/sites/1/meters/telemetry", "meters")
    assert telemetry.resolution is Resolution.QUARTER_HOUR
    assert telemetry.period is not None
    assert telemetry.period.end == datetime(2026, 5, 13, tzinfo=CEST)
    metrics = telemetry.devices["900112233"]
    assert list(metrics) == ["importPower", "exportEnergy"]
    assert metrics["importPower"].values == (12.5,)
    assert metrics["exportEnergy"].values == ()
    assert metrics["exportEnergy"].resolution is Resolution.QUARTER_HOUR


@pytest.mark.parametrize("data", [{}, {"inverters": {}}, {"resolution": "HOUR"}])
def test_empty_telemetry(data: dict[str, object]) -> None:
    """``{}`` or a missing family gives no devices."""
    telemetry = STRICT.telemetry(data, "/t", "inverters")
    assert telemetry == Telemetry(
        family="inverters",
        resolution=Resolution.HOUR if "resolution" in data else None,
        devices={},
    )


def test_telemetry_other_family_is_strict_only_error() -> None:
    """Another family's key is ignored when lenient and refused when strict."""
    data = body(METERS)
    assert LENIENT.telemetry(data, "/t", "inverters").devices == {}
    error = errors_of(STRICT.telemetry, data, "/t", "inverters")
    assert error.errors == ("unknown fields 'meters' @ $",)


def test_telemetry_family_argument_is_checked() -> None:
    """A family that is not one of the three is a programming error, not a body error."""
    with pytest.raises(ValueError, match="family must be one of"):
        STRICT.telemetry({}, "/t", "batteries")


def test_telemetry_error_path_names_serial_and_metric() -> None:
    """A bad point deep in a telemetry body is located by serial and metric."""
    data = body(STORAGE)
    data["storage"]["7B00C0DE"]["stateOfEnergy"]["values"][0]["value"] = "81%"
    error = errors_of(LENIENT.telemetry, data, "/t", "storage")
    assert error.errors == (
        "expected float, got string '81%' @ $.storage['7B00C0DE']['stateOfEnergy'].values[0].value",
    )


def test_empty_alerts_and_alert_fields() -> None:
    """Alerts are a bare array; ``[]`` is no alerts; the shape fields are typed."""
    assert STRICT.alerts([], "/alerts") == ()
    data = [
        {
            "alertId": 9,
            "siteId": 4815162,
            "category": "EQUIPMENT",
            "impact": 3,
            "status": "OPEN",
            "type": "INVERTER_COMMUNICATION_FAULT",
            "firstTrigger": "2026-05-12T08:00:00+02:00",
            "lastTrigger": "2026-05-12T09:00:00+02:00",
            "component": {"name": "Inverter 1", "serialNumber": "7A1B2C3D-4E"},
            "errorCodes": [18, "3x9A"],
        }
    ]
    (alert,) = STRICT.alerts(data, "/alerts")
    assert alert.alert_id == 9
    assert alert.status is AlertStatus.OPEN
    assert alert.type == "INVERTER_COMMUNICATION_FAULT"
    assert alert.impact == 3
    assert alert.first_trigger == datetime(2026, 5, 12, 8, tzinfo=CEST)
    assert alert.component is not None
    assert alert.component.serial_number == "7A1B2C3D-4E"
    assert alert.error_codes == (18, "3x9A")


# --- lenient versus strict --------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "data", "mutate", "read", "raw", "where"),
    [
        (
            "measurements",
            ENERGY,
            lambda d: d.update(unit="KVARH"),
            lambda r: r.unit,
            "KVARH",
            "$.unit",
        ),
        (
            "measurements",
            ENERGY,
            lambda d: d.update(resolution="FIVE_MINUTES"),
            lambda r: r.resolution,
            "FIVE_MINUTES",
            "$.resolution",
        ),
        (
            "devices",
            DEVICES,
            lambda d: d[0].update(type="HEAT_PUMP"),
            lambda r: r[0].type,
            "HEAT_PUMP",
            "$[0].type",
        ),
        (
            "sites_page",
            SITES,
            lambda d: d["sites"]["site"][0].update(activationStatus="SUSPENDED"),
            lambda r: r.sites[0].activation_status,
            "SUSPENDED",
            "$.sites.site[0].activationStatus",
        ),
        (
            "alerts",
            "[]",
            lambda d: d.append({"status": "ACKNOWLEDGED"}),
            lambda r: r[0].status,
            "ACKNOWLEDGED",
            "$[0].status",
        ),
    ],
)
def test_unknown_enum_values(  # noqa: PLR0917
    call: str,
    data: str,
    mutate: Callable[[Any], None],
    read: Callable[[Any], object],
    raw: str,
    where: str,
) -> None:
    """An unknown enum value is kept as its raw string when lenient, refused when strict."""
    decoded = body(data)
    mutate(decoded)
    value = read(getattr(LENIENT, call)(decoded, "/p"))
    assert value == raw
    assert type(value) is str
    error = errors_of(getattr(STRICT, call), decoded, "/p")
    assert len(error.errors) == 1
    assert error.errors[0].startswith("unknown ")
    assert error.errors[0].endswith(f"@ {where}")
    assert repr(raw) in error.errors[0]


@pytest.mark.parametrize(
    ("call", "data", "mutate", "where", "holder", "extra"),
    [
        ("sites_page", SITES, lambda d: d.update(total=5), "$", lambda r: r, {"total": 5}),
        (
            "sites_page",
            SITES,
            lambda d: d["sites"].update(pageSize=50),
            "$.sites",
            lambda r: r,
            {"pageSize": 50},
        ),
        (
            "sites_page",
            SITES,
            lambda d: d["sites"]["site"][0].update(owner="x"),
            "$.sites.site[0]",
            lambda r: r.sites[0],
            {"owner": "x"},
        ),
        (
            "sites_page",
            SITES,
            lambda d: d["sites"]["site"][0]["location"].update(lat=52.5),
            "$.sites.site[0].location",
            lambda r: r.sites[0].location,
            {"lat": 52.5},
        ),
        (
            "site",
            json.dumps(json.loads(SITES)["sites"]["site"][0]),
            lambda d: d.update(owner={"id": [1]}),
            "$",
            lambda r: r,
            {"owner": {"id": (1,)}},
        ),
        (
            "overview",
            OVERVIEW,
            lambda d: d.update(lastUpdateTime="2026-05-12T10:00:00Z"),
            "$",
            lambda r: r,
            {"lastUpdateTime": "2026-05-12T10:00:00Z"},
        ),
        (
            "overview",
            OVERVIEW,
            lambda d: d["production"].update(toBattery=1.0),
            "$.production",
            lambda r: r.production,
            {"toBattery": 1.0},
        ),
        (
            "overview",
            OVERVIEW,
            lambda d: d["consumption"].update(fromGenerator=None),
            "$.consumption",
            lambda r: r.consumption,
            {"fromGenerator": None},
        ),
        (
            "overview",
            json.dumps({**json.loads(OVERVIEW), "performance": {"specificYield": 3.2}}),
            lambda d: d["performance"].update(co2=2),
            "$.performance",
            lambda r: r.performance,
            {"co2": 2},
        ),
        ("measurements", ENERGY, lambda d: d.update(siteId=1), "$", lambda r: r, {"siteId": 1}),
        (
            "measurements",
            ENERGY,
            lambda d: d["values"][2].update(quality="A"),
            "$.values[2]",
            None,
            {},
        ),
        (
            "measurements",
            ENERGY,
            lambda d: d["period"].update(tz="CET"),
            "$.period",
            lambda r: r.period,
            {"tz": "CET"},
        ),
        (
            "telemetry",
            STORAGE,
            lambda d: d["storage"]["7B00C0DE"]["stateOfEnergy"].update(scale=1),
            "$.storage['7B00C0DE']['stateOfEnergy']",
            lambda r: r.devices["7B00C0DE"]["stateOfEnergy"],
            {"scale": 1},
        ),
        (
            "telemetry",
            STORAGE,
            lambda d: d.update(meters={}),
            "$",
            lambda r: r,
            {"meters": {}},
        ),
        (
            "alerts",
            ALERTS,
            lambda d: d[0].update(acknowledged=True),
            "$[0]",
            lambda r: r[0],
            {"acknowledged": True},
        ),
        (
            "alerts",
            ALERTS,
            lambda d: d[0]["component"].update(model="SE8000H"),
            "$[0].component",
            lambda r: r[0].component,
            {"model": "SE8000H"},
        ),
    ],
)
def test_extra_keys(  # noqa: PLR0917
    call: str,
    data: str,
    mutate: Callable[[Any], None],
    where: str,
    holder: Callable[[Any], Any] | None,
    extra: dict[str, object],
) -> None:
    """Unknown keys are kept in ``extra`` of their record when lenient, refused when strict.

    Points of a series are columns, not records: their unknown keys are dropped.
    """
    decoded = body(data)
    clean = getattr(LENIENT, call)(*_args(call, body(data)))
    mutate(decoded)
    lenient = getattr(LENIENT, call)(*_args(call, decoded))
    if holder is None:
        assert lenient == clean
    else:
        record, clean_record = holder(lenient), holder(clean)
        assert clean_record.extra == {}
        assert record.extra == extra
        assert isinstance(record.extra, FrozenDict)
        assert attrs.evolve(record, extra=clean_record.extra) == clean_record
    error = errors_of(getattr(STRICT, call), *_args(call, decoded))
    assert len(error.errors) == 1
    assert error.errors[0].startswith("unknown fields '")
    assert error.errors[0].endswith(f"@ {where}")


def _args(call: str, decoded: object) -> tuple[object, ...]:
    return (decoded, "/p", "storage") if call == "telemetry" else (decoded, "/p")


def test_lenient_device_keeps_unknown_fields_frozen() -> None:
    """Unknown device fields land in ``extra``, frozen all the way down."""
    data = body(DEVICES)
    data[0]["batteryCapacity"] = {"value": 9.7, "modules": [1, 2]}
    (device,) = LENIENT.devices(data, "/d")
    assert device.extra == {"batteryCapacity": {"value": 9.7, "modules": (1, 2)}}
    with pytest.raises(TypeError):
        device.extra["x"] = 1  # type: ignore[index]
    extra: Any = device.extra
    with pytest.raises(TypeError):
        extra["batteryCapacity"]["value"] = 0
    data[0]["batteryCapacity"]["value"] = 0.0
    assert extra["batteryCapacity"]["value"] == 9.7
    error = errors_of(STRICT.devices, data, "/d")
    assert error.errors == ("unknown fields 'batteryCapacity' @ $[0]",)


def test_naive_timestamps() -> None:
    """A stamp without offset is refused when strict, kept naive when lenient."""
    data = body(ENERGY)
    data["values"][3]["timestamp"] = "2026-05-12T14:15:00"
    data["period"]["from"] = "2026-05-12T00:00:00"
    error = errors_of(STRICT.measurements, data, "/e")
    assert error.errors == (
        "timestamp without a UTC offset: '2026-05-12T00:00:00' @ $.period.from",
        "timestamp without a UTC offset: '2026-05-12T14:15:00' @ $.values[3].timestamp",
    )
    series = LENIENT.measurements(data, "/e")
    assert series.timestamps[3] == datetime(2026, 5, 12, 14, 15)
    assert series.timestamps[3].tzinfo is None
    assert series.period is not None
    assert series.period.start.tzinfo is None


def test_a_naive_stamp_cached_by_a_lenient_parse_is_still_refused_when_strict() -> None:
    """Parsed stamps are shared between modes; strict still finds the naive one."""
    data = body(ENERGY)
    data["values"][2]["timestamp"] = "2026-05-12T15:45:00"
    assert LENIENT.measurements(data, "/e").timestamps[2].tzinfo is None
    error = errors_of(STRICT.measurements, data, "/e")
    assert error.errors == (
        "timestamp without a UTC offset: '2026-05-12T15:45:00' @ $.values[2].timestamp",
    )


def test_naive_site_date_is_refused_when_strict() -> None:
    """The naive check covers record fields too, not only series."""
    data = body(SITES)
    data["sites"]["site"][0]["installationDate"] = "2023-04-17T00:00:00"
    error = errors_of(STRICT.sites_page, data, "/sites")
    where = "$.sites.site[0].installationDate"
    assert error.errors == (f"timestamp without a UTC offset: '2023-04-17T00:00:00' @ {where}",)
    site = LENIENT.sites_page(data, "/sites").sites[0]
    assert site.installation_date == datetime(2023, 4, 17)


def test_missing_point_value() -> None:
    """A point without ``value`` is a null bucket when lenient, an error when strict."""
    data = body(ENERGY)
    del data["values"][2]["value"]
    assert LENIENT.measurements(data, "/e").values == (None, 0.0, None, 1388.0, None)
    error = errors_of(STRICT.measurements, data, "/e")
    assert error.errors == ("required field missing @ $.values[2].value",)


def test_missing_required_fields() -> None:
    """A site without ``siteId``, a device without a serial: errors in both modes."""
    site = body(SITES)["sites"]["site"][0]
    del site["siteId"]
    assert errors_of(LENIENT.site, site, "/s").errors == ("required field missing @ $.siteId",)
    device = body(DEVICES)[0]
    del device["serialNumber"]
    assert errors_of(LENIENT.devices, [device], "/d").errors == (
        "required field missing @ $[0].serialNumber",
    )
    point = {"values": [{"value": 1.0}]}
    assert errors_of(LENIENT.measurements, point, "/e").errors == (
        "required field missing @ $.values[0].timestamp",
    )


def test_missing_values_array() -> None:
    """A series without ``values`` is empty when lenient and an error when strict."""
    assert LENIENT.measurements({"unit": "W"}, "/p") == Measurements(unit=Unit.W)
    assert LENIENT.measurements({"values": None}, "/p").values == ()
    assert errors_of(STRICT.measurements, {"unit": "W"}, "/p").errors == (
        "required field missing @ $.values",
    )
    assert errors_of(STRICT.measurements, {"values": None}, "/p").errors == (
        "expected an array, got null @ $.values",
    )


# --- numbers ----------------------------------------------------------------------


def test_string_number_is_an_error_in_both_modes() -> None:
    """Lenient still checks types: a string where a float belongs is refused."""
    data = body(ENERGY)
    data["values"][3]["value"] = "1388.0"
    for parser in (LENIENT, STRICT):
        error = errors_of(parser.measurements, data, "/sites/1/energy")
        assert error.errors == ("expected float, got string '1388.0' @ $.values[3].value",)
        assert error.path == "/sites/1/energy"
        assert str(error) == (
            "/sites/1/energy: the response body does not fit the API reference: "
            "expected float, got string '1388.0' @ $.values[3].value"
        )


def test_error_is_one_exception_without_an_exception_group() -> None:
    """The failure is a ResponseValidationError whose cause is not a cattrs group."""
    data = body(SITES)
    data["sites"]["site"][0]["siteId"] = "abc"
    error = errors_of(STRICT.sites_page, data, "/sites")
    assert not isinstance(error, BaseExceptionGroup)
    assert error.__cause__ is None
    assert error.__suppress_context__


def test_ints_become_floats_and_bools_depend_on_the_mode() -> None:
    """Ints pass as floats; booleans pass as numbers only when lenient."""
    data = {"values": [{"timestamp": "2026-05-12T00:00:00Z", "value": 7}]}
    (value,) = STRICT.measurements(data, "/e").values
    assert value == 7.0
    assert type(value) is float
    data["values"][0]["value"] = True
    assert LENIENT.measurements(data, "/e").values == (1.0,)
    assert errors_of(STRICT.measurements, data, "/e").errors == (
        "expected float, got boolean true @ $.values[0].value",
    )
    site = {"siteId": True}
    assert LENIENT.site(site, "/s").site_id == 1
    assert errors_of(STRICT.site, site, "/s").errors == (
        "expected int, got boolean true @ $.siteId",
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (10**400, "number out of range for a float"),
        (float("nan"), "expected a finite number, got number"),
        (float("inf"), "expected a finite number, got number"),
        ([1], "expected float, got array"),
        ({"v": 1}, "expected float, got object"),
    ],
)
def test_bad_numbers(value: object, message: str) -> None:
    """Huge ints, non-finite floats and containers are refused with a clear message."""
    data = {"values": [{"timestamp": "2026-05-12T00:00:00Z", "value": value}]}
    assert errors_of(LENIENT.measurements, data, "/e").errors == (f"{message} @ $.values[0].value",)


def test_lenient_whole_floats_for_ints_and_ints_for_strings() -> None:
    """Lenient: a serial sent as a number becomes a string, ``22.0`` an int."""
    device = {"type": "METER", "serialNumber": 900112233, "connectedOptimizers": 22.0}
    (parsed,) = LENIENT.devices([device], "/d")
    assert parsed.serial_number == "900112233"
    assert parsed.connected_optimizers == 22
    error = errors_of(STRICT.devices, [device], "/d")
    assert error.errors == (
        "expected string, got number @ $[0].serialNumber",
        "expected int, got number @ $[0].connectedOptimizers",
    )
    assert errors_of(LENIENT.devices, [{**device, "connectedOptimizers": 2.5}], "/d").errors == (
        "expected int, got number @ $[0].connectedOptimizers",
    )


def test_error_list_is_capped() -> None:
    """A body with hundreds of problems gives a bounded list of messages."""
    data = {"values": [{"timestamp": "2026-05-12T00:00:00Z", "value": "x"}] * 300}
    error = errors_of(LENIENT.measurements, data, "/e")
    assert len(error.errors) == MAX_ERRORS
    assert error.errors[-1] == f"... and {300 - MAX_ERRORS + 1} more"
    assert str(error).endswith("@ $.values[0].value (and 299 more)")


@pytest.mark.parametrize(
    ("call", "data", "message"),
    [
        ("sites_page", "x", "expected an object, got string 'x' @ $"),
        ("sites_page", {}, "required field missing @ $.sites"),
        ("sites_page", {"sites": {"site": 5}}, "expected an array, got number @ $.sites.site"),
        ("site", [], "expected an object, got array @ $"),
        ("overview", None, "expected an object, got null @ $"),
        ("overview", {"production": []}, "expected an object, got array @ $.production"),
        ("measurements", {"values": {}}, "expected an array, got object @ $.values"),
        ("measurements", {"values": [3]}, "expected an object, got number @ $.values[0]"),
        ("devices", {"devices": []}, "expected an array, got object @ $"),
        ("devices", [[]], "expected an object, got array @ $[0]"),
        ("alerts", [{"errorCodes": "E1"}], "expected an array, got string 'E1' @ $[0].errorCodes"),
        ("alerts", [{"component": "x"}], "expected an object, got string 'x' @ $[0].component"),
    ],
)
def test_wrong_shapes(call: str, data: object, message: str) -> None:
    """Wrong container types are located precisely, in both modes."""
    for parser in (LENIENT, STRICT):
        assert errors_of(getattr(parser, call), data, "/p").errors == (message,)


def test_wrong_telemetry_shapes() -> None:
    """Telemetry devices and metrics must be objects."""
    assert errors_of(LENIENT.telemetry, {"meters": {"9": 1}}, "/t", "meters").errors == (
        "expected an object, got number @ $.meters['9']",
    )
    assert errors_of(LENIENT.telemetry, {"meters": []}, "/t", "meters").errors == (
        "expected an object, got array @ $.meters",
    )
    assert LENIENT.telemetry({"meters": None}, "/t", "meters").devices == {}
    assert errors_of(STRICT.telemetry, {"meters": None}, "/t", "meters").errors == (
        "expected an object, got null @ $.meters",
    )


# --- raw passthrough records ------------------------------------------------------


def test_environmental_benefits() -> None:
    """Known figures are read; the whole body is kept in ``raw``."""
    data = {"co2Emissions": 1520, "evMiles": 4210.5, "unit": "METRIC", "new": [1]}
    benefits = STRICT.environmental_benefits(data, "/b")
    assert benefits.co2_emissions == 1520.0
    assert benefits.ev_miles == 4210.5
    assert benefits.trees_planted is None
    assert benefits.raw == {"co2Emissions": 1520, "evMiles": 4210.5, "unit": "METRIC", "new": (1,)}


def test_environmental_benefits_v1_shape_and_mismatched_types() -> None:
    """A V1-like wrapper is looked into; a figure of another shape is None when lenient."""
    data = {"envBenefits": {"treesPlanted": 12.5, "co2Emissions": {"value": 3}}}
    benefits = LENIENT.environmental_benefits(data, "/b")
    assert benefits.trees_planted == 12.5
    assert benefits.co2_emissions is None
    assert benefits.raw["envBenefits"] == {"treesPlanted": 12.5, "co2Emissions": {"value": 3}}
    assert errors_of(STRICT.environmental_benefits, data, "/b").errors == (
        "expected float, got object @ $.envBenefits.co2Emissions",
    )


def test_power_flow_v1_shape() -> None:
    """The V1-like ``siteCurrentPowerFlow`` shape fills the known powers; units stay raw."""
    data: Any = {
        "siteCurrentPowerFlow": {
            "updateRefreshRate": 3,
            "unit": "kW",
            "GRID": {"status": "Active", "currentPower": 3.8},
            "LOAD": {"status": "Active", "currentPower": 1.2},
            "PV": {"status": "Active", "currentPower": 5.0},
            "STORAGE": {"status": "Idle", "currentPower": 0, "chargeLevel": 61},
        }
    }
    flow = STRICT.power_flow(data, "/pf")
    assert flow.unit == "kW"
    assert (flow.grid_power, flow.load_power, flow.pv_power) == (3.8, 1.2, 5.0)
    assert flow.storage_power == 0.0
    assert flow.storage_charge_level == 61.0
    raw: Any = flow.raw
    assert raw["siteCurrentPowerFlow"]["GRID"]["status"] == "Active"
    data["siteCurrentPowerFlow"]["PV"]["currentPower"] = "5 kW"
    assert LENIENT.power_flow(data, "/pf").pv_power is None
    assert errors_of(STRICT.power_flow, data, "/pf").errors == (
        "expected float, got string '5 kW' @ $.siteCurrentPowerFlow.PV.currentPower",
    )


def test_power_flow_unknown_shape_is_kept() -> None:
    """A body of an unknown shape gives empty known fields and the raw body."""
    flow = STRICT.power_flow({"flows": [{"from": "PV", "to": "LOAD", "kw": 2}]}, "/pf")
    assert flow.pv_power is None
    assert flow.raw == {"flows": ({"from": "PV", "to": "LOAD", "kw": 2},)}


@pytest.mark.parametrize(
    "data",
    [
        {"specificYield": 4.1, "performanceRatio": 0.86},
        {"performance": {"specificYield": 4.1, "performanceRatio": 0.86}},
    ],
)
def test_overview_performance(data: dict[str, object]) -> None:
    """Yield figures at the top level or in a ``performance`` object."""
    performance = STRICT.overview_performance(data, "/op")
    assert performance.specific_yield == 4.1
    assert performance.performance_ratio == 0.86
    assert performance.raw == data


def test_deep_nesting_in_raw_data() -> None:
    """Nesting beyond the recursion limit is a validation error, not a RecursionError."""
    deep: object = 1
    for _ in range(5000):
        deep = [deep]
    error = errors_of(LENIENT.power_flow, {"x": deep}, "/pf")
    assert error.errors == ("nested too deeply @ $",)


# --- timestamps -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-05-12T00:15:00+02:00", datetime(2026, 5, 12, 0, 15, tzinfo=CEST)),
        ("2026-05-12T00:15:00Z", datetime(2026, 5, 12, 0, 15, tzinfo=UTC)),
        ("2026-05-12T00:15:00.00Z", datetime(2026, 5, 12, 0, 15, tzinfo=UTC)),
        ("2026-05-12T00:15:00z", datetime(2026, 5, 12, 0, 15, tzinfo=UTC)),
        ("2026-05-12T10:00+02:00", datetime(2026, 5, 12, 10, tzinfo=CEST)),
        ("2026-05-12T10:00:00+0200", datetime(2026, 5, 12, 10, tzinfo=CEST)),
        (
            "2026-05-12T14:37:12.123456789+02:00",
            datetime(2026, 5, 12, 14, 37, 12, 123456, tzinfo=CEST),
        ),
        (
            "2026-05-12T14:37:12.1234567891234-08:00",
            datetime(2026, 5, 12, 14, 37, 12, 123456, tzinfo=PST),
        ),
        ("2026-05-12T14:37:12.5+02:00", datetime(2026, 5, 12, 14, 37, 12, 500000, tzinfo=CEST)),
        ("2026-05-12 10:00:00 +02:00", datetime(2026, 5, 12, 10, tzinfo=CEST)),
    ],
)
def test_parse_timestamp_forms(text: str, expected: datetime) -> None:
    """Offsets, Z, missing seconds and fractions of any length are accepted."""
    parsed = parse_timestamp(text, strict=True)
    assert parsed == expected
    assert parsed.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize(
    "text",
    ["", "yesterday", "2026-13-01T00:00:00Z", "2026-05-12T25:00:00Z", "１２:00"],  # noqa: RUF001
)
def test_parse_timestamp_refuses_garbage(text: str) -> None:
    """Text that is no ISO 8601 timestamp raises ValueError."""
    with pytest.raises(ValueError, match="timestamp"):
        parse_timestamp(text)


def test_parse_timestamp_naive_depends_on_the_mode() -> None:
    """A stamp without offset is naive when lenient and refused when strict."""
    assert parse_timestamp("2026-05-12T00:00:00").tzinfo is None
    with pytest.raises(ValueError, match="without a UTC offset"):
        parse_timestamp("2026-05-12T00:00:00", strict=True)
    with pytest.raises(ValueError, match="expected an ISO 8601 timestamp string"):
        parse_timestamp(20260512)  # type: ignore[arg-type]


def test_timestamp_cache_is_bounded_and_shared() -> None:
    """Repeated stamps share one datetime object; the cache never outgrows its bound."""
    a = LENIENT.measurements(body(ENERGY), "/e")
    b = STRICT.measurements(body(ENERGY), "/e")
    assert all(x is y for x, y in zip(a.timestamps, b.timestamps, strict=True))
    start = datetime(2020, 1, 1, tzinfo=UTC)
    points = [
        {"timestamp": (start + timedelta(minutes=15 * i)).isoformat(), "value": 1.0}
        for i in range(_series._STAMPS_MAX + 100)
    ]
    series = LENIENT.measurements({"values": points}, "/e")
    assert len(series.timestamps) == len(points)
    assert series.timestamps[-1] == start + timedelta(minutes=15 * (len(points) - 1))
    assert len(_series._STAMPS) <= _series._STAMPS_MAX


# --- decoding ---------------------------------------------------------------------


@pytest.mark.parametrize("decode", [_decoding._decode, _decoding._decode_stdlib])
@pytest.mark.parametrize(
    "content",
    [b"NaN", b"[Infinity]", b"[-Infinity]", b"[1e400]", b"{", b"\xff\xfe", b'"\xc3"', b"[1,]"],
)
def test_decoders_refuse_what_is_not_strict_json(
    decode: Callable[[bytes], object], content: bytes
) -> None:
    """Both decoders (orjson and the json fallback) refuse the same non-JSON inputs."""
    with pytest.raises((ValueError, RecursionError)):
        decode(content)


def test_decode_json_errors_are_response_validation_errors() -> None:
    """decode_json reports empty, malformed and deeply nested bodies as one error type."""
    for content in (b"", b"<html>502 Bad Gateway</html>", b"\xff", b"[" * 100_000):
        with pytest.raises(ResponseValidationError) as info:
            decode_json(content, "/sites")
        assert info.value.path == "/sites"
        assert str(info.value).startswith("/sites: the response body ")


def test_decode_json_values() -> None:
    """Valid bodies decode to plain dicts and lists, big ints included."""
    assert decode_json(b'{"a":[1,2.5,null,true,"x"]}', "/p") == {"a": [1, 2.5, None, True, "x"]}
    assert _decoding._decode_stdlib(b'{"a": 12345678901234567890}') == {"a": 12345678901234567890}


def test_decode_json_refuses_nan_via_stdlib(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without orjson, NaN is still refused as a ResponseValidationError."""
    monkeypatch.setattr(_decoding, "_decode", _decoding._decode_stdlib)
    with pytest.raises(ResponseValidationError, match="NaN is not valid JSON"):
        decode_json(b'{"value": NaN}', "/e")


# --- the converter itself ---------------------------------------------------------


def test_make_converter_structures_records_directly() -> None:
    """The public converter works on its own, strict and lenient."""
    site = body(SITES)["sites"]["site"][0]
    assert make_converter(strict=True).structure(site, Site).site_id == 4815162
    site["extra"] = 1
    assert make_converter().structure(site, Site).site_id == 4815162
    with pytest.raises(Exception, match="Site"):
        make_converter(strict=True).structure(site, Site)


def test_parser_repr() -> None:
    """The parser's repr says its mode."""
    assert repr(STRICT) == "ResponseParser(strict=True)"


# --- property tests ---------------------------------------------------------------

OFFSETS = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda m: timezone(timedelta(minutes=m))
)
INSTANTS = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=OFFSETS,
)
VALUES = (
    st.none() | st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(10**15), 10**15)
)
ENUM_TEXT = st.sampled_from([*Unit, "KVARH", "kW", "percentage"])
KEYS = st.text(min_size=1, max_size=8).filter(
    lambda k: k not in {"period", "unit", "resolution", "values", "timestamp", "value"}
)


@st.composite
def stamp_texts(draw: st.DrawFn) -> tuple[datetime, str]:
    """An instant and one of the many ways the API (or a client) may write it."""
    moment = draw(INSTANTS)
    timespec = draw(st.sampled_from(["minutes", "seconds", "microseconds"]))
    text = moment.isoformat(timespec=timespec)
    if timespec == "minutes":
        moment = moment.replace(second=0, microsecond=0)
    elif timespec == "seconds":
        moment = moment.replace(microsecond=0)
    else:  # the server's 9-digit (or longer) fractions: digits past 6 are dropped
        head, tail = text[:26], text[26:]
        text = f"{head}{draw(st.text('0123456789', max_size=6))}{tail}"
    if moment.utcoffset() == timedelta(0) and draw(st.booleans()):
        text = text.removesuffix("+00:00") + "Z"
    return moment, text


@st.composite
def measurement_bodies(
    draw: st.DrawFn,
) -> tuple[dict[str, Any], list[tuple[datetime, float | None]], bool]:
    """A measurements body, the expected points, and whether it strays from the reference."""
    points = draw(st.lists(st.tuples(stamp_texts(), VALUES), max_size=30))
    unit = draw(ENUM_TEXT)
    extras = draw(st.dictionaries(KEYS, st.integers(), max_size=2))
    data: dict[str, Any] = {
        "unit": unit,
        "values": [{"timestamp": text, "value": value} for (_, text), value in points],
        **extras,
    }
    if draw(st.booleans()):
        data["resolution"] = draw(st.sampled_from([*Resolution, "FIVE_MINUTES"]))
    expected = [(moment, None if v is None else float(v)) for (moment, _), v in points]
    stray = (
        bool(extras)
        or unit not in set(Unit)
        or data.get("resolution", "HOUR") not in set(Resolution)
    )
    return data, expected, stray


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(measurement_bodies())
def test_generated_measurements(
    generated: tuple[dict[str, Any], list[tuple[datetime, float | None]], bool],
) -> None:
    """Generated bodies: lenient always parses them exactly; strict refuses exactly the strays."""
    data, expected, stray = generated
    series = LENIENT.measurements(copy.deepcopy(data), "/e")
    assert list(zip(series.timestamps, series.values, strict=True)) == expected
    for stamp, (moment, _) in zip(series.timestamps, expected, strict=True):
        assert stamp.utcoffset() == moment.utcoffset()
    assert series.unit == data["unit"]
    assert all(v is None for v, (_, e) in zip(series.values, expected, strict=True) if e is None)
    if stray:
        with pytest.raises(ResponseValidationError):
            STRICT.measurements(data, "/e")
    else:
        assert STRICT.measurements(data, "/e") == series


JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from([10**400, -(10**30), 2**63, "", "2026-05-12T00:00:00", "WH", "INVERTER"])
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)

REFERENCE_BODIES = {
    "sites_page": SITES,
    "site": json.dumps(json.loads(SITES)["sites"]["site"][0]),
    "overview": OVERVIEW,
    "devices": DEVICES,
    "measurements": ENERGY,
    "telemetry": STORAGE,
    "alerts": '[{"alertId":1,"status":"OPEN","component":{"name":"a"},"errorCodes":[1]}]',
    "environmental_benefits": '{"co2Emissions":1,"evMiles":2}',
    "power_flow": '{"siteCurrentPowerFlow":{"unit":"kW","PV":{"currentPower":1}}}',
    "overview_performance": '{"specificYield":1,"performanceRatio":0.5}',
}


def _containers(
    node: dict[str, Any] | list[Any], path: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], dict[str, Any] | list[Any]]]:
    """Every (path, container) in a decoded body."""
    yield path, node
    children = node.items() if isinstance(node, dict) else enumerate(node)
    for key, child in children:
        if isinstance(child, dict | list):
            yield from _containers(child, (*path, key))


@st.composite
def mutated_bodies(draw: st.DrawFn) -> tuple[str, object]:
    """A reference body with one to three random mutations somewhere inside it."""
    call = draw(st.sampled_from(sorted(REFERENCE_BODIES)))
    data = json.loads(REFERENCE_BODIES[call])
    for _ in range(draw(st.integers(1, 3))):
        _path, node = draw(st.sampled_from(list(_containers(data))))
        op = draw(st.sampled_from(["replace", "delete", "insert", "root"]))
        if op == "root":
            data = draw(JSON_VALUES)
            if not isinstance(data, dict | list):
                break
            continue
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        if op == "insert" or not keys:
            if isinstance(node, dict):
                node[draw(st.text(max_size=8))] = draw(JSON_VALUES)
            else:
                node.append(draw(JSON_VALUES))
            continue
        key = draw(st.sampled_from(keys))
        if op == "delete":
            del node[key]
        else:
            node[key] = draw(JSON_VALUES)
    return call, data


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_bodies(), st.booleans())
def test_mutated_bodies_raise_only_response_validation_errors(
    mutated: tuple[str, object], strict: bool
) -> None:
    """Whatever a body turns into, the parser returns a record or raises one error type."""
    call, data = mutated
    parser = STRICT if strict else LENIENT
    args = (data, "/p", "storage") if call == "telemetry" else (data, "/p")
    error = outcome(getattr(parser, call), *args)
    if error is not None:
        assert error.path == "/p"
        assert error.errors
        assert all(" @ $" in line or line.startswith("... and") for line in error.errors)


@settings(max_examples=200, deadline=None)
@given(JSON_VALUES, st.sampled_from(sorted(REFERENCE_BODIES)), st.booleans())
def test_arbitrary_json_raises_only_response_validation_errors(
    data: object, call: str, strict: bool
) -> None:
    """Any JSON value given to any parse method: a record or a ResponseValidationError."""
    parser = STRICT if strict else LENIENT
    args = (data, "/p", "meters") if call == "telemetry" else (data, "/p")
    error = outcome(getattr(parser, call), *args)
    assert error is None or error.errors


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64) | JSON_VALUES.map(lambda v: json.dumps(v).encode()))
def test_decode_json_raises_only_response_validation_errors(content: bytes) -> None:
    """Any bytes: decoded JSON or a ResponseValidationError."""
    error = outcome(decode_json, content, "/p")
    assert error is None or error.path == "/p"


# --- unknown keys: edge cases -----------------------------------------------------


def test_too_deep_unknown_keys_are_a_validation_error() -> None:
    """An unknown key nested past the recursion limit is reported where it sits."""
    deep: object = 1
    for _ in range(5000):
        deep = [deep]
    error = errors_of(LENIENT.measurements, {"values": [], "x": deep}, "/e")
    assert error.errors == ("nested too deeply @ $",)
    site = {"siteId": 1, "location": {"x": deep}}
    assert errors_of(LENIENT.site, site, "/s").errors == ("nested too deeply @ $.location",)


def test_record_dates_in_forms_fromisoformat_refuses() -> None:
    """A record's timestamp in a form only the fallback reads still parses; null is None."""
    site = {"siteId": 1, "installationDate": "2023-04-17 00:00:00z"}
    for parser in (LENIENT, STRICT):
        assert parser.site(site, "/s").installation_date == datetime(2023, 4, 17, tzinfo=UTC)
    assert STRICT.site({"siteId": 1, "installationDate": None}, "/s").installation_date is None
