"""The API's enumerations.

All are *open*: the server may send a value that is not listed here (a new unit,
a new device type). Record fields are therefore typed ``Unit | str`` and so on; the
lenient converter keeps an unknown value as its raw string, the strict converter
rejects it. Every member's value is the exact string the API uses, and members
compare equal to those strings (``Unit.WH == "WH"``).
"""

import enum

__all__ = [
    "ActivationStatus",
    "AlertStatus",
    "DeviceType",
    "MeasurementSystem",
    "Resolution",
    "Unit",
]


class Unit(enum.StrEnum):
    """The unit of a value, as stated by each response or series.

    Normalise by the unit a response states, never by the one requested: the two can
    differ, and ``production`` and ``consumption`` of one overview can differ too.
    """

    #: Energy, watt-hours.
    WH = "WH"
    #: Energy, kilowatt-hours.
    KWH = "KWH"
    #: Energy, megawatt-hours.
    MWH = "MWH"
    #: Energy, gigawatt-hours.
    GWH = "GWH"
    #: Power, watts.
    W = "W"
    #: Power, kilowatts.
    KW = "KW"
    #: Power, megawatts.
    MW = "MW"
    #: Voltage, volts.
    VOLT = "VOLT"
    #: Current, amperes.
    AMPERE = "AMPERE"
    #: Frequency, hertz.
    HERTZ = "HERTZ"
    #: A share. Live ``stateOfEnergy`` uses it for a 0-1 fraction; the docs show 0-100.
    PERCENTAGE = "PERCENTAGE"
    #: A share; its scale is undocumented (presumably 0-100).
    PERCENTAGE_100 = "PERCENTAGE_100"


class Resolution(enum.StrEnum):
    """The length of a bucket. Stamps mark the bucket start (voltage, frequency: end)."""

    #: 15 minutes, the finest resolution and the server's default.
    QUARTER_HOUR = "QUARTER_HOUR"
    #: One hour.
    HOUR = "HOUR"
    #: A site-local calendar day.
    DAY = "DAY"
    #: A site-local calendar week.
    WEEK = "WEEK"
    #: A site-local calendar month.
    MONTH = "MONTH"
    #: A site-local calendar year.
    YEAR = "YEAR"
    #: One bucket for the whole window.
    TOTAL = "TOTAL"


class DeviceType(enum.StrEnum):
    """The kind of a device in a site's inventory (the ``types`` filter of ``/devices``)."""

    INVERTER = "INVERTER"
    BATTERY = "BATTERY"
    BATTERY_MODULE = "BATTERY_MODULE"
    OPTIMIZER = "OPTIMIZER"
    METER = "METER"
    EV_CHARGER = "EV_CHARGER"
    #: Backup interface.
    BUI = "BUI"
    GATEWAY = "GATEWAY"


class AlertStatus(enum.StrEnum):
    """Whether an alert is still open."""

    OPEN = "OPEN"
    CLOSED = "CLOSED"


class ActivationStatus(enum.StrEnum):
    """Whether a site is activated for monitoring."""

    ACTIVE = "ACTIVE"
    PENDING = "PENDING"


class MeasurementSystem(enum.StrEnum):
    """The unit system of environmental benefits (the ``unit`` parameter)."""

    METRIC = "METRIC"
    IMPERIAL = "IMPERIAL"
