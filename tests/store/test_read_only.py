"""``open_store(read_only=True)``: nothing created, migrated or written."""

from __future__ import annotations

import pytest

from solaredge_async.store import ItemKey, SchemaVersionError, StoreError, open_store

pytestmark = pytest.mark.anyio

ITEM = ItemKey(site_id=1, target="energy", resolution="QUARTER_HOUR")


async def test_a_missing_sqlite_file_reads_as_empty_and_is_not_created(tmp_path):
    """No file and no directory appear; the store answers as an empty one."""
    url = f"sqlite:///{tmp_path / 'sub' / 'none.db'}"
    async with open_store(url, read_only=True) as store:
        assert await store.sites() == ()
        assert await store.watermarks() == ()
    assert list(tmp_path.iterdir()) == []


async def test_a_read_only_store_refuses_writes(store_url):
    """Reads work; a write fails and leaves the database as it was."""
    async with open_store(store_url) as store:
        await store.ensure_items([ITEM])
    async with open_store(store_url, read_only=True) as store:
        assert [s.item for s in await store.watermarks()] == [ITEM]
        with pytest.raises(StoreError):
            await store.start_run()
    async with open_store(store_url) as store:
        assert await store.runs() == ()


async def test_a_read_only_open_of_an_old_schema_says_to_migrate(tmp_path):
    """Nothing is migrated read-only: a database behind this code's schema is refused."""
    import sqlite3

    path = tmp_path / "old.db"
    con = sqlite3.connect(path)
    con.execute(
        "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, description TEXT, "
        "applied_at TEXT)"
    )
    con.commit()
    con.close()
    with pytest.raises(SchemaVersionError, match="writable"):
        async with open_store(f"sqlite:///{path}", read_only=True):
            pass
