"""The simulator counts and answers like the live API.

Its clock, trace ids, gzip, caps, the bucket at ``to``, its route table, and its
independence from the library.
"""

from __future__ import annotations

import ast
import gzip
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import httpx
import pytest

from solaredge_async.testing import SimClock, route_templates
from solaredge_async.testing._routes import FAMILIES
from tests._clock import virtual_backend

from ._support import BERLIN, NOW, client, make_sim, site_with

pytestmark = pytest.mark.anyio

TESTING = Path(__file__).parents[2] / "solaredge_async" / "testing"


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request):
    """Each test on asyncio and trio, both with an auto-jumping virtual clock."""
    return virtual_backend(str(request.param))


# ----- the clock ------------------------------------------------------------------------


class Ticks:
    """A hand-driven tick source."""

    def __init__(self) -> None:
        self.value = 1000.0

    def __call__(self) -> float:
        """Return the current tick."""
        return self.value


def test_sim_clock_runs_at_its_speed_from_its_start():
    """A running clock reads start + elapsed ticks x speed; a frozen one stands still."""
    ticks = Ticks()
    running = SimClock(NOW, speed=240.0, ticks=ticks)
    frozen = SimClock(NOW, frozen=True, ticks=ticks)
    ticks.value += 15.0
    assert running.now() == NOW + timedelta(hours=1)
    assert frozen.now() == NOW
    frozen.advance(timedelta(minutes=5))
    running.set(datetime(2026, 1, 1, tzinfo=UTC))
    ticks.value += 1.0
    assert frozen.now() == NOW + timedelta(minutes=5)
    assert running.now() == datetime(2026, 1, 1, 0, 4, tzinfo=UTC)
    assert (running.speed, running.frozen, frozen.frozen) == (240.0, False, True)


def test_sim_clock_maps_caller_ticks_onto_its_minutes():
    """The first caller tick reads "now"; later ticks add elapsed x speed, frozen or not."""
    clock = SimClock(NOW, frozen=True, speed=2.0)
    assert clock.gateway_time(50.0) == NOW.timestamp()
    assert clock.gateway_time(53.0) == NOW.timestamp() + 6.0
    clock.advance(60.0)
    assert clock.gateway_time(53.0) == NOW.timestamp() + 60.0


def test_sim_clock_refuses_bad_settings():
    """A naive start or a speed that is not a positive number is refused."""
    with pytest.raises(ValueError, match="aware"):
        SimClock(datetime(2026, 1, 1))
    for speed in (0.0, -1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="speed"):
            SimClock(NOW, speed=speed)
    with pytest.raises(ValueError, match="not both"):
        make_sim(now=NOW, sim_clock=SimClock(NOW))


async def test_a_fast_clock_publishes_data_and_resets_minutes_faster():
    """At 60x, 15 s of the event loop's clock publish the next bucket and cross minutes."""
    start = datetime(2026, 5, 12, 12, 0, 1, tzinfo=BERLIN)
    clock = SimClock(start, speed=60.0, ticks=anyio.current_time)
    sim = make_sim(now=None, sim_clock=clock, requests_per_minute=2)
    site_id = sim.fleet.sites_for(sim.api_key)[0]
    async with client(sim) as c:
        before = (await c.get(f"/sites/{site_id}/energy")).json()["values"]
        second = await c.get(f"/sites/{site_id}/energy")
        refused = await c.get(f"/sites/{site_id}/energy")
        await anyio.sleep(15.0)  # 15 simulated minutes
        after = (await c.get(f"/sites/{site_id}/energy")).json()["values"]
    assert second.status_code == 200
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) == 59  # simulated seconds to 12:01:00
    assert len(after) == len(before) + 1
    published = [v for v in after if v["value"] is not None]
    assert len(published) == len([v for v in before if v["value"] is not None]) + 1
    assert sim.now() - start.astimezone(UTC) >= timedelta(minutes=15)


async def test_today_follows_the_clock():
    """The default window starts at the site's midnight of the clock's day."""
    sim = make_sim()
    site_id = sim.fleet.sites_for(sim.api_key)[0]
    async with client(sim) as c:
        today = (await c.get(f"/sites/{site_id}/energy")).json()["period"]["from"]
        sim.advance(timedelta(days=1))
        tomorrow = (await c.get(f"/sites/{site_id}/energy")).json()["period"]["from"]
    assert today == "2026-05-12T00:00:00+02:00"
    assert tomorrow == "2026-05-13T00:00:00+02:00"


# ----- trace ids and gzip ----------------------------------------------------------------


async def test_trace_ids_start_with_the_unix_time_of_the_call():
    """The first 8 hex digits of every trace id are the clock's Unix time (as live)."""
    sim = make_sim(trace_id_in_properties=True)
    expected = f"{int(NOW.timestamp()):08x}"
    async with client(sim) as c, client(sim, "") as anonymous:
        missing = (await c.get("/sites/1/nothing")).json()["traceId"]
        unauthorized = (await anonymous.get("/sites")).json()["properties"]["traceId"]
        sim.advance(3600.0)
        later = (await c.get("/sites/1/nothing")).json()["traceId"]
    assert missing[:8] == unauthorized[:8] == expected
    assert later[:8] == f"{int(NOW.timestamp()) + 3600:08x}"
    assert len({missing, unauthorized}) == 2
    assert all(len(t) == 32 and int(t, 16) >= 0 for t in (missing, unauthorized, later))


async def test_200s_are_gzipped_for_a_client_that_accepts_gzip():
    """A 200 is gzip with ``vary: accept-encoding``; errors and refusing clients get plain."""
    sim = make_sim()
    site_id = sim.fleet.sites_for(sim.api_key)[0]
    async with client(sim) as c:
        ok = await c.get(f"/sites/{site_id}/energy", headers={"accept-encoding": "gzip"})
        plain = await c.get(f"/sites/{site_id}/energy", headers={"accept-encoding": "identity"})
        refused = await c.get(f"/sites/{site_id}/energy", headers={"accept-encoding": "gzip;q=0"})
        error = await c.get("/sites/1/nothing", headers={"accept-encoding": "gzip"})
    assert ok.headers["content-encoding"] == "gzip"
    assert ok.headers["vary"] == "accept-encoding"
    assert ok.json() == plain.json()  # httpx decoded it
    for reply in (plain, refused, error):
        assert "content-encoding" not in reply.headers
        assert "vary" not in reply.headers
    raw = sim.handle(
        "GET",
        f"/v2/sites/{site_id}/energy",
        "",
        {"x-api-key": sim.api_key, "accept-encoding": "gzip"},
    )
    assert gzip.decompress(raw.body) == plain.content


async def test_gzip_can_be_switched_off():
    """With ``gzip_responses=False`` every answer is plain."""
    sim = make_sim(gzip_responses=False)
    async with client(sim) as c:
        r = await c.get("/sites", headers={"accept-encoding": "gzip, deflate"})
    assert r.status_code == 200
    assert "content-encoding" not in r.headers


# ----- caps and the bucket at `to` ----------------------------------------------------------


async def test_quarter_hour_cap_is_12_h_or_a_whole_day():
    """A 24 h QUARTER_HOUR window is over the documented 12 h cap; 24 h mode serves it."""
    day = {"from": "2026-05-11T00:00:00", "to": "2026-05-12T00:00:00"}
    long = {"from": "2026-05-11T00:00:00", "to": "2026-05-12T01:00:00"}
    for hours, statuses in ((12, (400, 400, 200)), (24, (200, 400, 200))):
        sim = make_sim(subdaily_cap_hours=hours)
        site_id = sim.fleet.sites_for(sim.api_key)[0]
        async with client(sim) as c:
            got = (
                await c.get(f"/sites/{site_id}/energy", params=day),
                await c.get(f"/sites/{site_id}/energy", params={**long, "resolution": "HOUR"}),
                await c.get(f"/sites/{site_id}/energy", params={**day, "resolution": "HOUR"}),
            )
        assert tuple(r.status_code for r in got) == statuses, hours
        if hours == 24:
            assert len(got[0].json()["values"]) == 96
        else:
            assert "12 hours" in got[0].json()["detail"]


@pytest.mark.parametrize(
    ("resolution", "start", "end", "count"),
    [
        ("QUARTER_HOUR", "2026-05-11T00:00:00", "2026-05-11T12:00:00", 48),
        ("HOUR", "2026-05-11T00:00:00", "2026-05-11T12:00:00", 12),
        ("DAY", "2026-05-01T00:00:00", "2026-05-08T00:00:00", 7),
    ],
)
async def test_the_bucket_at_to_is_listed_when_set(resolution, start, end, count):
    """With ``include_bucket_at_to`` the bucket starting exactly at ``to`` comes too."""
    params = {"from": start, "to": end, "resolution": resolution}
    stamps = {}
    for include in (False, True):
        sim = make_sim(sites=20, zones=("Europe/Berlin",), include_bucket_at_to=include)
        site_id = site_with(sim, battery=True)
        async with client(sim) as c:
            energy = (await c.get(f"/sites/{site_id}/energy", params=params)).json()
            telemetry = await c.get(f"/sites/{site_id}/storage/telemetry", params=params)
        stamps[include] = [v["timestamp"] for v in energy["values"]]
        series = next(iter(telemetry.json()["storage"].values()))["chargeEnergy"]["values"]
        assert [v["timestamp"] for v in series] == stamps[include]
    assert len(stamps[False]) == count
    assert stamps[True][:-1] == stamps[False]
    assert stamps[True][-1].startswith(end)
    assert energy["period"]["to"].startswith(end)  # the window echoed is still the one asked


async def test_a_defaulted_window_never_grows_a_bucket():
    """The setting touches explicit ``to`` only: midnight-to-now is unchanged."""
    counts = []
    for include in (False, True):
        sim = make_sim(
            include_bucket_at_to=include, now=NOW.replace(minute=45, second=0, microsecond=0)
        )
        site_id = sim.fleet.sites_for(sim.api_key)[0]
        async with client(sim) as c:
            counts.append(len((await c.get(f"/sites/{site_id}/energy")).json()["values"]))
    assert counts[0] == counts[1] == 59


# ----- the route table --------------------------------------------------------------------


def test_route_templates_list_the_reference_paths():
    """The templates use §9's placeholders and cover the fleet, site and device paths."""
    templates = route_templates()
    assert {
        "/sites",
        "/alerts",
        "/sites/{siteId}",
        "/sites/{siteId}/energy",
        "/sites/{siteId}/overview/performance",
        "/sites/{siteId}/inverters/telemetry",
        "/sites/{siteId}/storage/{sn}/telemetry",
        "/sites/{siteId}/inverters/{sn}/voltage",
        "/sites/{siteId}/meters/{sn}/import-energy",
        "/sites/{siteId}/storage/{sn}/state-of-energy",
    } <= templates
    assert not any("/oauth2/" in t for t in templates)
    assert route_templates(oauth=True) - templates == {"/oauth2/token", "/oauth2/revoke-token"}
    assert all(t.startswith("/") and " " not in t for t in templates)


async def test_every_route_template_is_served():
    """Each template, filled with a real site and serial, reaches its body; others do not."""
    sim = make_sim(sites=20, zones=None, advanced_tier=True)
    site_id = site_with(sim, meter=True, battery=True)
    model = sim.fleet.model(sim.fleet.index_of(site_id))
    serials = {
        "inverters": model.inverters[0].serial,
        "meters": model.meters[0].serial,
        "storage": model.batteries[0].serial,
    }
    async with client(sim) as c:
        for template in sorted(route_templates()):
            family = next((f for f in FAMILIES if f"/{f}/" in template), "inverters")
            path = template.replace("{siteId}", str(site_id)).replace("{sn}", serials[family])
            r = await c.get(path)
            assert r.status_code in {200, 404}, (template, r.status_code)
            if r.status_code == 404:  # a metric this very device does not measure
                assert "not measured" in r.json()["detail"], template
        unknown = await c.get(f"/sites/{site_id}/powerFlow")
    assert unknown.status_code == 404
    assert unknown.json()["detail"] == "Unknown endpoint"


# ----- independence ---------------------------------------------------------------------------


def test_the_simulator_imports_nothing_of_the_library():
    """Only the pytest plugin may import the library: the simulator is an independent oracle."""
    offenders = []
    for path in sorted(TESTING.glob("*.py")):
        if path.name == "pytest_plugin.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [
                f"{path.name}: {name}"
                for name in names
                if name.startswith("solaredge_async")
                and not name.startswith("solaredge_async.testing")
            ]
    assert offenders == []
    assert len(list(TESTING.glob("*.py"))) > 10  # the scan saw the package


async def test_httpx_client_default_headers_get_gzip():
    """An httpx client's default ``Accept-Encoding`` gets gzip, decoded transparently."""
    sim = make_sim()
    async with httpx.AsyncClient(
        transport=sim.transport(), base_url=sim.base_url, headers={"X-API-Key": sim.api_key}
    ) as c:
        r = await c.get("/sites")
    assert r.headers["content-encoding"] == "gzip"
    assert r.json()["sites"]["count"] == 6
