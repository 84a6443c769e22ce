"""Refresh locks: one refresh per grant at a time.

A refresh voids the refresh token it uses, so two refreshes of one grant racing
each other make one of them fail with ``invalid_grant``. `RefreshingTokenProvider`
refreshes only while holding its lock for the grant, and reads the token store
after taking it (another holder may have refreshed meanwhile).

`LocalRefreshLock` serves one process: share one instance between the providers
of a grant. A lock across processes (Redis, a database row lock) needs only the
one method of `RefreshLock`: an async context manager held for the grant.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Protocol

import anyio

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from contextlib import AbstractAsyncContextManager

__all__ = ["LocalRefreshLock", "RefreshLock"]


class RefreshLock(Protocol):
    """Mutual exclusion per grant, held around a refresh and its save."""

    def hold(self, grant: str) -> AbstractAsyncContextManager[object]:
        """An async context manager that holds the lock of ``grant`` while entered.

        Waiting for it must honour the caller's cancel scopes.
        """
        ...


class LocalRefreshLock:
    """One anyio lock per grant, for the tasks of one process (and one event loop)."""

    def __init__(self) -> None:
        self._locks: dict[str, anyio.Lock] = {}
        self._users: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"LocalRefreshLock(held={sorted(self._locks)!r})"

    @asynccontextmanager
    async def hold(self, grant: str) -> AsyncIterator[None]:
        """Hold the lock of ``grant``; waiting for it is cancellable."""
        lock = self._locks.get(grant)
        if lock is None:
            lock = self._locks[grant] = anyio.Lock()
        self._users[grant] = self._users.get(grant, 0) + 1
        try:
            async with lock:
                yield
        finally:
            # Forget the lock once nobody holds or waits for it: a pool of many
            # grants does not keep one lock per grant forever.
            self._users[grant] -= 1
            if not self._users[grant]:
                del self._users[grant]
                del self._locks[grant]
