"""Shared command-line arguments of the CLI tests."""

from __future__ import annotations

#: The simulated "now" of the CLI tests: a Tuesday afternoon in May.
SIM_NOW = "2026-05-12T14:37:00+00:00"


def fast_simulation(sites: int, now: str = SIM_NOW) -> list[str]:
    """Flags for a small, fast simulated fleet: no limits, no latency, no progress bar."""
    return [
        "--simulate",
        "--sim-sites",
        str(sites),
        "--sim-requests-per-minute",
        "0",
        "--sim-latency-ms",
        "0",
        "--sim-now",
        now,
        "--requests-per-minute",
        "0",
        "--no-progress",
    ]
