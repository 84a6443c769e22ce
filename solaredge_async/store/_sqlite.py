"""The embedded store: stdlib `sqlite3`, WAL, one writer at a time.

Transactions start with ``BEGIN IMMEDIATE`` so a second writer waits up to the busy
timeout for the first and then fails with `StoreBusyError`, rather than failing late on
commit. Exclusive use is an OS lock on ``<database>.lock`` beside the file.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from solaredge_async.store._backend import Backend, StageRow
from solaredge_async.store._errors import StoreBusyError, StoreError, StoreLockedError
from solaredge_async.store._validate import TEXT_FORMAT

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

__all__ = ["SQLiteBackend"]

_INSERT = (
    "INSERT INTO measurements (site_id, device_serial, source, metric, resolution, "
    "period_start, period_end, value, unit) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT DO NOTHING"
)
_UPDATE = (
    "UPDATE measurements SET period_end = ?, value = ?, unit = ? "
    "WHERE site_id = ? AND device_serial = ? AND source = ? AND metric = ? "
    "AND resolution = ? AND period_start = ? "
    "AND (period_end IS NOT ? OR value IS NOT ? OR unit IS NOT ?)"
)


def _busy(exc: sqlite3.Error) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class SQLiteBackend(Backend):
    """A SQLite database file, opened in WAL mode with a busy timeout."""

    dialect = "sqlite"
    claim_lock: ClassVar[str] = ""

    def __init__(self, path: Path, *, busy_timeout: float, read_only: bool = False) -> None:
        self._path = path
        self._lock_file: int | None = None
        #: Read-only on a missing file: an empty database in memory (nothing on disk).
        self.in_memory = read_only and not path.exists()
        target: str | Path = path
        if self.in_memory:
            target = ":memory:"
        elif read_only:
            target = f"{path.resolve().as_uri().replace('file://', 'file:', 1)}?mode=ro"
        try:
            if not read_only:
                path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                target,
                timeout=busy_timeout,
                isolation_level=None,  # transactions are explicit: BEGIN IMMEDIATE
                check_same_thread=False,  # one call at a time, from worker threads
                uri=read_only and not self.in_memory,
            )
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the SQLite database {path}: {exc}") from exc
        if read_only and not self.in_memory:
            try:
                self._conn.execute("PRAGMA query_only=ON")
            except sqlite3.Error as exc:  # pragma: no cover - any SQLite accepts it
                self._conn.close()
                raise StoreError(f"cannot open {path} read-only: {exc}") from exc
            return
        self._set_up(path, busy_timeout)

    def _set_up(self, path: Path, busy_timeout: float) -> None:
        """WAL, synchronous=NORMAL, foreign keys; closes the connection on failure.

        Raises:
            StoreBusyError: Another connection kept the file busy past ``busy_timeout``.
            StoreError: Any other SQLite error.
        """
        # Switching a new file to WAL needs it alone: SQLite answers "busy" at once,
        # without its busy handler, while another connection sets it up too. Tried
        # again, with short pauses (this runs in a worker thread), up to busy_timeout.
        ends = time.monotonic() + busy_timeout
        pause = 0.005
        while True:
            try:
                self._conn.execute("PRAGMA journal_mode=WAL")
                # NORMAL in WAL mode: a power cut may lose the last commits, never corrupt.
                self._conn.execute("PRAGMA synchronous=NORMAL")
                self._conn.execute("PRAGMA foreign_keys=ON")
            except sqlite3.Error as exc:
                if _busy(exc) and time.monotonic() + pause < ends:
                    time.sleep(pause)
                    pause = min(pause * 2, 0.1)
                    continue
                self._conn.close()
                if _busy(exc):
                    raise StoreBusyError(
                        f"the SQLite database {path} is busy with another writer: retry later"
                    ) from exc
                raise StoreError(f"cannot set up the SQLite database {path}: {exc}") from exc
            return

    def _map(self, exc: sqlite3.Error) -> StoreError:
        if _busy(exc):
            return StoreBusyError(
                f"the SQLite database {self._path} stayed locked by another writer past the "
                "busy timeout: retry later, raise busy_timeout, or run one writer at a time"
            )
        return StoreError(f"SQLite error on {self._path}: {exc}")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Any]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``; rolls back on any error."""
        cur = self._conn.cursor()
        try:
            cur.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self._map(exc) from exc
        try:
            yield cur
            cur.execute("COMMIT")
        except BaseException as exc:
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise self._map(exc) from exc
            raise
        finally:
            cur.close()

    @contextlib.contextmanager
    def durable_transaction(self) -> Iterator[Any]:
        """A transaction committed with ``synchronous=FULL``: the WAL is on disk at commit.

        The store's other writes keep ``NORMAL`` (a power cut may lose the last ones);
        a rotated refresh token may not be lost, as the server voided the previous one.
        """
        try:
            self._conn.execute("PRAGMA synchronous=FULL")
        except sqlite3.Error as exc:
            raise self._map(exc) from exc
        try:
            with self.transaction() as cur:
                yield cur
        finally:
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("PRAGMA synchronous=NORMAL")

    @contextlib.contextmanager
    def reading(self) -> Iterator[Any]:
        """A cursor outside any explicit transaction."""
        cur = self._conn.cursor()
        try:
            yield cur
        except sqlite3.Error as exc:
            raise self._map(exc) from exc
        finally:
            cur.close()

    def sql(self, text: str) -> str:
        """SQLite takes ``?`` as it is."""
        return text

    def to_db(self, value: datetime | None) -> object:
        """``YYYY-MM-DDTHH:MM:SSZ`` text (fixed width, so text order is time order)."""
        return None if value is None else value.astimezone(UTC).strftime(TEXT_FORMAT)

    def from_db(self, value: object) -> datetime | None:
        """Parse the fixed-format text back into an aware UTC datetime."""
        if value is None:
            return None
        return datetime.strptime(str(value), TEXT_FORMAT).replace(tzinfo=UTC)

    def upsert_rows(self, cur: Any, rows: list[StageRow]) -> tuple[int, int]:  # noqa: ANN401
        """Insert new keys, then update the rows whose value, unit or end differ."""
        # A fleet's rows share few distinct instants: format each once.
        texts: dict[datetime, str] = {}

        def text(value: datetime) -> str:
            got = texts.get(value)
            if got is None:
                got = texts[value] = value.strftime(TEXT_FORMAT)
            return got

        encoded = [
            (s, d, src, m, r, text(a), text(b), v, u) for (s, d, src, m, r, a, b, v, u) in rows
        ]
        cur.executemany(_INSERT, encoded)
        inserted = cur.rowcount
        cur.executemany(
            _UPDATE,
            [(b, v, u, s, d, src, m, r, a, b, v, u) for (s, d, src, m, r, a, b, v, u) in encoded],
        )
        return inserted, cur.rowcount

    def migration_lock(self, cur: Any) -> None:  # noqa: ANN401
        """``BEGIN IMMEDIATE`` already holds the write lock."""

    def lock_exclusive(self) -> None:
        """Lock ``<database>.lock`` without waiting; `StoreLockedError` if another holds it."""
        lock_path = self._path.with_name(self._path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
                import msvcrt  # noqa: PLC0415

                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            else:
                import fcntl  # noqa: PLC0415

                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            raise StoreLockedError(
                f"another process holds {self._path} for exclusive use (lock file "
                f"{lock_path}): wait for it to finish"
            ) from exc
        self._lock_file = fd

    def holds_exclusive(self) -> bool:
        """Whether this connection holds ``<database>.lock``."""
        return self._lock_file is not None

    def unlock_exclusive(self) -> None:
        """Drop the lock on ``<database>.lock`` (closing it releases the OS lock)."""
        if self._lock_file is not None:
            os.close(self._lock_file)
            self._lock_file = None

    def close(self) -> None:
        """Close the connection and drop the exclusive lock."""
        self._conn.close()
        self.unlock_exclusive()
