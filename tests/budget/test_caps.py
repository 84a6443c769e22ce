"""Adaptive window caps: the longest plausible window first, one credit at most per probe."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import anyio
import httpx
import pytest

from solaredge_async import SolarEdgeClient
from solaredge_async._adaptive import STORE_TTL
from solaredge_async.fleet import SweepSpec, plan_sweep, sweep
from solaredge_async.limits import MemoryCapStore
from tests._clock import virtual_backend
from tests.budget._support import (
    FIRST_DAY,
    LAST_DAY,
    NOW,
    ZONE,
    WallClock,
    calls,
    make_client,
    make_sim,
    sites,
)

if TYPE_CHECKING:
    from solaredge_async.testing import Simulator

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    """Virtual clocks on both backends (waits take no real time)."""
    return virtual_backend(str(request.param))


DAY = timedelta(days=1)


def truth(sim: Simulator, site: int) -> list[tuple[datetime, float | None]]:
    """The simulator's own quarter-hours of the five days."""
    client_zone = ZoneInfo(ZONE)
    start = datetime.combine(FIRST_DAY, datetime.min.time(), client_zone)
    end = datetime.combine(LAST_DAY + DAY, datetime.min.time(), client_zone)
    return sim.fleet.energy(site, start, end, "QUARTER_HOUR")


async def test_five_days_of_quarter_hours_cost_five_calls_on_a_24_hour_server() -> None:
    """DONE-WHEN: 5 days of QUARTER_HOUR energy are 5 calls when the server allows a day."""
    sim = make_sim(cap_hours=24)
    site = sites(sim)[0]
    async with make_client(sim) as client:
        m = await client.site_energy(site, start=FIRST_DAY, end=LAST_DAY)
        assert (await client.budget()).spent == 5
    assert calls(sim, "/energy") == 5
    assert calls(sim, "/energy", 400) == 0
    assert list(zip(m.timestamps, m.values, strict=True)) == truth(sim, site)
    assert len(m.values) == 5 * 96


async def test_five_days_cost_at_most_eleven_calls_on_a_12_hour_server() -> None:
    """DONE-WHEN: on a 12 h server, one refused probe then 10 half days: 11 calls."""
    sim = make_sim(cap_hours=12)
    site = sites(sim)[0]
    async with make_client(sim) as client:
        m = await client.site_energy(site, start=FIRST_DAY, end=LAST_DAY)
        assert (await client.budget()).spent == 11
        # Learned: the next five days cost exactly 10, no probe.
        await client.site_energy(site, start=FIRST_DAY - 5 * DAY, end=LAST_DAY - 5 * DAY)
    assert calls(sim, "/energy") == 11 + 10
    assert calls(sim, "/energy", 400) == 1
    assert list(zip(m.timestamps, m.values, strict=True)) == truth(sim, site)


async def test_concurrent_calls_lose_at_most_one_credit_per_family_and_resolution() -> None:
    """Ten sites at once on a 12 h server: one probe goes first, the rest wait for it."""
    sim = make_sim(10, cap_hours=12)
    async with make_client(sim, max_concurrency=8) as client, anyio.create_task_group() as tg:
        for site in sites(sim):
            tg.start_soon(lambda s: client.site_energy(s, start=FIRST_DAY, end=FIRST_DAY), site)
            tg.start_soon(
                lambda s: client.telemetry("inverters", s, start=FIRST_DAY, end=FIRST_DAY), site
            )
    assert calls(sim, "/energy", 400) == 1
    assert calls(sim, "/telemetry", 400) == 1
    assert calls(sim, "/energy") == 1 + 2 * 10
    assert calls(sim, "/telemetry") == 1 + 2 * 10


async def test_probing_off_sends_documented_caps_only() -> None:
    """probe_caps=False: 12 h windows from the start, never a 400."""
    sim = make_sim(cap_hours=24)
    async with make_client(sim, probe_caps=False) as client:
        assert client.cap_store is None
        await client.site_energy(sites(sim)[0], start=FIRST_DAY, end=LAST_DAY)
    assert calls(sim, "/energy") == 10
    assert calls(sim, "/energy", 400) == 0


async def test_a_day_of_days_at_day_resolution_is_probed_as_a_month() -> None:
    """DAY: a 31-day window is the probe; a 12 h server still caps DAY at 31 days."""
    sim = make_sim(cap_hours=12)
    async with make_client(sim) as client:
        m = await client.site_energy(
            sites(sim)[0], start=date(2026, 1, 1), end=date(2026, 3, 31), resolution="DAY"
        )
    assert len(m.values) == 90
    assert calls(sim, "/energy") == 3  # 31 + 31 + 28 days (the documented 28-day cap: 4)
    assert calls(sim, "/energy", 400) == 0


class CapServer:
    """A MockTransport API whose QUARTER_HOUR cap can change; 400 over it."""

    def __init__(self, cap: timedelta) -> None:
        self.cap = cap
        self.spans: list[tuple[timedelta, int]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        """Answer one request: 400 over the cap, else a quarter-hour per bucket."""
        q = request.url.params
        start = datetime.fromisoformat(q["from"])
        end = datetime.fromisoformat(q["to"])
        span = end - start  # a May window in UTC: wall clock equals elapsed
        status = 400 if span > self.cap else 200
        self.spans.append((span, status))
        headers = {"x-ratelimit-limit-minute": "10", "x-ratelimit-remaining-minute": "9"}
        if status == 400:
            return httpx.Response(
                400,
                json={"title": "Bad Request", "status": 400, "detail": "period too long"},
                headers=headers,
            )
        stamps = []
        t = start
        while t < end:
            stamps.append({"timestamp": f"{t.isoformat()}+00:00", "value": 1.0})
            t += timedelta(minutes=15)
        body: dict[str, Any] = {"unit": "WH", "resolution": "QUARTER_HOUR", "values": stamps}
        return httpx.Response(200, json=body, headers=headers)


async def test_a_server_that_changes_its_cap() -> None:
    """24 h learned; the cap drops to 12 h (one refusal); after 30 days a new probe."""
    server = CapServer(timedelta(hours=24))
    wall = WallClock(NOW)
    store = MemoryCapStore(clock=wall)
    async with SolarEdgeClient(
        api_key="k",
        transport=httpx.MockTransport(server),
        requests_per_minute=None,
        site_timezones={1: "UTC"},
        cap_store=store,
    ) as client:
        day = date(2026, 5, 4)
        m = await client.site_energy(1, start=day, end=day + 2 * DAY)
        assert len(m.values) == 3 * 96
        assert [s for _, s in server.spans] == [200, 200, 200]
        learned = await store.get(client.ledger_account, "energy", "QUARTER_HOUR")
        assert learned is not None
        assert learned.span == timedelta(hours=24)

        server.cap = timedelta(hours=12)
        server.spans.clear()
        m = await client.site_energy(1, start=day, end=day)
        assert len(m.values) == 96
        # The day refused once, then sent as two 12 h pieces; later days at 12 h at once.
        assert [s for _, s in server.spans] == [400, 200, 200]
        await client.site_energy(1, start=day + DAY, end=day + 2 * DAY)
        assert [s for _, s in server.spans].count(400) == 1
        assert len(server.spans) == 3 + 4
        learned = await store.get(client.ledger_account, "energy", "QUARTER_HOUR")
        assert learned is not None
        assert learned.span == timedelta(hours=12)

        server.cap = timedelta(hours=24)
        server.spans.clear()
        await client.site_energy(1, start=day, end=day)
        assert len(server.spans) == 2  # still 12 h: the finding is trusted for 30 days
        wall.advance(timedelta(days=30))
        await anyio.sleep(STORE_TTL)  # the client re-reads its store at most this often
        server.spans.clear()
        await client.site_energy(1, start=day, end=day + DAY)
        assert server.spans == [(timedelta(hours=24), 200)] * 2  # probed again: a day each


async def test_a_400_on_a_window_within_the_documented_cap_is_not_a_cap() -> None:
    """A 400 on a 12 h window is the caller's problem: raised, nothing learned."""
    from solaredge_async import BadRequestError

    server = CapServer(timedelta(hours=6))
    async with SolarEdgeClient(
        api_key="k",
        transport=httpx.MockTransport(server),
        requests_per_minute=None,
        site_timezones={1: "UTC"},
    ) as client:
        start = datetime(2026, 5, 4, tzinfo=UTC)
        with pytest.raises(BadRequestError):
            await client.site_energy(1, start=start, end=start + timedelta(hours=12))
        assert await client.cap_store.get(client.ledger_account, "energy", "QUARTER_HOUR") is None  # type: ignore[union-attr]
    assert len(server.spans) == 1


async def test_plans_give_a_range_while_a_cap_is_unprobed() -> None:
    """Unprobed: priced at a day per call, up to two per day plus the probe; then exact."""
    sim = make_sim(4, cap_hours=12)
    spec = SweepSpec(what={"energy"}, start=FIRST_DAY, end=LAST_DAY, site_ids=sites(sim))
    async with make_client(sim) as client:
        plan = await plan_sweep(client, spec, now=NOW)
        assert plan.discovery_credits == 0
        assert plan.unprobed == ("energy@QUARTER_HOUR",)
        assert (plan.credits, plan.credits_max) == (4 * 5, 4 * 10 + 1)
        assert not plan.exact
        assert "20..41" in plan.describe()
        async with sweep(client, plan) as results:
            outcomes = [r async for r in results]
        assert len(outcomes) == 20
        assert (await client.budget()).spent == plan.credits_max
        again = await plan_sweep(client, spec, now=NOW)
        assert again.unprobed == ()
        assert again.exact
        assert again.credits == again.credits_max == 40
    assert calls(sim, "/energy", 400) == 1


async def test_a_24_hour_server_makes_the_lower_price_the_true_one() -> None:
    """On a server that allows a day, the sweep costs the plan's lower bound."""
    sim = make_sim(4, cap_hours=24)
    spec = SweepSpec(
        what={"energy", "inverter_telemetry"},
        start=FIRST_DAY,
        end=LAST_DAY,
        site_ids=sites(sim),
    )
    async with make_client(sim) as client:
        plan = await plan_sweep(client, spec, now=NOW)
        assert plan.unprobed == ("energy@QUARTER_HOUR", "telemetry@QUARTER_HOUR")
        async with sweep(client, plan) as results:
            assert len([r async for r in results]) == 40
        assert (await client.budget()).spent == plan.credits == 40


async def test_a_cap_learned_earlier_is_verified_once_before_calls_fan_out() -> None:
    """Learned 24 h last run; the server is at 12 h now: one refusal, not one per call."""
    day_server, half_server = make_sim(cap_hours=24), make_sim(cap_hours=12)
    site = sites(day_server)[0]
    store = MemoryCapStore()  # kept between the runs, like a state directory's file
    async with make_client(day_server, cap_store=store) as client:
        await client.site_energy(site, start=FIRST_DAY, end=FIRST_DAY)
    assert calls(day_server, "/energy") == 1
    async with make_client(half_server, cap_store=store, max_concurrency=8) as client:
        m = await client.site_energy(site, start=FIRST_DAY, end=LAST_DAY)
        assert len(m.values) == 5 * 96
    assert calls(half_server, "/energy", 400) == 1
    assert calls(half_server, "/energy") == 11
