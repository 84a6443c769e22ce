"""Properties of upserts, and PostgreSQL ending with the same rows as SQLite.

Any sequence of batches leaves the last value of every key, with insert and update
counts that add up batch by batch.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solaredge_async.store import MeasurementRow, open_store

T0 = datetime(2026, 6, 1, tzinfo=UTC)

_row = st.builds(
    lambda site, serial, metric, slot, value, unit: MeasurementRow(
        site_id=site,
        device_serial=serial,
        source="inverter" if serial else "site_power",
        metric=metric,
        resolution="QUARTER_OF_AN_HOUR",
        period_start=T0 + timedelta(minutes=15 * slot),
        period_end=T0 + timedelta(minutes=15 * (slot + 1)),
        value=value,
        unit=unit,
    ),
    st.integers(1, 3),
    st.sampled_from(["", "7E1-A"]),
    st.sampled_from(["power", "energy"]),
    st.integers(0, 5),
    st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False), st.integers(-5, 5)),
    st.sampled_from(["W", "Wh", None]),
)


def _key(row):
    return (
        row.site_id,
        row.device_serial,
        row.source,
        row.metric,
        row.resolution,
        row.period_start,
    )


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(batches=st.lists(st.lists(_row, max_size=12), max_size=5))
def test_batches_leave_the_last_value_of_every_key(tmp_path_factory, batches):
    """The stored rows equal a dict updated batch by batch; counts add up per batch."""
    url = f"sqlite:///{tmp_path_factory.mktemp('prop') / 'p.db'}"
    model: dict[tuple, MeasurementRow] = {}

    async def run():
        async with open_store(url) as store:
            for batch in batches:
                expected_new = expected_changed = 0
                staged: dict[tuple, MeasurementRow] = {}
                for row in batch:
                    if row.value is not None:
                        staged[_key(row)] = row
                for key, row in staged.items():
                    old = model.get(key)
                    if old is None:
                        expected_new += 1
                    elif (old.value, old.unit, old.period_end) != (
                        float(row.value),
                        row.unit,
                        row.period_end,
                    ):
                        expected_changed += 1
                    model[key] = row
                result = await store.commit_batch(batch)
                assert (result.inserted, result.updated) == (expected_new, expected_changed)
                assert result.unchanged == len(staged) - expected_new - expected_changed
                assert result.skipped == sum(r.value is None for r in batch)
            stored = []
            for site in (1, 2, 3):
                stored.extend(await store.measurements(site, start=T0, end=T0 + timedelta(days=1)))
            return stored

    stored = anyio.run(run)
    assert {_key(r): (r.value, r.unit) for r in stored} == {
        k: (float(r.value), r.unit) for k, r in model.items()
    }


@pytest.mark.anyio
async def test_postgres_and_sqlite_end_with_the_same_rows(sqlite_url, postgres_url):
    """The same batches give the same rows in both dialects."""
    batches = [
        [_fixed(site, slot, float(slot)) for site in (1, 2) for slot in range(8)],
        [_fixed(1, slot, 10.0 + slot) for slot in range(4, 12)],
        [_fixed(2, 3, None)],
    ]
    got = []
    for url in (sqlite_url, postgres_url):
        async with open_store(url) as store:
            for batch in batches:
                await store.commit_batch(batch)
            got.append(
                [
                    *await store.measurements(1, start=T0, end=T0 + timedelta(days=1)),
                    *await store.measurements(2, start=T0, end=T0 + timedelta(days=1)),
                ]
            )
    assert got[0] == got[1]
    assert len(got[0]) == 12 + 8


def _fixed(site, slot, value):
    return MeasurementRow(
        site_id=site,
        device_serial="",
        source="site_energy",
        metric="energy",
        resolution="QUARTER_OF_AN_HOUR",
        period_start=T0 + timedelta(minutes=15 * slot),
        period_end=T0 + timedelta(minutes=15 * (slot + 1)),
        value=value,
        unit="Wh",
    )
