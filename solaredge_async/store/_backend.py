"""The SQL both dialects share, run synchronously (the async `Store` runs it in a thread).

A backend owns one DB-API connection. Statements are written with ``?`` placeholders
and translated for psycopg. Each dialect supplies its transactions, instant encoding,
measurement upsert, leases' row locking and error mapping.
"""

from __future__ import annotations

import abc
import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from solaredge_async.store._errors import (
    InvalidRowError,
    LeaseLostError,
    SchemaVersionError,
    StoreError,
)
from solaredge_async.store._records import (
    CommitResult,
    ItemKey,
    MeasurementRow,
    RunRecord,
    RunTotals,
    StoredSite,
    SyncState,
)
from solaredge_async.store._schema import MIGRATIONS, Dialect, Migration, latest_version
from solaredge_async.store._validate import check_item, dedupe_rows, utc, utc_whole_second

if TYPE_CHECKING:
    from collections.abc import Sequence
    from contextlib import AbstractContextManager

    from solaredge_async.models import Site
    from solaredge_async.store._records import Attempt, WatermarkAdvance

__all__ = ["Backend", "StageRow"]

#: A measurement row as stored: (site_id, device_serial, source, metric, resolution,
#: period_start, period_end, value, unit), instants in UTC.
StageRow = tuple[int, str, str, str, str, datetime, datetime, float, str | None]

_STATE_COLUMNS = (
    "site_id, target, resolution, complete_until, last_attempt_at, last_success_at, "
    "last_error, attempts, lease_owner, lease_expires"
)
_RUN_COLUMNS = (
    "run_id, started_at, finished_at, credits, succeeded, failed, not_attempted, "
    "rate_limited, rows_written, outcome"
)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _in(values: Sequence[object]) -> str:
    return "(" + ", ".join("?" * len(values)) + ")"


class Backend(abc.ABC):
    """One connection to one store; every method is blocking and runs in a worker thread."""

    dialect: ClassVar[Dialect]
    #: Appended to the SELECT that picks rows to lease ("FOR UPDATE SKIP LOCKED" on PG).
    claim_lock: ClassVar[str] = ""
    #: Appended to the SELECT that checks a lease inside a commit ("FOR UPDATE" on PG).
    row_lock: ClassVar[str] = ""
    #: How a JSON text parameter is written in SQL.
    json_param: ClassVar[str] = "?"

    # -- dialect hooks -----------------------------------------------------------------

    @abc.abstractmethod
    def transaction(self) -> AbstractContextManager[Any]:
        """A write transaction yielding a cursor; rolls back on error, maps DB errors."""

    @abc.abstractmethod
    def reading(self) -> AbstractContextManager[Any]:
        """A cursor for reads (autocommit), mapping DB errors."""

    @abc.abstractmethod
    def sql(self, text: str) -> str:
        """``text`` with its ``?`` placeholders in this driver's style."""

    @abc.abstractmethod
    def to_db(self, value: datetime | None) -> object:
        """A UTC instant as this database stores it."""

    @abc.abstractmethod
    def from_db(self, value: object) -> datetime | None:
        """An instant read back, as an aware UTC datetime."""

    @abc.abstractmethod
    def upsert_rows(self, cur: Any, rows: list[StageRow]) -> tuple[int, int]:  # noqa: ANN401
        """Upsert ``rows`` inside the open transaction; return (inserted, updated)."""

    @abc.abstractmethod
    def migration_lock(self, cur: Any) -> None:  # noqa: ANN401
        """Serialise concurrent migrations (inside the migration transaction)."""

    def after_migrate(self) -> None:  # noqa: B027 - optional hook
        """Prepare the session once the schema is current (PostgreSQL: its stage table)."""

    @abc.abstractmethod
    def lock_exclusive(self) -> None:
        """Take the store for exclusive use; raises `StoreLockedError` if another has it."""

    @abc.abstractmethod
    def holds_exclusive(self) -> bool:
        """Whether this connection holds the store for exclusive use."""

    @abc.abstractmethod
    def unlock_exclusive(self) -> None:
        """Drop the exclusive lock, if held (idempotent)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Close the connection (releasing any exclusive lock)."""

    def durable_transaction(self) -> AbstractContextManager[Any]:
        """A write transaction whose commit is on disk when it ends (default: `transaction`)."""
        return self.transaction()

    # -- helpers -----------------------------------------------------------------------

    def _exec(self, cur: Any, text: str, params: Sequence[object] = ()) -> Any:  # noqa: ANN401
        cur.execute(self.sql(text), tuple(params))
        return cur

    def _state(self, row: Sequence[Any]) -> SyncState:
        return SyncState(
            item=ItemKey(site_id=int(row[0]), target=row[1], resolution=row[2]),
            complete_until=self.from_db(row[3]),
            last_attempt_at=self.from_db(row[4]),
            last_success_at=self.from_db(row[5]),
            last_error=row[6],
            attempts=int(row[7]),
            lease_owner=row[8],
            lease_expires=self.from_db(row[9]),
        )

    # -- schema ------------------------------------------------------------------------

    def check_current(self, migrations: tuple[Migration, ...] = MIGRATIONS) -> None:
        """For a read-only open: the schema must be current, since nothing is migrated.

        Raises:
            SchemaVersionError: The schema is older or newer than this code's.
        """
        latest = latest_version(migrations)
        try:
            current = self.schema_version()
        except StoreError:  # no schema_version table: never set up
            current = 0
        if current != latest:
            raise SchemaVersionError(
                f"the {self.dialect} database is at schema version {current}, not the "
                f"{latest} this solaredge-async uses, and a read-only open migrates "
                "nothing: open it writable once (e.g. a sync without --dry-run)"
            )

    def migrate(self, migrations: tuple[Migration, ...] = MIGRATIONS) -> int:
        """Apply the migrations the database lacks, in one transaction; return the version.

        Raises:
            SchemaVersionError: The database's schema is newer than ``migrations``.
        """
        latest = latest_version(migrations)
        with self.transaction() as cur:
            self.migration_lock(cur)
            self._exec(
                cur,
                "CREATE TABLE IF NOT EXISTS schema_version ("
                "version INTEGER PRIMARY KEY, description TEXT NOT NULL, "
                "applied_at TEXT NOT NULL)",
            )
            current = self._exec(cur, "SELECT MAX(version) FROM schema_version").fetchone()[0]
            current = int(current or 0)
            if current > latest:
                raise SchemaVersionError(
                    f"the {self.dialect} database is at schema version {current}, newer than "
                    f"the {latest} this solaredge-async knows: upgrade solaredge-async or use "
                    "another database"
                )
            for migration in migrations:
                if migration.version <= current:
                    continue
                for statement in migration.statements(self.dialect):
                    cur.execute(statement)
                self._exec(
                    cur,
                    "INSERT INTO schema_version (version, description, applied_at) "
                    "VALUES (?, ?, ?)",
                    (migration.version, migration.description, _now().isoformat()),
                )
        return latest

    def schema_version(self) -> int:
        """The schema version the database is at (0 before any migration)."""
        with self.reading() as cur:
            row = self._exec(cur, "SELECT MAX(version) FROM schema_version").fetchone()
        return int(row[0] or 0)

    # -- writes ------------------------------------------------------------------------

    def commit_batch(
        self,
        rows: Sequence[MeasurementRow],
        advances: Sequence[WatermarkAdvance],
        owner: str | None,
        now: datetime | None,
    ) -> CommitResult:
        """Upsert ``rows`` and move ``advances`` in one transaction (see `Store.commit_batch`)."""
        staged, skipped = dedupe_rows(rows)
        moves: list[tuple[ItemKey, datetime]] = []
        for advance in advances:
            check_item(advance.item)
            moves.append((advance.item, utc_whole_second(advance.complete_until, "watermark")))
        at = utc(now, "now").replace(microsecond=0) if now is not None else _now()
        with self.transaction() as cur:
            if owner is not None:
                self._check_leases(cur, [item for item, _ in moves], owner, at)
            inserted, updated = self.upsert_rows(cur, staged) if staged else (0, 0)
            moved = 0
            for item, until in moves:
                moved += self._advance(cur, item, until, at)
        return CommitResult(
            inserted=inserted,
            updated=updated,
            unchanged=len(staged) - inserted - updated,
            skipped=skipped,
            watermarks_moved=moved,
        )

    def _check_leases(self, cur: Any, items: list[ItemKey], owner: str, at: datetime) -> None:  # noqa: ANN401
        for item in items:
            row = self._exec(
                cur,
                "SELECT lease_owner, lease_expires FROM sync_state "  # noqa: S608 - constant SQL, values bound
                "WHERE site_id = ? AND target = ? AND resolution = ?" + self.row_lock,
                (item.site_id, item.target, item.resolution),
            ).fetchone()
            holder = None if row is None else row[0]
            expires = None if row is None else self.from_db(row[1])
            if holder is not None and holder != owner and expires is not None and expires > at:
                raise LeaseLostError(
                    f"{item!r} is leased to another worker until {expires.isoformat()}: "
                    "this batch was rolled back; the other worker will store it"
                )

    def _advance(self, cur: Any, item: ItemKey, until: datetime, at: datetime) -> int:  # noqa: ANN401
        old = self._exec(
            cur,
            "SELECT complete_until FROM sync_state "
            "WHERE site_id = ? AND target = ? AND resolution = ?",
            (item.site_id, item.target, item.resolution),
        ).fetchone()
        previous = None if old is None else self.from_db(old[0])
        self._exec(
            cur,
            "INSERT INTO sync_state (site_id, target, resolution, complete_until, "
            "last_attempt_at, last_success_at, last_error, attempts) "
            "VALUES (?, ?, ?, ?, ?, ?, NULL, 1) "
            "ON CONFLICT (site_id, target, resolution) DO UPDATE SET "
            "complete_until = CASE WHEN sync_state.complete_until IS NULL "
            "OR excluded.complete_until > sync_state.complete_until "
            "THEN excluded.complete_until ELSE sync_state.complete_until END, "
            "last_attempt_at = excluded.last_attempt_at, "
            "last_success_at = excluded.last_success_at, last_error = NULL, "
            "attempts = sync_state.attempts + 1",
            (item.site_id, item.target, item.resolution, self.to_db(until), *[self.to_db(at)] * 2),
        )
        return int(previous is None or until > previous)

    def record_attempts(self, attempts: Sequence[Attempt]) -> None:
        """Record attempts and their errors (a success clears the last error)."""
        params = []
        for attempt in attempts:
            check_item(attempt.item)
            at = self.to_db(utc(attempt.at, "attempt time").replace(microsecond=0))
            params.append(
                (
                    attempt.item.site_id,
                    attempt.item.target,
                    attempt.item.resolution,
                    at,
                    at if attempt.error is None else None,
                    attempt.error,
                )
            )
        with self.transaction() as cur:
            cur.executemany(
                self.sql(
                    "INSERT INTO sync_state (site_id, target, resolution, last_attempt_at, "
                    "last_success_at, last_error, attempts) VALUES (?, ?, ?, ?, ?, ?, 1) "
                    "ON CONFLICT (site_id, target, resolution) DO UPDATE SET "
                    "last_attempt_at = excluded.last_attempt_at, "
                    "last_success_at = COALESCE(excluded.last_success_at, "
                    "sync_state.last_success_at), "
                    "last_error = excluded.last_error, attempts = sync_state.attempts + 1"
                ),
                params,
            )

    def ensure_items(self, items: Sequence[ItemKey]) -> int:
        """Create missing ``sync_state`` rows (no watermark); return how many were new."""
        for item in items:
            check_item(item)
        with self.transaction() as cur:
            cur.executemany(
                self.sql(
                    "INSERT INTO sync_state (site_id, target, resolution) VALUES (?, ?, ?) "
                    "ON CONFLICT (site_id, target, resolution) DO NOTHING"
                ),
                [(i.site_id, i.target, i.resolution) for i in items],
            )
            return max(int(cur.rowcount), 0)

    def reset_watermarks(self, items: Sequence[ItemKey], to: datetime | None) -> int:
        """Set the watermarks of ``items`` to ``to`` (`None`: unknown), even backwards."""
        value = None if to is None else self.to_db(utc_whole_second(to, "watermark"))
        with self.transaction() as cur:
            cur.executemany(
                self.sql(
                    "UPDATE sync_state SET complete_until = ? "
                    "WHERE site_id = ? AND target = ? AND resolution = ?"
                ),
                [(value, i.site_id, i.target, i.resolution) for i in items],
            )
            return max(int(cur.rowcount), 0)

    def upsert_sites(self, sites: Sequence[Site], now: datetime | None) -> int:
        """Insert or update ``sites``; return how many were written."""
        at = self.to_db(utc(now, "now") if now is not None else _now())
        params = []
        for site in sites:
            location = None
            zone = None
            if site.location is not None:
                zone = site.location.timezone
                fields = {
                    "address": site.location.address,
                    "city": site.location.city,
                    "state": site.location.state,
                    "zip": site.location.zip,
                    "country": site.location.country,
                    "timezone": site.location.timezone,
                }
                location = json.dumps(fields, sort_keys=True)
            status = site.activation_status
            params.append(
                (
                    site.site_id,
                    site.name,
                    zone,
                    site.peak_power,
                    None if site.installation_date is None else site.installation_date.isoformat(),
                    None if status is None else str(getattr(status, "value", status)),
                    site.note,
                    site.account_id,
                    location,
                    at,
                )
            )
        with self.transaction() as cur:
            cur.executemany(
                self.sql(
                    "INSERT INTO sites (site_id, name, zone, peak_power_kw, installation_date, "  # noqa: S608 - constant SQL, values bound
                    "activation_status, note, account_id, location, updated_at) "
                    f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, {self.json_param}, ?) "
                    "ON CONFLICT (site_id) DO UPDATE SET name = excluded.name, "
                    "zone = excluded.zone, peak_power_kw = excluded.peak_power_kw, "
                    "installation_date = excluded.installation_date, "
                    "activation_status = excluded.activation_status, note = excluded.note, "
                    "account_id = excluded.account_id, location = excluded.location, "
                    "updated_at = excluded.updated_at"
                ),
                params,
            )
        return len(params)

    # -- leases ------------------------------------------------------------------------

    def claim(
        self,
        owner: str,
        *,
        until: datetime,
        ttl: float,
        limit: int,
        targets: Sequence[str] | None,
        site_ids: Sequence[int] | None,
        now: datetime | None,
    ) -> tuple[SyncState, ...]:
        """Lease up to ``limit`` items still short of ``until`` (see `Store.claim`)."""
        if not owner:
            raise InvalidRowError("a lease owner must be a non-empty string")
        if ttl <= 0 or limit <= 0:
            raise InvalidRowError(f"ttl ({ttl} s) and limit ({limit}) must be positive")
        at = utc(now, "now").replace(microsecond=0) if now is not None else _now()
        expires = at + timedelta(seconds=ttl)
        where = [
            "(lease_owner IS NULL OR lease_owner = ? OR lease_expires <= ?)",
            "(complete_until IS NULL OR complete_until < ?)",
        ]
        params: list[object] = [owner, self.to_db(at), self.to_db(utc(until, "until"))]
        if targets is not None:
            if not targets:
                return ()
            where.append("target IN " + _in(targets))
            params.extend(targets)
        if site_ids is not None:
            if not site_ids:
                return ()
            where.append("site_id IN " + _in(site_ids))
            params.extend(site_ids)
        text = (
            "UPDATE sync_state SET lease_owner = ?, lease_expires = ? "  # noqa: S608 - constant SQL, values bound
            "WHERE (site_id, target, resolution) IN ("
            "SELECT site_id, target, resolution FROM sync_state WHERE "
            + " AND ".join(where)
            + " ORDER BY site_id, target, resolution LIMIT ?"
            + self.claim_lock
            + f") RETURNING {_STATE_COLUMNS}"
        )
        with self.transaction() as cur:
            got = self._exec(cur, text, (owner, self.to_db(expires), *params, limit)).fetchall()
        states = [self._state(row) for row in got]
        states.sort(key=lambda s: (s.item.site_id, s.item.target, s.item.resolution))
        return tuple(states)

    def renew(self, owner: str, ttl: float, now: datetime | None) -> int:
        """Extend every lease ``owner`` holds to ``now + ttl``; return how many."""
        if ttl <= 0:
            raise InvalidRowError(f"ttl ({ttl} s) must be positive")
        at = utc(now, "now").replace(microsecond=0) if now is not None else _now()
        with self.transaction() as cur:
            self._exec(
                cur,
                "UPDATE sync_state SET lease_expires = ? WHERE lease_owner = ?",
                (self.to_db(at + timedelta(seconds=ttl)), owner),
            )
            return max(int(cur.rowcount), 0)

    def release(self, owner: str, items: Sequence[ItemKey] | None) -> int:
        """Drop ``owner``'s leases on ``items`` (all of its leases when `None`)."""
        with self.transaction() as cur:
            if items is None:
                self._exec(
                    cur,
                    "UPDATE sync_state SET lease_owner = NULL, lease_expires = NULL "
                    "WHERE lease_owner = ?",
                    (owner,),
                )
            else:
                cur.executemany(
                    self.sql(
                        "UPDATE sync_state SET lease_owner = NULL, lease_expires = NULL "
                        "WHERE site_id = ? AND target = ? AND resolution = ? "
                        "AND lease_owner = ?"
                    ),
                    [(i.site_id, i.target, i.resolution, owner) for i in items],
                )
            return max(int(cur.rowcount), 0)

    # -- runs --------------------------------------------------------------------------

    def start_run(self, now: datetime | None) -> int:
        """Insert a run row; return its id."""
        at = utc(now, "now").replace(microsecond=0) if now is not None else _now()
        with self.transaction() as cur:
            row = self._exec(
                cur, "INSERT INTO runs (started_at) VALUES (?) RETURNING run_id", (self.to_db(at),)
            ).fetchone()
        return int(row[0])

    def finish_run(self, run_id: int, totals: RunTotals, now: datetime | None) -> None:
        """Store a run's counters and end time."""
        at = utc(now, "now").replace(microsecond=0) if now is not None else _now()
        with self.transaction() as cur:
            self._exec(
                cur,
                "UPDATE runs SET finished_at = ?, credits = ?, succeeded = ?, failed = ?, "
                "not_attempted = ?, rate_limited = ?, rows_written = ?, outcome = ? "
                "WHERE run_id = ?",
                (
                    self.to_db(at),
                    totals.credits,
                    totals.succeeded,
                    totals.failed,
                    totals.not_attempted,
                    totals.rate_limited,
                    totals.rows,
                    totals.outcome,
                    run_id,
                ),
            )
            if cur.rowcount != 1:
                raise StoreError(f"there is no run {run_id} to finish: start it with start_run")

    def runs(self) -> tuple[RunRecord, ...]:
        """Every run, oldest first."""
        with self.reading() as cur:
            got = self._exec(cur, f"SELECT {_RUN_COLUMNS} FROM runs ORDER BY run_id").fetchall()  # noqa: S608 - constant SQL, values bound
        out = []
        for row in got:
            started = self.from_db(row[1])
            if started is None:  # pragma: no cover - NOT NULL column
                raise StoreError("a run without a start time")
            out.append(
                RunRecord(
                    run_id=int(row[0]),
                    started_at=started,
                    finished_at=self.from_db(row[2]),
                    totals=RunTotals(
                        credits=int(row[3]),
                        succeeded=int(row[4]),
                        failed=int(row[5]),
                        not_attempted=int(row[6]),
                        rate_limited=int(row[7]),
                        rows=int(row[8]),
                        outcome=row[9],
                    ),
                )
            )
        return tuple(out)

    # -- OAuth tokens ------------------------------------------------------------------

    def load_token_data(self, grant: str) -> str | None:
        """The encoded token set stored for ``grant``, or None."""
        with self.reading() as cur:
            row = self._exec(
                cur, "SELECT tokens FROM oauth_tokens WHERE grant_name = ?", (grant,)
            ).fetchone()
        return None if row is None else str(row[0])

    def save_token_data(self, grant: str, data: str, now: datetime | None) -> None:
        """Store ``grant``'s encoded token set in its own durable transaction."""
        at = self.to_db(utc(now, "now") if now is not None else _now())
        with self.durable_transaction() as cur:
            self._exec(
                cur,
                "INSERT INTO oauth_tokens (grant_name, tokens, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (grant_name) DO UPDATE SET tokens = excluded.tokens, "
                "updated_at = excluded.updated_at",
                (grant, data, at),
            )

    def delete_token_data(self, grant: str) -> bool:
        """Forget ``grant``'s token set; True when there was one."""
        with self.durable_transaction() as cur:
            self._exec(cur, "DELETE FROM oauth_tokens WHERE grant_name = ?", (grant,))
            return int(cur.rowcount) > 0

    # -- reads -------------------------------------------------------------------------

    def watermarks(
        self, site_ids: Sequence[int] | None, targets: Sequence[str] | None
    ) -> tuple[SyncState, ...]:
        """The ``sync_state`` rows of ``site_ids`` and ``targets`` (all when `None`)."""
        where, params = self._filters(site_ids=site_ids, targets=targets)
        with self.reading() as cur:
            got = self._exec(
                cur,
                f"SELECT {_STATE_COLUMNS} FROM sync_state{where} "  # noqa: S608 - constant SQL, values bound
                "ORDER BY site_id, target, resolution",
                params,
            ).fetchall()
        return tuple(self._state(row) for row in got)

    def count_measurements(
        self, site_ids: Sequence[int] | None, sources: Sequence[str] | None
    ) -> int:
        """How many measurement rows are stored for ``site_ids`` and ``sources``."""
        where, params = self._filters(site_ids=site_ids, sources=sources)
        with self.reading() as cur:
            row = self._exec(cur, f"SELECT COUNT(*) FROM measurements{where}", params).fetchone()  # noqa: S608 - constant SQL, values bound
        return int(row[0])

    def measurements(
        self,
        site_id: int,
        start: datetime,
        end: datetime,
        sources: Sequence[str] | None,
        metrics: Sequence[str] | None,
    ) -> tuple[MeasurementRow, ...]:
        """The rows of ``site_id`` with ``start <= period_start < end``, in key order."""
        where, params = self._filters(site_ids=[site_id], sources=sources, metrics=metrics)
        params = [
            *params,
            self.to_db(utc(start, "start")),
            self.to_db(utc(end, "end")),
        ]
        with self.reading() as cur:
            got = self._exec(
                cur,
                "SELECT site_id, device_serial, source, metric, resolution, period_start, "  # noqa: S608 - constant SQL, values bound
                f"period_end, value, unit FROM measurements{where} "
                "AND period_start >= ? AND period_start < ? "
                "ORDER BY source, metric, resolution, device_serial, period_start",
                params,
            ).fetchall()
        return tuple(self._row(row) for row in got)

    def _row(self, row: Sequence[Any]) -> MeasurementRow:
        start, end = self.from_db(row[5]), self.from_db(row[6])
        if start is None or end is None:  # pragma: no cover - NOT NULL columns
            raise StoreError("a measurement without its period")
        return MeasurementRow(
            site_id=int(row[0]),
            device_serial=row[1],
            source=row[2],
            metric=row[3],
            resolution=row[4],
            period_start=start,
            period_end=end,
            value=float(row[7]),
            unit=row[8],
        )

    def sites(self) -> tuple[StoredSite, ...]:
        """Every stored site, by id."""
        with self.reading() as cur:
            got = self._exec(
                cur,
                "SELECT site_id, name, zone, peak_power_kw, installation_date, "
                "activation_status, note, account_id, location, updated_at FROM sites "
                "ORDER BY site_id",
            ).fetchall()
        return tuple(
            StoredSite(
                site_id=int(r[0]),
                name=r[1],
                zone=r[2],
                peak_power_kw=r[3],
                installation_date=r[4],
                activation_status=r[5],
                note=r[6],
                account_id=r[7],
                location=r[8]
                if r[8] is None or isinstance(r[8], str)
                else json.dumps(r[8], sort_keys=True),
                updated_at=self.from_db(r[9]),
            )
            for r in got
        )

    def _filters(
        self,
        *,
        site_ids: Sequence[int] | None = None,
        targets: Sequence[str] | None = None,
        sources: Sequence[str] | None = None,
        metrics: Sequence[str] | None = None,
    ) -> tuple[str, list[object]]:
        clauses: list[str] = []
        params: list[object] = []
        for column, values in (
            ("site_id", site_ids),
            ("target", targets),
            ("source", sources),
            ("metric", metrics),
        ):
            if values is None:
                continue
            if not values:
                clauses.append("1 = 0")
                continue
            clauses.append(f"{column} IN {_in(values)}")
            params.extend(values)
        return (" WHERE " + " AND ".join(clauses) if clauses else " WHERE 1 = 1"), params
