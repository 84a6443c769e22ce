"""Time series: `Period`, `Measurements` and bulk `Telemetry`.

Series are *columnar*: a tuple of timestamps and a tuple of values of the same
length, so that a day of quarter hours costs two tuples instead of 96 objects. A
value of `None` is a bucket without data (night, the bucket still open, a bucket not
yet computed), never ``0.0``: real zeros occur, e.g. at sunrise.
"""

from collections.abc import Mapping
from datetime import datetime

import attrs

from solaredge_async.models._enums import Resolution, Unit
from solaredge_async.models._json import EMPTY_OBJECT, FrozenDict, JSONValue

__all__ = ["Measurements", "Period", "Telemetry", "TelemetrySeries"]


@attrs.frozen(kw_only=True)
class Period:
    """The effective window of a response (JSON ``from`` / ``to``).

    Attributes:
        start: The window's start, site-local with offset.
        end: The window's end; for a defaulted window, the server's "now".
        extra: Keys of the ``period`` object this version does not know, kept as
            received (frozen) by the lenient converter; always empty from the strict
            one, which rejects them.
    """

    start: datetime
    end: datetime
    extra: Mapping[str, JSONValue] = attrs.field(default=EMPTY_OBJECT)


@attrs.frozen(kw_only=True)
class _Columns:
    """What every series has: its unit, resolution, stamps, values and unknown keys."""

    unit: Unit | str | None = None
    resolution: Resolution | str | None = None
    timestamps: tuple[datetime, ...] = ()
    values: tuple[float | None, ...] = ()
    extra: Mapping[str, JSONValue] = attrs.field(default=EMPTY_OBJECT)


@attrs.frozen(kw_only=True)
class Measurements(_Columns):
    """One metric over a window (``/energy``, ``/power``, device metrics).

    ``timestamps[i]`` is the start of the bucket whose value is ``values[i]``
    (the end, for voltage and frequency). Energy values are bucket totals, power
    values bucket averages.

    Attributes:
        period: The window the server answered for, if it said.
        unit: The unit of every value, e.g. ``Unit.WH``; normalise by this, never by
            the unit requested.
        resolution: The bucket length.
        timestamps: Bucket stamps, site-local with the offset in force (so offsets can
            change within one series, at DST).
        values: One per timestamp, in ``unit``; `None` for a bucket without data.
        extra: Keys of the body this version does not know, kept as received
            (frozen) by the lenient converter; always empty from the strict one,
            which rejects them.
    """

    period: Period | None = None


@attrs.frozen(kw_only=True)
class TelemetrySeries(_Columns):
    """One metric of one device in a bulk telemetry response.

    Attributes:
        unit: The unit of every value (``stateOfEnergy``: ``PERCENTAGE``, live as a
            0-1 fraction).
        resolution: The bucket length, when the series states it.
        timestamps: Bucket stamps, site-local with offset.
        values: One per timestamp, in ``unit``; `None` for a bucket without data.
            Storage energies can be negative in real data.
        extra: Keys of the series object this version does not know, kept as
            received (frozen) by the lenient converter; always empty from the strict one,
            which rejects them.
    """


@attrs.frozen(kw_only=True)
class Telemetry:
    """A bulk telemetry response (``/inverters/telemetry``, ``/meters/...``, ``/storage/...``).

    Attributes:
        family: ``"inverters"``, ``"meters"`` or ``"storage"``.
        period: The window, when the server states it.
        resolution: The bucket length, when the server states it.
        devices: Serial number → metric name → series. Metric names are the API's,
            e.g. ``"power"``, ``"importPower"``, ``"stateOfEnergy"``. Only metrics the
            device and resolution support appear; series lengths may differ. Empty
            when the site has no device of the family.
        extra: Keys of the body this version does not know (another family's
            included), kept as received (frozen) by the lenient converter; always
            empty from the strict one, which rejects them.
    """

    family: str
    period: Period | None = None
    resolution: Resolution | str | None = None
    devices: Mapping[str, Mapping[str, TelemetrySeries]] = attrs.field(factory=FrozenDict)
    extra: Mapping[str, JSONValue] = attrs.field(default=EMPTY_OBJECT)
