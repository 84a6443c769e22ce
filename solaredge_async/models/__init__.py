"""The records the client returns: frozen, keyword-only attrs classes holding data only.

Parsing and validation live in `solaredge_async.converters`. Sequences are tuples,
timestamps are aware `datetime.datetime` objects (site-local, with the offset the
server stated), numbers are ``float`` (``int`` for ids and counts), and a value the
server did not send is `None`. Enumerations are open: a field typed ``Unit | str``
holds the raw string when the server sends a value this version does not know.
"""

from solaredge_async.models._enums import (
    ActivationStatus,
    AlertStatus,
    DeviceType,
    MeasurementSystem,
    Resolution,
    Unit,
)
from solaredge_async.models._inventory import Alert, AlertComponent, Device
from solaredge_async.models._json import JSONValue
from solaredge_async.models._overview import (
    Consumption,
    EnvironmentalBenefits,
    OverviewPerformance,
    Performance,
    PowerFlow,
    Production,
    SiteOverview,
)
from solaredge_async.models._series import Measurements, Period, Telemetry, TelemetrySeries
from solaredge_async.models._site import Location, Site, SitesPage

__all__ = [
    "ActivationStatus",
    "Alert",
    "AlertComponent",
    "AlertStatus",
    "Consumption",
    "Device",
    "DeviceType",
    "EnvironmentalBenefits",
    "JSONValue",
    "Location",
    "MeasurementSystem",
    "Measurements",
    "OverviewPerformance",
    "Performance",
    "Period",
    "PowerFlow",
    "Production",
    "Resolution",
    "Site",
    "SiteOverview",
    "SitesPage",
    "Telemetry",
    "TelemetrySeries",
    "Unit",
]
