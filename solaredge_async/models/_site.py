"""Sites: `Location`, `Site` and a page of ``GET /sites`` (`SitesPage`)."""

from collections.abc import Mapping
from datetime import datetime

import attrs

from solaredge_async.models._enums import ActivationStatus
from solaredge_async.models._json import EMPTY_OBJECT, JSONValue

__all__ = ["Location", "Site", "SitesPage"]


@attrs.frozen(kw_only=True)
class Location:
    """Where a site is.

    Attributes:
        address: Street address.
        city: City.
        state: State or region (often empty).
        zip: Postal code.
        country: Country name, e.g. ``"Germany"``.
        timezone: The site's IANA time zone, e.g. ``"Europe/Berlin"``. Every time the
            API reads or writes is site-local in this zone.
        extra: Keys of the location object this version does not know, kept as received
            (frozen) by the lenient converter; always empty from the strict one,
            which rejects them.
    """

    address: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    country: str | None = None
    timezone: str | None = None
    extra: Mapping[str, JSONValue] = attrs.field(default=EMPTY_OBJECT)


@attrs.frozen(kw_only=True)
class Site:
    """A site (``GET /sites`` items and ``GET /sites/{siteId}``).

    Attributes:
        site_id: The site's id.
        name: The site's name.
        peak_power: Installed peak power, in kW.
        installation_date: When the site was installed (site-local, with offset).
        location: Where the site is; ``location.timezone`` is its IANA zone.
        activation_status: ``ACTIVE``, ``PENDING``, or an unknown value as a string.
        note: Free text.
        last_update_time: When the site last reported (details only, may be absent).
        account_id: The owning account (details only, may be absent).
        extra: Keys of the site object this version does not know, kept as received
            (frozen) by the lenient converter; always empty from the strict one,
            which rejects them.
    """

    site_id: int
    name: str | None = None
    peak_power: float | None = None
    installation_date: datetime | None = None
    location: Location | None = None
    activation_status: ActivationStatus | str | None = None
    note: str | None = None
    last_update_time: datetime | None = None
    account_id: int | None = None
    extra: Mapping[str, JSONValue] = attrs.field(default=EMPTY_OBJECT)


@attrs.frozen(kw_only=True)
class SitesPage:
    """One page of ``GET /sites``.

    Attributes:
        sites: The sites on this page, in the server's order.
        count: The server's ``sites.count``: the total number of sites or the length
            of this page (the API leaves it open); `None` for the old bare-array shape.
        extra: Keys of the page this version does not know, beside ``count`` and
            ``site`` or beside ``sites`` (the inner one wins a clash), kept as
            received (frozen) by the lenient converter; always empty from the strict
            one, which rejects them.
    """

    sites: tuple[Site, ...] = ()
    count: int | None = None
    extra: Mapping[str, JSONValue] = attrs.field(default=EMPTY_OBJECT)
