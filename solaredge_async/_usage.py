"""Credit accounting and per-request events.

The API shows no monthly usage, so the client keeps its own ledger: every
request sent costs one credit, whatever the answer (that is what the server
charges, errors included).
"""

from __future__ import annotations

import attrs

__all__ = ["RequestEvent", "Usage"]


@attrs.define(kw_only=True)
class _Counters:
    """The counters of one credential (fields documented on `Usage`)."""

    credential: str
    calls: int = 0
    credits: int = 0
    retries: int = 0
    rate_limited_minute: int = 0
    rate_limited_monthly: int = 0
    last_limit: int | None = None
    last_remaining: int | None = None
    quota_exhausted: bool = False


@attrs.frozen(kw_only=True)
class Usage(_Counters):
    """A snapshot of what one credential has spent through this client.

    Attributes:
        credential: The credential's fingerprint (never the secret itself).
        calls: Operations started (one call may make several attempts).
        credits: Requests sent, each costing one credit, errors and retries included.
        retries: Attempts beyond the first.
        rate_limited_minute: 429 answers classified as the per-minute limit.
        rate_limited_monthly: 429 answers classified as the monthly credits running out.
        last_limit: The last ``x-ratelimit-limit-minute`` seen (calls per minute).
        last_remaining: The last ``x-ratelimit-remaining-minute`` seen.
        quota_exhausted: True once the monthly credits ran out; calls are refused
            locally until `SolarEdgeClient.reset_quota()`.
    """


@attrs.define(kw_only=True)
class Ledger(_Counters):
    """The mutable counters behind `Usage` (one per credential)."""

    def snapshot(self) -> Usage:
        """An immutable copy of the counters."""
        return Usage(**attrs.asdict(self))


@attrs.frozen(kw_only=True)
class RequestEvent:
    """What one attempt did, passed to the client's ``on_request`` hook.

    Attributes:
        method: The HTTP method.
        path: The path below the base URL (no query string, no credentials).
        status_code: The HTTP status, or None when no answer came.
        attempt: 1 for the first attempt, 2 for the first retry, ...
        duration: Seconds from sending to the end of the body (anyio clock).
        credits: Credits this attempt cost (1 when it was sent, else 0).
        error: The name of the error type, if the attempt failed.
    """

    method: str
    path: str
    status_code: int | None
    attempt: int
    duration: float
    credits: int
    error: str | None = None
