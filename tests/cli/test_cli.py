"""The ``solaredge-async`` command line, run in process against the embedded simulator."""

from __future__ import annotations

import csv
import json
from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING

import pytest

from solaredge_async import cli
from solaredge_async.cli import _output
from solaredge_async.fleet import ROW_FIELDS
from tests.cli._support import fast_simulation

if TYPE_CHECKING:
    from pathlib import Path

#: A small, fast simulated fleet: no limits, no latency, no progress bar.
FAST = fast_simulation(12)


def _sweep(out: Path, *extra: str) -> int:
    return cli.main(["sweep", *FAST, "--out", str(out), *extra])


def _journal_ids(out: Path) -> list[str]:
    lines = (out / "journal.tsv").read_text().splitlines()
    return [line[2:] for line in lines if line.startswith("i\t")]


def _jsonl_rows(out: Path) -> list[str]:
    return (out / "records.jsonl").read_text().splitlines()


def test_sweep_jsonl_end_to_end(tmp_path, capsys):
    """The default job writes flat JSONL rows, a journal of every item and a manifest."""
    out = tmp_path / "out"
    assert _sweep(out) == 0
    printed = capsys.readouterr().out
    assert "Plan: 12 sites, 60 calls = 60 credits" in printed
    assert "60 succeeded, 0 failed, 0 not attempted" in printed
    assert "Credits: 61 spent = 1 discovery + 60 sweep (plan price 60)" in printed
    rows = [json.loads(line) for line in _jsonl_rows(out)]
    assert rows
    assert all(list(row) == list(ROW_FIELDS) for row in rows)
    assert {row["source"] for row in rows} == {"overview", "energy", "inverters/telemetry"}
    ids = _journal_ids(out)
    assert len(ids) == len(set(ids)) == 60
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] is True
    assert manifest["plan"]["credits"] == 60
    run = manifest["runs"][0]
    assert run["succeeded"] == 60
    assert run["rows_written"] == len(rows)
    assert run["credits_spent"] == 60
    assert manifest["sweep"]["start"] == manifest["sweep"]["end"] == "yesterday"
    assert (out / "errors.jsonl").read_text() == ""


def test_sweep_csv_matches_jsonl(tmp_path):
    """CSV holds the same rows as JSONL, with a header and empty cells for nulls."""
    assert _sweep(tmp_path / "j") == 0
    assert _sweep(tmp_path / "c", "--format", "csv") == 0
    with (tmp_path / "c" / "records.csv").open(newline="") as f:
        table = list(csv.reader(f))
    assert tuple(table[0]) == ROW_FIELDS
    as_json = [json.loads(line) for line in _jsonl_rows(tmp_path / "j")]
    assert len(table) - 1 == len(as_json)
    first = dict(zip(ROW_FIELDS, table[1], strict=True))
    assert first["site_id"] == str(as_json[0]["site_id"])
    assert first["metric"] == as_json[0]["metric"]
    assert any(cell == "" for row in table[1:] for cell in row)  # nulls


def test_sweep_parquet(tmp_path, capsys):
    """Parquet parts are written when pyarrow is installed; else a clear error, exit 2."""
    out = tmp_path / "p"
    try:
        import pyarrow.parquet as pq
    except ImportError:
        assert _sweep(out, "--format", "parquet") == 2
        assert "needs pyarrow" in capsys.readouterr().err
        assert not (out / "manifest.json").exists()
        return
    assert _sweep(out, "--format", "parquet") == 0
    table = pq.read_table(out / "records")
    assert tuple(table.column_names) == ROW_FIELDS
    assert table.num_rows > 0
    for name in ("period_start", "period_end"):
        assert str(table.schema.field(name).type) == "timestamp[us, tz=UTC]"
    # The same instants as the JSONL export, and no null buckets by default.
    jsonl = tmp_path / "j"
    assert _sweep(jsonl) == 0
    rows = [json.loads(line) for line in (jsonl / "records.jsonl").read_text().splitlines()]
    assert table.num_rows == len(rows)
    assert table.column("value").to_pylist() == [row["value"] for row in rows]
    first = datetime.fromisoformat(rows[0]["period_start"])
    assert table.column("period_start")[0].as_py() == first


def test_sweep_include_null_keeps_empty_buckets(tmp_path):
    """Null buckets are left out of exports unless --include-null asks for them."""
    plain, full = tmp_path / "plain", tmp_path / "full"
    assert _sweep(plain) == 0
    assert _sweep(full, "--include-null") == 0
    kept = [json.loads(x) for x in (plain / "records.jsonl").read_text().splitlines()]
    every = [json.loads(x) for x in (full / "records.jsonl").read_text().splitlines()]
    assert len(every) > len(kept)
    dropped = [r for r in every if r not in kept]
    assert dropped
    assert all(r["value"] is None and r["resolution"] for r in dropped)


def test_dry_run_spends_only_discovery(tmp_path, capsys, monkeypatch):
    """--dry-run prints the price and duration; the simulator charged one /sites call."""
    from solaredge_async import testing

    made = []
    real = testing.Simulator

    class Recording(real):  # type: ignore[misc, valid-type]
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            made.append(self)

    monkeypatch.setattr(testing, "Simulator", Recording)
    out = tmp_path / "never"
    code = cli.main(["sweep", "--simulate", "--sim-sites", "30", "--dry-run", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "30 sites, 150 calls = 150 credits" in printed
    assert "at 12,000 calls/min" in printed
    assert "Dry run: nothing fetched beyond discovery (1 credits" in printed
    assert not out.exists()
    (sim,) = made
    assert sim.ledger(sim.api_key).credits == 1


def test_quota_stops_the_sweep_and_resume_completes_it_without_duplicates(tmp_path, capsys):
    """Credits run out: exit 1, rest not attempted; --resume writes exactly the remainder."""
    out = tmp_path / "q"
    assert _sweep(out, "--sim-monthly-credits", "40", "--allow-over-budget") == 1
    printed = capsys.readouterr().out
    assert "39 succeeded, 0 failed, 21 not attempted" in printed
    assert "Stopped early: quota exhausted" in printed
    assert len(_journal_ids(out)) == 39
    errors = [json.loads(line) for line in (out / "errors.jsonl").read_text().splitlines()]
    assert {e["reason"] for e in errors} == {"quota exhausted"}
    assert json.loads((out / "manifest.json").read_text())["complete"] is False

    assert cli.main(["sweep", "--out", str(out), "--resume", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "Resuming: 39 items already written, 21 to go." in printed
    ids = _journal_ids(out)
    assert len(ids) == len(set(ids)) == 60
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] is True
    assert [r["status"] for r in manifest["runs"]] == ["incomplete", "complete"]

    assert _sweep(tmp_path / "full") == 0
    assert sorted(_jsonl_rows(out)) == sorted(_jsonl_rows(tmp_path / "full"))
    assert cli.main(["sweep", "--out", str(out), "--resume"]) == 0
    assert "already complete" in capsys.readouterr().out


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_resume_after_a_crash_mid_write_never_writes_an_item_twice(tmp_path, monkeypatch, fmt):
    """A torn journal and half-written rows are rolled back, then exactly redone."""
    monkeypatch.setattr(_output, "_BATCH_ITEMS", 10)
    full, crashed = tmp_path / "full", tmp_path / "crashed"
    assert _sweep(full, "--format", fmt) == 0
    assert _sweep(crashed, "--format", fmt) == 0
    data = crashed / f"records.{fmt}"
    journal = crashed / "journal.tsv"
    # Cut the journal back to its third commit, then tear the next batch's lines, as a
    # crash after the rows were flushed but before the batch's commit line would.
    lines = journal.read_text().splitlines(keepends=True)
    commits = [i for i, line in enumerate(lines) if line.startswith("c\t")]
    kept = lines[: commits[2] + 1]
    torn = "".join(lines[commits[2] + 1 : commits[3]])[:-7]
    journal.write_text("".join(kept) + torn)
    with data.open("ab") as f:
        f.write(b'{"site_id": 1, "half a ro')  # the tail of a torn write
    manifest = json.loads((crashed / "manifest.json").read_text())
    manifest["complete"] = False
    (crashed / "manifest.json").write_text(json.dumps(manifest))

    assert cli.main(["sweep", "--out", str(crashed), "--resume", "--no-progress"]) == 0
    ids = _journal_ids(crashed)
    assert len(ids) == len(set(ids)) == 60
    assert Counter(data.read_text().splitlines()) == Counter(
        (full / f"records.{fmt}").read_text().splitlines()
    )


def test_bad_flags_exit_2_with_a_message(tmp_path, capsys, monkeypatch):
    """Unknown targets, bad ids, unusable directories and contradictions are usage errors."""
    monkeypatch.delenv("SOLAREDGE_API_KEY", raising=False)
    monkeypatch.delenv("SOLAREDGE_ACCOUNT_KEY", raising=False)

    def err(*argv: str) -> str:
        assert cli.main(list(argv)) == 2
        return capsys.readouterr().err

    text = err("sweep", "--simulate", "--what", "energy,bogus", "--dry-run")
    assert "unknown target 'bogus'" in text
    assert "allowed: overview, energy, power" in text
    assert "inverter_voltage" in text
    assert "positive integers" in err("sweep", "--simulate", "--sites", "12,x", "--dry-run")
    assert "invalid choice" in err("sweep", "--simulate", "--resolution", "DECADE")
    assert "--out DIR is required" in err("sweep", "--simulate")
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert "cannot write to" in err("sweep", *FAST, "--out", str(blocker / "sub"))
    assert "no sweep to resume" in err("sweep", "--out", str(tmp_path / "x"), "--resume")
    assert _sweep(tmp_path / "done") == 0
    capsys.readouterr()
    assert "--resume to continue it" in err("sweep", *FAST, "--out", str(tmp_path / "done"))
    text = err("sweep", "--out", str(tmp_path / "done"), "--resume", "--what", "power")
    assert "--what differs from the sweep being resumed" in text
    assert "--sim-* flags need --simulate" in err("sweep", "--sim-sites", "3", "--dry-run")
    assert "power" in err(
        "sweep", "--simulate", "--what", "power", "--resolution", "DAY", "--dry-run"
    )
    text = err("sweep", "--dry-run")  # no credential anywhere
    assert "SOLAREDGE_API_KEY" in text or "api_key" in text
    assert cli.main(["sweep", "--help"]) == 0
    assert "--resume" in capsys.readouterr().out


def test_overwrite_replaces_a_previous_sweep(tmp_path):
    """--overwrite replaces the files of an earlier sweep and leaves other files alone."""
    out = tmp_path / "o"
    assert _sweep(out) == 0
    (out / "notes.txt").write_text("mine")
    assert _sweep(out, "--overwrite", "--what", "energy") == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["sweep"]["what"] == ["energy"]
    assert len(_journal_ids(out)) == 24
    assert (out / "notes.txt").read_text() == "mine"


@pytest.mark.loopback
def test_real_api_path_over_loopback_never_writes_the_key(tmp_path, capsys):
    """--base-url and --api-key against a loopback simulator; the key appears nowhere."""
    from anyio.from_thread import start_blocking_portal

    from solaredge_async.testing import FleetSpec, Simulator, SimulatorConfig

    key = "LOOPBACKSECRETKEY0123456789ABCDEF"
    sim = Simulator(
        SimulatorConfig(
            fleet=FleetSpec(sites=4, api_keys=(key,)),
            requests_per_minute=None,
            monthly_credits=None,
        )
    )
    out = tmp_path / "real"
    with start_blocking_portal() as portal, portal.wrap_async_context_manager(sim.serve()) as url:
        common = ["--base-url", url, "--api-key", key, "--requests-per-minute", "0"]
        code = cli.main(["sweep", *common, "--out", str(out), "--no-progress"])
        listed = cli.main(["sites", *common, "--format", "csv"])
    assert code == listed == 0
    printed = capsys.readouterr()
    # One item per site and target; the real-API path probes whole-day windows first, so
    # the simulator's 12 h cap costs one refused probe per family (energy, telemetry).
    assert "12 succeeded, 0 failed" in printed.out
    assert len(printed.out.splitlines()) > 4
    for text in (printed.out, printed.err):
        assert key not in text
    for path in out.rglob("*"):
        assert key.encode() not in path.read_bytes()
    assert sim.ledger(key).credits == 1 + 20 + 2 + 1  # discovery, sweep, probes, site list


def test_sites_command_lists_the_fleet(capsys):
    """`sites` prints a table by default, or one JSON object per site."""
    assert cli.main(["sites", "--simulate", "--sim-sites", "5", "--format", "jsonl"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 5
    assert {"site_id", "name", "timezone", "peak_power_kw"} <= set(rows[0])
    assert cli.main(["sites", "--simulate", "--sim-sites", "5"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:2] == ["site_id", "name"]
    assert table[-1] == "5 sites"


def test_simulate_command_delegates_to_the_simulator_cli(capsys):
    """`simulate --help` is the simulator server's own help."""
    assert cli.main(["simulate", "--help"]) == 0
    assert "--rate-limit" in capsys.readouterr().out


def test_progress_bar_draws_on_a_terminal_and_logs_otherwise():
    """On a TTY the bar is redrawn in place; elsewhere it prints whole lines."""
    import io

    from solaredge_async.cli._progress import ProgressBar, format_duration
    from solaredge_async.fleet import SweepProgress

    snap = SweepProgress(
        total=10,
        done=10,
        succeeded=9,
        failed=1,
        not_attempted=0,
        credits=10,
        planned_credits=10,
        retries=2,
        rate_limited=1,
        rate=120.0,
        elapsed=5.0,
        eta=0.0,
        stopped=None,
    )

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty, log = Tty(), io.StringIO()
    for stream in (tty, log):
        bar = ProgressBar(stream)
        bar(snap)
        bar.close()
    assert tty.getvalue().startswith("\r[####")
    assert tty.getvalue().endswith("\n")
    assert "100% 10/10 items" in log.getvalue()
    assert "failed 1" in log.getvalue()
    assert "1 x 429" in log.getvalue()
    assert format_duration(3725) == "1:02:05"
    assert format_duration(None) == "--:--"


def test_module_entry_point_runs_the_cli():
    """``python -m solaredge_async.cli`` is the same command; its --what help lists the table."""
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "solaredge_async.cli", "sweep", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "storage_state_of_energy" in out
    assert "meter_telemetry" in out


def test_what_choices_are_the_endpoint_tables_targets():
    """``--what`` accepts every sweep target of the endpoint table and nothing else."""
    from solaredge_async._endpoints import TARGETS

    assert cli.parse_what(",".join(TARGETS)) == TARGETS
    with pytest.raises(Exception, match="unknown target 'inverter_volts'"):
        cli.parse_what("inverter_volts")
