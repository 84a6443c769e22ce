"""The records a store takes and gives: rows, watermarks, leases, runs.

Every instant is an aware `datetime` in UTC. Records hold data only; checks live in
`solaredge_async.store._validate`.
"""

from __future__ import annotations

from datetime import datetime  # noqa: TC003 - attrs resolves annotations at run time

import attrs

__all__ = [
    "Attempt",
    "CommitResult",
    "ItemKey",
    "MeasurementRow",
    "RunRecord",
    "RunTotals",
    "StoredSite",
    "SyncState",
    "WatermarkAdvance",
]


@attrs.frozen(kw_only=True)
class MeasurementRow:
    """One measured bucket, the unit a store upserts.

    Attributes:
        site_id: The site's id.
        device_serial: The device's serial number, ``""`` for site-level data.
        source: Where the row comes from, as the flat rows of ``sweep`` name it
            (e.g. ``"site_energy"``, ``"inverter"``).
        metric: What was measured, e.g. ``"energy"`` or ``"power"``.
        resolution: The bucket size, e.g. ``"QUARTER_OF_AN_HOUR"``.
        period_start: The bucket's start (aware; stored in UTC).
        period_end: The bucket's end (aware; not before ``period_start``).
        value: The measured value in ``unit``; `None` (or NaN) rows are not stored.
        unit: The value's unit as the API names it (``"Wh"``, ``"W"``, ...), or `None`.
    """

    site_id: int
    device_serial: str
    source: str
    metric: str
    resolution: str
    period_start: datetime
    period_end: datetime
    value: float | None
    unit: str | None = None


@attrs.frozen(kw_only=True)
class ItemKey:
    """A unit of sync work: one site, one target, one resolution.

    Attributes:
        site_id: The site's id.
        target: What is synced, e.g. ``"site_energy"`` (the sync's vocabulary).
        resolution: The bucket size, e.g. ``"QUARTER_OF_AN_HOUR"``.
    """

    site_id: int
    target: str
    resolution: str


@attrs.frozen(kw_only=True)
class WatermarkAdvance:
    """Move an item's watermark forward, in the same transaction as its rows.

    Attributes:
        item: The item whose watermark moves.
        complete_until: Every bucket before this instant (aware) is stored whole.
            A value behind the stored watermark leaves it where it is.
    """

    item: ItemKey
    complete_until: datetime


@attrs.frozen(kw_only=True)
class Attempt:
    """The outcome of one attempt at an item, recorded outside any data batch.

    Attributes:
        item: The item attempted.
        at: When the attempt ended (aware).
        error: `None` on success, else a short description of what failed (no secrets).
    """

    item: ItemKey
    at: datetime
    error: str | None = None


@attrs.frozen(kw_only=True)
class SyncState:
    """What a store knows about one item (a row of ``sync_state``).

    Attributes:
        item: Which site, target and resolution.
        complete_until: The watermark: every bucket before it is stored, or `None`.
        last_attempt_at: When the item was last attempted, or `None`.
        last_success_at: When a batch last committed for it, or `None`.
        last_error: The last attempt's error, `None` after a success.
        attempts: How many attempts were recorded.
        lease_owner: The worker holding the item, or `None`.
        lease_expires: When that lease runs out, or `None`.
    """

    item: ItemKey
    complete_until: datetime | None = None
    last_attempt_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    attempts: int = 0
    lease_owner: str | None = None
    lease_expires: datetime | None = None


@attrs.frozen(kw_only=True)
class CommitResult:
    """What one `Store.commit_batch` changed.

    Attributes:
        inserted: Rows that were new.
        updated: Rows whose value, unit or end changed.
        unchanged: Rows already stored exactly so (rewritten nothing).
        skipped: Rows left out because their value was `None` or NaN.
        watermarks_moved: Watermarks that moved forward.
    """

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    watermarks_moved: int = 0


@attrs.frozen(kw_only=True)
class RunTotals:
    """The counters a run ends with (see `Store.finish_run`).

    Attributes:
        credits: API credits spent.
        succeeded: Work items that completed.
        failed: Work items that failed.
        not_attempted: Work items left for a later run (budget, interruption).
        rate_limited: HTTP 429 answers seen.
        rows: Measurement rows inserted or updated.
        outcome: A short word: ``"ok"``, ``"partial"``, ``"failed"``, ``"interrupted"``.
    """

    credits: int = 0
    succeeded: int = 0
    failed: int = 0
    not_attempted: int = 0
    rate_limited: int = 0
    rows: int = 0
    outcome: str = "ok"


@attrs.frozen(kw_only=True)
class RunRecord:
    """A row of ``runs``.

    Attributes:
        run_id: The run's id, increasing.
        started_at: When it started.
        finished_at: When it finished, `None` while running (or after a crash).
        totals: Its counters; zeros and an empty outcome until it finishes.
    """

    run_id: int
    started_at: datetime
    finished_at: datetime | None
    totals: RunTotals


@attrs.frozen(kw_only=True)
class StoredSite:
    """A row of ``sites``.

    Attributes:
        site_id: The site's id.
        name: Its name.
        zone: Its IANA time zone, e.g. ``"Europe/Berlin"``.
        peak_power_kw: Installed peak power, in kW.
        installation_date: When it was installed, ISO-8601 with its local offset.
        activation_status: ``ACTIVE``, ``PENDING`` or another raw status.
        note: Free text.
        account_id: The owning account.
        location: The address fields, as a JSON object string.
        updated_at: When this row was last written.
    """

    site_id: int
    name: str | None = None
    zone: str | None = None
    peak_power_kw: float | None = None
    installation_date: str | None = None
    activation_status: str | None = None
    note: str | None = None
    account_id: int | None = None
    location: str | None = None
    updated_at: datetime | None = None
