"""Limits on what the client may send: rate limiters, the credit ledger, learned window caps.

- `RateLimiter`: the in-process per-minute token bucket (the default).
- `RedisLimits`: the same limits shared through Redis by processes and hosts
  (optional extra ``redis``; imported lazily, so coredis is needed only to use it).
- `CreditLedger`: the monthly credit budget per credential (`MemoryCreditLedger`,
  `FileCreditLedger`, or on Redis).
- `CapStore`: window caps learned from the server (`MemoryCapStore`, `FileCapStore`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from solaredge_async._lazy import lazy_getattr
from solaredge_async.limits._bucket import DEFAULT_SAFETY_MARGIN, MAX_PAUSE, RateLimiter
from solaredge_async.limits._caps import (
    DEFAULT_REPROBE_AFTER,
    CapStore,
    FileCapStore,
    LearnedCap,
    MemoryCapStore,
)
from solaredge_async.limits._cycle import DEFAULT_MONTHLY_CREDITS, cycle_bounds
from solaredge_async.limits._errors import (
    BudgetExceededError,
    LimitWaitTooLongError,
    SharedStateUnavailableError,
    StateFileError,
)
from solaredge_async.limits._ledger import (
    CreditLedger,
    FileCreditLedger,
    LedgerState,
    MemoryCreditLedger,
)

if TYPE_CHECKING:
    from solaredge_async.limits._redis import RedisCreditLedger, RedisLimits, RedisRateLimiter

__all__ = [
    "DEFAULT_MONTHLY_CREDITS",
    "DEFAULT_REPROBE_AFTER",
    "DEFAULT_SAFETY_MARGIN",
    "MAX_PAUSE",
    "BudgetExceededError",
    "CapStore",
    "CreditLedger",
    "FileCapStore",
    "FileCreditLedger",
    "LearnedCap",
    "LedgerState",
    "LimitWaitTooLongError",
    "MemoryCapStore",
    "MemoryCreditLedger",
    "RateLimiter",
    "RedisCreditLedger",
    "RedisLimits",
    "RedisRateLimiter",
    "SharedStateUnavailableError",
    "StateFileError",
    "cycle_bounds",
]

# coredis is an optional extra: the Redis module is imported when first asked for.
_REDIS_NAMES = ("RedisCreditLedger", "RedisLimits", "RedisRateLimiter")
__getattr__ = lazy_getattr(__name__, dict.fromkeys(_REDIS_NAMES, "solaredge_async.limits._redis"))
