"""The inventory and its alerts: `Device`, `Alert`, `AlertComponent`."""

from collections.abc import Mapping
from datetime import datetime

import attrs

from solaredge_async.models._enums import AlertStatus, DeviceType
from solaredge_async.models._json import EMPTY_OBJECT, JSONValue

__all__ = ["Alert", "AlertComponent", "Device"]


@attrs.frozen(kw_only=True)
class Device:
    """A device of a site (``/devices``), of any type.

    Only ``type`` and ``serial_number`` are guaranteed; which other fields a device
    carries depends on its type and on the server (``model`` is documented but absent
    live).

    Attributes:
        type: ``INVERTER``, ``METER``, ``BATTERY``... or an unknown type as a string.
        serial_number: The serial, an opaque string (used in device paths).
        manufacturer: E.g. ``"SolarEdge"``.
        part_number: E.g. ``"SE8000H-..."``.
        name: The display name, e.g. ``"Inverter 1"``.
        created_at: When the device was registered (site-local, with offset).
        active: Whether the device is active.
        firmware_version: The short firmware version, e.g. ``"4.20.1"``.
        firmware: The long dotted firmware build string.
        connected_to: The serial of the device this one hangs off, if any.
        nameplate: The nameplate rating as the API states it (``0`` live; unit
            undocumented).
        form: Undocumented (``null`` live).
        communication_type: ``ETHERNET``, ``RS485``...
        connected_optimizers: On inverters: how many optimizers report through it.
        model: The model, e.g. ``"SE7600"`` (documented, absent live).
        meter_type: On meters: e.g. ``PRODUCTION``.
        extra: Fields this version does not know, kept as received (frozen) by the
            lenient converter; always empty from the strict one, which rejects them.
    """

    type: DeviceType | str
    serial_number: str
    manufacturer: str | None = None
    part_number: str | None = None
    name: str | None = None
    created_at: datetime | None = None
    active: bool | None = None
    firmware_version: str | None = None
    firmware: str | None = None
    connected_to: str | None = None
    nameplate: float | None = None
    form: str | None = None
    communication_type: str | None = None
    connected_optimizers: int | None = None
    model: str | None = None
    meter_type: str | None = None
    extra: Mapping[str, JSONValue] = attrs.field(default=EMPTY_OBJECT)


@attrs.frozen(kw_only=True)
class AlertComponent:
    """The device an alert is about.

    Attributes:
        name: The device's display name.
        serial_number: The device's serial.
        extra: Keys of the component object this version does not know, kept as received
            (frozen) by the lenient converter; always empty from the strict one,
            which rejects them.
    """

    name: str | None = None
    serial_number: str | None = None
    extra: Mapping[str, JSONValue] = attrs.field(default=EMPTY_OBJECT)


@attrs.frozen(kw_only=True)
class Alert:
    """An alert (``/alerts``, ``/sites/{siteId}/alerts``).

    Attributes:
        alert_id: The alert's id.
        site_id: The site it belongs to.
        category: E.g. ``EQUIPMENT`` (an open set).
        impact: Severity as an integer (range undocumented).
        status: ``OPEN``, ``CLOSED``, or an unknown value as a string.
        type: An UPPER_SNAKE code such as ``INVERTER_COMMUNICATION_FAULT`` (an open set).
        first_trigger: When the alert first fired (site-local, with offset).
        last_trigger: When it last fired.
        component: The device concerned, if any.
        error_codes: The device error codes, as sent (integers or strings).
        extra: Keys of the alert object this version does not know, kept as received
            (frozen) by the lenient converter; always empty from the strict one,
            which rejects them.
    """

    alert_id: int | None = None
    site_id: int | None = None
    category: str | None = None
    impact: int | None = None
    status: AlertStatus | str | None = None
    type: str | None = None
    first_trigger: datetime | None = None
    last_trigger: datetime | None = None
    component: AlertComponent | None = None
    error_codes: tuple[int | str, ...] = ()
    extra: Mapping[str, JSONValue] = attrs.field(default=EMPTY_OBJECT)
