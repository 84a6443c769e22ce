"""The API as data: one typed record per V2 operation the client supports.

Every fact about an operation that more than one room needs lives here, once: its
path template, level and device family, the quantity it measures, the resolutions
and units it accepts, whether it takes a window (and whether that window is split
at the resolution's cap), how it pages, whether it accepts API keys only, the
record it parses into, and whether its stamps mark the bucket start or end.

Readers: the client's method bodies (paths, checks, paging), the fleet's targets
and dispatch, the flat rows' ``source`` and ``metric`` names, the CLI's ``--what``
choices and the endpoint table in the README (``tests/unit/test_endpoint_table.py``
regenerates it). The simulator keeps its own routes on purpose: it is the
independent oracle, and `all_path_templates` lets a test compare the two.

Names: an operation's `Endpoint.name` is what a sweep's `WorkItem.kind` holds, and
the only thing the word "kind" means in this package.

This module sits on floor 1: it imports the records and errors (floor 0) only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Literal, TypeAlias, get_args

import attrs

from solaredge_async import models
from solaredge_async.models import DeviceType, Unit

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

__all__ = [
    "BULK_TARGETS",
    "DEVICE_METRICS",
    "ENDPOINTS",
    "FAMILIES",
    "SITE_TARGETS",
    "TARGETS",
    "DeviceFamily",
    "DeviceMetric",
    "Endpoint",
    "Family",
    "Level",
    "Quantity",
    "ResolutionName",
    "Target",
    "WindowRule",
    "all_path_templates",
    "endpoint",
    "markdown_table",
]

#: A resolution by name (the values of `solaredge_async.Resolution`).
ResolutionName: TypeAlias = Literal["QUARTER_HOUR", "HOUR", "DAY", "WEEK", "MONTH", "YEAR", "TOTAL"]
#: A device family: the path segment of its telemetry and metric endpoints.
DeviceFamily: TypeAlias = Literal["inverters", "meters", "storage"]
#: Where an operation sits in the path tree.
Level: TypeAlias = Literal["fleet", "site", "device"]
#: What a series measures (decides which ``unit=`` values an operation accepts).
Quantity: TypeAlias = Literal[
    "energy", "power", "voltage", "current", "frequency", "state_of_energy"
]
#: How an operation takes a window: ``"capped"`` (``from``/``to``, split at the cap
#: of the resolution sent), ``"uncapped"`` (``from``/``to``, one request), or `None`.
WindowRule: TypeAlias = Literal["capped", "uncapped"]

#: One metric of one device: ``/sites/{site_id}/{family}/{serial}/{metric-path}``.
DeviceMetric: TypeAlias = Literal[
    "inverter_current",
    "inverter_energy",
    "inverter_frequency",
    "inverter_power",
    "inverter_voltage",
    "meter_consumption_energy",
    "meter_consumption_power",
    "meter_export_energy",
    "meter_export_power",
    "meter_import_energy",
    "meter_import_power",
    "meter_production_energy",
    "meter_production_power",
    "storage_charge_energy",
    "storage_charge_power",
    "storage_discharge_energy",
    "storage_discharge_power",
    "storage_remaining_energy",
    "storage_state_of_energy",
]
#: What a sweep can fetch (`solaredge_async.fleet.SweepSpec.what`).
Target: TypeAlias = (
    Literal[
        "overview",
        "energy",
        "power",
        "devices",
        "alerts",
        "inverter_telemetry",
        "meter_telemetry",
        "storage_telemetry",
    ]
    | DeviceMetric
)

_ALL: Final = frozenset(get_args(ResolutionName))
_NO_TOTAL: Final = _ALL - {"TOTAL"}
_SUB_DAILY: Final = frozenset({"QUARTER_HOUR", "HOUR"})
_ENERGY_UNITS: Final = frozenset({Unit.WH, Unit.KWH, Unit.MWH, Unit.GWH})
_POWER_UNITS: Final = frozenset({Unit.W, Unit.KW, Unit.MW})
_SHARE_UNITS: Final = frozenset({Unit.PERCENTAGE, Unit.PERCENTAGE_100})
_UNITS: Final[Mapping[Quantity | None, frozenset[str]]] = {
    "energy": _ENERGY_UNITS,
    "power": _POWER_UNITS,
    "state_of_energy": _SHARE_UNITS,
}
#: The unit the API answers in for quantities that take no ``unit=``.
_FIXED_UNIT: Final[Mapping[str, str]] = {
    "voltage": Unit.VOLT,
    "current": Unit.AMPERE,
    "frequency": Unit.HERTZ,
}


@attrs.frozen(kw_only=True)
class Family:
    """A device family: how its devices are listed and fetched.

    Attributes:
        name: The path segment (``inverters``, ``meters``, ``storage``).
        device_type: The `DeviceType` its devices have in ``/devices``.
        prefix: The prefix of its device-metric names (``inverter_``).
        telemetry: The name of its bulk telemetry operation.
    """

    name: DeviceFamily
    device_type: DeviceType
    prefix: str
    telemetry: str


#: The device families, by path segment.
FAMILIES: Final[Mapping[str, Family]] = {
    f.name: f
    for f in (
        Family(
            name="inverters",
            device_type=DeviceType.INVERTER,
            prefix="inverter_",
            telemetry="inverter_telemetry",
        ),
        Family(
            name="meters",
            device_type=DeviceType.METER,
            prefix="meter_",
            telemetry="meter_telemetry",
        ),
        Family(
            name="storage",
            device_type=DeviceType.BATTERY,
            prefix="storage_",
            telemetry="storage_telemetry",
        ),
    )
}


@attrs.frozen(kw_only=True)
class Endpoint:
    """One ``GET`` operation of the Monitoring API V2, as data.

    Attributes:
        name: The operation's name; for sweep targets the target, and always the
            `WorkItem.kind` of a call to it.
        path: The path template below the base URL, with ``{site_id}`` and
            ``{serial}`` placeholders (``/sites/{site_id}/energy``).
        level: ``fleet``, ``site`` or ``device``.
        family: The device family (telemetry and device metrics), else `None`.
        quantity: What a single series measures, or `None`.
        metric: The metric's name inside bulk telemetry (``importPower``) for device
            metrics, else `None`.
        resolutions: The resolutions accepted (empty: no ``resolution`` parameter).
        units: The values ``unit=`` accepts (empty: no ``unit`` parameter).
        window: How the operation takes a window (see `WindowRule`), or `None`.
        page_size_param: The page-size query parameter of a paged list, or `None`.
        page_max: The largest page the API serves, or `None`.
        key_only: The API refuses OAuth bearer tokens here (API keys only).
        record: The record each response parses into (a list's item record for
            lists).
        many: The response is a list of `record` (``devices``, ``alerts``).
        stamps: ``"start"`` when stamps mark the bucket start, ``"end"`` when they
            mark its end (voltage, frequency), `None` without a series.
        target: Whether a sweep can fetch it (`SweepSpec.what`).
    """

    name: str
    path: str
    level: Level
    family: DeviceFamily | None = None
    quantity: Quantity | None = None
    metric: str | None = None
    resolutions: frozenset[str] = frozenset()
    units: frozenset[str] = frozenset()
    window: WindowRule | None = None
    page_size_param: str | None = None
    page_max: int | None = None
    key_only: bool = False
    record: type[object]
    many: bool = False
    stamps: Literal["start", "end"] | None = None
    target: bool = False

    @property
    def source(self) -> str:
        """The label of the rows this operation gives (``energy``, ``inverters/voltage``)."""
        label = self.path.removeprefix("/sites/{site_id}").replace("/{serial}", "")
        return label.strip("/") or "site"

    @property
    def row_metric(self) -> str:
        """The ``metric`` of a single series' rows: ``energy``, ``voltage``, ``import_power``."""
        if self.family is None:
            return self.name
        return self.name.removeprefix(FAMILIES[self.family].prefix)

    @property
    def fixed_unit(self) -> str | None:
        """The unit the API answers in when ``unit=`` is not accepted (``VOLT``...)."""
        return None if self.quantity is None else _FIXED_UNIT.get(self.quantity)

    def render(self, site_id: int | None = None, serial: str | None = None) -> str:
        """The path with its placeholders filled (``serial`` must be URL-encoded already)."""
        return self.path.format(site_id=site_id, serial=serial)


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(part.title() for part in rest)


# (name, family, path segment, quantity): every single-metric path of reference §9.3.
_DEVICE_METRIC_ROWS: Final[tuple[tuple[str, DeviceFamily, str, Quantity], ...]] = (
    ("inverter_voltage", "inverters", "voltage", "voltage"),
    ("inverter_current", "inverters", "current", "current"),
    ("inverter_frequency", "inverters", "frequency", "frequency"),
    ("inverter_power", "inverters", "power", "power"),
    ("inverter_energy", "inverters", "energy", "energy"),
    *(
        (f"meter_{d}_{q}", "meters", f"{d}-{q}", q)
        for d in ("import", "export", "production", "consumption")
        for q in ("power", "energy")
    ),
    ("storage_state_of_energy", "storage", "state-of-energy", "state_of_energy"),
    ("storage_charge_power", "storage", "charge-power", "power"),
    ("storage_discharge_power", "storage", "discharge-power", "power"),
    ("storage_charge_energy", "storage", "charge-energy", "energy"),
    ("storage_discharge_energy", "storage", "discharge-energy", "energy"),
    ("storage_remaining_energy", "storage", "remaining-energy", "energy"),
)


_SITE: Final = "/sites/{site_id}"
#: Quantities whose series stamp the end of each bucket (the others stamp its start).
_END_STAMPED: Final = frozenset({"voltage", "frequency"})


def _series(
    name: str,
    *segments: str,
    level: Level = "site",
    family: DeviceFamily | None = None,
    quantity: Quantity | None = None,
    resolutions: frozenset[str] = _NO_TOTAL,
    record: type[object] = models.Measurements,
) -> Endpoint:
    """A series over a window split at the resolution's cap: a sweep target.

    Its path is ``/sites/{site_id}/`` and the ``segments``; a device metric's
    ``metric`` (its name inside bulk telemetry), units and stamps follow from its
    name and quantity. Bulk telemetry has no quantity: per metric, its voltage and
    frequency series mark the end (see `DEVICE_METRICS`).
    """
    device_family = FAMILIES[family] if family is not None and level == "device" else None
    return Endpoint(
        name=name,
        path="/".join((_SITE, *segments)),
        level=level,
        family=family,
        quantity=quantity,
        metric=None if device_family is None else _camel(name.removeprefix(device_family.prefix)),
        resolutions=resolutions,
        units=_UNITS.get(quantity, frozenset()),
        window="capped",
        record=record,
        stamps="end" if quantity in _END_STAMPED else "start",
        target=True,
    )


def _alerts(level: Literal["fleet", "site"]) -> Endpoint:
    """``/alerts`` of the whole fleet (API keys only) or of one site (a sweep target)."""
    fleet = level == "fleet"
    return Endpoint(
        name="fleet_alerts" if fleet else "alerts",
        path="/alerts" if fleet else f"{_SITE}/alerts",
        level=level,
        page_size_param="alerts-in-page",
        page_max=100,
        key_only=fleet,
        record=models.Alert,
        many=True,
        target=not fleet,
    )


def _site_call(
    segment: str,
    record: type[object],
    *,
    window: WindowRule | None = None,
    many: bool = False,
    target: bool = False,
) -> Endpoint:
    """A call below ``/sites/{site_id}/``, named after its path (``power-flow``: ``power_flow``)."""
    return Endpoint(
        name=segment.replace("-", "_").replace("/", "_"),
        path=f"{_SITE}/{segment}",
        level="site",
        window=window,
        record=record,
        many=many,
        target=target,
    )


_TABLE: Final[tuple[Endpoint, ...]] = (
    Endpoint(
        name="sites",
        path="/sites",
        level="fleet",
        page_size_param="sites-in-page",
        page_max=1000,
        key_only=True,
        record=models.SitesPage,
    ),
    _alerts("fleet"),
    Endpoint(name="site", path=_SITE, level="site", record=models.Site),
    _site_call("overview", models.SiteOverview, window="uncapped", target=True),
    # /energy (bucket totals) and /power (bucket averages) of a whole site.
    _series("energy", "energy", quantity="energy", resolutions=_ALL),
    _series("power", "power", quantity="power", resolutions=_SUB_DAILY),
    _site_call("devices", models.Device, many=True, target=True),
    _alerts("site"),
    _site_call("environmental-benefits", models.EnvironmentalBenefits),
    _site_call("overview/performance", models.OverviewPerformance, window="uncapped"),
    _site_call("power-flow", models.PowerFlow),
    *(
        _series(f.telemetry, f.name, "telemetry", family=f.name, record=models.Telemetry)
        for f in FAMILIES.values()
    ),
    *(
        _series(name, family, "{serial}", segment, level="device", family=family, quantity=quantity)
        for name, family, segment, quantity in _DEVICE_METRIC_ROWS
    ),
)

#: Every operation, by name, in the table's order.
ENDPOINTS: Final[Mapping[str, Endpoint]] = {e.name: e for e in _TABLE}

#: The single-metric device operations, by name (`DeviceMetric`).
DEVICE_METRICS: Final[Mapping[str, Endpoint]] = {e.name: e for e in _TABLE if e.level == "device"}

#: Site-level sweep targets: one call per site (and window, where one is taken).
SITE_TARGETS: Final = tuple(
    e.name for e in _TABLE if e.target and e.level == "site" and e.record is not models.Telemetry
)
#: Bulk telemetry sweep targets: every device of a family in one call per site.
BULK_TARGETS: Final = tuple(f.telemetry for f in FAMILIES.values())
#: Every sweep target: site-level, bulk telemetry, then every device metric (sorted).
TARGETS: Final = (*SITE_TARGETS, *BULK_TARGETS, *sorted(DEVICE_METRICS))


def endpoint(name: str) -> Endpoint:
    """The operation called ``name``.

    Raises:
        KeyError: No such operation.
    """
    return ENDPOINTS[name]


def all_path_templates() -> frozenset[str]:
    """Every path template the client can send (``/sites/{site_id}/energy``, ...)."""
    return frozenset(e.path for e in _TABLE)


def _cells(e: Endpoint) -> Iterator[str]:
    yield f"`{e.path}`"
    yield e.name
    yield e.level
    yield ", ".join(r for r in get_args(ResolutionName) if r in e.resolutions) or "-"
    fixed = f"({e.fixed_unit})" if e.fixed_unit else "-"
    yield ", ".join(u for u in Unit if u in e.units) or fixed
    yield {"capped": "split at cap", "uncapped": "one window", None: "-"}[e.window]
    yield f"{e.page_size_param} ≤ {e.page_max}" if e.page_size_param else "-"
    yield "key only" if e.key_only else "key, bearer"
    yield ("list of " if e.many else "") + e.record.__name__
    yield e.stamps or "-"


def markdown_table() -> str:
    """The endpoint table of the README, generated from the table (one line per row)."""
    head = (
        "| Path | Name | Level | Resolutions | Units | Window | Paging | Auth | Record | Stamps |"
    )
    rule = "|" + "---|" * 10
    rows = ["| " + " | ".join(_cells(e)) + " |" for e in _TABLE]
    return "\n".join([head, rule, *rows]) + "\n"
