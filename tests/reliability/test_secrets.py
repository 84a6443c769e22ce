"""Secrets: canary credentials never show in logs, errors, reprs, CLI output or CLI files.

Every scenario runs with the root logger at DEBUG and then searches every log record
(message, arguments, formatted traceback, extra fields), every exception raised (message,
repr, attributes, printed traceback and the exceptions chained to it), and the reprs of
the objects that hold a secret, for canary values: the API key, the account key, the
OAuth client secret, and the access and refresh tokens the simulator issued.
"""

from __future__ import annotations

import logging
import ssl
import time
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import anyio
import httpx
import pytest

from solaredge_async import (
    APIStatusError,
    AuthenticationError,
    QuotaExhaustedError,
    RetryPolicy,
    ServerError,
    SolarEdgeClient,
    SolarEdgeError,
    TransportError,
)
from solaredge_async.errors import OAuthError
from solaredge_async.fleet import ItemFailed, SweepSpec, plan_sweep, sweep
from solaredge_async.oauth import OAuthClient, RefreshingTokenProvider, TokenSet
from solaredge_async.testing import Faults, FleetSpec, Simulator, SimulatorConfig
from solaredge_async.testing._server import ServerThread
from tests.reliability import _figures
from tests.reliability._support import REFERENCE, exception_texts, httpcore_pools

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from pathlib import Path

pytestmark = pytest.mark.anyio

API_KEY = "CANARY-APIKEY-7f3a9c1e5b2d4a60"
ACCOUNT_KEY = "CANARY-ACCTKEY-1b9e7d3c5a2f4e80"
CLIENT_ID = "canary-app"
CLIENT_SECRET = "CANARY-CLIENTSECRET-4d2c8b6a0e1f3a57"
STATIC_CANARIES = (API_KEY, ACCOUNT_KEY, CLIENT_SECRET)
NOW = datetime(2026, 5, 12, 12, 0, tzinfo=UTC)
FAST = RetryPolicy(max_attempts=3, initial_backoff=0.5, jitter=0.0)


def make_sim(**overrides: Any) -> Simulator:
    """A small fleet owned by the canary key, the canary OAuth app registered."""
    settings: dict[str, Any] = {
        "fleet": FleetSpec(sites=3, api_keys=(API_KEY,), meter_fraction=1.0),
        "now": NOW,
        "requests_per_minute": None,
        "monthly_credits": None,
        "oauth_clients": {CLIENT_ID: CLIENT_SECRET},
    }
    settings.update(overrides)
    return Simulator(SimulatorConfig(**settings))


class Canaries:
    """The secrets in play (tokens join as the simulator issues them) and where to look."""

    def __init__(self) -> None:
        self.values: set[str] = set(STATIC_CANARIES)
        self.texts: list[tuple[str, str]] = []

    def add_tokens(self, tokens: TokenSet) -> None:
        """Treat a token set's access and refresh tokens as canaries too."""
        self.values |= {tokens.access_token, tokens.refresh_token}

    def look_at(self, where: str, texts: Iterable[str]) -> None:
        """Remember texts to search (searched at the end, when every token is known)."""
        self.texts.extend((where, text) for text in texts)

    def look_at_error(self, where: str, exc: BaseException) -> None:
        """Remember everything an exception shows."""
        self.look_at(where, exception_texts(exc))

    def look_at_logs(self, records: Iterable[logging.LogRecord]) -> None:
        """Remember every log record: message, args, traceback, extra fields."""
        formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
        for record in records:
            texts = [formatter.format(record), repr(record.args), repr(vars(record))]
            if record.exc_info and record.exc_info[1] is not None:
                texts.extend(exception_texts(record.exc_info[1]))
            self.look_at(f"log record {record.name}", texts)

    def leaks(self) -> list[str]:
        """Where a canary was found (empty when none leaked)."""
        _figures.secrets["texts searched"] += len(self.texts)
        found = [
            f"{where}: {text[:200]!r}"
            for where, text in self.texts
            for canary in self.values
            if canary in text
        ]
        _figures.secrets["canary leaks"] += len(found)
        return found


@pytest.fixture
def canaries(caplog: pytest.LogCaptureFixture) -> Iterator[Canaries]:
    """Canaries, with every logger at DEBUG; asserts at teardown that none leaked."""
    caplog.set_level(logging.DEBUG)
    found = Canaries()
    yield found
    records = caplog.get_records("setup") + caplog.get_records("call")
    found.look_at_logs(records)
    _figures.secrets["scenarios"] += 1
    assert found.leaks() == []


async def _raises(canaries: Canaries, where: str, call: Any) -> BaseException:
    try:
        await call
    except SolarEdgeError as exc:
        canaries.look_at_error(where, exc)
        return exc
    raise AssertionError(f"{where}: no error raised")


def _key_client(transport: httpx.AsyncBaseTransport, **kwargs: Any) -> SolarEdgeClient:
    kwargs.setdefault("requests_per_minute", None)
    kwargs.setdefault("retry", FAST)
    return SolarEdgeClient(api_key=API_KEY, account_key=ACCOUNT_KEY, transport=transport, **kwargs)


def _reprs(canaries: Canaries, *objects: object) -> None:
    canaries.look_at("repr", [repr(o) for o in objects] + [str(o) for o in objects])


# --- scenarios ------------------------------------------------------------------------


async def test_successful_calls_against_the_simulator(
    canaries: Canaries, caplog: pytest.LogCaptureFixture
) -> None:
    """Ordinary calls with an API key and an account key: no canary anywhere."""
    sim = make_sim()
    events: list[object] = []
    async with _key_client(sim.transport(), on_request=events.append) as client:
        sites = [s async for s in client.sites()]
        site_id = sites[0].site_id
        await client.site_energy(site_id, start=date(2026, 5, 11), end=date(2026, 5, 11))
        await client.devices(site_id, types=["INVERTER", "METER"])
        _reprs(canaries, client, client.usage, client._credential, client.rate_limiter, *events)
    assert sim.requests[0].api_key == API_KEY  # the canary was really sent
    assert len(events) >= 4
    # The engine logs every attempt at DEBUG: the search above had something to search.
    assert sum(r.name == "solaredge_async._engine" for r in caplog.records) == len(events)


async def test_a_401_echoing_the_key_in_body_and_headers(canaries: Canaries) -> None:
    """A 401 whose body, title, detail and headers repeat the key: scrubbed everywhere."""

    def handler(request: httpx.Request) -> httpx.Response:
        key = request.headers["x-api-key"]
        body = (
            '{"type":"https://se-api.stoplight.io/docs/monitoring","title":"Unauthorized '
            + key
            + '","status":401,"detail":"Invalid API key '
            + key
            + " (account "
            + request.headers["x-account-key"]
            + ')","instance":null,"properties":{"traceId":"'
            + key
            + '"}}'
        )
        return httpx.Response(
            401,
            content=body.encode(),
            headers={"content-type": "application/problem+json", "x-kong-request-id": key},
        )

    async with _key_client(httpx.MockTransport(handler)) as client:
        exc = await _raises(canaries, "401", client.site(1))
        _reprs(canaries, client)
    assert isinstance(exc, AuthenticationError)
    assert "[redacted]" in exc.body


async def test_a_5xx_html_page_with_the_key_is_retried_and_scrubbed(canaries: Canaries) -> None:
    """A 502 HTML page repeating the key, three times: retried, raised scrubbed."""

    def handler(request: httpx.Request) -> httpx.Response:
        page = f"<html><body><h1>502</h1><p>upstream got X-API-Key: {API_KEY}</p></body></html>"
        return httpx.Response(502, text=page, headers={"content-type": "text/html"})

    async with _key_client(httpx.MockTransport(handler)) as client:
        exc = await _raises(canaries, "502", client.site(1))
        assert client.usage.retries == 2
    assert isinstance(exc, ServerError)


@pytest.mark.parametrize(
    "error", [httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError, httpx.ReadTimeout]
)
async def test_connection_errors_whose_message_holds_the_key(
    canaries: Canaries, error: type[httpx.TransportError]
) -> None:
    """Transport errors quoting the key and the request: scrubbed, and not kept as context."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise error(f"failed sending {request.headers} with key {API_KEY}", request=request)

    async with _key_client(httpx.MockTransport(handler)) as client:
        exc = await _raises(canaries, error.__name__, client.site(1))
    assert isinstance(exc, TransportError)
    # The raw httpx error holds the request, headers included: it must not ride along.
    assert exc.__cause__ is None
    assert exc.__context__ is None


async def test_a_retry_then_success(canaries: Canaries) -> None:
    """503 then 200: the retry is logged, and the log names no secret."""
    answers = iter([httpx.Response(503, text=f"busy {API_KEY}"), httpx.Response(200, json={})])
    async with _key_client(httpx.MockTransport(lambda _r: next(answers))) as client:
        assert await client.get("/sites/1/overview") == {}
        assert client.usage.retries == 1


async def test_quota_exhaustion(canaries: Canaries) -> None:
    """The monthly credits run out (simulator), then calls are refused locally."""
    sim = make_sim(monthly_credits=2)
    async with _key_client(sim.transport()) as client:
        site_id = sim.fleet.sites_for(API_KEY)[0]
        await client.site(site_id)
        await client.site(site_id)
        exc = await _raises(canaries, "quota (server)", client.site(site_id))
        again = await _raises(canaries, "quota (local)", client.site(site_id))
        _reprs(canaries, client.usage)
    assert isinstance(exc, QuotaExhaustedError)
    assert isinstance(again, QuotaExhaustedError)


async def test_oauth_exchange_refresh_and_invalid_grant(canaries: Canaries) -> None:
    """Code exchange, bearer calls, a refresh, and a reused refresh token (invalid_grant)."""
    sim = make_sim(access_token_ttl=600.0)
    site_id = sim.fleet.sites_for(API_KEY)[0]
    stored: list[TokenSet] = []

    async def on_refresh(tokens: TokenSet) -> None:
        canaries.add_tokens(tokens)
        stored.append(tokens)

    async with OAuthClient(
        CLIENT_ID, CLIENT_SECRET, base_url=sim.base_url, transport=sim.transport()
    ) as oauth:
        code = sim.authorize(site_id, client_id=CLIENT_ID)
        canaries.values.add(code)
        first = await oauth.exchange_code(code, site_id=site_id)
        canaries.add_tokens(first)
        # The code is single-use: a second exchange is refused, with the code in the body.
        await _raises(canaries, "code reuse", oauth.exchange_code(code))
        provider = RefreshingTokenProvider(
            oauth, first.refresh_token, on_refresh=on_refresh, tokens=first
        )
        async with SolarEdgeClient(
            token_provider=provider, transport=sim.transport(), requests_per_minute=None
        ) as client:
            await client.site(site_id)  # the first access token
            await anyio.sleep(400)  # (virtual) now inside the 300 s refresh skew of 600 s
            await client.site(site_id)  # refreshed first
            _reprs(canaries, client, client._credential, provider, oauth, first, *stored)
        assert stored, "the provider never refreshed"
        reused = await _raises(canaries, "refresh reuse", oauth.refresh(first.refresh_token))
        assert isinstance(reused, OAuthError)
        assert reused.error == "invalid_grant"
        bad_secret = OAuthClient(
            CLIENT_ID, CLIENT_SECRET + "x", base_url=sim.base_url, transport=sim.transport()
        )
        async with bad_secret:
            await _raises(canaries, "bad secret", bad_secret.refresh(stored[-1].refresh_token))
    assert [r.auth for r in sim.requests if not r.path.startswith("/v2/oauth2")] == ["bearer"] * 2


async def test_a_401_echoing_the_bearer_token(canaries: Canaries) -> None:
    """A 401 that repeats the bearer token it was sent: the token is scrubbed too."""
    token = "CANARY-ACCESS-TOKEN-9e8d7c6b5a4f3e2d"
    canaries.values.add(token)

    async def provider() -> str:
        return token

    def handler(request: httpx.Request) -> httpx.Response:
        echoed = request.headers["authorization"]
        return httpx.Response(
            401,
            json={"title": f"Unauthorized {echoed}", "detail": f"token {token} expired"},
            headers={"content-type": "application/problem+json"},
        )

    async with SolarEdgeClient(
        token_provider=provider, transport=httpx.MockTransport(handler), requests_per_minute=None
    ) as client:
        await _raises(canaries, "401 bearer", client.site(1))


async def test_oauth_transport_errors_do_not_carry_the_secret() -> None:
    """A token call that fails to connect: the error holds neither secret nor request body."""
    canaries = Canaries()
    refresh = "CANARY-REFRESH-0a1b2c3d4e5f"
    canaries.values.add(refresh)

    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    async with OAuthClient(
        CLIENT_ID, CLIENT_SECRET, transport=httpx.MockTransport(handler)
    ) as oauth:
        exc = await _raises(canaries, "oauth connect", oauth.refresh(refresh))
    assert canaries.leaks() == []
    # Even a message without the secret: the raw error carries the request body.
    context = exc.__context__
    assert context is None or CLIENT_SECRET.encode() not in getattr(
        getattr(context, "request", None), "content", b""
    )


@pytest.mark.loopback
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])  # real clocks: real sockets
async def test_a_loopback_server_at_debug_logging(
    canaries: Canaries, caplog: pytest.LogCaptureFixture
) -> None:
    """Real sockets (httpcore logs at DEBUG): no canary in those records either."""
    from solaredge_async import PoolsTransport

    sim = make_sim()
    site_id = sim.fleet.sites_for(API_KEY)[0]
    async with (
        sim.serve() as base_url,
        SolarEdgeClient(
            api_key=API_KEY,
            account_key=ACCOUNT_KEY,
            base_url=base_url,
            requests_per_minute=None,
            retry=FAST,
            # httpcore's transport: the one that logs (FastTransport logs nothing).
            transport=PoolsTransport.for_concurrency(3),
        ) as client,
    ):
        await client.site(site_id)
        await _raises(canaries, "403", client.power_flow(site_id))  # not an Advanced tier
    assert any(r.name.startswith("httpcore") for r in caplog.records)
    assert sim.requests[0].api_key == API_KEY


# --- sweeps and the command line -----------------------------------------------------------


async def test_a_sweep_under_faults_and_quota_exhaustion(canaries: Canaries) -> None:
    """A fleet sweep with faults and the monthly credits running out: no canary anywhere."""
    sim = make_sim(
        fleet=FleetSpec(sites=30, api_keys=(API_KEY,)),
        faults=Faults(server_error=0.1, connection_reset=0.05, malformed_json=0.05, seed=2),
        requests_per_minute=600,
        monthly_credits=80,
    )
    async with _key_client(sim.transport(), requests_per_minute=600) as client:
        spec = SweepSpec(
            what={"energy", "overview", "devices"}, start=date(2026, 5, 11), end=date(2026, 5, 11)
        )
        plan = await plan_sweep(client, spec, now=NOW)
        async with sweep(client, plan) as results:
            outcomes = [r async for r in results]
        for result in outcomes:
            if isinstance(result, ItemFailed):
                canaries.look_at_error(f"sweep item {result.item.id}", result.error)
            canaries.look_at("sweep result", [repr(result)])
        _reprs(canaries, plan, client.usage)
    kinds = {type(r).__name__ for r in outcomes}
    assert kinds == {"ItemSucceeded", "ItemFailed", "ItemNotAttempted"}


async def test_a_sweep_against_a_server_echoing_the_key(canaries: Canaries) -> None:
    """Every call answered 503 or 401 with the key in the body: the failed items are clean."""
    statuses = iter([503, 503, 503, 401] * 100)

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/sites"):
            return httpx.Response(200, content=REFERENCE["sites"].encode())
        key = request.headers["x-api-key"]
        return httpx.Response(next(statuses), text=f"<html>no access for {key}</html>")

    async with _key_client(httpx.MockTransport(handler)) as client:
        plan = await plan_sweep(client, SweepSpec(what={"devices", "alerts"}), now=NOW)
        async with sweep(client, plan) as results:
            outcomes = [r async for r in results]
    failed = [r for r in outcomes if isinstance(r, ItemFailed)]
    assert failed
    for result in outcomes:
        if isinstance(result, ItemFailed):
            canaries.look_at_error(result.item.id, result.error)


@pytest.fixture
def loopback_sim() -> Iterator[tuple[Simulator, str]]:
    """The canary fleet served on 127.0.0.1 from a background thread (for the CLI)."""
    sim = make_sim(faults=Faults(server_error=0.1, seed=4))
    server = ServerThread(sim.handle, "127.0.0.1", 0, clock=time.monotonic, stall=5.0)
    server.start()
    try:
        yield sim, f"http://127.0.0.1:{server.port}/v2"
    finally:
        server.stop()


def _files_under(directory: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in directory.rglob("*") if p.is_file()}


@pytest.mark.loopback
@pytest.mark.parametrize("key_from", ["flag", "environment"])
@pytest.mark.parametrize("key", [API_KEY, API_KEY + "-WRONG"], ids=["valid key", "refused key"])
def test_the_cli_never_prints_or_writes_the_key(  # noqa: PLR0917 - pytest fixtures
    key_from: str,
    key: str,
    loopback_sim: tuple[Simulator, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A CLI sweep (a valid key, then a refused one) at DEBUG: no key on screen or on disk."""
    from solaredge_async.cli import main

    caplog.set_level(logging.DEBUG)
    sim, base_url = loopback_sim
    out = tmp_path / "out"
    argv = ["sweep", "--base-url", base_url, "--out", str(out), "--no-progress"]
    argv += ["--what", "energy,overview,devices", "--start", "2026-05-11", "--end", "2026-05-11"]
    argv += [
        "--requests-per-minute",
        "0",
        "--sites",
        ",".join(map(str, sim.fleet.sites_for(API_KEY))),
    ]
    if key_from == "flag":
        argv += ["--api-key", key]
    else:
        monkeypatch.setenv("SOLAREDGE_API_KEY", key)
    status = main(argv)
    captured = capsys.readouterr()
    found = Canaries()
    found.values.add(key)
    found.look_at("stdout", [captured.out])
    found.look_at("stderr", [captured.err])
    files = _files_under(out)
    found.look_at("files", [content.decode("utf-8", "replace") for content in files.values()])
    found.look_at_logs(caplog.records)
    _figures.secrets["CLI runs"] += 1
    assert found.leaks() == []
    assert sim.requests
    assert sim.requests[-1].api_key == key  # the key was really used
    if key == API_KEY:
        assert status in {0, 1}
        assert any(name.endswith(".jsonl") for name in files)
    else:
        assert status == 1
        assert "401" in captured.err or "Authentication" in captured.err


# --- transport security -------------------------------------------------------------------


async def test_tls_verification_is_on_by_default() -> None:
    """The default pool verifies certificates and host names (client and OAuth client)."""
    from solaredge_async.transports._fast import FastTransport

    async with SolarEdgeClient(api_key=API_KEY) as client:
        transport = client._http._transport
        if isinstance(transport, FastTransport):
            # Built on the first https request; _context() is what that request uses.
            contexts = [transport._context()]
        else:
            contexts = [pool._ssl_context for pool in httpcore_pools(client)]
        assert contexts
        for context in contexts:
            assert context.verify_mode == ssl.CERT_REQUIRED
            assert context.check_hostname is True
        assert client._http.follow_redirects is False
        assert client._http._trust_env is False
    async with OAuthClient(CLIENT_ID, CLIENT_SECRET) as oauth:
        context = oauth._http._transport._pool._ssl_context  # type: ignore[attr-defined]
        assert context.verify_mode == ssl.CERT_REQUIRED
        assert context.check_hostname is True


@pytest.mark.parametrize("status", [301, 302, 307, 308])
@pytest.mark.parametrize("caller_client", [False, True])
async def test_a_redirect_to_plain_http_is_never_followed(status: int, caller_client: bool) -> None:
    """A redirect to a non-loopback http:// URL is not followed, even with a caller's client."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "monitoringapi.solaredge.com":
            return httpx.Response(status, headers={"location": "http://evil.example/v2/sites/1"})
        return httpx.Response(200, json={"siteId": 1})

    transport = httpx.MockTransport(handler)
    if caller_client:
        # A caller's own client that follows redirects: the key must still not go out.
        http = httpx.AsyncClient(transport=transport, follow_redirects=True)
        client = SolarEdgeClient(api_key=API_KEY, http_client=http, requests_per_minute=None)
    else:
        http = None
        client = SolarEdgeClient(api_key=API_KEY, transport=transport, requests_per_minute=None)
    async with client:
        with pytest.raises(APIStatusError) as info:
            await client.site(1)
    if http is not None:
        await http.aclose()
    assert info.value.status_code == status
    assert [r.url.host for r in seen] == ["monitoringapi.solaredge.com"]


async def test_plain_http_needs_the_opt_in_and_then_works() -> None:
    """http:// to a non-loopback host works only with allow_insecure_http=True."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    with pytest.raises(SolarEdgeError, match="allow_insecure_http"):
        SolarEdgeClient(api_key=API_KEY, base_url="http://api.example/v2")
    async with SolarEdgeClient(
        api_key=API_KEY,
        base_url="http://api.example/v2",
        allow_insecure_http=True,
        transport=httpx.MockTransport(handler),
        requests_per_minute=None,
    ) as client:
        await client.get("/sites/1")
    assert [str(r.url) for r in seen] == ["http://api.example/v2/sites/1"]
    for loopback in ("http://127.0.0.1:8080/v2", "http://localhost/v2", "http://[::1]/v2"):
        SolarEdgeClient(api_key=API_KEY, base_url=loopback)
