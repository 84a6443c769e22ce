"""The stores: schema, upserts, watermarks, attempts, runs, sites (SQLite and PostgreSQL)."""

from __future__ import annotations

import socket
import sqlite3
from datetime import UTC, datetime, timedelta, timezone

import anyio
import anyio.to_thread
import pytest

from solaredge_async.errors import ConfigurationError, SolarEdgeError
from solaredge_async.models import Location, Site
from solaredge_async.store import (
    MIGRATIONS,
    Attempt,
    InvalidRowError,
    ItemKey,
    MeasurementRow,
    Migration,
    RunTotals,
    SchemaVersionError,
    StoreError,
    StoreURLError,
    WatermarkAdvance,
    open_store,
    redact_url,
)

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 6, 1, tzinfo=UTC)
ITEM = ItemKey(site_id=7, target="site_energy", resolution="QUARTER_OF_AN_HOUR")


def exec_write(store, sql, params):
    """Run one statement in a write transaction of ``store``'s connection."""

    def run():
        with store._backend.transaction() as cur:
            store._backend._exec(cur, sql, params)

    return store._call(run)


def rows(n=4, *, site_id=7, value=1.0, start=T0, metric="energy", unit="Wh"):
    """``n`` quarter-hour rows of site 7 from ``start``, values ``value``, ``value + 1``..."""
    return [
        MeasurementRow(
            site_id=site_id,
            device_serial="",
            source="site_energy",
            metric=metric,
            resolution="QUARTER_OF_AN_HOUR",
            period_start=start + timedelta(minutes=15 * i),
            period_end=start + timedelta(minutes=15 * (i + 1)),
            value=value + i,
            unit=unit,
        )
        for i in range(n)
    ]


async def test_open_migrates_once_and_reopens(store_url):
    """A new store is at the latest schema; opening again applies nothing twice."""
    async with open_store(store_url) as store:
        assert await store.schema_version() == MIGRATIONS[-1].version
        await store.commit_batch(rows(2))
    async with open_store(store_url) as store:
        assert await store.schema_version() == MIGRATIONS[-1].version
        assert await store.count_measurements() == 2


async def test_newer_schema_is_a_clear_error(store_url):
    """A database migrated by newer code refuses to open."""
    async with open_store(store_url) as store:
        await exec_write(
            store,
            "INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)",
            (999, "from the future", "2030-01-01"),
        )
    with pytest.raises(SchemaVersionError, match="999"):
        async with open_store(store_url):
            pass


async def test_failed_migration_leaves_the_previous_version(store_url):
    """A migration that fails is rolled back whole, its version unrecorded."""
    bad = Migration(
        version=MIGRATIONS[-1].version + 1,
        description="broken",
        sqlite=("CREATE TABLE extra (x INTEGER)", "NOT SQL"),
        postgresql=("CREATE TABLE extra (x INTEGER)", "NOT SQL"),
    )
    async with open_store(store_url) as store:
        with pytest.raises(StoreError):
            await store._call(store._backend.migrate, (*MIGRATIONS, bad))
        assert await store.schema_version() == MIGRATIONS[-1].version
        with pytest.raises(StoreError):
            await exec_write(store, "INSERT INTO extra VALUES (1)", ())


async def test_upsert_counts_and_idempotence(store_url):
    """First insert, unchanged re-upsert, one changed value, nulls skipped."""
    async with open_store(store_url) as store:
        first = await store.commit_batch(rows(4))
        assert (first.inserted, first.updated, first.unchanged) == (4, 0, 0)
        again = await store.commit_batch(rows(4))
        assert (again.inserted, again.updated, again.unchanged) == (0, 0, 4)
        changed = [*rows(3), *rows(1, value=99.0, start=T0 + timedelta(minutes=45))]
        third = await store.commit_batch(changed)
        assert (third.inserted, third.updated, third.unchanged) == (0, 1, 3)
        unit = await store.commit_batch(rows(1, unit="kWh"))
        assert (unit.updated, unit.unchanged) == (1, 0)
        null = rows(2, start=T0 + timedelta(days=1))
        null[0] = MeasurementRow(**{**_fields(null[0]), "value": None})
        null[1] = MeasurementRow(**{**_fields(null[1]), "value": float("nan")})
        skipped = await store.commit_batch(null)
        assert (skipped.inserted, skipped.skipped) == (0, 2)
        assert await store.count_measurements() == 4
        got = await store.measurements(7, start=T0, end=T0 + timedelta(days=2))
        assert [r.value for r in got] == [1.0, 2.0, 3.0, 99.0]
        assert got[0].unit == "kWh"


def _fields(row):
    return {
        name: getattr(row, name)
        for name in (
            "site_id",
            "device_serial",
            "source",
            "metric",
            "resolution",
            "period_start",
            "period_end",
            "value",
            "unit",
        )
    }


async def test_duplicate_keys_in_a_batch_keep_the_last(store_url):
    """A key twice in one batch is stored once, with its last value."""
    async with open_store(store_url) as store:
        result = await store.commit_batch([*rows(1, value=1.0), *rows(1, value=2.0)])
        assert (result.inserted, result.unchanged) == (1, 0)
        (row,) = await store.measurements(7, start=T0, end=T0 + timedelta(hours=1))
        assert row.value == 2.0


async def test_instants_are_utc_and_ordered(store_url):
    """Offsets are normalised to UTC, read back aware, and range reads compare as time."""
    plus2 = timezone(timedelta(hours=2))
    local = [
        MeasurementRow(**{**_fields(r), "period_start": r.period_start.astimezone(plus2)})
        for r in rows(3, start=T0 + timedelta(hours=23))
    ]
    async with open_store(store_url) as store:
        await store.commit_batch(local)
        got = await store.measurements(
            7, start=T0 + timedelta(hours=23, minutes=15), end=T0 + timedelta(days=2)
        )
        assert [r.period_start for r in got] == [
            T0 + timedelta(hours=23, minutes=15),
            T0 + timedelta(hours=23, minutes=30),
        ]
        assert all(r.period_start.tzinfo == UTC for r in got)


async def test_sqlite_text_instants_have_one_fixed_format(sqlite_url):
    """SQLite stores YYYY-MM-DDTHH:MM:SSZ text, so text order is time order."""
    async with open_store(sqlite_url) as store:
        await store.commit_batch(rows(2))
    path = sqlite_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        got = conn.execute("SELECT period_start, period_end FROM measurements").fetchall()
    assert got == [
        ("2026-06-01T00:00:00Z", "2026-06-01T00:15:00Z"),
        ("2026-06-01T00:15:00Z", "2026-06-01T00:30:00Z"),
    ]


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"period_start": datetime(2026, 6, 1)}, "naive"),
        ({"period_end": T0 - timedelta(minutes=15)}, "before"),
        ({"period_start": T0 + timedelta(microseconds=5)}, "fraction"),
        ({"metric": ""}, "metric"),
        ({"value": float("inf")}, "finite"),
        ({"site_id": "7"}, "site_id"),
    ],
)
async def test_a_bad_row_fails_its_own_batch_only(store_url, change, match):
    """Batches before and after a bad one commit; the bad one writes nothing."""
    async with open_store(store_url) as store:
        await store.commit_batch(
            rows(2), watermarks=[WatermarkAdvance(item=ITEM, complete_until=T0)]
        )
        bad = [*rows(2, start=T0 + timedelta(days=1))]
        bad.append(MeasurementRow(**{**_fields(rows(1)[0]), **change}))
        with pytest.raises(InvalidRowError, match=match) as caught:
            await store.commit_batch(
                bad,
                watermarks=[WatermarkAdvance(item=ITEM, complete_until=T0 + timedelta(days=2))],
            )
        assert isinstance(caught.value, SolarEdgeError)
        await store.commit_batch(rows(2, start=T0 + timedelta(days=3)))
        assert await store.count_measurements() == 4
        (state,) = await store.watermarks()
        assert state.complete_until == T0


async def test_a_database_error_rolls_back_rows_and_watermarks(store_url):
    """A row the database itself refuses undoes the whole batch, watermark included."""
    async with open_store(store_url) as store:
        good = rows(2)
        # A trigger-free way to make the database refuse: a CHECK the validator allows
        # past is impossible, so drop the table the batch writes to.
        await exec_write(store, "DROP TABLE measurements", ())
        with pytest.raises(StoreError):
            await store.commit_batch(
                good, watermarks=[WatermarkAdvance(item=ITEM, complete_until=T0)]
            )
        assert await store.watermarks() == ()


async def test_watermarks_never_move_backwards_unless_reset(store_url):
    """Advances move forward only; reset_watermarks moves back explicitly."""
    day = timedelta(days=1)
    async with open_store(store_url) as store:
        r1 = await store.commit_batch(
            [], watermarks=[WatermarkAdvance(item=ITEM, complete_until=T0 + 2 * day)]
        )
        r2 = await store.commit_batch(
            [], watermarks=[WatermarkAdvance(item=ITEM, complete_until=T0 + day)]
        )
        assert (r1.watermarks_moved, r2.watermarks_moved) == (1, 0)
        (state,) = await store.watermarks(site_ids=[7], targets=["site_energy"])
        assert state.complete_until == T0 + 2 * day
        assert state.last_error is None
        assert state.attempts == 2
        assert await store.reset_watermarks([ITEM], to=T0) == 1
        (state,) = await store.watermarks()
        assert state.complete_until == T0
        await store.reset_watermarks([ITEM], to=None)
        (state,) = await store.watermarks()
        assert state.complete_until is None
        assert await store.watermarks(site_ids=[8]) == ()
        assert await store.watermarks(targets=[]) == ()


async def test_attempts_record_errors_and_successes(store_url):
    """A failed attempt keeps its error until a success clears it."""
    at = T0 + timedelta(hours=1)
    async with open_store(store_url) as store:
        await store.record_attempts([Attempt(item=ITEM, at=at, error="HTTP 500")])
        (state,) = await store.watermarks()
        assert (state.last_error, state.last_attempt_at, state.last_success_at) == (
            "HTTP 500",
            at,
            None,
        )
        await store.record_attempts([Attempt(item=ITEM, at=at + timedelta(hours=1))])
        (state,) = await store.watermarks()
        assert state.last_error is None
        assert state.last_success_at == at + timedelta(hours=1)
        assert state.attempts == 2
        with pytest.raises(InvalidRowError, match="naive"):
            await store.record_attempts([Attempt(item=ITEM, at=datetime(2026, 1, 1))])


async def test_runs_start_and_finish(store_url):
    """A run records its start, then its counters and end."""
    async with open_store(store_url) as store:
        run_id = await store.start_run(now=T0)
        totals = RunTotals(
            credits=12, succeeded=5, failed=1, not_attempted=2, rate_limited=3, rows=480
        )
        await store.finish_run(run_id, totals, now=T0 + timedelta(minutes=5))
        second = await store.start_run(now=T0 + timedelta(hours=1))
        assert second > run_id
        first, running = await store.runs()
        assert first.totals == totals
        assert first.finished_at == T0 + timedelta(minutes=5)
        assert running.finished_at is None
        with pytest.raises(StoreError, match="no run"):
            await store.finish_run(second + 100)


async def test_sites_upsert_and_read(store_url):
    """Sites keep their zone, peak power and address; a second upsert updates."""
    site = Site(
        site_id=7,
        name="Roof",
        peak_power=9.8,
        location=Location(city="Berlin", timezone="Europe/Berlin"),
        activation_status="ACTIVE",
        installation_date=datetime(2020, 5, 1, tzinfo=timezone(timedelta(hours=2))),
    )
    async with open_store(store_url) as store:
        assert await store.upsert_sites([site, Site(site_id=8)], now=T0) == 2
        await store.upsert_sites([Site(site_id=8, name="Barn")], now=T0)
        roof, barn = await store.sites()
    assert (roof.zone, roof.peak_power_kw, roof.activation_status) == (
        "Europe/Berlin",
        9.8,
        "ACTIVE",
    )
    assert roof.installation_date == "2020-05-01T00:00:00+02:00"
    assert '"city": "Berlin"' in (roof.location or "")
    assert roof.updated_at == T0
    assert barn.name == "Barn"


async def test_url_errors():
    """Unknown schemes and path-less SQLite URLs are configuration errors."""
    with pytest.raises(StoreURLError, match="scheme") as caught:
        async with open_store("mysql://u:secret@h/db"):
            pass
    assert "secret" not in str(caught.value)
    assert isinstance(caught.value, ConfigurationError)
    with pytest.raises(StoreURLError, match="path"):
        async with open_store("sqlite://"):
            pass


def test_redact_url():
    """Passwords never appear in a store's URL or repr."""
    assert redact_url("postgresql://u:pw@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert redact_url("postgresql://u@h/db") == "postgresql://u@h/db"


async def test_closed_store_refuses_use(sqlite_url):
    """A store used after its block ends says so."""
    async with open_store(sqlite_url) as store:
        pass
    with pytest.raises(StoreError, match="closed"):
        await store.count_measurements()
    await store.aclose()


async def test_cancelled_commit_leaves_a_whole_batch_or_none(store_url):
    """Cancelling a commit lets its transaction finish: all rows or none, never some."""
    async with open_store(store_url) as store:
        with anyio.move_on_after(0):
            await store.commit_batch(
                rows(200), watermarks=[WatermarkAdvance(item=ITEM, complete_until=T0)]
            )
        count = await store.count_measurements()
        states = await store.watermarks()
        assert (count, len(states)) in {(0, 0), (200, 1)}
        result = await store.commit_batch(rows(200))
        assert result.inserted + result.unchanged == 200


async def test_a_later_migration_applies_once_on_top(store_url):
    """A database at the latest version takes a new migration once, keeping its rows."""
    nxt = MIGRATIONS[-1].version + 1
    v2 = Migration(
        version=nxt,
        description="an index",
        sqlite=("CREATE INDEX m_by_metric ON measurements (metric)",),
        postgresql=("CREATE INDEX m_by_metric ON measurements (metric)",),
    )
    async with open_store(store_url) as store:
        await store.commit_batch(rows(2))
        assert await store._call(store._backend.migrate, (*MIGRATIONS, v2)) == nxt
        assert await store._call(store._backend.migrate, (*MIGRATIONS, v2)) == nxt
        assert await store.schema_version() == nxt
        assert await store.count_measurements() == 2


async def test_concurrent_first_opens_migrate_once(store_url):
    """Several connections opening a new store at once all see one complete schema."""
    versions = []

    async def open_one():
        async with open_store(store_url, busy_timeout=30.0) as store:
            versions.append(await store.schema_version())

    async with anyio.create_task_group() as tg:
        for _ in range(4):
            tg.start_soon(open_one)
    assert versions == [MIGRATIONS[-1].version] * 4


async def test_unreachable_postgres_is_a_clear_error_without_the_password():
    """A server that refuses the connection raises StoreUnavailableError, password hidden."""
    pytest.importorskip("psycopg")
    from solaredge_async.store import StoreUnavailableError

    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql://user:hunter2secret@127.0.0.1:{port}/db"
    with pytest.raises(StoreUnavailableError, match="cannot connect") as caught:
        async with open_store(url, connect_timeout=2):
            pass
    assert "hunter2secret" not in str(caught.value)


async def test_sqlite_relative_and_absolute_paths(tmp_path, monkeypatch):
    """``sqlite:///name.db`` is relative to the working directory, ``sqlite:////x`` absolute."""
    monkeypatch.chdir(tmp_path)
    async with open_store("sqlite:///sub/rel.db") as store:
        await store.commit_batch(rows(1))
    assert (tmp_path / "sub" / "rel.db").is_file()
    async with open_store(f"sqlite:///{tmp_path / 'sub' / 'rel.db'}") as store:
        assert await store.count_measurements() == 1
        assert repr(store).startswith("<Store sqlite:///")
        assert store.dialect == "sqlite"
