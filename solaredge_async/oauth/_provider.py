"""`RefreshingTokenProvider`: a grant's access token, refreshed without losing the grant.

The rules it keeps (reference §2: each refresh voids the refresh token it used):

1. The rotated token set is saved to the `TokenStore` before its access token is
   handed out. If saving fails, the new tokens stay in memory, `TokenStoreError`
   is raised, and the next call retries the save (it does not refresh again, which
   would void the only valid refresh token).
2. One refresh per grant at a time: refreshes run under a `RefreshLock`, and the
   store is read after the lock is taken, so a refresh made meanwhile by another
   task (or, with a shared store and lock, another process) is adopted, not repeated.
3. Expiry is wall-clock time (`TokenSet.expires_at`), so stored tokens are valid in
   any process. In process, the event loop's clock bounds it too: a wall clock
   stepped back never stretches a token's life.
4. A bearer call answered 401 calls `invalidate` with the token it sent; the next
   call refreshes (once, however many calls saw the 401).
5. A caller never waits past its own deadline. Used bare, the refresh runs in the
   caller's task and ends with the caller's cancel scope (and `OAuthClient`'s own
   ``timeout``); the tokens are recorded in memory the moment the response is read,
   so a cancellation during the save loses nothing, but one while the token call is
   in flight loses the rotation if the server made it. Entered (``async with
   provider:``), the refresh runs in the provider's own task, bounded by
   ``refresh_timeout``: callers wait for it and may leave at their deadlines, while
   the refresh completes and its tokens are saved. Exiting waits for it.
"""

from __future__ import annotations

import hashlib
import math
import time
from typing import TYPE_CHECKING, Final

import anyio
import attrs

from solaredge_async._closing import TaskGroupHolder
from solaredge_async._credentials import check_secret
from solaredge_async.errors import ConfigurationError, OAuthError, RequestTimeoutError
from solaredge_async.oauth._flow import check_positive
from solaredge_async.oauth._locks import LocalRefreshLock
from solaredge_async.oauth._stores import CallbackTokenStore, TokenStoreError, check_grant
from solaredge_async.oauth._tokens import is_number

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from solaredge_async.oauth._flow import OAuthClient
    from solaredge_async.oauth._locks import RefreshLock
    from solaredge_async.oauth._stores import TokenStore
    from solaredge_async.oauth._tokens import TokenSet

__all__ = ["RefreshingTokenProvider"]

#: The default lock: every provider of the process that is given no lock shares it, so
#: two providers of one grant never refresh at once (locks are per grant name).
_PROCESS_LOCK: Final = LocalRefreshLock()


@attrs.define
class _Flight:
    """One refresh run by an entered provider, and what its waiters get."""

    done: anyio.Event = attrs.field(factory=anyio.Event)
    token: str | None = None
    error: Exception | None = None


class RefreshingTokenProvider(TaskGroupHolder):
    """A ``token_provider`` that refreshes the access token before it expires.

    Pass it as ``SolarEdgeClient(token_provider=...)``. The store is the source of
    truth: it is read before every refresh, and what it holds for ``grant`` wins over
    ``refresh_token`` and ``tokens`` (used only until it holds something), except that
    when the server refuses the stored refresh token (``invalid_grant``), a different
    ``refresh_token`` argument is tried and its result saved: after a new consent,
    pass the new refresh token, or save the new tokens to the store
    (``await store.save(grant, tokens)``).

    Args:
        oauth: The `OAuthClient` of the application.
        refresh_token: The grant's refresh token, when the store holds none yet.
        store: Where rotated tokens are saved (`FileTokenStore`, ...). Exactly one of
            ``store`` and ``on_refresh`` is required.
        on_refresh: Awaited with each new `TokenSet` before its access token is used;
            it must persist the tokens durably and raise if it could not (the
            callback form of a store).
        grant: The grant's name in the store and the lock (your own label, such as
            ``"site-4815162"``; never a secret). Name each grant when several share a
            store. Default: with ``on_refresh``, ``"default"``; with ``store``, a name
            derived one-way from ``refresh_token`` (or ``tokens``), so two grants on
            one store never share a name, and a restart given the same seed finds
            its saved tokens.
        tokens: A current `TokenSet`, if one is at hand (saves a refresh).
        lock: The `RefreshLock` (default: one `LocalRefreshLock` shared by every
            provider of the process; pass a lock shared across processes, such as a
            Redis lock, when several processes use the grant).
        skew: Seconds before expiry at which a refresh starts.
        refresh_timeout: Seconds a refresh run by the entered provider may take in all
            (waiting for the lock, the token call, the save).
        clock: The wall clock, UTC epoch seconds (``time.time``; for tests).

    Raises:
        ConfigurationError: Neither or both of ``store`` and ``on_refresh``, a
            malformed refresh token or grant name, ``store`` without ``grant`` nor a
            refresh token to name the grant by, a negative ``skew``, a
            ``refresh_timeout`` that is not positive.

    Use it bare, or enter it (``async with provider:``) so that a refresh whose caller
    was cancelled still completes and is saved (module docstring, rule 5): refreshes
    then run in the provider's own task, and leaving the block waits for one in
    flight (at most ``refresh_timeout``). Entering it while it is entered raises
    `ConfigurationError`.
    """

    def __init__(
        self,
        oauth: OAuthClient,
        refresh_token: str | None = None,
        *,
        store: TokenStore | None = None,
        on_refresh: Callable[[TokenSet], Awaitable[None]] | None = None,
        grant: str | None = None,
        tokens: TokenSet | None = None,
        lock: RefreshLock | None = None,
        skew: float = 300.0,
        refresh_timeout: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if (store is None) == (on_refresh is None):
            raise ConfigurationError(
                "pass store= (e.g. FileTokenStore) or on_refresh=, exactly one: every "
                "refresh voids the previous refresh token, so the new one must be saved "
                "(MemoryTokenStore() if you persist it by other means)"
            )
        if store is None:
            if not callable(on_refresh):
                raise ConfigurationError("on_refresh must be an async callable taking a TokenSet")
            store = CallbackTokenStore(on_refresh)
        if not is_number(skew) or not (skew >= 0 and math.isfinite(skew)):
            raise ConfigurationError(f"skew must be seconds >= 0, got {skew!r}")
        self._oauth = oauth
        self._store: TokenStore = store
        self._seed = None if refresh_token is None else check_secret(refresh_token, "refresh_token")
        self._grant = check_grant(
            _default_grant(on_refresh is not None, self._seed, tokens) if grant is None else grant
        )
        self._tokens = tokens
        self._lock: RefreshLock = lock if lock is not None else _PROCESS_LOCK
        self._skew = float(skew)
        self._refresh_timeout = check_positive(refresh_timeout, "refresh_timeout")
        self._clock = clock
        self._flight: _Flight | None = None
        #: Tokens refreshed but not yet saved: saved before anything else is done.
        self._unsaved: TokenSet | None = None
        #: An access token a server answered 401 to.
        self._rejected: str | None = None
        #: The token set last seen, and its expiry on the event loop's clock.
        self._local: tuple[TokenSet, float] | None = None

    def __repr__(self) -> str:
        return (
            f"RefreshingTokenProvider(grant={self._grant!r}, store={self._store!r}, "
            f"oauth={self._oauth!r})"
        )

    @property
    def grant(self) -> str:
        """The grant's name in the store and the lock."""
        return self._grant

    async def __call__(self) -> str:
        """The same as `token`: what ``SolarEdgeClient(token_provider=...)`` awaits."""
        return await self.token()

    async def token(self) -> str:
        """Return a valid access token, refreshing first when it is close to expiry.

        Raises:
            TokenStoreError: The store failed to save the rotated tokens (kept in
                memory; the next call retries the save) or to load them.
            OAuthError: The refresh was refused (``invalid_grant``: the owner must
                consent again).
            TransportError: The token endpoint did not answer (`RequestTimeoutError`
                past `OAuthClient`'s ``timeout``).
            ResponseValidationError: The token response was too large or malformed.
            ConfigurationError: Neither the store nor the arguments hold a refresh token.
        """
        tokens = self._tokens
        if self._unsaved is None and tokens is not None and self._usable(tokens):
            return tokens.access_token
        task_group = self._task_group
        if task_group is None:
            async with self._lock.hold(self._grant):
                return await self._token_locked()
        flight = self._flight
        if flight is None:
            flight = self._flight = _Flight()
            task_group.start_soon(self._fly, flight)
        await flight.done.wait()  # the caller may leave here; the flight goes on
        if flight.token is None:
            raise flight.error or ConfigurationError("the refresh ended without a token")
        return flight.token

    async def _fly(self, flight: _Flight) -> None:
        """Refresh in the provider's task: shielded from callers, bounded by its own timeout."""
        try:
            with anyio.CancelScope(shield=True), anyio.fail_after(self._refresh_timeout):
                async with self._lock.hold(self._grant):
                    flight.token = await self._token_locked()
        except TimeoutError as exc:
            flight.error = (
                exc
                if isinstance(exc, RequestTimeoutError)
                else RequestTimeoutError(
                    f"the refresh of grant {self._grant!r} did not complete within "
                    f"{self._refresh_timeout:g} s (refresh_timeout)"
                )
            )
        except Exception as exc:  # noqa: BLE001 - handed to every waiter
            flight.error = exc
        finally:
            if self._flight is flight:
                self._flight = None
            flight.done.set()

    def invalidate(self, access_token: str) -> None:
        """Record that the server refused ``access_token`` (a 401 on a bearer call).

        The next `token` call refreshes, unless the provider already holds another
        access token (a refresh happened meanwhile): N calls that all saw the 401
        cause one refresh. The engine calls this, then retries the call once.
        """
        self._rejected = access_token

    async def revoke(self) -> None:
        """Revoke the grant at the server and forget its tokens (memory and store).

        The owner must consent again to restore access.

        Raises:
            OAuthError: The server refused the revocation (the tokens are kept).
            TransportError: The revoke endpoint did not answer (the tokens are kept).
            TokenStoreError: The store failed to delete them (revoked nonetheless).
            ConfigurationError: No refresh token is known for the grant.
        """
        async with self._lock.hold(self._grant):
            tokens = self._unsaved or await self._load() or self._tokens
            refresh_token = tokens.refresh_token if tokens is not None else self._seed
            if refresh_token is None:
                raise self._no_tokens()
            await self._oauth.revoke(refresh_token)
            self._tokens = self._unsaved = self._local = None
            self._seed = None
            try:
                await self._store.delete(self._grant)
            except Exception as exc:
                raise TokenStoreError(
                    f"grant {self._grant!r} was revoked, but the token store failed to "
                    f"delete its tokens ({type(exc).__name__}); they are void",
                    grant=self._grant,
                ) from exc

    async def _token_locked(self) -> str:
        if self._unsaved is not None:
            await self._save(self._unsaved)
        tokens = self._tokens
        if tokens is not None and self._usable(tokens):
            return tokens.access_token
        stored = await self._load()
        if stored is not None and stored != tokens:
            self._tokens = tokens = stored
            if self._usable(stored):
                return stored.access_token
        refresh_token = tokens.refresh_token if tokens is not None else self._seed
        if refresh_token is None:
            raise self._no_tokens()
        try:
            fresh = await self._oauth.refresh(refresh_token)
        except OAuthError as exc:
            if exc.error != "invalid_grant":
                raise
            recovered = await self._recover(refresh_token)
            if recovered is None:
                raise
            if recovered is self._tokens:  # adopted from the store, still usable
                return recovered.access_token
            fresh = recovered
        # No checkpoint between the response and this line: once read, the new
        # tokens are in memory whatever happens to the save.
        self._tokens = self._unsaved = fresh
        await self._save(fresh)
        return fresh.access_token

    async def _recover(self, refused: str) -> TokenSet | None:
        """After ``invalid_grant`` for ``refused``: new tokens, or None if nothing else to try.

        Returns the adopted stored set itself (``self._tokens``) when it is usable as is.
        """
        # Another holder of the grant that shares the store but not the lock may
        # have rotated the token: adopt what it saved, if anything new.
        again = await self._load()
        if again is not None and again.refresh_token != refused:
            self._tokens = again
            if self._usable(again):
                return again
            return await self._oauth.refresh(again.refresh_token)
        seed = self._seed
        if seed is None or seed == refused:
            return None
        # The owner consented again and the new refresh token was given as
        # ``refresh_token``, while the store still holds the void set.
        try:
            fresh = await self._oauth.refresh(seed)
        except OAuthError as exc:
            if exc.error == "invalid_grant":
                self._seed = None  # void too: never tried again
            raise
        self._seed = None  # rotated: void from now on
        return fresh

    def _usable(self, tokens: TokenSet) -> bool:
        """Whether ``tokens``' access token is not refused and not near expiry."""
        if tokens.access_token == self._rejected:
            return False
        wall_left = tokens.expires_at.timestamp() - self._clock()
        now = anyio.current_time()
        local = self._local
        if local is None or local[0] is not tokens:
            local = self._local = (tokens, now + wall_left)
        return min(wall_left, local[1] - now) > self._skew

    async def _load(self) -> TokenSet | None:
        try:
            return await self._store.load(self._grant)
        except Exception as exc:
            raise TokenStoreError(
                f"the token store failed to load grant {self._grant!r} "
                f"({type(exc).__name__}); nothing was refreshed",
                grant=self._grant,
            ) from exc

    async def _save(self, tokens: TokenSet) -> None:
        try:
            await self._store.save(self._grant, tokens)
        except Exception as exc:
            raise TokenStoreError(
                f"the token store failed to save the rotated tokens of grant "
                f"{self._grant!r} ({type(exc).__name__}). They are kept in memory and "
                "saving is retried on the next call; the previous refresh token is "
                "already void, so fix the store (disk space, permissions) and keep "
                "this process running until a call succeeds",
                grant=self._grant,
            ) from exc
        if self._unsaved is tokens:
            self._unsaved = None

    def _no_tokens(self) -> ConfigurationError:
        return ConfigurationError(
            f"no tokens for grant {self._grant!r}: the store holds none and no "
            "refresh_token or tokens were given; send the owner to authorize_url() and "
            "save the tokens of OAuthClient.exchange_code() to the store"
        )


def _default_grant(callback: bool, seed: str | None, tokens: TokenSet | None) -> str:
    """The grant name used when none is given (see `RefreshingTokenProvider`'s ``grant``).

    Raises:
        ConfigurationError: A shared store and nothing to name the grant by.
    """
    if callback:
        return "default"  # the callback is this provider's own store
    secret = seed if seed is not None else tokens.refresh_token if tokens is not None else None
    if secret is None:
        raise ConfigurationError(
            "pass grant= (your own label, such as 'site-4815162') with store=: a store "
            "may hold several grants, and without a name or a refresh_token to derive "
            "one from, two grants would share one entry and swap tokens"
        )
    return "grant-" + hashlib.sha256(secret.encode()).hexdigest()[:16]
