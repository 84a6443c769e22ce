"""OAuth Site Access against the simulator's token endpoint: exchange, rotate, refuse."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from solaredge_async import (
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
                await client.inverter_telemetry(site_id)


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
