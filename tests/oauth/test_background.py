"""An entered provider refreshes in its own task: a caller that leaves loses nothing.

The token server rotates the refresh token and then takes 10 s to answer. A bare
provider whose caller leaves after 3 s loses the rotation (the server has voided the
old token; the new one never arrived). An entered provider lets the caller leave, and
completes and saves the refresh in its own task.
"""

from __future__ import annotations

import anyio
import pytest

from solaredge_async.errors import ConfigurationError, OAuthError, RequestTimeoutError
from solaredge_async.oauth import MemoryTokenStore, RefreshingTokenProvider

from ._support import TokenServer

pytestmark = pytest.mark.anyio


async def test_a_bare_provider_cancelled_mid_refresh_loses_the_rotation() -> None:
    """Why the provider can be entered: bare, a caller's deadline mid-refresh voids the grant."""
    server = TokenServer()
    server.answer_delay = 10
    async with server.oauth() as oauth:
        provider = RefreshingTokenProvider(oauth, server.grant(), store=MemoryTokenStore())
        with anyio.move_on_after(3) as scope:
            await provider()
        assert scope.cancelled_caught
        server.answer_delay = 0
        with pytest.raises(OAuthError, match="invalid_grant"):
            await provider()


async def test_an_entered_provider_completes_the_refresh_its_caller_left() -> None:
    """The caller leaves at its deadline; the refresh completes and is saved; no grant lost."""
    server = TokenServer()
    server.answer_delay = 10
    store = MemoryTokenStore()
    async with server.oauth() as oauth:
        async with RefreshingTokenProvider(oauth, server.grant(), store=store) as provider:
            with anyio.move_on_after(3) as scope:
                await provider()
            assert scope.cancelled_caught
            assert await store.load(provider.grant) is None  # still in flight
        # Exiting waited for the flight: the rotated tokens are saved.
        saved = await store.load(provider.grant)
        assert saved is not None
        assert saved.refresh_token in server.valid_refresh
        assert await provider() == saved.access_token
    assert (server.refreshes, server.refused) == (1, 0)


async def test_callers_of_an_entered_provider_share_one_refresh() -> None:
    """Ten callers, some leaving early: one refresh; those who wait get its token."""
    server = TokenServer()
    server.answer_delay = 10
    store = MemoryTokenStore()
    got: list[str] = []
    async with (
        server.oauth() as oauth,
        RefreshingTokenProvider(oauth, server.grant(), store=store) as provider,
    ):

        async def call(deadline: float) -> None:
            with anyio.move_on_after(deadline):
                got.append(await provider())

        async with anyio.create_task_group() as tg:
            for i in range(10):
                tg.start_soon(call, 3 if i % 2 else 30)
    saved = await store.load(provider.grant)
    assert saved is not None
    assert got == [saved.access_token] * 5
    assert (server.refreshes, server.refused) == (1, 0)


async def test_a_refresh_of_an_entered_provider_is_bounded_by_refresh_timeout() -> None:
    """A token endpoint that never answers in time: RequestTimeoutError after refresh_timeout."""
    server = TokenServer()
    server.delay = 1000
    async with (
        server.oauth(timeout=500) as oauth,
        RefreshingTokenProvider(
            oauth, server.grant(), store=MemoryTokenStore(), refresh_timeout=20
        ) as provider,
    ):
        with pytest.raises(RequestTimeoutError, match="refresh_timeout"):
            await provider()
    assert server.refreshes == 0


async def test_errors_of_the_flight_reach_every_waiter_and_entering_twice_is_refused() -> None:
    """invalid_grant reaches the waiter; a second `async with` is a configuration error."""
    server = TokenServer()
    async with server.oauth() as oauth:
        provider = RefreshingTokenProvider(oauth, "R-void", store=MemoryTokenStore())
        async with provider:
            with pytest.raises(OAuthError, match="invalid_grant"):
                await provider()
            with pytest.raises(ConfigurationError, match="entered already"):
                await provider.__aenter__()
