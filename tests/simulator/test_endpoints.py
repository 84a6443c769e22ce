"""The simulated endpoints, over the in-process httpx transport."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import httpx
import pytest

from solaredge_async.testing import FleetSpec, Simulator, SimulatorConfig

from ._support import BERLIN, NOW, client, make_sim, site_with

pytestmark = pytest.mark.anyio

TRACE = re.compile(r"^[0-9a-f]{32}$")
PROBLEM_TYPE = "https://se-api.stoplight.io/docs/monitoring"


async def test_sites_pagination_covers_every_site_once():
    """Paging /sites with any page size lists each of the account's sites exactly once."""
    sim = make_sim(fleet=FleetSpec(sites=257, api_keys=("k1", "k2")))
    async with client(sim, "k2") as c:
        seen: list[int] = []
        page = 1
        while True:
            r = await c.get("/sites", params={"page": page, "sites-in-page": 25})
            assert r.status_code == 200
            body = r.json()["sites"]
            assert body["count"] == 128
            seen += [s["siteId"] for s in body["site"]]
            if len(body["site"]) < 25:
                break
            page += 1
        r = await c.get("/sites")
    assert seen == list(sim.fleet.sites_for("k2"))
    assert len(set(seen)) == 128
    assert len(r.json()["sites"]["site"]) == 50  # default page size


async def test_sites_page_limits_and_shapes():
    """Oversized pages get 400; the count and list shape follow the settings."""
    sim = make_sim(sites=7, sites_count="page")
    async with client(sim) as c:
        assert (await c.get("/sites", params={"sites-in-page": 1001})).status_code == 400
        assert (await c.get("/sites", params={"sites-in-page": 1000})).status_code == 200
        assert (await c.get("/sites", params={"page": "x"})).status_code == 400
        r = await c.get("/sites", params={"page": 2, "sites-in-page": 5})
        assert r.json()["sites"]["count"] == 2
        r = await c.get("/sites", params={"page": 3, "sites-in-page": 5})
        assert r.json() == {"sites": {"count": 0, "site": []}}
    bare = make_sim(sites=3, sites_shape="bare", site_details_wrapped=True)
    async with client(bare) as c:
        listed = (await c.get("/sites")).json()
        assert isinstance(listed, list)
        details = (await c.get(f"/sites/{listed[0]['siteId']}")).json()
        assert details["site"]["siteId"] == listed[0]["siteId"]


async def test_site_details_fields():
    """Site details carry the documented fields with a site-local installation date."""
    sim = make_sim()
    site_id = sim.fleet.sites_for(sim.api_key)[0]
    async with client(sim) as c:
        d = (await c.get(f"/sites/{site_id}")).json()
    truth = sim.fleet.site(site_id)
    assert d["siteId"] == site_id
    assert d["peakPower"] == truth.peak_power_kw
    assert d["location"]["timezone"] == "Europe/Berlin"
    assert d["installationDate"].startswith(truth.installation_date.isoformat() + "T00:00:00+0")
    assert d["activationStatus"] in {"ACTIVE", "PENDING"}
    assert d["accountId"] == truth.account_id
    assert "lastUpdateTime" in d


async def test_energy_default_window_matches_live_shape():
    """Defaulted /energy: midnight to now, QUARTER_HOUR, WH, 9-digit period.to, 59 buckets."""
    sim = make_sim()
    site_id = sim.fleet.sites_for(sim.api_key)[0]
    async with client(sim) as c:
        body = (await c.get(f"/sites/{site_id}/energy")).json()
        overview = (await c.get(f"/sites/{site_id}/overview")).json()
    assert body["period"] == {
        "from": "2026-05-12T00:00:00+02:00",
        "to": "2026-05-12T14:37:12.123456000+02:00",
    }
    assert body["unit"] == "WH"
    assert body["resolution"] == "QUARTER_HOUR"
    values = body["values"]
    assert len(values) == 59
    assert values[0] == {"timestamp": "2026-05-12T00:00:00+02:00", "value": None}
    assert values[-1] == {"timestamp": "2026-05-12T14:30:00+02:00", "value": None}
    total = sum(v["value"] for v in values if v["value"] is not None)
    assert overview["production"]["total"] == total
    assert overview["production"]["unit"] == "WH"


async def test_energy_and_power_match_ground_truth():
    """The endpoints return exactly what `sim.fleet` predicts."""
    sim = make_sim()
    site_id = sim.fleet.sites_for(sim.api_key)[0]
    params = {"from": "2026-05-11T06:00:00", "to": "2026-05-11T18:00:00"}
    async with client(sim) as c:
        energy = (await c.get(f"/sites/{site_id}/energy", params=params)).json()
        power = (await c.get(f"/sites/{site_id}/power", params=params)).json()
    start, end = datetime(2026, 5, 11, 6, tzinfo=BERLIN), datetime(2026, 5, 11, 18, tzinfo=BERLIN)
    expected = [(t.isoformat(), v) for t, v in sim.fleet.energy(site_id, start, end)]
    assert [(v["timestamp"], v["value"]) for v in energy["values"]] == expected
    expected_p = [(t.isoformat(), v) for t, v in sim.fleet.power(site_id, start, end)]
    assert [(v["timestamp"], v["value"]) for v in power["values"]] == expected_p
    assert power["unit"] == "W"
    assert energy["period"] == {
        "from": "2026-05-11T06:00:00+02:00",
        "to": "2026-05-11T18:00:00+02:00",
    }


async def test_units_are_converted_and_echoed():
    """unit=KWH divides by 1000 and is echoed; an unknown unit is a 400."""
    sim = make_sim()
    site_id = sim.fleet.sites_for(sim.api_key)[0]
    params = {"from": "2026-05-01T00:00:00", "to": "2026-05-08T00:00:00", "resolution": "DAY"}
    async with client(sim) as c:
        wh = (await c.get(f"/sites/{site_id}/energy", params=params)).json()
        kwh = (await c.get(f"/sites/{site_id}/energy", params={**params, "unit": "KWH"})).json()
        bad = await c.get(f"/sites/{site_id}/energy", params={**params, "unit": "JOULE"})
        kw = (await c.get(f"/sites/{site_id}/power", params={"unit": "KW"})).json()
    assert kwh["unit"] == "KWH"
    assert [v["value"] for v in kwh["values"]] == pytest.approx(
        [v["value"] / 1000 for v in wh["values"]]
    )
    assert bad.status_code == 400
    assert kw["unit"] == "KW"


async def test_span_caps_and_resolution_allow_list():
    """Windows over the cap and unsupported resolutions get 400 problem+json."""
    sim = make_sim()
    site_id = sim.fleet.sites_for(sim.api_key)[0]
    day = {"from": "2026-05-10T00:00:00", "to": "2026-05-11T00:00:00"}
    async with client(sim) as c:
        qh = await c.get(f"/sites/{site_id}/energy", params=day)
        hour = await c.get(f"/sites/{site_id}/energy", params={**day, "resolution": "HOUR"})
        power_day = await c.get(f"/sites/{site_id}/power", params={**day, "resolution": "DAY"})
        bad_res = await c.get(f"/sites/{site_id}/energy", params={"resolution": "MINUTE"})
        long_day = await c.get(
            f"/sites/{site_id}/energy",
            params={
                "from": "2026-01-01T00:00:00",
                "to": "2026-03-01T00:00:00",
                "resolution": "DAY",
            },
        )
        year = await c.get(
            f"/sites/{site_id}/energy",
            params={
                "from": "2020-01-01T00:00:00",
                "to": "2026-03-01T00:00:00",
                "resolution": "YEAR",
            },
        )
        one_bound = await c.get(f"/sites/{site_id}/energy", params={"from": day["from"]})
        backwards = await c.get(
            f"/sites/{site_id}/energy", params={"from": day["to"], "to": day["from"]}
        )
        garbage = await c.get(f"/sites/{site_id}/energy", params={"from": "yesterday", "to": "x"})
    for r in (qh, power_day, bad_res, long_day, one_bound, backwards, garbage):
        assert r.status_code == 400
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["type"] == PROBLEM_TYPE
        assert TRACE.match(r.json()["traceId"])
    assert "12 hours" in qh.json()["detail"]
    assert hour.status_code == 200
    assert len(hour.json()["values"]) == 24
    assert year.status_code == 200
    # The default window is not capped (17 h of quarter-hours were seen live).
    sim.set_now(NOW.replace(hour=23))
    async with client(sim) as c:
        assert (await c.get(f"/sites/{site_id}/energy")).status_code == 200


async def test_time_input_modes():
    """With Z, 'ignore' reads the wall clock as site-local; 'convert' converts the instant."""
    params = {"from": "2026-05-11T10:00:00Z", "to": "2026-05-11T11:00:00Z"}
    for mode, first in (
        ("ignore", "2026-05-11T10:00:00+02:00"),
        ("convert", "2026-05-11T12:00:00+02:00"),
    ):
        sim = make_sim(time_input=mode)
        site_id = sim.fleet.sites_for(sim.api_key)[0]
        async with client(sim) as c:
            body = (await c.get(f"/sites/{site_id}/energy", params=params)).json()
        assert body["period"]["from"] == first
        assert body["values"][0]["timestamp"] == first
        assert len(body["values"]) == 4


async def test_unencoded_plus_offset_is_a_400():
    """A literal '+' in the query decodes to a space, so the offset is invalid (400)."""
    sim = make_sim()
    site_id = sim.fleet.sites_for(sim.api_key)[0]
    async with client(sim) as c:
        raw = "from=2026-05-11T10:00:00+02:00&to=2026-05-11T11:00:00+02:00"
        bad = await c.get(f"/sites/{site_id}/energy?{raw}")
        good = await c.get(f"/sites/{site_id}/energy?{raw.replace('+', '%2B')}")
    assert bad.status_code == 400
    assert good.status_code == 200


async def test_devices_default_to_inverters():
    """/devices lists inverters only unless types are repeated."""
    sim = make_sim(sites=40, zones=None)
    site_id = site_with(sim, meter=True, battery=True)
    truth = sim.fleet.site(site_id)
    async with client(sim) as c:
        default = (await c.get(f"/sites/{site_id}/devices")).json()
        everything = (
            await c.get(
                f"/sites/{site_id}/devices",
                params=[
                    ("types", "INVERTER"),
                    ("types", "METER"),
                    ("types", "BATTERY"),
                    ("types", "OPTIMIZER"),
                ],
            )
        ).json()
        comma = await c.get(f"/sites/{site_id}/devices", params={"types": "INVERTER,METER"})
        gateway = (await c.get(f"/sites/{site_id}/devices", params={"types": "GATEWAY"})).json()
    assert [d["serialNumber"] for d in default] == list(truth.inverters)
    assert {d["type"] for d in default} == {"INVERTER"}
    assert default[0]["connectedOptimizers"] > 0
    kinds = [d["type"] for d in everything]
    assert kinds.count("METER") == len(truth.meters)
    assert kinds.count("BATTERY") == len(truth.batteries)
    assert kinds.count("OPTIMIZER") == truth.optimizers
    assert comma.status_code == 400
    assert gateway == []


async def test_alerts_are_bare_arrays_and_paginate():
    """Site and fleet alerts are bare arrays, ≤ 100 a page, with only-open filtering."""
    sim = make_sim(fleet=FleetSpec(sites=60, alert_fraction=1.0, zones=("Europe/Berlin",)))
    site_id = sim.fleet.sites_for(sim.api_key)[0]
    async with client(sim) as c:
        site_alerts = (
            await c.get(f"/sites/{site_id}/alerts", params={"only-open": "false"})
        ).json()
        assert isinstance(site_alerts, list)
        assert all(a["siteId"] == site_id for a in site_alerts)
        fleet_all: list[dict[str, object]] = []
        page = 1
        while True:
            r = await c.get(
                "/alerts", params={"page": page, "alerts-in-page": 17, "only-open": "false"}
            )
            fleet_all += r.json()
            if len(r.json()) < 17:
                break
            page += 1
        open_only = (
            await c.get("/alerts", params={"only-open": "true", "alerts-in-page": 100})
        ).json()
        too_big = await c.get("/alerts", params={"alerts-in-page": 101})
    ids = [a["alertId"] for a in fleet_all]
    assert len(ids) == len(set(ids)) > 60
    assert all(a["status"] == "OPEN" for a in open_only)
    assert 0 < len(open_only) < len(fleet_all)
    assert too_big.status_code == 400
    first = fleet_all[0]
    assert set(first) >= {
        "alertId",
        "siteId",
        "type",
        "category",
        "impact",
        "status",
        "firstTrigger",
        "lastTrigger",
        "component",
        "errorCodes",
    }


async def test_inverter_telemetry_sums_to_site():
    """Inverter energies add up exactly to the site's; powers to within rounding."""
    sim = make_sim(sites=80, zones=("Europe/Berlin",))
    site_id = next(
        s for s in sim.fleet.sites_for(sim.api_key) if len(sim.fleet.site(s).inverters) > 1
    )
    params = {"from": "2026-05-11T06:00:00", "to": "2026-05-11T18:00:00"}
    async with client(sim) as c:
        tele = (await c.get(f"/sites/{site_id}/inverters/telemetry", params=params)).json()
        energy = (await c.get(f"/sites/{site_id}/energy", params=params)).json()
        power = (await c.get(f"/sites/{site_id}/power", params=params)).json()
    inverters = tele["inverters"]
    assert list(inverters) == list(sim.fleet.site(site_id).inverters)
    for k, bucket in enumerate(energy["values"]):
        parts = [inv["energy"]["values"][k]["value"] for inv in inverters.values()]
        if bucket["value"] is None:
            assert all(p is None for p in parts)
        else:
            assert sum(parts) == bucket["value"]
            p_parts = [inv["power"]["values"][k]["value"] for inv in inverters.values()]
            assert sum(p_parts) == pytest.approx(power["values"][k]["value"], abs=1e-3)
    serial, one = next(iter(inverters.items()))
    start, end = datetime(2026, 5, 11, 6, tzinfo=BERLIN), datetime(2026, 5, 11, 18, tzinfo=BERLIN)
    for metric in ("energy", "voltage"):
        truth = sim.fleet.telemetry(site_id, serial, metric, start=start, end=end)
        assert [(t.isoformat(), v) for t, v in truth] == [
            (v["timestamp"], v["value"]) for v in one[metric]["values"]
        ]
    assert set(one) == {"power", "energy", "voltage", "current", "frequency"}
    assert one["voltage"]["unit"] == "VOLT"
    # Voltage and frequency are stamped with the bucket's end.
    assert one["voltage"]["values"][0]["timestamp"] == "2026-05-11T06:15:00+02:00"
    assert one["power"]["values"][0]["timestamp"] == "2026-05-11T06:00:00+02:00"


async def test_telemetry_families_and_resolution_metrics():
    """Absent families are {}; DAY telemetry carries energy metrics only; SoE is a fraction."""
    sim = make_sim(sites=60, zones=("Europe/Berlin",))
    pv_only = site_with(sim, meter=False)
    battery = site_with(sim, meter=True, battery=True)
    day = {"from": "2026-05-01T00:00:00", "to": "2026-05-08T00:00:00", "resolution": "DAY"}
    async with client(sim) as c:
        meters = (await c.get(f"/sites/{pv_only}/meters/telemetry")).json()
        storage = (await c.get(f"/sites/{battery}/storage/telemetry")).json()
        daily = (await c.get(f"/sites/{battery}/inverters/telemetry", params=day)).json()
        meter_tele = (await c.get(f"/sites/{battery}/meters/telemetry")).json()
    assert meters["meters"] == {}
    series = next(iter(storage["storage"].values()))
    soe = [v["value"] for v in series["stateOfEnergy"]["values"] if v["value"] is not None]
    assert soe
    assert all(0.0 <= v <= 1.0 for v in soe)
    assert series["stateOfEnergy"]["unit"] == "PERCENTAGE"
    assert all(set(v) == {"energy"} for v in daily["inverters"].values())
    consumption = next(m for m in meter_tele["meters"].values() if "consumptionEnergy" in m)
    assert {"importPower", "exportEnergy"} <= set(consumption)


async def test_device_level_metric_paths():
    """Kebab-case device metrics answer Measurements; camelCase and unknown serials do not."""
    sim = make_sim(sites=60, zones=("Europe/Berlin",), unknown_site_status=404)
    site_id = site_with(sim, meter=True, battery=True)
    truth = sim.fleet.site(site_id)
    inv, bat = truth.inverters[0], truth.batteries[0]
    meter = truth.meters[truth.meter_types.index("CONSUMPTION")]
    async with client(sim) as c:
        v = await c.get(f"/sites/{site_id}/inverters/{inv}/voltage")
        p = await c.get(f"/sites/{site_id}/inverters/{inv}/power", params={"unit": "KW"})
        soe = await c.get(
            f"/sites/{site_id}/storage/{bat}/state-of-energy", params={"unit": "PERCENTAGE"}
        )
        imp = await c.get(f"/sites/{site_id}/meters/{meter}/import-power")
        both = await c.get(f"/sites/{site_id}/storage/{','.join(truth.batteries)}/telemetry")
        camel = await c.get(f"/sites/{site_id}/storage/{bat}/stateOfEnergy")
        unknown = await c.get(f"/sites/{site_id}/inverters/DEADBEEF-00/power")
        prod = await c.get(f"/sites/{site_id}/meters/{meter}/production-power")
    assert v.json()["unit"] == "VOLT"
    assert p.json()["unit"] == "KW"
    assert soe.json()["unit"] == "PERCENTAGE"
    assert imp.json()["unit"] == "W"
    assert list(both.json()["storage"]) == list(truth.batteries)
    assert camel.status_code == 404
    assert camel.json()["detail"] == "Unknown endpoint"
    assert unknown.status_code == 404
    assert prod.status_code == 404


async def test_environmental_benefits_and_performance():
    """Environmental benefits follow the unit system; performance has its two figures."""
    sim = make_sim()
    site_id = sim.fleet.sites_for(sim.api_key)[0]
    async with client(sim) as c:
        metric = (await c.get(f"/sites/{site_id}/environmental-benefits")).json()
        imperial = (
            await c.get(f"/sites/{site_id}/environmental-benefits", params={"unit": "IMPERIAL"})
        ).json()
        perf = (await c.get(f"/sites/{site_id}/overview/performance")).json()
    assert metric["co2Emissions"]["unit"] == "KG"
    assert imperial["co2Emissions"]["value"] == pytest.approx(
        metric["co2Emissions"]["value"] * 2.20462, rel=1e-3
    )
    assert metric["evMiles"] > 0
    assert set(perf) == {"specificYield", "performanceRatio"}


async def test_power_flow_needs_the_advanced_tier():
    """power-flow is 403 on the basic tier and answers on an Advanced account."""
    sim = make_sim(
        fleet=FleetSpec(sites=4, api_keys=("basic", "pro")), advanced_accounts=frozenset({"pro"})
    )
    async with client(sim, "basic") as c:
        denied = await c.get(f"/sites/{sim.fleet.sites_for('basic')[0]}/power-flow")
    async with client(sim, "pro") as c:
        flow = await c.get(f"/sites/{sim.fleet.sites_for('pro')[0]}/power-flow")
    assert denied.status_code == 403
    assert flow.status_code == 200
    assert set(flow.json()["siteCurrentPowerFlow"]) >= {"PV", "GRID", "LOAD"}


async def test_error_bodies_401_403_404_410():
    """Each error has its documented problem+json shape and a fresh trace id."""
    sim = make_sim(fleet=FleetSpec(sites=4, api_keys=("a", "b")))
    mine, theirs = sim.fleet.sites_for("a")[0], sim.fleet.sites_for("b")[0]
    async with client(sim, "a") as c:
        missing = await c.get("/sites", headers={"X-API-Key": ""})
        async with client(sim, "") as anon:
            no_key = await anon.get("/sites")
        bad_key = await c.get("/sites", headers={"X-API-Key": "wrong"})
        other = await c.get(f"/sites/{theirs}/overview")
        unknown_site = await c.get("/sites/1/overview")
        nf1 = await c.get(f"/sites/{mine}/powerFlow")
        nf2 = await c.get(f"/sites/{mine}/powerFlow")
        gone = await c.get(f"/site/{mine}/overview", params={"api_key": "a"})
        post = await c.post(f"/sites/{mine}/overview")
    assert missing.status_code == no_key.status_code == bad_key.status_code == 401
    assert no_key.json() == {
        "type": PROBLEM_TYPE,
        "title": "Unauthorized - Authentication Failed",
        "status": 401,
        "detail": "API key missing in the request",
        "instance": None,
        "properties": {"traceId": no_key.json()["properties"]["traceId"]},
    }
    assert TRACE.match(no_key.json()["properties"]["traceId"])
    assert bad_key.json()["detail"] == "Invalid API key"
    assert other.status_code == 403
    assert unknown_site.status_code == 403  # the default for an unknown site
    assert nf1.status_code == 404
    assert nf1.headers["content-type"] == "application/problem+json"
    assert nf1.json()["title"] == "Not Found"
    assert nf1.json()["traceId"] != nf2.json()["traceId"]
    assert TRACE.match(nf1.json()["traceId"])
    assert gone.status_code == 410
    assert "V1" in gone.json()["detail"]
    assert post.status_code == 405
    top = make_sim(trace_id_in_properties=False)
    async with client(top, "nope") as c:
        assert TRACE.match((await c.get("/sites")).json()["traceId"])


@pytest.mark.parametrize(
    "path", ["powerFlow", "storage", "battery", "environmentalBenefits", "summary"]
)
async def test_known_non_routes_are_404(path):
    """The §9.5 camelCase and legacy forms are 'Unknown endpoint'."""
    sim = make_sim()
    site_id = sim.fleet.sites_for(sim.api_key)[0]
    async with client(sim) as c:
        r = await c.get(f"/sites/{site_id}/{path}")
    assert r.status_code == 404
    assert r.json()["detail"] == "Unknown endpoint"


async def test_headers_on_every_response():
    """Content type, cache, security, gateway and rate-limit headers are on every response."""
    sim = make_sim(requests_per_minute=10)
    site_id = sim.fleet.sites_for(sim.api_key)[0]
    async with client(sim) as c:
        responses = [
            await c.get("/sites"),
            await c.get(f"/sites/{site_id}/nope"),
            await c.get("/sites", headers={"X-API-Key": "bad"}),
        ]
    ids = set()
    for r in responses:
        h = r.headers
        assert h["x-ratelimit-limit-minute"] == "10"
        assert int(h["x-ratelimit-remaining-minute"]) >= 0
        assert h["cache-control"] == "no-cache, no-store, max-age=0, must-revalidate"
        assert h["pragma"] == "no-cache"
        assert h["expires"] == "0"
        assert h["x-content-type-options"] == "nosniff"
        assert h["strict-transport-security"] == "max-age=31536000 ; includeSubDomains"
        assert h["x-frame-options"] == "DENY"
        assert h["referrer-policy"] == "no-referrer"
        assert h["access-control-allow-origin"] == "*"
        assert h["server"] == "cloudflare"
        assert h["via"] == "kong/3.7.1"
        assert re.match(r"^[0-9a-f]{32}$", h["x-kong-request-id"])
        assert re.match(r"^[0-9a-f]{16}-[A-Z]{3}$", h["cf-ray"])
        ids.add(h["x-kong-request-id"])
    assert len(ids) == 3
    assert responses[0].headers["content-type"] == "application/json"
    assert responses[1].headers["content-type"] == "application/problem+json"


async def test_prefix_and_monitoring_alias():
    """The API mounts under any prefix; /v2/monitoring is an optional alias."""
    sim = make_sim(monitoring_alias=True)
    async with client(sim) as c:
        assert (await c.get("/sites")).status_code == 200
        assert (await c.get("/monitoring/sites")).status_code == 200
        outside = await c.get("https://simulator.solaredge.invalid/v3/sites")
    assert outside.status_code == 404
    root = make_sim(prefix="")
    async with httpx.AsyncClient(transport=root.transport(), base_url="http://sim") as c:
        r = await c.get("/sites", headers={"X-API-Key": root.api_key})
    assert r.status_code == 200
    plain = make_sim()
    async with client(plain) as c:
        assert (await c.get("/monitoring/sites")).status_code == 404


async def test_request_log_is_recorded_and_bounded():
    """Received requests are recorded (newest N kept) with the key kept out of the repr."""
    sim = make_sim(record_requests=3)
    async with client(sim) as c:
        for page in range(1, 6):
            await c.get("/sites", params={"page": page})
    records = sim.requests
    assert [r.query for r in records] == [(("page", "3"),), (("page", "4"),), (("page", "5"),)]
    assert records[0].api_key == sim.api_key
    assert records[0].auth == "api_key"
    assert sim.api_key not in repr(records[0])
    none = make_sim(record_requests=0)
    async with client(none) as c:
        await c.get("/sites")
    assert none.requests == []


async def test_overview_performance_block_and_units_settings():
    """Overview units and the optional 2023 performance block follow the settings."""
    sim = make_sim(overview_units=("KWH", "WH"), overview_performance=True)
    site_id = sim.fleet.sites_for(sim.api_key)[0]
    async with client(sim) as c:
        o = (await c.get(f"/sites/{site_id}/overview")).json()
    assert o["production"]["unit"] == "KWH"
    assert o["production"]["total"] == sim.fleet.overview(site_id)["production"] / 1000
    assert set(o["performance"]) == {"specificYield", "performanceRatio"}


async def test_explicit_overview_window_equals_energy_sum():
    """An explicit overview window equals the energy buckets of the same window."""
    sim = make_sim(sites=40, zones=None)
    site_id = site_with(sim, meter=True, battery=True)
    params = {"from": "2026-05-10T08:00:00", "to": "2026-05-10T20:00:00"}
    async with client(sim) as c:
        o = (await c.get(f"/sites/{site_id}/overview", params=params)).json()
        e = (await c.get(f"/sites/{site_id}/energy", params=params)).json()
    assert o["production"]["total"] == sum(v["value"] or 0 for v in e["values"])
    assert o["consumption"]["total"] is not None
    assert o["production"]["toStorage"] is not None


async def test_simulator_settings_are_validated():
    """Invalid settings are refused at construction."""
    with pytest.raises(ValueError):
        SimulatorConfig(prefix="v2")
    with pytest.raises(ValueError):
        FleetSpec(api_keys=("a", "a"))
    with pytest.raises(ValueError):
        Simulator(requests_per_minute=-1)
    with pytest.raises(ValueError):
        SimulatorConfig(now=datetime(2026, 1, 1))
    sim = make_sim()
    with pytest.raises(ValueError):
        sim.set_now(datetime(2026, 1, 1))
    sim.advance(timedelta(hours=1))
    assert sim.now() == NOW + timedelta(hours=1)


async def test_storage_settings_soe_scale_and_negative_energy():
    """The state of energy can be 0-100; negative storage energy samples can be injected."""
    sim = make_sim(sites=60, soe_scale="percent", negative_storage_energy=0.2)
    site_id = site_with(sim, meter=True, battery=True)
    async with client(sim) as c:
        body = (await c.get(f"/sites/{site_id}/storage/telemetry")).json()
    series = next(iter(body["storage"].values()))
    soe = [v["value"] for v in series["stateOfEnergy"]["values"] if v["value"] is not None]
    assert max(soe) > 1.0
    assert all(0.0 <= v <= 100.0 for v in soe)
    energies = [
        v["value"]
        for name in ("chargeEnergy", "dischargeEnergy")
        for v in series[name]["values"]
        if v["value"] is not None
    ]
    negatives = [v for v in energies if v < 0]
    assert 0 < len(negatives) < len(energies)


async def test_span_clock_on_the_fall_back_day():
    """A 25 h fall-back day at HOUR is over the 24 h cap in elapsed time, not in wall time."""
    params = {"from": "2026-10-25T00:00:00", "to": "2026-10-26T00:00:00", "resolution": "HOUR"}
    for clock, status, n in (("elapsed", 400, 0), ("wall", 200, 25)):
        sim = make_sim(span_clock=clock, now=datetime(2026, 11, 1, tzinfo=BERLIN))
        site_id = sim.fleet.sites_for(sim.api_key)[0]
        async with client(sim) as c:
            r = await c.get(f"/sites/{site_id}/energy", params=params)
        assert r.status_code == status
        if n:
            stamps = [v["timestamp"] for v in r.json()["values"]]
            assert len(stamps) == n
            assert "2026-10-25T02:00:00+02:00" in stamps
            assert "2026-10-25T02:00:00+01:00" in stamps
