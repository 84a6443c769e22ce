"""The loopback HTTP server, the ``simulate`` command and the pytest plugin."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import httpx
import pytest

from solaredge_async.testing import Faults, main
from solaredge_async.testing._cli import build_parser, config_from_args, parse_latency
from solaredge_async.testing._config import DEFAULT_API_KEY

from ._support import client, make_sim


@pytest.mark.anyio
@pytest.mark.loopback
async def test_serve_answers_like_the_transport():
    """The server answers over real sockets with the same core as the transport."""
    sim = make_sim(requests_per_minute=50)
    site_id = sim.fleet.sites_for(sim.api_key)[0]
    async with sim.serve() as url:
        assert url.startswith("http://127.0.0.1:")
        assert url.endswith("/v2")
        async with httpx.AsyncClient(base_url=url, headers={"X-API-Key": sim.api_key}) as c:
            sites = await c.get("/sites")
            energy = await c.get(f"/sites/{site_id}/energy")
            for _ in range(10):  # keep-alive on one connection
                assert (await c.get(f"/sites/{site_id}")).status_code == 200
            head = await c.head(f"/sites/{site_id}")
            token = await c.post("/oauth2/token", json={"grant_type": "refresh_token"})
            outside = await c.get(url.removesuffix("/v2") + "/v1/sites")
            pipelined = await c.get("/sites/1/powerFlow")
        async with client(sim) as inproc:
            expected = await inproc.get(f"/sites/{site_id}/energy")
    assert sites.status_code == 200
    assert sites.headers["x-ratelimit-limit-minute"] == "50"
    assert sites.headers["content-type"] == "application/json"
    assert energy.json() == expected.json()
    assert token.status_code == 400
    assert token.json()["error"] == "invalid_request"
    assert outside.status_code == 404
    assert pipelined.status_code == 404
    assert head.status_code == 200
    assert head.content == b""
    assert int(head.headers["content-length"]) > 0
    assert sim.ledger(sim.api_key).calls == 15
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as c:
            await c.get(url + "/sites")


@pytest.mark.anyio
@pytest.mark.loopback
async def test_server_faults_drop_stall_and_delay():
    """Resets drop the connection, stalls trip the client's timeout, latency delays."""
    reset = make_sim(faults=Faults(connection_reset=1.0))
    async with (
        reset.serve() as url,
        httpx.AsyncClient(base_url=url, headers={"X-API-Key": reset.api_key}) as c,
    ):
        with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
            await c.get("/sites")
    stall = make_sim(faults=Faults(timeout=1.0, stall=2.0))
    async with (
        stall.serve() as url,
        httpx.AsyncClient(base_url=url, headers={"X-API-Key": stall.api_key}) as c,
    ):
        with pytest.raises(httpx.ReadTimeout):
            await c.get("/sites", timeout=0.2)
    slow = make_sim(faults=Faults(latency=(0.05, 0.0)))
    reply = slow.handle("GET", "/v2/sites", headers={"x-api-key": slow.api_key})
    assert reply.delay == 0.05  # the server sleeps this long before answering
    assert slow.ledger(slow.api_key).in_flight == 1  # held until the answer is out
    reply.finish()
    async with (
        slow.serve() as url,
        httpx.AsyncClient(base_url=url, headers={"X-API-Key": slow.api_key}) as c,
    ):
        assert (await c.get("/sites")).status_code == 200
    assert slow.ledger(slow.api_key).in_flight == 0


def test_cli_options_build_the_config():
    """The simulate command's options map onto the settings."""
    args = build_parser().parse_args(
        [
            "--sites",
            "120",
            "--seed",
            "9",
            "--api-key",
            "A",
            "--api-key",
            "B",
            "--rate-limit",
            "0",
            "--monthly-credits",
            "0",
            "--latency-ms",
            "150±50",
            "--fault-5xx",
            "0.05",
            "--fault-reset",
            "0.02",
            "--now",
            "2026-05-12T14:00:00+02:00",
            "--no-span-caps",
            "--advanced",
            "--monitoring-alias",
        ]
    )
    cfg = config_from_args(args)
    assert cfg.fleet.sites == 120
    assert cfg.fleet.api_keys == ("A", "B")
    assert cfg.requests_per_minute is None
    assert cfg.monthly_credits is None
    assert cfg.faults.latency == (0.15, 0.05)
    assert cfg.faults.server_error == 0.05
    assert cfg.faults.connection_reset == 0.02
    assert cfg.span_caps["QUARTER_HOUR"] is None
    assert cfg.advanced_tier
    assert cfg.monitoring_alias
    assert parse_latency("80") == (0.08, 0.0)
    assert parse_latency("150+-50") == (0.15, 0.05)
    with pytest.raises(ValueError):
        parse_latency("fast")
    assert cfg.now is not None
    assert cfg.sim_clock is None
    assert cfg.gzip_responses
    assert cfg.subdaily_cap_hours == 12
    assert not cfg.include_bucket_at_to


def test_cli_clock_caps_bucket_and_gzip_options():
    """--speed runs the clock from --now; the cap, bucket and gzip switches map too."""
    args = build_parser().parse_args(
        [
            "--now",
            "2026-05-12T14:00:00+02:00",
            "--speed",
            "240",
            "--subdaily-cap-hours",
            "24",
            "--bucket-at-to",
            "--no-gzip",
        ]
    )
    cfg = config_from_args(args)
    assert cfg.now is None
    assert cfg.sim_clock is not None
    assert cfg.sim_clock.speed == 240.0
    assert not cfg.sim_clock.frozen
    assert cfg.sim_clock.now() >= datetime(2026, 5, 12, 12, tzinfo=UTC)
    assert cfg.subdaily_cap_hours == 24
    assert cfg.include_bucket_at_to
    assert not cfg.gzip_responses


def test_main_reports_bad_arguments(capsys):
    """Bad arguments give exit status 2 without starting a server."""
    assert main(["--fault-5xx", "2"]) == 2
    assert main(["--sites", "0"]) == 2
    assert "sites" in capsys.readouterr().err


@pytest.mark.loopback
def test_simulate_command_serves_in_a_subprocess():
    """`python -m solaredge_async.testing` prints its URL and serves until stopped."""
    cmd = [
        sys.executable,
        "-m",
        "solaredge_async.testing",
        "--port",
        "0",
        "--sites",
        "3",
        "--quiet",
    ]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) as proc:  # noqa: S603
        try:
            assert proc.stdout is not None
            url = proc.stdout.readline().strip()
            r = httpx.get(url + "/sites", headers={"X-API-Key": DEFAULT_API_KEY})
            assert r.status_code == 200
            assert r.json()["sites"]["count"] == 3
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def test_pytest_plugin_simulator_fixture(solaredge_simulator):
    """The plugin's simulator is small and unlimited."""
    assert len(solaredge_simulator.fleet) == 5
    assert solaredge_simulator.config.requests_per_minute is None
    assert solaredge_simulator.config.monthly_credits is None


@pytest.mark.anyio
async def test_pytest_plugin_client_fixture(solaredge_client, solaredge_simulator):
    """The plugin's client talks to the plugin's simulator in-process."""
    ids = [s.site_id async for s in solaredge_client.sites()]
    assert ids == list(solaredge_simulator.fleet.sites_for(solaredge_simulator.api_key))
    assert solaredge_simulator.requests
