"""Shared fixtures: every async test runs on asyncio and on trio.

``anyio_backend`` gives real clocks (for loopback tests). Tests of timing logic
request ``virtual_backend`` instead (see `tests/_clock.py`): trio's MockClock and
an asyncio loop with the same auto-jumping virtual clock, so an hour of sleeps
takes milliseconds.
"""

from __future__ import annotations

import pytest


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Run each async test once on asyncio and once on trio."""
    return str(request.param)


@pytest.fixture(autouse=True)
def _private_state_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Each test's CLI runs keep their credit ledger in a fresh directory, never in ~."""
    monkeypatch.setenv("SOLAREDGE_STATE_DIR", str(tmp_path_factory.mktemp("state")))
