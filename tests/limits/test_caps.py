"""The learned window caps store: per account, family and resolution, re-probed when old."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pytest

from solaredge_async.errors import ConfigurationError
from solaredge_async.limits import (
    CapStore,
    FileCapStore,
    FileCreditLedger,
    LearnedCap,
    MemoryCapStore,
    StateFileError,
)
from tests.limits._support import WallClock, utc

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

pytestmark = pytest.mark.anyio

ACCOUNT = "key#1a2b3c4d"


@pytest.fixture(params=["memory", "file"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[..., CapStore]:
    """Builds a cap store of each kind."""
    if request.param == "memory":
        return MemoryCapStore
    return lambda **kw: FileCapStore(tmp_path / "state.json", **kw)


async def test_learn_get_and_reprobe(make_store) -> None:  # type: ignore[no-untyped-def]
    """A cap is kept per account, family and resolution and goes stale after the period."""
    clock = WallClock(utc(2026, 12, 1))
    store = make_store(clock=clock)
    assert isinstance(store, CapStore)
    assert await store.get(ACCOUNT, "energy", "QUARTER_HOUR") is None
    assert await store.needs_probe(ACCOUNT, "energy", "QUARTER_HOUR")
    learned = await store.learn(ACCOUNT, "energy", "QUARTER_HOUR", 86400)
    assert learned == LearnedCap(
        account=ACCOUNT,
        family="energy",
        resolution="QUARTER_HOUR",
        seconds=86400,
        probed_at=utc(2026, 12, 1),
    )
    assert learned.span == dt.timedelta(days=1)
    assert await store.get(ACCOUNT, "energy", "QUARTER_HOUR") == learned
    assert await store.get(ACCOUNT, "energy", "HOUR") is None
    assert await store.get(ACCOUNT, "telemetry", "QUARTER_HOUR") is None
    assert await store.get("key#ffffffff", "energy", "QUARTER_HOUR") is None
    clock.advance(days=29, hours=23)
    assert not await store.needs_probe(ACCOUNT, "energy", "QUARTER_HOUR")
    clock.advance(hours=1)
    assert await store.needs_probe(ACCOUNT, "energy", "QUARTER_HOUR")
    relearned = await store.learn(ACCOUNT, "energy", "QUARTER_HOUR", 43200)
    assert (await store.get(ACCOUNT, "energy", "QUARTER_HOUR")) == relearned
    assert not await store.needs_probe(ACCOUNT, "energy", "QUARTER_HOUR")


async def test_the_reprobe_period_is_configurable(make_store) -> None:  # type: ignore[no-untyped-def]
    """reprobe_after sets how long a finding is trusted."""
    clock = WallClock(utc(2026, 12, 1))
    store = make_store(clock=clock, reprobe_after=dt.timedelta(days=2))
    await store.learn(ACCOUNT, "energy", "DAY", 31 * 86400)
    clock.advance(days=2)
    assert await store.needs_probe(ACCOUNT, "energy", "DAY")


async def test_caps_live_beside_the_ledger(tmp_path: Path) -> None:
    """One state file holds the ledger and the caps; neither clobbers the other."""
    path = tmp_path / "state.json"
    ledger = FileCreditLedger(path)
    caps = FileCapStore(path)
    await ledger.charge(ACCOUNT, 5)
    await caps.learn(ACCOUNT, "energy", "HOUR", 86400)
    await ledger.charge(ACCOUNT)
    assert (await ledger.state(ACCOUNT)).spent == 6
    assert (await FileCapStore(path).get(ACCOUNT, "energy", "HOUR")) is not None


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("", "energy", "DAY", 10), "fingerprint"),
        ((ACCOUNT, "a|b", "DAY", 10), "family"),
        ((ACCOUNT, "energy", "", 10), "resolution"),
        ((ACCOUNT, "energy", "DAY", 0), "seconds"),
        ((ACCOUNT, "energy", "DAY", 1.5), "seconds"),
        ((ACCOUNT, "energy", "DAY", 10**12), "seconds"),
    ],
)
async def test_bad_arguments_are_refused(make_store, args, match) -> None:  # type: ignore[no-untyped-def]
    """Malformed names and caps are refused before anything is stored."""
    with pytest.raises(ConfigurationError, match=match):
        await make_store().learn(*args)


def test_bad_settings_are_refused() -> None:
    """A non-positive period is refused."""
    with pytest.raises(ConfigurationError):
        MemoryCapStore(reprobe_after=dt.timedelta(0))


async def test_a_damaged_cap_entry_is_a_clear_error(tmp_path: Path) -> None:
    """A malformed entry in the caps section gives StateFileError."""
    path = tmp_path / "state.json"
    path.write_text(
        '{"format": "solaredge-async state", "version": 1, '
        '"caps": {"key#1|energy|DAY": {"seconds": "long", "probed_at": "2026-12-01"}}}'
    )
    with pytest.raises(StateFileError, match="malformed"):
        await FileCapStore(path).get(ACCOUNT, "energy", "DAY")
