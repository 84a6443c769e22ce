"""Keep a fleet current: a poller that spends the credit budget where the data is.

Building blocks, each usable alone:

* `Scheduler` (pure): for each (site, target) the next poll is due just after the next
  bucket is published, on a site-local cadence grid, from the watermark on;
* `NightSkip`: no polls of PV targets at night, from the site's position (NOAA sun
  times) or from observed production;
* `pace` / `estimate_demand` (pure): the finest cadences the budget affords until the
  billing cycle ends, with a `CadenceDecision` per target saying why;
* `Poller`: the loop on anyio that drives them with an injected fetch callable and
  clock, and stops gracefully;
* `PollMetrics` / `serve_metrics`: Prometheus text at ``/metrics``.

A sketch (the fetch callable is the sync engine's job: fetch each item's window, store
its rows and watermark in one transaction, report what happened)::

    from solaredge_async.poll import FetchOutcome, PollSite, PollTarget, Poller

    async def fetch(items):
        return [FetchOutcome(item=i, succeeded=True, complete_until=i.end, credits=1)
                for i in items]

    poller = Poller(
        sites=[PollSite(site_id=1, zone="Europe/Berlin", latitude=52.5, longitude=13.4)],
        targets=[PollTarget(name="energy", pv=True),
                 PollTarget(name="alerts", resolution=None, fleet=True)],
        fetch=fetch,
    )
    summary = await poller.run()          # until poller.stop()
"""

from solaredge_async.poll._budget import (
    BudgetState,
    CadenceDecision,
    PacingReport,
    TargetDemand,
    billing_cycle,
    estimate_demand,
    pace,
)
from solaredge_async.poll._fetch import (
    BUCKET_TARGETS,
    DEFAULT_TAIL_GRACE,
    FLEET_ALERTS,
    RequestTally,
    StoreFetcher,
    discover_sites,
    poll_watermarks,
)
from solaredge_async.poll._follow import FollowClock, TimeSource
from solaredge_async.poll._metrics import CONTENT_TYPE, PollMetrics, serve_metrics
from solaredge_async.poll._night import NightSkip, PollSite, SunTimes, sun_times
from solaredge_async.poll._poller import (
    BudgetConfig,
    Clock,
    FetchBatch,
    FetchOutcome,
    Poller,
    PollSummary,
    ScaledClock,
)
from solaredge_async.poll._schedule import (
    PUBLICATION_DELAY,
    Cadence,
    DueItem,
    PollTarget,
    Rung,
    Scheduler,
    WatermarkKey,
    default_ladder,
    next_boundary,
    next_due,
    previous_boundary,
)

__all__ = [
    "BUCKET_TARGETS",
    "CONTENT_TYPE",
    "DEFAULT_TAIL_GRACE",
    "FLEET_ALERTS",
    "PUBLICATION_DELAY",
    "BudgetConfig",
    "BudgetState",
    "Cadence",
    "CadenceDecision",
    "Clock",
    "DueItem",
    "FetchBatch",
    "FetchOutcome",
    "FollowClock",
    "NightSkip",
    "PacingReport",
    "PollMetrics",
    "PollSite",
    "PollSummary",
    "PollTarget",
    "Poller",
    "RequestTally",
    "Rung",
    "ScaledClock",
    "Scheduler",
    "StoreFetcher",
    "SunTimes",
    "TargetDemand",
    "TimeSource",
    "WatermarkKey",
    "billing_cycle",
    "default_ladder",
    "discover_sites",
    "estimate_demand",
    "next_boundary",
    "next_due",
    "pace",
    "poll_watermarks",
    "previous_boundary",
    "serve_metrics",
    "sun_times",
]
