"""The simulated fleet: lazily derived sites, cached days, and the ground truth.

`SimulatedFleet` answers the questions a test asks about what the simulator *should* return:
which sites an account owns, what a site looks like, and the expected energy, power and
overview figures for any window. The HTTP endpoints are built on the very same
functions, so a client's output can be compared with the ground truth exactly.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime
from itertools import repeat
from typing import TYPE_CHECKING, Final, Literal

import attrs

from solaredge_async.testing._model import SiteModel, derive_site, index_for, site_id_for
from solaredge_async.testing._solar import (
    CHARGE,
    DISCHARGE,
    EXPORT,
    IMPORT,
    LOAD,
    N_FLOWS,
    PV,
    SELF,
    Day,
    compute_day,
    day_pv_total,
)
from solaredge_async.testing._timeutil import (
    QH,
    bucket_start_ordinal,
    day_bounds,
    day_grid,
    iso_local,
    local_ordinal,
    zone,
)

if TYPE_CHECKING:
    from solaredge_async.testing._config import FleetSpec

__all__ = ["SimulatedFleet", "SiteTruth"]

#: How values of a bucket are combined: energy sums, power averaged over the
#: published quarter-hours (night counts as zero), other readings over non-null ones.
Kind = Literal["sum", "power", "avg"]
Getter = Callable[[Day], Sequence[float | None]]
Point = tuple[str, float | None]

_SUBDAILY: Final = frozenset({"QUARTER_HOUR", "HOUR"})


@attrs.frozen(kw_only=True)
class SiteTruth:
    """What the simulator knows about one site (ground truth for tests).

    Attributes:
        site_id: The site id the API uses.
        index: The site's 0-based position in the fleet.
        name: The site name.
        installation_date: Site-local installation date (no data before it).
        timezone: IANA zone of the site.
        latitude: Degrees north.
        longitude: Degrees east.
        country: Country name.
        peak_power_kw: Peak power, kW.
        inverters: Inverter serials.
        optimizers: Number of optimizers on the site (on all its inverters).
        meters: Meter serials.
        meter_types: The ``meterType`` of each meter, in the order of ``meters``.
        batteries: Battery serials.
        activation_status: ``ACTIVE`` or ``PENDING``.
        account: The API key of the owning account (kept out of the repr).
        account_id: The owning account's numeric id.
    """

    # The site and where it stands.
    site_id: int
    index: int
    name: str
    installation_date: date
    timezone: str
    latitude: float
    longitude: float
    country: str
    # Its equipment, each family with what describes it.
    peak_power_kw: float
    inverters: tuple[str, ...]
    optimizers: int
    meters: tuple[str, ...]
    meter_types: tuple[str, ...]
    batteries: tuple[str, ...]
    # Its standing and its owner.
    activation_status: str
    account: str = attrs.field(repr=False)
    account_id: int

    @property
    def has_meter(self) -> bool:
        """Whether the site has a consumption meter (overview breakdowns not null)."""
        return "CONSUMPTION" in self.meter_types

    @property
    def has_battery(self) -> bool:
        """Whether the site has at least one battery."""
        return bool(self.batteries)


# Bounded caches: a sweep touches each site-day in a burst, so small LRUs hit well
# and the simulator stays under ~50 MB whatever the fleet size.
#: Derived sites kept (~1.8 KB each).
_SITE_CACHE: Final = 8192
#: Computed site-days kept (~5-30 KB each with device series).
_DAY_CACHE: Final = 1024
#: Whole-day flow sums kept (~0.2 KB each).
_SUMS_CACHE: Final = 32_768


class SimulatedFleet:
    """The simulated fleet; every site is derived lazily and cached in a bounded LRU.

    Args:
        spec: The fleet's shape.
        seed: The simulator's seed.
        publish_delay: Seconds after a quarter-hour closes before its data appear.
        now: Returns the simulator's "now" (POSIX seconds).
        soe_scale: ``"fraction"`` or ``"percent"`` state of energy.
        negative_storage_energy: Share of storage energy samples made negative.
    """

    def __init__(
        self,
        spec: FleetSpec,
        *,
        seed: int,
        publish_delay: float,
        now: Callable[[], float],
        soe_scale: str = "fraction",
        negative_storage_energy: float = 0.0,
    ) -> None:
        self.spec = spec
        self.seed = seed
        self.publish_delay = publish_delay
        self.soe_scale = soe_scale
        self.negative_storage_energy = negative_storage_energy
        self._now = now
        self._key_index = {k: i for i, k in enumerate(spec.api_keys)}
        self.model: Callable[[int], SiteModel] = functools.lru_cache(maxsize=_SITE_CACHE)(
            self._derive
        )
        self._day: Callable[[int, int], Day] = functools.lru_cache(maxsize=_DAY_CACHE)(
            self._compute_day
        )
        self._sums: Callable[[int, int], tuple[int | None, ...]] = functools.lru_cache(
            maxsize=_SUMS_CACHE
        )(self._day_sums)

    # ----- sites and accounts -------------------------------------------------------

    def __len__(self) -> int:
        return self.spec.sites

    @property
    def api_keys(self) -> tuple[str, ...]:
        """The API keys of the fleet's accounts."""
        return self.spec.api_keys

    def _derive(self, index: int) -> SiteModel:
        s = self.spec
        return derive_site(
            index,
            seed=self.seed,
            first_site_id=s.first_site_id,
            api_keys=s.api_keys,
            meter_fraction=s.meter_fraction,
            battery_fraction=s.battery_fraction,
            alert_fraction=s.alert_fraction,
            zones=s.zones,
        )

    def site_id(self, index: int) -> int:
        """Return the site id of the site at ``index`` (0-based)."""
        return site_id_for(index, seed=self.seed, first_site_id=self.spec.first_site_id)

    def index_of(self, site_id: int) -> int | None:
        """Return the index of a site id, or ``None`` if no such site exists."""
        i = index_for(site_id, seed=self.seed, first_site_id=self.spec.first_site_id)
        return i if 0 <= i < self.spec.sites else None

    def model_for(self, site_id: int) -> SiteModel | None:
        """Return the internal model of a site, or ``None`` if it does not exist."""
        i = self.index_of(site_id)
        return None if i is None else self.model(i)

    def account_index(self, api_key: str) -> int | None:
        """Return the position of an account's key, or ``None`` if unknown."""
        return self._key_index.get(api_key)

    def account_size(self, api_key: str) -> int:
        """Return how many sites an account owns (0 for an unknown key)."""
        k = self._key_index.get(api_key)
        if k is None:
            return 0
        n_keys = len(self.spec.api_keys)
        return max(0, (self.spec.sites - k + n_keys - 1) // n_keys)

    def account_site_index(self, api_key: str, position: int) -> int:
        """Return the fleet index of the account's ``position``-th site (0-based)."""
        return self._key_index[api_key] + position * len(self.spec.api_keys)

    def sites_for(self, api_key: str) -> tuple[int, ...]:
        """Return the ids of the sites ``api_key``'s account owns, in list order.

        An unknown key owns no sites.
        """
        k = self._key_index.get(api_key)
        if k is None:
            return ()
        return tuple(self.site_id(i) for i in range(k, self.spec.sites, len(self.spec.api_keys)))

    def site(self, site_id: int) -> SiteTruth:
        """Return the ground truth of a site.

        Raises:
            KeyError: No site has this id.
        """
        m = self._require(site_id)
        return SiteTruth(
            site_id=m.site_id,
            index=m.index,
            name=m.name,
            installation_date=date.fromordinal(m.install_ordinal),
            timezone=m.tz,
            latitude=m.lat,
            longitude=m.lon,
            country=m.country,
            peak_power_kw=m.peak_kw,
            inverters=tuple(i.serial for i in m.inverters),
            optimizers=sum(i.optimizers for i in m.inverters),
            meters=tuple(x.serial for x in m.meters),
            meter_types=tuple(x.meter_type for x in m.meters),
            batteries=tuple(b.serial for b in m.batteries),
            activation_status=m.activation,
            account=m.account,
            account_id=m.account_id,
        )

    # ----- days -----------------------------------------------------------------------

    def _compute_day(self, index: int, ordinal: int) -> Day:
        m = self.model(index)
        return compute_day(m, day_grid(m.tz, ordinal))

    def day(self, m: SiteModel, ordinal: int) -> Day:
        """Return the (cached) computed day of a site."""
        return self._day(m.index, ordinal)

    def pv_total(self, m: SiteModel, ordinal: int) -> int | None:
        """Return a whole day's PV energy, Wh, without computing its quarter-hours."""
        start, end = day_bounds(m.tz, ordinal)
        return day_pv_total(m, ordinal, start, end)

    def _day_sums(self, index: int, ordinal: int) -> tuple[int | None, ...]:
        m = self.model(index)
        if not m.meters:
            return (self.pv_total(m, ordinal),) + (None,) * (N_FLOWS - 1)
        d = self.day(m, ordinal)
        out: list[int | None] = []
        for q in range(N_FLOWS):
            vals = [v for v in d.q[q] if v is not None]
            out.append(sum(vals) if vals else None)
        return tuple(out)

    def day_sums(self, m: SiteModel, ordinal: int) -> tuple[int | None, ...]:
        """Return the whole-day sums of the flows `PV` .. `IMPORT`, Wh (cached)."""
        return self._sums(m.index, ordinal)

    # ----- aggregation ----------------------------------------------------------------

    def measure(  # noqa: C901, PLR0912, PLR0915
        self,
        m: SiteModel,
        ws: float,
        we: float,
        resolution: str,
        *,
        getter: Getter,
        kind: Kind,
        now: float,
        stamp_end: bool = False,
        day_total: Callable[[int], float | None] | None = None,
    ) -> list[Point]:
        """Return the buckets of one series over ``[ws, we)``, as the API lists them.

        The window covers every quarter-hour that starts in ``[floor(ws), we)``;
        coarser buckets (HOUR..YEAR) aggregate those quarter-hours under the stamp of
        their site-local start, which may lie before ``ws``. A quarter-hour is
        published once it closed ``publish_delay`` seconds before ``now``; unpublished
        and missing values are ``None``. An hour is ``None`` until its last
        quarter-hour is published; DAY and coarser buckets are running totals of
        the published quarter-hours (``None`` only when they hold no value).

        Args:
            m: The site.
            ws: Window start, POSIX seconds.
            we: Window end (exclusive), POSIX seconds.
            resolution: One of the API's resolutions.
            getter: Returns a day's per-quarter-hour values of the series.
            kind: How a bucket combines its quarter-hours.
            now: The simulator's "now", POSIX seconds.
            stamp_end: Stamp quarter-hours and hours with their end (voltage,
                frequency).
            day_total: Optional O(1) whole-day total of the series (``sum`` only).

        Returns:
            ``(site-local ISO stamp, value or None)`` per bucket, in time order.
        """
        tz = m.tz
        q0 = int(ws // QH) * QH
        pub_limit = now - self.publish_delay - QH  # a quarter-hour s is out iff s <= this
        out: list[Point] = []
        end_off = 1 if stamp_end else 0
        if resolution == "QUARTER_HOUR":
            for ordinal, start, _n, k0, k1 in _day_spans(tz, q0, we):
                stamps = day_grid(tz, ordinal).stamps
                last = k0  # quarter-hours k0..last-1 are published
                if start <= pub_limit and ordinal >= m.install_ordinal:
                    last = max(k0, min(k1, int((pub_limit - start) // QH) + 1))
                if last > k0:
                    vals = getter(self.day(m, ordinal))
                    out.extend(
                        zip(stamps[k0 + end_off : last + end_off], vals[k0:last], strict=True)
                    )
                if last < k1:
                    out.extend(
                        zip(stamps[last + end_off : k1 + end_off], repeat(None), strict=False)
                    )
            return out

        total_sum = 0.0
        n_pub = 0
        n_val = 0
        stamp = ""

        def flush() -> None:
            if not stamp:
                return
            if n_val <= 0:
                out.append((stamp, None))
            elif kind == "sum":
                out.append((stamp, total_sum))
            elif kind == "power":
                out.append((stamp, round(total_sum / n_pub, 4)))
            else:
                out.append((stamp, round(total_sum / n_val, 4)))

        if resolution == "HOUR":
            cur: tuple[int, int] | None = None
            for ordinal, start, n, k0, k1 in _day_spans(tz, q0, we):
                grid = day_grid(tz, ordinal)
                live = start <= pub_limit and ordinal >= m.install_ordinal
                hvals = getter(self.day(m, ordinal)) if live else None
                offsets = grid.offsets
                for k in range(k0, k1):
                    s = start + k * QH
                    h0 = k - ((s + offsets[k]) % 3600) // QH
                    if (ordinal, h0) != cur:
                        flush()
                        cur = (ordinal, h0)
                        stamp = grid.stamps[min(n, h0 + 4) if stamp_end else max(0, h0)]
                        total_sum, n_pub, n_val = 0.0, 0, 0
                        # An hour still open (or not yet published) is null as a whole.
                        hour_end = start + min(n, h0 + 4) * QH
                        if hour_end - QH > pub_limit:
                            n_val = -1
                    if n_val < 0:
                        continue
                    if hvals is not None and s <= pub_limit:
                        n_pub += 1
                        v = hvals[k]
                        if v is not None:
                            total_sum += v
                            n_val += 1
            flush()
            return out

        # Calendar buckets: DAY, WEEK, MONTH, YEAR and TOTAL.
        bucket: int | None = None
        for ordinal, start, n, k0, k1 in _day_spans(tz, q0, we):
            if resolution == "TOTAL":
                key = -1
                if bucket is None:
                    stamp = iso_local(start + k0 * QH, zone(tz))
            else:
                key = bucket_start_ordinal(ordinal, resolution)
            if key != bucket:
                if resolution != "TOTAL":
                    flush()
                    stamp = iso_local(day_bounds(tz, key)[0], zone(tz))
                    total_sum, n_pub, n_val = 0.0, 0, 0
                bucket = key
            if start <= pub_limit and ordinal >= m.install_ordinal:
                full = k0 == 0 and k1 == n and start + (n - 1) * QH <= pub_limit
                t = day_total(ordinal) if full and day_total is not None else None
                if t is not None:
                    total_sum += t
                    n_pub += n
                    n_val += 1
                else:
                    vals = getter(self.day(m, ordinal))
                    last = _published_end(start, k1, pub_limit)
                    n_pub += max(0, last - k0)
                    for v in vals[k0:last]:
                        if v is not None:
                            total_sum += v
                            n_val += 1
        flush()
        return out

    def window_sums(
        self, m: SiteModel, ws: float, we: float, *, now: float, flows: int = N_FLOWS
    ) -> list[int | None]:
        """Return the sums of the flows `PV` .. `IMPORT` over a window, Wh.

        A flow is ``None`` when the window holds no value of it (for example no meter).
        The sums equal the sums of the quarter-hour buckets `measure` lists. Only the
        first ``flows`` flows are summed (``1``: production only, which is cheap).
        """
        tz = m.tz
        q0 = int(ws // QH) * QH
        pub_limit = now - self.publish_delay - QH
        sums = [0] * N_FLOWS
        seen = [False] * N_FLOWS
        wanted = range(flows if m.meters else 1)
        for ordinal, start, n, k0, k1 in _day_spans(tz, q0, we):
            if start > pub_limit or ordinal < m.install_ordinal:
                continue
            if k0 == 0 and k1 == n and start + (n - 1) * QH <= pub_limit:
                day_s = (
                    self.day_sums(m, ordinal) if len(wanted) > 1 else (self.pv_total(m, ordinal),)
                )
                for q in wanted:
                    t = day_s[q]
                    if t is not None:
                        sums[q] += t
                        seen[q] = True
            else:
                d = self.day(m, ordinal)
                last = _published_end(start, k1, pub_limit)
                for q in wanted:
                    vals = [v for v in d.q[q][k0:last] if v is not None]
                    if vals:
                        sums[q] += sum(vals)
                        seen[q] = True
        return [sums[q] if seen[q] else None for q in range(N_FLOWS)]

    # ----- ground truth in datetimes --------------------------------------------------

    def _window(
        self, m: SiteModel, start: datetime | None, end: datetime | None, now: float
    ) -> tuple[float, float]:
        tz = zone(m.tz)
        if start is None:
            ws = float(day_bounds(m.tz, local_ordinal(now, tz))[0])
        else:
            ws = (start if start.tzinfo else start.replace(tzinfo=tz)).timestamp()
        we = now if end is None else (end if end.tzinfo else end.replace(tzinfo=tz)).timestamp()
        return ws, we

    def _series(
        self,
        m: SiteModel,
        window: tuple[datetime | None, datetime | None],
        resolution: str,
        *,
        getter: Getter,
        kind: Kind,
        stamp_end: bool = False,
        day_total: Callable[[int], float | None] | None = None,
    ) -> list[tuple[datetime, float | None]]:
        """Return `measure`'s buckets over a ground-truth window, stamps as datetimes."""
        now = self._now()
        ws, we = self._window(m, window[0], window[1], now)
        pts = self.measure(
            m,
            ws,
            we,
            resolution,
            getter=getter,
            kind=kind,
            now=now,
            stamp_end=stamp_end,
            day_total=day_total,
        )
        return [(datetime.fromisoformat(s), None if v is None else float(v)) for s, v in pts]

    def energy(
        self,
        site_id: int,
        start: datetime | None = None,
        end: datetime | None = None,
        resolution: str = "QUARTER_HOUR",
    ) -> list[tuple[datetime, float | None]]:
        """Return the expected ``/energy`` buckets of a site, Wh.

        Naive datetimes are site-local; ``None`` bounds mean local midnight and now,
        like the API's default window. No span caps apply.

        Raises:
            KeyError: No site has this id.
        """
        m = self._require(site_id)
        return self._series(
            m,
            (start, end),
            resolution,
            getter=_site_pv,
            kind="sum",
            day_total=functools.partial(self.pv_total, m),
        )

    def power(
        self,
        site_id: int,
        start: datetime | None = None,
        end: datetime | None = None,
        resolution: str = "QUARTER_HOUR",
    ) -> list[tuple[datetime, float | None]]:
        """Return the expected ``/power`` buckets of a site, W (sub-daily resolutions).

        Raises:
            KeyError: No site has this id.
            ValueError: A resolution coarser than an hour.
        """
        if resolution not in _SUBDAILY:
            raise ValueError("power has quarter-hour and hourly buckets only")
        m = self._require(site_id)
        return self._series(m, (start, end), resolution, getter=_site_power, kind="power")

    def overview(
        self, site_id: int, start: datetime | None = None, end: datetime | None = None
    ) -> dict[str, float | None]:
        """Return the expected overview totals of a window (default: today so far), Wh.

        Keys: ``production``, ``consumption``, ``self_consumption``, ``to_storage``,
        ``to_grid``, ``from_storage``, ``from_grid``; ``None`` where the site has no
        meter or battery.

        Raises:
            KeyError: No site has this id.
        """
        m = self._require(site_id)
        now = self._now()
        ws, we = self._window(m, start, end, now)
        s = self.window_sums(m, ws, we, now=now)

        def f(q: int) -> float | None:
            v = s[q]
            return None if v is None else float(v)

        production = f(PV)
        if production is None and we > day_bounds(m.tz, m.install_ordinal)[0]:
            production = 0.0
        return {
            "production": production,
            "consumption": f(LOAD),
            "self_consumption": f(SELF),
            "to_storage": f(CHARGE),
            "to_grid": f(EXPORT),
            "from_storage": f(DISCHARGE),
            "from_grid": f(IMPORT),
        }

    def telemetry(
        self,
        site_id: int,
        serial: str,
        metric: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        resolution: str = "QUARTER_HOUR",
    ) -> list[tuple[datetime, float | None]]:
        """Return the expected series of one device metric (as bulk telemetry lists it).

        Values are in the metric's base unit: W, Wh, V, A, Hz, fraction or percent.

        Args:
            site_id: The site.
            serial: An inverter, meter or battery serial of that site.
            metric: The camelCase metric (``power``, ``energy``, ``voltage``,
                ``importPower``, ``stateOfEnergy``, ...).
            start: Window start (naive: site-local; ``None``: local midnight).
            end: Window end (``None``: now).
            resolution: Any resolution the metric supports.

        Raises:
            KeyError: Unknown site, serial, or a metric the device does not report.
        """
        from solaredge_async.testing._devices import (  # noqa: PLC0415 - avoids a cycle
            END_STAMPED,
            FAMILY_METRICS,
            device_getter,
        )

        m = self._require(site_id)
        where = {
            **{d.serial: ("inverters", i) for i, d in enumerate(m.inverters)},
            **{d.serial: ("meters", i) for i, d in enumerate(m.meters)},
            **{d.serial: ("storage", i) for i, d in enumerate(m.batteries)},
        }
        family, index = where[serial]
        spec = FAMILY_METRICS[family][metric]
        getter = device_getter(
            m,
            family,
            index,
            metric,
            soe_scale=self.soe_scale,
            negative_rate=self.negative_storage_energy,
        )
        return self._series(
            m,
            (start, end),
            resolution,
            getter=getter,
            kind=spec.kind,
            stamp_end=metric in END_STAMPED,
        )

    def day_energy(self, site_id: int, day: date) -> float | None:
        """Return a whole site-local day's PV energy, Wh (``None`` before installation).

        Raises:
            KeyError: No site has this id.
        """
        m = self._require(site_id)
        t = self.pv_total(m, day.toordinal())
        return None if t is None else float(t)

    def _require(self, site_id: int) -> SiteModel:
        m = self.model_for(site_id)
        if m is None:
            raise KeyError(site_id)
        return m

    def now(self) -> datetime:
        """Return the simulator's "now" as an aware UTC datetime."""
        return datetime.fromtimestamp(self._now(), UTC)


def _day_spans(tz: str, q0: int, we: float) -> Iterator[tuple[int, int, int, int, int]]:
    """Yield ``(ordinal, start, n, k0, k1)`` for each site-local day a window touches.

    ``start`` is the day's first instant (POSIX seconds), ``n`` its quarter-hours, and
    quarter-hours ``k0 .. k1 - 1`` lie in the window that starts at the quarter-hour
    ``q0`` and ends (exclusive) at ``we``.
    """
    ordinal = local_ordinal(q0, zone(tz))
    while True:
        start, end = day_bounds(tz, ordinal)
        if start >= we:
            return
        n = (end - start) // QH
        k0 = max(0, (q0 - start) // QH)
        k1 = min(n, math.ceil((we - start) / QH))
        if k0 < k1:
            yield ordinal, start, n, k0, k1
        ordinal += 1


def _published_end(start: int, k1: int, pub_limit: float) -> int:
    """Return the end (exclusive) of a day's quarter-hours before ``k1`` published by ``pub_limit``.

    ``start`` is the day's first instant; quarter-hour ``k`` is published once its start,
    ``start + k * QH``, is at most ``pub_limit`` (POSIX seconds).
    """
    return min(k1, int((pub_limit - start) // QH) + 1)


def _site_pv(d: Day) -> Sequence[float | None]:
    return d.q[PV]


def _site_power(d: Day) -> Sequence[float | None]:
    return d.pv_power
