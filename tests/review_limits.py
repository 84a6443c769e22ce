"""Review findings on the shared limits, each a test that fails on the code reviewed.

Run (needs redis-server or CI): PYTHONPATH=$PWD python -m pytest tests/review_limits.py -q
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from solaredge_async.limits import RedisLimits
from tests.limits.conftest import private_redis, redis_url

__all__ = ["private_redis", "redis_url"]

coredis = pytest.importorskip("coredis")
pytestmark = pytest.mark.anyio

ACCOUNT = "key#0000abcd"


async def test_a_reply_lost_after_the_acquire_script_ran_does_not_charge_twice(
    redis_url: str,
) -> None:
    """limits/_redis.py:239-272 with 520-560: the acquire script is retried blindly.

    `RedisLimits.run` retries a script on any connection error or ``op_timeout``.
    The acquire script is not idempotent: when Redis ran it (charged the ledger and
    reserved a send slot) and only the reply was lost (a reset connection, a reply
    slower than ``op_timeout``), the retry charges and reserves again. One request
    then costs two credits in the ledger and two slots of the shared bucket; under a
    flaky link the budget runs out early and the fleet slows down. A retry needs an
    idempotency id (the script returns the stored result on a replay).
    """
    async with RedisLimits(redis_url, prefix=f"review-{uuid.uuid4().hex[:10]}") as shared:
        ledger = shared.ledger(monthly_credits=100, billing_day=1)
        limiter = shared.limiter(ACCOUNT, 6000, ledger=ledger)
        real = shared._scripts["acquire"]
        lost = [True]

        async def reply_lost_once(*args: Any, **kwargs: Any) -> Any:
            result = await real(*args, **kwargs)  # Redis ran it
            if lost[0]:
                lost[0] = False
                raise coredis.exceptions.ConnectionError("connection reset by peer")
            return result

        shared._scripts["acquire"] = reply_lost_once
        await limiter.reserve()
        state = await ledger.state(ACCOUNT)
    assert state.spent == 1, f"one reservation charged {state.spent} credits"
