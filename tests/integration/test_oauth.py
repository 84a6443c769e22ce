"""OAuth Site Access against the simulator's token endpoint: exchange, rotate, refuse."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import attrs
import pytest

from solaredge_async import (
    AuthenticationError,
    ConfigurationError,
    InvalidRequestError,
    OAuthClient,
    OAuthError,
    PermissionDeniedError,
    RefreshingTokenProvider,
    SolarEdgeClient,
    TokenSet,
    authorize_url,
)
from solaredge_async.oauth import FileTokenStore, TokenStoreError
from solaredge_async.testing import FleetSpec, Simulator, SimulatorConfig

pytestmark = pytest.mark.anyio


@pytest.fixture
def sim() -> Simulator:
    """A small simulator with no limits."""
    return Simulator(
        SimulatorConfig(fleet=FleetSpec(sites=3), requests_per_minute=None, monthly_credits=None)
    )


def test_authorize_url_has_the_documented_parameters():
    """client_id, response_type=code, space-separated scopes, state and duration."""
    url = authorize_url(
        "my-app", redirect_uri="https://app.test/cb", state="xyz", access_duration=12
    )
    parts = urlsplit(url)
    assert (
        f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://connect.solaredge.com/authorize"
    )
    q = parse_qs(parts.query)
    assert q["client_id"] == ["my-app"]
    assert q["response_type"] == ["code"]
    assert q["scope"] == ["SITE_DATA DEVICE_DATA"]
    assert q["state"] == ["xyz"]
    assert q["access_duration"] == ["12"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"access_duration": 25}, "1 to 24"),
        ({"scopes": ["ALL"]}, "SITE_DATA"),
        ({"scopes": []}, "SITE_DATA"),
    ],
)
def test_authorize_url_refuses_bad_values(kwargs, match):
    """Durations past 24 months and unknown scopes are refused."""
    with pytest.raises(ConfigurationError, match=match):
        authorize_url("my-app", **kwargs)


async def test_exchange_refresh_rotation_and_bearer_calls(sim):
    """A code becomes tokens; each refresh rotates; the old refresh token is void."""
    site_id = sim.fleet.sites_for(sim.api_key)[0]
    client_id, secret = sim.oauth_client
    code = sim.authorize(site_id)
    async with OAuthClient(
        client_id, secret, base_url=sim.base_url, transport=sim.transport()
    ) as oauth:
        first = await oauth.exchange_code(code)
        assert first.expires_in == 7200
        assert first.access_token not in repr(first)
        assert first.refresh_token not in repr(first)
        with pytest.raises(OAuthError, match="invalid_grant"):
            await oauth.exchange_code(code)  # codes are single-use

        stored: list[TokenSet] = []

        async def persist(tokens: TokenSet) -> None:
            stored.append(tokens)

        # skew larger than the lifetime: every use refreshes, so rotation is exercised.
        provider = RefreshingTokenProvider(
            oauth, first.refresh_token, on_refresh=persist, skew=10_000
        )
        async with SolarEdgeClient(
            token_provider=provider,
            base_url=sim.base_url,
            transport=sim.transport(),
            requests_per_minute=None,
        ) as client:
            details = await client.site(site_id)
            assert details.site_id == site_id
            await client.site_overview(site_id)
            with pytest.raises(InvalidRequestError, match="API keys only"):
                [s async for s in client.sites()]
            other = sim.fleet.sites_for(sim.api_key)[1]
            with pytest.raises(PermissionDeniedError):
                await client.site(other)  # one grant covers exactly one site
        assert len(stored) == 3  # three calls sent; the refused /sites sent nothing
        refresh_tokens = [t.refresh_token for t in stored]
        assert len(set(refresh_tokens)) == 3
        with pytest.raises(OAuthError, match="invalid_grant"):
            await oauth.refresh(first.refresh_token)  # rotated away


async def test_site_data_scope_alone_is_refused_device_data(sim):
    """Without DEVICE_DATA, telemetry is 403 while site data works."""
    site_id = sim.fleet.sites_for(sim.api_key)[0]
    client_id, secret = sim.oauth_client
    code = sim.authorize(site_id, scopes=("SITE_DATA",))
    async with OAuthClient(
        client_id, secret, base_url=sim.base_url, transport=sim.transport()
    ) as oauth:
        tokens = await oauth.exchange_code(code)

        async def provider() -> str:
            return tokens.access_token

        async with SolarEdgeClient(
            token_provider=provider,
            base_url=sim.base_url,
            transport=sim.transport(),
            requests_per_minute=None,
        ) as client:
            await client.site_overview(site_id)
            with pytest.raises(PermissionDeniedError):
                await client.telemetry("inverters", site_id)


async def test_wrong_client_secret_is_an_oauth_error_without_the_secret(sim):
    """A refused token call raises OAuthError; the secret is not in the message."""
    client_id, _ = sim.oauth_client
    code = sim.authorize(sim.fleet.sites_for(sim.api_key)[0])
    async with OAuthClient(
        client_id, "wrong-secret-123", base_url=sim.base_url, transport=sim.transport()
    ) as oauth:
        with pytest.raises(OAuthError) as info:
            await oauth.exchange_code(code)
    assert "wrong-secret-123" not in str(info.value)
    assert info.value.status_code >= 400


async def test_expiry_is_wall_clock_time(sim):
    """exchange_code gives an aware UTC expires_at about expires_in seconds from now."""
    client_id, secret = sim.oauth_client
    code = sim.authorize(sim.fleet.sites_for(sim.api_key)[0])
    before = time.time()
    async with OAuthClient(
        client_id, secret, base_url=sim.base_url, transport=sim.transport()
    ) as oauth:
        tokens = await oauth.exchange_code(code)
    after = time.time()
    assert tokens.expires_at.utcoffset() == timedelta(0)
    assert before + 7200 <= tokens.expires_at.timestamp() <= after + 7200


async def test_a_file_store_keeps_the_grant_across_a_failed_save_and_a_restart(sim, tmp_path):
    """Against the simulator: a save that fails once, then a new process on the same file."""
    site_id = sim.fleet.sites_for(sim.api_key)[0]
    client_id, secret = sim.oauth_client
    store = FileTokenStore(tmp_path)
    fail = [OSError(28, "No space left on device")]

    class FullOnce(FileTokenStore):
        async def save(self, grant, tokens):
            if fail:
                raise fail.pop()
            await super().save(grant, tokens)

    async with OAuthClient(
        client_id, secret, base_url=sim.base_url, transport=sim.transport()
    ) as oauth:
        first = await oauth.exchange_code(sim.authorize(site_id))
        # Saved as if two hours had passed: the first call refreshes.
        await store.save("site", attrs.evolve(first, expires_at=datetime.now(UTC)))
        provider = RefreshingTokenProvider(oauth, store=FullOnce(tmp_path), grant="site")
        with pytest.raises(TokenStoreError):
            await provider()
        async with SolarEdgeClient(
            token_provider=provider,
            base_url=sim.base_url,
            transport=sim.transport(),
            requests_per_minute=None,
        ) as client:
            assert (await client.site(site_id)).site_id == site_id
    # A restarted process: nothing in memory, the file holds the live refresh token.
    async with OAuthClient(
        client_id, secret, base_url=sim.base_url, transport=sim.transport()
    ) as oauth:
        restarted = RefreshingTokenProvider(oauth, store=store, grant="site")
        async with SolarEdgeClient(
            token_provider=restarted,
            base_url=sim.base_url,
            transport=sim.transport(),
            requests_per_minute=None,
        ) as client:
            await client.site_overview(site_id)
        stored = await store.load("site")
        assert stored is not None
        # Revoked: the store is emptied and the server refuses the old tokens.
        await restarted.revoke()
        assert await store.load("site") is None
        with pytest.raises(OAuthError, match="invalid_grant"):
            await oauth.refresh(stored.refresh_token)

    async def old_token() -> str:
        return stored.access_token

    async with SolarEdgeClient(
        token_provider=old_token,
        base_url=sim.base_url,
        transport=sim.transport(),
        requests_per_minute=None,
    ) as client:
        with pytest.raises(AuthenticationError):
            await client.site(site_id)
    token_calls = [r for r in sim.requests if r.path.endswith("/oauth2/token")]
    assert [r.status for r in token_calls] == [200, 200, 400]  # exchange, one refresh, refused
