"""Shared support of the pool tests: a simulator with several accounts, pools wired to it."""

from __future__ import annotations

from solaredge_async import OAuthClient, SolarEdgeClient
from solaredge_async._credentials import TokenProvider, fingerprint
from solaredge_async.fleet import ClientPool
from solaredge_async.testing import FleetSpec, Simulator, SimulatorConfig
from tests.fleet._support import NOW

#: The accounts' API keys (each key is its own developer account in the simulator).
KEY_A = "pool-key-account-a"
KEY_B = "pool-key-account-b"


def make_sim(sites: int = 12, keys: tuple[str, ...] = (KEY_A, KEY_B), **kw: object) -> Simulator:
    """A simulator frozen at `NOW` whose sites are spread over ``keys``' accounts."""
    settings: dict[str, object] = {
        "fleet": FleetSpec(sites=sites, api_keys=keys),
        "now": NOW,
        "requests_per_minute": None,
        "monthly_credits": None,
        "record_requests": 10_000,
    }
    settings.update(kw)
    return Simulator(SimulatorConfig(**settings))  # type: ignore[arg-type]


def options(sim: Simulator, **kw: object) -> dict[str, object]:
    """Client options for the simulator's in-process transport, no client-side limit."""
    out: dict[str, object] = {
        "transport": sim.transport(),
        "base_url": sim.base_url,
        "requests_per_minute": None,
        "max_concurrency": 4,
        "probe_caps": False,  # documented caps: the call counts here are pinned
    }
    out.update(kw)
    return out


def key_pool(sim: Simulator, keys: tuple[str, ...] = (KEY_A, KEY_B), **kw: object) -> ClientPool:
    """A pool of one client per key."""
    return ClientPool.from_api_keys(keys, **options(sim, **kw))


def fp(key: str) -> str:
    """The fingerprint a client shows for an API key."""
    return fingerprint("key", key)


async def access_token(sim: Simulator, site_id: int) -> str:
    """An access token of a fresh grant for ``site_id`` (the owner's consent played)."""
    client_id, secret = sim.oauth_client
    async with OAuthClient(
        client_id, secret, base_url=sim.base_url, transport=sim.transport()
    ) as oauth:
        tokens = await oauth.exchange_code(sim.authorize(site_id))
    return tokens.access_token


def provider(token: str) -> TokenProvider:
    """A token provider that always answers ``token``."""

    async def get() -> str:
        return token

    return get


def grant_client(sim: Simulator, token: str, **kw: object) -> SolarEdgeClient:
    """A bearer client for one grant."""
    return SolarEdgeClient(token_provider=provider(token), **options(sim, **kw))  # type: ignore[arg-type]
