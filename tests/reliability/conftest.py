"""Reliability tests run on virtual clocks, and report what they tried at the end of the run.

Modules that talk to a loopback server over real sockets override ``anyio_backend``
with real clocks.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests._clock import virtual_backend
from tests.reliability import _figures


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    """Each test once on asyncio and once on trio, both with an auto-jumping virtual clock."""
    return virtual_backend(str(request.param))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the figures the reliability tests gathered (bad inputs, faults, leaks)."""
    lines = _figures.summary()
    if lines:
        terminalreporter.section("reliability figures")
        for line in lines:
            terminalreporter.write_line(line)
