"""Stores: measurements, watermarks, leases and runs in SQLite or PostgreSQL.

Open one by URL with `open_store`; ``sqlite:///file.db`` is the embedded default and
``postgresql://...`` (extra ``postgres``) lets several workers share a fleet through
leases. This package knows nothing of fleets or the API: it stores `MeasurementRow`
records and the watermarks that say which buckets are complete, and (`DatabaseTokenStore`)
the rotated tokens of OAuth grants.

Example::

    async with open_store("sqlite:///fleet.db") as store:
        result = await store.commit_batch(rows, watermarks=[advance])
"""

from __future__ import annotations

from solaredge_async.store._errors import (
    InvalidRowError,
    LeaseLostError,
    SchemaVersionError,
    StoreBusyError,
    StoreError,
    StoreLockedError,
    StoreUnavailableError,
    StoreURLError,
)
from solaredge_async.store._records import (
    Attempt,
    CommitResult,
    ItemKey,
    MeasurementRow,
    RunRecord,
    RunTotals,
    StoredSite,
    SyncState,
    WatermarkAdvance,
)
from solaredge_async.store._schema import MIGRATIONS, Migration
from solaredge_async.store._store import Store, open_store, redact_url
from solaredge_async.store._tokens import DatabaseTokenStore

__all__ = [
    "MIGRATIONS",
    "Attempt",
    "CommitResult",
    "DatabaseTokenStore",
    "InvalidRowError",
    "ItemKey",
    "LeaseLostError",
    "MeasurementRow",
    "Migration",
    "RunRecord",
    "RunTotals",
    "SchemaVersionError",
    "Store",
    "StoreBusyError",
    "StoreError",
    "StoreLockedError",
    "StoreURLError",
    "StoreUnavailableError",
    "StoredSite",
    "SyncState",
    "WatermarkAdvance",
    "open_store",
    "redact_url",
]
