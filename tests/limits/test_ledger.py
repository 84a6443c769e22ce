"""The monthly credit ledger: budgets, billing cycles, the monthly 429, files shared by processes."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solaredge_async.errors import ConfigurationError, QuotaExhaustedError, SolarEdgeError
from solaredge_async.limits import (
    BudgetExceededError,
    CreditLedger,
    FileCreditLedger,
    MemoryCreditLedger,
    StateFileError,
    cycle_bounds,
)
from tests.limits._support import WallClock, utc

if TYPE_CHECKING:
    from collections.abc import Callable

pytestmark = pytest.mark.anyio

ACCOUNT = "key#1a2b3c4d"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["memory", "file"])
def make_ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[..., CreditLedger]:
    """Builds a ledger of each kind with the given settings."""
    if request.param == "memory":
        return MemoryCreditLedger
    return lambda **kw: FileCreditLedger(tmp_path / "state.json", **kw)


@pytest.mark.parametrize(
    ("now", "day", "start", "end"),
    [
        (utc(2026, 12, 1, 0, 0), 1, utc(2026, 12, 1), utc(2027, 1, 1)),
        (utc(2026, 11, 30, 23, 59, 59), 1, utc(2026, 11, 1), utc(2026, 12, 1)),
        (utc(2026, 1, 14, 23), 15, utc(2025, 12, 15), utc(2026, 1, 15)),
        (utc(2026, 12, 15), 15, utc(2026, 12, 15), utc(2027, 1, 15)),
        (utc(2028, 2, 29, 12), 28, utc(2028, 2, 28), utc(2028, 3, 28)),
    ],
)
def test_cycle_bounds(now, day, start, end) -> None:  # type: ignore[no-untyped-def]
    """The cycle runs from the billing day 00:00 UTC to the next month's."""
    assert cycle_bounds(now, day) == (start, end)


async def test_charges_count_and_refuse_overspending(make_ledger) -> None:  # type: ignore[no-untyped-def]
    """Every charge counts; one that would overspend is refused and counts nothing."""
    clock = WallClock(utc(2026, 12, 5))
    ledger = make_ledger(monthly_credits=3, billing_day=1, clock=clock)
    assert isinstance(ledger, CreditLedger)
    assert (await ledger.charge(ACCOUNT)).spent == 1
    state = await ledger.charge(ACCOUNT, 2)
    assert (state.spent, state.remaining) == (3, 0)
    assert state.cycle_start == utc(2026, 12, 1)
    assert state.cycle_end == utc(2027, 1, 1)
    with pytest.raises(BudgetExceededError) as info:
        await ledger.charge(ACCOUNT)
    error = info.value
    assert isinstance(error, QuotaExhaustedError)
    assert (error.needed, error.remaining_credits, error.monthly_credits) == (1, 0, 3)
    assert "2027-01-01 00:00 UTC" in str(error)
    assert (await ledger.state(ACCOUNT)).spent == 3
    # enforce=False counts anyway (the caller chose to overspend).
    assert (await ledger.charge(ACCOUNT, enforce=False)).spent == 4
    assert (await ledger.refund(ACCOUNT)).spent == 3
    # Another account has its own count.
    assert (await ledger.state("key#ffffffff")).spent == 0


async def test_a_charge_larger_than_what_remains_is_refused_whole(make_ledger) -> None:  # type: ignore[no-untyped-def]
    """Nothing is counted when a multi-credit charge does not fit."""
    ledger = make_ledger(monthly_credits=5)
    await ledger.charge(ACCOUNT, 4)
    with pytest.raises(BudgetExceededError):
        await ledger.charge(ACCOUNT, 2)
    assert await ledger.remaining(ACCOUNT) == 1


async def test_unlimited_budget(make_ledger) -> None:  # type: ignore[no-untyped-def]
    """monthly_credits=0 counts but never refuses."""
    ledger = make_ledger(monthly_credits=0)
    for _ in range(5):
        await ledger.charge(ACCOUNT, 1000)
    state = await ledger.state(ACCOUNT)
    assert (state.spent, state.remaining) == (5000, None)


async def test_the_cycle_resets_on_the_billing_day_at_midnight_utc(make_ledger) -> None:  # type: ignore[no-untyped-def]
    """Spent credits and the monthly 429 last until the billing day, 00:00 UTC."""
    clock = WallClock(utc(2026, 12, 14, 12))
    ledger = make_ledger(monthly_credits=10, billing_day=15, clock=clock)
    await ledger.charge(ACCOUNT, 7)
    await ledger.mark_exhausted(ACCOUNT)
    assert await ledger.remaining(ACCOUNT) == 0
    with pytest.raises(BudgetExceededError) as info:
        await ledger.charge(ACCOUNT)
    assert info.value.exhausted
    assert "used up" in str(info.value)
    clock.now = utc(2026, 12, 14, 23, 59, 59)
    assert (await ledger.state(ACCOUNT)).exhausted
    clock.now = utc(2026, 12, 15)
    state = await ledger.state(ACCOUNT)
    assert (state.spent, state.exhausted, state.remaining) == (0, False, 10)
    assert (await ledger.charge(ACCOUNT)).spent == 1
    assert ledger.cycle_end() == utc(2027, 1, 15)


async def test_clear_exhausted(make_ledger) -> None:  # type: ignore[no-untyped-def]
    """An operator can lift the breaker before the reset."""
    ledger = make_ledger(monthly_credits=10)
    await ledger.mark_exhausted(ACCOUNT)
    await ledger.clear_exhausted(ACCOUNT)
    assert (await ledger.charge(ACCOUNT)).remaining == 9


async def test_a_file_ledger_persists_across_runs(tmp_path: Path) -> None:
    """A new ledger on the same file (tomorrow's run) starts from what was spent."""
    clock = WallClock(utc(2026, 12, 5))
    path = tmp_path / "deep" / "dir" / "state.json"
    first = FileCreditLedger(path, monthly_credits=100, clock=clock)
    await first.charge(ACCOUNT, 40)
    await first.mark_exhausted("key#00000000")
    second = FileCreditLedger(path, monthly_credits=100, clock=clock)
    assert await second.remaining(ACCOUNT) == 60
    assert (await second.state("key#00000000")).exhausted
    text = path.read_text()
    assert ACCOUNT in text
    assert oct(path.stat().st_mode & 0o777)  # written, readable
    assert not list(path.parent.glob("*.tmp"))  # no temporary file left behind


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"{not json", "not valid JSON"),
        (b"[]", "not a state file"),
        (b'{"format": "something else"}', "not a state file"),
        (b'{"format": "solaredge-async state", "version": 99}', "version 99"),
        (b'{"format": "solaredge-async state", "version": 1, "ledger": []}', "'ledger'"),
        (
            b'{"format": "solaredge-async state", "version": 1, "ledger": {"k": {"spent": -1}}}',
            "malformed",
        ),
        (
            (
                b'{"format": "solaredge-async state", "version": 1, "ledger": '
                b'{"k": {"cycle_start": "x", "spent": true, "exhausted": false}}}'
            ),
            "malformed",
        ),
    ],
)
async def test_a_damaged_file_gives_a_clear_error(
    tmp_path: Path, content: bytes, match: str
) -> None:
    """Every kind of damage is a StateFileError naming the file and the way out."""
    path = tmp_path / "state.json"
    path.write_bytes(content)
    ledger = FileCreditLedger(path)
    for call in (ledger.state, ledger.charge):
        with pytest.raises(StateFileError, match=match) as info:
            await call(ACCOUNT)
        assert str(path) in str(info.value)
        assert "delete it" in str(info.value)
    assert path.read_bytes() == content  # never overwritten


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
        ),
        max_leaves=12,
    ),
    st.sampled_from(["ledger", "caps", "version", "format"]),
    st.sampled_from(["asyncio", "trio"]),
)
def test_any_damage_is_a_state_file_error(tmp_path_factory, junk, where, backend) -> None:  # type: ignore[no-untyped-def]
    """Property: whatever replaces a part of the file, the answer is a count or StateFileError."""
    import anyio

    from solaredge_async.limits import FileCapStore

    path = tmp_path_factory.mktemp("damaged") / "state.json"
    data: dict[str, object] = {"format": "solaredge-async state", "version": 1}
    data[where] = junk
    path.write_text(json.dumps(data))

    async def main() -> None:
        for call in (
            lambda: FileCreditLedger(path).charge(ACCOUNT),
            lambda: FileCapStore(path).get(ACCOUNT, "energy", "DAY"),
        ):
            try:
                await call()
            except StateFileError:
                pass

    anyio.run(main, backend=backend)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"monthly_credits": -1},
        {"monthly_credits": True},
        {"monthly_credits": 1.5},
        {"billing_day": 0},
        {"billing_day": 29},
        {"billing_day": "1"},
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, object]) -> None:
    """Budget settings out of range fail at construction."""
    with pytest.raises(ConfigurationError):
        MemoryCreditLedger(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("account", ["", "x" * 201, "line\nbreak", 12])
async def test_bad_accounts_are_refused(account: object) -> None:
    """A ledger key must be a short printable fingerprint."""
    with pytest.raises(ConfigurationError, match="fingerprint"):
        await MemoryCreditLedger().charge(account)  # type: ignore[arg-type]


def test_budget_error_pickles() -> None:
    """The error crosses process boundaries (worker pools) intact."""
    error = BudgetExceededError(
        account=ACCOUNT,
        needed=2,
        remaining_credits=1,
        monthly_credits=10,
        cycle_end=utc(2027, 1, 1),
        exhausted=False,
        method="GET",
        path="/sites",
    )
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
    assert str(copy) == str(error)
    assert isinstance(copy, SolarEdgeError)
    assert copy.needed == 2


def test_processes_sharing_a_ledger_file_never_lose_a_count(tmp_path: Path) -> None:
    """Three processes (asyncio and trio, four tasks each) charge one file: every count is kept."""
    path = tmp_path / "state.json"
    per_process = 60
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    workers = [
        subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [
                sys.executable,
                "-m",
                "tests.limits._ledger_worker",
                str(path),
                ACCOUNT,
                str(per_process),
                backend,
            ],
            cwd=ROOT,
            env=env,
        )
        for backend in ("asyncio", "trio", "asyncio")
    ]
    for worker in workers:
        assert worker.wait(timeout=120) == 0
    data = json.loads(path.read_text())
    assert data["ledger"][ACCOUNT]["spent"] == 3 * per_process
