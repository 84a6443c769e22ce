"""Token stores and refresh locks on Redis, shared by every process and host of a grant.

`RedisTokenStore` keeps each grant's current `TokenSet` (the bytes of
`encode_tokens`, as given: the Redis is yours, protect it like a password file);
`RedisRefreshLock` lets one holder at a time refresh a grant, across processes.
Both are async context managers that hold a coredis connection (coredis runs on
asyncio and on trio; extra ``redis``). A lock made by `RedisTokenStore.refresh_lock`
shares the store's connection::

    async with RedisTokenStore("redis://localhost:6379/0") as store:
        provider = RefreshingTokenProvider(
            oauth, store=store, lock=store.refresh_lock(), grant="site-4815162"
        )

Keys hold grant names, never tokens::

    PREFIX:oauth:{GRANT}:tokens     string: the encoded token set
    PREFIX:oauth:{GRANT}:lock       string: the random id of the lock's holder (with a lease)

The lock is ``SET NX PX`` with a random owner id, kept alive while held by a
compare-and-expire script (so a long refresh never outlives its lease, and a
crashed holder's lock lapses after one lease), and released by a compare-and-delete
script (a holder never deletes a lock another has taken since). Waiting for it is
bounded (``wait_timeout``, then `RefreshLockTimeoutError`) and honours the caller's
cancel scopes.

When Redis cannot be reached every call retries for a bounded time
(``unavailable_timeout``) and then raises `SharedStateUnavailableError`: nothing is
loaded, saved or refreshed without it.

Durability is Redis's own: run it with ``appendonly yes`` (and ``appendfsync
always`` if a power cut must not lose the last rotation), or pass
``min_replicas`` so that a save returns only once that many replicas have the
new tokens.
"""

from __future__ import annotations

import contextlib
import logging
import math
import secrets
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Final

import anyio

from solaredge_async.errors import ConfigurationError, RequestTimeoutError
from solaredge_async.limits._redis_link import RedisLink, RedisLinkHolder, check_prefix, check_url
from solaredge_async.oauth._flow import check_positive
from solaredge_async.oauth._locks import LocalRefreshLock
from solaredge_async.oauth._stores import TokenStoreError, check_grant
from solaredge_async.oauth._tokens import decode_tokens, encode_tokens

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from solaredge_async.oauth._tokens import TokenSet

__all__ = ["RedisRefreshLock", "RedisTokenStore", "RefreshLockTimeoutError"]

logger = logging.getLogger(__name__)

# KEYS: the lock. ARGV: owner id, lease in ms. 1 when the caller holds the lock now
# (taken, or already its own: a retried attempt whose answer was lost).
_ACQUIRE: Final = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if holder then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])
return 1
"""
# KEYS: the lock. ARGV: owner id, lease in ms. 1 when the lease was extended.
_RENEW: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
# KEYS: the lock. ARGV: owner id. 1 when the caller's lock was deleted.
_RELEASE: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""
_SCRIPTS: Final = {"acquire": _ACQUIRE, "renew": _RENEW, "release": _RELEASE}

_UNREACHABLE: Final = (
    "the OAuth token state on {target} is unreachable ({what}) after {timeout:g} s of "
    "{doing}; nothing was refreshed or saved. Start Redis or fix the URL"
)

#: The first and the longest pause between two attempts to take a held lock, seconds.
_FIRST_POLL: Final = 0.02
_MAX_POLL: Final = 0.5


class RefreshLockTimeoutError(RequestTimeoutError):
    """Another holder kept a grant's refresh lock longer than ``wait_timeout``.

    Nothing was refreshed. The holder may be a slow refresh or a stuck process; its
    lock lapses one lease after it stops renewing it. Retry later, or raise
    ``wait_timeout``. Also a `TimeoutError`.

    Attributes:
        grant: The grant's name.
        waited: Seconds waited for the lock.
    """

    def __init__(self, message: str, *, grant: str, waited: float) -> None:
        super().__init__(message)
        self.grant = grant
        self.waited = waited

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_timeout, (str(self), self.grant, self.waited))


def _rebuild_timeout(message: str, grant: str, waited: float) -> RefreshLockTimeoutError:
    return RefreshLockTimeoutError(message, grant=grant, waited=waited)


def _link(url: str, op_timeout: float, unavailable_timeout: float) -> RedisLink:
    """A connection for token stores and locks (renewals are cancelled when it closes)."""
    return RedisLink(
        check_url(url),
        scripts=_SCRIPTS,
        op_timeout=check_positive(op_timeout, "op_timeout"),
        unavailable_timeout=check_positive(unavailable_timeout, "unavailable_timeout"),
        unreachable=_UNREACHABLE,
        finish_tasks=False,
    )


class RedisTokenStore(RedisLinkHolder):
    """A `TokenStore` on Redis: one string key per grant, shared by every process.

    Use it as an async context manager (it holds the connection). ``save`` is one
    ``SET`` (atomic: readers see the old tokens or the new ones, never a mix) and
    returns once Redis acknowledged it, and, with ``min_replicas``, once that many
    replicas did. Nothing here logs; errors and the ``repr`` name the grant and the
    server (never a password or a token).

    Args:
        url: ``redis://[user:password@]host:port/db`` (``rediss://`` for TLS, ``unix://``).
        prefix: The first part of every key.
        min_replicas: Replicas that must have a saved token set before ``save``
            returns (Redis ``WAIT``); 0 trusts the primary's own persistence.
        op_timeout: Seconds one Redis round trip may take.
        unavailable_timeout: Seconds to keep retrying an unreachable Redis before
            failing closed with `SharedStateUnavailableError`.

    Raises:
        ConfigurationError: A malformed URL, prefix, count or timeout.
        ImportError: (on entry) coredis is not installed (``pip install
            'solaredge-async[redis]'``).
        SharedStateUnavailableError: (on entry and from every method) Redis could not
            be reached within ``unavailable_timeout``.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "solaredge",
        min_replicas: int = 0,
        op_timeout: float = 2.0,
        unavailable_timeout: float = 5.0,
    ) -> None:
        self._link = _link(url, op_timeout, unavailable_timeout)
        self.prefix = check_prefix(prefix)
        if isinstance(min_replicas, bool) or not isinstance(min_replicas, int) or min_replicas < 0:
            raise ConfigurationError(f"min_replicas must be an integer >= 0, got {min_replicas!r}")
        self.min_replicas = min_replicas

    def __repr__(self) -> str:
        return f"RedisTokenStore({self._link.target!r}, prefix={self.prefix!r})"

    def key(self, grant: str) -> str:
        """The key that holds ``grant``'s tokens.

        Raises:
            ConfigurationError: Not a valid grant name (see `check_grant`).
        """
        return f"{self.prefix}:oauth:{{{check_grant(grant)}}}:tokens"

    def refresh_lock(self, *, lease: float = 30.0, wait_timeout: float = 60.0) -> RedisRefreshLock:
        """A `RedisRefreshLock` on this store's connection and prefix (no need to enter it).

        Args:
            lease: Seconds the lock outlives a holder that stopped renewing it.
            wait_timeout: Seconds a caller waits for another holder before
                `RefreshLockTimeoutError`.
        """
        return RedisRefreshLock(
            self._link, prefix=self.prefix, lease=lease, wait_timeout=wait_timeout
        )

    async def load(self, grant: str) -> TokenSet | None:
        """The grant's tokens, or None when Redis holds none.

        Raises:
            ConfigurationError: A malformed grant name, or the key holds no token set.
            SharedStateUnavailableError: Redis unreachable.
        """
        key = self.key(grant)
        client = self._link.client(repr(self))
        data = await self._link.retrying(lambda: client.get(key), doing="loading tokens")
        return None if data is None else decode_tokens(data)

    async def save(self, grant: str, tokens: TokenSet) -> None:
        """Store the grant's tokens (one ``SET``), then wait for ``min_replicas``.

        Raises:
            TokenStoreError: Fewer than ``min_replicas`` replicas confirmed the save
                within ``op_timeout`` (the primary has it).
            SharedStateUnavailableError: Redis unreachable; the save may or may not
                have reached it.
        """
        key = self.key(grant)
        client = self._link.client(repr(self))
        value = encode_tokens(tokens).decode()
        import coredis.exceptions  # noqa: PLC0415 - an optional extra

        # WAIT answers within half a round trip's time, so SET and WAIT fit in one.
        wait_ms = max(int(self._link.op_timeout * 500), 1)

        async def put() -> object:
            if not self.min_replicas:
                return await client.set(key, value)
            with client.ensure_replication(self.min_replicas, wait_ms):
                return await client.set(key, value)

        try:
            await self._link.retrying(put, doing="saving tokens")
        except coredis.exceptions.ReplicationError as exc:
            raise TokenStoreError(
                f"the tokens of grant {grant!r} reached the Redis primary on {self.target} "
                f"but fewer than the {self.min_replicas} replicas asked for (min_replicas) "
                f"confirmed them within {wait_ms} ms; check the replicas or lower min_replicas",
                grant=grant,
            ) from exc

    async def delete(self, grant: str) -> None:
        """Forget the grant's tokens; no error if there are none.

        Raises:
            SharedStateUnavailableError: Redis unreachable.
        """
        key = self.key(grant)
        client = self._link.client(repr(self))
        await self._link.retrying(lambda: client.delete([key]), doing="deleting tokens")


class RedisRefreshLock(RedisLinkHolder):
    """A `RefreshLock` across processes and hosts: a Redis key per grant, with a lease.

    Use it as an async context manager holding its own connection, or get one that
    shares a `RedisTokenStore`'s with `RedisTokenStore.refresh_lock`. ``hold(grant)``
    takes the lock with ``SET NX PX`` and a random owner id, renews the lease every
    third of it from a background task while held, and releases it with a
    compare-and-delete script. A holder that dies stops renewing: its lock lapses
    after ``lease`` seconds. If renewing fails for longer than the lease (Redis
    gone) the lock may lapse while held; this is logged (the grant's name only),
    and `RefreshingTokenProvider` then adopts what the other holder saved.

    Args:
        url: ``redis://[user:password@]host:port/db``, as for `RedisTokenStore` (a
            store's connection when made by `RedisTokenStore.refresh_lock`).
        prefix: The first part of every key (the store's, to share its namespace).
        lease: Seconds the lock outlives a holder that stopped renewing it.
        wait_timeout: Seconds a caller waits for another holder before
            `RefreshLockTimeoutError`.
        op_timeout: Seconds one Redis round trip may take.
        unavailable_timeout: Seconds to keep retrying an unreachable Redis before
            failing closed with `SharedStateUnavailableError`.

    Raises:
        ConfigurationError: A malformed URL, prefix or duration.
    """

    def __init__(
        self,
        url: str | RedisLink,
        *,
        prefix: str = "solaredge",
        lease: float = 30.0,
        wait_timeout: float = 60.0,
        op_timeout: float = 2.0,
        unavailable_timeout: float = 5.0,
    ) -> None:
        if isinstance(url, RedisLink):
            self._link, self._owns_link = url, False
        else:
            self._link = _link(url, op_timeout, unavailable_timeout)
        self.prefix = check_prefix(prefix)
        self.lease = check_positive(lease, "lease")
        if self.lease < 3 * self._link.op_timeout * (1 - 1e-9):
            raise ConfigurationError(
                f"lease ({self.lease:g} s) must be at least three round trips "
                f"(3 x op_timeout = {3 * self._link.op_timeout:g} s) to be renewed in time"
            )
        self.wait_timeout = check_positive(wait_timeout, "wait_timeout")
        self._lease_ms = str(max(math.ceil(self.lease * 1000), 1))
        self._local = LocalRefreshLock()

    def __repr__(self) -> str:
        return (
            f"RedisRefreshLock({self._link.target!r}, prefix={self.prefix!r}, lease={self.lease:g})"
        )

    def key(self, grant: str) -> str:
        """The key of ``grant``'s lock.

        Raises:
            ConfigurationError: Not a valid grant name.
        """
        return f"{self.prefix}:oauth:{{{check_grant(grant)}}}:lock"

    @asynccontextmanager
    async def hold(self, grant: str) -> AsyncIterator[None]:
        """Hold ``grant``'s lock while entered (the `RefreshLock` protocol).

        Raises:
            RefreshLockTimeoutError: Another holder kept it past ``wait_timeout``.
            SharedStateUnavailableError: Redis unreachable (fail closed: not entered).
            ConfigurationError: Not a valid grant name.
            RuntimeError: Used outside ``async with`` (of the lock or its store).
        """
        key = self.key(grant)
        owner = secrets.token_hex(16)
        started = anyio.current_time()
        async with contextlib.AsyncExitStack() as stack:
            # The tasks of this process queue here first: one polls Redis at a time.
            queued = False
            with anyio.move_on_after(self.wait_timeout):
                await stack.enter_async_context(self._local.hold(grant))
                queued = True
            if not queued:
                raise self._timed_out(grant, started)
            await self._acquire(grant, key, owner, started)
            renewal = anyio.CancelScope()
            try:
                self._link.start_soon(
                    lambda: self._renew(grant, key, owner, renewal), owner=repr(self)
                )
                yield
            finally:
                renewal.cancel()
                with anyio.CancelScope(shield=True):
                    await self._release(grant, key, owner)

    def _timed_out(self, grant: str, started: float) -> RefreshLockTimeoutError:
        waited = anyio.current_time() - started
        return RefreshLockTimeoutError(
            f"the refresh lock of grant {grant!r} on {self.target} stayed held by another "
            f"holder for {waited:.1f} s (wait_timeout {self.wait_timeout:g} s); nothing "
            "was refreshed. Retry later; a holder that died releases it within "
            f"{self.lease:g} s (lease)",
            grant=grant,
            waited=waited,
        )

    async def _acquire(self, grant: str, key: str, owner: str, started: float) -> None:
        try:
            await self._wait_for(grant, key, owner, started)
        except BaseException:
            # An attempt cut short may have taken the lock: give it back (if it is ours).
            with anyio.CancelScope(shield=True):
                await self._release(grant, key, owner, quiet=True)
            raise

    async def _wait_for(self, grant: str, key: str, owner: str, started: float) -> None:
        give_up = started + self.wait_timeout
        delay = _FIRST_POLL
        name = repr(self)
        while True:
            got: int = await self._link.retrying(
                lambda: self._link.script("acquire", [key], [owner, self._lease_ms], owner=name),
                doing="taking the refresh lock",
            )
            if got:
                return
            now = anyio.current_time()
            if now >= give_up:
                raise self._timed_out(grant, started)
            # Jitter keeps the waiters of one release from polling in step.
            jittered = delay * (0.5 + secrets.randbelow(1000) / 1000)
            await anyio.sleep(min(jittered, give_up - now))
            delay = min(delay * 2, _MAX_POLL)

    async def _renew(self, grant: str, key: str, owner: str, scope: anyio.CancelScope) -> None:
        name = repr(self)
        with scope:
            while True:
                await anyio.sleep(self.lease / 3)
                try:
                    with anyio.fail_after(self._link.op_timeout):
                        kept = await self._link.script(
                            "renew", [key], [owner, self._lease_ms], owner=name
                        )
                except Exception as exc:  # noqa: BLE001 - a background task must not raise
                    logger.warning(
                        "the refresh lock of grant %r on %s could not be renewed (%s); retrying",
                        grant,
                        self.target,
                        type(exc).__name__,
                    )
                    continue
                if not kept:
                    logger.warning(
                        "the refresh lock of grant %r on %s lapsed while held; another "
                        "process may refresh the grant at the same time",
                        grant,
                        self.target,
                    )
                    return

    async def _release(self, grant: str, key: str, owner: str, *, quiet: bool = False) -> None:
        released = 0
        error = "no answer"
        with anyio.move_on_after(self._link.op_timeout):
            try:
                released = await self._link.script("release", [key], [owner], owner=repr(self))
                error = ""
            except Exception as exc:  # noqa: BLE001 - the lease ends it anyway
                error = type(exc).__name__
        if quiet:
            return
        if error:
            logger.warning(
                "the refresh lock of grant %r on %s could not be released (%s); it lapses "
                "within %g s",
                grant,
                self.target,
                error,
                self.lease,
            )
        elif not released:
            logger.warning(
                "the refresh lock of grant %r on %s had lapsed before its release; another "
                "process may have refreshed the grant meanwhile",
                grant,
                self.target,
            )
