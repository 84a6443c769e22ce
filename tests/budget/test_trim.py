"""Exactly the window asked for, whatever bucket the server adds at ``to``."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.budget._support import ZONE, make_client, make_sim, sites

pytestmark = pytest.mark.anyio

DAY = date(2026, 5, 10)
TZ = ZoneInfo(ZONE)
START = datetime(2026, 5, 10, tzinfo=TZ)
END = datetime(2026, 5, 11, tzinfo=TZ)


async def test_the_server_lists_the_bucket_at_to_and_the_client_drops_it() -> None:
    """Raw: 97 quarter-hours (the next midnight's too); through the client: 96, in the day."""
    sim = make_sim(cap_hours=24, include_bucket_at_to=True)
    site = sites(sim)[0]
    async with make_client(sim) as client:
        raw = await client.get(
            f"/sites/{site}/energy",
            {"from": "2026-05-10T00:00:00", "to": "2026-05-11T00:00:00"},
        )
        m = await client.site_energy(site, start=DAY, end=DAY)
        hours = await client.site_energy(site, start=DAY, end=DAY, resolution="HOUR")
    assert isinstance(raw, dict)
    values = raw["values"]
    assert isinstance(values, list)
    assert len(values) == 97
    assert len(m.values) == 96
    assert m.timestamps[0] == START
    assert m.timestamps[-1] == END - timedelta(minutes=15)
    assert all(START <= t < END for t in m.timestamps)
    assert len(hours.values) == 24
    assert all(START <= t < END for t in hours.timestamps)


async def test_split_windows_are_trimmed_at_the_outer_end_only() -> None:
    """On a 12 h server each piece gets one extra bucket: the seam one is the next piece's."""
    sim = make_sim(cap_hours=12, include_bucket_at_to=True)
    site = sites(sim)[0]
    async with make_client(sim, probe_caps=False) as client:
        m = await client.site_energy(site, start=DAY, end=DAY + timedelta(days=1))
    assert len(m.values) == 2 * 96
    assert len(set(m.timestamps)) == len(m.timestamps)
    assert max(m.timestamps) == END + timedelta(days=1) - timedelta(minutes=15)


async def test_end_stamped_series_keep_the_bucket_ending_at_to() -> None:
    """Telemetry voltage stamps mark the bucket end: kept in (start, end]; power in [start, end)."""
    sim = make_sim(cap_hours=24, include_bucket_at_to=True)
    site = sites(sim)[0]
    async with make_client(sim) as client:
        tel = await client.telemetry("inverters", site, start=DAY, end=DAY)
    assert tel.devices
    for metrics in tel.devices.values():
        power, voltage = metrics["power"], metrics["voltage"]
        assert len(power.timestamps) == len(voltage.timestamps) == 96
        assert all(START <= t < END for t in power.timestamps)
        assert all(START < t <= END for t in voltage.timestamps)


async def test_calendar_buckets_may_start_before_the_window() -> None:
    """A YEAR bucket starts on 1 January, before a window from 10 May: kept."""
    sim = make_sim(include_bucket_at_to=True)
    site = sites(sim)[0]
    async with make_client(sim) as client:
        years = await client.site_energy(site, start=DAY, end=DAY, resolution="YEAR")
        days = await client.site_energy(site, start=DAY, end=DAY, resolution="DAY")
    assert years.timestamps == (datetime(2026, 1, 1, tzinfo=TZ),)
    assert days.timestamps == (START,)  # the 11 May bucket at `to` is dropped
