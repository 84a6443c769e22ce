"""Type-checked only (mypy --strict): the public API as a user writes it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from solaredge_async import (
    Measurements,
    QuotaExhaustedError,
    RateLimiter,
    RetryPolicy,
    Site,
    SolarEdgeClient,
    Telemetry,
    Usage,
    WindowCaps,
)

if TYPE_CHECKING:
    from datetime import date, datetime


async def fleet_day(client: SolarEdgeClient, day: date) -> list[tuple[int, float | None]]:
    """Sum each site's energy for a day."""
    totals: list[tuple[int, float | None]] = []
    async for site in client.sites():
        s: Site = site
        energy: Measurements = await client.site_energy(s.site_id, start=day, end=day)
        known = [v for v in energy.values if v is not None]
        totals.append((s.site_id, sum(known) if known else None))
    return totals


async def one_inverter(client: SolarEdgeClient, site_id: int, serial: str) -> datetime | None:
    """The last voltage stamp of one inverter."""
    volts = await client.device_metric(site_id, serial, "inverter_voltage", resolution="HOUR")
    telemetry: Telemetry = await client.telemetry("inverters", site_id)
    _ = telemetry.devices.get(serial, {})
    return volts.timestamps[-1] if volts.timestamps else None


async def configured() -> Usage:
    """Every option a service would set."""
    limiter = RateLimiter(10, burst=1)
    async with SolarEdgeClient(
        api_key="k",
        rate_limiter=limiter,
        max_concurrency=3,
        retry=RetryPolicy(max_attempts=3, deadline=60.0),
        window_caps=WindowCaps(),
        split_windows=False,
    ) as client:
        try:
            await client.site(1)
        except QuotaExhaustedError as exc:
            _ = exc.remaining
            client.reset_quota()
        return client.usage


async def sweep_yesterday(client: SolarEdgeClient) -> tuple[int, int]:
    """Plan, price and stream a sweep; count rows and failures."""
    from solaredge_async import (
        YESTERDAY,
        ItemFailed,
        ItemSucceeded,
        SweepSpec,
        flat_rows,
        plan_sweep,
        sweep,
    )

    plan = await plan_sweep(
        client, SweepSpec(what={"overview", "energy"}, start=YESTERDAY, end=YESTERDAY)
    )
    seconds: float = plan.duration()
    rows = failures = 0
    async with sweep(client, plan) as results:
        async for result in results:
            if isinstance(result, ItemSucceeded):
                rows += sum(1 for row in flat_rows(result) if row.value is not None)
            elif isinstance(result, ItemFailed):
                failures += 1
    return rows + int(seconds) * 0, failures


async def typed_literals(client: SolarEdgeClient, site_id: int, serial: str) -> None:
    """Resolutions, device metrics and targets are Literal types: a typo is an error."""
    from solaredge_async import DeviceMetric, ResolutionName, SweepSpec, Target

    metric: DeviceMetric = "meter_import_power"
    resolution: ResolutionName = "HOUR"
    target: Target = "inverter_voltage"
    await client.device_metric(site_id, serial, metric, resolution=resolution)
    await client.site_energy(site_id, resolution="DAY")
    await client.telemetry("storage", site_id)
    _ = SweepSpec(what={target, "energy"}, resolution="DAY")
    _ = SweepSpec(what={"enrgy"})  # type: ignore[arg-type]
    _ = SweepSpec(what={"energy"}, resolution="DAILY")  # type: ignore[arg-type]
    await client.device_metric(site_id, serial, "inverter_volts")  # type: ignore[arg-type]
    await client.site_energy(site_id, resolution="DAILY")  # type: ignore[arg-type]
    await client.telemetry("batteries", site_id)  # type: ignore[arg-type]
    bad_target: Target = "inverter_telemetries"  # type: ignore[assignment]
    _ = bad_target


async def soe_percent() -> None:
    """The state-of-energy scale is a Literal setting."""
    async with SolarEdgeClient(api_key="k", state_of_energy="percent") as client:
        _ = client
    async with SolarEdgeClient(api_key="k", state_of_energy="0-100") as client:  # type: ignore[arg-type]
        _ = client


async def raw_get(client: SolarEdgeClient) -> None:
    """``get`` takes a list for a repeated parameter."""
    _ = await client.get("/sites/1/devices", {"types": ["INVERTER", "METER"]})
