"""Review findings on the OAuth provider, each a test that fails on the code reviewed.

Run: PYTHONPATH=$PWD python -m pytest tests/review_oauth.py -q
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from solaredge_async.errors import ConfigurationError
from solaredge_async.oauth import FileTokenStore, RefreshingTokenProvider
from tests.oauth._support import TokenServer

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.anyio


async def test_two_grants_on_one_store_never_swap_tokens(tmp_path: Path) -> None:
    """oauth/_provider.py:114,135,285-289: ``grant`` defaults to ``"default"``.

    A credential pool of per-site grants built the obvious way (one provider per
    consent, one shared `FileTokenStore`, no ``grant=``) writes every grant to
    ``default.json``: the second provider loads the first grant's tokens and hands
    out the FIRST site's access token (403 on its own site); its own refresh token is
    never used, and when it refreshes it rotates the first grant's token behind the
    first provider's back. A shared store must refuse the default name (or name
    grants uniquely), never silently alias two grants.
    """
    server = TokenServer()
    store = FileTokenStore(tmp_path / "tokens")
    async with server.oauth() as oauth:
        try:
            one = RefreshingTokenProvider(oauth, server.grant(), store=store)
            two = RefreshingTokenProvider(oauth, server.grant(), store=store)
            first = await one()
            second = await two()
        except ConfigurationError:
            return  # refusing the shared default name is a fix too
    assert second != first, "the second grant was handed the first grant's access token"
    assert server.refreshes == 2


async def test_a_new_refresh_token_given_after_reconsent_is_used(tmp_path: Path) -> None:
    """oauth/_provider.py:285-306: a stored token set always wins over ``refresh_token``.

    After ``invalid_grant`` the owner consents again and the application builds the
    provider with the NEW refresh token, on the same store. The store still holds the
    old, void set: the provider refreshes with it, gets ``invalid_grant``, reloads the
    same void set and raises; the new refresh token is never tried, and stays unusable
    until someone deletes the store's file by hand.
    """
    server = TokenServer()
    store = FileTokenStore(tmp_path / "tokens")
    async with server.oauth() as oauth:
        old = RefreshingTokenProvider(oauth, server.grant(), store=store, grant="site-1")
        await old()
        server.valid_refresh.clear()  # the grant was lost (revoked, expired after 30 days)
        server.valid_access.clear()
        stale = await store.load("site-1")
        assert stale is not None
        fresh = RefreshingTokenProvider(oauth, server.grant(), store=store, grant="site-1")
        fresh.invalidate(stale.access_token)  # the API answered 401 to the old token
        access = await fresh()
    assert access in server.valid_access
