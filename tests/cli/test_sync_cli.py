"""``solaredge-async sync``: a simulated fleet into SQLite, incrementally."""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING

import anyio
import pytest

from solaredge_async import cli
from tests.cli._support import SIM_NOW, fast_simulation

if TYPE_CHECKING:
    from pathlib import Path

NOW = SIM_NOW
FAST = fast_simulation(6, NOW)


def _sync(db: Path, *extra: str) -> int:
    return cli.main(["sync", *FAST, "--db", f"sqlite:///{db}", "--since", "2026-05-09", *extra])


def _count(db: Path) -> int:
    con = sqlite3.connect(db)
    try:
        return int(con.execute("SELECT count(*) FROM measurements").fetchone()[0])
    finally:
        con.close()


def test_sync_fills_a_sqlite_file_and_prints_a_summary(tmp_path, capsys):
    """The main job: rows in the file, a summary with the sites, rows, credits and a query."""
    db = tmp_path / "fleet.db"
    assert _sync(db) == 0
    printed = capsys.readouterr().out
    assert "Plan: 6 sites, 12 items missing data" in printed
    assert "items committed, 0 failed, 0 not attempted" in printed
    rows = _count(db)
    assert rows > 0
    assert f"In {db}: {rows:,} rows of 6 sites. Sample query:" in printed
    assert "SELECT site_id" in printed


def test_a_second_sync_spends_only_what_is_open_and_json_summarises(tmp_path, capsys):
    """--output json: the last stdout line is the summary; a rerun inserts nothing new."""
    db = tmp_path / "fleet.db"
    assert _sync(db, "--output", "json") == 0
    first = json.loads(capsys.readouterr().out.splitlines()[-1])
    for key in ("credits", "rows", "succeeded", "failed", "not_attempted", "rate_limited"):
        assert key in first
    assert first["rows"] == first["stored_rows"] == _count(db)
    assert first["exit_status"] == 0
    assert _sync(db, "--output", "json") == 0
    second = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert second["rows_inserted"] == 0
    assert second["credits"] < first["credits"]
    assert second["stored_rows"] == first["stored_rows"]


def test_sync_dry_run_prices_without_fetching(tmp_path, capsys):
    """--dry-run: the price of what is missing; no data call, no row."""
    db = tmp_path / "fleet.db"
    assert _sync(db, "--dry-run", "--output", "json") == 0
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert summary["dry_run"] is True
    assert summary["planned_credits"] > 0
    assert summary["credits"] == 1  # the site list


def test_a_store_in_use_is_a_clear_usage_error(tmp_path, capsys):
    """Another holder of the SQLite store: exit 2 naming it, nothing fetched."""
    from solaredge_async.store import open_store

    db = tmp_path / "fleet.db"
    codes: list[int] = []

    async def hold() -> None:
        async with open_store(f"sqlite:///{db}", exclusive=True):
            codes.append(await anyio.to_thread.run_sync(_sync, db))

    anyio.run(hold)
    assert codes == [2]
    assert "is in use by another process" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--db", "mysql://x/y"], "mysql"),
        (["--since", "last week"], "expected YYYY-MM-DD"),
        (["--since", "2026-05-01T00:00"], "needs an offset"),
        (["--what", "bogus"], "unknown target"),
        (["--settle", "-5"], "expected a number >= 0"),
        (["--sites", "99999999,99999998"], "not in the fleet the API key sees"),
    ],
)
def test_bad_sync_flags_exit_2(tmp_path, capsys, argv, said):
    """Usage errors of sync: exit 2 and a message, no traceback."""
    assert cli.main(["sync", *FAST, "--db", f"sqlite:///{tmp_path / 'x.db'}", *argv]) == 2
    err = capsys.readouterr().err
    assert said in err
    assert "Traceback" not in err
