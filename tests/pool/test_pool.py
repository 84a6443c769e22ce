"""ClientPool: the union of the sites of several credentials, and routing each site."""

from __future__ import annotations

import pytest

from solaredge_async import (
    ClientClosedError,
    ConfigurationError,
    RateLimiter,
    SolarEdgeClient,
)
from solaredge_async.fleet import ClientPool, SiteNotInPoolError
from tests.pool._support import (
    KEY_A,
    KEY_B,
    access_token,
    fp,
    grant_client,
    key_pool,
    make_sim,
    options,
    provider,
)

pytestmark = pytest.mark.anyio


async def test_sites_lists_the_union_with_the_credential_that_sees_each():
    """Two accounts' keys: every site of both, once, named with its own key's fingerprint."""
    sim = make_sim(sites=13)
    async with key_pool(sim) as pool:
        sites = await pool.sites()
    assert sorted(s.site_id for s in sites) == sorted(
        sim.fleet.sites_for(KEY_A) + sim.fleet.sites_for(KEY_B)
    )
    by_id = {s.site_id: s for s in sites}
    for key in (KEY_A, KEY_B):
        for site_id in sim.fleet.sites_for(key):
            assert by_id[site_id].credentials == (fp(key),)
            assert by_id[site_id].credential == fp(key)
            assert by_id[site_id].site is not None
            assert by_id[site_id].site.site_id == site_id
    assert pool.listing_credits == 2  # one page per key
    assert sim.ledger(KEY_A).credits == 1
    assert sim.ledger(KEY_B).credits == 1


async def test_listing_is_done_once_unless_refreshed():
    """A second `sites` call spends nothing; ``refresh=True`` lists again."""
    sim = make_sim()
    async with key_pool(sim) as pool:
        first = await pool.sites()
        again = await pool.sites()
        assert again == first
        assert sim.ledger(KEY_A).credits == 1
        await pool.sites(refresh=True)
        assert sim.ledger(KEY_A).credits == 2
        assert pool.listing_credits == 4


async def test_no_secret_in_reprs_records_or_routes():
    """Fingerprints only: no key or token in the pool's repr, its records or its routes."""
    sim = make_sim(sites=4)
    site_id = sim.fleet.sites_for(KEY_A)[0]
    token = await access_token(sim, site_id)
    pool = key_pool(sim)
    pool.add(grant_client(sim, token), site_ids=[site_id])
    async with pool:
        text = repr(pool) + repr(await pool.sites()) + repr(await pool.routes())
        text += repr(pool.credentials) + repr(pool.usage_by_credential()) + repr(pool.usage)
    for secret in (KEY_A, KEY_B, token):
        assert secret not in text
    assert fp(KEY_A) in text


async def test_client_for_routes_each_site_to_a_credential_that_sees_it():
    """Each site's client fetches it with its own key (the simulator answers 200, not 403)."""
    sim = make_sim(sites=6)
    async with key_pool(sim) as pool:
        for key in (KEY_A, KEY_B):
            for site_id in sim.fleet.sites_for(key):
                client = await pool.client_for(site_id)
                assert client.credential_id == fp(key)
                overview = await client.site_overview(site_id)
                assert overview is not None
    data = [r for r in sim.requests if not r.path.endswith("/sites")]
    assert data
    assert all(r.status == 200 for r in data)
    assert {r.api_key for r in data if str(sim.fleet.sites_for(KEY_A)[0]) in r.path} == {KEY_A}


async def test_a_site_no_credential_sees_is_refused_without_a_call():
    """`client_for` on an unknown site raises SiteNotInPoolError; only the listing was paid."""
    sim = make_sim(sites=4)
    async with key_pool(sim) as pool:
        with pytest.raises(SiteNotInPoolError, match="seen by no credential"):
            await pool.client_for(999_999_999)
    assert sim.ledger(KEY_A).calls == 1
    assert sim.ledger(KEY_B).calls == 1


async def test_grants_are_declared_and_cost_no_listing():
    """Per-site grants: their sites come from the declaration, no GET /sites is sent."""
    sim = make_sim(sites=6)
    sites = sim.fleet.sites_for(KEY_A)[:2]
    tokens = {s: await access_token(sim, s) for s in sites}
    sim.clear_requests()
    pool = ClientPool.from_grants({s: provider(t) for s, t in tokens.items()}, **options(sim))
    async with pool:
        listed = await pool.sites()
        assert [s.site_id for s in listed] == list(sites)
        assert all(s.site is None for s in listed)
        assert len({s.credential for s in listed}) == 2
        assert not sim.requests
        for site_id in sites:
            client = await pool.client_for(site_id)
            await client.site_overview(site_id)
    assert [r.auth for r in sim.requests] == ["bearer", "bearer"]
    assert all(r.status == 200 for r in sim.requests)


async def test_grants_of_one_application_share_one_limiter_and_one_account():
    """`from_grants`: one RateLimiter for the application's grants; one account label."""
    sim = make_sim(sites=4)
    grants = {s: provider(f"token-{s}") for s in sim.fleet.sites_for(KEY_A)}
    pool = ClientPool.from_grants(grants, **options(sim, requests_per_minute=10))
    limiters = {id(c.rate_limiter) for c in pool.clients}
    assert len(limiters) == 1
    assert pool.clients[0].rate_limiter is not None
    assert pool.clients[0].rate_limiter.requests_per_minute == 10
    first = pool.credentials[0]
    assert {pool.account_of(c) for c in pool.credentials} == {first}
    await pool.aclose()


async def test_keys_are_each_their_own_account():
    """Clients with their own limiters are separate accounts."""
    sim = make_sim(sites=4)
    async with key_pool(sim, requests_per_minute=10) as pool:
        assert [pool.account_of(c) for c in pool.credentials] == [fp(KEY_A), fp(KEY_B)]
        a, b = pool.clients
        assert a.rate_limiter is not b.rate_limiter


async def test_a_site_seen_by_several_accounts_is_spread_by_their_rates():
    """Shared sites go to the account with the lowest load per call-per-minute."""
    sim = make_sim(sites=8)
    shared = list(range(1, 9))
    fast = SolarEdgeClient(api_key=KEY_A, **options(sim, requests_per_minute=30))  # type: ignore[arg-type]
    slow = SolarEdgeClient(api_key=KEY_B, **options(sim, requests_per_minute=10))  # type: ignore[arg-type]
    pool = ClientPool().add(fast, site_ids=shared).add(slow, site_ids=shared)
    async with pool:
        sites = await pool.sites()
        routes = await pool.routes()
    assert all(s.credentials == (fp(KEY_A), fp(KEY_B)) for s in sites)
    assert len(routes[fp(KEY_A)]) == 6
    assert len(routes[fp(KEY_B)]) == 2
    assert sorted(routes[fp(KEY_A)] + routes[fp(KEY_B)]) == shared


async def test_a_site_seen_by_a_key_and_a_grant_goes_to_the_idle_account():
    """A key seeing many sites and a grant on one of them: that site goes to the grant."""
    sim = make_sim(sites=6)
    site_id = sim.fleet.sites_for(KEY_A)[0]
    token = await access_token(sim, site_id)
    pool = key_pool(sim, keys=(KEY_A,))
    grant = grant_client(sim, token)
    pool.add(grant, site_ids=[site_id])
    async with pool:
        record = next(s for s in await pool.sites() if s.site_id == site_id)
        assert record.credentials == (fp(KEY_A), grant.credential_id)
        assert record.credential == grant.credential_id
        assert record.site is not None  # the key's listing supplies the record
        assert await pool.client_for(site_id) is grant


async def test_a_failed_listing_leaves_that_credential_out_and_keeps_the_others():
    """A refused key is reported in listing_errors; the other key's sites are listed."""
    sim = make_sim(sites=6)
    async with key_pool(sim, keys=(KEY_A, "pool-key-unknown")) as pool:
        sites = await pool.sites()
        assert {s.site_id for s in sites} == set(sim.fleet.sites_for(KEY_A))
        assert set(pool.listing_errors) == {fp("pool-key-unknown")}


def test_configuration_mistakes_are_refused():
    """A repeated credential, a grant without its site, bad site ids, no keys."""
    sim = make_sim(sites=2)
    pool = key_pool(sim, keys=(KEY_A,))
    with pytest.raises(ConfigurationError, match="already in the pool"):
        pool.add(SolarEdgeClient(api_key=KEY_A, **options(sim)))  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="site_ids="):
        pool.add(grant_client(sim, "some-token"))
    with pytest.raises(ConfigurationError, match="positive integers"):
        pool.add(SolarEdgeClient(api_key=KEY_B, **options(sim)), site_ids=[0])  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="collection"):
        pool.add(SolarEdgeClient(api_key=KEY_B, **options(sim)), site_ids=5)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="account must be"):
        pool.add(SolarEdgeClient(api_key=KEY_B, **options(sim)), account="")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="at least one"):
        ClientPool.from_api_keys([])
    with pytest.raises(ConfigurationError, match="listing_concurrency"):
        ClientPool(listing_concurrency=0)


async def test_closing_the_pool_closes_every_client():
    """Leaving the block closes the clients; the pool then refuses use."""
    sim = make_sim(sites=2)
    pool = key_pool(sim)
    async with pool:
        clients = pool.clients
    assert all(c.is_closed for c in clients)
    assert pool.is_closed
    with pytest.raises(ClientClosedError):
        await pool.sites()
    with pytest.raises(ClientClosedError):
        pool.add(SolarEdgeClient(api_key="pool-key-other", **options(sim)))  # type: ignore[arg-type]
    await pool.aclose()  # idempotent


async def test_an_account_named_on_add_groups_credentials():
    """Credentials added with one account name count as one account."""
    sim = make_sim(sites=4)
    pool = ClientPool()
    pool.add(SolarEdgeClient(api_key=KEY_A, **options(sim)), account="acme")  # type: ignore[arg-type]
    pool.add(SolarEdgeClient(api_key=KEY_B, **options(sim)), account="acme")  # type: ignore[arg-type]
    assert [pool.account_of(c) for c in pool.credentials] == ["acme", "acme"]
    await pool.aclose()


async def test_the_limiter_a_caller_shares_makes_one_account():
    """Two keys given one RateLimiter are counted as one account."""
    sim = make_sim(sites=4)
    limiter = RateLimiter(10)
    pool = key_pool(sim, rate_limiter=limiter)
    assert {pool.account_of(c) for c in pool.credentials} == {fp(KEY_A)}
    await pool.aclose()
