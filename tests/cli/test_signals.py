# ruff: noqa: S603, S311 - the tests start this package's own command; a seeded delay
"""SIGINT and SIGTERM on a running ``solaredge-async``, on asyncio and trio (subprocesses).

Each test starts the command in a child process, waits until it is at a chosen point
(its start-up log line, or its manifest saying "running"), sends the signal, and
checks the exit status, the one-line message and what was committed.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import pytest

pytestmark = pytest.mark.parametrize("backend", ["asyncio", "trio"])

ROOT = Path(__file__).resolve().parents[2]

#: A sweep slow enough to interrupt: 40 sites x 3 targets at 300 calls a minute.
SLOW = [
    "sweep",
    "--simulate",
    "--sim-sites",
    "40",
    "--sim-now",
    "2026-05-12T14:37:00+00:00",
    "--sim-latency-ms",
    "5",
    "--sim-requests-per-minute",
    "300",
    "--concurrency",
    "2",
    "--no-progress",
    "--log-level",
    "debug",
]


def _start(args: list[str], tmp_path: Path) -> subprocess.Popen[str]:
    """The command in a child process, its output piped (close it with `_finish`)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("SOLAREDGE_API_KEY", None)
    return subprocess.Popen(
        [sys.executable, "-m", "solaredge_async.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )


def _finish(child: subprocess.Popen[str]) -> None:
    """Kill the child if it still runs, and close its pipes."""
    if child.poll() is None:
        child.kill()
        child.wait()
    for pipe in (child.stdout, child.stderr):
        if pipe is not None:
            pipe.close()


class _Watch:
    """A child's stdout and stderr, read as they come (threads).

    A test waits on what the child said (its request log) instead of sleeping.
    """

    def __init__(self, child: subprocess.Popen[str]) -> None:
        self.child = child
        self.out: list[str] = []
        self.err: list[str] = []
        self._said = threading.Condition()
        self._threads = [
            threading.Thread(target=self._pump, args=(stream, lines), daemon=True)
            for stream, lines in ((child.stdout, self.out), (child.stderr, self.err))
        ]
        for thread in self._threads:
            thread.start()

    def _pump(self, stream: IO[str] | None, lines: list[str]) -> None:
        assert stream is not None
        for line in stream:
            with self._said:
                lines.append(line)
                self._said.notify_all()
        with self._said:
            self._said.notify_all()

    def until_data_calls(self, count: int, timeout: float = 60.0) -> None:
        """Wait until the child logged ``count`` data calls answered 200 (not /sites)."""

        def enough() -> bool:
            calls = [x for x in self.err if "-> 200" in x and "GET /sites ->" not in x]
            return len(calls) >= count or self.child.poll() is not None

        with self._said:
            if not self._said.wait_for(enough, timeout=timeout):
                pytest.fail(f"the child made fewer than {count} data calls in {timeout:g} s")

    def finish(self, timeout: float = 60.0) -> tuple[str, str]:
        """Wait for the child to exit; its whole stdout and stderr."""
        self.child.wait(timeout=timeout)
        for thread in self._threads:
            thread.join(timeout=timeout)
        return "".join(self.out), "".join(self.err)


def _running(out: Path) -> bool:
    try:
        manifest = json.loads((out / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    return bool(manifest["runs"]) and manifest["runs"][-1]["status"] == "running"


def _journal_ids(out: Path) -> list[str]:
    path = out / "journal.tsv"
    if not path.exists():
        return []
    return [line[2:] for line in path.read_text().splitlines() if line.startswith("i\t")]


@pytest.mark.parametrize(
    ("signum", "status"), [(signal.SIGTERM, 0), (signal.SIGINT, 130)], ids=["TERM", "INT"]
)
def test_a_signal_mid_sweep_commits_and_marks_the_run_interrupted(
    tmp_path, backend, signum, status
):
    """Mid-sweep: what was fetched is committed, the run is "interrupted", one line said."""
    out = tmp_path / "out"
    child = _start([*SLOW, "--backend", backend, "--out", str(out)], tmp_path)
    try:
        watch = _Watch(child)
        watch.until_data_calls(6)  # a few items done (the sweep makes 240 calls in all)
        assert _running(out)
        child.send_signal(signum)
        stdout, stderr = watch.finish()
    finally:
        _finish(child)
    assert child.returncode == status, stderr
    assert "Traceback" not in stderr
    said = [line for line in stderr.splitlines() if line.startswith("solaredge-async:")]
    assert len(said) == 1
    assert "committed" in said[0]
    assert ("SIGTERM" if signum == signal.SIGTERM else "SIGINT") in said[0]
    manifest = json.loads((out / "manifest.json").read_text())
    run = manifest["runs"][-1]
    assert run["status"] == "interrupted"
    assert manifest["complete"] is False
    ids = _journal_ids(out)
    assert ids  # the fetched items were committed, not lost
    assert len(ids) == len(set(ids)) == run["succeeded"]
    assert run["rows_written"] == len((out / "records.jsonl").read_text().splitlines())
    del stdout


def test_sigint_during_start_up_exits_130_without_a_traceback(tmp_path, backend):
    """SIGINT at a random point of the first 0.3 s of a command: 130 and one line."""
    rng = random.Random(os.getpid())
    for _ in range(3):
        child = _start([*SLOW, "--backend", backend, "--dry-run"], tmp_path)
        try:
            assert child.stderr is not None
            first = child.stderr.readline()  # the debug line: main() is running
            assert "starting sweep" in first
            time.sleep(rng.uniform(0.0, 0.3))
            child.send_signal(signal.SIGINT)
            _, stderr = child.communicate(timeout=60)
        finally:
            _finish(child)
        # The dry run may have finished before the signal: then it exits 0.
        assert child.returncode in (0, 130), stderr
        assert "Traceback" not in stderr
        if child.returncode == 130:
            said = [line for line in stderr.splitlines() if line.startswith("solaredge-async:")]
            assert len(said) == 1
            assert "SIGINT" in said[0] or "interrupted" in said[0]


@pytest.mark.parametrize(
    ("signum", "status"), [(signal.SIGTERM, 0), (signal.SIGINT, 130)], ids=["TERM", "INT"]
)
def test_a_signal_mid_sync_commits_and_records_the_run_interrupted(
    tmp_path, backend, signum, status
):
    """Mid-sync: the fetched items are in the database, the run row says "interrupted"."""
    import sqlite3

    db = tmp_path / "fleet.db"
    argv = [
        "sync",
        *SLOW[1:],  # without "sweep"
        "--backend",
        backend,
        "--db",
        f"sqlite:///{db}",
        "--since",
        "2026-05-11",
        "--what",
        "energy,power",
    ]
    child = _start(argv, tmp_path)
    try:
        assert child.stderr is not None
        watch = _Watch(child)
        watch.until_data_calls(8)  # a few items done (2-3 calls an item)
        child.send_signal(signum)
        _, stderr = watch.finish()
    finally:
        _finish(child)
    assert child.returncode == status, stderr
    assert "Traceback" not in stderr
    said = [line for line in stderr.splitlines() if line.startswith("solaredge-async:")]
    assert len(said) == 1
    assert "committed" in said[0]
    con = sqlite3.connect(db)
    try:
        outcome, succeeded = con.execute(
            "SELECT outcome, succeeded FROM runs ORDER BY run_id DESC LIMIT 1"
        ).fetchone()
        rows = con.execute("SELECT count(*) FROM measurements").fetchone()[0]
    finally:
        con.close()
    assert outcome == "interrupted"
    assert succeeded > 0
    assert rows > 0
