"""The PostgreSQL test server helper: skip outside CI, fail loudly under CI=true."""

from __future__ import annotations

import pytest

from tests import _postgres


def test_no_server_skips_outside_ci(monkeypatch):
    """Without a server and without CI the tests skip, saying why."""
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(_postgres, "_UNAVAILABLE", ["initdb failed: nope"])
    with pytest.raises(pytest.skip.Exception, match="initdb failed: nope"):
        _postgres.require(None)


def test_no_server_fails_under_ci(monkeypatch):
    """Under CI=true a missing server is a failure, not a skip."""
    monkeypatch.setenv("CI", "true")
    monkeypatch.setattr(_postgres, "_UNAVAILABLE", ["no binaries"])
    with pytest.raises(pytest.fail.Exception, match="must run in CI"):
        _postgres.require(None)


def test_env_url_wins(monkeypatch):
    """$SOLAREDGE_TEST_POSTGRES_URL is used as it is, no server started."""
    monkeypatch.setenv(_postgres.ENV_URL, "postgresql://someone@127.0.0.1:1/x")
    with _postgres.postgres_server() as url:
        assert url == "postgresql://someone@127.0.0.1:1/x"
