"""The CLI's files, flags and failures as users and attackers meet them (issue 15)."""

# ruff: noqa: S603, S607 - the tests start this package's own command and mount(8)

from __future__ import annotations

import contextlib
import errno
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from solaredge_async import cli
from solaredge_async.cli import _output
from tests.cli._support import fast_simulation

ROOT = Path(__file__).resolve().parents[2]

FAST = fast_simulation(12)


def _sweep(out: Path, *extra: str) -> int:
    return cli.main(["sweep", *FAST, "--out", str(out), *extra])


def _journal_ids(out: Path) -> list[str]:
    lines = (out / "journal.tsv").read_text().splitlines()
    return [line[2:] for line in lines if line.startswith("i\t")]


def _recording_simulators(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    from solaredge_async import testing

    made: list[Any] = []
    real = testing.Simulator

    class Recording(real):  # type: ignore[misc, valid-type]
        def __init__(self, *a: Any, **kw: Any) -> None:
            super().__init__(*a, **kw)
            made.append(self)

    monkeypatch.setattr(testing, "Simulator", Recording)
    return made


# -- exit statuses ----------------------------------------------------------------------


@pytest.mark.parametrize("command", [[], ["sweep"], ["sync"], ["sites"]])
def test_help_documents_every_exit_status(command, capsys):
    """Every --help ends with the exit statuses: 0, 1, 2, 3 and 130."""
    assert cli.main([*command, "--help"]) == 0
    text = capsys.readouterr().out
    assert "exit status:" in text
    for line in ("0    done", "1    some items failed", "2    usage", "3    refused", "130"):
        assert line in text


def test_quota_gone_before_the_first_data_call_exits_3(tmp_path, capsys):
    """Credits gone after discovery: nothing could be spent, exit 3 (not 1)."""
    assert _sweep(tmp_path / "q", "--sim-monthly-credits", "1", "--allow-over-budget") == 3
    printed = capsys.readouterr().out
    assert "0 succeeded, 0 failed, 60 not attempted" in printed


def test_a_plan_over_the_budget_is_refused_before_spending(tmp_path, capsys):
    """The plan costs more than remains: exit 3 naming the budget, no data call made."""
    assert _sweep(tmp_path / "q", "--sim-monthly-credits", "40") == 3
    captured = capsys.readouterr()
    assert "OVER BUDGET" in captured.out
    assert "39 of 40 credits remain" in captured.err
    assert "--allow-over-budget" in captured.err
    assert not (tmp_path / "q" / "records.jsonl").exists()


def test_an_over_budget_dry_run_exits_3_and_names_the_budget(tmp_path, capsys):
    """`--dry-run` over the budget says so and exits 3, having spent only discovery."""
    code = cli.main(
        [
            "sweep",
            "--simulate",
            "--sim-sites",
            "12",
            "--no-progress",
            "--dry-run",
            "--monthly-credits",
            "30",
            "--output",
            "json",
        ]
    )
    assert code == 3
    captured = capsys.readouterr()
    assert "29 of 30 credits remain" in captured.err
    summary = json.loads(captured.out.strip().splitlines()[-1])
    assert summary["dry_run"] is True
    assert summary["credits"] == 1
    assert summary["planned_credits"] == 60


def test_quota_gone_during_discovery_exits_3(tmp_path, capsys, monkeypatch):
    """A refusal while listing the sites is a refusal before spending: exit 3."""
    from solaredge_async import errors
    from solaredge_async.cli import _sweep as sweep_module

    async def refuse(*args: object, **kwargs: object) -> None:
        raise errors.QuotaExhaustedError(status_code=429, method="GET", path="/sites")

    monkeypatch.setattr(sweep_module, "plan_pool_sweep", refuse)
    assert _sweep(tmp_path / "q") == 3
    assert "refused: the monthly credits ran out" in capsys.readouterr().err


# -- the output directory ---------------------------------------------------------------


def test_a_second_process_on_one_out_directory_is_refused(tmp_path, capsys):
    """While one process holds --out, another gets a clear error and exit 2, writing nothing."""
    out = tmp_path / "o"
    out.mkdir()
    with _output.DirectoryLock(out):
        assert _sweep(out) == 2
        assert "is in use by another solaredge-async process" in capsys.readouterr().err
        assert not (out / "manifest.json").exists()
    assert _sweep(out) == 0  # free again once the holder is gone


def test_two_concurrent_sweep_processes_never_interleave(tmp_path):
    """Two real processes on one --out: one runs, the other exits 2; rows are not doubled."""
    out = tmp_path / "o"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "solaredge_async.cli", "sweep", *FAST, "--out", str(out)]
    at = argv.index("--sim-latency-ms")
    slow = [*argv[:at], "--sim-latency-ms", "20", "--concurrency", "1", *argv[at + 2 :]]
    first = subprocess.Popen(slow, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = 600
        while not (out / "manifest.json").exists() and deadline:
            deadline -= 1
            with contextlib.suppress(subprocess.TimeoutExpired):
                first.wait(0.1)
        second = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        first.communicate(timeout=120)
    finally:
        first.kill()
    assert first.returncode == 0
    assert second.returncode == 2, second.stderr
    assert "in use by another solaredge-async process" in second.stderr
    ids = _journal_ids(out)
    assert len(ids) == len(set(ids)) == 60


class _DiskFull:
    """A file whose writes fail with ENOSPC after ``room`` bytes (a partial write first)."""

    def __init__(self, inner: Any, room: int) -> None:
        self._inner = inner
        self.room = room

    def write(self, data: bytes) -> int:
        if len(data) > self.room:
            self._inner.write(data[: self.room])
            self._inner.flush()
            self.room = 0
            raise OSError(errno.ENOSPC, "No space left on device")
        self.room -= len(data)
        return int(self._inner.write(data))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_full_disk_gives_a_message_a_failed_run_and_no_duplicate_on_resume(
    tmp_path, capsys, monkeypatch, fmt
):
    """ENOSPC mid-batch: a clear message, manifest "failed", then resume equals a full run."""
    monkeypatch.setattr(_output, "_BATCH_ITEMS", 10)
    full = tmp_path / "full"
    assert _sweep(full, "--format", fmt) == 0
    real_open = _output.OutputStore._open

    def open_with_small_disk(self: Any, marker: int | None) -> None:
        real_open(self, marker)
        self._data = _DiskFull(self._data, room=30_000)

    monkeypatch.setattr(_output.OutputStore, "_open", open_with_small_disk)
    out = tmp_path / "small"
    capsys.readouterr()
    assert _sweep(out, "--format", fmt) == 2
    err = capsys.readouterr().err
    assert "the disk is full" in err
    assert "Traceback" not in err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["runs"][-1]["status"] == "failed"
    assert "disk is full" in manifest["runs"][-1]["error"]

    monkeypatch.setattr(_output.OutputStore, "_open", real_open)
    assert cli.main(["sweep", "--out", str(out), "--resume", "--no-progress"]) == 0
    ids = _journal_ids(out)
    assert len(ids) == len(set(ids)) == 60
    data = f"records.{fmt}"
    assert sorted((out / data).read_text().splitlines()) == sorted(
        (full / data).read_text().splitlines()
    )


def test_a_failed_commit_is_never_retried_by_close(tmp_path):
    """close() after a failed commit writes nothing more (no duplicated half-batch)."""
    from solaredge_async.cli._output import OutputError, OutputStore

    store = OutputStore(tmp_path, "jsonl", resume=False)
    store._data = _DiskFull(store._data, room=5)
    store._add_bytes(b'{"row": 1}\n')
    store._pending_ids.append("item-1")
    with pytest.raises(OutputError, match="disk is full"):
        store.commit()
    with pytest.raises(OutputError, match="disk is full"):
        store.close()  # says so again, and must not write the batch a second time
    assert (tmp_path / "records.jsonl").read_bytes() == b'{"row'
    assert (tmp_path / "journal.tsv").read_bytes() == b""


@pytest.fixture
def tiny_fs(tmp_path):
    """A 256 KiB tmpfs (needs root and mount; skipped elsewhere)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_real_full_filesystem(tiny_fs, capsys):
    """On a 256 KiB filesystem: a clear message, exit 2, manifest never left "running"."""
    out = tiny_fs / "o"
    assert _sweep(out) == 2
    err = capsys.readouterr().err
    assert "the disk is full" in err
    assert "Traceback" not in err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["runs"][-1]["status"] == "failed"
    ids = _journal_ids(out)
    assert len(ids) == len(set(ids))


# -- damaged state files ----------------------------------------------------------------


def _resume_error(out: Path, capsys: pytest.CaptureFixture[str]) -> str:
    assert cli.main(["sweep", "--out", str(out), "--resume", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def _damaged(sweep: str = "{}", runs: str = "[]", complete: str = "false") -> bytes:
    return (
        f'{{"format_version": 1, "sweep": {sweep}, "output": {{}}, "plan": {{}}, '
        f'"runs": {runs}, "complete": {complete}}}'
    ).encode()


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        (b"{not json", "not JSON"),
        (b"[]", "not a manifest"),
        (_damaged(runs="{}"), "'runs' is dict, expected a list"),
        (_damaged(runs="[1]"), "'runs' holds something other than objects"),
        (_damaged(sweep="[]"), "'sweep' is list"),
        (_damaged(complete='"no"'), "'complete' is str"),
        (_damaged(), "no 'what'"),
        (b"\xff\xfe not utf-8", "not JSON"),
        (b"[" * 100_000, "not JSON"),
    ],
)
def test_damaged_manifests_give_clear_errors(tmp_path, capsys, damage, said):
    """Each kind of damage is named; never an AttributeError or KeyError traceback."""
    out = tmp_path / "d"
    out.mkdir()
    (out / "manifest.json").write_bytes(damage)
    assert said in _resume_error(out, capsys)


def test_damaged_sweep_options_are_named(tmp_path, capsys):
    """A wrong type in the stored options names the field."""
    out = tmp_path / "d"
    assert _sweep(out) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["complete"] = False
    for field, value, said in [
        ("what", "energy", "'what' is str, expected list"),
        ("what", ["bogus"], "what: ['bogus']"),
        ("sites", ["x"], "sites: not site ids"),
        ("start", 5, "'start' is int, expected str"),
        ("start", "someday", "start: expected YYYY-MM-DD"),
        ("prefer_bulk", "false", "'prefer_bulk' is str, expected bool"),
        ("sim_sites", True, "'sim_sites' is bool"),
        ("now", "yesterday", "now: 'yesterday'"),
        ("format", "xlsx", "format 'xlsx'"),
    ]:
        damaged = json.loads(json.dumps(manifest))
        damaged["sweep"][field] = value
        (out / "manifest.json").write_text(json.dumps(damaged))
        assert said in _resume_error(out, capsys), field
    del manifest["sweep"]["what"]
    (out / "manifest.json").write_text(json.dumps(manifest))
    assert "no 'what'" in _resume_error(out, capsys)


def test_the_manifest_keeps_a_spare_for_its_last_update(tmp_path):
    """After each write a spare larger than the manifest is set aside (room on a full disk)."""
    manifest = {"format_version": 1, "runs": [], "complete": False}
    _output.write_manifest(tmp_path, manifest)
    spare = tmp_path / "manifest.json.tmp"
    size = (tmp_path / "manifest.json").stat().st_size
    assert spare.stat().st_size > 2 * size
    _output.write_manifest(tmp_path, {**manifest, "complete": True})
    assert json.loads((tmp_path / "manifest.json").read_text())["complete"] is True


# -- where the key goes -----------------------------------------------------------------


@pytest.mark.loopback
def test_resume_never_sends_the_key_to_the_manifests_url_unless_told(tmp_path, capsys, monkeypatch):
    """A manifest naming a URL is not trusted: --base-url, $SOLAREDGE_BASE_URL or the flag."""
    from anyio.from_thread import start_blocking_portal

    from solaredge_async.testing import FleetSpec, Simulator, SimulatorConfig

    key = "LOOPBACKSECRETKEY0123456789ABCDEF"
    monkeypatch.setenv("SOLAREDGE_API_KEY", key)
    monkeypatch.delenv("SOLAREDGE_BASE_URL", raising=False)
    sim = Simulator(
        SimulatorConfig(
            fleet=FleetSpec(sites=3, api_keys=(key,)),
            requests_per_minute=None,
            monthly_credits=None,
        )
    )
    out = tmp_path / "r"
    with start_blocking_portal() as portal, portal.wrap_async_context_manager(sim.serve()) as url:
        common = ["--requests-per-minute", "0", "--no-progress"]
        assert cli.main(["sweep", "--base-url", url, *common, "--out", str(out)]) == 0
        manifest = json.loads((out / "manifest.json").read_text())
        manifest["complete"] = False  # pretend it was interrupted
        (out / "manifest.json").write_text(json.dumps(manifest))
        spent = sim.ledger(key).credits
        capsys.readouterr()

        assert cli.main(["sweep", "--out", str(out), "--resume", *common]) == 2
        err = capsys.readouterr().err
        assert f"made against {url}" in err
        assert "--trust-manifest-url" in err
        assert sim.ledger(key).credits == spent  # nothing was sent anywhere

        resume = ["sweep", "--out", str(out), "--resume", *common]
        assert cli.main([*resume, "--trust-manifest-url"]) == 0
        monkeypatch.setenv("SOLAREDGE_BASE_URL", url)
        manifest["complete"] = False
        (out / "manifest.json").write_text(json.dumps(manifest))
        assert cli.main(resume) == 0
        monkeypatch.delenv("SOLAREDGE_BASE_URL")
        (out / "manifest.json").write_text(json.dumps(manifest))
        assert cli.main([*resume, "--base-url", url]) == 0
    assert key not in capsys.readouterr().err


# -- flags and messages -----------------------------------------------------------------


def test_missing_key_names_the_flag_and_the_variable(capsys, monkeypatch):
    """No key anywhere: exit 2 naming --api-key and SOLAREDGE_API_KEY (not api_key=...)."""
    monkeypatch.delenv("SOLAREDGE_API_KEY", raising=False)
    assert cli.main(["sites"]) == 2
    err = capsys.readouterr().err
    assert "--api-key" in err
    assert "SOLAREDGE_API_KEY" in err
    assert "api_key=" not in err


def test_backend_trio_without_trio_is_a_clear_usage_error(capsys, monkeypatch):
    """--backend trio where trio is not installed: exit 2 and how to install it."""
    monkeypatch.setitem(sys.modules, "trio", None)
    assert cli.main(["sites", "--simulate", "--backend", "trio"]) == 2
    assert "pip install 'solaredge-async[trio]'" in capsys.readouterr().err


def test_log_level_shows_the_librarys_log(tmp_path):
    """--log-level debug logs on stderr (here: the command starting)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "solaredge_async.cli", "sites", *FAST[:-1], "--log-level", "debug"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "DEBUG solaredge_async.cli: starting sites" in done.stderr


def test_sites_into_a_closed_pipe_exits_quietly(tmp_path):
    """``solaredge-async sites | head -1``: status 0, no BrokenPipeError traceback."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [
            sys.executable,
            *("-m", "solaredge_async.cli", "sites", *FAST[:-1]),
            *("--sim-sites", "3000", "--format", "jsonl"),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    assert child.stdout is not None
    assert child.stdout.readline().startswith(b"{")
    child.stdout.close()  # as head does after its line
    _, stderr = child.communicate(timeout=60)
    assert child.returncode == 0
    assert b"Traceback" not in stderr
    assert b"BrokenPipe" not in stderr


def test_simulate_prints_the_key_it_accepts(tmp_path):
    """`simulate` says which API key to use against it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-m", "solaredge_async.cli", "simulate", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        assert child.stdout is not None
        lines = [child.stdout.readline(), child.stdout.readline()]
    finally:
        child.terminate()
        child.communicate(timeout=30)
    from solaredge_async.testing._config import DEFAULT_API_KEY

    assert "listening on http://127.0.0.1:" in lines[0]
    assert f"API key it accepts: {DEFAULT_API_KEY}" in lines[1]
    assert child.returncode == 0


def test_twenty_thousand_unknown_site_ids_cost_one_listing(tmp_path, capsys, monkeypatch):
    """--sites with 20,000 ids the fleet lacks: one /sites call, exit 2, even on --dry-run."""
    made = _recording_simulators(monkeypatch)
    ids = ",".join(str(9_000_000 + i) for i in range(20_000))
    argv = ["sweep", *FAST, "--sites", ids, "--dry-run"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "20,000 of the --sites ids are not in the fleet the API key sees" in err
    (sim,) = made
    assert sim.ledger(sim.api_key).credits == 1


def test_known_site_ids_are_planned_without_lookups(tmp_path, capsys, monkeypatch):
    """Known --sites ids: the listing teaches their zones, so no per-site lookup follows."""
    made = _recording_simulators(monkeypatch)
    assert cli.main(["sites", *FAST[:-1], "--format", "jsonl"]) == 0
    listed = [json.loads(line)["site_id"] for line in capsys.readouterr().out.splitlines()]
    assert cli.main(["sweep", *FAST, "--sites", ",".join(map(str, listed[:5])), "--dry-run"]) == 0
    assert "5 sites, 25 calls = 25 credits" in capsys.readouterr().out
    assert made[-1].ledger(made[-1].api_key).credits == 1


# -- --output json ----------------------------------------------------------------------


def test_sweep_output_json_ends_with_one_summary_object(tmp_path, capsys):
    """--output json: the last stdout line is the summary; the text goes to stderr."""
    assert _sweep(tmp_path / "j", "--output", "json") == 0
    lines = capsys.readouterr().out.splitlines()
    summary = json.loads(lines[-1])
    for key in ("credits", "rows", "succeeded", "failed", "not_attempted", "rate_limited"):
        assert key in summary
    assert summary["succeeded"] == 60
    assert summary["credits"] == 61
    assert summary["rows"] == len((tmp_path / "j" / "records.jsonl").read_text().splitlines())
    assert summary["exit_status"] == 0
    assert cli.main(["sweep", *FAST, "--dry-run", "--output", "json"]) == 0
    dry = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert dry["dry_run"] is True
    assert dry["planned_credits"] == 60


def test_resuming_a_complete_sweep_with_output_json_still_ends_with_the_summary(tmp_path, capsys):
    """Nothing to do is still one JSON object on the last stdout line."""
    out = tmp_path / "c"
    assert _sweep(out) == 0
    capsys.readouterr()
    assert cli.main(["sweep", "--out", str(out), "--resume", "--output", "json"]) == 0
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert summary["succeeded"] == summary["credits"] == 0
