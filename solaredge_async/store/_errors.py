"""The errors a store raises, all below `solaredge_async.errors.SolarEdgeError`.

The tree::

    SolarEdgeError
    └── StoreError                  a database operation failed (the batch was rolled back)
        ├── StoreURLError           the store URL names no store this library knows
        │                           (also a ConfigurationError)
        ├── InvalidRowError         a row or watermark that cannot be stored (also a ValueError)
        ├── SchemaVersionError      the database's schema is newer than this code knows
        ├── StoreBusyError          another writer held the database past the busy timeout
        ├── StoreLockedError        another process holds the store for exclusive use
        ├── LeaseLostError          a lease this worker relied on is now held by another
        └── StoreUnavailableError   the database server cannot be reached
"""

from __future__ import annotations

from solaredge_async.errors import ConfigurationError, SolarEdgeError

__all__ = [
    "InvalidRowError",
    "LeaseLostError",
    "SchemaVersionError",
    "StoreBusyError",
    "StoreError",
    "StoreLockedError",
    "StoreURLError",
    "StoreUnavailableError",
]


class StoreError(SolarEdgeError):
    """A store operation failed; the transaction it ran in was rolled back."""


class StoreURLError(StoreError, ConfigurationError):
    """The store URL is not ``sqlite:///path`` or ``postgresql://...``, or its extra is missing."""


class InvalidRowError(StoreError, ValueError):
    """A row, site or watermark that cannot be stored (naive instant, end before start, ...).

    Raised before the database is touched: the batch it was in is not written.
    """


class SchemaVersionError(StoreError):
    """The database was migrated by a newer version of solaredge-async.

    Upgrade solaredge-async, or point it at another database.
    """


class StoreBusyError(StoreError):
    """Another writer held the database longer than the busy timeout (SQLite).

    Retry later, raise ``busy_timeout`` in `open_store`, or let one process write at a time.
    """


class StoreLockedError(StoreError):
    """Another process holds the store for exclusive use (``open_store(..., exclusive=True)``)."""


class LeaseLostError(StoreError):
    """A lease expired and another worker took the item; this worker's batch was rolled back."""


class StoreUnavailableError(StoreError):
    """The database server could not be reached or dropped the connection."""
