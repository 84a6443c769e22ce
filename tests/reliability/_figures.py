"""Counters the reliability tests fill in, printed in pytest's terminal summary."""

from __future__ import annotations

from collections import Counter

#: Bad answers fed to the client, by kind.
server_inputs: Counter[str] = Counter()
#: Invalid caller values tried, by target (method, constructor, CLI flag).
caller_inputs: Counter[str] = Counter()
#: Chaos sweep figures, by name (sites, items, faults of each kind, ...).
chaos: Counter[str] = Counter()
#: Secret scenarios checked, and canary leaks found (must stay 0).
secrets: Counter[str] = Counter()


def summary() -> list[str]:
    """The lines to print, empty when no reliability test ran."""
    lines: list[str] = []
    if server_inputs:
        lines.append(
            f"bad server answers tried: {sum(server_inputs.values())} "
            f"({', '.join(f'{k}: {v}' for k, v in sorted(server_inputs.items()))})"
        )
    if caller_inputs:
        lines.append(
            f"bad caller inputs tried: {sum(caller_inputs.values())} "
            f"({', '.join(f'{k}: {v}' for k, v in sorted(caller_inputs.items()))})"
        )
    if secrets:
        lines.append(f"secrets: {', '.join(f'{k}: {v}' for k, v in sorted(secrets.items()))}")
    if chaos:
        lines.append(f"chaos: {', '.join(f'{k}: {v}' for k, v in sorted(chaos.items()))}")
    return lines
