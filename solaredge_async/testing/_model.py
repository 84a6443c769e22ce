"""Deterministic sites: each one derived from ``(seed, index)`` alone, on demand.

Nothing here builds the whole fleet; a site costs a few tens of microseconds to derive
and the fleet keeps a bounded cache of them.
"""

from __future__ import annotations

import functools
import math
import random
from datetime import date, datetime
from typing import Final, NamedTuple
from zoneinfo import ZoneInfo

import attrs

__all__ = [
    "BatteryModel",
    "InverterModel",
    "MeterModel",
    "SiteModel",
    "derive_site",
    "mix64",
    "unit_hash",
]

_M64: Final = (1 << 64) - 1
_INSTALL_FIRST: Final = date(2016, 1, 1).toordinal()
_INSTALL_LAST: Final = date(2025, 12, 31).toordinal()
#: Site ids are a bijection of the index onto [0, 2**24), offset by ``first_site_id``.
ID_SPACE: Final = 1 << 24


def mix64(x: int) -> int:
    """Return the splitmix64 finaliser of ``x``: a cheap, well-spread 64-bit hash."""
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


def unit_hash(*parts: int) -> float:
    """Return a uniform float in [0, 1) determined by integer ``parts``."""
    h = 0x51ED270B
    for p in parts:
        h = mix64(h ^ (p & _M64))
    return (h >> 11) * (1.0 / (1 << 53))


class _Zone(NamedTuple):
    tz: str
    country: str
    states: tuple[str, ...]
    cities: tuple[str, ...]
    lat: float
    lon: float
    weight: int
    volts: float
    hertz: float
    zip_digits: int


# tz | country | states | cities | latitude | longitude | weight | volts | hertz | zip digits
_ZONE_TABLE: Final = """
Europe/Berlin|Germany||Berlin,Hamburg,Munich,Freiburg,Kassel|50.5|10.0|20|230|50|5
Europe/Amsterdam|Netherlands||Utrecht,Delft,Zwolle,Breda|52.2|5.3|7|230|50|4
Europe/Rome|Italy||Rome,Bologna,Verona,Bari|42.5|12.5|6|230|50|5
Europe/Madrid|Spain||Madrid,Sevilla,Valencia,Zaragoza|39.5|-3.7|5|230|50|5
Europe/London|United Kingdom||Bristol,Leeds,Norwich,Exeter|52.0|-1.5|6|240|50|0
Europe/Paris|France||Lyon,Toulouse,Nantes,Lille|46.5|2.5|6|230|50|5
America/Los_Angeles|United States|CA|Fresno,San Diego,Sacramento,Irvine|35.0|-119.0|8|240|60|5
America/New_York|United States|NY,NJ,MA|Albany,Newark,Worcester|41.5|-73.5|5|240|60|5
America/Phoenix|United States|AZ|Phoenix,Tucson,Mesa|33.0|-111.5|2|240|60|5
America/Sao_Paulo|Brazil|SP,MG,PR|Campinas,Curitiba,Uberaba|-22.5|-47.0|3|220|60|8
Australia/Sydney|Australia|NSW|Sydney,Newcastle,Wollongong|-33.5|150.8|6|230|50|4
Australia/Brisbane|Australia|QLD|Brisbane,Toowoomba,Cairns|-26.0|152.5|2|230|50|4
Australia/Adelaide|Australia|SA|Adelaide,Mount Barker|-34.8|138.6|2|230|50|4
Pacific/Auckland|New Zealand||Auckland,Hamilton,Tauranga|-37.5|175.2|2|230|50|4
Africa/Johannesburg|South Africa|GP,WC|Pretoria,Cape Town,Durban|-28.0|27.0|2|230|50|4
Asia/Tokyo|Japan||Tokyo,Saitama,Chiba|35.8|139.6|3|202|50|7
Asia/Kolkata|India|KA,MH,GJ|Bengaluru,Pune,Ahmedabad|19.0|75.5|2|230|50|6
Asia/Jerusalem|Israel||Herzliya,Haifa,Beersheba|32.0|34.9|3|230|50|7
Asia/Kathmandu|Nepal||Kathmandu,Pokhara|27.7|85.3|1|230|50|5
UTC|Ghana||Accra,Kumasi|6.0|-1.0|1|230|50|5
"""


def _parse_zones(table: str) -> tuple[_Zone, ...]:
    zones = []
    for line in table.strip().splitlines():
        tz, country, states, cities, lat, lon, weight, volts, hertz, zips = line.split("|")
        zones.append(
            _Zone(
                tz,
                country,
                tuple(states.split(",")),
                tuple(cities.split(",")),
                float(lat),
                float(lon),
                int(weight),
                float(volts),
                float(hertz),
                int(zips),
            )
        )
    return tuple(zones)


#: The built-in worldwide mix: both hemispheres, with and without DST, and
#: half-hour (Adelaide, Kolkata) and quarter-hour (Kathmandu) offsets.
_ZONES: Final = _parse_zones(_ZONE_TABLE)
_ZONE_INDEX: Final = {z.tz: z for z in _ZONES}

_STREETS: Final = ("Main", "Solar", "Church", "Station", "Park", "Mill", "Oak", "Lake", "Hill")
_NOUNS: Final = ("Roof", "Barn", "Farm", "Warehouse", "School", "Residence", "Carport", "Plant")
_ALERT_TYPES: Final = (
    "SITE_COMMUNICATION_FAULT",
    "RAPID_SITE_COMMUNICATION_FAULT",
    "INVERTER_COMMUNICATION_FAULT",
    "INVERTER_BELOW_THRESHOLD_LIMIT",
    "PANEL_COMMUNICATION_FAULT",
    "SNOW_ON_SITE",
)
_ALERT_CATEGORIES: Final = {
    "SITE_COMMUNICATION_FAULT": "COMMUNICATION",
    "RAPID_SITE_COMMUNICATION_FAULT": "COMMUNICATION",
    "INVERTER_COMMUNICATION_FAULT": "COMMUNICATION",
    "INVERTER_BELOW_THRESHOLD_LIMIT": "PERFORMANCE",
    "PANEL_COMMUNICATION_FAULT": "EQUIPMENT",
    "SNOW_ON_SITE": "ENVIRONMENT",
}
#: Alerts are placed between the installation and this instant (2026-06-01T00:00Z).
ALERT_HORIZON: Final = 1_780_272_000


@attrs.define(kw_only=True, eq=False, repr=False)
class InverterModel:
    """An inverter: its share of the site's PV and its inventory fields."""

    serial: str
    share: float
    part_number: str
    firmware_version: str
    firmware: str
    optimizers: int
    comm: str
    created: int
    name: str


@attrs.define(kw_only=True, eq=False, repr=False)
class MeterModel:
    """A meter: ``CONSUMPTION`` (consumption, import, export) or ``PRODUCTION``."""

    serial: str
    meter_type: str
    part_number: str
    created: int
    name: str
    connected_to: str

    @property
    def metrics(self) -> tuple[str, ...]:
        """The camelCase metric names this meter reports."""
        if self.meter_type == "PRODUCTION":
            return ("productionPower", "productionEnergy")
        return (
            "consumptionPower",
            "consumptionEnergy",
            "importPower",
            "importEnergy",
            "exportPower",
            "exportEnergy",
        )


@attrs.define(kw_only=True, eq=False, repr=False)
class BatteryModel:
    """A battery: capacity (Wh), power limit (W) and its share of the site's storage."""

    serial: str
    capacity_wh: float
    max_power_w: float
    share: float
    part_number: str
    created: int
    name: str
    connected_to: str


class SiteModel:
    """Everything about one simulated site; physics parameters included.

    Attributes:
        index: The site's 0-based position in the fleet.
        key: The site's 64-bit seed, which every draw about it hashes.
        site_id: The site id the API uses.
        account: The API key of the owning account.
        account_id: The owning account's numeric id.
        name: The site name.
        tz: IANA zone of the site.
        country: Country name. state, city, address, zip: Its address.
        lat: Degrees north. lon: Degrees east.
        install_ordinal: Proleptic ordinal of the site-local installation date.
        activation: ``ACTIVE`` or ``PENDING``.
        note: The site's note (mostly empty).
        alerts: ``(id, type, first, last, closed, impact, inverter index)`` per alert,
            instants in POSIX seconds (``closed`` ``None`` while open), newest first.
        peak_kw: Peak power, kW.
        inverters: The inverters. meters: The meters. batteries: The batteries.
        eff: Performance factor of the PV system (0.72 to 0.82).
        v_nom: Nominal AC voltage, V. f_nom: Nominal grid frequency, Hz.
        load_qh: Mean household load, Wh per quarter-hour.
    """

    __slots__ = (
        "account",
        "account_id",
        "activation",
        "address",
        "alerts",
        "batteries",
        "city",
        "country",
        "eff",
        "f_nom",
        "index",
        "install_ordinal",
        "inverters",
        "key",
        "lat",
        "load_qh",
        "lon",
        "meters",
        "name",
        "note",
        "peak_kw",
        "site_id",
        "state",
        "tz",
        "v_nom",
        "zip",
    )

    # In the order of the slots.
    account: str
    account_id: int
    activation: str
    address: str
    alerts: tuple[tuple[int, str, int, int, int | None, int, int], ...]
    batteries: tuple[BatteryModel, ...]
    city: str
    country: str
    eff: float
    f_nom: float
    index: int
    install_ordinal: int
    inverters: tuple[InverterModel, ...]
    key: int
    lat: float
    load_qh: float
    lon: float
    meters: tuple[MeterModel, ...]
    name: str
    note: str
    peak_kw: float
    site_id: int
    state: str
    tz: str
    v_nom: float
    zip: str

    @property
    def has_meter(self) -> bool:
        """Whether the site has a consumption meter (and so energy breakdowns)."""
        return any(m.meter_type == "CONSUMPTION" for m in self.meters)

    @property
    def capacity_wh(self) -> float:
        """Total usable battery capacity, Wh (0 without batteries)."""
        return sum(b.capacity_wh for b in self.batteries)

    @property
    def max_power_w(self) -> float:
        """Total battery charge/discharge power limit, W (0 without batteries)."""
        return sum(b.max_power_w for b in self.batteries)


def _hex(rng: random.Random, digits: int) -> str:
    return f"{rng.getrandbits(4 * digits):0{digits}X}"


def _inverter_part(kw: float) -> str:
    if kw <= 11:  # noqa: PLR2004
        for rating in (3000, 3680, 4000, 5000, 6000, 7600, 8000, 10000):
            if rating >= kw * 1000 * 0.9:
                return f"SE{rating}H-RW000BNN4"
        return "SE10000H-RW000BNN4"
    for rating_k in ("17K", "25K", "27.6K", "33.3K", "50K", "55K", "66.6K", "82.8K", "100K"):
        if float(rating_k[:-1]) >= kw * 0.9:
            return f"SE{rating_k}-RW0P0BNU4"
    return "SE120K-RW0P0BNU4"


_TOTAL_WEIGHT: Final = sum(z.weight for z in _ZONES)


def zone_names(spec_zones: tuple[str, ...] | None) -> tuple[str, ...]:
    """Return the zone names sites are placed in (the built-in mix when ``None``)."""
    return spec_zones or tuple(z[0] for z in _ZONES)


def _pick_zone(rng: random.Random, spec_zones: tuple[str, ...] | None) -> _Zone:
    if spec_zones:
        name = spec_zones[rng.randrange(len(spec_zones))]
        known = _ZONE_INDEX.get(name)
        if known is not None:
            return known
        # Place the site where the sun is due south (or north) near local noon.
        off = datetime(2025, 1, 15, 12, tzinfo=ZoneInfo(name)).utcoffset()
        lon = (off.total_seconds() / 240.0) if off is not None else 0.0
        return _Zone(name, "Unknown", ("",), ("Sunville",), 45.0, lon, 1, 230.0, 50.0, 5)
    pick = rng.randrange(_TOTAL_WEIGHT)
    for z in _ZONES:
        pick -= z.weight
        if pick < 0:
            return z
    return _ZONES[0]  # pragma: no cover - unreachable


def site_id_for(index: int, *, seed: int, first_site_id: int) -> int:
    """Return the (scrambled) site id of a site index."""
    a, b, _inv = id_params(seed)
    return first_site_id + (index * a + b) % ID_SPACE


def index_for(site_id: int, *, seed: int, first_site_id: int) -> int:
    """Return the site index a site id maps back to (-1 if outside the id space)."""
    _a, b, inv = id_params(seed)
    offset = site_id - first_site_id
    if not 0 <= offset < ID_SPACE:
        return -1
    return ((offset - b) * inv) % ID_SPACE


@functools.lru_cache(maxsize=64)
def id_params(seed: int) -> tuple[int, int, int]:
    """Return the multiplier, offset and inverse multiplier of the id bijection."""
    h = mix64(seed ^ 0x5EED)
    a = (h | 1) & (ID_SPACE - 1)
    return a, (h >> 24) % ID_SPACE, pow(a, -1, ID_SPACE)


def _meter(
    rng: random.Random, meter_type: str, part_number: str, created: int, connected_to: str
) -> MeterModel:
    """A meter of ``meter_type`` (its serial is the next draw of ``rng``)."""
    return MeterModel(
        serial=f"{rng.randint(100_000_000, 999_999_999)}",
        meter_type=meter_type,
        part_number=part_number,
        created=created,
        name=f"{meter_type.capitalize()} Meter",
        connected_to=connected_to,
    )


def derive_site(  # noqa: C901, PLR0912, PLR0915
    index: int,
    *,
    seed: int,
    first_site_id: int,
    api_keys: tuple[str, ...],
    meter_fraction: float,
    battery_fraction: float,
    alert_fraction: float,
    zones: tuple[str, ...] | None,
) -> SiteModel:
    """Derive site ``index`` of the fleet seeded by ``seed`` (pure and deterministic)."""
    key = mix64(mix64(seed) ^ (index * 0x9E3779B1 + 0x1234567))
    rng = random.Random(key)  # noqa: S311 - simulation, not security
    m = SiteModel()
    m.index = index
    m.key = key
    m.site_id = site_id_for(index, seed=seed, first_site_id=first_site_id)
    m.account = api_keys[index % len(api_keys)]
    m.account_id = 50_000 + index % len(api_keys)
    tz, country, states, cities, lat, lon, _w, volts, hertz, zip_digits = _pick_zone(rng, zones)
    m.tz = tz
    m.country = country
    m.state = states[rng.randrange(len(states))]
    m.city = cities[rng.randrange(len(cities))]
    m.lat = round(max(-58.0, min(58.0, lat + rng.uniform(-1.5, 1.5))), 4)
    m.lon = round(lon + rng.uniform(-2.0, 2.0), 4)
    m.address = f"{rng.randint(1, 199)} {_STREETS[rng.randrange(len(_STREETS))]} Street"
    m.zip = (
        f"{rng.randrange(10**zip_digits):0{zip_digits}d}"
        if zip_digits
        else f"BS{rng.randint(1, 99)} {rng.randint(1, 9)}AB"
    )
    m.v_nom = volts
    m.f_nom = hertz
    u = rng.random()
    if u < 0.72:  # noqa: PLR2004
        peak = rng.uniform(3.0, 15.0)
    elif u < 0.95:  # noqa: PLR2004
        peak = rng.uniform(15.0, 100.0)
    else:
        peak = rng.uniform(100.0, 500.0)
    m.peak_kw = round(peak, 2)
    m.name = f"{m.city} {_NOUNS[rng.randrange(len(_NOUNS))]} {index % 1000}"
    m.install_ordinal = rng.randint(_INSTALL_FIRST, _INSTALL_LAST)
    m.activation = "PENDING" if rng.random() < 0.01 else "ACTIVE"  # noqa: PLR2004
    m.note = "" if rng.random() < 0.9 else "Monitored by the simulator"  # noqa: PLR2004
    m.eff = rng.uniform(0.72, 0.82)
    created = (m.install_ordinal - 719_163) * 86_400 + rng.randint(8, 15) * 3600

    if m.peak_kw <= 12:  # noqa: PLR2004
        n_inv = 2 if m.peak_kw > 9 and rng.random() < 0.2 else 1  # noqa: PLR2004
    elif m.peak_kw <= 60:  # noqa: PLR2004
        n_inv = rng.randint(1, 2)
    elif m.peak_kw <= 150:  # noqa: PLR2004
        n_inv = rng.randint(2, 3)
    else:
        n_inv = rng.randint(3, 4)
    weights = [rng.uniform(0.8, 1.2) for _ in range(n_inv)]
    total_w = sum(weights)
    inverters = []
    build = f"{rng.randint(10, 99)}.{rng.randint(100, 999)}.{rng.randint(1000, 9999)}"
    fw = ("4.20.1", "4.21.3", "4.18.32", "4.22.11")[rng.randrange(4)]
    for i, w in enumerate(weights):
        share = w / total_w
        kw = m.peak_kw * share
        serial = f"{_hex(rng, 8)}-{_hex(rng, 2)}" if rng.random() < 0.7 else _hex(rng, 8)  # noqa: PLR2004
        per_opt = 420.0 if kw <= 11 else 840.0  # noqa: PLR2004
        inverters.append(
            InverterModel(
                serial=serial,
                share=share,
                part_number=_inverter_part(kw),
                firmware_version=fw,
                firmware=f"{fw}.{build}.2.100.1500",
                optimizers=max(1, round(kw * 1000 / per_opt)),
                comm=("ETHERNET", "ETHERNET", "WIFI", "RS485", "CELLULAR")[rng.randrange(5)],
                created=created,
                name=f"Inverter {i + 1}",
            )
        )
    m.inverters = tuple(inverters)

    meters: list[MeterModel] = []
    batteries: list[BatteryModel] = []
    if rng.random() < meter_fraction:
        first = inverters[0].serial
        meters.append(_meter(rng, "CONSUMPTION", "SE-MTR-3Y-400V-A", created, first))
        if rng.random() < 0.3:  # noqa: PLR2004
            meters.append(_meter(rng, "PRODUCTION", "SE-MTR240-0-000-S2", created, first))
        if rng.random() < battery_fraction:
            n_bat = 1 if rng.random() < 0.8 else 2  # noqa: PLR2004
            for j in range(n_bat):
                cap = (9700.0, 10_000.0, 13_500.0, 9_200.0)[rng.randrange(4)]
                batteries.append(
                    BatteryModel(
                        serial=_hex(rng, 8),
                        capacity_wh=cap,
                        max_power_w=5000.0,
                        share=1.0 / n_bat,
                        part_number="BAT-10K1P" if cap == 10_000.0 else "IAC-RBAT-10K-01",  # noqa: PLR2004
                        created=created,
                        name=f"Battery {j + 1}",
                        connected_to=first,
                    )
                )
    m.meters = tuple(meters)
    m.batteries = tuple(batteries)
    if m.peak_kw <= 15:  # noqa: PLR2004
        annual_kwh = rng.uniform(2500.0, 8000.0)
    else:
        annual_kwh = m.peak_kw * rng.uniform(500.0, 1400.0)
    m.load_qh = annual_kwh * 1000.0 / 35_040.0

    alerts: list[tuple[int, str, int, int, int | None, int, int]] = []
    if rng.random() < alert_fraction:
        start = (m.install_ordinal - 719_163) * 86_400
        for j in range(rng.randint(1, 4)):
            kind = _ALERT_TYPES[rng.randrange(len(_ALERT_TYPES))]
            first_t = start + int(rng.random() * max(1, ALERT_HORIZON - start))
            last_t = first_t + int(rng.expovariate(1 / 7200.0)) + 60
            closed = None if rng.random() < 0.35 else last_t + rng.randint(600, 86_400)  # noqa: PLR2004
            alert_id = 70_000_000 + index * 8 + j
            inv = rng.randrange(len(inverters))
            alerts.append((alert_id, kind, first_t, last_t, closed, rng.randint(1, 9), inv))
    m.alerts = tuple(sorted(alerts, key=lambda a: -a[2]))
    return m


def alert_category(kind: str) -> str:
    """Return the category the simulator files an alert type under."""
    return _ALERT_CATEGORIES.get(kind, "EQUIPMENT")


def solar_constants(lat_deg: float) -> tuple[float, float]:
    """Return ``(sin, cos)`` of a latitude in degrees."""
    r = math.radians(lat_deg)
    return math.sin(r), math.cos(r)
