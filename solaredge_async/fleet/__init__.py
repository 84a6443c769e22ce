"""Fleet sweeps: every site, inverter, meter and battery, at the rate limit, losing nothing.

Plan, then run::

    from solaredge_async import SolarEdgeClient
    from solaredge_async.fleet import YESTERDAY, ItemSucceeded, SweepSpec, plan_sweep, sweep

    async with SolarEdgeClient(api_key=...) as client:
        spec = SweepSpec(
            what={"overview", "energy", "inverter_telemetry"}, start=YESTERDAY, end=YESTERDAY
        )
        plan = await plan_sweep(client, spec)       # discovery only: the site list
        print(plan.credits, plan.duration())        # the exact price and the time it takes
        print(plan.describe())                      # price, credits left, when they reset
        async with sweep(client, plan) as results:
            async for result in results:            # each item exactly once
                if isinstance(result, ItemSucceeded):
                    ...

`plan_sweep` turns a `SweepSpec` into `WorkItem` s, one per API call, split at the
client's caps and priced exactly; `sweep` runs them behind the client's rate limiter
and concurrency bound and streams one `SweepResult` per item through a bounded
buffer, so memory stays flat for any fleet size. `flat_rows` turns results into flat
rows for a table load (the CLI's output format).

Several credentials (API keys of several accounts, per-site OAuth grants) form a
`ClientPool`; `plan_pool_sweep` and `pool_sweep` run one sweep over all of them,
each site fetched with a credential that sees it, each account at its own rate.
"""

from solaredge_async._endpoints import BULK_TARGETS, SITE_TARGETS, TARGETS, Target
from solaredge_async.fleet._budget import PlanOverBudgetError, check_budget
from solaredge_async.fleet._plan import SweepPlan, WorkItem, plan_sweep
from solaredge_async.fleet._pool import ClientPool, PoolSite, SiteNotInPoolError
from solaredge_async.fleet._pool_sweep import (
    PoolPart,
    PoolSweep,
    PoolSweepPlan,
    PoolSweepResults,
    plan_pool_sweep,
    pool_sweep,
)
from solaredge_async.fleet._rows import ROW_FIELDS, Row, flat_rows, source_of
from solaredge_async.fleet._run import (
    AUTHENTICATION_FAILED,
    CLIENT_CLOSED,
    QUOTA_EXHAUSTED,
    ItemFailed,
    ItemNotAttempted,
    ItemSucceeded,
    Sweep,
    SweepProgress,
    SweepRecord,
    SweepResult,
    SweepResults,
    sweep,
)
from solaredge_async.fleet._spec import (
    TODAY,
    YESTERDAY,
    SiteDay,
    SweepBound,
    SweepSpec,
)
from solaredge_async.limits._errors import BudgetExceededError

__all__ = [
    "AUTHENTICATION_FAILED",
    "BULK_TARGETS",
    "CLIENT_CLOSED",
    "QUOTA_EXHAUSTED",
    "ROW_FIELDS",
    "SITE_TARGETS",
    "TARGETS",
    "TODAY",
    "YESTERDAY",
    "BudgetExceededError",
    "ClientPool",
    "ItemFailed",
    "ItemNotAttempted",
    "ItemSucceeded",
    "PlanOverBudgetError",
    "PoolPart",
    "PoolSite",
    "PoolSweep",
    "PoolSweepPlan",
    "PoolSweepResults",
    "Row",
    "SiteDay",
    "SiteNotInPoolError",
    "Sweep",
    "SweepBound",
    "SweepPlan",
    "SweepProgress",
    "SweepRecord",
    "SweepResult",
    "SweepResults",
    "SweepSpec",
    "Target",
    "WorkItem",
    "check_budget",
    "flat_rows",
    "plan_pool_sweep",
    "plan_sweep",
    "pool_sweep",
    "source_of",
    "sweep",
]
