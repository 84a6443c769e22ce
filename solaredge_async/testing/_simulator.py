"""`Simulator`: the public face of the simulated SolarEdge Monitoring API V2."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import anyio
import attrs

from solaredge_async.testing._clock import SimClock
from solaredge_async.testing._config import SimulatorConfig
from solaredge_async.testing._fleet import SimulatedFleet
from solaredge_async.testing._gateway import Gateway, RequestRecord
from solaredge_async.testing._limits import ANONYMOUS, Limits, SimulatedUsage
from solaredge_async.testing._oauth import OAuth
from solaredge_async.testing._server import ServerThread, serve_forever
from solaredge_async.testing._transport import SimulatorTransport

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Mapping, Sequence

    import httpx

    from solaredge_async.testing._asgi import SimulatorASGIApp
    from solaredge_async.testing._replies import Reply

__all__ = ["Simulator"]

#: The host the in-process base URL names (the transport answers any host).
# A host that can never resolve: a client given this base URL but not the
# in-process transport fails at once instead of sending the key anywhere.
_HOST = "https://simulator.solaredge.invalid"


class Simulator:
    """A faithful, deterministic stand-in for the SolarEdge Monitoring API V2.

    Use it in-process through `transport` (an httpx transport, asyncio or trio), or over
    real sockets through `serve` (a background thread) or `run_server` (blocking).
    Everything it does is set by a `SimulatorConfig`; keyword arguments override fields
    of ``config``::

        sim = Simulator(SimulatorConfig(seed=7), requests_per_minute=None)
        async with httpx.AsyncClient(transport=sim.transport(), base_url=sim.base_url) as c:
            r = await c.get("/sites", headers={"X-API-Key": sim.api_key})

    Args:
        config: The settings (defaults reproduce the live API).
        **overrides: Fields of `SimulatorConfig` to replace.

    Raises:
        ValueError: A setting is invalid.
        TypeError: An unknown setting was given.
    """

    def __init__(self, config: SimulatorConfig | None = None, **overrides: object) -> None:
        cfg = config or SimulatorConfig()
        if overrides:
            cfg = attrs.evolve(cfg, **overrides)  # type: ignore[arg-type]
        self.config = cfg
        clock = cfg.sim_clock
        if clock is None:
            clock = SimClock(cfg.now, frozen=cfg.now is not None)
        self._clock = clock
        now = clock.timestamp  # what every part reads "now" from, POSIX seconds
        self.fleet = SimulatedFleet(
            cfg.fleet,
            seed=cfg.seed,
            publish_delay=cfg.publish_delay,
            now=now,
            soe_scale=cfg.soe_scale,
            negative_storage_energy=cfg.negative_storage_energy,
        )
        self._limits = Limits(
            per_minute=cfg.requests_per_minute,
            monthly=cfg.monthly_credits,
            enforce_monthly=cfg.enforce_monthly,
            max_in_flight=cfg.max_in_flight,
            billing_day=cfg.billing_day,
        )
        self._oauth = OAuth(
            cfg.oauth_clients,
            access_ttl=cfg.access_token_ttl,
            refresh_ttl=cfg.refresh_token_ttl,
            now=now,
        )
        self._gateway = Gateway(
            cfg,
            self.fleet,
            self._limits,
            self._oauth,
            now=now,
            gateway_time=clock.gateway_time,
        )

    def __repr__(self) -> str:
        return f"<Simulator sites={self.config.fleet.sites} seed={self.config.seed}>"

    # ----- accounts and clock ---------------------------------------------------------

    @property
    def api_key(self) -> str:
        """The API key of the first account."""
        return self.config.fleet.api_keys[0]

    @property
    def api_keys(self) -> tuple[str, ...]:
        """The API keys of every account, one per account."""
        return self.config.fleet.api_keys

    @property
    def base_url(self) -> str:
        """The base URL to give an httpx client that uses `transport` (any host works)."""
        return _HOST + self.config.prefix

    @property
    def oauth_client(self) -> tuple[str, str]:
        """``(client_id, client_secret)`` of the first registered OAuth client."""
        return next(iter(self.config.oauth_clients.items()))

    @property
    def clock(self) -> SimClock:
        """The `SimClock` every part of the simulator reads "now" from."""
        return self._clock

    def now_timestamp(self) -> float:
        """Return the simulator's "now" as POSIX seconds (the `clock`'s reading)."""
        return self._clock.timestamp()

    def now(self) -> datetime:
        """Return the simulator's "now" as an aware UTC datetime."""
        return datetime.fromtimestamp(self.now_timestamp(), UTC)

    def set_now(self, when: datetime | None) -> None:
        """Freeze the simulator's "now" at ``when`` (aware), or follow the wall clock (``None``).

        "Now" decides which buckets are published, the default window, token expiry,
        the billing month and the wall-clock minute the per-minute windows count in
        (later request ticks advance that minute from here).

        Raises:
            ValueError: ``when`` is naive.
        """
        if when is None:
            self._clock.follow_wall_clock()
        else:
            if when.tzinfo is None:
                raise ValueError("set_now needs an aware datetime")
            self._clock.set(when, frozen=True)

    def advance(self, delta: timedelta | float) -> None:
        """Move the simulator's "now" forward by ``delta`` (a timedelta or seconds)."""
        self._clock.advance(delta)

    # ----- the core -----------------------------------------------------------------------

    def handle(
        self,
        method: str,
        path: str,
        query: str | Sequence[tuple[str, str]] = "",
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
        *,
        mono: float | None = None,
    ) -> Reply:
        """Answer one request: the function both the transport and the server call.

        Args:
            method: HTTP method.
            path: Percent-encoded path, without the query (e.g. ``/v2/sites``).
            query: Raw query string or decoded ``(name, value)`` pairs.
            headers: Request headers; a plain mapping must use lower-case names.
            body: Request body (OAuth calls).
            mono: The caller's monotonic tick, seconds, mapped onto the simulator's
                wall-clock minutes for the per-minute window (default: the configured
                clock, else ``time.monotonic()``).

        Returns:
            The `Reply`: status, headers, body, and any delay or connection fault the
            caller must carry out.
        """
        if mono is None:
            clock = self.config.clock
            mono = clock() if clock is not None else time.monotonic()
        return self._gateway.handle(method.upper(), path, query, headers or {}, body, mono=mono)

    def asgi_app(self, *, clock: Callable[[], float] | None = None) -> SimulatorASGIApp:
        """Return this simulator as an ASGI 3 application (no socket needed).

        For ``httpx.ASGITransport(app=sim.asgi_app())`` or any ASGI server. The
        per-minute windows follow ``clock``, else the configured clock, else
        ``anyio.current_time()``.
        """
        from solaredge_async.testing._asgi import SimulatorASGIApp  # noqa: PLC0415

        return SimulatorASGIApp(
            self.handle, clock=clock if clock is not None else self.config.clock
        )

    def transport(self, *, clock: Callable[[], float] | None = None) -> httpx.AsyncBaseTransport:
        """Return an in-process httpx transport answering from this simulator.

        Works under asyncio and trio. The per-minute windows follow ``clock``, else the
        configured clock, else ``anyio.current_time()`` (so a virtual clock such as
        trio's ``MockClock`` sees virtual minutes).
        """
        return SimulatorTransport(
            self.handle,
            clock=clock if clock is not None else self.config.clock,
            stall=self.config.faults.stall,
        )

    @contextlib.asynccontextmanager
    async def serve(self, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
        """Serve over HTTP/1.1 on ``host:port`` from a background thread.

        The server has its own asyncio loop in its own thread, so it works under any
        event loop (asyncio or trio) of the caller. Its per-minute windows follow the
        configured clock, else ``time.monotonic()``.

        Yields:
            The base URL, e.g. ``"http://127.0.0.1:54321/v2"``.

        Raises:
            OSError: The address could not be bound.
        """
        server = ServerThread(
            self.handle,
            host,
            port,
            clock=self.config.clock or time.monotonic,
            stall=self.config.faults.stall,
        )
        await anyio.to_thread.run_sync(server.start)
        try:
            shown = f"[{host}]" if ":" in host else host
            yield f"http://{shown}:{server.port}{self.config.prefix}"
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(server.stop)

    def run_server(
        self,
        host: str = "127.0.0.1",
        port: int = 8080,
        *,
        on_ready: Callable[[str], None] | None = None,
    ) -> None:
        """Serve over HTTP/1.1 until interrupted (blocking; for the CLI).

        Args:
            host: Interface to bind.
            port: Port to bind (0 picks a free one).
            on_ready: Called with the base URL once the port is bound.

        Raises:
            OSError: The address could not be bound.
        """

        async def main() -> None:
            stop = asyncio.Event()

            def ready(bound: int) -> None:
                if on_ready is not None:
                    shown = f"[{host}]" if ":" in host else host
                    on_ready(f"http://{shown}:{bound}{self.config.prefix}")

            await serve_forever(
                self.handle,
                host,
                port,
                clock=self.config.clock or time.monotonic,
                stall=self.config.faults.stall,
                on_ready=ready,
                stop=stop,
            )

        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(main())

    # ----- observation ----------------------------------------------------------------------

    def ledger(self, account: str | None = None) -> SimulatedUsage:
        """Return what ``account`` was served and charged.

        ``account`` is an API key, an OAuth ``client_id`` (bearer calls are charged to
        the app's account), or ``None`` for calls without a valid credential (401s and
        V1 410s land there).

        What costs a credit: every call that reaches the API, errors included (400,
        403, 404, 405, 5xx, and the faults that happen after the API answered:
        resets, stalls, malformed, truncated and drifted bodies). What does not: 429s
        of any kind, spurious 429 bursts included (unless ``charge_rate_limited``);
        HTML error pages from the CDN edge (never); OAuth token and revoke calls
        (unless ``charge_oauth``). ``calls`` counts everything received.
        """
        return self._limits.usage(ANONYMOUS if account is None else account)

    def reset_month(self, account: str | None = None) -> None:
        """Start a new billing month for ``account`` (every account if ``None``)."""
        self._limits.reset_month(account)

    def use_credits(self, account: str, used: int) -> None:
        """Set how many credits ``account`` has used this month (e.g. to start near the cap)."""
        self._limits.set_credits(account, used)

    @property
    def requests(self) -> list[RequestRecord]:
        """The requests received, oldest first (at most ``record_requests`` of the newest)."""
        if self.config.record_requests == 0:
            return []
        return list(self._gateway.requests)

    def clear_requests(self) -> None:
        """Forget the recorded requests."""
        self._gateway.requests.clear()

    # ----- OAuth ------------------------------------------------------------------------------

    def authorize(
        self,
        site_id: int,
        *,
        scopes: Sequence[str] = ("SITE_DATA", "DEVICE_DATA"),
        client_id: str | None = None,
    ) -> str:
        """Play the homeowner's consent at ``connect.solaredge.com``; return the code.

        Exchange the code at ``POST {base}/oauth2/token`` (JSON body) for tokens.

        Raises:
            ValueError: Unknown client or scope.
        """
        cid = client_id if client_id is not None else self.oauth_client[0]
        return self._oauth.authorize(cid, site_id, frozenset(scopes))
