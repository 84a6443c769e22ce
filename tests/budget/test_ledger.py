"""The client's credit ledger: every request sent counted, billing cycles, the monthly 429."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc
import httpx
import pytest

from solaredge_async import (
    ConfigurationError,
    QuotaExhaustedError,
    RateLimiter,
    RetryPolicy,
    SolarEdgeClient,
    TransportError,
)
from solaredge_async.errors import NotFoundError
from solaredge_async.limits import (
    BudgetExceededError,
    FileCreditLedger,
    MemoryCreditLedger,
)
from tests._clock import virtual_backend
from tests.budget._support import WallClock, calls, make_client, make_sim, sites

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.anyio

#: 14 May 2026, a day before the billing day of these tests (the 15th).
WALL = datetime(2026, 5, 14, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    """Virtual clocks on both backends (Retry-After pauses take no real time)."""
    return virtual_backend(str(request.param))


async def test_the_budget_resets_on_the_billing_day() -> None:
    """3 credits a month from the 15th: the 4th call is refused unsent, the 15th resets."""
    sim = make_sim()
    site = sites(sim)[0]
    wall = WallClock(WALL)
    ledger = MemoryCreditLedger(monthly_credits=3, billing_day=15, clock=wall)
    async with make_client(sim, ledger=ledger) as client:
        state = await client.budget()
        assert (state.spent, state.remaining) == (0, 3)
        assert state.cycle_start == datetime(2026, 4, 15, tzinfo=UTC)
        assert state.cycle_end == datetime(2026, 5, 15, tzinfo=UTC)
        for _ in range(3):
            await client.site_overview(site)
        assert (await client.budget()).remaining == 0
        with pytest.raises(BudgetExceededError, match="resets at 2026-05-15 00:00 UTC"):
            await client.site_overview(site)
        assert calls(sim) == 3  # refused before sending

        wall.advance(timedelta(hours=12))  # 15 May, 00:00: a new cycle
        await client.site_overview(site)
        state = await client.budget()
        assert (state.spent, state.remaining) == (1, 2)
        assert state.cycle_start == datetime(2026, 5, 15, tzinfo=UTC)
    assert calls(sim) == 4


def _api(statuses: list[int]) -> httpx.MockTransport:
    """Answers with the given statuses in turn (then 200), with the limit headers."""

    def handler(request: httpx.Request) -> httpx.Response:
        status = statuses.pop(0) if statuses else 200
        headers = {"x-ratelimit-limit-minute": "10", "x-ratelimit-remaining-minute": "5"}
        if status == 429:
            headers.update({"retry-after": "3", "x-ratelimit-remaining-minute": "0"})
        body = {"title": "x", "status": status} if status >= 400 else {"ok": True}
        return httpx.Response(status, json=body, headers=headers)

    return httpx.MockTransport(handler)


@pytest.mark.parametrize("rpm", [10, None])
async def test_every_request_sent_is_charged_errors_and_429s_included(rpm: int | None) -> None:
    """5xx retried, a per-minute 429 retried, a 404: each attempt is one credit."""
    sent: list[int] = [500, 429, 200, 404]
    async with SolarEdgeClient(
        api_key="k", transport=_api(sent), requests_per_minute=rpm, monthly_credits=100
    ) as client:
        await client.get("/sites/1")
        with pytest.raises(NotFoundError):
            await client.get("/sites/2")
        state = await client.budget()
        assert state.spent == 4 == client.usage.credits
        assert state.remaining == 96


async def test_a_shared_limiter_without_a_ledger_still_charges_the_client_ledger() -> None:
    """A caller's RateLimiter paces; the client's ledger is charged all the same."""
    limiter = RateLimiter(600)
    async with SolarEdgeClient(
        api_key="k", transport=_api([]), rate_limiter=limiter, monthly_credits=2
    ) as client:
        await client.get("/sites/1")
        await client.get("/sites/1")
        with pytest.raises(BudgetExceededError):
            await client.get("/sites/1")
        assert limiter.granted == 3  # the third took a token, then the ledger refused
        assert client.rate_limiter is limiter


async def test_a_limiter_with_a_ledger_is_the_client_ledger() -> None:
    """The limiter's own ledger and account are the ones the client reports."""
    ledger = MemoryCreditLedger(monthly_credits=5)
    limiter = RateLimiter(600, ledger=ledger, account="fleet#1")
    async with SolarEdgeClient(api_key="k", transport=_api([]), rate_limiter=limiter) as client:
        await client.get("/sites/1")
        assert client.ledger is ledger
        assert client.ledger_account == "fleet#1"
        assert (await client.budget()).spent == 1
    assert (await ledger.state("fleet#1")).spent == 1


async def test_the_monthly_429_marks_the_ledger_used_up_until_the_reset() -> None:
    """Monthly 429: later calls refused locally; the next cycle sends again by itself."""
    sim = make_sim(requests_per_minute=1_000_000, monthly_credits=2)
    site = sites(sim)[0]
    wall = WallClock(WALL)
    ledger = MemoryCreditLedger(monthly_credits=0, billing_day=15, clock=wall)
    async with make_client(sim, ledger=ledger) as client:
        await client.site_overview(site)
        await client.site_overview(site)
        with pytest.raises(QuotaExhaustedError) as caught:
            await client.site_overview(site)
        assert not isinstance(caught.value, BudgetExceededError)  # the server's answer
        state = await client.budget()
        assert state.exhausted
        assert state.remaining == 0
        with pytest.raises(QuotaExhaustedError, match="refused locally"):
            await client.site_overview(site)
        assert calls(sim) == 3
        # A second client on the same ledger (another process, say) is refused too.
        async with make_client(sim, ledger=ledger) as other:
            with pytest.raises(BudgetExceededError, match="used up"):
                await other.site_overview(site)
        assert calls(sim) == 3

        sim.reset_month()
        wall.advance(timedelta(days=1))  # the 15th: a new cycle
        await client.site_overview(site)
        assert not (await client.budget()).exhausted
    assert calls(sim) == 4


async def test_reset_quota_clears_the_mark_before_the_reset() -> None:
    """The operator knows better: reset_quota() lets calls through again at once."""
    sim = make_sim(requests_per_minute=1_000_000, monthly_credits=1)
    site = sites(sim)[0]
    async with make_client(sim) as client:
        await client.site_overview(site)
        with pytest.raises(QuotaExhaustedError):
            await client.site_overview(site)
        sim.reset_month()
        client.reset_quota()
        assert not (await client.budget()).exhausted
        await client.site_overview(site)


async def test_unlimited_budget_counts_without_refusing() -> None:
    """monthly_credits=0: remaining is None, every call counted."""
    async with SolarEdgeClient(
        api_key="k", transport=_api([]), requests_per_minute=None, monthly_credits=0
    ) as client:
        for _ in range(3):
            await client.get("/sites/1")
        state = await client.budget()
    assert (state.spent, state.remaining, state.monthly_credits) == (3, None, 0)


def test_conflicting_budget_settings_are_refused(tmp_path: Path) -> None:
    """A ledger with another budget, or with a state_dir, is a configuration error."""
    ledger = MemoryCreditLedger(monthly_credits=10)
    with pytest.raises(ConfigurationError, match="monthly_credits"):
        SolarEdgeClient(api_key="k", ledger=ledger, monthly_credits=20)
    with pytest.raises(ConfigurationError, match="state_dir"):
        SolarEdgeClient(api_key="k", ledger=ledger, state_dir=tmp_path)
    with pytest.raises(ConfigurationError, match="billing_day"):
        SolarEdgeClient(api_key="k", billing_day=31)
    with pytest.raises(ConfigurationError, match="another ledger"):
        SolarEdgeClient(
            api_key="k",
            ledger=ledger,
            rate_limiter=RateLimiter(10, ledger=MemoryCreditLedger(), account="a#1"),
        )


def test_the_default_budget_is_the_free_tier() -> None:
    """2,000 credits from the 1st, in memory, probing on."""
    client = SolarEdgeClient(api_key="k")
    assert isinstance(client.ledger, MemoryCreditLedger)
    assert (client.ledger.monthly_credits, client.ledger.billing_day) == (2000, 1)
    assert client.cap_store is not None


def test_a_file_ledger_keeps_the_learned_caps_beside_it(tmp_path: Path) -> None:
    """ledger=FileCreditLedger(path): the caps store is the same file."""
    from solaredge_async.limits import FileCapStore

    client = SolarEdgeClient(api_key="k", ledger=FileCreditLedger(tmp_path / "s.json"))
    store = client.cap_store
    assert isinstance(store, FileCapStore)
    assert repr(store) == f"FileCapStore({str(tmp_path / 's.json')!r})"


async def test_an_attempt_that_never_connected_is_refunded() -> None:
    """A refused connection costs no credit: the charge made before sending is given back."""
    # A port nothing listens on: bound, then closed, so the connection is refused.
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)  # noqa: S610
    await listener.aclose()
    ledger = MemoryCreditLedger(monthly_credits=10)
    async with SolarEdgeClient(
        api_key="refund-KEY-0123456789",
        base_url=f"http://127.0.0.1:{port}/v2",
        ledger=ledger,
        requests_per_minute=None,
        retry=RetryPolicy(max_attempts=1),
        probe_caps=False,
    ) as client:
        with pytest.raises(TransportError):
            await client.site(1)
        state = await client.budget()
    assert (state.spent, state.remaining) == (0, 10)
    assert client.usage.credits == 0
