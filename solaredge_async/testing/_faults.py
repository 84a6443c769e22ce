"""Seeded faults: which one (if any) hits a call, and how a body is damaged.

`FaultDraw` draws, once per admitted data call, a latency and a fault kind from the
stacked rates of `Faults` (one seeded generator, so a run is reproducible). The body
faults (`drift`, `malform`) change a successful answer only.
"""

from __future__ import annotations

import random
import threading
from typing import TYPE_CHECKING, Final, NamedTuple

from solaredge_async.testing._config import FAULT_KINDS

if TYPE_CHECKING:
    from solaredge_async.testing._config import Faults

__all__ = ["BODY_FAULTS", "FaultDraw", "FaultPick", "drift", "malform"]

#: Faults that damage a 200's body (an error answer is left alone).
BODY_FAULTS: Final = frozenset({"schema_drift", "malformed_json", "truncated_json"})

_DRIFT_ENUMS: Final = {
    "activationStatus": "DECOMMISSIONED",
    "communicationType": "LORA_MESH",
    "category": "CYBER_SECURITY",
    "meterType": "VIRTUAL_SUBMETER",
}
_DRIFT_DEPTH: Final = 3


class FaultPick(NamedTuple):
    """One call's draw: its latency, fault kind and a uniform number for the variant.

    Attributes:
        delay: Seconds to wait before answering.
        kind: The fault kind, or ``None``.
        variant: A number in [0, 1) choosing the fault's variant (status, damage).
    """

    delay: float
    kind: str | None
    variant: float


_NO_FAULT: Final = FaultPick(0.0, None, 0.0)


class FaultDraw:
    """Draws latency and faults from one seeded generator (thread-safe).

    Args:
        faults: The fault rates and latency.
        seed: The generator's seed.
    """

    def __init__(self, faults: Faults, seed: int) -> None:
        self._latency = faults.latency
        self.active = self._latency is not None or any(faults.rates().values())
        self._rng = random.Random(seed)  # noqa: S311 - reproducible, not secret
        self._lock = threading.Lock()
        self._table: list[tuple[float, str]] = []
        cumulative = 0.0
        for kind in FAULT_KINDS:
            rate = float(getattr(faults, kind))
            if rate > 0:
                cumulative += rate
                self._table.append((cumulative, kind))

    def pick(self) -> FaultPick:
        """Draw one call's latency and fault (no draw at all when nothing is configured)."""
        if not self.active:
            return _NO_FAULT
        delay = 0.0
        kind: str | None = None
        with self._lock:
            rng = self._rng
            if self._latency is not None:
                mean, jitter = self._latency
                delay = max(0.0, mean + jitter * (2.0 * rng.random() - 1.0))
            if self._table:
                draw = rng.random()
                for edge, name in self._table:
                    if draw < edge:
                        kind = name
                        break
            variant = rng.random()
        return FaultPick(delay, kind, variant)


def drift(obj: object, pick: float) -> object:
    """Add unknown fields everywhere and swap some enum values for unknown ones."""
    extra = f"x{int(pick * 1e6):06d}"

    def walk(node: object, depth: int) -> object:
        if isinstance(node, dict):
            out = {key: walk(value, depth + 1) for key, value in node.items()}
            for key, new in _DRIFT_ENUMS.items():
                if key in out:
                    out[key] = new
            if "alertId" in out:
                out["type"] = "GRID_FORMING_FAULT"
            if depth < _DRIFT_DEPTH:
                out[f"unknownField{extra}"] = {"note": "added by a newer API version"}
            return out
        if isinstance(node, list):
            return [walk(value, depth + 1) for value in node]
        return node

    return walk(obj, 0)


def malform(payload: bytes, pick: float) -> bytes:
    """Damage a JSON payload in one of four ways (chosen by ``pick``)."""
    variant = int(pick * 4)
    if variant == 0:
        return b")]}',\n" + payload
    if variant == 1:
        return payload.replace(b":null", b":NaN", 1) if b":null" in payload else payload + b"}"
    if variant == 2:  # noqa: PLR2004
        return payload[:-1] + b",}" if payload.endswith(b"}") else payload + b","
    return payload.replace(b'"', b"'")
