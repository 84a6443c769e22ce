"""The aiohttp transport runs on asyncio only; skip the folder without aiohttp."""

from __future__ import annotations

import pytest

pytest.importorskip("aiohttp")


@pytest.fixture
def anyio_backend() -> str:
    """Every test here runs on asyncio (aiohttp does not run on trio)."""
    return "asyncio"
