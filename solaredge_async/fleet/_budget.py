"""Checking a price against the monthly credit budget, before the first data call.

`check_budget` is the one check every planner runs (sweeps here, the sync engine, the
CLI): it reads the client's credit ledger and refuses, with `PlanOverBudgetError`,
work that would cost more than what remains of this billing cycle, unless the caller
opts out explicitly (``allow_over_budget=True``). The refusal spends nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from solaredge_async.limits._errors import BudgetExceededError

if TYPE_CHECKING:
    from solaredge_async.client import SolarEdgeClient
    from solaredge_async.limits._ledger import LedgerState

__all__ = ["PlanOverBudgetError", "check_budget"]


class PlanOverBudgetError(BudgetExceededError):
    """A plan would cost more credits than remain this billing cycle: it was not run.

    Raised before the first data call (nothing is spent). A
    `solaredge_async.limits.BudgetExceededError` (and a
    `solaredge_async.errors.QuotaExhaustedError`).

    Attributes:
        what: What was refused (e.g. ``"sweep of 300 sites"``).
        needed: The plan's price in credits (its upper bound while a window cap is
            unprobed).
        remaining_credits: Credits left this cycle.
        monthly_credits: The monthly budget.
        cycle_end: When the cycle resets (UTC).
    """

    def __init__(self, *, what: str, state: LedgerState, needed: int) -> None:
        self.what = what
        remaining = state.remaining
        super().__init__(
            account=state.account,
            needed=needed,
            remaining_credits=0 if remaining is None else remaining,
            monthly_credits=state.monthly_credits,
            cycle_end=state.cycle_end,
            exhausted=state.exhausted,
            method="plan",
            path=what,
        )

    def _message(self) -> str:
        reset = self.cycle_end.strftime("%Y-%m-%d %H:%M UTC")
        if self.exhausted:
            why = "the server said this month's credits are used up"
        else:
            why = (
                f"it costs up to {self.needed} credits but only {self.remaining_credits} of "
                f"the monthly budget of {self.monthly_credits} remain"
            )
        return (
            f"{self.what} refused before any data call: {why} (account {self.account}); the "
            f"billing cycle resets at {reset}. Narrow the plan, wait for the reset, raise "
            "monthly_credits if the account allows more, or pass allow_over_budget=True to "
            "run it anyway (it then stops when the credits run out)"
        )


async def check_budget(
    client: SolarEdgeClient,
    needed: int,
    *,
    what: str = "plan",
    allow_over_budget: bool = False,
) -> LedgerState:
    """Check that ``needed`` credits remain this cycle on the client's ledger.

    No call is made. With ``allow_over_budget`` nothing is refused (the ledger still
    refuses each request once the credits are gone).

    Args:
        client: The client whose ledger pays.
        needed: The price in credits (use the upper bound when it is a range).
        what: What is checked, for the error message (``"sweep of 300 sites"``).
        allow_over_budget: Run even when the price is over what remains.

    Returns:
        The ledger's state now (spent, remaining, cycle start and end).

    Raises:
        PlanOverBudgetError: ``needed`` is over what remains (or the month is marked
            used up) and ``allow_over_budget`` is off.
        StateFileError: A file-backed ledger is damaged.
    """
    state = await client.budget()
    remaining = state.remaining
    if allow_over_budget or remaining is None or needed <= 0:
        return state
    if state.exhausted or needed > remaining:
        raise PlanOverBudgetError(what=what, state=state, needed=needed)
    return state
