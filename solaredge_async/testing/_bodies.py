"""The response bodies of every route: sites, site data, inventory, alerts, telemetry.

Each public method of `Bodies` takes one `Call` (the site, the query, the caller, "now"
and the path's parameters) and returns the JSON object to send, or raises `Problem`. The
route table (`_routes`) says which method answers which path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Literal, NamedTuple

from solaredge_async.testing._devices import (
    END_STAMPED,
    ENERGY_METRIC,
    FAMILY_METRICS,
    POWER_METRIC,
    device_getter,
)
from solaredge_async.testing._model import alert_category, mix64
from solaredge_async.testing._query import ENERGY_UNITS, POWER_UNITS
from solaredge_async.testing._replies import Problem
from solaredge_async.testing._solar import CHARGE, DISCHARGE, EXPORT, IMPORT, LOAD, PV, SELF, SOC
from solaredge_async.testing._timeutil import QH, day_bounds, iso_local, local_ordinal, zone

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from solaredge_async.testing._config import SimulatorConfig
    from solaredge_async.testing._devices import MetricSpec
    from solaredge_async.testing._fleet import Getter, Point, SimulatedFleet
    from solaredge_async.testing._model import SiteModel
    from solaredge_async.testing._oauth import Grant
    from solaredge_async.testing._query import Query, Windows
    from solaredge_async.testing._solar import Day

__all__ = ["DEVICE_TYPES", "Bodies", "Call", "Caller"]

#: The values ``/devices?types=`` accepts.
DEVICE_TYPES: Final = frozenset(
    {"INVERTER", "BATTERY", "BATTERY_MODULE", "OPTIMIZER", "METER", "EV_CHARGER", "BUI", "GATEWAY"}
)
_TYPES_TEXT: Final = ", ".join(sorted(DEVICE_TYPES))
_NOT_FOUND: Final = 404


class Caller(NamedTuple):
    """Who is calling: the account charged, the credential kind and the OAuth grant.

    Attributes:
        account: The API key, or the OAuth client id of a bearer.
        kind: ``"api_key"`` or ``"bearer"``.
        grant: The bearer's grant (site and scopes), ``None`` for an API key.
    """

    account: str
    kind: Literal["api_key", "bearer"]
    grant: Grant | None


class Call(NamedTuple):
    """One routed data call, as a body method sees it.

    Attributes:
        site: The site addressed, or ``None`` on fleet-level paths.
        query: The query parameters.
        caller: Who is calling.
        now: The simulator's "now", POSIX seconds.
        params: The path's parameters by placeholder name (e.g. ``sn``).
    """

    site: SiteModel | None
    query: Query
    caller: Caller
    now: float
    params: Mapping[str, str]

    @property
    def model(self) -> SiteModel:
        """The site addressed (site-level routes only)."""
        site = self.site
        if site is None:  # pragma: no cover - the route table sets it on site paths
            raise Problem(404, "Unknown endpoint")
        return site


def unknown_serial(status: int, serial: str) -> Problem:
    """Return the answer for a serial the site does not have (403 or 404 as configured)."""
    return Problem(
        status,
        f"Unknown serial number {serial[:20]!r}" if status == _NOT_FOUND else "Access denied",
    )


def _site_pv(day: Day) -> Sequence[float | None]:
    return day.q[PV]


def _site_power(day: Day) -> Sequence[float | None]:
    return day.pv_power


def _values(points: list[Point], divisor: float, kind: str) -> list[dict[str, object]]:
    if divisor == 1.0:
        return [{"timestamp": s, "value": None if v is None else float(v)} for s, v in points]
    digits = 7 if kind != "sum" else 12
    return [
        {"timestamp": s, "value": None if v is None else round(v / divisor, digits)}
        for s, v in points
    ]


def _scaled(value: int | None, divisor: float, *, present: bool = True) -> float | None:
    if value is None or not present:
        return None
    return float(value) if divisor == 1.0 else value / divisor


class Bodies:
    """Computes every route's body from the fleet's physics and the settings.

    Args:
        config: The settings.
        fleet: The fleet (ground truth and physics).
        windows: Resolves request windows.
    """

    def __init__(self, config: SimulatorConfig, fleet: SimulatedFleet, windows: Windows) -> None:
        self.config = config
        self.fleet = fleet
        self.windows = windows
        self._alert_index: dict[str, list[int]] = {}

    # ----- fleet level -----------------------------------------------------------------

    def sites(self, call: Call) -> object:
        """``GET /sites``: the account's sites, one page."""
        config, fleet, account = self.config, self.fleet, call.caller.account
        page = call.query.integer("page", 1, 1, 10**9)
        size = call.query.integer("sites-in-page", config.sites_page_size, 1, config.sites_page_max)
        total = fleet.account_size(account)
        first = (page - 1) * size
        items = [
            self._site_json(fleet.model(fleet.account_site_index(account, p)), details=False)
            for p in range(first, min(total, first + size))
        ]
        if config.sites_shape == "bare":
            return items
        count = total if config.sites_count == "total" else len(items)
        return {"sites": {"count": count, "site": items}}

    def fleet_alerts(self, call: Call) -> object:
        """``GET /alerts``: the alerts of every site of the account, one page."""
        page, size, only_open = self._alert_params(call.query)
        account, fleet = call.caller.account, self.fleet
        skip = (page - 1) * size
        out: list[dict[str, object]] = []
        index = self._alert_index.get(account)
        if index is None:
            index = [
                fleet.account_site_index(account, p)
                for p in range(fleet.account_size(account))
                if fleet.model(fleet.account_site_index(account, p)).alerts
            ]
            self._alert_index[account] = index
        for site_index in index:
            items = self._alerts_of(fleet.model(site_index), call.now, only_open=only_open)
            if skip >= len(items):
                skip -= len(items)
                continue
            out.extend(items[skip:])
            skip = 0
            if len(out) >= size:
                break
        return out[:size]

    # ----- the site --------------------------------------------------------------------

    def _site_json(self, model: SiteModel, *, details: bool, now: float = 0.0) -> dict[str, object]:
        tz = zone(model.tz)
        install = day_bounds(model.tz, model.install_ordinal)[0]
        obj: dict[str, object] = {
            "siteId": model.site_id,
            "name": model.name,
            "peakPower": model.peak_kw,
            "installationDate": iso_local(install, tz),
            "location": {
                "address": model.address,
                "city": model.city,
                "state": model.state,
                "zip": model.zip,
                "country": model.country,
                "timezone": model.tz,
            },
            "activationStatus": model.activation,
            "note": model.note,
        }
        if details:
            last = int((now - self.fleet.publish_delay) // QH) * QH
            obj["accountId"] = model.account_id
            obj["lastUpdateTime"] = iso_local(max(last, install), tz)
        return obj

    def site_details(self, call: Call) -> object:
        """``GET /sites/{siteId}``: the site, with its account and last update."""
        obj = self._site_json(call.model, details=True, now=call.now)
        return {"site": obj} if self.config.site_details_wrapped else obj

    def overview(self, call: Call) -> object:
        """``GET /sites/{siteId}/overview``: energy totals of the window."""
        model, config = call.model, self.config
        window = self.windows.resolve(model, call.query, call.now, None, capped=config.cap_overview)
        sums = self.fleet.window_sums(model, window.start, window.end, now=call.now)
        production_unit, consumption_unit = config.overview_units
        p_div, c_div = ENERGY_UNITS[production_unit], ENERGY_UNITS[consumption_unit]
        production = sums[PV]
        if production is None and window.end > day_bounds(model.tz, model.install_ordinal)[0]:
            production = 0
        meter = model.has_meter
        battery = bool(model.batteries) and meter
        obj: dict[str, object] = {
            "siteId": model.site_id,
            "production": {
                "total": _scaled(production, p_div),
                "unit": production_unit,
                "toSelfConsumption": _scaled(sums[SELF], p_div, present=meter),
                "toStorage": _scaled(sums[CHARGE], p_div, present=battery),
                "toGrid": _scaled(sums[EXPORT], p_div, present=meter),
            },
            "consumption": {
                "total": _scaled(sums[LOAD], c_div, present=meter),
                "unit": consumption_unit,
                "fromPv": _scaled(sums[SELF], c_div, present=meter),
                "fromStorage": _scaled(sums[DISCHARGE], c_div, present=battery),
                "fromGrid": _scaled(sums[IMPORT], c_div, present=meter),
            },
        }
        if config.overview_performance:
            obj["performance"] = _performance_values(model, production)
        return obj

    def performance(self, call: Call) -> object:
        """``GET /sites/{siteId}/overview/performance``: specific yield and ratio."""
        model = call.model
        window = self.windows.resolve(
            model, call.query, call.now, None, capped=self.config.cap_overview
        )
        production = self.fleet.window_sums(model, window.start, window.end, now=call.now)[PV]
        return _performance_values(model, production)

    def _units(self, spec: MetricSpec) -> Mapping[str, float]:
        """Return the units a metric may be asked in, with their divisors of its base unit."""
        if spec.base_unit == "WH":
            return ENERGY_UNITS
        if spec.base_unit == "W":
            return POWER_UNITS
        if spec.base_unit == "PERCENTAGE":
            return {
                "PERCENTAGE": 1.0,
                "PERCENTAGE_100": 0.01 if self.config.soe_scale == "fraction" else 1.0,
            }
        return {spec.base_unit: 1.0}

    def _measurements(
        self,
        call: Call,
        spec: MetricSpec,
        getter: Getter,
        *,
        stamp_end: bool = False,
        day_total: Callable[[int], float | None] | None = None,
    ) -> object:
        """Return the buckets of one metric over the call's window, in the asked unit."""
        config, model, windows = self.config, call.model, self.windows
        allowed = config.power_resolutions if spec.subdaily else config.energy_resolutions
        window = windows.resolve(model, call.query, call.now, allowed)
        kind = spec.kind
        unit, divisor = call.query.unit(
            self._units(spec), spec.base_unit, honour=config.honour_unit
        )
        points = self.fleet.measure(
            model,
            window.start,
            windows.bucket_end(model, window) if windows.extends else window.end,
            window.resolution,
            getter=getter,
            kind=kind,
            now=call.now,
            stamp_end=stamp_end,
            day_total=day_total,
        )
        return {
            "period": {"from": window.period_from, "to": window.period_to},
            "unit": unit,
            "resolution": window.resolution,
            "values": _values(points, divisor, kind),
        }

    def energy(self, call: Call) -> object:
        """``GET /sites/{siteId}/energy``: PV energy per bucket."""
        fleet, model = self.fleet, call.model
        return self._measurements(
            call,
            ENERGY_METRIC,
            _site_pv,
            day_total=lambda ordinal: fleet.pv_total(model, ordinal),
        )

    def power(self, call: Call) -> object:
        """``GET /sites/{siteId}/power``: PV power per bucket (bucket averages)."""
        return self._measurements(call, POWER_METRIC, _site_power)

    def environmental_benefits(self, call: Call) -> object:
        """``GET /sites/{siteId}/environmental-benefits``: CO2, trees, bulbs, EV miles."""
        model, now = call.model, call.now
        system = (call.query.first("unit") or "METRIC").upper()
        if system not in {"METRIC", "IMPERIAL"}:
            raise Problem(400, "Parameter unit must be METRIC or IMPERIAL")
        start = day_bounds(model.tz, model.install_ordinal)[0]
        kwh = 0.0
        if now > start:
            total = self.fleet.window_sums(model, start, now, now=now, flows=1)[PV]
            kwh = (total or 0) / 1000.0
        co2_kg = kwh * 0.4
        if system == "IMPERIAL":
            co2: dict[str, object] = {"value": round(co2_kg * 2.20462, 2), "unit": "LB"}
        else:
            co2 = {"value": round(co2_kg, 2), "unit": "KG"}
        return {
            "siteId": model.site_id,
            "unit": system,
            "co2Emissions": co2,
            "treesPlanted": round(co2_kg / 21.77, 2),
            "lightBulbs": round(kwh / 0.06 / 365.0, 2),
            "evMiles": round(kwh * 3.3, 2),
        }

    def power_flow(self, call: Call) -> object:
        """``GET /sites/{siteId}/power-flow``: the last published flow (Advanced tiers)."""
        if not self.config.is_advanced(call.caller.account):
            raise Problem(403, "This endpoint requires an Advanced Monitoring subscription")
        model = call.model
        published = call.now - self.fleet.publish_delay - QH
        last = int(published // QH) * QH
        ordinal = local_ordinal(last, zone(model.tz))
        k = (last - day_bounds(model.tz, ordinal)[0]) // QH
        pv_w = load_w = grid_w = battery_w = 0.0
        charge_level = None
        if ordinal >= model.install_ordinal:
            day = self.fleet.day(model, ordinal)
            pv_w = float(day.pv_power[k] or 0.0)
            if model.has_meter:
                load_w = float((day.q[LOAD][k] or 0) * 4)
                grid_w = float(((day.q[IMPORT][k] or 0) - (day.q[EXPORT][k] or 0)) * 4)
            if model.batteries and day.q[CHARGE][k] is not None:
                battery_w = float(((day.q[CHARGE][k] or 0) - (day.q[DISCHARGE][k] or 0)) * 4)
                soc = day.q[SOC][k]
                charge_level = None if soc is None else round(100.0 * soc / model.capacity_wh, 1)
        flow: dict[str, object] = {
            "updateRefreshRate": 3,
            "unit": "kW",
            "connections": [{"from": "PV", "to": "Load"}, {"from": "GRID", "to": "Load"}],
            "GRID": {"status": "Active", "currentPower": round(grid_w / 1000.0, 3)},
            "LOAD": {"status": "Active", "currentPower": round(load_w / 1000.0, 3)},
            "PV": {
                "status": "Active" if pv_w > 0 else "Idle",
                "currentPower": round(pv_w / 1000.0, 3),
            },
        }
        if model.batteries:
            flow["STORAGE"] = {
                "status": "Charging"
                if battery_w > 0
                else ("Discharging" if battery_w < 0 else "Idle"),
                "currentPower": round(abs(battery_w) / 1000.0, 3),
                "chargeLevel": charge_level,
                "critical": False,
            }
        return {"siteCurrentPowerFlow": flow}

    # ----- inventory and alerts --------------------------------------------------------

    def devices(self, call: Call) -> object:
        """``GET /sites/{siteId}/devices``: the inventory of the types asked for."""
        types: list[str] = []
        for item in call.query.all("types") or ["INVERTER"]:
            types.extend(item.split(",") if self.config.types_comma_separated else [item])
        for device_type in types:
            if device_type not in DEVICE_TYPES:
                raise Problem(
                    400, f"Invalid device type {device_type[:30]!r}; expected one of {_TYPES_TEXT}"
                )
        wanted = set(types)
        model = call.model
        tz = zone(model.tz)
        out: list[dict[str, object]] = []
        if "INVERTER" in wanted:
            out.extend(
                {
                    "type": "INVERTER",
                    "serialNumber": inv.serial,
                    "manufacturer": "SolarEdge",
                    "partNumber": inv.part_number,
                    "createdAt": iso_local(inv.created, tz),
                    "firmwareVersion": inv.firmware_version,
                    "connectedTo": None,
                    "active": True,
                    "nameplate": 0,
                    "name": inv.name,
                    "form": None,
                    "communicationType": inv.comm,
                    "firmware": inv.firmware,
                    "connectedOptimizers": inv.optimizers,
                }
                for inv in model.inverters
            )
        if "OPTIMIZER" in wanted:
            for i, inv in enumerate(model.inverters):
                for j in range(inv.optimizers):
                    mixed = mix64(model.key ^ ((i + 1) << 20) ^ (j + 1))
                    out.append(
                        {
                            "type": "OPTIMIZER",
                            "serialNumber": f"{mixed >> 32:08X}-{mixed & 0xFF:02X}",
                            "manufacturer": "SolarEdge",
                            "partNumber": "S440-1GM4MRM",
                            "createdAt": iso_local(inv.created, tz),
                            "firmwareVersion": None,
                            "connectedTo": inv.serial,
                            "active": True,
                            "nameplate": 440,
                            "name": f"Optimizer {i + 1}.1.{j + 1}",
                            "form": None,
                        }
                    )
        if "METER" in wanted:
            out.extend(
                {
                    "type": "METER",
                    "serialNumber": meter.serial,
                    "manufacturer": "SolarEdge",
                    "partNumber": meter.part_number,
                    "createdAt": iso_local(meter.created, tz),
                    "firmwareVersion": "1.2.3",
                    "connectedTo": meter.connected_to,
                    "active": True,
                    "nameplate": 0,
                    "name": meter.name,
                    "form": None,
                    "communicationType": "RS485",
                    "meterType": meter.meter_type,
                }
                for meter in model.meters
            )
        if "BATTERY" in wanted:
            out.extend(
                {
                    "type": "BATTERY",
                    "serialNumber": battery.serial,
                    "manufacturer": "SolarEdge",
                    "partNumber": battery.part_number,
                    "createdAt": iso_local(battery.created, tz),
                    "firmwareVersion": "DCDC 1.0.21",
                    "connectedTo": battery.connected_to,
                    "active": True,
                    "nameplate": battery.capacity_wh,
                    "name": battery.name,
                    "form": None,
                    "communicationType": "RS485",
                }
                for battery in model.batteries
            )
        return out

    def _alerts_of(
        self, model: SiteModel, now: float, *, only_open: bool
    ) -> list[dict[str, object]]:
        tz = zone(model.tz)
        out: list[dict[str, object]] = []
        for alert_id, alert_type, first, last, closed, impact, inverter_index in model.alerts:
            if first > now:
                continue
            status = "OPEN" if closed is None or closed > now else "CLOSED"
            if only_open and status != "OPEN":
                continue
            inv = model.inverters[inverter_index]
            out.append(
                {
                    "alertId": alert_id,
                    "siteId": model.site_id,
                    "type": alert_type,
                    "category": alert_category(alert_type),
                    "impact": impact,
                    "status": status,
                    "firstTrigger": iso_local(first, tz),
                    "lastTrigger": iso_local(min(last, now), tz),
                    "component": {"name": inv.name, "serialNumber": inv.serial},
                    "errorCodes": [100 + 3 * (alert_id % 40)],
                }
            )
        return out

    def _alert_params(self, query: Query) -> tuple[int, int, bool]:
        config = self.config
        page = query.integer("page", 1, 1, 10**9)
        size = query.integer("alerts-in-page", config.alerts_page_size, 1, config.alerts_page_max)
        return page, size, query.boolean("only-open", config.only_open_default)

    def site_alerts(self, call: Call) -> object:
        """``GET /sites/{siteId}/alerts``: the site's alerts, one page."""
        page, size, only_open = self._alert_params(call.query)
        items = self._alerts_of(call.model, call.now, only_open=only_open)
        return items[(page - 1) * size : page * size]

    # ----- devices ---------------------------------------------------------------------

    @staticmethod
    def _family_devices(model: SiteModel, family: str) -> Sequence[object]:
        if family == "inverters":
            return model.inverters
        if family == "meters":
            return model.meters
        return model.batteries

    def telemetry(self, call: Call) -> object:
        """``GET /sites/{siteId}/{family}/telemetry`` (every device of the family)."""
        return self._telemetry(call, call.params["family"], None)

    def storage_telemetry(self, call: Call) -> object:
        """``GET /sites/{siteId}/storage/{sn}/telemetry`` (comma-separated serials)."""
        return self._telemetry(call, "storage", call.params["sn"].split(","))

    def _telemetry(self, call: Call, family: str, serials: list[str] | None) -> object:
        config, model = self.config, call.model
        window = self.windows.resolve(model, call.query, call.now, config.energy_resolutions)
        end = self.windows.bucket_end(model, window) if self.windows.extends else window.end
        devices = self._family_devices(model, family)
        if serials is None:
            chosen = list(range(len(devices)))
        else:
            by_serial = {getattr(d, "serial", ""): i for i, d in enumerate(devices)}
            missing = [s for s in serials if s not in by_serial]
            if missing:
                raise unknown_serial(config.unknown_site_status, missing[0])
            chosen = [by_serial[s] for s in serials]
        subdaily = window.resolution in {"QUARTER_HOUR", "HOUR"}
        family_body: dict[str, object] = {}
        specs = FAMILY_METRICS[family]
        for index in chosen:
            device = devices[index]
            series: dict[str, object] = {}
            for name in getattr(device, "metrics", None) or tuple(specs):
                spec = specs[name]
                if spec.subdaily and not subdaily:
                    continue
                getter = device_getter(
                    model,
                    family,
                    index,
                    name,
                    soe_scale=config.soe_scale,
                    negative_rate=config.negative_storage_energy,
                )
                points = self.fleet.measure(
                    model,
                    window.start,
                    end,
                    window.resolution,
                    getter=getter,
                    kind=spec.kind,
                    now=call.now,
                    stamp_end=name in END_STAMPED,
                )
                series[name] = {"unit": spec.base_unit, "values": _values(points, 1.0, spec.kind)}
            family_body[getattr(device, "serial", "")] = series
        return {
            "period": {"from": window.period_from, "to": window.period_to},
            "resolution": window.resolution,
            family: family_body,
        }

    def device_metric(self, call: Call) -> object:
        """``GET /sites/{siteId}/{family}/{sn}/{metric}``: one metric of one device."""
        config, model = self.config, call.model
        family, serial, metric = call.params["family"], call.params["sn"], call.params["metric"]
        devices = self._family_devices(model, family)
        index = next(
            (i for i, d in enumerate(devices) if getattr(d, "serial", None) == serial), None
        )
        if index is None:
            raise unknown_serial(config.unknown_site_status, serial)
        spec = FAMILY_METRICS[family][metric]
        supported = getattr(devices[index], "metrics", None)
        if supported is not None and metric not in supported:
            raise Problem(404, f"Metric {metric} is not measured by this device")
        getter = device_getter(
            model,
            family,
            index,
            metric,
            soe_scale=config.soe_scale,
            negative_rate=config.negative_storage_energy,
        )
        return self._measurements(call, spec, getter, stamp_end=metric in END_STAMPED)


def _performance_values(model: SiteModel, production: int | None) -> dict[str, float | None]:
    if production is None:
        return {"specificYield": None, "performanceRatio": None}
    return {
        "specificYield": round(production / 1000.0 / model.peak_kw, 3),
        "performanceRatio": round(min(0.95, model.eff * 1.08), 3),
    }
