"""``solaredge-async poll`` as a process: simulated time, metrics, SIGTERM.

These run the real command in a subprocess against the in-process simulator (no
network beyond loopback for the metrics). They assert exit codes, the JSON summary, the
rows stored and the metrics scraped, never how long anything took.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from solaredge_async.cli import build_parser
from solaredge_async.cli._poll import run_poll

ROOT = Path(__file__).resolve().parents[2]
#: 06:00 UTC on a June day: morning in Europe, where the simulated sites are.
SIM_NOW = "2026-06-10T06:00:00+00:00"
START = datetime.fromisoformat(SIM_NOW)
SITES = 3


def _command(db: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "solaredge_async.cli",
        "poll",
        "--db",
        f"sqlite:///{db}",
        "--simulate",
        "--sim-sites",
        str(SITES),
        "--sim-now",
        SIM_NOW,
        "--sim-monthly-credits",
        "100000",
        "--monthly-credits",
        "100000",
        "--output",
        "json",
        *extra,
    ]


def _start(command: list[str]) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("SOLAREDGE_API_KEY", None)
    return subprocess.Popen(  # noqa: S603 - our own interpreter and module
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )


def _wait_for(stream: IO[str], prefix: str, seen: list[str]) -> str:
    """Read stderr lines until one starts with ``prefix`` (blocking reads, no sleeps)."""
    for line in stream:
        seen.append(line)
        if line.startswith(prefix):
            return line
    msg = f"the process ended before printing {prefix!r}: {''.join(seen)}"
    raise AssertionError(msg)


def _wait_for_text(stream: IO[str], text: str, seen: list[str]) -> None:
    """Read stderr lines until one contains ``text``."""
    for line in stream:
        seen.append(line)
        if text in line:
            return
    msg = f"the process ended before printing {text!r}: {''.join(seen)}"
    raise AssertionError(msg)


def _summary(stdout: str) -> dict[str, Any]:
    lines = [line for line in stdout.splitlines() if line.strip()]
    assert lines, "no summary printed"
    summary: dict[str, Any] = json.loads(lines[-1])
    return summary


def _stored(db: Path) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with sqlite3.connect(db) as con:
        newest = con.execute(
            "SELECT site_id, source, max(period_end), count(*) FROM measurements "
            "GROUP BY site_id, source"
        ).fetchall()
        marks = con.execute(
            "SELECT site_id, target, resolution, complete_until FROM sync_state "
            "WHERE complete_until IS NOT NULL"
        ).fetchall()
        runs = con.execute("SELECT outcome, credits FROM runs").fetchall()
    return newest, marks, runs


def test_three_simulated_hours_at_240x_keep_the_store_current(tmp_path: Path) -> None:
    """Issue 13's done-when: 3 h at 240x store data past start + 2 h; metrics served."""
    db = tmp_path / "poll.db"
    process = _start(_command(db, "--sim-speed", "240", "--duration", "45", "--metrics-port", "0"))
    assert process.stderr is not None
    seen: list[str] = []
    try:
        line = _wait_for(process.stderr, "poll: metrics at ", seen)
        url = line.removeprefix("poll: metrics at ").strip()
        _wait_for(process.stderr, "poll: 3 sites", seen)
        scraped = httpx.get(url, timeout=10.0)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, "".join(seen) + stderr

    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "solaredge_poll_credits_remaining " in scraped.text
    assert 'solaredge_poll_cadence_seconds{target="energy"} 900' in scraped.text
    assert "site_id" not in scraped.text

    summary = _summary(stdout)
    assert summary["stopped"] is False
    assert summary["failed"] == 0
    assert summary["rows"] > 0
    assert summary["cadence"] == {
        "energy": "15min/QUARTER_HOUR",
        "power": "15min/QUARTER_HOUR",
        "alerts": "hourly",
    }
    newest, marks, runs = _stored(db)
    assert {(site, source) for site, source, _, _ in newest} >= {
        (s, src) for s in {n[0] for n in newest} for src in ("energy", "power")
    }
    assert len({n[0] for n in newest}) == SITES
    for _, _, period_end, _ in newest:
        assert datetime.fromisoformat(period_end) >= START + timedelta(hours=2)
    assert len(marks) == SITES * 2
    # At most one call per site, target and quarter-hour cycle: 3 h are 12 cycles
    # (13 with the first catch-up from midnight), plus hourly alerts.
    cycles = 3 * 4 + 1
    assert summary["credits"] <= SITES * 2 * cycles + 4 + 1
    assert runs == [("ok", summary["credits"])]


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_finishes_the_batch_in_flight_and_exits_0(
    tmp_path: Path, backend: str, signum: signal.Signals
) -> None:
    """SIGTERM or SIGINT during the first batch (slow calls): it commits, then exit 0."""
    db = tmp_path / "term.db"
    command = _command(
        db,
        "--sim-speed",
        "240",
        "--sim-latency-ms",
        "400",
        "--backend",
        backend,
        "--log-level",
        "debug",
    )
    process = _start(command)
    assert process.stderr is not None
    seen: list[str] = []
    try:
        _wait_for(process.stderr, "poll: 3 sites", seen)
        # The first batch is under way: a first answer came (each call takes 400 ms),
        # the batch's other calls are in flight or about to start.
        _wait_for_text(process.stderr, "poll: fetching a batch of", seen)
        _wait_for_text(process.stderr, "solaredge_async._engine: GET", seen)
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, "".join(seen) + stderr
    assert f"{signum.name}: finishing the batch in flight" in stderr
    summary = _summary(stdout)
    assert summary["stopped"] is True
    assert summary["batches"] >= 1
    assert summary["succeeded"] >= 1, (summary, stderr[-3000:])
    newest, marks, runs = _stored(db)
    # The batch in flight was committed whole: each stored item has its watermark.
    assert len(marks) == summary["succeeded"] - summary["alert_polls"]
    assert sum(count for *_, count in newest) > 0
    assert runs == [("interrupted", summary["credits"])]


def test_sim_flags_need_simulate(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """--sim-speed without --simulate is a usage error (2), before anything runs."""
    args = build_parser().parse_args(
        ["poll", "--db", f"sqlite:///{tmp_path / 'x.db'}", "--sim-speed", "10"]
    )
    assert run_poll(args) == 2
    assert "--sim-speed need --simulate" in capsys.readouterr().err
    assert not (tmp_path / "x.db").exists()


def test_poll_rejects_unknown_targets(capsys: pytest.CaptureFixture[str]) -> None:
    """--what takes energy, power and alerts only."""
    with pytest.raises(SystemExit):
        build_parser().parse_args(["poll", "--db", "sqlite:///x.db", "--what", "overview"])
    assert "allowed: energy, power, alerts" in capsys.readouterr().err
