"""RefreshingTokenProvider: save before use, one refresh per grant, 401 hook, wall-clock expiry."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import anyio
import pytest

from solaredge_async.errors import ConfigurationError, OAuthError
from solaredge_async.oauth import (
    FileTokenStore,
    LocalRefreshLock,
    MemoryTokenStore,
    RefreshingTokenProvider,
    TokenSet,
    TokenStoreError,
)

from ._support import FlakyStore, TokenServer

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.anyio


def _tokens(
    server: TokenServer, *, expires_in: float = 7200.0, now: float | None = None
) -> TokenSet:
    """A token set the server would accept, expiring ``expires_in`` s after ``now``."""
    access = "A-seed-" + server.grant()[2:]
    server.valid_access.add(access)
    now = time.time() if now is None else now
    return TokenSet(
        access_token=access,
        refresh_token=server.grant(),
        expires_at=datetime.fromtimestamp(now + expires_in, UTC),
        expires_in=expires_in,
    )


# -- 1. The rotated refresh token is saved before use; a failed save loses nothing --------


async def test_a_save_that_fails_once_keeps_the_grant() -> None:
    """The save raises (full disk): error raised, next call saves, no second refresh."""
    server = TokenServer()
    store = FlakyStore(fail=1)
    async with server.oauth() as oauth:
        provider = RefreshingTokenProvider(oauth, server.grant(), store=store, grant="site-1")
        with pytest.raises(TokenStoreError, match="kept in memory") as info:
            await provider()
        assert info.value.grant == "site-1"
        assert isinstance(info.value.__cause__, OSError)
        assert await store.load("site-1") is None  # nothing handed out before it is saved
        assert server.refreshes == 1

        access = await provider()  # the save is retried; no refresh with a void token
        saved = await store.load("site-1")
        assert saved is not None
        assert access == saved.access_token
        assert server.refreshes == 1
        assert server.refused == 0
        # The saved refresh token is the live one: the grant survived.
        assert saved.refresh_token in server.valid_refresh
        again = await oauth.refresh(saved.refresh_token)
        assert again.access_token in server.valid_access


async def test_no_access_token_is_handed_out_while_the_save_keeps_failing() -> None:
    """Each call retries the save and raises until it succeeds; one refresh in all."""
    server = TokenServer()
    store = FlakyStore(fail=3)
    async with server.oauth() as oauth:
        provider = RefreshingTokenProvider(oauth, server.grant(), store=store)
        for _ in range(3):
            with pytest.raises(TokenStoreError):
                await provider()
        assert await provider() == (await store.load(provider.grant)).access_token  # type: ignore[union-attr]
    assert (server.refreshes, server.refused, store.saves) == (1, 0, 4)


async def test_the_on_refresh_callback_raising_once_keeps_the_grant() -> None:
    """The callback form (on_refresh=) behaves like a store: retried, never refreshed twice."""
    server = TokenServer()
    saved: list[TokenSet] = []
    failures = [RuntimeError("database is locked")]

    async def on_refresh(tokens: TokenSet) -> None:
        if failures:
            raise failures.pop()
        saved.append(tokens)

    async with server.oauth() as oauth:
        provider = RefreshingTokenProvider(oauth, server.grant(), on_refresh=on_refresh)
        with pytest.raises(TokenStoreError):
            await provider()
        access = await provider()
    assert [t.access_token for t in saved] == [access]
    assert saved[0].refresh_token in server.valid_refresh
    assert (server.refreshes, server.refused) == (1, 0)


async def test_a_cancelled_save_is_retried_not_refreshed_again() -> None:
    """Cancelled while saving: the tokens stay in memory and the next call saves them."""
    server = TokenServer()
    gate = anyio.Event()

    class SlowStore(MemoryTokenStore):
        async def save(self, grant: str, tokens: TokenSet) -> None:
            await gate.wait()
            await super().save(grant, tokens)

    store = SlowStore()
    async with server.oauth() as oauth:
        provider = RefreshingTokenProvider(oauth, server.grant(), store=store)
        with anyio.move_on_after(5) as scope:
            await provider()
        assert scope.cancelled_caught
        gate.set()
        access = await provider()
    saved = await store.load(provider.grant)
    assert saved is not None
    assert saved.access_token == access
    assert (server.refreshes, server.refused) == (1, 0)


async def test_a_full_disk_in_the_file_store_keeps_old_file_and_new_tokens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOSPC mid-write: the old file is intact, no temp file stays, the next call saves."""
    from solaredge_async.oauth import _stores

    server = TokenServer()
    store = FileTokenStore(tmp_path)
    old = _tokens(server, expires_in=10)  # inside the skew: the first call refreshes
    await store.save("site-1", old)
    before = store.path_for("site-1").read_bytes()

    real_os = _stores.os
    fail = [True]

    class FullDisk:
        def __getattr__(self, name: str) -> object:
            return getattr(real_os, name)

        @staticmethod
        def write(fd: int, data: bytes) -> int:
            if fail:
                fail.pop()
                raise OSError(28, "No space left on device")
            return real_os.write(fd, data)

    monkeypatch.setattr(_stores, "os", FullDisk())
    async with server.oauth() as oauth:
        provider = RefreshingTokenProvider(oauth, store=store, grant="site-1")
        with pytest.raises(TokenStoreError, match="OSError"):
            await provider()
        assert store.path_for("site-1").read_bytes() == before
        assert [p.name async for p in anyio.Path(tmp_path).iterdir()] == ["site-1.json"]
        access = await provider()
    saved = await store.load("site-1")
    assert saved is not None
    assert saved.access_token == access
    assert saved.refresh_token in server.valid_refresh
    assert (server.refreshes, server.refused) == (1, 0)


# -- 2. One refresh per grant at a time -----------------------------------------------------


async def test_concurrent_calls_make_one_refresh() -> None:
    """Twenty callers at once with no token: one refresh, all get the same token."""
    server = TokenServer()
    server.delay = 1.0  # the refresh is in flight while the others arrive
    store = MemoryTokenStore()
    got: list[str] = []
    async with server.oauth() as oauth:
        provider = RefreshingTokenProvider(oauth, server.grant(), store=store)

        async def call() -> None:
            got.append(await provider())

        async with anyio.create_task_group() as tg:
            for _ in range(20):
                tg.start_soon(call)
    assert len(set(got)) == 1
    assert len(got) == 20
    assert (server.refreshes, server.refused) == (1, 0)


async def test_two_providers_of_one_grant_share_a_lock_and_store() -> None:
    """Two workers on one grant (one lock, one store): one refresh, the other adopts it."""
    server = TokenServer()
    server.delay = 1.0
    store, lock = MemoryTokenStore(), LocalRefreshLock()
    await store.save("g", _tokens(server, expires_in=60))  # inside the 300 s skew
    got: list[str] = []
    async with server.oauth() as oauth:
        workers = [
            RefreshingTokenProvider(oauth, store=store, lock=lock, grant="g") for _ in range(2)
        ]

        async def call(provider: RefreshingTokenProvider) -> None:
            got.append(await provider())

        async with anyio.create_task_group() as tg:
            for provider in workers * 3:
                tg.start_soon(call, provider)
    assert len(set(got)) == 1
    assert (server.refreshes, server.refused) == (1, 0)


async def test_providers_of_one_grant_share_the_process_lock_by_default() -> None:
    """No lock given: two providers of one grant in one process still refresh once."""
    server = TokenServer()
    server.delay = 1.0
    store = MemoryTokenStore()
    await store.save("shared", _tokens(server, expires_in=60))
    got: list[str] = []
    async with server.oauth() as oauth:
        workers = [RefreshingTokenProvider(oauth, store=store, grant="shared") for _ in range(2)]

        async def call(provider: RefreshingTokenProvider) -> None:
            got.append(await provider())

        async with anyio.create_task_group() as tg:
            for provider in workers * 3:
                tg.start_soon(call, provider)
    assert len(set(got)) == 1
    assert (server.refreshes, server.refused) == (1, 0)


async def test_a_rotation_by_another_holder_is_adopted_after_invalid_grant() -> None:
    """Another process rotated the token (shared store, no shared lock): adopt, don't fail."""
    server = TokenServer()
    store = MemoryTokenStore()
    seed = _tokens(server, expires_in=60)
    await store.save("g", seed)
    async with server.oauth() as oauth:
        mine = RefreshingTokenProvider(oauth, store=store, grant="g")
        other = RefreshingTokenProvider(oauth, store=store, grant="g")
        await mine()  # refreshes and saves
        # `other` still holds nothing; it loads the rotated set from the store.
        assert await other() == (await store.load("g")).access_token  # type: ignore[union-attr]
    assert (server.refreshes, server.refused) == (1, 0)


async def test_waiting_for_the_lock_honours_the_callers_deadline() -> None:
    """A caller queued behind a slow refresh leaves at its deadline; the refresh completes."""
    server = TokenServer()
    server.delay = 10.0
    store = MemoryTokenStore()
    async with server.oauth() as oauth:
        provider = RefreshingTokenProvider(oauth, server.grant(), store=store)
        results: list[str] = []
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: _append(results, provider))
            await anyio.sleep(1)
            with anyio.move_on_after(2) as scope:
                await provider()
        assert scope.cancelled_caught
        assert results == [(await store.load(provider.grant)).access_token]  # type: ignore[union-attr]
    assert server.refreshes == 1


async def _append(results: list[str], provider: RefreshingTokenProvider) -> None:
    results.append(await provider())


# -- 3. A 401 on a bearer call: invalidate, refresh once, retry ------------------------------


async def test_invalidate_makes_the_next_call_refresh_once() -> None:
    """Five calls that saw a 401 on one token: one refresh, a new token for all."""
    server = TokenServer()
    store = MemoryTokenStore()
    seed = _tokens(server)  # valid for two hours by the clocks
    await store.save("g", seed)
    async with server.oauth() as oauth:
        provider = RefreshingTokenProvider(oauth, store=store, grant="g")
        assert await provider() == seed.access_token
        assert server.refreshes == 0
        for _ in range(5):
            provider.invalidate(seed.access_token)  # the server revoked it early
        fresh = {await provider() for _ in range(5)}
        assert server.refreshes == 1
        assert len(fresh) == 1
        assert seed.access_token not in fresh
        # A late 401 for the old token does not cause another refresh.
        provider.invalidate(seed.access_token)
        assert await provider() in fresh
    assert server.refreshes == 1


async def test_invalidate_applies_to_a_token_loaded_from_the_store() -> None:
    """A refused token another worker saved is not adopted again: a refresh follows."""
    server = TokenServer()
    store = MemoryTokenStore()
    seed = _tokens(server)
    await store.save("g", seed)
    async with server.oauth() as oauth:
        provider = RefreshingTokenProvider(oauth, store=store, grant="g")
        provider.invalidate(seed.access_token)
        assert await provider() != seed.access_token
    assert server.refreshes == 1


# -- 4. Expiry is wall-clock time: stored tokens work in another process ---------------------


async def test_stored_tokens_are_reused_by_another_process(tmp_path: Path) -> None:
    """A second provider (a new process) on the same file store uses the saved token as is."""
    server = TokenServer()
    store = FileTokenStore(tmp_path)
    async with server.oauth() as oauth:
        first = RefreshingTokenProvider(oauth, server.grant(), store=store, grant="g")
        access = await first()
    # Another process: a new provider, a new OAuthClient, nothing in memory.
    async with server.oauth() as oauth:
        second = RefreshingTokenProvider(oauth, store=FileTokenStore(tmp_path), grant="g")
        assert await second() == access
    assert server.refreshes == 1
    saved = await store.load("g")
    assert saved is not None
    assert saved.expires_at.tzinfo is not None
    left = saved.expires_at.timestamp() - time.time()
    assert 7000 < left <= 7200


async def test_expiry_follows_the_wall_clock_not_the_event_loop() -> None:
    """A token expired by the wall clock is refreshed even on a freshly started loop."""
    server = TokenServer()
    store = MemoryTokenStore()
    wall = [time.time()]
    await store.save("g", _tokens(server, expires_in=3600, now=wall[0]))
    async with server.oauth() as oauth:
        provider = RefreshingTokenProvider(oauth, store=store, grant="g", clock=lambda: wall[0])
        seed = await provider()
        assert server.refreshes == 0
        wall[0] += 3600 - 299  # the wall clock moved (another process, a suspended host)
        assert await provider() != seed
    assert server.refreshes == 1


async def test_a_wall_clock_stepped_back_does_not_stretch_a_token() -> None:
    """In process, the loop clock bounds the token too: a wall clock set back is ignored."""
    server = TokenServer()
    store = MemoryTokenStore()
    wall = [time.time()]
    await store.save("g", _tokens(server, expires_in=3600, now=wall[0]))
    async with server.oauth() as oauth:
        provider = RefreshingTokenProvider(oauth, store=store, grant="g", clock=lambda: wall[0])
        seed = await provider()
        await anyio.sleep(3600 - 299)  # virtual time passes ...
        wall[0] -= 100  # ... while the wall clock was stepped back
        assert await provider() != seed
    assert server.refreshes == 1


def test_token_sets_hold_aware_utc_expiry() -> None:
    """expires_at is an aware datetime (UTC), comparable across processes."""
    tokens = _tokens(TokenServer())
    assert tokens.expires_at.utcoffset() == timedelta(0)
    assert tokens.access_token not in repr(tokens)
    assert tokens.refresh_token not in repr(tokens)


# -- Configuration -------------------------------------------------------------------------


async def test_no_tokens_anywhere_is_a_configuration_error() -> None:
    """An empty store and no refresh token: a clear error, no token call."""
    server = TokenServer()
    async with server.oauth() as oauth:
        provider = RefreshingTokenProvider(oauth, store=MemoryTokenStore(), grant="g")
        with pytest.raises(ConfigurationError, match="authorize_url"):
            await provider()
    assert server.refreshes + server.refused == 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({}, "exactly one"),
        ({"store": MemoryTokenStore(), "on_refresh": print}, "exactly one"),
        ({"store": MemoryTokenStore(), "grant": "../etc"}, "grant must be"),
        ({"store": MemoryTokenStore(), "grant": ""}, "grant must be"),
        ({"store": MemoryTokenStore(), "skew": -1}, "skew"),
        ({"store": MemoryTokenStore(), "skew": float("nan")}, "skew"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, object], match: str) -> None:
    """Neither or both of store/on_refresh, a path-like grant name, a bad skew."""
    with pytest.raises(ConfigurationError, match=match):
        RefreshingTokenProvider(TokenServer().oauth(), "R-x", **kwargs)  # type: ignore[arg-type]


async def test_an_invalid_grant_with_nothing_newer_is_raised() -> None:
    """A void refresh token and nothing newer in the store: OAuthError invalid_grant."""
    server = TokenServer()
    async with server.oauth() as oauth:
        provider = RefreshingTokenProvider(oauth, "R-void", store=MemoryTokenStore())
        with pytest.raises(OAuthError, match="invalid_grant"):
            await provider()


async def test_two_grants_on_one_store_never_swap_tokens(tmp_path: Path) -> None:
    """Two providers on one store, no ``grant=``: each keeps its own grant's tokens.

    The default name is derived from each seed, so the second provider neither loads
    the first grant's tokens nor rotates its refresh token behind its back.
    """
    server = TokenServer()
    store = FileTokenStore(tmp_path / "tokens")
    async with server.oauth() as oauth:
        one = RefreshingTokenProvider(oauth, server.grant(), store=store)
        two = RefreshingTokenProvider(oauth, server.grant(), store=store)
        first = await one()
        second = await two()
        assert one.grant != two.grant
        assert await one() == first
    assert second != first, "the second grant was handed the first grant's access token"
    assert server.refreshes == 2


async def test_a_shared_store_without_a_grant_name_or_seed_is_refused() -> None:
    """Nothing to name the grant by: ConfigurationError asking for ``grant=``."""
    async with TokenServer().oauth() as oauth:
        with pytest.raises(ConfigurationError, match="pass grant="):
            RefreshingTokenProvider(oauth, store=MemoryTokenStore())
