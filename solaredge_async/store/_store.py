"""`Store`, the async face of a database, and `open_store`, which picks one by URL.

Every call runs the blocking driver in an anyio worker thread, one call at a time per
store, so the same code serves asyncio and trio. A call that is cancelled still lets its
transaction finish (commit or roll back) before the cancellation is raised.
"""

from __future__ import annotations

import contextlib
import functools
import re
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import anyio
import anyio.lowlevel
import anyio.to_thread

from solaredge_async.store._errors import StoreError, StoreURLError
from solaredge_async.store._records import RunTotals

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Sequence
    from datetime import datetime

    from solaredge_async.models import Site
    from solaredge_async.store._backend import Backend
    from solaredge_async.store._records import (
        Attempt,
        CommitResult,
        ItemKey,
        MeasurementRow,
        RunRecord,
        StoredSite,
        SyncState,
        WatermarkAdvance,
    )
    from solaredge_async.store._schema import Dialect

__all__ = ["Store", "open_store", "redact_url"]

_T = TypeVar("_T")


_SECRET_PARAM = re.compile(r"(?i)([?&;\s](?:ssl)?password)=[^&#;\s]*")


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (safe for logs and messages).

    Covers the user info (``user:password@``) and the ``password``/``sslpassword``
    query parameters libpq reads; never raises, even on a malformed URL.
    """
    shown = _SECRET_PARAM.sub(r"\1=***", url)
    scheme, sep, rest = shown.partition("://")
    if not sep or "@" not in rest:
        return shown
    userinfo, _, tail = rest.rpartition("@")
    user, colon, _password = userinfo.partition(":")
    if not colon:
        return shown
    return f"{scheme}://{user}:***@{tail}"


def _sqlite_path(url: str) -> Path:
    rest = url[len("sqlite://") :]
    if not rest.startswith("/") or rest == "/":
        raise StoreURLError(
            f"{url!r} has no database path: write sqlite:///relative/file.db or "
            "sqlite:////absolute/file.db"
        )
    path = rest[1:].split("?", 1)[0]
    if not path:
        raise StoreURLError(f"{url!r} has no database path")
    return Path(path)


class Store:
    """A database of measurements, watermarks, leases and runs (use `open_store`).

    Raises (every method): `StoreError` or one of its subclasses; a failed write has been
    rolled back whole.
    """

    def __init__(self, backend: Backend, url: str, *, inline: bool = False) -> None:
        self._backend = backend
        self._url = redact_url(url)
        self._limiter = anyio.CapacityLimiter(1)
        self._closed = False
        self._inline = inline

    def __repr__(self) -> str:
        return f"<Store {self._url}>"

    @property
    def dialect(self) -> Dialect:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._backend.dialect

    @property
    def url(self) -> str:
        """The store's URL, password redacted."""
        return self._url

    async def _call(self, func: Callable[..., _T], /, *args: object, **kwargs: object) -> _T:
        if self._closed:
            raise StoreError(f"{self!r} is closed: open it again with open_store")
        if self._inline:  # tests on a virtual clock: see open_store's ``_inline``
            await anyio.lowlevel.checkpoint()
            return func(*args, **kwargs)
        return await anyio.to_thread.run_sync(
            functools.partial(func, *args, **kwargs), limiter=self._limiter
        )

    async def aclose(self) -> None:
        """Close the connection and drop any exclusive lock (idempotent)."""
        if self._closed:
            return
        with anyio.CancelScope(shield=True):
            await self._call(self._backend.close)
        self._closed = True

    # -- exclusive use -----------------------------------------------------------------

    async def lock_exclusive(self) -> bool:
        """Hold the store for this process alone, as ``open_store(exclusive=True)`` does.

        Returns:
            True when this call took the lock (drop it with `unlock_exclusive`); False
            when the store already held it.

        Raises:
            StoreLockedError: Another process (or another `Store` on the same database)
                holds it: wait for it to finish.
        """
        if self._backend.holds_exclusive():
            return False
        await self._call(self._backend.lock_exclusive)
        return True

    async def unlock_exclusive(self) -> None:
        """Drop the exclusive lock taken by `lock_exclusive` (idempotent)."""
        await self._call(self._backend.unlock_exclusive)

    # -- schema ------------------------------------------------------------------------

    async def schema_version(self) -> int:
        """The schema version the database is at."""
        return await self._call(self._backend.schema_version)

    # -- writes ------------------------------------------------------------------------

    async def commit_batch(
        self,
        rows: Sequence[MeasurementRow],
        *,
        watermarks: Sequence[WatermarkAdvance] = (),
        owner: str | None = None,
        now: datetime | None = None,
    ) -> CommitResult:
        """Upsert ``rows`` and move ``watermarks`` forward in one transaction.

        A row changes only when its value, unit or end differ from the stored row; rows
        with no value (`None` or NaN) are not stored. A watermark never moves backwards
        here (see `reset_watermarks`); moving one records a successful attempt.

        Args:
            rows: The rows; a key repeated in the batch keeps its last row.
            watermarks: The items whose buckets before ``complete_until`` are now stored.
            owner: The lease owner committing; when given, a watermark item leased to
                another worker (lease unexpired) makes the whole batch fail.
            now: The commit time (aware), default the current time.

        Raises:
            InvalidRowError: A bad row or watermark; nothing was written.
            LeaseLostError: ``owner`` no longer holds an item; nothing was written.
            StoreBusyError: Another writer held the database too long (SQLite).
            StoreError: The database refused the batch; nothing was written.
        """
        return await self._call(
            self._backend.commit_batch, tuple(rows), tuple(watermarks), owner, now
        )

    async def record_attempts(self, attempts: Sequence[Attempt]) -> None:
        """Record when items were attempted and what failed, in one transaction.

        Raises:
            InvalidRowError: An attempt with a naive time or an empty target.
        """
        await self._call(self._backend.record_attempts, tuple(attempts))

    async def ensure_items(self, items: Sequence[ItemKey]) -> int:
        """Create the ``sync_state`` rows of ``items`` that are missing; return how many.

        Leases are taken on existing rows only, so call this before `claim`.
        """
        return await self._call(self._backend.ensure_items, tuple(items))

    async def reset_watermarks(self, items: Sequence[ItemKey], *, to: datetime | None) -> int:
        """Set the watermarks of ``items`` to ``to`` (`None`: forget), backwards too.

        Returns:
            How many items exist and were reset.
        """
        return await self._call(self._backend.reset_watermarks, tuple(items), to)

    async def upsert_sites(self, sites: Sequence[Site], *, now: datetime | None = None) -> int:
        """Insert or update ``sites`` (`solaredge_async.models.Site` records); return how many."""
        return await self._call(self._backend.upsert_sites, tuple(sites), now)

    # -- leases ------------------------------------------------------------------------

    async def claim(
        self,
        owner: str,
        *,
        until: datetime,
        ttl: float = 300.0,
        limit: int = 100,
        targets: Sequence[str] | None = None,
        site_ids: Sequence[int] | None = None,
        now: datetime | None = None,
    ) -> tuple[SyncState, ...]:
        """Lease up to ``limit`` items whose watermark is short of ``until``.

        An item is free when nobody holds it, ``owner`` already does, or its lease
        expired. On PostgreSQL rows are picked with ``FOR UPDATE SKIP LOCKED``, so
        workers on several hosts never get the same item; on SQLite writers are
        serialised anyway.

        Args:
            owner: A name unique to the worker (e.g. host and process id).
            until: The instant the caller wants items complete up to (aware).
            ttl: How long the lease lasts, in seconds; renew by claiming again.
            limit: The most items to lease.
            targets: Only these targets (all when `None`).
            site_ids: Only these sites (all when `None`).
            now: The current time (aware), default the clock (lease expiry uses it).

        Returns:
            The leased items' states, by site, target and resolution.
        """
        return await self._call(
            self._backend.claim,
            owner,
            until=until,
            ttl=ttl,
            limit=limit,
            targets=None if targets is None else tuple(targets),
            site_ids=None if site_ids is None else tuple(site_ids),
            now=now,
        )

    async def renew(self, owner: str, *, ttl: float, now: datetime | None = None) -> int:
        """Extend every lease ``owner`` holds to ``now + ttl`` seconds; return how many.

        A lease another worker took over (after it expired) is no longer ``owner``'s
        and is left alone.

        Raises:
            InvalidRowError: ``ttl`` not positive or ``now`` naive.
        """
        return await self._call(self._backend.renew, owner, ttl, now)

    async def release(self, owner: str, items: Sequence[ItemKey] | None = None) -> int:
        """Drop ``owner``'s leases on ``items`` (all its leases when `None`); return how many."""
        return await self._call(
            self._backend.release, owner, None if items is None else tuple(items)
        )

    # -- runs --------------------------------------------------------------------------

    async def start_run(self, *, now: datetime | None = None) -> int:
        """Record that a run started; return its id."""
        return await self._call(self._backend.start_run, now)

    async def finish_run(
        self, run_id: int, totals: RunTotals | None = None, *, now: datetime | None = None
    ) -> None:
        """Record a run's end and its counters.

        Raises:
            StoreError: There is no run ``run_id``.
        """
        await self._call(self._backend.finish_run, run_id, totals or RunTotals(), now)

    async def runs(self) -> tuple[RunRecord, ...]:
        """Every run, oldest first."""
        return await self._call(self._backend.runs)

    # -- OAuth tokens ------------------------------------------------------------------

    async def load_token_data(self, grant: str) -> str | None:
        """The encoded token set stored for ``grant`` (`DatabaseTokenStore` decodes it).

        The text holds the grant's tokens: never log it.
        """
        return await self._call(self._backend.load_token_data, grant)

    async def save_token_data(self, grant: str, data: str, *, now: datetime | None = None) -> None:
        """Store ``grant``'s encoded token set in its own transaction, committed durably.

        Returns once the commit is on disk (SQLite ``synchronous=FULL``, PostgreSQL
        ``synchronous_commit=on``); a cancelled call still lets the commit finish.

        Raises:
            InvalidRowError: ``now`` is naive.
            StoreError: The database refused the write; nothing was stored.
        """
        await self._call(self._backend.save_token_data, grant, data, now)

    async def delete_token_data(self, grant: str) -> bool:
        """Forget ``grant``'s token set, durably; True when there was one."""
        return await self._call(self._backend.delete_token_data, grant)

    # -- reads -------------------------------------------------------------------------

    async def watermarks(
        self, *, site_ids: Sequence[int] | None = None, targets: Sequence[str] | None = None
    ) -> tuple[SyncState, ...]:
        """The states of ``site_ids`` x ``targets`` that exist (all when `None`)."""
        return await self._call(
            self._backend.watermarks,
            None if site_ids is None else tuple(site_ids),
            None if targets is None else tuple(targets),
        )

    async def count_measurements(
        self, *, site_ids: Sequence[int] | None = None, sources: Sequence[str] | None = None
    ) -> int:
        """How many measurement rows are stored (for ``site_ids`` and ``sources``)."""
        return await self._call(
            self._backend.count_measurements,
            None if site_ids is None else tuple(site_ids),
            None if sources is None else tuple(sources),
        )

    async def measurements(
        self,
        site_id: int,
        *,
        start: datetime,
        end: datetime,
        sources: Sequence[str] | None = None,
        metrics: Sequence[str] | None = None,
    ) -> tuple[MeasurementRow, ...]:
        """The rows of ``site_id`` whose ``period_start`` is in ``[start, end)`` (aware).

        Ordered by source, metric, resolution, device serial and time.
        """
        return await self._call(
            self._backend.measurements,
            site_id,
            start,
            end,
            None if sources is None else tuple(sources),
            None if metrics is None else tuple(metrics),
        )

    async def sites(self) -> tuple[StoredSite, ...]:
        """Every stored site, by id."""
        return await self._call(self._backend.sites)


def _connect(
    url: str,
    *,
    busy_timeout: float,
    connect_timeout: float,
    statement_timeout: float | None,
    lock_timeout: float | None,
    read_only: bool,
) -> Backend:
    scheme = url.split(":", 1)[0].lower()
    if scheme == "sqlite":
        from solaredge_async.store._sqlite import SQLiteBackend  # noqa: PLC0415

        return SQLiteBackend(_sqlite_path(url), busy_timeout=busy_timeout, read_only=read_only)
    if scheme in {"postgresql", "postgres"}:
        from solaredge_async.store._postgres import PostgresBackend  # noqa: PLC0415

        return PostgresBackend(
            url,
            connect_timeout=connect_timeout,
            statement_timeout=statement_timeout,
            lock_timeout=lock_timeout,
            read_only=read_only,
        )
    raise StoreURLError(
        f"unknown store URL scheme {scheme!r} in {redact_url(url)!r}: use "
        "sqlite:///path/to/file.db or postgresql://user@host/dbname"
    )


def _prepare(backend: Backend, *, exclusive: bool, read_only: bool) -> None:
    try:
        if read_only:
            _prepare_read_only(backend)
            return
        if exclusive:
            backend.lock_exclusive()
        backend.migrate()
        backend.after_migrate()
    except BaseException:
        backend.close()
        raise


def _prepare_read_only(backend: Backend) -> None:
    from solaredge_async.store._postgres import PostgresBackend  # noqa: PLC0415
    from solaredge_async.store._sqlite import SQLiteBackend  # noqa: PLC0415

    if isinstance(backend, SQLiteBackend) and backend.in_memory:
        backend.migrate()  # an empty database in memory: nothing on disk
        return
    backend.check_current()
    if isinstance(backend, PostgresBackend):
        backend.set_timeouts()


@contextlib.asynccontextmanager
async def open_store(
    url: str,
    *,
    exclusive: bool = False,
    busy_timeout: float = 5.0,
    connect_timeout: float = 10.0,
    statement_timeout: float | None = 60.0,
    lock_timeout: float | None = 10.0,
    read_only: bool = False,
    _inline: bool = False,
) -> AsyncIterator[Store]:
    """Open (creating and migrating as needed) the store at ``url``.

    ``sqlite:///relative/file.db`` or ``sqlite:////absolute/file.db`` is the embedded
    default; ``postgresql://user:password@host:port/dbname`` (any libpq URL) needs the
    ``postgres`` extra.

    Args:
        url: The store's URL.
        exclusive: Hold the store for this process alone until closed (a lock file
            beside a SQLite database, an advisory lock on PostgreSQL).
        busy_timeout: How long a SQLite writer waits for another, in seconds.
        connect_timeout: How long to wait for a PostgreSQL server, in seconds.
        statement_timeout: PostgreSQL: the longest a statement may run, in seconds,
            after the migrations (`None`: the URL's or server's setting). A call past
            it fails with `StoreBusyError`, so a stuck server never holds a sync (or
            its SIGTERM clean-up) for longer.
        lock_timeout: PostgreSQL: the longest a statement waits for a row or table
            lock, in seconds (`None`: the URL's or server's setting); past it
            `StoreBusyError`. The connection also uses TCP keepalives (see
            ``KEEPALIVES`` in ``solaredge_async.store._postgres``; the URL's
            ``keepalives*`` parameters win), so a dead server is noticed in about a
            minute.
        read_only: Write nothing: no file or schema is created, nothing migrated, and
            the session refuses writes (SQLite ``mode=ro``, PostgreSQL
            ``default_transaction_read_only``). A missing SQLite file reads as an empty
            store (in memory). For planning (``sync --dry-run``).
        _inline: Private, for tests on a virtual clock only: run every database call
            on the event loop's thread instead of a worker thread. A virtual clock
            (trio's ``MockClock`` autojump, ``tests/_clock.py``) jumps whenever every
            task waits, including while one waits for a worker thread, so timers would
            fire before a store call returns. Inline calls block the loop: never in
            production.

    Raises:
        StoreURLError: An unknown scheme, no path, a malformed PostgreSQL URL, or
            psycopg missing.
        StoreLockedError: ``exclusive`` and another process holds the store.
        SchemaVersionError: The database is newer than this code (or, ``read_only``,
            not at its schema version).
        StoreUnavailableError: The PostgreSQL server cannot be reached.
        StoreBusyError: Another SQLite writer held the database past ``busy_timeout``.
    """
    connect = functools.partial(
        _connect,
        url,
        busy_timeout=busy_timeout,
        connect_timeout=connect_timeout,
        statement_timeout=statement_timeout,
        lock_timeout=lock_timeout,
        read_only=read_only,
    )
    backend = connect() if _inline else await anyio.to_thread.run_sync(connect)
    prepare = functools.partial(_prepare, backend, exclusive=exclusive, read_only=read_only)
    if _inline:
        prepare()
    else:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(prepare)
    store = Store(backend, url, inline=_inline)
    try:
        yield store
    finally:
        await store.aclose()
