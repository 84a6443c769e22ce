"""Flat rows: one per site / device / bucket / metric, bucket-start stamps, nulls on request."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta

import pytest

from solaredge_async.fleet import (
    ROW_FIELDS,
    TARGETS,
    YESTERDAY,
    ItemSucceeded,
    SweepSpec,
    flat_rows,
    plan_sweep,
)

from ._support import make_client, make_sim, run_all

pytestmark = pytest.mark.anyio


async def test_every_target_flattens_to_documented_rows():
    """All site-level and bulk targets plus a battery metric give well-formed rows."""
    sim = make_sim(12, zones=("Europe/Berlin",), meter_fraction=1.0, battery_fraction=1.0)
    what = {"overview", "energy", "power", "devices", "alerts", "meter_telemetry"}
    what |= {"storage_telemetry", "storage_state_of_energy", "inverter_frequency"}
    async with make_client(sim) as client:
        plan = await plan_sweep(
            client,
            SweepSpec(what=what, start=YESTERDAY, end=YESTERDAY, resolution="HOUR"),
            now=sim.now(),
        )
        results = await run_all(client, plan)
    assert all(isinstance(r, ItemSucceeded) for r in results)
    rows = [row for r in results if isinstance(r, ItemSucceeded) for row in flat_rows(r)]
    assert all(len(row) == len(ROW_FIELDS) for row in rows)
    by_source = Counter(row[2] for row in rows)
    assert set(by_source) >= {
        "overview",
        "energy",
        "power",
        "devices",
        "alerts",
        "meters/telemetry",
        "storage/telemetry",
        "inverters/telemetry",
    }
    metrics = {(row[2], row[3]) for row in rows}
    assert ("inverters/telemetry", "frequency") in metrics
    assert ("inverters/telemetry", "power") not in metrics  # only what was asked
    assert ("storage/telemetry", "charge_power") in metrics  # the whole family was asked
    assert ("storage/telemetry", "state_of_energy") in metrics
    assert ("meters/telemetry", "import_energy") in metrics
    assert ("overview", "consumption_from_grid") in metrics
    for row in rows:
        site_id, serial, source, metric, res, start, period_end, value, unit, details = row
        assert isinstance(site_id, int)
        assert metric == metric.lower()
        if start is not None:
            assert datetime.fromisoformat(start).utcoffset() is not None
        if source in {"energy", "power"} or source.endswith("telemetry"):
            assert res == "HOUR"
            assert unit is not None
            assert value is not None  # null buckets are left out by default
            assert period_end is not None
            assert start is not None
            span = datetime.fromisoformat(period_end) - datetime.fromisoformat(start)
            assert span == timedelta(hours=1)
            assert details is None
        if source == "overview":
            assert period_end is not None
            assert unit == "WH"
        if source in {"devices", "alerts"}:
            assert isinstance(json.loads(details), dict)  # type: ignore[arg-type]
            assert serial or source == "alerts"
    # Night buckets stay null, never 0, when asked for.
    energy = [
        row for r in results if r.item.kind == "energy" for row in flat_rows(r, include_null=True)
    ]  # type: ignore[arg-type]
    assert any(row.value is None for row in energy)
    assert any(row.value for row in energy)
    assert len(energy) == 12 * 24


def test_targets_are_documented_in_one_place():
    """`TARGETS` lists the site-level, bulk and device-metric targets, without duplicates."""
    assert len(TARGETS) == len(set(TARGETS))
    assert TARGETS[:8] == (
        "overview",
        "energy",
        "power",
        "devices",
        "alerts",
        "inverter_telemetry",
        "meter_telemetry",
        "storage_telemetry",
    )
