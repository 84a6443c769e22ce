"""OAuth tests run on asyncio and trio with auto-jumping virtual clocks.

Deadlines and slow token endpoints are exercised in virtual time: assertions are on
errors and on bytes read, never on how long anything took. The loopback module
overrides ``anyio_backend`` where it needs real sockets (still virtual clocks).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests._clock import virtual_backend


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    """Each test once on asyncio and once on trio, both with a virtual clock."""
    return virtual_backend(str(request.param))
