"""Planning a sync: what is missing per site, target and resolution, and its price.

`plan_sync` reads the store's watermarks and asks only for what they do not cover:
per item (site, target, resolution) the window from the watermark (or ``since`` on a
first run; a little earlier while recent buckets may still change, see
`SyncSpec.settle`) to the end of the last closed bucket before ``until``. Each window
is split at the client's caps exactly as the client would split it, so every call
is counted and `SyncPlan.credits` is the price of the data calls.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Final

import attrs

from solaredge_async import _windows, errors
from solaredge_async._endpoints import ENDPOINTS, FAMILIES, ResolutionName, Target
from solaredge_async.store import ItemKey

if TYPE_CHECKING:
    from collections.abc import Mapping
    from zoneinfo import ZoneInfo

    from solaredge_async.client import SolarEdgeClient
    from solaredge_async.models import Site
    from solaredge_async.store import Store

__all__ = [
    "DEFAULT_SETTLE",
    "SYNC_TARGETS",
    "SyncItem",
    "SyncPlan",
    "SyncSpec",
    "bucket_floor",
    "plan_sync",
]

#: What a sync can fetch: every target with bucketed series (a capped window).
SYNC_TARGETS: Final = tuple(e.name for e in ENDPOINTS.values() if e.target and e.window == "capped")
#: How long recent buckets are re-fetched, because data arrive late (2 h).
DEFAULT_SETTLE: Final = timedelta(hours=2)
#: The first run's start when `SyncSpec.since` is `None`: this many site-local days ago.
DEFAULT_SINCE_DAYS: Final = 7
_DEFAULT_RESOLUTION: Final = "QUARTER_HOUR"
_SYNC_RESOLUTIONS: Final = ("QUARTER_HOUR", "HOUR", "DAY", "WEEK", "MONTH", "YEAR")


def _to_what(value: object) -> tuple[str, ...]:
    raw = value
    if isinstance(raw, str):
        raw = [part.strip() for part in raw.split(",") if part.strip()]
    if not isinstance(raw, Iterable):
        raise errors.InvalidRequestError(f"what must be a collection of targets, got {raw!r}")
    names = tuple(dict.fromkeys(str(v) for v in raw))
    unknown = [n for n in names if n not in SYNC_TARGETS]
    if unknown:
        raise errors.InvalidRequestError(
            f"a sync cannot fetch {', '.join(map(repr, unknown))}: it stores bucketed "
            f"series only; pick from {', '.join(SYNC_TARGETS)} (use sweep for the others)"
        )
    if not names:
        raise errors.InvalidRequestError(f"what is empty; pick from {', '.join(SYNC_TARGETS)}")
    return names


def _to_sites(value: object) -> tuple[int, ...] | None:
    if value is None:
        return None
    if isinstance(value, int | str) or not isinstance(value, Iterable):
        raise errors.InvalidRequestError(
            f"sites must be a collection of site ids (or None for the fleet), got {value!r}"
        )
    ids: dict[int, None] = {}
    for v in value:
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise errors.InvalidRequestError(f"site ids must be positive integers, got {v!r}")
        ids[v] = None
    return tuple(ids)


def _to_resolution(value: object) -> str | None:
    if value is None:
        return None
    name: object = getattr(value, "value", value)
    if not isinstance(name, str) or name.upper() not in _SYNC_RESOLUTIONS:
        raise errors.InvalidRequestError(
            f"a sync cannot use resolution {value!r}; pick one of {', '.join(_SYNC_RESOLUTIONS)}"
            " (TOTAL has no buckets to keep a watermark on)"
        )
    return name.upper()


def _check_bound(
    _inst: object, attribute: attrs.Attribute[date | datetime | None], value: object
) -> None:
    if value is not None and not isinstance(value, date):
        raise errors.InvalidRequestError(
            f"{attribute.name} must be a date, a datetime or None, got {value!r}"
        )


def _check_settle(_inst: object, _attribute: attrs.Attribute[timedelta], value: object) -> None:
    if not isinstance(value, timedelta) or value < timedelta(0):
        raise errors.InvalidRequestError(f"settle must be a timedelta >= 0, got {value!r}")


@attrs.frozen(kw_only=True)
class SyncSpec:
    """What a sync keeps current in a store.

    Attributes:
        what: The targets (`SYNC_TARGETS`: ``energy``, ``power``, the bulk telemetry
            targets and single device metrics; a comma-separated string is accepted).
            A single device metric is fetched through its family's bulk telemetry
            (one call per site and window, every device), keeping only that metric.
        since: Where a first run starts (a site-local date's midnight, a naive
            site-local or an aware datetime); default 7 site-local days before today.
            Items with a watermark start from it instead.
        until: Where the sync stops: a date is inclusive (the midnight after it), a
            datetime exclusive; default now. Only closed buckets are fetched.
        sites: The site ids, or `None` for every site the credential sees (one
            ``GET /sites`` call per 1,000 sites at planning).
        settle: How long after its end a bucket may still change (data arrive late
            when an inverter reconnects): buckets ending within ``settle`` of now are
            fetched again by the next run. Default 2 hours.
        resolution: The bucket length for every target (``QUARTER_HOUR`` .. ``YEAR``);
            `None`: ``QUARTER_HOUR`` (every sync target accepts it).

    Raises:
        InvalidRequestError: An unknown target or resolution, a bad site id or bound,
            a negative settle, or ``until`` not after ``since``.
    """

    what: tuple[Target, ...] = attrs.field(default=("energy", "power"), converter=_to_what)
    since: date | datetime | None = attrs.field(default=None, validator=_check_bound)
    until: date | datetime | None = attrs.field(default=None, validator=_check_bound)
    sites: tuple[int, ...] | None = attrs.field(default=None, converter=_to_sites)
    settle: timedelta = attrs.field(default=DEFAULT_SETTLE, validator=_check_settle)
    resolution: ResolutionName | None = attrs.field(default=None, converter=_to_resolution)

    def resolution_of(self, target: str) -> str:
        """The resolution ``target`` is synced at (``QUARTER_HOUR`` unless `resolution`)."""
        if target not in SYNC_TARGETS:
            raise errors.InvalidRequestError(f"{target!r} is not a sync target")
        return self.resolution or _DEFAULT_RESOLUTION

    def __attrs_post_init__(self) -> None:
        a, b = self.since, self.until
        if a is None or b is None:
            return
        if isinstance(a, datetime) and isinstance(b, datetime):
            if (a.utcoffset() is None) == (b.utcoffset() is None) and b <= a:
                raise errors.InvalidRequestError(f"until {b!r} must be after since {a!r}")
        elif not isinstance(a, datetime) and not isinstance(b, datetime) and b < a:
            raise errors.InvalidRequestError(f"until {b!r} must not be before since {a!r}")


@attrs.frozen(kw_only=True)
class SyncItem:
    """The work of one item: a site, a target and a resolution over one window.

    Attributes:
        key: The store's key of the item (its watermark's row).
        zone: The site's time zone.
        start: The first bucket fetched (aware, in ``zone``).
        end: The end of the last closed bucket fetched (aware, in ``zone``): the
            watermark moves here when every call succeeds and the tail has data.
        windows: The calls, one per window (split at the client's caps).
        watermark: The watermark the plan was made from (`None`: never synced).
    """

    key: ItemKey
    zone: ZoneInfo
    start: datetime
    end: datetime
    windows: tuple[tuple[datetime, datetime], ...]
    watermark: datetime | None

    @property
    def credits(self) -> int:
        """Calls (credits) the item costs when nothing is retried."""
        return len(self.windows)


@attrs.frozen(kw_only=True)
class SyncPlan:
    """What a sync will fetch, priced; run it with `run_sync`.

    Attributes:
        spec: The spec it was made from.
        now: The instant it was made for (aware UTC): buckets closing later wait.
        items: The items with something missing, site by site.
        sites: Every planned site id (items or not).
        site_records: The sites discovery listed (written to the store's ``sites``).
        discovery_credits: Credits spent planning (site list, zone lookups).
        failed_sites: Sites that could not be planned (no zone), with the error.
    """

    spec: SyncSpec
    now: datetime
    items: tuple[SyncItem, ...]
    sites: tuple[int, ...]
    site_records: tuple[Site, ...] = ()
    discovery_credits: int = 0
    failed_sites: Mapping[int, errors.SolarEdgeError] = attrs.field(factory=dict)

    @property
    def credits(self) -> int:
        """The data calls the plan costs when nothing is retried (discovery excluded)."""
        return sum(len(i.windows) for i in self.items)

    @property
    def keys(self) -> tuple[ItemKey, ...]:
        """Every item key of the planned sites and targets (with work or not)."""
        spec = self.spec
        return tuple(
            ItemKey(site_id=s, target=t, resolution=spec.resolution_of(t))
            for s in self.sites
            for t in spec.what
        )

    def breakdown(self) -> dict[str, int]:
        """Credits by target, e.g. ``{"energy": 600, "power": 600}``."""
        out: dict[str, int] = {}
        for item in self.items:
            out[item.key.target] = out.get(item.key.target, 0) + len(item.windows)
        return dict(sorted(out.items()))


# -- buckets ---------------------------------------------------------------------------


def _localize(wall: datetime, zone: ZoneInfo) -> datetime:
    """A site-local wall-clock time as an aware instant (a gap moves forward)."""
    aware = wall.replace(tzinfo=zone)
    back = aware.astimezone(UTC).astimezone(zone)
    if back.replace(tzinfo=None) != wall:  # in a gap: the first instant after it
        return aware.replace(fold=1).astimezone(UTC).astimezone(zone)
    return back


def bucket_floor(instant: datetime, resolution: str, zone: ZoneInfo) -> datetime:
    """The start of the bucket holding ``instant`` (aware, in ``zone``).

    Quarter hours and hours are cut on the site's wall clock by elapsed time (so the
    repeated hour of a fall-back night has its own buckets); DAY to YEAR start at
    site-local midnights (WEEK on Mondays).
    """
    local = instant.astimezone(zone)
    wall = local.replace(tzinfo=None)
    if resolution in {"QUARTER_HOUR", "HOUR"}:
        minutes = wall.minute % 15 if resolution == "QUARTER_HOUR" else wall.minute
        cut = timedelta(minutes=minutes, seconds=wall.second, microseconds=wall.microsecond)
        return (local.astimezone(UTC) - cut).astimezone(zone)
    midnight = wall.replace(hour=0, minute=0, second=0, microsecond=0)
    if resolution == "WEEK":
        midnight -= timedelta(days=midnight.weekday())
    elif resolution == "MONTH":
        midnight = midnight.replace(day=1)
    elif resolution == "YEAR":
        midnight = midnight.replace(month=1, day=1)
    return _localize(midnight, zone)


def _bound(value: date | datetime, zone: ZoneInfo, *, is_end: bool) -> datetime:
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            return _localize(value, zone)
        return value.astimezone(zone)
    day = value + timedelta(days=1) if is_end else value
    return _localize(datetime.combine(day, time()), zone)


def _window(
    spec: SyncSpec, resolution: str, zone: ZoneInfo, now: datetime, watermark: datetime | None
) -> tuple[datetime, datetime] | None:
    """The missing window ``[lo, hi)`` of one item, bucket-aligned, or `None`."""
    if spec.since is None:
        today = now.astimezone(zone).date()
        first = today - timedelta(days=DEFAULT_SINCE_DAYS)
        since = _localize(datetime.combine(first, time()), zone)
    else:
        since = bucket_floor(_bound(spec.since, zone, is_end=False), resolution, zone)
    upper = now if spec.until is None else min(now, _bound(spec.until, zone, is_end=True))
    hi = bucket_floor(upper, resolution, zone)  # the end of the last closed bucket
    if watermark is None:
        lo = since
    else:
        settled = bucket_floor(now - spec.settle, resolution, zone)
        lo = max(since, min(watermark.astimezone(zone), settled))
    if lo >= hi:
        return None
    return lo, hi


# -- discovery -------------------------------------------------------------------------


async def _discover(
    client: SolarEdgeClient, store: Store, spec: SyncSpec
) -> tuple[list[int], list[Site], dict[int, errors.SolarEdgeError]]:
    records: list[Site] = []
    failed: dict[int, errors.SolarEdgeError] = {}
    if spec.sites is None:
        site_ids: list[int] = []
        async with contextlib.aclosing(client.site_pages()) as pages:
            async for page in pages:
                records.extend(page.sites)
                site_ids.extend(s.site_id for s in page.sites)
        return site_ids, records, failed
    site_ids = list(spec.sites)
    missing = [s for s in site_ids if client.known_site_timezone(s) is None]
    if missing:
        # The store remembers zones from earlier runs: no call for those.
        wanted = set(missing)
        for stored in await store.sites():
            if stored.site_id in wanted and stored.zone:
                with contextlib.suppress(errors.SolarEdgeError):
                    client.set_site_timezone(stored.site_id, stored.zone)
    for site_id in site_ids:
        if client.known_site_timezone(site_id) is None:
            try:
                records.append(await client.site(site_id))
                await client.site_timezone(site_id)
            except errors.QuotaExhaustedError:
                raise
            except errors.SolarEdgeError as exc:
                failed[site_id] = exc
    return site_ids, records, failed


def _check_resolutions(client: SolarEdgeClient, spec: SyncSpec) -> None:
    table = client.resolutions
    refused = []
    for target in spec.what:
        op = ENDPOINTS[target]
        name = FAMILIES[op.family].telemetry if op.level == "device" and op.family else op.name
        if spec.resolution_of(target) not in table.get(name, ()):
            refused.append(target)
    if refused:
        raise errors.InvalidRequestError(
            f"resolution {spec.resolution} is not accepted by {', '.join(refused)} "
            "(power takes QUARTER_HOUR and HOUR only)"
        )


def _lay_out(
    client: SolarEdgeClient,
    *,
    spec: SyncSpec,
    site_ids: list[int],
    states: Mapping[ItemKey, datetime | None],
    failed: dict[int, errors.SolarEdgeError],
    now: datetime,
) -> tuple[tuple[SyncItem, ...], tuple[int, ...]]:
    """The items with a missing window, and the planned sites (zones cached per window)."""
    caps, split = client.window_caps, client.split_windows
    items: list[SyncItem] = []
    planned: list[int] = []
    cache: dict[tuple[str, str, datetime | None], tuple[datetime, datetime] | None] = {}
    splits: dict[tuple[str, str, datetime, datetime], tuple[tuple[datetime, datetime], ...]] = {}
    for site_id in site_ids:
        zone = client.known_site_timezone(site_id)
        if zone is None:
            failed.setdefault(
                site_id, errors.InvalidRequestError(f"site {site_id} has no time zone")
            )
            continue
        planned.append(site_id)
        for target in spec.what:
            res = spec.resolution_of(target)
            key = ItemKey(site_id=site_id, target=target, resolution=res)
            mark = states.get(key)
            ck = (zone.key, res, mark)
            if ck not in cache:
                cache[ck] = _window(spec, res, zone, now, mark)
            window = cache[ck]
            if window is None:
                continue
            # Keyed in UTC: two wall-clock-equal instants of a fold are different windows.
            sk = (zone.key, res, window[0].astimezone(UTC), window[1].astimezone(UTC))
            if sk not in splits:
                if split:
                    splits[sk] = tuple(_windows.split_window(*window, res, caps, zone))
                else:
                    _windows.check_span(*window, res, caps, zone)
                    splits[sk] = (window,)
            items.append(
                SyncItem(
                    key=key,
                    zone=zone,
                    start=window[0],
                    end=window[1],
                    windows=splits[sk],
                    watermark=mark,
                )
            )
    return tuple(items), tuple(planned)


async def plan_sync(
    client: SolarEdgeClient, store: Store, spec: SyncSpec, *, now: datetime | None = None
) -> SyncPlan:
    """Plan and price what ``spec`` still misses in ``store``.

    Spends credits on discovery only (`SyncPlan.discovery_credits`): the site list when
    ``spec.sites`` is `None`, or one site lookup per named site whose zone neither the
    client nor the store knows. Writes nothing.

    Args:
        client: The client the sync will run on (its caps decide the windows).
        store: The store whose watermarks say what is complete.
        spec: What to sync.
        now: The current instant (aware; default the clock): only buckets closed by
            then are planned.

    Raises:
        InvalidRequestError: A resolution a target does not accept, or a naive ``now``.
        QuotaExhaustedError: The monthly credits ran out during discovery.
        APIStatusError, TransportError: Listing the sites failed.
        StoreError: Reading the watermarks failed.
    """
    if now is None:
        now = datetime.now(UTC)
    elif now.utcoffset() is None:
        raise errors.InvalidRequestError("now must be an aware datetime")
    now = now.astimezone(UTC)
    _check_resolutions(client, spec)
    spent = client.usage.credits
    site_ids, records, failed = await _discover(client, store, spec)
    states = {
        s.item: s.complete_until
        for s in await store.watermarks(
            site_ids=None if spec.sites is None else site_ids, targets=list(spec.what)
        )
    }
    items, planned = _lay_out(
        client, spec=spec, site_ids=site_ids, states=states, failed=failed, now=now
    )
    return SyncPlan(
        spec=spec,
        now=now,
        items=items,
        sites=planned,
        site_records=tuple(records),
        discovery_credits=client.usage.credits - spent,
        failed_sites=failed,
    )
