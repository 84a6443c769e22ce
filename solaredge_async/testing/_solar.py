"""The physics of a simulated site-day: sun, weather, PV, household load and battery.

One site-local day is computed at once (a few tens of microseconds) and cached by the
fleet. Whole days have a closed-form PV total (the integral of the sun's elevation
sine over the daylight hours), and the quarter-hours apportion exactly that total, so
long windows can be summed day by day without computing every quarter-hour.
"""

from __future__ import annotations

import math
import random
from datetime import date
from typing import TYPE_CHECKING, Final

from solaredge_async.testing._model import mix64, unit_hash
from solaredge_async.testing._timeutil import QH

if TYPE_CHECKING:
    from solaredge_async.testing._model import SiteModel
    from solaredge_async.testing._timeutil import DayGrid

__all__ = [
    "CHARGE",
    "DISCHARGE",
    "EXPORT",
    "IMPORT",
    "LOAD",
    "METER_FLOWS",
    "N_FLOWS",
    "PV",
    "SELF",
    "SOC",
    "Day",
    "compute_day",
    "day_pv_total",
]

#: Quantity indices of `Day.q` (energies in Wh per quarter-hour, ``SOC`` in Wh): the
#: summable flows first, ``PV`` .. ``IMPORT``, then the stored energy.
PV, LOAD, SELF, CHARGE, EXPORT, DISCHARGE, IMPORT, SOC = range(8)
#: Number of summable flows (``PV`` .. ``IMPORT``).
N_FLOWS: Final = SOC
#: The flow a meter of each kind measures (``production`` .. ``export``).
METER_FLOWS: Final = {"production": PV, "consumption": LOAD, "import": IMPORT, "export": EXPORT}

_OMEGA: Final = 2.0 * math.pi / 86_400.0
_EPOCH_ORDINAL: Final = 719_163
_RESERVE: Final = 0.1


def _load_profile() -> tuple[float, ...]:
    raw = []
    for k in range(96):
        h = (k + 0.5) / 4.0
        raw.append(
            0.55
            + 0.55 * math.exp(-(((h - 7.5) / 1.3) ** 2))
            + 0.25 * math.exp(-(((h - 13.0) / 2.5) ** 2))
            + 1.0 * math.exp(-(((h - 19.5) / 2.0) ** 2))
        )
    mean = sum(raw) / len(raw)
    return tuple(v / mean for v in raw)


#: Household load by local quarter-hour of the day, mean 1.
_LOAD: Final = _load_profile()


def _geometry(
    m: SiteModel, ordinal: int, start: int, end: int
) -> tuple[float, float, float, float, float] | None:
    """Return ``(A, B, noon, rise, set)`` with sin(elevation) = A + B cos(ω (t - noon)).

    ``rise`` and ``set`` are clipped to the local day; ``None`` when the sun stays down.
    """
    year_start = date(date.fromordinal(ordinal).year, 1, 1).toordinal()
    g = 2.0 * math.pi * (ordinal - year_start) / 365.0
    c1, s1, c2, s2 = math.cos(g), math.sin(g), math.cos(2 * g), math.sin(2 * g)
    decl = (
        0.006918
        - 0.399912 * c1
        + 0.070257 * s1
        - 0.006758 * c2
        + 0.000907 * s2
        - 0.002697 * math.cos(3 * g)
        + 0.00148 * math.sin(3 * g)
    )
    eot = 229.18 * (0.000075 + 0.001868 * c1 - 0.032077 * s1 - 0.014615 * c2 - 0.040849 * s2)
    noon = (ordinal - _EPOCH_ORDINAL) * 86_400 + 43_200 - 240.0 * m.lon - 60.0 * eot
    noon += 86_400 * round(((start + end) / 2 - noon) / 86_400)
    lat = math.radians(m.lat)
    a = math.sin(lat) * math.sin(decl)
    b = math.cos(lat) * math.cos(decl)
    c = -a / b
    if c >= 1.0:
        return None
    half = (math.pi if c <= -1.0 else math.acos(c)) / _OMEGA
    rise = max(float(start), noon - half)
    sset = min(float(end), noon + half)
    if sset <= rise:
        return None
    return a, b, noon, rise, sset


def _integral(a: float, b: float, noon: float, t0: float, t1: float) -> float:
    """Return the integral of sin(elevation) over [t0, t1] (inside daylight), seconds."""
    return a * (t1 - t0) + (b / _OMEGA) * (
        math.sin(_OMEGA * (t1 - noon)) - math.sin(_OMEGA * (t0 - noon))
    )


def _weather(key: int, ordinal: int) -> tuple[float, float]:
    """Return the day's clear-sky factor and its cloud variability."""
    u = unit_hash(key, ordinal, 1)
    if u < 0.5:  # noqa: PLR2004
        return 0.82 + 0.36 * u, 0.04
    if u < 0.8:  # noqa: PLR2004
        return 0.45 + (u - 0.5) / 0.3 * 0.37, 0.55
    return 0.12 + (u - 0.8) / 0.2 * 0.33, 0.3


def day_pv_total(m: SiteModel, ordinal: int, start: int, end: int) -> int | None:
    """Return the PV energy of a whole site-local day, Wh, in O(1).

    ``start`` and ``end`` are the day's local midnights (POSIX seconds). ``None``
    before the installation date or when the sun never rises.
    """
    if ordinal < m.install_ordinal:
        return None
    geo = _geometry(m, ordinal, start, end)
    if geo is None:
        return None
    a, b, noon, rise, sset = geo
    factor, _amp = _weather(m.key, ordinal)
    return round(m.peak_kw * 1000.0 * m.eff * factor * _integral(a, b, noon, rise, sset) / 3600.0)


class Day:
    """One computed site-local day.

    Attributes:
        ordinal: The local date's proleptic ordinal.
        n: Number of quarter-hours.
        q: Per quantity (`PV` .. `SOC`), one value per quarter-hour: Wh as ``int``,
            ``None`` where there is no data (night PV, before installation, no meter).
        pv_power: Average PV power per quarter-hour, W (``None`` at night).
        pv_total: The day's PV total, Wh (== the sum of ``q[PV]``).
        extra: Per-device series derived from the site's, filled on demand.
        ac: Per inverter, its AC voltage, current and frequency, filled on demand.
    """

    __slots__ = ("ac", "extra", "n", "ordinal", "pv_power", "pv_total", "q")

    def __init__(
        self,
        ordinal: int,
        n: int,
        q: list[list[int | None]],
        pv_power: list[float | None],
        pv_total: int | None,
    ) -> None:
        self.ordinal = ordinal
        self.n = n
        self.q = q
        self.pv_power = pv_power
        self.pv_total = pv_total
        self.extra: dict[tuple[str, int, str], list[float | None]] = {}
        self.ac: dict[int, dict[str, list[float | None]]] = {}


def compute_day(m: SiteModel, grid: DayGrid) -> Day:
    """Compute every quarter-hour of a site-local day (PV, load, battery, grid flows)."""
    n = grid.n
    start = grid.start
    empty: list[int | None] = [None] * n
    if grid.ordinal < m.install_ordinal:
        return Day(grid.ordinal, n, [empty] * (SOC + 1), [None] * n, None)
    pv: list[int | None] = [None] * n
    pv_power: list[float | None] = [None] * n
    total = day_pv_total(m, grid.ordinal, start, grid.end)
    geo = _geometry(m, grid.ordinal, start, grid.end)
    rng = random.Random(mix64(m.key ^ (grid.ordinal * 0x2545F491)))  # noqa: S311
    if geo is not None and total is not None:
        a, b, noon, rise, sset = geo
        _factor, amp = _weather(m.key, grid.ordinal)
        k_first = int((rise - start) // QH)
        k_last = min(n, math.ceil((sset - start) / QH))
        # F(t) = A t + (B / ω) sin(ω (t - noon)) is a primitive of sin(elevation).
        b_w = b / _OMEGA
        sin = math.sin
        rand = rng.random

        def prim(t: float) -> float:
            return a * t + b_w * sin(_OMEGA * (t - noon))

        weights: list[float] = []
        append = weights.append
        cloud = 1.0
        f_prev = prim(rise)
        for k in range(k_first, k_last):
            t1 = float(start + (k + 1) * QH)
            t1 = min(t1, sset)
            f_next = prim(t1)
            cloud = 0.55 * cloud + 0.45 * (1.0 + amp * (2.0 * rand() - 1.0))
            w = (f_next - f_prev) * cloud
            append(max(0.0, w))
            f_prev = f_next
        wsum = sum(weights)
        cum = 0.0
        prev = 0
        scale = total / wsum if wsum > 0 else 0.0
        k = k_first
        for w in weights:
            raw = w * scale
            cum += raw
            now_round = round(cum)
            pv[k] = now_round - prev
            prev = now_round
            pv_power[k] = round(raw * 4.0, 4)
            k += 1
        if weights and prev != total:
            # Only when every weight is zero: put the (tiny) total in the first bucket.
            first = pv[k_first]
            pv[k_first] = (first or 0) + total - prev
    q: list[list[int | None]] = [pv] + [empty] * SOC
    if m.has_meter:
        q = _flows(m, grid, pv, rng)
    return Day(grid.ordinal, n, q, pv_power, total)


def _flows(
    m: SiteModel, grid: DayGrid, pv: list[int | None], rng: random.Random
) -> list[list[int | None]]:
    """Return the day's quantities for a metered site: load, battery and grid flows."""
    n = grid.n
    start = grid.start
    load: list[int | None] = [0] * n
    self_c: list[int | None] = [0] * n
    charge: list[int | None] = [0] * n
    export: list[int | None] = [0] * n
    discharge: list[int | None] = [0] * n
    imp: list[int | None] = [0] * n
    soc_l: list[int | None] = [0] * n
    cap = round(m.capacity_wh)
    maxq = int(m.max_power_w / 4.0)
    reserve = round(cap * _RESERVE)
    soc = reserve
    base = m.load_qh * (0.85 + 0.3 * unit_hash(m.key, grid.ordinal, 2))
    offsets = grid.offsets
    profile = _LOAD
    rand = rng.random
    for k in range(n):
        ld = round(
            base * profile[((start + k * QH + offsets[k]) % 86_400) // QH] * (0.8 + 0.4 * rand())
        )
        ld = max(ld, 1)
        p = pv[k] or 0
        ch = dis = 0
        if p > ld:
            sc = ld
            if cap:
                ch = p - ld
                ch = min(ch, maxq)
                ch = min(ch, cap - soc)
                soc += ch
        else:
            sc = p
            if cap:
                dis = ld - p
                dis = min(dis, maxq)
                dis = min(dis, soc - reserve)
                soc -= dis
        load[k] = ld
        self_c[k] = sc
        charge[k] = ch
        export[k] = p - sc - ch
        discharge[k] = dis
        imp[k] = ld - sc - dis
        soc_l[k] = soc
    if cap:
        return [pv, load, self_c, charge, export, discharge, imp, soc_l]
    empty: list[int | None] = [None] * n
    return [pv, load, self_c, empty, export, empty, imp, empty]


def split_ints(values: list[int | None], cum_shares: list[float], i: int) -> list[float | None]:
    """Return device ``i``'s part of integer series ``values``; the parts sum exactly.

    ``cum_shares`` holds the running sums of the devices' shares (last one 1.0).
    """
    lo = cum_shares[i - 1] if i else 0.0
    hi = cum_shares[i]
    out: list[float | None] = []
    for v in values:
        if v is None:
            out.append(None)
        else:
            out.append(float(round(v * hi) - round(v * lo)))
    return out
