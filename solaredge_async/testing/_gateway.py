"""The simulated API behind one function: `Gateway.handle(method, path, query, headers, body)`.

Both ways of running the simulator (the in-process httpx transport and the loopback
server) call `Gateway.handle`, so they behave the same. The gateway does what the live
API's edge does, in order: mount point and V1 paths, OAuth, authentication, the
per-minute/monthly/concurrency limits, the seeded faults, then the route table
(`_routes`) and the bodies (`_bodies`), and finally the reply's encoding (`_replies`).
What it cannot do itself (sleeping, dropping a connection) it describes in the `Reply`.
"""

from __future__ import annotations

import json
import re
from collections import deque
from typing import TYPE_CHECKING, Final, Literal
from urllib.parse import parse_qsl

import attrs

from solaredge_async.testing._bodies import Bodies, Call, Caller
from solaredge_async.testing._faults import BODY_FAULTS, FaultDraw, FaultPick, drift, malform
from solaredge_async.testing._limits import ANONYMOUS
from solaredge_async.testing._query import NO_QUERY, Query, Windows
from solaredge_async.testing._replies import (
    SERVER_ERROR_TITLES,
    Problem,
    Reply,
    ReplyWriter,
    accepts_gzip,
    dumps,
)
from solaredge_async.testing._routes import OAUTH_TEMPLATES, RouteTable

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from solaredge_async.testing._config import SimulatorConfig
    from solaredge_async.testing._fleet import SimulatedFleet
    from solaredge_async.testing._limits import Admission, Limits
    from solaredge_async.testing._model import SiteModel
    from solaredge_async.testing._oauth import OAuth

__all__ = ["Gateway", "RequestRecord"]

_FORBIDDEN: Final = 403
_NOT_FOUND: Final = 404
_V1_RE: Final = re.compile(r"^/(site/[^/]+(/.*)?|sites/list|equipment/.*|version/.*)$")
_V1_GONE: Final = (
    "The legacy Monitoring API (V1) was retired; use the Monitoring API V2 at "
    "https://monitoringapi.solaredge.com/v2"
)
_MONITORING: Final = "/monitoring"


def _settled(
    admission: Admission,
    reply: Reply,
    fault: str | None = None,
    *,
    charge: bool = True,
    release: bool = True,
) -> Reply:
    """Settle ``admission`` with ``reply``'s status (see `Admission.settle`); return ``reply``."""
    admission.settle(reply.status, fault, charge=charge, release=release)
    return reply


@attrs.frozen(kw_only=True)
class RequestRecord:
    """One request the simulator received.

    Attributes:
        method: HTTP method. path: Request path (no query). query: Decoded pairs.
        auth: ``"api_key"``, ``"bearer"`` or ``None`` (no credential).
        status: The status answered (before transport faults).
        fault: The fault applied, if any.
        api_key: The API key sent, if any (kept out of the repr).
    """

    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    auth: Literal["api_key", "bearer"] | None
    status: int
    fault: str | None = None
    api_key: str | None = attrs.field(default=None, repr=False)


class Gateway:
    """The request handler shared by the transport and the server.

    Args:
        config: The settings.
        fleet: The fleet (ground truth and physics).
        limits: Per-account limits and ledger.
        oauth: The OAuth store.
        now: Returns the simulator's "now", POSIX seconds.
        gateway_time: Maps a caller's monotonic tick onto the simulator's timeline
            (POSIX seconds) for the per-minute windows; default: the tick itself.
    """

    def __init__(
        self,
        config: SimulatorConfig,
        fleet: SimulatedFleet,
        limits: Limits,
        oauth: OAuth,
        *,
        now: Callable[[], float],
        gateway_time: Callable[[float], float] | None = None,
    ) -> None:
        self.config = config
        self.fleet = fleet
        self.limits = limits
        self.oauth = oauth
        self.now = now
        self.gateway_time = gateway_time or float
        faults = config.faults
        self.faults = FaultDraw(faults, config.seed if faults.seed is None else faults.seed)
        self.replies = ReplyWriter(config, limits.per_minute, now)
        self.bodies = Bodies(config, fleet, Windows(config))
        self.routes = RouteTable(self.bodies)
        self.requests: deque[RequestRecord] = deque(maxlen=max(1, config.record_requests))
        self._record = config.record_requests > 0
        self._key_callers: dict[str, Caller] = {}  # one per valid API key
        self._gzip = config.gzip_responses
        # The common case: a path under the prefix, no /monitoring alias.
        self._fast_root = None if config.monitoring_alias else config.prefix + "/"

    def handle(
        self,
        method: str,
        path: str,
        query: str | Sequence[tuple[str, str]],
        headers: Mapping[str, str],
        body: bytes = b"",
        *,
        mono: float,
    ) -> Reply:
        """Answer one request.

        Args:
            method: HTTP method (upper case).
            path: The raw (percent-encoded) path, without the query.
            query: The raw query string, or decoded ``(name, value)`` pairs.
            headers: Request headers; names are looked up in lower case.
            body: The request body.
            mono: The caller's monotonic clock reading, seconds (per-minute windows).

        Returns:
            The reply, with any delay or connection fault the caller must carry out.
        """
        if isinstance(query, str):
            pairs = parse_qsl(query, keep_blank_values=True) if query else []
        else:
            pairs = list(query)
        api_key = headers.get("x-api-key")
        authorization = headers.get("authorization")
        gzip_ok = self._gzip and accepts_gzip(headers.get("accept-encoding"))
        credentials = (api_key, authorization)
        tick = self.gateway_time(mono)
        reply = self._answer(method, path, pairs, body, tick, credentials, gzip_ok=gzip_ok)
        if self._record:
            self.requests.append(
                RequestRecord(
                    method=method,
                    path=path,
                    query=tuple(pairs),
                    auth="api_key" if api_key else ("bearer" if authorization else None),
                    status=reply.status,
                    fault=reply.fault,
                    api_key=api_key,
                )
            )
        return reply

    def _api_path(self, path: str) -> str | None:
        """Return ``path`` relative to the API's mount point, or ``None`` outside it."""
        root = self._fast_root
        if root is not None and path.startswith(root):
            return path[len(root) - 1 :]
        config = self.config
        prefix = config.prefix
        if prefix and path != prefix and not path.startswith(prefix + "/"):
            return None
        rest = path[len(prefix) :]
        if config.monitoring_alias and (rest == _MONITORING or rest.startswith(_MONITORING + "/")):
            rest = rest[len(_MONITORING) :]
        return rest

    def _authenticate(self, api_key: str | None, authorization: str | None) -> Caller | str:
        """Return the caller, or why the credential is refused (the 401's detail)."""
        if api_key:
            caller = self._key_callers.get(api_key)
            if caller is None:
                if self.fleet.account_index(api_key) is None:
                    return "Invalid API key"
                caller = self._key_callers[api_key] = Caller(api_key, "api_key", None)
            return caller
        if not authorization:
            return "API key missing in the request"
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return "Invalid authorization header"
        grant = self.oauth.bearer(token.strip())
        if isinstance(grant, str):
            return grant
        return Caller(grant.client_id, "bearer", grant)

    def _answer(  # noqa: PLR0917 - the hot path hands the request's parts on as they are
        self,
        method: str,
        path: str,
        pairs: list[tuple[str, str]],
        body: bytes,
        tick: float,
        credentials: tuple[str | None, str | None],
        *,
        gzip_ok: bool,
    ) -> Reply:
        now = self.now()
        replies = self.replies
        rest = self._api_path(path)
        # V1 paths are gone (410), under the prefix or at the root.
        if self.config.v1_gone and (
            _V1_RE.match(path) or (rest is not None and _V1_RE.match(rest))
        ):
            admission = self.limits.admit(ANONYMOUS, tick, now)
            return _settled(admission, replies.problem(Problem(410, _V1_GONE), admission))
        if rest is None:
            return replies.no_route()  # outside the mount point: the gateway has no route
        if rest in OAUTH_TEMPLATES:
            return self._oauth_call(method, rest, body, tick)

        caller = self._authenticate(*credentials)
        account = caller.account if isinstance(caller, Caller) else ANONYMOUS
        admission = self.limits.admit(account, tick, now)
        if admission.verdict != "ok":
            reply = replies.refused(admission)
            return _settled(admission, reply, charge=self.config.charge_rate_limited, release=False)
        if not isinstance(caller, Caller):
            return _settled(admission, replies.unauthorized(caller, admission))
        return self._data_call(admission, caller, method, rest, pairs, now, tick, gzip_ok=gzip_ok)

    def _data_call(  # noqa: PLR0917 - the hot path hands the request's parts on as they are
        self,
        admission: Admission,
        caller: Caller,
        method: str,
        rest: str,
        pairs: list[tuple[str, str]],
        now: float,
        tick: float,
        *,
        gzip_ok: bool,
    ) -> Reply:
        """Answer an admitted, authenticated data call, faults included."""
        replies = self.replies
        pick = self.faults.pick()
        fault = pick.kind
        if fault == "rate_limit_burst":
            admission.burst(tick)
            reply = replies.refused(admission)
            reply.fault, reply.delay = fault, pick.delay
            return _settled(admission, reply, fault, charge=self.config.charge_rate_limited)
        if fault == "html_error":
            admission.refund_minute()  # the CDN edge answered; the gateway never counted it
            reply = replies.cdn_error(pick.variant)
            reply.fault, reply.delay = fault, pick.delay
            return _settled(admission, reply, fault, charge=False)
        if fault == "server_error":
            code = (500, 502, 503, 504)[int(pick.variant * 4)]
            problem = Problem(code, "An unexpected error occurred", SERVER_ERROR_TITLES[code])
            reply = replies.problem(problem, admission)
        else:
            try:
                payload = self._payload(method, rest, pairs, caller, now, pick=pick)
                reply = replies.ok(payload, admission, gzip_ok=gzip_ok)
            except Problem as problem:
                reply = replies.problem(problem, admission)
                if fault in BODY_FAULTS:
                    fault = None  # body faults only touch successful responses
        reply.delay = pick.delay
        reply.fault = fault
        if fault == "connection_reset":
            reply.action = "reset"
        elif fault == "timeout":
            reply.action = "timeout"
        hold = pick.delay > 0 or reply.action is not None
        admission.settle(reply.status, fault, charge=True, release=not hold)
        if hold:
            reply.release = admission.release
        return reply

    def _payload(
        self,
        method: str,
        rest: str,
        pairs: list[tuple[str, str]],
        caller: Caller,
        now: float,
        *,
        pick: FaultPick,
    ) -> bytes:
        """Return a data call's JSON body, damaged by a body fault if one was drawn.

        Raises:
            Problem: The API answers an error instead.
        """
        if method not in {"GET", "HEAD"}:
            raise Problem(405, f"Method {method[:10]} is not allowed here")
        obj = self._route(rest, pairs, caller, now)
        fault = pick.kind
        if fault == "schema_drift":
            obj = drift(obj, pick.variant)
        payload = dumps(obj)
        if fault == "malformed_json":
            payload = malform(payload, pick.variant)
        elif fault == "truncated_json":
            payload = payload[: max(1, len(payload) // 2)]
        return payload

    def _route(self, rest: str, pairs: list[tuple[str, str]], caller: Caller, now: float) -> object:
        """Compute the body of a data call through the route table (or raise `Problem`)."""
        found = self.routes.match(rest)
        if found is None:
            raise Problem(404, "Unknown endpoint")
        route, handler, site_id, params = found
        if route.key_only:
            self._require_api_key(caller)
        model = None if site_id is None else self._site_for(site_id, caller)
        grant = caller.grant
        if grant is not None and route.device_data and "DEVICE_DATA" not in grant.scopes:
            raise Problem(403, "The access token lacks the DEVICE_DATA scope")
        query = Query(pairs) if pairs else NO_QUERY
        return handler(Call(model, query, caller, now, params))

    def _require_api_key(self, caller: Caller) -> None:
        if caller.kind != "api_key":
            status = self.config.bearer_key_only_status
            raise Problem(
                status,
                "This endpoint requires an API key",
                None if status == _FORBIDDEN else "Unauthorized",
            )

    def _site_for(self, site_id: int, caller: Caller) -> SiteModel:
        model = self.fleet.model_for(site_id)
        if model is None:
            status = self.config.unknown_site_status
            raise Problem(
                status, f"Site {site_id} not found" if status == _NOT_FOUND else "Access denied"
            )
        if caller.grant is not None:
            if caller.grant.site_id != site_id:
                raise Problem(403, "The access token does not grant access to this site")
        elif model.account != caller.account:
            raise Problem(403, "Access denied")
        return model

    def _oauth_call(self, method: str, rest: str, body: bytes, tick: float) -> Reply:
        client = ANONYMOUS
        try:
            data = json.loads(body) if body else None
            if isinstance(data, dict) and isinstance(data.get("client_id"), str):
                client = data["client_id"] if data["client_id"] in self.oauth.clients else ANONYMOUS
        except ValueError:
            pass
        admission = self.limits.count_only(client)
        admission.remaining = self.limits.peek(client, tick)
        status: int
        obj: dict[str, object]
        if method != "POST":
            status, obj = 405, {"error": "invalid_request", "error_description": "Use POST"}
        elif rest == "/oauth2/token":
            status, obj = self.oauth.token(body)
        else:
            status, obj = self.oauth.revoke(body)
        admission.settle(status, None, charge=self.config.charge_oauth, release=False)
        return self.replies.json(status, obj, admission)
