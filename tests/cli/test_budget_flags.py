"""The credit budget on the command line: a plan over the budget is refused (exit 3)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from solaredge_async import cli
from tests.cli._support import fast_simulation

if TYPE_CHECKING:
    from pathlib import Path

FAST = fast_simulation(6)


@pytest.mark.parametrize("command", ["sync", "sweep"])
def test_a_run_over_the_monthly_budget_is_refused_before_spending(
    command: str, tmp_path: Path
) -> None:
    """Issue 11 (deliverable 2): ``--monthly-credits N``; over budget exits 3.

    `solaredge_async.limits` has the ledgers (`FileCreditLedger`, `RedisCreditLedger`)
    and the CHANGELOG lists them, but nothing consumes them: `SolarEdgeClient` takes no
    ledger, the engine counts credits in its own per-process `Ledger`, and the CLI has
    no ``--monthly-credits``/``--billing-day``/``--allow-over-budget``/``--state-dir``.
    A daily cron sync therefore spends without limit and forgets what it spent.
    """
    where = (
        ["--db", f"sqlite:///{tmp_path / 'f.db'}", "--since", "2026-05-05"]
        if command == "sync"
        else ["--out", str(tmp_path / "out"), "--start", "2026-05-05", "--end", "2026-05-11"]
    )
    try:
        status = cli.main([command, *FAST, *where, "--monthly-credits", "5"])
    except SystemExit as exc:  # argparse: the flag does not exist
        status = exc.code
    assert status == 3
