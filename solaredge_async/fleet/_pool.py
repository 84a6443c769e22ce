"""Credential pools: one fleet seen through many credentials.

A fleet operator may hold the API keys of several developer accounts, and many
per-site OAuth grants (one grant covers exactly one site). A `ClientPool` holds
one `SolarEdgeClient` per credential and answers two questions:

- which sites the pool sees, and through which credential(s) (`ClientPool.sites`:
  ``GET /sites`` for each API key, the declared site of each grant);
- which client fetches a given site (`ClientPool.client_for`): always one whose
  credential sees it, spreading sites seen by several accounts over the accounts
  in proportion to their rate limits.

Every client keeps its own rate limiter and credit ledger: the API's limits
belong to the developer account, so clients that use one account (the grants of
one app, several keys of one account) should be given one shared ``rate_limiter``
(`ClientPool.from_grants` does that); the pool counts clients sharing a limiter as
one account when it routes and prices. A sweep over the pool is
`solaredge_async.fleet.plan_pool_sweep` and `solaredge_async.fleet.pool_sweep`.

Credentials are named by their fingerprints (``key#1a2b3c4d``), never by their
secrets.
"""

from __future__ import annotations

import contextlib
import logging
import math
from typing import TYPE_CHECKING, Any, Final, Self, cast

import anyio
import attrs

from solaredge_async import errors
from solaredge_async._closing import Closable
from solaredge_async._usage import Usage
from solaredge_async.client import SolarEdgeClient

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from solaredge_async._credentials import TokenProvider
    from solaredge_async.models import Site

__all__ = ["ClientPool", "PoolSite", "SiteNotInPoolError"]

logger = logging.getLogger("solaredge_async.fleet")

#: Credential listings run at once at most (each at its own account's rate).
DEFAULT_LISTING_CONCURRENCY: Final = 8
#: The weight of a client without a rate limiter when sites are spread over accounts.
_UNLIMITED_RATE: Final = 1e9


class SiteNotInPoolError(errors.InvalidRequestError):
    """No credential of the pool sees the site (no key lists it, no grant covers it).

    Add a credential that sees it (``ClientPool.add``), or leave the site out.
    """


@attrs.frozen(kw_only=True)
class PoolSite:
    """A site of the pool, and the credentials that see it.

    Attributes:
        site_id: The site's id.
        credential: The fingerprint of the credential the pool fetches the site with.
        credentials: The fingerprints of every credential that sees it, in pool order.
        site: The site as ``GET /sites`` listed it (the first listing that had it),
            or `None` for a site known only from a grant's declaration.
    """

    site_id: int
    credential: str
    credentials: tuple[str, ...]
    site: Site | None = None


@attrs.frozen
class _Member:
    client: SolarEdgeClient
    site_ids: tuple[int, ...] | None  # declared (grants); None: listed with GET /sites
    account: str | None  # declared; None: by shared limiter


def _is_bearer(client: SolarEdgeClient) -> bool:
    # The credential's scheme is not public: it is read here, in the package, only.
    return bool(getattr(client._credential, "scheme", None) == "bearer")  # noqa: SLF001


def _declared(site_ids: Iterable[int] | None) -> tuple[int, ...] | None:
    if site_ids is None:
        return None
    if isinstance(site_ids, int | str):
        raise errors.ConfigurationError(
            f"site_ids must be a collection of site ids, got {site_ids!r}"
        )
    ids: dict[int, None] = {}
    for value in site_ids:
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise errors.ConfigurationError(f"site ids must be positive integers, got {value!r}")
        ids[value] = None
    if not ids:
        raise errors.ConfigurationError("site_ids is empty; give at least one site id")
    return tuple(ids)


class ClientPool(Closable):
    """Several clients, one per credential, seen as one fleet; an async context manager.

    ::

        pool = ClientPool.from_api_keys([key_a, key_b])
        pool.add(grant_client, site_ids=[4815162])      # a per-site OAuth grant
        async with pool:
            for site in await pool.sites():             # the union, with credentials
                print(site.site_id, site.credentials)
            client = await pool.client_for(4815162)     # a client that sees the site

    Entering the pool enters every client; leaving it (or `aclose`) closes them all.

    Args:
        clients: Clients whose credentials are API keys: their sites are listed
            with ``GET /sites``. Add grants (bearer credentials) with `add`.
        listing_concurrency: Credentials listed at once at most.

    Raises:
        ConfigurationError: Two clients with one credential, a bearer client without
            ``site_ids``, or a bad ``listing_concurrency``.
    """

    _closed_message = (
        "this ClientPool is closed; create a new one (or use it inside "
        "`async with ClientPool(...) as pool:`)"
    )

    def __init__(
        self,
        clients: Iterable[SolarEdgeClient] = (),
        *,
        listing_concurrency: int = DEFAULT_LISTING_CONCURRENCY,
    ) -> None:
        if (
            isinstance(listing_concurrency, bool)
            or not isinstance(listing_concurrency, int)
            or listing_concurrency < 1
        ):
            raise errors.ConfigurationError(
                f"listing_concurrency must be an integer >= 1, got {listing_concurrency!r}"
            )
        self._listing_concurrency = listing_concurrency
        self._members: dict[str, _Member] = {}
        self._sites: tuple[PoolSite, ...] | None = None
        self._routes: dict[int, str] = {}
        self._listing_errors: dict[str, errors.SolarEdgeError] = {}
        self._listing_credits = 0
        self._lock = anyio.Lock()
        self._stack: contextlib.AsyncExitStack | None = None
        self._closed = False
        for client in clients:
            self.add(client)

    @classmethod
    def from_api_keys(cls, api_keys: Iterable[str], **client_options: object) -> Self:
        """A pool of one client per API key (each its own account, limiter and ledger).

        Args:
            api_keys: The keys, one per account (distinct).
            client_options: Passed to every `SolarEdgeClient` (``base_url``,
                ``requests_per_minute``, ``transport``, ...); not ``api_key``.

        Raises:
            ConfigurationError: No key, a repeated or malformed key, or options the
                client refuses.
        """
        keys = [api_keys] if isinstance(api_keys, str) else list(api_keys)
        if not keys:
            raise errors.ConfigurationError("give at least one API key")
        make = cast("Any", SolarEdgeClient)
        return cls(make(api_key=key, **client_options) for key in keys)

    @classmethod
    def from_grants(
        cls,
        grants: Mapping[int, TokenProvider],
        *,
        requests_per_minute: float | None = 10,
        account: str | None = None,
        **client_options: object,
    ) -> Self:
        """A pool of per-site OAuth grants of ONE developer application.

        The API's limits belong to the developer account, shared by all its grants,
        so the grants' clients share one `RateLimiter` (unless ``rate_limiter`` is
        given in ``client_options``, which is then shared).

        Args:
            grants: The token provider of each granted site, by site id (e.g. a
                `solaredge_async.oauth.RefreshingTokenProvider` per grant).
            requests_per_minute: The account's rate (calls per minute); `None`: no
                client-side limit.
            account: The account's name in the pool (e.g. the application's client
                id; never a secret); default the first grant's fingerprint.
            client_options: Passed to every `SolarEdgeClient` (``base_url``,
                ``transport``, ...).

        Raises:
            ConfigurationError: No grant, a bad site id, or options the client refuses.
        """
        from solaredge_async.limits import DEFAULT_SAFETY_MARGIN, RateLimiter  # noqa: PLC0415

        if not grants:
            raise errors.ConfigurationError("give at least one grant")
        options = dict(client_options)
        if "rate_limiter" not in options and requests_per_minute is not None:
            options["rate_limiter"] = RateLimiter(
                requests_per_minute, safety_margin=DEFAULT_SAFETY_MARGIN
            )
        options.setdefault("requests_per_minute", requests_per_minute)
        make = cast("Any", SolarEdgeClient)
        pool = cls()
        for site_id, provider in grants.items():
            client = make(token_provider=provider, **options)
            if account is None:
                account = client.credential_id
            pool.add(client, site_ids=[site_id], account=account)
        return pool

    def __repr__(self) -> str:
        state = self._state()
        return f"<ClientPool {state} credentials={list(self._members)!r}>"

    def __len__(self) -> int:
        """The number of credentials."""
        return len(self._members)

    # -- members -----------------------------------------------------------------

    def add(
        self,
        client: SolarEdgeClient,
        *,
        site_ids: Iterable[int] | None = None,
        account: str | None = None,
    ) -> Self:
        """Add a client (one credential); returns the pool.

        Args:
            client: The client.
            site_ids: The sites the credential covers, when known in advance: required
                for an OAuth grant (a bearer cannot call ``GET /sites``; a grant covers
                the one site named on its callback). `None`: list them with
                ``GET /sites``.
            account: The name of the developer account the credential belongs to,
                when several credentials of the pool share one (its limits and
                credits); never a secret. Default: clients given one ``rate_limiter``
                share an account, every other credential is its own.

        Raises:
            ConfigurationError: The credential is already in the pool, a bearer
                client without ``site_ids``, bad site ids, or a bad account name.
            ClientClosedError: The pool or the client is closed.
        """
        self._check_open()
        if not isinstance(client, SolarEdgeClient):
            raise errors.ConfigurationError(
                f"a pool holds SolarEdgeClient objects, got {type(client).__name__}"
            )
        if client.is_closed:
            raise errors.ClientClosedError("the client is closed; add an open client")
        declared = _declared(site_ids)
        credential = client.credential_id
        if credential in self._members:
            raise errors.ConfigurationError(
                f"the credential {credential} is already in the pool; give each credential once"
            )
        if declared is None and _is_bearer(client):
            raise errors.ConfigurationError(
                f"{credential} is an OAuth grant: it cannot list sites (GET /sites takes "
                "API keys only); add it with site_ids=[the site it was granted for]"
            )
        if account is not None and (
            not isinstance(account, str) or not account or not account.isprintable()
        ):
            raise errors.ConfigurationError(
                f"account must be a printable, non-empty name, got {account!r}"
            )
        self._members[credential] = _Member(client, declared, account)
        self._sites = None  # listed again with the new member
        return self

    @property
    def clients(self) -> tuple[SolarEdgeClient, ...]:
        """The clients, in pool order."""
        return tuple(m.client for m in self._members.values())

    @property
    def credentials(self) -> tuple[str, ...]:
        """The credential fingerprints, in pool order."""
        return tuple(self._members)

    def client(self, credential: str) -> SolarEdgeClient:
        """The client of a credential fingerprint.

        Raises:
            InvalidRequestError: No credential of the pool has that fingerprint.
        """
        member = self._members.get(credential)
        if member is None:
            raise errors.InvalidRequestError(
                f"no credential {credential!r} in the pool; it has {', '.join(self._members)}"
            )
        return member.client

    def account_of(self, credential: str) -> str:
        """The account a credential is counted under (routing, pricing, quota).

        The name given to `add`, else the fingerprint of the first credential sharing
        its ``rate_limiter`` (clients given one limiter use one account: its limits,
        its credits), else the credential's own fingerprint.

        Raises:
            InvalidRequestError: No credential of the pool has that fingerprint.
        """
        self.client(credential)
        return self._accounts()[credential]

    def _accounts(self) -> dict[str, str]:
        """Each credential's account (see `account_of`), in one pass."""
        first: dict[int, str] = {}
        out: dict[str, str] = {}
        for credential, member in self._members.items():
            limiter = member.client.rate_limiter
            if member.account is not None:
                out[credential] = member.account
            elif limiter is None:
                out[credential] = credential
            else:
                out[credential] = first.setdefault(id(limiter), credential)
        return out

    def usage_by_credential(self) -> dict[str, Usage]:
        """What each credential spent so far, by fingerprint (snapshots)."""
        return {cred: m.client.usage for cred, m in self._members.items()}

    @property
    def usage(self) -> Usage:
        """What the whole pool spent so far: every credential's counters summed.

        ``credential`` is ``"pool"``; ``last_limit`` / ``last_remaining`` are `None`
        (they belong to one account: see `usage_by_credential`); ``quota_exhausted``
        is true once every credential's monthly credits ran out.
        """
        each = [m.client.usage for m in self._members.values()]
        return Usage(
            credential="pool",
            calls=sum(u.calls for u in each),
            credits=sum(u.credits for u in each),
            retries=sum(u.retries for u in each),
            rate_limited_minute=sum(u.rate_limited_minute for u in each),
            rate_limited_monthly=sum(u.rate_limited_monthly for u in each),
            quota_exhausted=bool(each) and all(u.quota_exhausted for u in each),
        )

    def is_listed(self, credential: str) -> bool:
        """Whether the credential's sites come from ``GET /sites`` (not declared on `add`).

        Raises:
            InvalidRequestError: No credential of the pool has that fingerprint.
        """
        self.client(credential)
        return self._members[credential].site_ids is None

    @property
    def listing_errors(self) -> Mapping[str, errors.SolarEdgeError]:
        """The credentials whose site listing failed at the last `sites`, with the error.

        Their sites are missing from the pool (unless another credential sees them).
        """
        return dict(self._listing_errors)

    @property
    def listing_credits(self) -> int:
        """Credits spent listing sites (``GET /sites`` pages), all credentials together."""
        return self._listing_credits

    # -- lifecycle ---------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self._check_open()
        if self._stack is not None:
            raise RuntimeError("a ClientPool can be entered only once")
        stack = contextlib.AsyncExitStack()
        try:
            for member in self._members.values():
                await stack.enter_async_context(member.client)
        except BaseException:
            # Not under a scope of its own: a client's shared-state connection must be
            # left from the scope it was entered in. Each client shields its own close.
            await stack.aclose()
            raise
        self._stack = stack
        return self

    async def aclose(self) -> None:
        """Close every client of the pool; idempotent. Later use raises `ClientClosedError`."""
        if self._closed:
            return
        self._closed = True
        stack, self._stack = self._stack, None
        # No shielded scope around this (see __aenter__); each client shields its own
        # connection pool's close.
        if stack is not None:
            await stack.aclose()
        for member in self._members.values():
            await member.client.aclose()

    # -- sites and routes ----------------------------------------------------------

    async def sites(self, *, refresh: bool = False) -> tuple[PoolSite, ...]:
        """The union of the sites every credential sees, each once, with its credentials.

        The first call lists each API key's sites (``GET /sites``, one call per 1,000
        sites, credentials listed concurrently, each at its own account's rate) and
        takes each grant's declared sites without a call; later calls return the
        same list unless ``refresh``. A credential whose listing fails is left out
        (see `listing_errors`); the others are still listed.

        Args:
            refresh: List again (e.g. after sites were added to an account).

        Returns:
            The sites in pool order (a credential's sites in its listing order).

        Raises:
            ClientClosedError: The pool is closed.
        """
        self._check_open()
        async with self._lock:
            if self._sites is None or refresh:
                await self._list()
            assert self._sites is not None  # noqa: S101 - set by _list
            return self._sites

    async def client_for(self, site_id: int) -> SolarEdgeClient:
        """The client that fetches ``site_id`` (its credential sees the site).

        Lists the pool's sites first if that was not done yet.

        Raises:
            SiteNotInPoolError: No credential of the pool sees the site.
            ClientClosedError: The pool is closed.
        """
        return self.client(await self.credential_for(site_id))

    async def credential_for(self, site_id: int) -> str:
        """The fingerprint of the credential that fetches ``site_id``; raises as `client_for`."""
        await self.sites()
        credential = self._routes.get(site_id)
        if credential is None:
            raise SiteNotInPoolError(
                f"site {site_id} is seen by no credential of the pool "
                f"({len(self._members)} credential(s), {len(self._routes)} site(s))"
            )
        return credential

    async def routes(self) -> dict[str, tuple[int, ...]]:
        """The sites each credential fetches, by fingerprint (credentials with none omitted)."""
        out: dict[str, list[int]] = {}
        for site in await self.sites():
            out.setdefault(site.credential, []).append(site.site_id)
        return {cred: tuple(out[cred]) for cred in self._members if cred in out}

    async def shares(
        self, site_ids: Iterable[int] | None = None
    ) -> tuple[dict[str, list[int]], dict[int, SiteNotInPoolError]]:
        """Split sites over the credentials that fetch them (lists the pool first if needed).

        Args:
            site_ids: The sites, or `None` for every site of the pool.

        Returns:
            Each credential's sites (in the order given; credentials with none
            omitted), and an error for each site no credential sees.

        Raises:
            ClientClosedError: The pool is closed.
        """
        listed = await self.sites()
        wanted = [s.site_id for s in listed] if site_ids is None else list(site_ids)
        shares: dict[str, list[int]] = {}
        unseen: dict[int, SiteNotInPoolError] = {}
        for site_id in wanted:
            credential = self._routes.get(site_id)
            if credential is None:
                unseen[site_id] = SiteNotInPoolError(
                    f"site {site_id} is seen by no credential of the pool; nothing was fetched"
                )
            else:
                shares.setdefault(credential, []).append(site_id)
        return shares, unseen

    async def _list(self) -> None:
        members = list(self._members.items())
        seen: list[dict[int, Site | None] | None] = [None] * len(members)
        failures: dict[str, errors.SolarEdgeError] = {}
        limit = anyio.Semaphore(self._listing_concurrency)
        spent = 0

        async def list_one(index: int, credential: str, member: _Member) -> None:
            nonlocal spent
            client = member.client
            async with limit:
                before = client.usage.credits
                found: dict[int, Site | None] = {}
                try:
                    async with contextlib.aclosing(client.sites()) as listing:
                        async for site in listing:
                            found[site.site_id] = site
                except errors.SolarEdgeError as exc:
                    logger.warning("pool: listing the sites of %s failed: %s", credential, exc)
                    failures[credential] = exc
                else:
                    seen[index] = found
                finally:
                    spent += client.usage.credits - before

        async with anyio.create_task_group() as tg:
            for index, (credential, member) in enumerate(members):
                if member.site_ids is None:
                    tg.start_soon(list_one, index, credential, member)
                else:
                    seen[index] = dict.fromkeys(member.site_ids)
        self._listing_credits += spent
        self._listing_errors = failures
        self._sites, self._routes = self._merge(members, seen)

    def _merge(
        self,
        members: list[tuple[str, _Member]],
        seen: list[dict[int, Site | None] | None],
    ) -> tuple[tuple[PoolSite, ...], dict[int, str]]:
        """The union of the listings, each site routed to one credential that sees it."""
        who: dict[int, list[str]] = {}
        record: dict[int, Site | None] = {}
        for (credential, _member), found in zip(members, seen, strict=True):
            for site_id, site in (found or {}).items():
                who.setdefault(site_id, []).append(credential)
                if record.get(site_id) is None:
                    record[site_id] = site
        routes = self._route(who)
        sites = tuple(
            PoolSite(
                site_id=site_id,
                credential=routes[site_id],
                credentials=tuple(creds),
                site=record.get(site_id),
            )
            for site_id, creds in who.items()
        )
        return sites, routes

    def _route(self, who: Mapping[int, list[str]]) -> dict[int, str]:
        """One credential per site, spreading shared sites over accounts by their rates.

        Sites seen by one credential go to it; each site seen by several then goes
        to the account whose load (sites per call per minute) stays lowest, ties to
        the credential first in the pool. The result is the same for the same pool.
        """
        account = self._accounts()
        rate: dict[str, float] = {}
        for cred in self._members:
            limiter = self._members[cred].client.rate_limiter
            rpm = limiter.requests_per_minute if limiter is not None else None
            ok = rpm is not None and math.isfinite(rpm) and rpm > 0
            rate[account[cred]] = float(rpm) if ok and rpm is not None else _UNLIMITED_RATE
        load = dict.fromkeys(rate, 0)
        routes: dict[int, str] = {}
        for site_id, creds in who.items():
            if len(creds) == 1:
                routes[site_id] = creds[0]
                load[account[creds[0]]] += 1
        order = {cred: i for i, cred in enumerate(self._members)}
        for site_id, creds in who.items():
            if len(creds) > 1:
                best = min(
                    creds, key=lambda c: ((load[account[c]] + 1) / rate[account[c]], order[c])
                )
                routes[site_id] = best
                load[account[best]] += 1
        return {site_id: routes[site_id] for site_id in who}
