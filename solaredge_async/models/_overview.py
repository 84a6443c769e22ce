"""Totals and figures: `SiteOverview` and the Advanced / less documented endpoints.

`EnvironmentalBenefits`, `PowerFlow` and `OverviewPerformance` come from endpoints
whose shapes are unverified. Each keeps the whole body in ``raw`` and fills the
known fields where the body has them in the expected place and type.
"""

from collections.abc import Mapping

import attrs

from solaredge_async.models._enums import Unit
from solaredge_async.models._json import EMPTY_OBJECT, JSONValue

__all__ = [
    "Consumption",
    "EnvironmentalBenefits",
    "OverviewPerformance",
    "Performance",
    "PowerFlow",
    "Production",
    "SiteOverview",
]


@attrs.frozen(kw_only=True)
class Production:
    """Energy produced in the window, and where it went.

    The breakdown fields are `None` when the site has no meter or battery.

    Attributes:
        total: Energy produced, in ``unit``.
        unit: The unit of every figure here (may differ from ``Consumption.unit``).
        to_self_consumption: Of it, used on site.
        to_storage: Of it, stored in the battery.
        to_grid: Of it, exported.
        extra: Keys of the ``production`` object this version does not know, kept as received
            (frozen) by the lenient converter; always empty from the strict one,
            which rejects them.
    """

    total: float | None = None
    unit: Unit | str | None = None
    to_self_consumption: float | None = None
    to_storage: float | None = None
    to_grid: float | None = None
    extra: Mapping[str, JSONValue] = attrs.field(default=EMPTY_OBJECT)


@attrs.frozen(kw_only=True)
class Consumption:
    """Energy consumed in the window, and where it came from.

    Everything but ``unit`` is `None` when the site has no consumption meter.

    Attributes:
        total: Energy consumed, in ``unit``.
        unit: The unit of every figure here.
        from_pv: Of it, from the panels.
        from_storage: Of it, from the battery.
        from_grid: Of it, imported.
        extra: Keys of the ``consumption`` object this version does not know, kept as received
            (frozen) by the lenient converter; always empty from the strict one,
            which rejects them.
    """

    total: float | None = None
    unit: Unit | str | None = None
    from_pv: float | None = None
    from_storage: float | None = None
    from_grid: float | None = None
    extra: Mapping[str, JSONValue] = attrs.field(default=EMPTY_OBJECT)


@attrs.frozen(kw_only=True)
class Performance:
    """Yield figures of an overview (shown by the 2023 docs, not seen live).

    Attributes:
        specific_yield: Energy per installed peak power (kWh/kWp).
        performance_ratio: Actual over expected yield, as the API states it.
        extra: Keys of the ``performance`` object this version does not know, kept as received
            (frozen) by the lenient converter; always empty from the strict one,
            which rejects them.
    """

    specific_yield: float | None = None
    performance_ratio: float | None = None
    extra: Mapping[str, JSONValue] = attrs.field(default=EMPTY_OBJECT)


@attrs.frozen(kw_only=True)
class SiteOverview:
    """Production and consumption totals for a window (``/overview``).

    With no window these are today's running totals (the site's day), not lifetime.

    Attributes:
        site_id: The site.
        production: Energy produced; `None` if absent.
        consumption: Energy consumed; `None` if absent.
        performance: Yield figures, when the server sends them.
        extra: Keys of the overview body this version does not know, kept as received
            (frozen) by the lenient converter; always empty from the strict one,
            which rejects them.
    """

    site_id: int | None = None
    production: Production | None = None
    consumption: Consumption | None = None
    performance: Performance | None = None
    extra: Mapping[str, JSONValue] = attrs.field(default=EMPTY_OBJECT)


@attrs.frozen(kw_only=True)
class OverviewPerformance:
    """Yield figures (``/overview/performance``; shape unverified).

    Attributes:
        specific_yield: Energy per installed peak power (kWh/kWp).
        performance_ratio: Actual over expected yield, as the API states it.
        raw: The whole body as received (frozen).
    """

    specific_yield: float | None = None
    performance_ratio: float | None = None
    raw: Mapping[str, JSONValue] = attrs.field(default=EMPTY_OBJECT)


@attrs.frozen(kw_only=True)
class EnvironmentalBenefits:
    """CO2 saved and similar figures (``/environmental-benefits``; shape unverified).

    Figures are in the unit system requested (``METRIC`` or ``IMPERIAL``).

    Attributes:
        co2_emissions: CO2 emissions saved (kg, or lb for imperial), from
            ``co2Emissions``.
        ev_miles: Equivalent electric-vehicle distance, from ``evMiles``.
        trees_planted: Equivalent trees planted, from ``treesPlanted``.
        light_bulbs: Equivalent light bulbs powered, from ``lightBulbs``.
        raw: The whole body as received (frozen).
    """

    co2_emissions: float | None = None
    ev_miles: float | None = None
    trees_planted: float | None = None
    light_bulbs: float | None = None
    raw: Mapping[str, JSONValue] = attrs.field(default=EMPTY_OBJECT)


@attrs.frozen(kw_only=True)
class PowerFlow:
    """The live power flow (``/power-flow``, Advanced Monitoring only; shape unverified).

    Read from ``siteCurrentPowerFlow.{GRID,LOAD,PV,STORAGE}`` (or the same keys at the
    top level) when the body has that shape.

    Attributes:
        unit: The unit of the powers, as the body states it (e.g. ``"kW"``, kept raw).
        grid_power: Power to or from the grid (``GRID.currentPower``), in ``unit``.
        load_power: Power consumed (``LOAD.currentPower``), in ``unit``.
        pv_power: Power produced (``PV.currentPower``), in ``unit``.
        storage_power: Battery power (``STORAGE.currentPower``), in ``unit``.
        storage_charge_level: Battery charge (``STORAGE.chargeLevel``), in percent.
        raw: The whole body as received (frozen).
    """

    unit: Unit | str | None = None
    grid_power: float | None = None
    load_power: float | None = None
    pv_power: float | None = None
    storage_power: float | None = None
    storage_charge_level: float | None = None
    raw: Mapping[str, JSONValue] = attrs.field(default=EMPTY_OBJECT)
