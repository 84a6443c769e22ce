"""Fixtures: the sync tests run on SQLite and PostgreSQL, on asyncio and trio."""

from __future__ import annotations

import pytest

from tests import _postgres


@pytest.fixture(scope="session")
def postgres_server_url():
    """A PostgreSQL server for the session, or `None` when none could be had."""
    with _postgres.postgres_server() as url:
        yield url


@pytest.fixture
def postgres_url(postgres_server_url):
    """A URL to a fresh, empty schema (skips, or fails under CI=true, without a server)."""
    return _postgres.fresh_schema_url(_postgres.require(postgres_server_url))


@pytest.fixture
def sqlite_url(tmp_path):
    """A URL to a new SQLite file."""
    return f"sqlite:///{tmp_path / 'sync.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request):
    """A fresh store URL of each dialect."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return request.getfixturevalue(name)
