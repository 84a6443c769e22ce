"""Sync a fleet into a database, incrementally: only what is missing, priced first.

Plan from the store's watermarks, then run::

    from solaredge_async import SolarEdgeClient
    from solaredge_async.store import open_store
    from solaredge_async.sync import SyncSpec, plan_sync, run_sync

    async with SolarEdgeClient(api_key=...) as client, open_store(
        "sqlite:///fleet.db", exclusive=True
    ) as store:
        spec = SyncSpec(what=("energy", "power"), since=date(2026, 5, 1))
        plan = await plan_sync(client, store, spec)  # discovery only: the site list
        print(plan.credits)                          # the price of what is missing
        report = await run_sync(client, store, plan)
        print(report.rows, report.credits, report.complete)

Over several credentials (API keys of several accounts, per-site OAuth grants), with
a `solaredge_async.fleet.ClientPool`: `plan_pool_sync` and `run_pool_sync` split the
sites over the credentials that see them and run each share on its own client, into
the same store.

Each item (site, target, resolution) has a watermark, ``complete_until``: every bucket
before it is stored whole. A run fetches from the watermark (from ``since`` the first
time) to the end of the last closed bucket, commits rows and the watermark advance in
one transaction per batch, and re-fetches buckets that ended within ``settle`` (2 h)
of now, because data arrive late. A second run right after the first spends only the
settle window; a failed item keeps its watermark, so the next run fills the gap.

Rows (table ``measurements``) follow the bucket-start convention: ``period_start`` is
the bucket's start for every metric (voltage and frequency, which the API stamps at the
bucket end, are normalised), ``period_end`` its end, both UTC (ISO 8601 text such as
``2026-05-11T09:45:00Z`` in SQLite, so they sort and compare as text; ``timestamptz``
in PostgreSQL). Buckets without data are not stored: completeness lives in
``sync_state`` (``complete_until`` per site, target and resolution). ``sites`` holds
each site's name, zone and peak power; ``runs`` each run's credits, items and outcome.

Querying the result
-------------------

sqlite3 (standard library; days here are UTC days, SQLite knows no time zones)::

    import sqlite3

    db = sqlite3.connect("fleet.db")
    for site, name, utc_day, kwh in db.execute(
        "SELECT m.site_id, s.name, substr(m.period_start, 1, 10) AS utc_day, "
        "sum(m.value) / 1000 FROM measurements m JOIN sites s USING (site_id) "
        "WHERE m.source = 'energy' AND m.unit = 'WH' "
        "GROUP BY m.site_id, utc_day ORDER BY m.site_id, utc_day"
    ):
        print(site, name, utc_day, round(kwh, 1))

DuckDB (reads the SQLite file directly; ``pip install duckdb``)::

    import duckdb

    con = duckdb.connect()
    con.execute("INSTALL sqlite; LOAD sqlite; ATTACH 'fleet.db' AS fleet (TYPE sqlite)")
    con.sql(
        "SELECT m.site_id, date_trunc('day', timezone(s.zone, m.period_start::TIMESTAMPTZ)) "
        "AS local_day, sum(m.value) / 1000 AS kwh "
        "FROM fleet.measurements m JOIN fleet.sites s USING (site_id) "
        "WHERE m.source = 'energy' GROUP BY ALL ORDER BY ALL"
    ).show()

pandas::

    import sqlite3

    import pandas as pd

    df = pd.read_sql_query(
        "SELECT site_id, metric, period_start, value, unit FROM measurements "
        "WHERE source = 'power'",
        sqlite3.connect("fleet.db"),
    )
    df["period_start"] = pd.to_datetime(df["period_start"], utc=True)
    hourly = df.set_index("period_start").groupby("site_id")["value"].resample("1h").mean()

PostgreSQL: the same SQL with ``period_start`` a ``timestamptz``, e.g.
``date_trunc('day', period_start AT TIME ZONE s.zone)`` joined with ``sites s`` for
site-local days.
"""

from solaredge_async.sync._plan import (
    DEFAULT_SETTLE,
    SYNC_TARGETS,
    SyncItem,
    SyncPlan,
    SyncSpec,
    bucket_floor,
    plan_sync,
)
from solaredge_async.sync._pool import (
    PoolSyncPart,
    PoolSyncPlan,
    PoolSyncReport,
    plan_pool_sync,
    run_pool_sync,
)
from solaredge_async.sync._run import (
    REPORT_COUNTS,
    SyncProgress,
    SyncReport,
    default_owner,
    run_sync,
)

__all__ = [
    "DEFAULT_SETTLE",
    "REPORT_COUNTS",
    "SYNC_TARGETS",
    "PoolSyncPart",
    "PoolSyncPlan",
    "PoolSyncReport",
    "SyncItem",
    "SyncPlan",
    "SyncProgress",
    "SyncReport",
    "SyncSpec",
    "bucket_floor",
    "default_owner",
    "plan_pool_sync",
    "plan_sync",
    "run_pool_sync",
    "run_sync",
]
