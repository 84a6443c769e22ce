"""Hostile-server tests: both backends, on virtual clocks (slow servers cost no real time)."""

from __future__ import annotations

from typing import Any

import pytest

from tests._clock import virtual_backend


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    """Each test once on asyncio and once on trio, both with a virtual clock."""
    return virtual_backend(str(request.param))
