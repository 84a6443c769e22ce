"""The schema, as an ordered list of migrations per dialect.

A migration is applied once, in one transaction with the ``schema_version`` row that
records it, so a crash mid-migration leaves the previous version intact. Append new
migrations at the end; never edit one that has shipped.

SQLite keeps instants as ISO-8601 UTC text in one fixed format
(``YYYY-MM-DDTHH:MM:SSZ``), so text order is time order; PostgreSQL uses ``timestamptz``.
"""

from __future__ import annotations

from typing import Final, Literal

import attrs

__all__ = ["MIGRATIONS", "Dialect", "Migration", "latest_version"]

Dialect = Literal["sqlite", "postgresql"]


@attrs.frozen(kw_only=True)
class Migration:
    """One schema step.

    Attributes:
        version: Its number, one more than the previous migration's.
        description: What it does, in a few words.
        sqlite: The statements for SQLite, run in order.
        postgresql: The statements for PostgreSQL, run in order.
    """

    version: int
    description: str
    sqlite: tuple[str, ...]
    postgresql: tuple[str, ...]

    def statements(self, dialect: Dialect) -> tuple[str, ...]:
        """The statements for ``dialect``."""
        return self.sqlite if dialect == "sqlite" else self.postgresql


_SQLITE_V1: Final = (
    """CREATE TABLE sites (
        site_id INTEGER PRIMARY KEY,
        name TEXT,
        zone TEXT,
        peak_power_kw REAL,
        installation_date TEXT,
        activation_status TEXT,
        note TEXT,
        account_id INTEGER,
        location TEXT,
        updated_at TEXT NOT NULL
    )""",
    """CREATE TABLE measurements (
        site_id INTEGER NOT NULL,
        device_serial TEXT NOT NULL DEFAULT '',
        source TEXT NOT NULL,
        metric TEXT NOT NULL,
        resolution TEXT NOT NULL,
        period_start TEXT NOT NULL,
        period_end TEXT NOT NULL,
        value REAL NOT NULL,
        unit TEXT,
        PRIMARY KEY (site_id, device_serial, source, metric, resolution, period_start),
        CHECK (period_end >= period_start)
    ) WITHOUT ROWID""",
    """CREATE TABLE sync_state (
        site_id INTEGER NOT NULL,
        target TEXT NOT NULL,
        resolution TEXT NOT NULL,
        complete_until TEXT,
        last_attempt_at TEXT,
        last_success_at TEXT,
        last_error TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        lease_owner TEXT,
        lease_expires TEXT,
        PRIMARY KEY (site_id, target, resolution)
    )""",
    """CREATE TABLE runs (
        run_id INTEGER PRIMARY KEY AUTOINCREMENT,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        credits INTEGER NOT NULL DEFAULT 0,
        succeeded INTEGER NOT NULL DEFAULT 0,
        failed INTEGER NOT NULL DEFAULT 0,
        not_attempted INTEGER NOT NULL DEFAULT 0,
        rate_limited INTEGER NOT NULL DEFAULT 0,
        rows_written INTEGER NOT NULL DEFAULT 0,
        outcome TEXT NOT NULL DEFAULT ''
    )""",
)

_POSTGRESQL_V1: Final = (
    """CREATE TABLE sites (
        site_id BIGINT PRIMARY KEY,
        name TEXT,
        zone TEXT,
        peak_power_kw DOUBLE PRECISION,
        installation_date TEXT,
        activation_status TEXT,
        note TEXT,
        account_id BIGINT,
        location JSONB,
        updated_at TIMESTAMPTZ NOT NULL
    )""",
    """CREATE TABLE measurements (
        site_id BIGINT NOT NULL,
        device_serial TEXT NOT NULL DEFAULT '',
        source TEXT NOT NULL,
        metric TEXT NOT NULL,
        resolution TEXT NOT NULL,
        period_start TIMESTAMPTZ NOT NULL,
        period_end TIMESTAMPTZ NOT NULL,
        value DOUBLE PRECISION NOT NULL,
        unit TEXT,
        PRIMARY KEY (site_id, device_serial, source, metric, resolution, period_start),
        CHECK (period_end >= period_start)
    )""",
    """CREATE TABLE sync_state (
        site_id BIGINT NOT NULL,
        target TEXT NOT NULL,
        resolution TEXT NOT NULL,
        complete_until TIMESTAMPTZ,
        last_attempt_at TIMESTAMPTZ,
        last_success_at TIMESTAMPTZ,
        last_error TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        lease_owner TEXT,
        lease_expires TIMESTAMPTZ,
        PRIMARY KEY (site_id, target, resolution)
    )""",
    """CREATE TABLE runs (
        run_id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        started_at TIMESTAMPTZ NOT NULL,
        finished_at TIMESTAMPTZ,
        credits BIGINT NOT NULL DEFAULT 0,
        succeeded BIGINT NOT NULL DEFAULT 0,
        failed BIGINT NOT NULL DEFAULT 0,
        not_attempted BIGINT NOT NULL DEFAULT 0,
        rate_limited BIGINT NOT NULL DEFAULT 0,
        rows_written BIGINT NOT NULL DEFAULT 0,
        outcome TEXT NOT NULL DEFAULT ''
    )""",
)

# The current token set of each OAuth grant (see store/_tokens.py), keyed by the
# grant's name; ``tokens`` holds `encode_tokens` text as given: protect the database.
_SQLITE_V2: Final = (
    """CREATE TABLE oauth_tokens (
        grant_name TEXT PRIMARY KEY,
        tokens TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )""",
)

_POSTGRESQL_V2: Final = (
    """CREATE TABLE oauth_tokens (
        grant_name TEXT PRIMARY KEY,
        tokens TEXT NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL
    )""",
)

#: Every migration, in order. The last one's version is the schema this code writes.
MIGRATIONS: Final[tuple[Migration, ...]] = (
    Migration(
        version=1,
        description="sites, measurements, sync_state, runs",
        sqlite=_SQLITE_V1,
        postgresql=_POSTGRESQL_V1,
    ),
    Migration(
        version=2,
        description="oauth_tokens: the current token set of each OAuth grant",
        sqlite=_SQLITE_V2,
        postgresql=_POSTGRESQL_V2,
    ),
)


def latest_version(migrations: tuple[Migration, ...] = MIGRATIONS) -> int:
    """The schema version ``migrations`` end at (0 for none)."""
    return migrations[-1].version if migrations else 0
