"""How a client is put together from its arguments: credential, limiters, HTTP client.

`BaseClient.__init__` calls these once; each checks what it is given and raises
`ConfigurationError` for settings that cannot work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from solaredge_async import _budget, errors
from solaredge_async._credentials import (
    ApiKeyCredential,
    BearerCredential,
    Credential,
    TokenProvider,
)
from solaredge_async._endpoints import ENDPOINTS
from solaredge_async.limits._bucket import DEFAULT_SAFETY_MARGIN, RateLimiter
from solaredge_async.models import Resolution

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping

    from solaredge_async.limits._ledger import CreditLedger

__all__ = [
    "account_of",
    "http_client_for",
    "ledger_of",
    "limiters",
    "make_credential",
    "resolution_table",
    "user_agent",
]


def make_credential(
    api_key: str | None, account_key: str | None, token_provider: TokenProvider | None
) -> Credential:
    if token_provider is None:
        return ApiKeyCredential(api_key, account_key)
    if api_key is not None or account_key is not None:
        raise errors.ConfigurationError(
            "pass either api_key (with account_key) or token_provider, not both"
        )
    return BearerCredential(token_provider)


def limiters(
    rate_limiter: RateLimiter | None,
    requests_per_minute: float | None,
    burst: int,
    ledger: CreditLedger,
    account: str,
) -> tuple[RateLimiter | None, RateLimiter]:
    """The limiter the caller sees, and the one the engine takes a token from per attempt.

    The engine's limiter charges ``ledger`` for each attempt it lets through.
    """
    if rate_limiter is not None:
        if rate_limiter.ledger is not None:
            return rate_limiter, rate_limiter  # the caller's limiter charges its own ledger
        return rate_limiter, _budget.LedgerGate(ledger, account, rate_limiter)
    if requests_per_minute is None:
        return None, _budget.LedgerGate(ledger, account, None)
    limiter = RateLimiter(
        requests_per_minute,
        burst=burst,
        safety_margin=DEFAULT_SAFETY_MARGIN,
        ledger=ledger,
        account=account,
    )
    return limiter, limiter


def ledger_of(rate_limiter: RateLimiter | None) -> CreditLedger | None:
    return rate_limiter.ledger if rate_limiter is not None else None


def account_of(rate_limiter: RateLimiter | None, default: str) -> str:
    """The ledger account: a caller's limiter with a ledger charges under its own."""
    if rate_limiter is None or rate_limiter.ledger is None:
        return default
    account = getattr(rate_limiter, "account", None) or rate_limiter._account  # noqa: SLF001
    return str(account) or default


def http_client_for(
    transport: httpx.AsyncBaseTransport,
    timeout: float | httpx.Timeout,
    max_concurrency: int,
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=transport,
        timeout=timeout,
        # max_keepalive == max_connections: httpcore compares the keep-alive
        # bound with the total count, so a smaller one churns connections.
        limits=httpx.Limits(
            max_connections=max_concurrency, max_keepalive_connections=max_concurrency
        ),
        headers={"User-Agent": user_agent(), "Accept": "application/json"},
        follow_redirects=False,
        trust_env=False,
    )


def resolution_table(
    overrides: Mapping[str, Collection[str]] | None,
) -> dict[str, frozenset[str]]:
    """Each operation's accepted resolutions: the table's, with the caller's overrides."""
    table = {e.name: e.resolutions for e in ENDPOINTS.values() if e.resolutions}
    all_names = frozenset(Resolution)
    for name, allowed in (overrides or {}).items():
        if name not in table:
            raise errors.ConfigurationError(
                f"resolutions has an unknown operation {name!r}; known: {', '.join(table)}"
            )
        values = frozenset(str(r) for r in allowed)
        unknown = values - all_names
        if unknown or isinstance(allowed, str) or not values:
            raise errors.ConfigurationError(
                f"resolutions[{name!r}] must be a collection of resolutions among "
                f"{', '.join(sorted(all_names))}; got {sorted(unknown)}"
            )
        table[name] = values
    return table


def user_agent() -> str:
    """The ``User-Agent`` the client sends: this library's and httpx's versions."""
    from solaredge_async._version import __version__  # noqa: PLC0415

    return f"solaredge-async/{__version__} httpx/{httpx.__version__}"
