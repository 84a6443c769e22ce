"""OAuth tokens shared through Redis: the token store, the refresh lock, failing closed.

Real Redis (tests/_redis.py) on real clocks: the lock's waits and leases run in the
library against the server; the tests assert on outcomes (who held the lock, how many
refreshes the token endpoint saw, which errors were raised), never on durations.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import pickle
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import attrs
import pytest

from solaredge_async.errors import ConfigurationError, RequestTimeoutError
from solaredge_async.limits import SharedStateUnavailableError
from solaredge_async.oauth import (
    LocalRefreshLock,
    OAuthClient,
    RedisRefreshLock,
    RedisTokenStore,
    RefreshingTokenProvider,
    RefreshLock,
    RefreshLockTimeoutError,
    TokenSet,
    TokenStore,
    TokenStoreError,
    encode_tokens,
)
from tests._redis import private_redis, redis_url

from ._redis_worker import digest
from ._support import TokenServer

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from contextlib import AbstractAsyncContextManager

    from tests._redis import RedisServer

pytest.importorskip("coredis")
pytestmark = pytest.mark.anyio

__all__ = ["private_redis", "redis_url"]

ROOT = Path(__file__).resolve().parents[2]
ACCESS = "CANARY-ACCESS-77aa66bb55"
REFRESH = "CANARY-REFRESH-44cc33dd22"
PASSWORD = "CANARY-PASSWORD-1f2e3d"

# coredis leaves the memory streams of a connection that died unclosed (their
# ResourceWarning surfaces at garbage collection); it is not this library's leak.
COREDIS_LEAK = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Real clocks: Redis is a real server on a real socket."""
    return str(request.param)


def _prefix() -> str:
    """A key prefix of one test: tests never see each other's keys."""
    return f"test-{uuid.uuid4().hex[:12]}"


def _tokens(access: str = ACCESS, refresh: str = REFRESH, *, expired: bool = False) -> TokenSet:
    when = datetime.now(UTC) + (timedelta(hours=-1) if expired else timedelta(hours=2))
    return TokenSet(access_token=access, refresh_token=refresh, expires_at=when, expires_in=7200.0)


async def _raw(url: str, key: str) -> str | None:
    import coredis

    client: coredis.Redis[str] = coredis.Redis.from_url(url, decode_responses=True)
    async with client:
        return await client.get(key)


async def _keys(url: str, prefix: str) -> list[str]:
    import coredis

    client: coredis.Redis[str] = coredis.Redis.from_url(url, decode_responses=True)
    async with client:
        return sorted([key async for key in client.scan_iter(match=f"{prefix}:*")])


# -- the store ---------------------------------------------------------------------------


async def test_the_store_round_trips_keyed_by_grant(redis_url: str) -> None:
    """Save, load, replace, delete; the key is the grant's name and the value is as given."""
    prefix = _prefix()
    async with RedisTokenStore(redis_url, prefix=prefix) as store:
        as_store: TokenStore = store  # the protocol, checked by mypy
        assert as_store is store
        assert await store.load("site-1") is None
        tokens = _tokens()
        await store.save("site-1", tokens)
        await store.save("site-2", _tokens("A-2", "R-2"))
        assert await store.load("site-1") == tokens
        assert (await store.load("site-2")).refresh_token == "R-2"  # type: ignore[union-attr]
        assert await _raw(redis_url, store.key("site-1")) == encode_tokens(tokens).decode()
        keys = await _keys(redis_url, prefix)
        assert keys == [f"{prefix}:oauth:{{site-1}}:tokens", f"{prefix}:oauth:{{site-2}}:tokens"]
        assert not any(ACCESS in k or REFRESH in k for k in keys)
        await store.save("site-1", _tokens("A-3", "R-3"))
        assert (await store.load("site-1")).access_token == "A-3"  # type: ignore[union-attr]
        await store.delete("site-1")
        await store.delete("site-1")  # idempotent
        assert await store.load("site-1") is None
        assert (await store.load("site-2")).access_token == "A-2"  # type: ignore[union-attr]


async def test_the_store_refuses_bad_grants_and_corrupt_values(redis_url: str) -> None:
    """A grant name that is not a label, or a key that holds no token set: clear errors."""
    prefix = _prefix()
    async with RedisTokenStore(redis_url, prefix=prefix) as store:
        with pytest.raises(ConfigurationError, match="grant"):
            await store.save("a b", _tokens())
        import coredis

        client: coredis.Redis[str] = coredis.Redis.from_url(redis_url, decode_responses=True)
        async with client:
            await client.set(store.key("g"), '{"version": 1, "access_token": "x"')
        with pytest.raises(ConfigurationError, match="stored tokens"):
            await store.load("g")


def test_bad_settings_are_refused() -> None:
    """URLs, prefixes, replica counts and leases are checked at construction."""
    with pytest.raises(ConfigurationError):
        RedisTokenStore("http://localhost:6379")
    with pytest.raises(ConfigurationError):
        RedisTokenStore("redis://localhost", prefix="")
    with pytest.raises(ConfigurationError):
        RedisTokenStore("redis://localhost", min_replicas=-1)
    with pytest.raises(ConfigurationError):
        RedisRefreshLock("redis://localhost", lease=0)
    with pytest.raises(ConfigurationError, match="three round trips"):
        RedisRefreshLock("redis://localhost", lease=1, op_timeout=1)
    with pytest.raises(ConfigurationError):
        RedisRefreshLock("redis://localhost", wait_timeout=float("inf"))


async def test_min_replicas_unmet_fails_the_save(redis_url: str) -> None:
    """A save that no replica confirmed raises; the provider keeps the tokens in memory."""
    server = TokenServer()
    async with (
        RedisTokenStore(redis_url, prefix=_prefix(), min_replicas=1, op_timeout=0.2) as store,
        server.oauth() as oauth,
    ):
        tokens = _tokens()
        with pytest.raises(TokenStoreError, match="replicas"):
            await store.save("g", tokens)
        assert await store.load("g") == tokens  # the primary has them
        provider = RefreshingTokenProvider(
            oauth, server.grant(), store=store, lock=store.refresh_lock(), grant="g2"
        )
        with pytest.raises(TokenStoreError) as info:
            await provider.token()
        assert isinstance(info.value.__cause__, TokenStoreError)
        assert server.refreshes == 1
        with pytest.raises(TokenStoreError):
            await provider.token()  # the save is retried, not the refresh
        assert server.refreshes == 1


# -- the lock ----------------------------------------------------------------------------


async def test_the_lock_excludes_other_holders_and_is_released(redis_url: str) -> None:
    """While one connection holds a grant's lock another cannot take it; then it can."""
    prefix = _prefix()
    async with (
        RedisRefreshLock(redis_url, prefix=prefix) as one,
        RedisRefreshLock(redis_url, prefix=prefix, wait_timeout=0.3) as two,
    ):
        as_lock: RefreshLock = one  # the protocol, checked by mypy
        assert as_lock is one
        async with one.hold("site-1"):
            assert await _keys(redis_url, prefix) == [f"{prefix}:oauth:{{site-1}}:lock"]
            with pytest.raises(RefreshLockTimeoutError) as info:
                async with two.hold("site-1"):
                    pytest.fail("two holders at once")
            assert isinstance(info.value, RequestTimeoutError)
            assert isinstance(info.value, TimeoutError)
            assert info.value.grant == "site-1"
            assert "site-1" in str(info.value)
            again = pickle.loads(pickle.dumps(info.value))  # noqa: S301 - our own bytes
            assert (type(again), again.grant, str(again)) == (
                RefreshLockTimeoutError,
                "site-1",
                str(info.value),
            )
            async with two.hold("site-2"):  # another grant is another lock
                pass
        assert await _keys(redis_url, prefix) == []  # released
        async with two.hold("site-1"):
            pass


async def test_tasks_sharing_one_lock_object_exclude_each_other(redis_url: str) -> None:
    """Tasks of one process queue on the lock object itself, bounded by wait_timeout."""
    async with RedisRefreshLock(redis_url, prefix=_prefix(), wait_timeout=0.3) as lock:
        inside: list[str] = []
        entered, leave = anyio.Event(), anyio.Event()

        async def holder() -> None:
            async with lock.hold("g"):
                inside.append("holder")
                entered.set()
                await leave.wait()
            inside.remove("holder")

        async with anyio.create_task_group() as tg:
            tg.start_soon(holder)
            await entered.wait()
            with pytest.raises(RefreshLockTimeoutError):
                async with lock.hold("g"):
                    pytest.fail("two tasks held one grant's lock at once")
            leave.set()
        async with lock.hold("g"):
            assert inside == []


async def test_a_held_lock_is_renewed_past_its_lease(redis_url: str) -> None:
    """A holder that keeps working keeps the lock beyond one lease (renewed while held)."""
    prefix = _prefix()
    async with (
        RedisRefreshLock(redis_url, prefix=prefix, lease=0.5, op_timeout=0.1) as one,
        RedisRefreshLock(redis_url, prefix=prefix, wait_timeout=1.0) as two,
        one.hold("g"),
    ):
        with pytest.raises(RefreshLockTimeoutError) as info:
            async with two.hold("g"):
                pytest.fail("the lease lapsed while held")
        assert info.value.waited >= 1.0


async def test_a_dead_holders_lock_lapses_after_its_lease(redis_url: str) -> None:
    """A lock whose holder died (no renewal) is free once its lease ran out."""
    import coredis

    prefix = _prefix()
    async with RedisRefreshLock(redis_url, prefix=prefix, wait_timeout=10) as lock:
        client: coredis.Redis[str] = coredis.Redis.from_url(redis_url, decode_responses=True)
        async with client:
            await client.set(lock.key("g"), "a-process-that-died", px=300)
        async with lock.hold("g"):
            assert await _raw(redis_url, lock.key("g")) not in {None, "a-process-that-died"}


async def test_release_never_deletes_another_holders_lock(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A lock that lapsed and was taken by another stays theirs; the lapse is logged."""
    import coredis

    prefix = _prefix()
    async with RedisRefreshLock(redis_url, prefix=prefix) as lock:
        client: coredis.Redis[str] = coredis.Redis.from_url(redis_url, decode_responses=True)
        async with client:
            with caplog.at_level(logging.WARNING):
                async with lock.hold("g"):
                    await client.set(lock.key("g"), "another-holder", px=60_000)
            assert await client.get(lock.key("g")) == "another-holder"
    assert "lapsed before its release" in caplog.text
    assert "'g'" in caplog.text


async def test_a_cancelled_waiter_leaves_no_lock_behind(redis_url: str) -> None:
    """Cancelling a wait for the lock takes nothing; the holder's lock is untouched."""
    prefix = _prefix()
    async with (
        RedisRefreshLock(redis_url, prefix=prefix) as one,
        RedisRefreshLock(redis_url, prefix=prefix) as two,
    ):
        async with one.hold("g"):
            held = await _raw(redis_url, one.key("g"))
            with anyio.move_on_after(0.2) as scope:
                async with two.hold("g"):
                    pytest.fail("taken while held")
            assert scope.cancelled_caught
            assert await _raw(redis_url, one.key("g")) == held
        assert await _keys(redis_url, prefix) == []
        with anyio.move_on_after(0.2):  # cancelled while holding: released all the same
            async with two.hold("g"):
                await anyio.sleep_forever()
        assert await _keys(redis_url, prefix) == []


async def test_the_lock_from_a_store_shares_its_connection(redis_url: str) -> None:
    """store.refresh_lock() needs no 'async with'; it stops with the store."""
    async with RedisTokenStore(redis_url, prefix=_prefix()) as store:
        lock = store.refresh_lock(lease=10, wait_timeout=5)
        assert lock.prefix == store.prefix
        async with lock, lock.hold("g"):  # entering it is allowed and changes nothing
            pass
        async with lock.hold("g"):
            pass
    with pytest.raises(RuntimeError, match="async with"):
        async with lock.hold("g"):
            pass


# -- providers sharing a grant -----------------------------------------------------------


class _Observed:
    """A `RefreshLock` that counts the callers that asked for it, then delegates."""

    def __init__(self, inner: RefreshLock, asked: list[str], everyone: anyio.Event, n: int) -> None:
        self._inner = inner
        self._asked = asked
        self._everyone = everyone
        self._n = n

    def hold(self, grant: str) -> AbstractAsyncContextManager[object]:
        self._asked.append(grant)
        if len(self._asked) >= self._n:
            self._everyone.set()
        return self._inner.hold(grant)


class _BlockingServer(TokenServer):
    """A token server whose first token call answers only once ``release`` is set.

    ``arrived`` is set when ``expected`` token calls have arrived.
    """

    def __init__(self, expected: int) -> None:
        super().__init__()
        self.calls = 0
        self.expected = expected
        self.first = anyio.Event()
        self.arrived = anyio.Event()
        self.release = anyio.Event()

    async def handle(self, request):  # type: ignore[no-untyped-def]
        """Count the call; hold the first until released."""
        self.calls += 1
        if self.calls >= self.expected:
            self.arrived.set()
        if self.calls == 1:
            self.first.set()
            await self.release.wait()
        return await super().handle(request)


async def _race(
    server: _BlockingServer,
    locks: list[RefreshLock],
    store: TokenStore,
    release_when: Callable[[anyio.Event], Awaitable[object]],
) -> tuple[set[str], list[BaseException]]:
    """Providers with one lock each ask for a token of one expired grant at once.

    The first refresh is held at the server until every provider has asked for its
    lock and ``release_when`` returned.
    """
    asked: list[str] = []
    everyone = anyio.Event()
    got: list[str] = []
    errors: list[BaseException] = []
    async with server.oauth() as oauth:
        providers = [
            RefreshingTokenProvider(
                oauth, store=store, lock=_Observed(lock, asked, everyone, len(locks)), grant="g"
            )
            for lock in locks
        ]

        async def one(provider: RefreshingTokenProvider) -> None:
            try:
                got.append(await provider.token())
            except Exception as exc:
                errors.append(exc)

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                for provider in providers:
                    tg.start_soon(one, provider)
                await server.first.wait()
                await release_when(everyone)
                server.release.set()
    return set(got), errors


async def test_providers_with_separate_redis_locks_refresh_once(redis_url: str) -> None:
    """Six providers, six connections, one expired grant: one refresh, no invalid_grant."""
    server = _BlockingServer(expected=2)
    prefix = _prefix()
    async with RedisTokenStore(redis_url, prefix=prefix) as store:
        await store.save("g", _tokens("A-old", server.grant(), expired=True))
        locks = [RedisRefreshLock(redis_url, prefix=prefix) for _ in range(6)]
        async with contextlib.AsyncExitStack() as stack:
            for lock in locks:
                await stack.enter_async_context(lock)
            # Released once all six asked for their locks: five are waiting on Redis.
            got, errors = await _race(server, list(locks), store, lambda e: e.wait())
        assert errors == []
        assert (server.calls, server.refreshes, server.refused) == (1, 1, 0)
        stored = await store.load("g")
        assert stored is not None
        assert got == {stored.access_token}
        assert stored.refresh_token in server.valid_refresh


async def test_without_a_shared_lock_the_same_race_refreshes_more_than_once() -> None:
    """The control: providers whose locks are not shared all reach the token endpoint."""
    from solaredge_async.oauth import MemoryTokenStore

    server = _BlockingServer(expected=2)
    store = MemoryTokenStore()
    await store.save("g", _tokens("A-old", server.grant(), expired=True))
    locks: list[RefreshLock] = [LocalRefreshLock() for _ in range(6)]
    # Released once a second provider reached the server (the first is held there).
    await _race(server, locks, store, lambda _: server.arrived.wait())
    assert server.calls >= 2
    assert server.refreshes + server.refused == server.calls


def _worker(redis_url: str, prefix: str, base_url: str, backend: str) -> subprocess.Popen[str]:
    from tests.oauth._support import CLIENT_ID, CLIENT_SECRET

    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SOLAREDGE_TEST_CLIENT_ID": CLIENT_ID,
        "SOLAREDGE_TEST_CLIENT_SECRET": CLIENT_SECRET,
    }
    return subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [
            sys.executable,
            "-m",
            "tests.oauth._redis_worker",
            redis_url,
            prefix,
            base_url,
            "g",
            backend,
            "4",
        ],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


async def test_processes_sharing_a_grant_refresh_once_per_expiry(redis_url: str) -> None:
    """Four processes (asyncio, trio), four tasks each, one grant: one refresh per expiry.

    Against the simulator's token endpoint: none is refused, and every task of every
    process gets the access token of that refresh.
    """
    from solaredge_async.testing import FleetSpec, Simulator, SimulatorConfig
    from tests.oauth._support import CLIENT_ID, CLIENT_SECRET

    sim = Simulator(
        SimulatorConfig(
            fleet=FleetSpec(sites=1),
            requests_per_minute=None,
            monthly_credits=None,
            oauth_clients={CLIENT_ID: CLIENT_SECRET},
        )
    )
    prefix = _prefix()
    async with sim.serve() as base_url, RedisTokenStore(redis_url, prefix=prefix) as store:
        async with OAuthClient(CLIENT_ID, CLIENT_SECRET, base_url=base_url) as oauth:
            first = await oauth.exchange_code(sim.authorize(sim.fleet.sites_for(sim.api_key)[0]))
        await store.save("g", attrs.evolve(first, expires_at=datetime.now(UTC) - timedelta(1)))
        seen: list[str] = []
        for _expiry in range(2):
            workers = [
                _worker(redis_url, prefix, base_url, backend)
                for backend in ("asyncio", "trio", "asyncio", "trio")
            ]
            try:
                for worker in workers:
                    assert worker.stdout is not None
                    line = await anyio.to_thread.run_sync(worker.stdout.readline)
                    assert line == "ready\n"
                for worker in workers:
                    assert worker.stdin is not None
                    worker.stdin.write("go\n")
                    worker.stdin.flush()
                outputs = [
                    await anyio.to_thread.run_sync(lambda w=w: w.communicate(timeout=60)[0])
                    for w in workers
                ]
            finally:
                for worker in workers:
                    if worker.poll() is None:
                        worker.kill()
                        worker.wait()
            assert all(worker.returncode == 0 for worker in workers)
            digests = {line for out in outputs for line in out.split()}
            stored = await store.load("g")
            assert stored is not None
            assert digests == {digest(stored.access_token)}
            seen.append(stored.access_token)
            await store.save("g", attrs.evolve(stored, expires_at=datetime.now(UTC) - timedelta(1)))
        token_calls = [r for r in sim.requests if r.path.endswith("/oauth2/token")]
        assert [r.status for r in token_calls] == [200, 200, 200]  # the exchange, 2 refreshes
        assert len(set(seen)) == 2


# -- failing closed ----------------------------------------------------------------------


@COREDIS_LEAK
async def test_redis_gone_fails_closed_then_recovers(private_redis: RedisServer) -> None:
    """Redis stopped: store and lock fail closed after a bounded wait, then recover.

    The restarted server kept nothing (no persistence): the provider refreshes anew.
    """
    prefix = _prefix()
    options = {"prefix": prefix, "op_timeout": 0.2, "unavailable_timeout": 0.5}
    async with RedisTokenStore(private_redis.url, **options) as store:  # type: ignore[arg-type]
        lock = store.refresh_lock(lease=1, wait_timeout=1)
        await store.save("g", _tokens())
        private_redis.stop()
        for call in (store.load("g"), store.save("g", _tokens()), store.delete("g")):
            with anyio.fail_after(30), pytest.raises(SharedStateUnavailableError) as info:
                await call
            assert "127.0.0.1" in str(info.value)
        with anyio.fail_after(30), pytest.raises(SharedStateUnavailableError):
            async with lock.hold("g"):
                pytest.fail("held without Redis")
        server = TokenServer()
        async with server.oauth() as oauth:
            provider = RefreshingTokenProvider(
                oauth, server.grant(), store=store, lock=lock, grant="g"
            )
            with pytest.raises(SharedStateUnavailableError):
                await provider.token()
            assert server.refreshes == 0  # nothing refreshed without the lock
            private_redis.start()
            assert await store.load("g") is None
            token = await provider.token()
            assert server.refreshes == 1
            assert (await store.load("g")).access_token == token  # type: ignore[union-attr]
    gc.collect()  # coredis's leaked streams warn now, under this test's filter


@COREDIS_LEAK
async def test_unreachable_at_start_and_secrets_never_shown(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """No server: entering fails with the typed error; no password or token in any output."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"redis://user:{PASSWORD}@127.0.0.1:{port}/0"
    texts: list[str] = []
    with caplog.at_level(logging.DEBUG):
        store = RedisTokenStore(url, unavailable_timeout=0.2)
        lock = RedisRefreshLock(url, unavailable_timeout=0.2)
        texts += [repr(store), repr(lock), repr(store.refresh_lock())]
        for entered in (store, lock):
            with pytest.raises(SharedStateUnavailableError) as info:
                async with entered:
                    pass
            texts += [str(info.value), repr(info.value), info.value.target]
        with pytest.raises(RuntimeError) as err:
            await store.save("g", _tokens())
        texts.append(str(err.value))
    texts.append(caplog.text)
    for text in texts:
        assert PASSWORD not in text
        assert ACCESS not in text
        assert REFRESH not in text
    assert f"redis://127.0.0.1:{port}/0" in texts[0]
    gc.collect()


async def test_no_token_reaches_logs_keys_or_reprs(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A refresh through Redis store and lock: tokens appear in no key, log line or repr."""
    server = TokenServer()
    prefix = _prefix()
    with caplog.at_level(logging.DEBUG):
        async with RedisTokenStore(redis_url, prefix=prefix) as store, server.oauth() as oauth:
            lock = store.refresh_lock()
            provider = RefreshingTokenProvider(oauth, REFRESH, store=store, lock=lock, grant="g")
            server.valid_refresh.add(REFRESH)
            token = await provider.token()
            stored = await store.load("g")
            shown = [repr(store), repr(lock), repr(provider), repr(stored)]
            keys = await _keys(redis_url, prefix)
    for text in [*shown, *keys, caplog.text]:
        assert token not in text
        assert REFRESH not in text
        assert stored is not None
        assert stored.refresh_token not in text
