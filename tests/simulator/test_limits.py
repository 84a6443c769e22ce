"""Per-minute and monthly limits, credits and the ledger, on virtual clocks."""

from __future__ import annotations

from datetime import timedelta

import anyio
import pytest

from solaredge_async.testing import Faults, FleetSpec
from tests._clock import virtual_backend

from ._support import NOW, client, make_sim

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request):
    """Each test on asyncio and trio, both with an auto-jumping virtual clock."""
    return virtual_backend(str(request.param))


async def test_per_minute_429_with_retry_after_on_the_virtual_clock():
    """The 11th call of a minute gets 429 + Retry-After; after waiting it passes again."""
    sim = make_sim(requests_per_minute=10)
    async with client(sim) as c:
        remaining = []
        for _ in range(10):
            r = await c.get("/sites")
            assert r.status_code == 200
            remaining.append(int(r.headers["x-ratelimit-remaining-minute"]))
        assert remaining == list(range(9, -1, -1))
        await anyio.sleep(12.5)
        refused = await c.get("/sites")
        assert refused.status_code == 429
        assert refused.headers["x-ratelimit-remaining-minute"] == "0"
        assert refused.headers["x-ratelimit-limit-minute"] == "10"
        wait = int(refused.headers["retry-after"])
        # The simulator's clock read 14:37:12.12, 12.5 s later 14:37:24.62: 36 s (rounded
        # up) to the next wall-clock minute.
        assert wait == 36
        assert refused.json() == {"message": "API rate limit exceeded"}
        await anyio.sleep(wait)
        again = await c.get("/sites")
        assert again.status_code == 200
        assert again.headers["x-ratelimit-remaining-minute"] == "9"
    usage = sim.ledger(sim.api_key)
    assert usage.calls == 12
    assert usage.minute_429s == 1
    assert usage.credits == 11  # the 429 was not charged


async def test_windows_are_fixed_clock_minutes():
    """Kong counts fixed wall-clock minutes: 10 calls at :59 and 10 more at :00 all pass."""
    sim = make_sim(requests_per_minute=10)
    async with client(sim) as c, client(sim, "") as anonymous:
        # The first call maps the event loop's tick to 14:37:12.12 of the simulator.
        assert (await anonymous.get("/sites")).status_code == 401
        await anyio.sleep(59.0 - NOW.second - NOW.microsecond / 1e6)
        first = [(await c.get("/sites")).status_code for _ in range(10)]
        await anyio.sleep(1.0)
        second = [(await c.get("/sites")).status_code for _ in range(10)]
        third = await c.get("/sites")
    assert first == second == [200] * 10
    assert third.status_code == 429


async def test_minute_resets_at_second_zero_of_the_simulated_wall_clock():
    """As live: remaining 7 at 16:05:57, the full limit again at 16:06:03 (6 s later)."""
    sim = make_sim(requests_per_minute=10, now=NOW.replace(hour=16, minute=5, second=54))
    async with client(sim) as c:
        for _ in range(2):
            await c.get("/sites")
        await anyio.sleep(3.0)
        at_57 = await c.get("/sites")
        await anyio.sleep(6.0)
        at_03 = await c.get("/sites")
    assert at_57.headers["x-ratelimit-remaining-minute"] == "7"
    assert at_03.headers["x-ratelimit-remaining-minute"] == "9"


async def test_moving_the_clock_moves_the_minute():
    """`advance` crosses a wall-clock minute without any tick passing: the count resets."""
    sim = make_sim(requests_per_minute=2, now=NOW.replace(second=58, microsecond=0))
    async with client(sim) as c:
        codes = [(await c.get("/sites")).status_code for _ in range(3)]
        sim.advance(2.0)
        after = await c.get("/sites")
    assert codes == [200, 200, 429]
    assert after.status_code == 200
    assert after.headers["x-ratelimit-remaining-minute"] == "1"


async def test_limits_are_per_account():
    """Each API key has its own minute window and ledger."""
    sim = make_sim(fleet=FleetSpec(sites=4, api_keys=("a", "b")), requests_per_minute=2)
    async with client(sim, "a") as ca, client(sim, "b") as cb:
        codes_a = [(await ca.get("/sites")).status_code for _ in range(3)]
        codes_b = [(await cb.get("/sites")).status_code for _ in range(2)]
    assert codes_a == [200, 200, 429]
    assert codes_b == [200, 200]
    assert sim.ledger("a").calls == 3
    assert sim.ledger("b").calls == 2


async def test_monthly_429_has_no_retry_after_and_remaining_above_zero():
    """Once the credits are used up: 429 without Retry-After, remaining > 0, until reset."""
    sim = make_sim(requests_per_minute=10, monthly_credits=5)
    async with client(sim) as c:
        for _ in range(5):
            assert (await c.get("/sites")).status_code == 200
        monthly = await c.get("/sites")
        assert monthly.status_code == 429
        assert "retry-after" not in monthly.headers
        assert int(monthly.headers["x-ratelimit-remaining-minute"]) > 0
        assert (await c.get("/sites")).status_code == 429
        sim.reset_month(sim.api_key)
        assert (await c.get("/sites")).status_code == 200
    usage = sim.ledger(sim.api_key)
    assert usage.monthly_429s == 2
    assert usage.credits == 1
    assert usage.lifetime_credits == 6


async def test_monthly_cap_can_be_unenforced():
    """With enforcement off, calls beyond the credits pass and are still counted."""
    sim = make_sim(monthly_credits=3, enforce_monthly=False)
    async with client(sim) as c:
        codes = [(await c.get("/sites")).status_code for _ in range(6)]
    assert codes == [200] * 6
    assert sim.ledger(sim.api_key).credits == 6


async def test_billing_day_resets_the_month():
    """With a billing day, the credits reset when "now" enters the next billing month."""
    sim = make_sim(monthly_credits=2, billing_day=14)
    async with client(sim) as c:
        assert [(await c.get("/sites")).status_code for _ in range(3)] == [200, 200, 429]
        sim.set_now(NOW + timedelta(days=2))  # May 14: a new billing month
        assert (await c.get("/sites")).status_code == 200
    assert sim.ledger(sim.api_key).credits == 1


async def test_every_answered_call_costs_a_credit_errors_included():
    """400, 403 and 404 cost a credit each, like 200s; the ledger says so."""
    sim = make_sim(fleet=FleetSpec(sites=4, api_keys=("a", "b")), requests_per_minute=100)
    mine, theirs = sim.fleet.sites_for("a")[0], sim.fleet.sites_for("b")[0]
    async with client(sim, "a") as c:
        statuses = [
            (await c.get("/sites")).status_code,
            (await c.get(f"/sites/{mine}/energy", params={"resolution": "NOPE"})).status_code,
            (await c.get(f"/sites/{theirs}")).status_code,
            (await c.get(f"/sites/{mine}/nope")).status_code,
        ]
        remaining = [
            int((await c.get(f"/sites/{mine}/nope")).headers["x-ratelimit-remaining-minute"]),
            int((await c.get(f"/sites/{mine}")).headers["x-ratelimit-remaining-minute"]),
        ]
    assert statuses == [200, 400, 403, 404]
    assert remaining == [95, 94]  # errors took slots of the minute too
    usage = sim.ledger("a")
    assert usage.credits == 6
    assert usage.statuses == {200: 2, 400: 1, 403: 1, 404: 2}
    assert sim.ledger("b").calls == 0


async def test_rate_limited_calls_can_be_charged():
    """With charge_rate_limited, a 429 costs a credit too."""
    sim = make_sim(requests_per_minute=1, charge_rate_limited=True)
    async with client(sim) as c:
        await c.get("/sites")
        assert (await c.get("/sites")).status_code == 429
    assert sim.ledger(sim.api_key).credits == 2


async def test_unauthenticated_calls_go_to_the_anonymous_ledger():
    """A 401 is charged to the anonymous ledger, not to any account."""
    sim = make_sim(requests_per_minute=10)
    async with client(sim, "wrong") as c:
        r = await c.get("/sites")
    assert r.status_code == 401
    assert r.headers["x-ratelimit-limit-minute"] == "10"
    assert sim.ledger(None).calls == 1
    assert sim.ledger(None).credits == 1
    assert sim.ledger(sim.api_key).calls == 0


async def test_concurrency_cap():
    """Beyond max_in_flight concurrent calls, the account gets 429 with Retry-After: 1."""
    sim = make_sim(max_in_flight=2, faults=Faults(latency=(0.5, 0.0)))
    site_id = sim.fleet.sites_for(sim.api_key)[0]
    codes: list[int] = []
    async with client(sim) as c:

        async def call() -> None:
            r = await c.get(f"/sites/{site_id}")
            codes.append(r.status_code)
            if r.status_code == 429:
                assert r.headers["retry-after"] == "1"

        async with anyio.create_task_group() as tg:
            for _ in range(3):
                tg.start_soon(call)
        assert (await c.get(f"/sites/{site_id}")).status_code == 200
    assert sorted(codes) == [200, 200, 429]
    usage = sim.ledger(sim.api_key)
    assert usage.concurrency_429s == 1
    assert usage.in_flight == 0


async def test_use_credits_starts_near_the_cap():
    """use_credits sets the month's usage, so a test can start at the edge."""
    sim = make_sim(monthly_credits=2000)
    sim.use_credits(sim.api_key, 1999)
    async with client(sim) as c:
        assert (await c.get("/sites")).status_code == 200
        assert (await c.get("/sites")).status_code == 429
    assert sim.ledger(sim.api_key).monthly_429s == 1
