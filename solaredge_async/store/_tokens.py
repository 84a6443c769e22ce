"""`DatabaseTokenStore`: OAuth grants' rotated tokens in the sync database.

A `TokenStore` (see `solaredge_async.oauth`) on an open `Store`: SQLite or
PostgreSQL, in the ``oauth_tokens`` table (one row per grant, keyed by the grant's
name). Workers that already share a PostgreSQL store for a fleet keep their grants
there too, with no other service to run::

    async with open_store("postgresql://sync@db/fleet") as db:
        provider = RefreshingTokenProvider(
            oauth, store=DatabaseTokenStore(db), grant="site-4815162"
        )

Each save is its own transaction, committed durably (on disk) before it returns.
The table holds the tokens as `encode_tokens` wrote them: the database is yours;
protect it (and its backups) like a password file. Nothing here logs, and errors
name the grant, never a token.

Several processes on one grant need a refresh lock across processes too (e.g.
`RedisRefreshLock`); without one, `RefreshingTokenProvider` still adopts what
another process saved when its own refresh is refused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from solaredge_async.oauth import decode_tokens, encode_tokens
from solaredge_async.oauth._stores import check_grant

if TYPE_CHECKING:
    from solaredge_async.oauth import TokenSet
    from solaredge_async.store._store import Store

__all__ = ["DatabaseTokenStore"]


class DatabaseTokenStore:
    """A `TokenStore` in a `Store`'s database (``oauth_tokens``, one row per grant).

    Args:
        store: An open store (`open_store`); it must stay open while this is used.

    Raises (from the methods):
        ConfigurationError: A malformed grant name, or a row that holds no token set.
        StoreError: The database failed (`StoreUnavailableError`, `StoreBusyError`, ...);
            a failed save stored nothing.
    """

    def __init__(self, store: Store) -> None:
        self._store = store

    def __repr__(self) -> str:
        return f"DatabaseTokenStore({self._store!r})"

    async def load(self, grant: str) -> TokenSet | None:
        """The grant's tokens, or None when the database holds none."""
        data = await self._store.load_token_data(check_grant(grant))
        return None if data is None else decode_tokens(data)

    async def save(self, grant: str, tokens: TokenSet) -> None:
        """Store the grant's tokens in one transaction; returns once it is committed to disk."""
        await self._store.save_token_data(check_grant(grant), encode_tokens(tokens).decode())

    async def delete(self, grant: str) -> None:
        """Forget the grant's tokens, durably; no error if there are none."""
        await self._store.delete_token_data(check_grant(grant))
