"""Shared fixtures: every async test runs on asyncio and on trio.

``anyio_backend`` gives real clocks (for loopback tests). Tests of timing logic
request ``virtual_backend`` instead (see `tests/_clock.py`): trio's MockClock and
an asyncio loop with the same auto-jumping virtual clock, so an hour of sleeps
takes milliseconds.
"""

from __future__ import annotations

import pytest

from tests import _postgres


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Run each async test once on asyncio and once on trio."""
    return str(request.param)


@pytest.fixture(autouse=True)
def _private_state_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Each test's CLI runs keep their credit ledger in a fresh directory, never in ~."""
    monkeypatch.setenv("SOLAREDGE_STATE_DIR", str(tmp_path_factory.mktemp("state")))


# -- stores: every store and sync test runs on SQLite and on PostgreSQL ---------------


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
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request):
    """A fresh store URL of each dialect."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return request.getfixturevalue(name)
