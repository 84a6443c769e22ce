"""OAuth tokens in the sync database: SQLite and PostgreSQL, asyncio and trio.

Round trips, the migration that adds ``oauth_tokens``, saves durable before they
return (a process that dies right after a save loses nothing), the provider's
rotation through the database, and no token in any error or repr.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import pytest

from solaredge_async.errors import ConfigurationError
from solaredge_async.oauth import (
    RefreshingTokenProvider,
    TokenSet,
    TokenStoreError,
    encode_tokens,
)
from solaredge_async.store import MIGRATIONS, DatabaseTokenStore, StoreError, open_store
from solaredge_async.store._sqlite import SQLiteBackend
from tests.oauth._support import TokenServer

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
ACCESS = "CANARY-ACCESS-0a9b8c7d6e"
REFRESH = "CANARY-REFRESH-5f4e3d2c1b"


def _tokens(access=ACCESS, refresh=REFRESH, *, expired=False):
    when = datetime.now(UTC) + (timedelta(hours=-1) if expired else timedelta(hours=2))
    return TokenSet(access_token=access, refresh_token=refresh, expires_at=when, expires_in=7200.0)


def _read(store, sql, params=()):
    def run():
        with store._backend.reading() as cur:
            return store._backend._exec(cur, sql, params).fetchall()

    return store._call(run)


async def test_round_trip_keyed_by_grant_as_given(store_url):
    """Save, load, replace, delete by grant name; the row holds the encoded set as given."""
    async with open_store(store_url) as db:
        store = DatabaseTokenStore(db)
        assert await store.load("site-1") is None
        first = _tokens()
        await store.save("site-1", first)
        await store.save("site-2", _tokens("A-2", "R-2"))
        assert await store.load("site-1") == first
        rows = await _read(db, "SELECT grant_name, tokens FROM oauth_tokens ORDER BY grant_name")
        assert [r[0] for r in rows] == ["site-1", "site-2"]
        assert rows[0][1] == encode_tokens(first).decode()
        await store.save("site-1", _tokens("A-3", "R-3"))
        assert (await store.load("site-1")).refresh_token == "R-3"
        assert len(await _read(db, "SELECT grant_name FROM oauth_tokens")) == 2
        await store.delete("site-1")
        await store.delete("site-1")  # idempotent
        assert await store.load("site-1") is None
        assert (await store.load("site-2")).access_token == "A-2"


async def test_another_connection_sees_a_save_at_once(store_url):
    """A save is committed when it returns: a second connection reads it."""
    async with open_store(store_url) as one, open_store(store_url) as two:
        await DatabaseTokenStore(one).save("g", _tokens())
        assert await DatabaseTokenStore(two).load("g") == await DatabaseTokenStore(one).load("g")


async def test_grant_names_and_corrupt_rows_are_clear_errors(store_url):
    """A name that is not a label, a row that is no token set: errors without the tokens."""
    async with open_store(store_url) as db:
        store = DatabaseTokenStore(db)
        with pytest.raises(ConfigurationError, match="grant"):
            await store.save("not a label", _tokens())
        broken = encode_tokens(_tokens()).decode().replace('"version":1', '"version":9')
        await db.save_token_data("g", broken)
        with pytest.raises(ConfigurationError) as info:
            await store.load("g")
        assert ACCESS not in str(info.value)
        assert REFRESH not in str(info.value)


async def test_a_version_1_database_is_migrated(store_url):
    """A database created before the table exists gets it on the next open."""
    async with open_store(store_url) as db:
        await db._call(db._backend.close)
    first = MIGRATIONS[:1]
    if store_url.startswith("sqlite"):
        backend = SQLiteBackend(Path(store_url[len("sqlite:///") :]), busy_timeout=5)
    else:
        from solaredge_async.store._postgres import PostgresBackend

        backend = PostgresBackend(store_url, connect_timeout=10)
    try:
        with backend.transaction() as cur:
            cur.execute("DROP TABLE oauth_tokens")
            backend._exec(cur, "DELETE FROM schema_version WHERE version > ?", (1,))
        assert backend.migrate(first) == 1
        assert backend.schema_version() == 1
    finally:
        backend.close()
    async with open_store(store_url) as db:
        assert await db.schema_version() == MIGRATIONS[-1].version
        await DatabaseTokenStore(db).save("g", _tokens())
        assert await DatabaseTokenStore(db).load("g") == await DatabaseTokenStore(db).load("g")


_SAVE_AND_DIE = """
import os, sys, anyio
from datetime import UTC, datetime
from solaredge_async.oauth import TokenSet
from solaredge_async.store import DatabaseTokenStore, open_store

async def main(url):
    async with open_store(url) as db:
        tokens = TokenSet(access_token=sys.argv[3], refresh_token=sys.argv[4],
                          expires_at=datetime(2030, 1, 1, tzinfo=UTC), expires_in=7200.0)
        await DatabaseTokenStore(db).save("g", tokens)
        os._exit(0)  # no close, no clean shutdown: what is saved must already be durable

anyio.run(main, sys.argv[1], backend=sys.argv[2])
"""


@pytest.mark.parametrize("child", ["asyncio", "trio"])
async def test_a_process_dying_right_after_a_save_loses_nothing(store_url, child):
    """The child saves, then exits at once without closing: the tokens are there."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with anyio.fail_after(60):
        done = await anyio.run_process(
            [sys.executable, "-c", _SAVE_AND_DIE, store_url, child, "A-dying", "R-dying"],
            cwd=ROOT,
            env=env,
            check=False,
        )
    assert done.returncode == 0, done.stderr.decode()
    async with open_store(store_url) as db:
        stored = await DatabaseTokenStore(db).load("g")
    assert stored is not None
    assert (stored.access_token, stored.refresh_token) == ("A-dying", "R-dying")


async def test_sqlite_saves_commit_with_synchronous_full(sqlite_url):
    """SQLite saves run under synchronous=FULL; the store's other writes keep NORMAL."""
    async with open_store(sqlite_url) as db:
        statements: list[str] = []
        db._backend._conn.set_trace_callback(statements.append)
        await DatabaseTokenStore(db).save("g", _tokens())
        db._backend._conn.set_trace_callback(None)
        assert statements[0] == "PRAGMA synchronous=FULL"
        assert statements[1] == "BEGIN IMMEDIATE"
        assert statements[-2:] == ["COMMIT", "PRAGMA synchronous=NORMAL"]
        level = await _read(db, "PRAGMA synchronous")
        assert level == [(1,)]  # NORMAL again


async def test_postgres_saves_ask_for_a_synchronous_commit(postgres_url):
    """PostgreSQL saves set synchronous_commit on for their transaction alone.

    The test server's default is off, so the setting is the save's own.
    """
    async with open_store(postgres_url) as db:
        seen = []
        original = db._backend.durable_transaction

        def watching():
            cm = original()

            class Wrapped:
                def __enter__(self):
                    cur = cm.__enter__()
                    seen.append(cur.execute("SHOW synchronous_commit").fetchone()[0])
                    return cur

                def __exit__(self, *exc):
                    return cm.__exit__(*exc)

            return Wrapped()

        db._backend.durable_transaction = watching
        await DatabaseTokenStore(db).save("g", _tokens())
        assert seen == ["on"]
        assert (await _read(db, "SHOW synchronous_commit"))[0][0] == "off"


async def test_providers_rotate_through_the_database(store_url):
    """A refresh is saved before its token is used; another worker adopts it, no refresh."""
    server = TokenServer()
    async with (
        open_store(store_url) as one,
        open_store(store_url) as two,
        server.oauth() as oauth,
    ):
        await DatabaseTokenStore(one).save("g", _tokens("A-old", server.grant(), expired=True))
        first = RefreshingTokenProvider(oauth, store=DatabaseTokenStore(one), grant="g")
        token = await first.token()
        assert server.refreshes == 1
        stored = await DatabaseTokenStore(two).load("g")
        assert stored.access_token == token
        second = RefreshingTokenProvider(oauth, store=DatabaseTokenStore(two), grant="g")
        assert await second.token() == token
        assert server.refreshes == 1
        assert server.refused == 0


async def test_a_failing_database_keeps_the_rotated_tokens_in_memory(store_url):
    """The database gone after the refresh: TokenStoreError, tokens kept, saved on retry."""
    server = TokenServer()
    async with open_store(store_url) as db, server.oauth() as oauth:
        store = DatabaseTokenStore(db)
        await store.save("g", _tokens("A-old", server.grant(), expired=True))
        saves = []
        real_save = db.save_token_data

        async def failing(grant, data, **kw):
            saves.append(grant)
            if len(saves) == 1:
                raise StoreError("the disk is full")
            await real_save(grant, data, **kw)

        db.save_token_data = failing
        provider = RefreshingTokenProvider(oauth, store=store, grant="g")
        with pytest.raises(TokenStoreError) as info:
            await provider.token()
        assert isinstance(info.value.__cause__, StoreError)
        for text in (str(info.value), repr(info.value), repr(store), repr(provider)):
            assert "R-" not in text
            assert "A-" not in text
        token = await provider.token()  # the save is retried; no second refresh
        assert server.refreshes == 1
        assert server.refused == 0
        assert (await store.load("g")).access_token == token


async def test_a_closed_store_is_a_store_error(sqlite_url):
    """Using the token store after its database was closed: a StoreError, not a hang."""
    async with open_store(sqlite_url) as db:
        store = DatabaseTokenStore(db)
    with pytest.raises(StoreError, match="closed"):
        await store.save("g", _tokens())


def test_the_table_is_in_both_dialects():
    """The migration that adds oauth_tokens speaks SQLite and PostgreSQL."""
    latest = MIGRATIONS[-1]
    assert "oauth_tokens" in latest.sqlite[0]
    assert "oauth_tokens" in latest.postgresql[0]
    conn = sqlite3.connect(":memory:")
    for migration in MIGRATIONS:
        for statement in migration.sqlite:
            conn.execute(statement)
    assert conn.execute("SELECT COUNT(*) FROM oauth_tokens").fetchone() == (0,)
