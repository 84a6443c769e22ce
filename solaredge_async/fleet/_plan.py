"""Planning a sweep: discovery, work items (one per API call) and their exact price.

`plan_sweep` spends only what it must to know the work: the site list when the spec
names no sites (one call per 1,000 sites), the time zones of named sites the client
does not know yet (a site-list page or one call per site), and device lists only for
single device metrics fetched per device. Everything else is arithmetic: windows are
split at the client's caps with `solaredge_async._windows.split_window`, exactly as the
client would split them, so each `WorkItem` is one API call and `SweepPlan.credits`
is the number of credits the sweep will spend when nothing is retried.

Items are generated lazily from a compact description (the site ids in an
``array``, one window template per time zone), so a plan for 100,000 sites holds
about 10 bytes per site rather than a few hundred bytes per item.
"""

from __future__ import annotations

import contextlib
import math
from array import array
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

import anyio
import attrs

from solaredge_async import _windows, errors
from solaredge_async.client import DEFAULT_RESOLUTIONS, DEVICE_METRICS
from solaredge_async.fleet._spec import SiteDay, SweepBound, SweepSpec
from solaredge_async.limits._bucket import DEFAULT_SAFETY_MARGIN
from solaredge_async.models import DeviceType

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Collection, Iterator, Mapping
    from zoneinfo import ZoneInfo

    from solaredge_async.client import SolarEdgeClient

__all__ = ["FAMILY_OF", "TELEMETRY_KINDS", "SweepPlan", "WorkItem", "plan_sweep"]

#: Bulk telemetry kind of each device family (``DEVICE_METRICS[...].family``).
TELEMETRY_KINDS: Final[Mapping[str, str]] = {
    "inverters": "inverter_telemetry",
    "meters": "meter_telemetry",
    "storage": "storage_telemetry",
}
#: Device family of each bulk telemetry kind.
FAMILY_OF: Final[Mapping[str, str]] = {v: k for k, v in TELEMETRY_KINDS.items()}

_FAMILY_PREFIX: Final = {"inverters": "inverter_", "meters": "meter_", "storage": "storage_"}
_FAMILY_DEVICE_TYPE: Final = {
    "inverters": DeviceType.INVERTER,
    "meters": DeviceType.METER,
    "storage": DeviceType.BATTERY,
}
_WINDOWED: Final = frozenset({"overview", "energy", "power", *FAMILY_OF, *DEVICE_METRICS})
_QUARTER_HOUR: Final = "QUARTER_HOUR"


def metric_name(key: str) -> str:
    """The bulk telemetry name of a `DEVICE_METRICS` key, e.g. ``importPower``."""
    family = DEVICE_METRICS[key].family
    head, *rest = key.removeprefix(_FAMILY_PREFIX[family]).split("_")
    return head + "".join(part.title() for part in rest)


@attrs.frozen(kw_only=True)
class WorkItem:
    """One API call of a sweep.

    Attributes:
        kind: What the call fetches: ``overview``, ``energy``, ``power``, ``devices``,
            ``alerts``, ``fleet_alerts`` (``GET /alerts``, every site at once),
            ``inverter_telemetry``, ``meter_telemetry``, ``storage_telemetry``, or a
            `solaredge_async.DEVICE_METRICS` key such as ``inverter_voltage``.
        site_id: The site (0 for the fleet-level ``fleet_alerts``).
        start: The window start, aware in the site's zone; `None` for the API's
            default window or an endpoint without a window.
        end: The window end (exclusive), likewise.
        resolution: The resolution sent, or `None` (none sent).
        serial: The device, for single device metrics.
    """

    kind: str
    site_id: int
    start: datetime | None = None
    end: datetime | None = None
    resolution: str | None = None
    serial: str | None = None

    @property
    def id(self) -> str:
        """A stable identifier, the same for the same call in every run (for resume).

        E.g. ``"1234567:energy@QUARTER_HOUR:2026-05-11T00:00:00+02:00/2026-05-11T12:00:00+02:00"``.
        """
        if self.kind == "fleet_alerts":
            return "fleet:alerts"
        head = f"{self.site_id}:{self.kind}"
        if self.resolution is not None:
            head += f"@{self.resolution}"
        if self.serial is not None:
            head += ":" + quote(self.serial, safe="")
        if self.kind not in _WINDOWED:
            return head
        if self.start is None or self.end is None:
            return head + ":default"
        return f"{head}:{self.start.isoformat()}/{self.end.isoformat()}"

    @property
    def cost(self) -> int:
        """Credits the item costs when nothing is retried (alerts: per page, at least 1)."""
        return 1


# A site-level call of a zone's template: (kind, start, end, resolution).
_Entry = tuple[str, datetime | None, datetime | None, str | None]
_Window = tuple[datetime | None, datetime | None]


@attrs.frozen(kw_only=True)
class _Layout:
    """Everything the items are generated from; shared by a plan and its filtered copies."""

    site_ids: array[int]
    zone_of: array[int]
    templates: tuple[tuple[_Entry, ...], ...]
    device_windows: tuple[tuple[_Window, ...], ...]
    devices: Mapping[int, tuple[tuple[str, str], ...]]
    fleet_items: tuple[WorkItem, ...]
    resolution: str | None


class SweepPlan:
    """The work of a sweep: its items, lazily generated, and their exact price.

    Made by `plan_sweep`; run with `solaredge_async.fleet.sweep`. Iterating yields the
    `WorkItem` s in a stable order (site by site). A plan is immutable: `only` and
    `without` return filtered copies sharing the same layout.

    Attributes:
        spec: The spec it was made from.
        now: The instant relative days (`SiteDay`) were resolved against.
        discovery_credits: Credits spent while planning (site list, zone lookups,
            device lists), not part of `credits`.
        failed_sites: Sites that could not be planned (unknown or inaccessible
            site, no time zone, device list refused), with the error; they have no
            items.
        telemetry_metrics: For each bulk telemetry kind, the metrics kept from its
            responses (API names such as ``voltage``), or `None` for all of them.
        window_caps: The caps the windows were split at (the client's).
        requests_per_minute: The client's rate limit after discovery (``None``: off).
    """

    def __init__(
        self,
        *,
        spec: SweepSpec,
        now: datetime,
        layout: _Layout,
        discovery_credits: int,
        failed_sites: Mapping[int, errors.SolarEdgeError],
        telemetry_metrics: Mapping[str, frozenset[str] | None],
        window_caps: _windows.WindowCaps,
        requests_per_minute: float | None,
        only: frozenset[str] | None = None,
        skip: frozenset[str] | None = None,
    ) -> None:
        self.spec = spec
        self.now = now
        self._layout = layout
        self.discovery_credits = discovery_credits
        self.failed_sites = failed_sites
        self.telemetry_metrics = telemetry_metrics
        self.window_caps = window_caps
        self.requests_per_minute = requests_per_minute
        self._only = only
        self._skip = skip
        self._counts: Counter[str] | None = None

    def __repr__(self) -> str:
        return (
            f"<SweepPlan sites={len(self._layout.site_ids)} items={len(self)} "
            f"credits={self.credits}>"
        )

    # -- items -------------------------------------------------------------------

    def _all_items(self) -> Iterator[WorkItem]:
        layout = self._layout
        yield from layout.fleet_items
        templates = layout.templates
        device_windows = layout.device_windows
        devices = layout.devices
        res = layout.resolution
        for site_id, zone in zip(layout.site_ids, layout.zone_of, strict=True):
            for kind, start, end, resolution in templates[zone]:
                yield WorkItem(
                    kind=kind, site_id=site_id, start=start, end=end, resolution=resolution
                )
            for key, serial in devices.get(site_id, ()):
                for start, end in device_windows[zone]:
                    yield WorkItem(
                        kind=key,
                        site_id=site_id,
                        start=start,
                        end=end,
                        resolution=res,
                        serial=serial,
                    )

    def __iter__(self) -> Iterator[WorkItem]:
        """Every item, in a stable order, generated on the fly."""
        items = self._all_items()
        only, skip = self._only, self._skip
        if only is None and skip is None:
            return items
        return (
            i
            for i in items
            if (only is None or i.id in only) and (skip is None or i.id not in skip)
        )

    def _kind_counts(self) -> Counter[str]:
        if self._counts is not None:
            return self._counts
        counts: Counter[str] = Counter()
        if self._only is not None or self._skip is not None:
            counts.update(item.kind for item in self)
        else:
            layout = self._layout
            counts.update(item.kind for item in layout.fleet_items)
            per_zone = Counter(layout.zone_of)
            for zone, n_sites in per_zone.items():
                for entry in layout.templates[zone]:
                    counts[entry[0]] += n_sites
            if layout.devices:
                for site_id, zone in zip(layout.site_ids, layout.zone_of, strict=True):
                    n_windows = len(layout.device_windows[zone])
                    for key, _serial in layout.devices.get(site_id, ()):
                        counts[key] += n_windows
        self._counts = counts
        return counts

    def __len__(self) -> int:
        """The number of items (API calls)."""
        return sum(self._kind_counts().values())

    @property
    def credits(self) -> int:
        """The credits the sweep costs when nothing is retried: one per item.

        Exact unless the plan holds alert items (see `exact`); discovery is not
        included (`discovery_credits`).
        """
        return len(self)

    @property
    def exact(self) -> bool:
        """Whether `credits` is exact.

        Alert lists cost one call per 100 alerts, so with alerts it is a lower bound.
        """
        counts = self._kind_counts()
        return not (counts.get("alerts") or counts.get("fleet_alerts"))

    def breakdown(self) -> dict[str, int]:
        """Credits by item kind, e.g. ``{"overview": 600, "energy": 600}``."""
        return dict(sorted(self._kind_counts().items()))

    @property
    def sites(self) -> tuple[int, ...]:
        """The planned sites, in item order (failed sites excluded)."""
        return tuple(self._layout.site_ids)

    def duration(self, requests_per_minute: float | None = None) -> float:
        """Seconds the sweep takes at a rate limit, the limiter's safety margin included.

        Args:
            requests_per_minute: Calls per minute; default the client's limit when the
                plan was made. With no limit at all, 0.0 (the time is then set by the
                latency and the concurrency bound, not by the plan).
        """
        rate = requests_per_minute if requests_per_minute is not None else self.requests_per_minute
        if rate is None or rate <= 0 or not math.isfinite(rate):
            return 0.0
        return self.credits * (60.0 + DEFAULT_SAFETY_MARGIN) / rate

    # -- filtered copies ---------------------------------------------------------------

    def _copy(self, only: frozenset[str] | None, skip: frozenset[str] | None) -> SweepPlan:
        return SweepPlan(
            spec=self.spec,
            now=self.now,
            layout=self._layout,
            discovery_credits=self.discovery_credits,
            failed_sites=self.failed_sites,
            telemetry_metrics=self.telemetry_metrics,
            window_caps=self.window_caps,
            requests_per_minute=self.requests_per_minute,
            only=only,
            skip=skip,
        )

    def only(self, ids: Collection[str]) -> SweepPlan:
        """A plan of just the items whose `WorkItem.id` is in ``ids``.

        E.g. the ones a previous sweep reported failed or not attempted.
        """
        keep = frozenset(ids)
        return self._copy(keep if self._only is None else self._only & keep, self._skip)

    def without(self, ids: Collection[str]) -> SweepPlan:
        """A plan without the items whose `WorkItem.id` is in ``ids``.

        E.g. the ones already done, for resuming.
        """
        drop = frozenset(ids)
        return self._copy(self._only, drop if self._skip is None else self._skip | drop)


# -- planning -------------------------------------------------------------------------


def _client_resolutions(client: SolarEdgeClient) -> Mapping[str, Collection[str]]:
    table: Mapping[str, Collection[str]] | None = getattr(client, "resolutions", None)
    if table is None:
        # Until the client exposes its table publicly, read the private one.
        table = getattr(client, "_resolutions", DEFAULT_RESOLUTIONS)
    return table


def _known_zone(client: SolarEdgeClient, site_id: int) -> ZoneInfo | None:
    """The site's zone if the client knows it, without spending a call."""
    lookup: Callable[[int], ZoneInfo | None] | None = getattr(client, "known_site_timezone", None)
    if lookup is not None:
        return lookup(site_id)
    zones: Mapping[int, ZoneInfo] = getattr(client, "_zones", {})
    return zones.get(site_id)


def _check_resolutions(client: SolarEdgeClient, spec: SweepSpec) -> None:
    res = spec.resolution
    if res is None:
        return
    table = _client_resolutions(client)
    kinds: dict[str, str] = {}
    for target in spec.what:
        if target in {"energy", "power"}:
            kinds[target] = target
        elif target in FAMILY_OF or (target in DEVICE_METRICS and spec.prefer_bulk):
            kinds[target] = "telemetry"
        elif target in DEVICE_METRICS:
            kind = DEVICE_METRICS[target].kind
            kinds[target] = "device_instant" if kind in {"instant", "percent"} else "device_energy"
    refused = sorted(t for t, kind in kinds.items() if res not in table.get(kind, ()))
    if refused:
        raise errors.InvalidRequestError(
            f"resolution {res} is not accepted by {', '.join(refused)} "
            "(power takes QUARTER_HOUR and HOUR only; telemetry and device metrics no TOTAL)"
        )


def _concrete(bound: SweepBound, zone: ZoneInfo, now: datetime) -> date | datetime:
    if isinstance(bound, SiteDay):
        return now.astimezone(zone).date() + timedelta(days=bound.offset)
    return bound


def _split(
    lo: datetime, hi: datetime, resolution: str, client: SolarEdgeClient, zone: ZoneInfo
) -> tuple[_Window, ...]:
    caps = client.window_caps
    if client.split_windows:
        return tuple(_windows.split_window(lo, hi, resolution, caps, zone))
    _windows.check_span(lo, hi, resolution, caps, zone)
    return ((lo, hi),)


@attrs.frozen
class _Targets:
    site_kinds: tuple[str, ...]
    telemetry: Mapping[str, frozenset[str] | None]
    per_device: Mapping[str, tuple[str, ...]]  # family -> metric keys
    fleet_alerts: bool


def _targets(spec: SweepSpec) -> _Targets:
    what = spec.what
    telemetry: dict[str, set[str] | None] = {}
    per_device: dict[str, list[str]] = {}
    for kind in FAMILY_OF:
        if kind in what:
            telemetry[kind] = None
    for key in sorted(k for k in what if k in DEVICE_METRICS):
        family = DEVICE_METRICS[key].family
        if spec.prefer_bulk:
            kind = TELEMETRY_KINDS[family]
            if kind not in telemetry:
                telemetry[kind] = set()
            chosen = telemetry[kind]
            if chosen is not None:
                chosen.add(metric_name(key))
        else:
            per_device.setdefault(family, []).append(key)
    fleet_alerts = "alerts" in what and spec.site_ids is None and spec.prefer_bulk
    site_kinds = tuple(k for k in ("overview", "energy", "power") if k in what) + tuple(
        k for k in TELEMETRY_KINDS.values() if k in telemetry
    )
    if "devices" in what:
        site_kinds += ("devices",)
    if "alerts" in what and not fleet_alerts:
        site_kinds += ("alerts",)
    return _Targets(
        site_kinds=site_kinds,
        telemetry={k: None if v is None else frozenset(v) for k, v in telemetry.items()},
        per_device={k: tuple(v) for k, v in per_device.items()},
        fleet_alerts=fleet_alerts,
    )


def _template(
    targets: _Targets,
    spec: SweepSpec,
    client: SolarEdgeClient,
    zone: ZoneInfo | None,
    now: datetime,
) -> tuple[tuple[_Entry, ...], tuple[_Window, ...]]:
    """The site-level calls of a site in ``zone``, and the device-metric windows."""
    res = spec.resolution
    window: tuple[datetime, datetime] | None = None
    if spec.start is not None and spec.end is not None and zone is not None:
        window = _windows.resolve_window(
            _concrete(spec.start, zone, now), _concrete(spec.end, zone, now), zone
        )
    cache: dict[str | None, tuple[_Window, ...]] = {}

    def windows(split_at: str | None) -> tuple[_Window, ...]:
        if window is None or zone is None:
            return ((None, None),)
        if split_at not in cache:
            if split_at is None:
                cache[split_at] = (window,)
            else:
                cache[split_at] = _split(window[0], window[1], split_at, client, zone)
        return cache[split_at]

    entries: list[_Entry] = []
    for kind in targets.site_kinds:
        if kind == "overview":
            split_at = _QUARTER_HOUR if spec.split_overview else None
            entries.extend((kind, a, b, None) for a, b in windows(split_at))
        elif kind in {"devices", "alerts"}:
            entries.append((kind, None, None, None))
        else:
            entries.extend((kind, a, b, res) for a, b in windows(res or _QUARTER_HOUR))
    device_windows = windows(res or _QUARTER_HOUR) if targets.per_device else ()
    return tuple(entries), device_windows


class _Discovery:
    """Bounded concurrent discovery calls; one site's failure is recorded, not raised."""

    def __init__(self, client: SolarEdgeClient) -> None:
        self.client = client
        self.failed: dict[int, errors.SolarEdgeError] = {}
        self.quota: errors.QuotaExhaustedError | None = None

    async def each(self, site_ids: Collection[int], call: Callable[[int], Awaitable[None]]) -> None:
        limit = anyio.Semaphore(max(1, self.client.max_concurrency))

        async def run(site_id: int) -> None:
            try:
                await call(site_id)
            except errors.QuotaExhaustedError as exc:
                self.quota = exc
            except errors.SolarEdgeError as exc:
                self.failed[site_id] = exc
            finally:
                limit.release()

        async with anyio.create_task_group() as tg:
            for site_id in site_ids:
                await limit.acquire()
                if self.quota is not None:
                    limit.release()
                    break
                tg.start_soon(run, site_id)
        if self.quota is not None:
            raise self.quota


async def _list_sites(
    client: SolarEdgeClient, wanted: set[int] | None, budget: int | None
) -> list[int]:
    """Walk ``GET /sites`` pages (the client remembers every site's zone).

    With ``wanted``, stop once all of them were seen or after ``budget`` pages (no
    longer cheaper than one lookup per site). Returns the ids seen, in order.
    """
    seen: list[int] = []
    pages = 0
    pages_gen = client.site_pages()
    async with contextlib.aclosing(pages_gen) as pages_iter:
        async for page in pages_iter:
            pages += 1
            for site in page.sites:
                seen.append(site.site_id)
                if wanted is not None:
                    wanted.discard(site.site_id)
            if wanted is not None and (not wanted or (budget is not None and pages >= budget)):
                break
    return seen


async def _discover_sites(
    client: SolarEdgeClient, spec: SweepSpec, discovery: _Discovery, *, windowed: bool
) -> list[int]:
    """The sites to plan; with windows, make sure the client knows each one's zone."""
    if spec.site_ids is None:
        site_ids = await _list_sites(client, None, None)
    else:
        site_ids = list(spec.site_ids)
        unknown = {s for s in site_ids if _known_zone(client, s) is None} if windowed else set()
        if len(unknown) > 1:
            with contextlib.suppress(errors.InvalidRequestError):  # bearer: no GET /sites
                await _list_sites(client, set(unknown), budget=len(unknown) - 1)
    if windowed:
        missing = [s for s in site_ids if _known_zone(client, s) is None]

        async def lookup(site_id: int) -> None:
            await client.site_timezone(site_id)

        await discovery.each(missing, lookup)
    return site_ids


async def _discover_devices(
    client: SolarEdgeClient, targets: _Targets, discovery: _Discovery, site_ids: list[int]
) -> dict[int, tuple[tuple[str, str], ...]]:
    """Each site's (metric key, serial) pairs, for single metrics fetched per device."""
    devices: dict[int, tuple[tuple[str, str], ...]] = {}
    if not targets.per_device:
        return devices
    types = [_FAMILY_DEVICE_TYPE[f] for f in targets.per_device]
    wanted_type: dict[str, str] = {str(_FAMILY_DEVICE_TYPE[f]): f for f in targets.per_device}

    async def device_list(site_id: int) -> None:
        found = await client.devices(site_id, types=types)
        pairs = [
            (key, d.serial_number)
            for d in found
            if d.type in wanted_type
            for key in targets.per_device[wanted_type[str(d.type)]]
        ]
        devices[site_id] = tuple(sorted(pairs, key=lambda p: (p[1], p[0])))

    await discovery.each([s for s in site_ids if s not in discovery.failed], device_list)
    return devices


def _lay_out(
    client: SolarEdgeClient,
    *,
    spec: SweepSpec,
    targets: _Targets,
    site_ids: list[int],
    failed: Mapping[int, errors.SolarEdgeError],
    now: datetime,
    windowed: bool,
) -> dict[str, Any]:
    """Site ids and zone indices in compact arrays, one call template per zone."""
    zones: dict[ZoneInfo | None, int] = {}
    templates: list[tuple[_Entry, ...]] = []
    device_windows: list[tuple[_Window, ...]] = []
    ids = array("q")
    zone_of = array("I")
    for site_id in site_ids:
        if site_id in failed:
            continue
        zone = _known_zone(client, site_id) if windowed else None
        index = zones.get(zone)
        if index is None:
            index = zones[zone] = len(templates)
            template, dev_windows = _template(targets, spec, client, zone, now)
            templates.append(template)
            device_windows.append(dev_windows)
        ids.append(site_id)
        zone_of.append(index)
    return {
        "site_ids": ids,
        "zone_of": zone_of,
        "templates": tuple(templates),
        "device_windows": tuple(device_windows),
    }


async def plan_sweep(
    client: SolarEdgeClient, spec: SweepSpec, *, now: datetime | None = None
) -> SweepPlan:
    """Discover what must be discovered and turn ``spec`` into a priced `SweepPlan`.

    Spends credits only on discovery (reported as `SweepPlan.discovery_credits`):
    the site list when ``spec.site_ids`` is `None` (one call per 1,000 sites); the
    time zones of named sites the client does not know, for windowed targets (a
    site-list page per 1,000 sites while that is cheaper, else one call per site);
    the device list of each site for single device metrics with
    ``prefer_bulk=False``. Nothing else is called.

    Args:
        client: The client the sweep will run on (its caps, split setting and
            resolution table shape the plan).
        spec: What to sweep.
        now: The instant `SiteDay` bounds are counted from (aware; default: the
            current time).

    Raises:
        InvalidRequestError: A resolution a target does not accept, a bad window, or
            a window over its cap with the client's splitting off (`SpanTooLongError`).
        QuotaExhaustedError: The monthly credits ran out during discovery.
        APIStatusError, TransportError: Listing the sites failed.
    """
    if now is None:
        now = datetime.now(UTC)
    elif now.utcoffset() is None:
        raise errors.InvalidRequestError("now must be an aware datetime")
    _check_resolutions(client, spec)
    targets = _targets(spec)
    spent_before = client.usage.credits
    windowed = spec.start is not None and any(k in _WINDOWED for k in spec.what)
    discovery = _Discovery(client)

    site_ids = await _discover_sites(client, spec, discovery, windowed=windowed)
    devices = await _discover_devices(client, targets, discovery, site_ids)
    layout_parts = _lay_out(
        client,
        spec=spec,
        targets=targets,
        site_ids=site_ids,
        failed=discovery.failed,
        now=now,
        windowed=windowed,
    )
    fleet_items = (WorkItem(kind="fleet_alerts", site_id=0),) if targets.fleet_alerts else ()
    limiter = client.rate_limiter
    return SweepPlan(
        spec=spec,
        now=now,
        layout=_Layout(
            **layout_parts,
            devices={s: devices[s] for s in layout_parts["site_ids"] if s in devices},
            fleet_items=fleet_items,
            resolution=spec.resolution,
        ),
        discovery_credits=client.usage.credits - spent_before,
        failed_sites=dict(discovery.failed),
        telemetry_metrics=dict(targets.telemetry),
        window_caps=client.window_caps,
        requests_per_minute=limiter.requests_per_minute if limiter is not None else None,
    )
