"""``sync --dry-run`` writes nothing; the summary's sample query says its days are UTC."""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING

from solaredge_async import cli
from solaredge_async.cli._sync import SAMPLE_QUERY
from tests.cli._support import fast_simulation

if TYPE_CHECKING:
    from pathlib import Path

FAST = [*fast_simulation(6), "--since", "2026-05-09"]


def _files(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
    }


def test_a_dry_run_on_a_missing_database_creates_nothing(tmp_path, capsys):
    """No file, no directory: a missing database is priced as empty."""
    db = tmp_path / "sub" / "fleet.db"
    argv = ["sync", *FAST, "--db", f"sqlite:///{db}", "--dry-run", "--output", "json"]
    assert cli.main(argv) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["dry_run"] is True
    assert summary["items"] == 12  # six sites, energy and power: all missing
    assert summary["planned_credits"] > 0
    assert list(tmp_path.iterdir()) == []


def test_a_dry_run_on_an_existing_database_changes_nothing(tmp_path, capsys):
    """An existing database is read, never written (not even a migration or a run row)."""
    db = tmp_path / "fleet.db"
    assert cli.main(["sync", *FAST, "--db", f"sqlite:///{db}", "--until", "2026-05-10"]) == 0
    capsys.readouterr()
    con = sqlite3.connect(db)
    before = con.execute("SELECT count(*) FROM runs").fetchone()[0]
    con.close()
    snapshot = _files(tmp_path)
    argv = ["sync", *FAST, "--db", f"sqlite:///{db}", "--dry-run", "--output", "json"]
    assert cli.main(argv) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["items"] == 12  # the days after --until are still missing
    assert _files(tmp_path)[db.name] == snapshot[db.name]
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == before
    con.close()


def test_the_sample_query_labels_its_days_utc():
    """SQLite has no time zones: the query groups by UTC day and says so."""
    assert "AS utc_day" in SAMPLE_QUERY
    assert " AS day" not in SAMPLE_QUERY
