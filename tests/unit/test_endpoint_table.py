"""The endpoint table: consistent with itself, the client, the fleet and the README."""

from __future__ import annotations

import inspect
import re
import typing
from pathlib import Path

import pytest

from solaredge_async import SolarEdgeClient, fleet
from solaredge_async._endpoints import (
    DEVICE_METRICS,
    ENDPOINTS,
    FAMILIES,
    TARGETS,
    DeviceMetric,
    ResolutionName,
    Target,
    all_path_templates,
    markdown_table,
)
from solaredge_async.cli import parse_what
from solaredge_async.models import Resolution

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_endpoint_table_is_current() -> None:
    """The README's table is exactly what the table generates (regenerate on change)."""
    text = README.read_text(encoding="utf-8")
    found = re.search(
        r"<!-- endpoint-table:start -->\n(.*?)<!-- endpoint-table:end -->", text, re.DOTALL
    )
    assert found is not None, "README.md lost its endpoint-table markers"
    assert found.group(1) == markdown_table(), (
        "README.md's endpoint table is stale: paste markdown_table() between the markers"
    )


def test_path_templates_are_unique_and_complete() -> None:
    """One operation per path; the set lists every operation's template."""
    paths = [e.path for e in ENDPOINTS.values()]
    assert len(paths) == len(set(paths))
    assert all_path_templates() == frozenset(paths)
    assert "/sites/{site_id}/storage/{serial}/state-of-energy" in all_path_templates()
    assert all(
        p.startswith("/") and p == p.lower().replace("{site_id}", "{site_id}") for p in paths
    )


def test_literals_match_the_table() -> None:
    """The Literal types list exactly the table's names (a new row needs its Literal)."""
    assert set(typing.get_args(DeviceMetric)) == set(DEVICE_METRICS)
    targets = set()
    for arg in typing.get_args(Target):
        targets |= set(typing.get_args(arg)) or {arg}
    assert targets == set(TARGETS)
    assert set(typing.get_args(ResolutionName)) == {r.value for r in Resolution}


def test_targets_are_the_rows_a_sweep_can_fetch() -> None:
    """TARGETS: site-level, bulk, then sorted device metrics; the CLI and spec accept them."""
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
    assert fleet.TARGETS == TARGETS
    assert parse_what(",".join(TARGETS)) == TARGETS
    assert fleet.SweepSpec(what=TARGETS).what == frozenset(TARGETS)


@pytest.mark.parametrize("name", sorted(DEVICE_METRICS))
def test_device_metrics_are_consistent(name: str) -> None:
    """Each device metric's family prefix, path, telemetry name and stamp side agree."""
    op = DEVICE_METRICS[name]
    assert op.family is not None
    family = FAMILIES[op.family]
    assert name.startswith(family.prefix)
    assert op.path.startswith(f"/sites/{{site_id}}/{op.family}/{{serial}}/")
    assert op.source == f"{op.family}/{op.path.rsplit('/', 1)[1]}"
    assert op.metric is not None
    assert re.fullmatch(r"[a-z]+([A-Z][a-z]+)*", op.metric)
    assert op.stamps == ("end" if op.quantity in {"voltage", "frequency"} else "start")
    assert bool(op.units) != bool(op.fixed_unit)


def test_every_operation_has_a_client_method() -> None:
    """Each operation's path appears in a client method's docstring or is reached by one."""
    methods = dict(inspect.getmembers(SolarEdgeClient, inspect.isfunction))
    for op in ENDPOINTS.values():
        if op.level == "device":
            assert "metric" in inspect.signature(methods["device_metric"]).parameters
            continue
        tail = op.path.removeprefix("/sites/{site_id}") or op.path
        documented = [n for n, f in methods.items() if tail in (f.__doc__ or "")]
        assert documented or op.family is not None or op.name == "site", op.name


def test_resolution_allow_lists() -> None:
    """Energy takes all seven; power sub-daily only; telemetry and device metrics no TOTAL."""
    assert ENDPOINTS["energy"].resolutions == {r.value for r in Resolution}
    assert ENDPOINTS["power"].resolutions == {"QUARTER_HOUR", "HOUR"}
    for op in ENDPOINTS.values():
        if op.family is not None:
            assert "TOTAL" not in op.resolutions
            assert op.resolutions
        assert bool(op.resolutions) == (op.window == "capped"), op.name


def test_paging_and_key_only() -> None:
    """Pages: sites up to 1000, alerts up to 100; /sites and /alerts take API keys only."""
    assert (ENDPOINTS["sites"].page_size_param, ENDPOINTS["sites"].page_max) == (
        "sites-in-page",
        1000,
    )
    assert ENDPOINTS["alerts"].page_max == ENDPOINTS["fleet_alerts"].page_max == 100
    assert {e.path for e in ENDPOINTS.values() if e.key_only} == {"/sites", "/alerts"}
