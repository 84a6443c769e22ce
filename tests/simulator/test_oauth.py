"""OAuth: codes, rotating single-use refresh tokens, scopes and one site per grant."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ._support import client, make_sim

pytestmark = pytest.mark.anyio


async def _tokens(c, sim, site_id, scopes=("SITE_DATA", "DEVICE_DATA")):
    code = sim.authorize(site_id, scopes=scopes)
    cid, secret = sim.oauth_client
    r = await c.post(
        "/oauth2/token",
        json={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": cid,
            "client_secret": secret,
        },
    )
    assert r.status_code == 200, r.text
    return r.json()


async def test_code_exchange_and_bearer_access_to_one_site():
    """A grant covers exactly its site; bearers are refused on /sites and /alerts."""
    sim = make_sim()
    mine, other = sim.fleet.sites_for(sim.api_key)[:2]
    async with client(sim, "") as c:
        tok = await _tokens(c, sim, mine)
        assert tok["token_type"] == "Bearer"
        assert tok["expires_in"] == 7200
        bearer = {"Authorization": f"Bearer {tok['access_token']}"}
        ok = await c.get(f"/sites/{mine}/overview", headers=bearer)
        denied = await c.get(f"/sites/{other}/overview", headers=bearer)
        sites = await c.get("/sites", headers=bearer)
        alerts = await c.get("/alerts", headers=bearer)
        tele = await c.get(f"/sites/{mine}/inverters/telemetry", headers=bearer)
    assert ok.status_code == 200
    assert denied.status_code == 403
    assert sites.status_code == 403
    assert alerts.status_code == 403
    assert tele.status_code == 200
    cid = sim.oauth_client[0]
    assert sim.ledger(cid).calls == 6  # the token call and five bearer data calls
    assert sim.ledger(cid).credits == 5  # the token call itself was not charged


async def test_device_data_needs_the_scope():
    """Without DEVICE_DATA, telemetry and device metrics are 403; site data is fine."""
    sim = make_sim()
    site_id = sim.fleet.sites_for(sim.api_key)[0]
    inverter = sim.fleet.site(site_id).inverters[0]
    async with client(sim, "") as c:
        tok = await _tokens(c, sim, site_id, scopes=("SITE_DATA",))
        h = {"Authorization": f"Bearer {tok['access_token']}"}
        assert (await c.get(f"/sites/{site_id}/energy", headers=h)).status_code == 200
        assert (await c.get(f"/sites/{site_id}/inverters/telemetry", headers=h)).status_code == 403
        assert (
            await c.get(f"/sites/{site_id}/inverters/{inverter}/power", headers=h)
        ).status_code == 403


async def test_refresh_rotates_and_reuse_is_invalid_grant():
    """Each refresh issues a new refresh token; the old one then gets invalid_grant."""
    sim = make_sim()
    site_id = sim.fleet.sites_for(sim.api_key)[0]
    cid, secret = sim.oauth_client
    async with client(sim, "") as c:
        first = await _tokens(c, sim, site_id)
        body = {"grant_type": "refresh_token", "client_id": cid, "client_secret": secret}
        second = await c.post(
            "/oauth2/token", json={**body, "refresh_token": first["refresh_token"]}
        )
        reuse = await c.post(
            "/oauth2/token", json={**body, "refresh_token": first["refresh_token"]}
        )
        third = await c.post(
            "/oauth2/token", json={**body, "refresh_token": second.json()["refresh_token"]}
        )
    assert second.status_code == 200
    assert second.json()["refresh_token"] != first["refresh_token"]
    assert reuse.status_code == 400
    assert reuse.json()["error"] == "invalid_grant"
    assert reuse.headers["content-type"] == "application/json"
    assert third.status_code == 200


async def test_tokens_expire_on_the_simulator_clock():
    """Access tokens die after 7200 s; refresh tokens after 30 days."""
    sim = make_sim()
    site_id = sim.fleet.sites_for(sim.api_key)[0]
    cid, secret = sim.oauth_client
    async with client(sim, "") as c:
        tok = await _tokens(c, sim, site_id)
        h = {"Authorization": f"Bearer {tok['access_token']}"}
        sim.advance(timedelta(seconds=7199))
        assert (await c.get(f"/sites/{site_id}", headers=h)).status_code == 200
        sim.advance(timedelta(seconds=2))
        expired = await c.get(f"/sites/{site_id}", headers=h)
        sim.advance(timedelta(days=31))
        late = await c.post(
            "/oauth2/token",
            json={
                "grant_type": "refresh_token",
                "refresh_token": tok["refresh_token"],
                "client_id": cid,
                "client_secret": secret,
            },
        )
    assert expired.status_code == 401
    assert expired.json()["detail"] == "The access token is expired"
    assert late.json()["error"] == "invalid_grant"


async def test_revocation_and_token_endpoint_errors():
    """Revoked grants stop working; bad bodies, secrets and grant types get RFC 6749 errors."""
    sim = make_sim()
    site_id = sim.fleet.sites_for(sim.api_key)[0]
    cid, secret = sim.oauth_client
    async with client(sim, "") as c:
        tok = await _tokens(c, sim, site_id)
        revoke = await c.post("/oauth2/revoke-token", json={"token": tok["refresh_token"]})
        after = await c.get(
            f"/sites/{site_id}", headers={"Authorization": f"Bearer {tok['access_token']}"}
        )
        form = await c.post("/oauth2/token", data={"grant_type": "authorization_code"})
        wrong = await c.post(
            "/oauth2/token",
            json={
                "grant_type": "authorization_code",
                "code": "x",
                "client_id": cid,
                "client_secret": "no",
            },
        )
        cc = await c.post(
            "/oauth2/token",
            json={"grant_type": "client_credentials", "client_id": cid, "client_secret": secret},
        )
        code = sim.authorize(site_id)
        body = {
            "grant_type": "authorization_code",
            "code": code,
            "client_id": cid,
            "client_secret": secret,
        }
        once = await c.post("/oauth2/token", json=body)
        twice = await c.post("/oauth2/token", json=body)
        get = await c.get("/oauth2/token")
    assert revoke.status_code == 200
    assert after.status_code == 401
    assert form.json()["error"] == "invalid_request"
    assert wrong.json()["error"] == "invalid_client"
    assert cc.json()["error"] == "unsupported_grant_type"
    assert once.status_code == 200
    assert twice.json()["error"] == "invalid_grant"
    assert get.status_code == 405
    with pytest.raises(ValueError):
        sim.authorize(site_id, scopes=("EVERYTHING",))
