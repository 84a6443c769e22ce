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
import copy
import math
from array import array
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

import anyio
import attrs

from solaredge_async import _windows, errors
from solaredge_async._adaptive import CapChoice, cap_family
from solaredge_async._endpoints import DEVICE_METRICS, ENDPOINTS, FAMILIES
from solaredge_async.fleet._spec import SiteDay, SweepBound, SweepSpec
from solaredge_async.limits._bucket import DEFAULT_SAFETY_MARGIN

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Collection, Iterator, Mapping
    from zoneinfo import ZoneInfo

    from solaredge_async.client import SolarEdgeClient
    from solaredge_async.limits._ledger import LedgerState

__all__ = ["SweepPlan", "WorkItem", "plan_sweep"]

#: Operations that take a window (their item ids name it).
_WINDOWED: Final = frozenset(e.name for e in ENDPOINTS.values() if e.window is not None)
#: The device family of each bulk telemetry operation.
_TELEMETRY_FAMILY: Final = {f.telemetry: f.name for f in FAMILIES.values()}
_QUARTER_HOUR: Final = "QUARTER_HOUR"


@attrs.frozen(kw_only=True)
class WorkItem:
    """One API call of a sweep.

    Attributes:
        kind: The operation the call is (its name in the endpoint table): a sweep
            target (``overview``, ``energy``, ``inverter_telemetry``, a device metric
            such as ``inverter_voltage``, ...) or ``fleet_alerts`` (``GET /alerts``,
            every site at once).
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
    #: Extra calls of an item, by (kind, start, end, resolution), if its unprobed cap
    #: is refused (the item is then sent as this many more pieces).
    extra: Mapping[_Entry, int] = attrs.field(factory=dict)
    #: The ``family@RESOLUTION`` caps the price rests on that are not probed yet.
    unprobed: tuple[str, ...] = ()


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
        window_caps: The client's documented caps (windows are split at the caps
            known for each endpoint family and resolution: learned, or documented).
        requests_per_minute: The client's rate limit after discovery (``None``: off).
        budget: The client's credit ledger when the plan was made (spent, remaining,
            cycle start and end), or `None` for a plan made without one.
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
        budget: LedgerState | None = None,
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
        self.budget = budget
        self._only = only
        self._skip = skip
        self._counts: Counter[str] | None = None
        self._extra: int | None = None

    def __repr__(self) -> str:
        return (
            f"<SweepPlan sites={len(self._layout.site_ids)} items={len(self)} "
            f"credits={self.credits}>"
        )

    # -- price and budget ----------------------------------------------------------

    @property
    def unprobed(self) -> tuple[str, ...]:
        """The window caps the price rests on that are not known yet (``energy@QUARTER_HOUR``).

        Items of these are planned at the longest plausible window; if the server
        refuses it, each such item costs more calls (see `credits_max`).
        """
        return self._layout.unprobed

    def _extra_calls(self) -> int:
        if self._extra is not None:
            return self._extra
        layout = self._layout
        extra = layout.extra
        total = 0
        if extra:
            if self._only is not None or self._skip is not None:
                total = sum(extra.get((i.kind, i.start, i.end, i.resolution), 0) for i in self)
            else:
                for zone, n_sites in Counter(layout.zone_of).items():
                    total += n_sites * sum(extra.get(e, 0) for e in layout.templates[zone])
                for site_id, zone in zip(layout.site_ids, layout.zone_of, strict=True):
                    for key, _serial in layout.devices.get(site_id, ()):
                        total += sum(
                            extra.get((key, a, b, layout.resolution), 0)
                            for a, b in layout.device_windows[zone]
                        )
            # A refused probe is one more credit, once per family and resolution.
            total += len(layout.unprobed) if total else 0
        self._extra = total
        return total

    @property
    def credits_min(self) -> int:
        """The lowest price: every unprobed cap accepted (equals `credits`)."""
        return self.credits

    @property
    def credits_max(self) -> int:
        """The highest price when nothing is retried: every unprobed cap refused.

        Then each of their items is sent at the documented cap, and each refused
        probe costs one credit more. Equals `credits` when every cap is known.
        """
        return self.credits + self._extra_calls()

    @property
    def remaining(self) -> int | None:
        """Credits left this cycle when the plan was made (`None`: unlimited or unknown)."""
        return None if self.budget is None else self.budget.remaining

    @property
    def cycle_end(self) -> datetime | None:
        """When the billing cycle resets (UTC), as of planning."""
        return None if self.budget is None else self.budget.cycle_end

    @property
    def over_budget(self) -> bool:
        """Whether the plan may cost more than remained this cycle when it was made."""
        remaining = self.remaining
        return remaining is not None and self.credits_max > remaining

    def describe(self) -> str:
        """One line on the price and the budget, e.g. for a dry run.

        ``"600 credits (600..1201: energy@QUARTER_HOUR not probed yet); 1400 of 2000
        credits remain this cycle, which resets at 2026-12-01 00:00 UTC"``.
        """
        price = f"{self.credits} credits"
        if self.credits_max != self.credits:
            price += (
                f" ({self.credits}..{self.credits_max}: {', '.join(self.unprobed)} not probed yet)"
            )
        elif not self.exact:
            price += " at least (alert lists cost one call per 100 alerts)"
        budget = self.budget
        if budget is None:
            return price
        reset = budget.cycle_end.strftime("%Y-%m-%d %H:%M UTC")
        if budget.remaining is None:
            left = "the budget is unlimited"
        else:
            left = f"{budget.remaining} of {budget.monthly_credits} credits remain this cycle"
            if budget.exhausted:
                left = "the server said this month's credits are used up"
        text = f"{price}; {left}, which resets at {reset}"
        return text + (" (OVER BUDGET)" if self.over_budget else "")

    # -- items -------------------------------------------------------------------

    def _all_items(self) -> Iterator[WorkItem]:
        layout = self._layout
        yield from layout.fleet_items
        templates = layout.templates
        devices = layout.devices
        for site_id, zone in zip(layout.site_ids, layout.zone_of, strict=True):
            for kind, start, end, resolution in templates[zone]:
                yield WorkItem(
                    kind=kind, site_id=site_id, start=start, end=end, resolution=resolution
                )
            site_devices = devices.get(site_id)
            if site_devices:
                yield from self._device_items(site_id, site_devices, layout.device_windows[zone])

    def _device_items(
        self, site_id: int, devices: tuple[tuple[str, str], ...], windows: tuple[_Window, ...]
    ) -> Iterator[WorkItem]:
        """A site's single device metric calls: each (kind, serial) over each window."""
        res = self._layout.resolution
        for kind, serial in devices:
            for start, end in windows:
                yield WorkItem(
                    kind=kind, site_id=site_id, start=start, end=end, resolution=res, serial=serial
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

        Alert lists cost one call per 100 alerts, so with alerts it is a lower bound;
        while a window cap is unprobed the price is a range (`credits_max`).
        """
        counts = self._kind_counts()
        alerts = counts.get("alerts") or counts.get("fleet_alerts")
        return not alerts and self.credits_max == self.credits

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
        """This plan with other filters: the same layout, its counts made afresh."""
        plan = copy.copy(self)  # every attribute carried over, whatever is added later
        plan._only, plan._skip = only, skip  # noqa: SLF001 - a plan of this very class
        plan._counts = plan._extra = None  # noqa: SLF001
        return plan

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


def _check_resolutions(client: SolarEdgeClient, spec: SweepSpec) -> None:
    res = spec.resolution
    if res is None:
        return
    table = client.resolutions
    refused = []
    for target in sorted(spec.what):
        op = ENDPOINTS[target]
        if op.family is not None and (op.level == "site" or spec.prefer_bulk):
            op = ENDPOINTS[FAMILIES[op.family].telemetry]
        if op.resolutions and res not in table.get(op.name, ()):
            refused.append(target)
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
    lo: datetime,
    hi: datetime,
    resolution: str,
    client: SolarEdgeClient,
    zone: ZoneInfo,
    *,
    caps: _windows.WindowCaps | None = None,
) -> tuple[_Window, ...]:
    if client.split_windows:
        return tuple(_windows.split_window(lo, hi, resolution, caps or client.window_caps, zone))
    _windows.check_span(lo, hi, resolution, client.window_caps, zone)
    return ((lo, hi),)


async def _cap_choices(
    client: SolarEdgeClient, targets: _Targets, spec: SweepSpec
) -> dict[str, CapChoice]:
    """The caps each capped kind of the plan is split at now (no call is made)."""
    res = spec.resolution or _QUARTER_HOUR
    kinds = [
        k
        for k in (*targets.site_kinds, *(m for ms in targets.per_device.values() for m in ms))
        if ENDPOINTS[k].window == "capped"
    ]
    return {k: await client.cap_choice(k, res) for k in kinds}


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
    for name in _TELEMETRY_FAMILY:
        if name in what:
            telemetry[name] = None
    for key in sorted(k for k in what if k in DEVICE_METRICS):
        op = DEVICE_METRICS[key]
        family = str(op.family)
        if spec.prefer_bulk:
            bulk = FAMILIES[family].telemetry
            if bulk not in telemetry:
                telemetry[bulk] = set()
            chosen = telemetry[bulk]
            if chosen is not None:
                chosen.add(str(op.metric))
        else:
            per_device.setdefault(family, []).append(key)
    fleet_alerts = "alerts" in what and spec.site_ids is None and spec.prefer_bulk
    site_kinds = tuple(k for k in ("overview", "energy", "power") if k in what) + tuple(
        k for k in _TELEMETRY_FAMILY if k in telemetry
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


def _template(  # noqa: C901, PLR0917
    targets: _Targets,
    spec: SweepSpec,
    client: SolarEdgeClient,
    zone: ZoneInfo | None,
    now: datetime,
    choices: Mapping[str, CapChoice],
    extra: dict[_Entry, int],
) -> tuple[tuple[_Entry, ...], tuple[_Window, ...]]:
    """The site-level calls of a site in ``zone``, and the device-metric windows.

    Capped kinds are split at the caps in ``choices``; for an unprobed one, ``extra``
    gets the calls each window costs more if the probe is refused.
    """
    res = spec.resolution
    window: tuple[datetime, datetime] | None = None
    if spec.start is not None and spec.end is not None and zone is not None:
        window = _windows.resolve_window(
            _concrete(spec.start, zone, now), _concrete(spec.end, zone, now), zone
        )
    cache: dict[tuple[str | None, str | None], tuple[_Window, ...]] = {}

    def windows(split_at: str | None, kind: str | None = None) -> tuple[_Window, ...]:
        if window is None or zone is None:
            return ((None, None),)
        choice = choices.get(kind) if kind is not None else None
        key = (split_at, None if choice is None else kind)
        if key not in cache:
            if split_at is None:
                cache[key] = (window,)
            else:
                caps = None if choice is None else choice.caps
                cache[key] = _split(window[0], window[1], split_at, client, zone, caps=caps)
                if choice is not None and choice.probing:
                    for a, b in cache[key]:
                        if a is not None and b is not None:
                            pieces = _split(a, b, split_at, client, zone)
                            if len(pieces) > 1:
                                extra[(kind, a, b, res)] = len(pieces) - 1  # type: ignore[index]
        return cache[key]

    entries: list[_Entry] = []
    for kind in targets.site_kinds:
        rule = ENDPOINTS[kind].window
        if rule is None:
            entries.append((kind, None, None, None))
        elif rule == "uncapped":
            split_at = _QUARTER_HOUR if spec.split_overview else None
            entries.extend((kind, a, b, None) for a, b in windows(split_at))
        else:
            entries.extend((kind, a, b, res) for a, b in windows(res or _QUARTER_HOUR, kind))
    device_windows: tuple[_Window, ...] = ()
    for metrics in targets.per_device.values():
        for key in metrics:
            # Every device metric shares one cap family: the same windows for all.
            device_windows = windows(res or _QUARTER_HOUR, key)
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
        unknown = (
            {s for s in site_ids if client.known_site_timezone(s) is None} if windowed else set()
        )
        if len(unknown) > 1:
            with contextlib.suppress(errors.InvalidRequestError):  # bearer: no GET /sites
                await _list_sites(client, set(unknown), budget=len(unknown) - 1)
    if windowed:
        missing = [s for s in site_ids if client.known_site_timezone(s) is None]

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
    types = [FAMILIES[f].device_type for f in targets.per_device]
    wanted_type: dict[str, str] = {str(FAMILIES[f].device_type): f for f in targets.per_device}

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
    choices: Mapping[str, CapChoice],
) -> dict[str, Any]:
    """Site ids and zone indices in compact arrays, one call template per zone."""
    extra: dict[_Entry, int] = {}
    zones: dict[ZoneInfo | None, int] = {}
    templates: list[tuple[_Entry, ...]] = []
    device_windows: list[tuple[_Window, ...]] = []
    ids = array("q")
    zone_of = array("I")
    for site_id in site_ids:
        if site_id in failed:
            continue
        zone = client.known_site_timezone(site_id) if windowed else None
        index = zones.get(zone)
        if index is None:
            index = zones[zone] = len(templates)
            template, dev_windows = _template(targets, spec, client, zone, now, choices, extra)
            templates.append(template)
            device_windows.append(dev_windows)
        ids.append(site_id)
        zone_of.append(index)
    return {
        "site_ids": ids,
        "zone_of": zone_of,
        "templates": tuple(templates),
        "device_windows": tuple(device_windows),
        "extra": extra,
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
    choices = await _cap_choices(client, targets, spec) if windowed else {}
    layout_parts = _lay_out(
        client,
        spec=spec,
        targets=targets,
        site_ids=site_ids,
        failed=discovery.failed,
        now=now,
        windowed=windowed,
        choices=choices,
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
            unprobed=_unprobed(choices, spec, layout_parts["extra"]),
        ),
        discovery_credits=client.usage.credits - spent_before,
        failed_sites=dict(discovery.failed),
        telemetry_metrics=dict(targets.telemetry),
        window_caps=client.window_caps,
        requests_per_minute=limiter.requests_per_minute if limiter is not None else None,
        budget=await client.budget(),
    )


def _unprobed(
    choices: Mapping[str, CapChoice], spec: SweepSpec, extra: Mapping[_Entry, int]
) -> tuple[str, ...]:
    """``family@RESOLUTION`` of each unprobed cap that changes the price."""
    res = spec.resolution or _QUARTER_HOUR
    kinds = {entry[0] for entry in extra}
    names = {
        f"{cap_family(ENDPOINTS[k])}@{res}"
        for k, choice in choices.items()
        if choice.probing and k in kinds
    }
    return tuple(sorted(names))
