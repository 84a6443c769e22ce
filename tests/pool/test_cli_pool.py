"""The command line over several API keys and through shared limits on Redis.

The multi-process test runs three real CLI processes against one loopback simulator
and asserts on counts (429s, credits), never on how long anything took.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import anyio
import pytest
from anyio.from_thread import start_blocking_portal

from solaredge_async import cli
from solaredge_async.testing import FleetSpec, Simulator, SimulatorConfig
from tests.pool._support import fp

ROOT = Path(__file__).resolve().parents[2]


def loopback_sim(keys: tuple[str, ...], sites: int = 6, **kw: object) -> Simulator:
    """A simulator on the wall clock (the CLI's 'yesterday' is the simulator's)."""
    settings: dict[str, object] = {
        "fleet": FleetSpec(sites=sites, api_keys=keys),
        "requests_per_minute": None,
        "monthly_credits": None,
    }
    settings.update(kw)
    return Simulator(SimulatorConfig(**settings))  # type: ignore[arg-type]


def keys(n: int) -> tuple[str, ...]:
    """``n`` fresh API keys."""
    return tuple(f"CLIPOOLKEY{i}{uuid.uuid4().hex}" for i in range(n))


def test_sites_with_two_accounts_keys_lists_both_accounts_sites(capsys):
    """One `sites` call, ``--api-key`` twice: every site of both, with the key that sees it."""
    a, b = keys(2)
    sim = loopback_sim((a, b), sites=7)
    with start_blocking_portal() as portal, portal.wrap_async_context_manager(sim.serve()) as url:
        common = ["--base-url", url, "--requests-per-minute", "0"]
        code = cli.main(["sites", *common, "--api-key", a, "--api-key", b, "--format", "jsonl"])
        table = cli.main(["sites", *common, "--api-key", a, "--api-key", b])
    assert code == table == 0
    printed = capsys.readouterr()
    lines = printed.out.splitlines()
    rows = [json.loads(line) for line in lines if line.startswith("{")]
    assert sorted(r["site_id"] for r in rows) == sorted(
        sim.fleet.sites_for(a) + sim.fleet.sites_for(b)
    )
    for row in rows:
        owner = a if row["site_id"] in sim.fleet.sites_for(a) else b
        assert row["credentials"] == [fp(owner)]
        assert row["name"]
    assert lines[-1] == "7 sites"
    assert "credentials" in next(line for line in lines if line.startswith("site_id"))
    for text in (printed.out, printed.err):
        assert a not in text
        assert b not in text


def test_the_environment_takes_several_comma_separated_keys(capsys, monkeypatch):
    """``SOLAREDGE_API_KEY=a,b`` is a pool of two."""
    a, b = keys(2)
    sim = loopback_sim((a, b), sites=4)
    monkeypatch.setenv("SOLAREDGE_API_KEY", f"{a}, {b}")
    with start_blocking_portal() as portal, portal.wrap_async_context_manager(sim.serve()) as url:
        code = cli.main(
            ["sites", "--base-url", url, "--requests-per-minute", "0", "--format", "csv"]
        )
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 + 4
    assert {line.rsplit(",", 1)[1] for line in lines[1:]} == {fp(a), fp(b)}


def test_a_refused_key_is_reported_and_the_others_listed(capsys):
    """One bad key among two: its sites are missing, a warning names it, exit 1."""
    a, bad = keys(2)
    sim = loopback_sim((a,), sites=3)
    with start_blocking_portal() as portal, portal.wrap_async_context_manager(sim.serve()) as url:
        code = cli.main(
            ["sites", "--base-url", url, "--requests-per-minute", "0", "--api-key", a,
             "--api-key", bad, "--format", "jsonl"]
        )  # fmt: skip
    assert code == 1
    printed = capsys.readouterr()
    assert len(printed.out.splitlines()) == 3
    assert fp(bad) in printed.err
    assert bad not in printed.err


def test_sweep_and_sync_run_over_every_key(tmp_path, capsys):
    """`sweep` and `sync` with two keys: each site fetched with its own key, nothing refused."""
    a, b = keys(2)
    sim = loopback_sim((a, b), sites=6)
    with start_blocking_portal() as portal, portal.wrap_async_context_manager(sim.serve()) as url:
        common = ["--base-url", url, "--requests-per-minute", "0", "--api-key", a, "--api-key", b]
        swept = cli.main(
            ["sweep", *common, "--what", "overview,energy", "--out", str(tmp_path / "s"),
             "--no-progress", "--output", "json"]
        )  # fmt: skip
        sweep_summary = json.loads(capsys.readouterr().out.splitlines()[-1])
        synced = cli.main(
            ["sync", *common, "--what", "energy", "--db", f"sqlite:///{tmp_path / 'f.db'}",
             "--no-progress", "--output", "json"]
        )  # fmt: skip
        sync_summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert swept == synced == 0
    assert sweep_summary["succeeded"] >= 6 * 2  # an overview and the day (split or not)
    assert sweep_summary["failed"] == sweep_summary["not_attempted"] == 0
    assert sync_summary["complete"] is True
    assert sync_summary["sites"] == 6
    for key in (a, b):
        usage = sim.ledger(key)
        assert not {401, 403} & usage.statuses.keys()  # every site with its own key


def test_a_malformed_shared_state_url_is_a_usage_error(capsys):
    """``--shared-state`` must be a redis:// URL: exit 2 before any call."""
    code = cli.main(["sites", "--simulate", "--shared-state", "http://nope"])
    assert code == 2
    assert "redis://" in capsys.readouterr().err


def _redis_spent(redis_url: str, account: str) -> int:
    from solaredge_async.limits import RedisLimits

    async def read() -> int:
        async with RedisLimits(redis_url) as shared:
            return (await shared.ledger().state(account)).spent

    return anyio.run(read)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_three_cli_processes_on_one_key_share_the_limit_through_redis(redis_url, tmp_path):
    """Three `sweep` processes, one key, 120/min on the server and in Redis: no 429 at all.

    Every process's requests are granted by the one Redis bucket and charged to the
    one Redis ledger (its count is every process's calls); asyncio and trio mixed.
    """
    pytest.importorskip("coredis")
    key = keys(1)[0]
    sim = loopback_sim((key,), sites=4, requests_per_minute=120)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SOLAREDGE_API_KEY": key}
    env.pop("SOLAREDGE_SHARED_STATE", None)
    with start_blocking_portal() as portal, portal.wrap_async_context_manager(sim.serve()) as url:
        procs = [
            subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
                [
                    sys.executable,
                    "-m",
                    "solaredge_async.cli",
                    "sweep",
                    "--base-url",
                    url,
                    "--shared-state",
                    redis_url,
                    "--requests-per-minute",
                    "120",
                    "--what",
                    "overview",
                    "--out",
                    str(tmp_path / f"run{i}"),
                    "--no-progress",
                    "--output",
                    "json",
                    "--backend",
                    ("asyncio", "trio", "asyncio")[i],
                ],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(3)
        ]
        outputs = [p.communicate(timeout=180) for p in procs]
    summaries = []
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        summaries.append(json.loads(out.splitlines()[-1]))
        assert key not in out + err
    for summary in summaries:
        assert summary["rate_limited"] == 0
        assert summary["succeeded"] == 4
        assert summary["credits"] == 5  # the site list and four overviews
    usage = sim.ledger(key)
    assert usage.minute_429s == 0
    assert usage.calls == usage.credits == 15
    assert _redis_spent(redis_url, fp(key)) == 15


def test_poll_refuses_several_keys(tmp_path, capsys):
    """`poll` runs on one key: two are a usage error, before anything is opened."""
    a, b = keys(2)
    db = f"sqlite:///{tmp_path / 'p.db'}"
    assert cli.main(["poll", "--db", db, "--api-key", a, "--api-key", b]) == 2
    err = capsys.readouterr().err
    assert "one API key" in err
    assert a not in err
    assert not (tmp_path / "p.db").exists()


def test_poll_takes_shared_state_but_not_with_its_own_ledger(tmp_path, capsys):
    """`poll --shared-state` with ``--ledger`` (or the simulator) is a usage error."""
    db = f"sqlite:///{tmp_path / 'p.db'}"
    url = "redis://127.0.0.1:6379/0"
    ledger = str(tmp_path / "ledger.json")
    assert (
        cli.main(["poll", "--db", db, "--api-key", "k", "--shared-state", url, "--ledger", ledger])
        == 2
    )
    assert "--shared-state" in capsys.readouterr().err
    assert cli.main(["poll", "--db", db, "--simulate", "--shared-state", url]) == 2
    assert not (tmp_path / "p.db").exists()
