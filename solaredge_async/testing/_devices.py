"""Per-device series (inverters, meters, batteries) derived from a computed site-day.

Device energies split the site's integer quarter-hour energies so that they add up
exactly (inverters to the site's production, batteries to the site's storage flows).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from itertools import accumulate
from typing import TYPE_CHECKING, Final, Literal

from solaredge_async.testing._model import mix64, unit_hash
from solaredge_async.testing._solar import CHARGE, DISCHARGE, METER_FLOWS, PV, SOC, Day, split_ints

if TYPE_CHECKING:
    from solaredge_async.testing._model import SiteModel

__all__ = [
    "END_STAMPED",
    "ENERGY_METRIC",
    "FAMILY_METRICS",
    "POWER_METRIC",
    "MetricSpec",
    "device_getter",
    "kebab_to_camel",
]

Getter = Callable[[Day], Sequence[float | None]]
Kind = Literal["sum", "power", "avg"]


class MetricSpec:
    """How one device metric is aggregated and what unit family it has."""

    __slots__ = ("base_unit", "kind", "subdaily")

    def __init__(self, kind: Kind, base_unit: str, *, subdaily: bool) -> None:
        self.kind: Kind = kind
        self.base_unit = base_unit
        self.subdaily = subdaily


#: An energy: summed per bucket, in Wh, any resolution (a site's ``/energy`` too).
ENERGY_METRIC: Final = MetricSpec("sum", "WH", subdaily=False)
#: A power: averaged per bucket, in W, sub-daily resolutions (a site's ``/power`` too).
POWER_METRIC: Final = MetricSpec("power", "W", subdaily=True)

#: The metrics of each device family (camelCase, as bulk telemetry names them).
FAMILY_METRICS: Final[dict[str, dict[str, MetricSpec]]] = {
    "inverters": {
        "power": POWER_METRIC,
        "energy": ENERGY_METRIC,
        "voltage": MetricSpec("avg", "VOLT", subdaily=True),
        "current": MetricSpec("avg", "AMPERE", subdaily=True),
        "frequency": MetricSpec("avg", "HERTZ", subdaily=True),
    },
    "meters": {
        f"{flow}{what}": (POWER_METRIC if what == "Power" else ENERGY_METRIC)
        for flow in METER_FLOWS
        for what in ("Power", "Energy")
    },
    "storage": {
        "chargePower": POWER_METRIC,
        "chargeEnergy": ENERGY_METRIC,
        "dischargePower": POWER_METRIC,
        "dischargeEnergy": ENERGY_METRIC,
        "stateOfEnergy": MetricSpec("avg", "PERCENTAGE", subdaily=True),
        "remainingEnergy": MetricSpec("avg", "WH", subdaily=True),
    },
}

#: Metrics whose stamps mark the end of their bucket.
END_STAMPED: Final = frozenset({"voltage", "frequency"})


def kebab_to_camel(name: str) -> str:
    """Return ``state-of-energy`` as ``stateOfEnergy``."""
    head, *rest = name.split("-")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def _cum(shares: Sequence[float]) -> list[float]:
    out = list(accumulate(shares))
    out[-1] = 1.0
    return out


def _times4(values: Sequence[float | None]) -> list[float | None]:
    return [None if v is None else float(v * 4) for v in values]


def _floats(values: Sequence[int | None]) -> list[float | None]:
    return [None if v is None else float(v) for v in values]


def device_getter(  # noqa: C901, PLR0911
    m: SiteModel,
    family: str,
    index: int,
    metric: str,
    *,
    soe_scale: str = "fraction",
    negative_rate: float = 0.0,
) -> Getter:
    """Return the per-quarter-hour getter of one device metric.

    Args:
        m: The site.
        family: ``inverters``, ``meters`` or ``storage``.
        index: The device's position within its family on the site.
        metric: camelCase metric name (see `FAMILY_METRICS`).
        soe_scale: ``"fraction"`` (0-1) or ``"percent"`` (0-100) for state of energy.
        negative_rate: Share of storage energy samples to make negative.
    """
    key = (family, index, metric)

    def cached(fn: Callable[[Day], list[float | None]]) -> Getter:
        def get(d: Day) -> Sequence[float | None]:
            got = d.extra.get(key)
            if got is None:
                got = d.extra[key] = fn(d)
            return got

        return get

    if family == "inverters":
        inv = m.inverters[index]
        if metric == "energy":
            cum = _cum([i.share for i in m.inverters])
            return cached(lambda d: split_ints(d.q[PV], cum, index))
        if metric == "power":
            share = inv.share
            return cached(
                lambda d: [None if p is None else round(p * share, 4) for p in d.pv_power]
            )
        if metric in {"voltage", "current", "frequency"}:
            return cached(lambda d: _ac(m, index, d)[metric])
        raise KeyError(metric)
    if family == "meters":
        meter = m.meters[index]
        if metric not in meter.metrics:
            raise KeyError(metric)
        flow = METER_FLOWS[metric.removesuffix("Power").removesuffix("Energy")]

        def energy(d: Day) -> list[float | None]:
            vals = d.q[flow]
            if flow == PV and d.ordinal >= m.install_ordinal:
                return [0.0 if v is None else float(v) for v in vals]
            return _floats(vals)

        if metric.endswith("Energy"):
            return cached(energy)
        return cached(lambda d: _times4(energy(d)))
    if family == "storage":
        bat = m.batteries[index]
        cum = _cum([b.share for b in m.batteries])
        cap = m.capacity_wh
        if metric in {"chargeEnergy", "dischargeEnergy", "chargePower", "dischargePower"}:
            flow = CHARGE if metric.startswith("charge") else DISCHARGE
            if metric.endswith("Power"):
                return cached(lambda d: _times4(split_ints(d.q[flow], cum, index)))

            def stored(d: Day) -> list[float | None]:
                vals = split_ints(d.q[flow], cum, index)
                if negative_rate > 0:
                    salt = 0x5707 + 2 * index + (flow == DISCHARGE)
                    for k, v in enumerate(vals):
                        if v is not None and unit_hash(m.key, d.ordinal, k, salt) < negative_rate:
                            vals[k] = -float(1 + k % 7)
                return vals

            return cached(stored)
        if metric == "stateOfEnergy":
            scale = 100.0 if soe_scale == "percent" else 1.0
            digits = 2 if soe_scale == "percent" else 4
            return cached(
                lambda d: [None if s is None else round(s / cap * scale, digits) for s in d.q[SOC]]
            )
        if metric == "remainingEnergy":
            share = bat.share
            return cached(
                lambda d: [None if s is None else float(round(s * share)) for s in d.q[SOC]]
            )
        raise KeyError(metric)
    raise KeyError(family)


def _ac(m: SiteModel, index: int, d: Day) -> dict[str, list[float | None]]:
    """Return an inverter's AC voltage, current and frequency for a day (cached)."""
    got = d.ac.get(index)
    if got is not None:
        return got
    inv = m.inverters[index]
    rng = random.Random(mix64(m.key ^ (d.ordinal * 0x9E37 + index + 1)))  # noqa: S311
    n = d.n
    volts: list[float | None] = []
    amps: list[float | None] = []
    hertz: list[float | None] = []
    for k, p in enumerate(d.pv_power):
        if p is None:
            volts.append(None)
            amps.append(None)
            hertz.append(None)
            continue
        v = m.v_nom * (1.0 + 0.015 * math.sin(math.pi * k / n) + 0.006 * (rng.random() - 0.5))
        volts.append(round(v, 4))
        amps.append(round(p * inv.share / v, 4))
        hertz.append(round(m.f_nom + 0.04 * (rng.random() - 0.5), 3))
    out = {"voltage": volts, "current": amps, "frequency": hertz}
    d.ac[index] = out
    return out
