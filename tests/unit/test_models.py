"""Tests for the records: frozen, keyword-only, hashable, picklable, open enums."""

from __future__ import annotations

import copy
import enum
import json
import pickle
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import attrs
import orjson
import pytest

import solaredge_async
from solaredge_async import models
from solaredge_async.converters import ResponseParser
from solaredge_async.models import (
    Device,
    DeviceType,
    Measurements,
    Period,
    Site,
    Telemetry,
    TelemetrySeries,
    Unit,
)
from solaredge_async.models._json import FrozenDict, freeze_json

if TYPE_CHECKING:
    from collections.abc import Callable

RECORDS = [getattr(models, name) for name in models.__all__ if attrs.has(getattr(models, name))]
ENUMS = [
    getattr(models, name)
    for name in models.__all__
    if isinstance(getattr(models, name), type) and issubclass(getattr(models, name), enum.Enum)
]


def test_all_is_sorted_and_complete() -> None:
    """``models.__all__`` is sorted, and the package's lazy names cover every record."""
    assert models.__all__ == sorted(models.__all__)
    exported = set(solaredge_async.__all__)
    missing = {name for name in models.__all__ if name not in exported} - {"JSONValue"}
    assert not missing


@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: c.__name__)
def test_records_are_frozen_and_keyword_only(cls: type) -> None:
    """Every record is a frozen, slotted, keyword-only attrs class with a docstring."""
    assert cls.__doc__
    assert "__slots__" in cls.__dict__
    fields = attrs.fields(cls)
    assert all(f.kw_only for f in fields)
    required = {f.name: _sample(f.type) for f in fields if f.default is attrs.NOTHING}
    instance = cls(**required)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        setattr(instance, fields[0].name, None)
    with pytest.raises(TypeError):
        cls(*required.values()) if required else cls(None)


def _sample(tp: object) -> object:
    return {
        int: 1,
        str: "x",
        datetime: datetime(2026, 5, 12, tzinfo=UTC),
        DeviceType | str: DeviceType.METER,
    }[tp]  # type: ignore[index]


@pytest.mark.parametrize("cls", ENUMS, ids=lambda c: c.__name__)
def test_enums_are_str_enums_named_by_value(cls: type[enum.Enum]) -> None:
    """Members equal the API's strings (``Unit.WH == "WH"``)."""
    assert issubclass(cls, enum.StrEnum)
    for member in cls:
        assert member == member.name
        assert str(member) == member.name


def test_unit_members() -> None:
    """The units of §6 are all there."""
    assert {u.value for u in Unit} == {
        "WH", "KWH", "MWH", "GWH", "W", "KW", "MW", "VOLT", "AMPERE", "HERTZ",
        "PERCENTAGE", "PERCENTAGE_100",
    }  # fmt: skip


def _parsed_records() -> list[object]:
    parser = ResponseParser(strict=False)
    device = {"type": "BATTERY", "serialNumber": "7B00C0DE", "weird": {"a": [1, {"b": None}]}}
    series = {"unit": "W", "values": [{"timestamp": "2026-05-12T10:15:00+02:00", "value": 1.5}]}
    return [
        parser.devices([device], "/d")[0],
        parser.telemetry({"meters": {"9": {"importPower": series}}}, "/t", "meters"),
        parser.measurements(
            {"period": {"from": "2026-05-12T00:00:00Z", "to": "2026-05-13T00:00:00Z"}, **series},
            "/e",
        ),
        parser.power_flow({"siteCurrentPowerFlow": {"PV": {"currentPower": 2}}}, "/pf"),
        parser.site({"siteId": 1, "location": {"timezone": "Europe/Berlin"}}, "/s"),
        parser.site({"siteId": 1, "owner": {"ids": [1, 2]}, "location": {"lat": 52.5}}, "/s"),
        parser.overview({"siteId": 1, "production": {"unit": "WH", "meter": [None]}}, "/o"),
    ]


@pytest.mark.parametrize("record", _parsed_records(), ids=lambda r: type(r).__name__)
def test_parsed_records_hash_pickle_and_copy(record: object) -> None:
    """Parsed records, mappings inside included, hash, pickle and deep-copy to equals."""
    assert hash(record) == hash(copy.deepcopy(record))
    restored = pickle.loads(pickle.dumps(record))  # noqa: S301 - our own bytes
    assert restored == record
    assert hash(restored) == hash(record)
    assert copy.copy(record) == record


RAW_RECORDS = {models.EnvironmentalBenefits, models.OverviewPerformance, models.PowerFlow}


@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: c.__name__)
def test_every_record_keeps_unknown_fields(cls: type) -> None:
    """Each record has a frozen ``extra`` defaulting to the shared empty mapping (raw ones: ``raw``)."""
    field = attrs.fields_dict(cls)["raw" if cls in RAW_RECORDS else "extra"]
    assert field.default is models._json.EMPTY_OBJECT
    assert isinstance(field.default, FrozenDict)
    assert field.default == {}


def test_frozen_dict_refuses_changes() -> None:
    """FrozenDict refuses every mutation, but copies into a plain dict."""
    frozen = FrozenDict({"a": 1})
    mutations: tuple[Callable[[FrozenDict[str, int]], object], ...] = (
        lambda d: d.__setitem__("b", 2),
        lambda d: d.__delitem__("a"),
        lambda d: d.update(b=2),
        lambda d: d.pop("a"),
        lambda d: d.popitem(),
        lambda d: d.setdefault("b", 2),
        lambda d: d.clear(),
        lambda d: d.__ior__({"b": 2}),
    )
    for mutate in mutations:
        with pytest.raises(TypeError, match="read-only"):
            mutate(frozen)
    assert frozen == {"a": 1}
    thawed = dict(frozen)
    thawed["b"] = 2
    assert frozen == {"a": 1}
    assert repr(frozen) == "FrozenDict({'a': 1})"


def test_frozen_values_serialise_like_json() -> None:
    """Frozen JSON serialises with json and orjson exactly like the original."""
    original = {"a": [1, {"b": None, "c": [True, "x"]}], "d": 2.5}
    frozen = freeze_json(original)
    assert json.loads(json.dumps(frozen)) == original
    assert orjson.loads(orjson.dumps(frozen)) == original
    with pytest.raises(TypeError, match="not JSON data"):
        freeze_json({"a": {1, 2}})
    with pytest.raises(TypeError, match="keys must be strings"):
        freeze_json({1: "a"})


def test_defaults_are_empty_and_none() -> None:
    """Optional fields default to None, sequences to empty tuples, mappings to empty."""
    assert Measurements() == Measurements(
        period=None, unit=None, resolution=None, timestamps=(), values=()
    )
    assert TelemetrySeries().values == ()
    assert Telemetry(family="storage").devices == {}
    device = Device(type="HEAT_PUMP", serial_number="1")
    assert device.extra == {}
    assert device.model is None
    assert Site(site_id=1).location is None


def test_period_uses_start_and_end() -> None:
    """Period's fields are named start/end (JSON from/to), then the unknown keys."""
    assert [f.name for f in attrs.fields(Period)] == ["start", "end", "extra"]
