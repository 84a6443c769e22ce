"""The shared store: PostgreSQL through psycopg 3's blocking API in worker threads.

psycopg's ``AsyncConnection`` waits on the asyncio event loop (``loop.add_reader``,
``asyncio.Lock``), so it cannot run under trio; its blocking connection in an anyio
worker thread serves both (``benchmarks/bench_store.py`` measures the cost).

Rows are staged with ``COPY`` into a temporary table and merged by one
``INSERT ... ON CONFLICT DO UPDATE ... WHERE changed`` statement. Leases use
``SELECT ... FOR UPDATE SKIP LOCKED``; exclusive use is a session advisory lock keyed
by the current schema.
"""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Final

from solaredge_async.store._backend import Backend, StageRow
from solaredge_async.store._errors import (
    StoreBusyError,
    StoreError,
    StoreLockedError,
    StoreUnavailableError,
    StoreURLError,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["PostgresBackend"]

try:
    import psycopg
    import psycopg.conninfo
except ImportError:  # pragma: no cover - exercised without the extra
    psycopg = None  # type: ignore[assignment]

_COLUMNS = (
    "site_id, device_serial, source, metric, resolution, period_start, period_end, value, unit"
)
# One statement: the primary key arbitrates each row, so no join is planned over the
# whole table; ``xmax = 0`` marks a row this statement inserted (an update sets xmax).
_MERGE = (
    f"WITH w AS (INSERT INTO measurements AS m ({_COLUMNS}) "  # noqa: S608 - constant SQL
    f"SELECT {_COLUMNS} FROM _solaredge_stage "
    "ON CONFLICT (site_id, device_serial, source, metric, resolution, period_start) "
    "DO UPDATE SET period_end = excluded.period_end, value = excluded.value, "
    "unit = excluded.unit WHERE (m.period_end, m.value, m.unit) IS DISTINCT FROM "
    "(excluded.period_end, excluded.value, excluded.unit) "
    "RETURNING (m.xmax = 0) AS fresh) "
    "SELECT count(*) FILTER (WHERE fresh), count(*) FROM w"
)
_LOCK_KEY = "hashtext('solaredge_async:' || current_schema())"


#: libpq TCP keepalives (seconds): a server or link that dies unseen is noticed within
#: about a minute instead of the OS default of two hours. A setting in the URL wins.
KEEPALIVES: Final = {
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}
_SECRET_PARAM = re.compile(r"(?i)\b((?:ssl)?password)\s*=\s*('[^']*'|\S+)")
_USERINFO = re.compile(r"://[^@\s]*@")


def _redact(message: str, secrets: tuple[str, ...] = ()) -> str:
    """The first line of a libpq message with passwords, URLs and user info scrubbed."""
    text = message.strip().splitlines()[0] if message.strip() else "no message"
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = _SECRET_PARAM.sub(r"\1=***", text)
    return _USERINFO.sub("://***@", text)


class PostgresBackend(Backend):
    """One psycopg connection (autocommit; explicit transactions) to a PostgreSQL database."""

    dialect = "postgresql"
    claim_lock: ClassVar[str] = " FOR UPDATE SKIP LOCKED"
    row_lock: ClassVar[str] = " FOR UPDATE"
    json_param: ClassVar[str] = "%s::jsonb"

    def __init__(
        self,
        url: str,
        *,
        connect_timeout: float,
        statement_timeout: float | None = None,
        lock_timeout: float | None = None,
        read_only: bool = False,
    ) -> None:
        if psycopg is None:
            raise StoreURLError(
                "postgresql:// stores need psycopg 3: pip install 'solaredge-async[postgres]'"
            )
        # Errors are raised outside the ``except`` blocks: libpq's text quotes the URL,
        # password included, and must not ride along as the ``__context__`` either.
        try:
            params: dict[str, Any] | None = psycopg.conninfo.conninfo_to_dict(url)
        except psycopg.Error:
            params = None
        if params is None:
            raise StoreURLError(
                "the PostgreSQL URL is malformed (libpq cannot parse it): check its "
                "%-escapes, [IPv6] brackets and port; write "
                "postgresql://user:password@host:port/dbname"
            )
        secrets: tuple[str, ...] = (
            url,
            str(params.get("password") or ""),
            str(params.get("sslpassword") or ""),
        )
        extra = {k: v for k, v in KEEPALIVES.items() if k not in params}
        failure = ""
        try:
            conninfo = psycopg.conninfo.make_conninfo(url, **extra)
            secrets = (*secrets, conninfo)
            self._conn = psycopg.connect(
                conninfo, autocommit=True, connect_timeout=max(1, round(connect_timeout))
            )
        except psycopg.Error as exc:
            failure = _redact(str(exc), secrets)
        if failure:
            raise StoreUnavailableError(f"cannot connect to PostgreSQL: {failure}")
        self._exclusive = False
        self._timeouts = (statement_timeout, lock_timeout)
        try:
            self._conn.execute("SET TIME ZONE 'UTC'")
            if read_only:
                self._conn.execute("SET default_transaction_read_only = on")
        except psycopg.Error as exc:  # pragma: no cover - a fresh session accepts this
            self._conn.close()
            raise StoreUnavailableError(
                f"PostgreSQL refused the session: {_redact(str(exc), secrets)}"
            ) from None

    def _map(self, exc: Exception) -> StoreError:
        assert psycopg is not None  # noqa: S101 - checked in __init__
        text = _redact(str(exc))
        if isinstance(exc, psycopg.errors.QueryCanceled):
            return StoreBusyError(
                f"PostgreSQL cancelled a statement that ran past statement_timeout: {text}"
            )
        if isinstance(exc, psycopg.errors.LockNotAvailable):
            return StoreBusyError(f"PostgreSQL lock not available: {text}")
        if isinstance(exc, psycopg.OperationalError):
            return StoreUnavailableError(f"PostgreSQL connection failed: {text}")
        return StoreError(f"PostgreSQL error: {text}")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Any]:
        """A transaction block; psycopg rolls back when the block raises."""
        assert psycopg is not None  # noqa: S101 - checked in __init__
        try:
            with self._conn.transaction(), self._conn.cursor() as cur:
                yield cur
        except psycopg.Error as exc:
            raise self._map(exc) from exc

    @contextlib.contextmanager
    def durable_transaction(self) -> Iterator[Any]:
        """A transaction whose commit waits for the server's WAL flush.

        ``synchronous_commit`` is set on for this transaction alone, whatever the
        server's or the session's default.
        """
        with self.transaction() as cur:
            cur.execute("SET LOCAL synchronous_commit TO on")
            yield cur

    @contextlib.contextmanager
    def reading(self) -> Iterator[Any]:
        """An autocommit cursor."""
        assert psycopg is not None  # noqa: S101 - checked in __init__
        try:
            with self._conn.cursor() as cur:
                yield cur
        except psycopg.Error as exc:
            raise self._map(exc) from exc

    def sql(self, text: str) -> str:
        """Psycopg takes ``%s``."""
        return text.replace("?", "%s")

    def to_db(self, value: datetime | None) -> object:
        """An aware datetime for ``timestamptz``."""
        return None if value is None else value.astimezone(UTC)

    def from_db(self, value: object) -> datetime | None:
        """``timestamptz`` comes back aware; normalise to UTC."""
        if value is None:
            return None
        if not isinstance(value, datetime):  # pragma: no cover - schema guarantees
            raise StoreError(f"expected a timestamptz, got {type(value).__name__}")
        return value.astimezone(UTC)

    def upsert_rows(self, cur: Any, rows: list[StageRow]) -> tuple[int, int]:  # noqa: ANN401
        """COPY into a temporary stage, then merge: insert new keys, update changed values."""
        with cur.copy(f"COPY _solaredge_stage ({_COLUMNS}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        inserted, written = cur.execute(_MERGE).fetchone()
        return int(inserted), int(written) - int(inserted)

    def after_migrate(self) -> None:
        """Bound the session's statements and lock waits; create its staging table.

        The timeouts apply after the migrations (a migration may run long, once): a
        server that stops answering or a lock held elsewhere then fails a call with
        `StoreError` instead of holding it (and a SIGTERM waiting for it) forever.
        """
        self.set_timeouts()
        with self.reading() as cur:
            cur.execute(
                "CREATE TEMPORARY TABLE IF NOT EXISTS _solaredge_stage "
                "(LIKE measurements INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
            )

    def set_timeouts(self) -> None:
        """Apply the session's statement and lock timeouts (`None`: left as they are)."""
        statement, lock = self._timeouts
        with self.reading() as cur:
            if statement is not None:
                cur.execute(f"SET statement_timeout = {max(1, round(statement * 1000))}")
            if lock is not None:
                cur.execute(f"SET lock_timeout = {max(1, round(lock * 1000))}")

    def migration_lock(self, cur: Any) -> None:  # noqa: ANN401
        """A transaction advisory lock: concurrent first opens migrate one at a time."""
        cur.execute(f"SELECT pg_advisory_xact_lock({_LOCK_KEY}, 0)")

    def lock_exclusive(self) -> None:
        """A session advisory lock on this schema; `StoreLockedError` if another holds it."""
        with self.reading() as cur:
            got = cur.execute(f"SELECT pg_try_advisory_lock({_LOCK_KEY}, 1)").fetchone()
        if not got[0]:
            raise StoreLockedError(
                "another process holds this PostgreSQL store for exclusive use: wait for it "
                "to finish, or use leases (claim) to share the fleet between workers"
            )
        self._exclusive = True

    def holds_exclusive(self) -> bool:
        """Whether this session holds the schema's advisory lock."""
        return self._exclusive

    def unlock_exclusive(self) -> None:
        """Drop the schema's advisory lock, if held."""
        assert psycopg is not None  # noqa: S101 - checked in __init__
        if self._exclusive:
            with contextlib.suppress(psycopg.Error):
                self._conn.execute(f"SELECT pg_advisory_unlock({_LOCK_KEY}, 1)")
            self._exclusive = False

    def close(self) -> None:
        """Drop the exclusive lock now (the server would only when it notices), then close."""
        self.unlock_exclusive()
        self._conn.close()
