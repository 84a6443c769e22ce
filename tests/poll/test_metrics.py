"""Metrics: the text exposition, and scraping /metrics over loopback."""

from __future__ import annotations

import anyio
import httpx
import pytest

from solaredge_async._usage import RequestEvent
from solaredge_async.poll import CONTENT_TYPE, PollMetrics, serve_metrics

pytestmark = [pytest.mark.anyio, pytest.mark.loopback]


def _metrics() -> PollMetrics:
    metrics = PollMetrics()
    metrics.credits_remaining = 1234
    metrics.record_item("energy", "succeeded", spent=2, rate_limited=0)
    metrics.record_item("energy", "failed", spent=1, rate_limited=1)
    metrics.record_item("alerts", "succeeded", spent=1, rate_limited=0)
    metrics.lag["energy"] = 1020.5
    metrics.cadence["energy"] = 900.0
    metrics.failed_items["energy"] = 1
    for status in (200, 200, 429, 404, 503, None):
        metrics.on_request(
            RequestEvent(
                method="GET",
                path="/sites/1/energy",
                status_code=status,
                attempt=1,
                duration=0.1,
                credits=1,
            )
        )
    return metrics


def _parse(text: str) -> dict[str, float]:
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def test_render_is_prometheus_text_without_site_ids():
    """Every family has HELP and TYPE; labels are targets and outcomes only."""
    text = _metrics().render()
    samples = _parse(text)
    assert samples["solaredge_poll_credits_spent_total"] == 4
    assert samples["solaredge_poll_credits_remaining"] == 1234
    assert samples["solaredge_poll_rate_limited_total"] == 1
    assert samples['solaredge_poll_items_total{target="energy",outcome="failed"}'] == 1
    assert samples['solaredge_poll_lag_seconds{target="energy"}'] == 1020.5
    assert samples['solaredge_poll_cadence_seconds{target="energy"}'] == 900
    assert samples['solaredge_poll_requests_total{outcome="ok"}'] == 2
    for outcome in ("rate_limited", "client_error", "server_error", "transport_error"):
        assert samples[f'solaredge_poll_requests_total{{outcome="{outcome}"}}'] == 1
    families = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")}
    assert {name.split("{")[0] for name in samples} <= families
    assert "site" not in text.replace("/sites", "")
    assert text.endswith("\n")


def test_label_values_are_escaped():
    """Quotes, backslashes and newlines in a target name cannot break the format."""
    metrics = PollMetrics()
    metrics.lag['we"ird\\\n'] = 1.0
    assert 'target="we\\"ird\\\\\\n"' in metrics.render()


async def test_scrape_over_loopback():
    """GET /metrics answers 200 with the exposition; other paths and methods do not."""
    metrics = _metrics()
    async with anyio.create_task_group() as tg:
        port = await tg.start(serve_metrics, metrics)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            response = await client.get("/metrics")
            assert response.status_code == 200
            assert response.headers["content-type"] == CONTENT_TYPE
            assert response.text == metrics.render()
            metrics.record_item("energy", "succeeded", spent=5, rate_limited=0)
            again = await client.get("/metrics?x=1")
            assert _parse(again.text)["solaredge_poll_credits_spent_total"] == 9
            head = await client.head("/metrics")
            assert head.status_code == 200
            assert head.content == b""
            assert (await client.get("/")).status_code == 404
            assert (await client.post("/metrics")).status_code == 405
        # A client that connects and hangs up without a request does no harm.
        stream = await anyio.connect_tcp("127.0.0.1", port)
        await stream.aclose()
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"http://127.0.0.1:{port}/metrics")).status_code == 200
        tg.cancel_scope.cancel()


async def test_oversized_request_head_is_refused():
    """A request head over 8 KiB gets 431 instead of being buffered without end."""
    async with anyio.create_task_group() as tg:
        port = await tg.start(serve_metrics, PollMetrics())
        stream = await anyio.connect_tcp("127.0.0.1", port)
        async with stream:
            await stream.send(b"GET /metrics HTTP/1.1\r\nX-Fill: " + b"a" * 9000)
            answer = b""
            with anyio.fail_after(5):
                while True:
                    try:
                        answer += await stream.receive()
                    except anyio.EndOfStream:
                        break
        assert answer.startswith(b"HTTP/1.1 431")
        tg.cancel_scope.cancel()
