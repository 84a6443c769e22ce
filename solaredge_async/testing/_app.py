"""The simulated API behind one function: ``handle(method, path, query, headers, body)``.

Both ways of running the simulator (the in-process httpx transport and the loopback
server) call `App.handle`, so they behave the same. It routes, authenticates, applies
the gateway's limits, draws faults, computes the body and sets the headers; what it
cannot do itself (sleeping, dropping a connection) it describes in the `Reply`.
"""

from __future__ import annotations

import json
import os
import random
import re
import threading
from collections import deque
from email.utils import formatdate
from typing import TYPE_CHECKING, Final, Literal
from urllib.parse import parse_qsl, unquote

import attrs

from solaredge_async.testing._config import FAULT_KINDS, RESOLUTIONS
from solaredge_async.testing._devices import (
    END_STAMPED,
    FAMILY_METRICS,
    device_getter,
    kebab_to_camel,
)
from solaredge_async.testing._limits import ANONYMOUS, Admission
from solaredge_async.testing._model import alert_category, mix64
from solaredge_async.testing._solar import CHARGE, DISCHARGE, EXPORT, IMPORT, LOAD, PV, SELF
from solaredge_async.testing._timeutil import (
    QH,
    BadTime,
    day_bounds,
    format_now,
    iso_local,
    local_ordinal,
    parse_request_time,
    zone,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from solaredge_async.testing._config import SimulatorConfig
    from solaredge_async.testing._fleet import Fleet, Getter, Kind, Point
    from solaredge_async.testing._limits import Limits
    from solaredge_async.testing._model import SiteModel
    from solaredge_async.testing._oauth import Grant, OAuth
    from solaredge_async.testing._solar import Day

try:  # orjson is optional; it makes big bodies ~10x cheaper to encode.
    import orjson

    def _dumps(obj: object) -> bytes:
        return orjson.dumps(obj)

except ImportError:  # pragma: no cover - depends on the environment

    def _dumps(obj: object) -> bytes:
        return json.dumps(obj, separators=(",", ":")).encode()


__all__ = ["App", "Reply", "RequestRecord"]

PROBLEM_TYPE: Final = "https://se-api.stoplight.io/docs/monitoring"
JSON: Final = "application/json"
PROBLEM: Final = "application/problem+json"
HTML: Final = "text/html; charset=UTF-8"

_ENERGY_UNITS: Final = {"WH": 1.0, "KWH": 1e3, "MWH": 1e6, "GWH": 1e9}
_POWER_UNITS: Final = {"W": 1.0, "KW": 1e3, "MW": 1e6}
_DEVICE_TYPES: Final = frozenset(
    {"INVERTER", "BATTERY", "BATTERY_MODULE", "OPTIMIZER", "METER", "EV_CHARGER", "BUI", "GATEWAY"}
)
_FAMILIES: Final = ("inverters", "meters", "storage")
_OAUTH_PATHS: Final = frozenset({"/oauth2/token", "/oauth2/revoke-token"})
_BODY_FAULTS: Final = frozenset({"schema_drift", "malformed_json", "truncated_json"})
_TYPES_TEXT: Final = ", ".join(sorted(_DEVICE_TYPES))
_FORBIDDEN: Final = 403
_NOT_FOUND: Final = 404
_V1_RE: Final = re.compile(r"^/(site/[^/]+(/.*)?|sites/list|equipment/.*|version/.*)$")

#: Headers on every response of the API (§11 of the reference).
UNLIMITED_PER_MINUTE: Final = 1_000_000

_STATIC_HEADERS: Final = (
    ("cache-control", "no-cache, no-store, max-age=0, must-revalidate"),
    ("pragma", "no-cache"),
    ("expires", "0"),
    ("x-content-type-options", "nosniff"),
    ("x-xss-protection", "0"),
    ("strict-transport-security", "max-age=31536000 ; includeSubDomains"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("access-control-allow-origin", "*"),
    ("access-control-expose-headers", "*"),
    ("via", "kong/3.7.1"),
    ("server", "cloudflare"),
)

_HTML_PAGE: Final = """<!DOCTYPE html>
<!--[if lt IE 7]> <html class="no-js ie6 oldie" lang="en-US"> <![endif]-->
<html class="no-js" lang="en-US">
<head>
<title>monitoringapi.solaredge.com | {code}: {title}</title>
<meta charset="UTF-8" />
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
<meta name="robots" content="noindex, nofollow" />
</head>
<body>
<div id="cf-wrapper">
<div id="cf-error-details" class="cf-error-details-wrapper">
<h1><span class="cf-error-type">Error</span> <span class="code-label">Error code {code}</span></h1>
<h2 class="cf-subheadline">{title}</h2>
<p>Cloudflare Ray ID: <strong class="font-semibold">{ray}</strong></p>
</div>
</div>
</body>
</html>
"""
_HTML_TITLES: Final = {
    502: "Bad gateway",
    503: "Service unavailable",
    504: "Gateway time-out",
    520: "Web server is returning an unknown error",
    521: "Web server is down",
    522: "Connection timed out",
    524: "A timeout occurred",
}
_5XX_TITLES: Final = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def _hex(nbytes: int) -> str:
    return os.urandom(nbytes).hex()


class _Problem(Exception):  # noqa: N818 - an answer, not an error
    def __init__(self, status: int, detail: str, title: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or {
            400: "Bad Request",
            403: "Forbidden",
            404: "Not Found",
            405: "Method Not Allowed",
            410: "Gone",
        }.get(status, "Error")


class Reply:
    """What the simulated server answers, plus what the caller must still do.

    Attributes:
        status: HTTP status.
        headers: Response headers (lower-case names; no ``content-length``).
        body: Response body.
        delay: Seconds to wait before answering (latency fault).
        action: ``None``, ``"reset"`` (drop the connection instead of answering) or
            ``"timeout"`` (never answer; stall).
        fault: The fault kind applied, if any.
        release: Call once the answer is out (frees the concurrency slot); ``None``
            if there is nothing to free.
    """

    __slots__ = ("action", "body", "delay", "fault", "headers", "release", "status")

    def __init__(
        self,
        status: int,
        headers: list[tuple[str, str]],
        body: bytes,
        *,
        delay: float = 0.0,
        action: Literal["reset", "timeout"] | None = None,
        fault: str | None = None,
        release: Callable[[], None] | None = None,
    ) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.delay = delay
        self.action: Literal["reset", "timeout"] | None = action
        self.fault = fault
        self.release = release

    def finish(self) -> None:
        """Free the concurrency slot once the answer is out (safe to call twice)."""
        release, self.release = self.release, None
        if release is not None:
            release()

    def __repr__(self) -> str:
        return f"<Reply {self.status} {len(self.body)} bytes fault={self.fault}>"


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


class _Caller:
    __slots__ = ("account", "grant", "kind")

    def __init__(
        self, account: str, kind: Literal["api_key", "bearer"], grant: Grant | None
    ) -> None:
        self.account = account
        self.kind: Literal["api_key", "bearer"] = kind
        self.grant = grant


class App:
    """The request handler shared by the transport and the server.

    Args:
        config: The settings.
        fleet: The fleet (ground truth and physics).
        limits: Per-account limits and ledger.
        oauth: The OAuth store.
        now: Returns the simulator's "now", POSIX seconds.
    """

    def __init__(
        self,
        config: SimulatorConfig,
        fleet: Fleet,
        limits: Limits,
        oauth: OAuth,
        now: Callable[[], float],
    ) -> None:
        self.config = config
        self.fleet = fleet
        self.limits = limits
        self.oauth = oauth
        self.now = now
        faults = config.faults
        self._faults_on = any(faults.rates().values())
        self._latency = faults.latency
        self._rng = random.Random(config.seed if faults.seed is None else faults.seed)  # noqa: S311
        self._rng_lock = threading.Lock()
        cum = 0.0
        self._fault_table: list[tuple[float, str]] = []
        for kind in FAULT_KINDS:
            rate = float(getattr(faults, kind))
            if rate > 0:
                cum += rate
                self._fault_table.append((cum, kind))
        self.requests: deque[RequestRecord] = deque(maxlen=max(1, config.record_requests))
        self._record = config.record_requests > 0
        self._date_cache: tuple[int, str] = (0, "")
        self._alert_index: dict[str, list[int]] = {}
        self._midnights: dict[tuple[str, float], tuple[float, str]] = {}
        self._now_texts: dict[tuple[str, float], str] = {}

    # ----- the entry point -------------------------------------------------------------

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
            mono: The monotonic clock's reading, seconds (per-minute windows).

        Returns:
            The reply, with any delay or connection fault the caller must carry out.
        """
        if isinstance(query, str):
            pairs = parse_qsl(query, keep_blank_values=True) if query else []
        else:
            pairs = list(query)
        api_key = headers.get("x-api-key")
        authorization = headers.get("authorization")
        reply = self._answer(method, path, pairs, api_key, authorization, body, mono)
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

    def _answer(  # noqa: C901, PLR0911, PLR0912, PLR0915, PLR0917
        self,
        method: str,
        path: str,
        pairs: list[tuple[str, str]],
        api_key: str | None,
        authorization: str | None,
        body: bytes,
        mono: float,
    ) -> Reply:
        cfg = self.config
        now = self.now()
        prefix = cfg.prefix
        rest: str | None = None
        if not prefix or path == prefix or path.startswith(prefix + "/"):
            rest = path[len(prefix) :]
            if cfg.monitoring_alias and (rest == "/monitoring" or rest.startswith("/monitoring/")):
                rest = rest[len("/monitoring") :]

        # V1 paths are gone (410), under the prefix or at the root.
        if cfg.v1_gone and (_V1_RE.match(path) or (rest is not None and _V1_RE.match(rest))):
            adm = self.limits.admit(ANONYMOUS, mono, now)
            detail = (
                "The legacy Monitoring API (V1) was retired; use the Monitoring API V2 at "
                "https://monitoringapi.solaredge.com/v2"
            )
            reply = self._problem(_Problem(410, detail), adm)
            adm.settle(reply.status, None, charge=True)
            return reply
        if rest is None:
            # Outside the API's mount point: the gateway itself has no route.
            body_out = b'{"message":"no Route matched with those values"}'
            return Reply(404, self._headers(JSON, None), body_out)

        if rest in _OAUTH_PATHS:
            return self._oauth_call(method, rest, body, mono)

        # Authentication.
        caller: _Caller | None = None
        auth_error: str | None = None
        if api_key:
            if self.fleet.account_index(api_key) is None:
                auth_error = "Invalid API key"
            else:
                caller = _Caller(api_key, "api_key", None)
        elif authorization:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                auth_error = "Invalid authorization header"
            else:
                grant = self.oauth.bearer(token.strip())
                if isinstance(grant, str):
                    auth_error = grant
                else:
                    caller = _Caller(grant.client_id, "bearer", grant)
        else:
            auth_error = "API key missing in the request"
        adm = self.limits.admit(caller.account if caller is not None else ANONYMOUS, mono, now)
        if adm.verdict != "ok":
            reply = self._refused(adm)
            adm.settle(reply.status, None, charge=cfg.charge_rate_limited, release=False)
            return reply
        if caller is None:
            reply = self._unauthorized(auth_error or "Unauthorized", adm)
            adm.settle(reply.status, None, charge=True)
            return reply

        # Faults, drawn once per admitted data call.
        delay = 0.0
        fault: str | None = None
        fault_pick = 0.0
        if self._latency is not None or self._faults_on:
            with self._rng_lock:
                rng = self._rng
                if self._latency is not None:
                    mean, jitter = self._latency
                    delay = max(0.0, mean + jitter * (2.0 * rng.random() - 1.0))
                if self._faults_on:
                    u = rng.random()
                    for edge, kind in self._fault_table:
                        if u < edge:
                            fault = kind
                            break
                fault_pick = rng.random()
        if fault == "rate_limit_burst":
            adm.burst(mono)
            reply = self._refused(adm)
            reply.fault = fault
            reply.delay = delay
            adm.settle(reply.status, fault, charge=cfg.charge_rate_limited)
            return reply
        if fault == "html_error":
            adm.refund_minute()  # the CDN edge answered; the gateway never counted it
            reply = self._html_error(fault_pick)
            reply.fault = fault
            reply.delay = delay
            adm.settle(reply.status, fault, charge=False)
            return reply
        if fault == "server_error":
            code = (500, 502, 503, 504)[int(fault_pick * 4)]
            reply = self._problem(
                _Problem(code, "An unexpected error occurred", _5XX_TITLES[code]), adm
            )
        else:
            try:
                if method not in {"GET", "HEAD"}:
                    raise _Problem(405, f"Method {method[:10]} is not allowed here")  # noqa: TRY301
                obj = self._route(rest, pairs, caller, now)
                if fault == "schema_drift":
                    obj = _drift(obj, fault_pick)
                payload = _dumps(obj)
                if fault == "malformed_json":
                    payload = _malform(payload, fault_pick)
                elif fault == "truncated_json":
                    payload = payload[: max(1, len(payload) // 2)]
                reply = Reply(200, self._headers(JSON, adm), payload)
            except _Problem as exc:
                reply = self._problem(exc, adm)
                if fault in _BODY_FAULTS:
                    fault = None  # body faults only touch successful responses
        reply.delay = delay
        if fault is not None:
            reply.fault = fault
            if fault == "connection_reset":
                reply.action = "reset"
            elif fault == "timeout":
                reply.action = "timeout"
        hold = delay > 0 or reply.action is not None
        adm.settle(reply.status, fault, charge=True, release=not hold)
        if hold:
            reply.release = adm.release
        return reply

    # ----- replies ---------------------------------------------------------------------

    def _date(self) -> str:
        sec = int(self.now())
        cached = self._date_cache
        if cached[0] != sec:
            cached = self._date_cache = (sec, formatdate(sec, usegmt=True))
        return cached[1]

    def _headers(self, ctype: str, adm: Admission | None) -> list[tuple[str, str]]:
        h = [("content-type", ctype), ("date", self._date())]
        if adm is not None:
            # The live gateway sends both headers on every response; without a
            # per-minute limit the simulator reports an unreachable one.
            limit = self.limits.per_minute
            h.append(("x-ratelimit-limit-minute", str(limit or UNLIMITED_PER_MINUTE)))
            remaining = adm.remaining if adm.remaining is not None else UNLIMITED_PER_MINUTE
            h.append(("x-ratelimit-remaining-minute", str(remaining)))
        h.extend(_STATIC_HEADERS)
        ids = _hex(24)
        h.append(("cf-ray", f"{ids[:16]}-FRA"))
        h.append(("x-kong-request-id", ids[16:]))
        h.append(("x-kong-upstream-latency", "12"))
        h.append(("x-kong-proxy-latency", "1"))
        return h

    def _problem(self, exc: _Problem, adm: Admission | None) -> Reply:
        body = _dumps(
            {
                "type": PROBLEM_TYPE,
                "title": exc.title,
                "status": exc.status,
                "detail": exc.detail,
                "traceId": _hex(16),
            }
        )
        headers = self._headers(PROBLEM, adm)
        if exc.status == 405:  # noqa: PLR2004
            headers.append(("allow", "GET"))
        return Reply(exc.status, headers, body)

    def _unauthorized(self, detail: str, adm: Admission) -> Reply:
        obj: dict[str, object] = {
            "type": PROBLEM_TYPE,
            "title": "Unauthorized - Authentication Failed",
            "status": 401,
            "detail": detail,
        }
        if self.config.trace_id_in_properties:
            obj["instance"] = None
            obj["properties"] = {"traceId": _hex(16)}
        else:
            obj["traceId"] = _hex(16)
        body = _dumps(obj)
        return Reply(401, self._headers(PROBLEM, adm), body)

    def _refused(self, adm: Admission) -> Reply:
        if self.config.rate_limit_body == "kong":
            body = b'{"message":"API rate limit exceeded"}'
            ctype = JSON
        else:
            detail = {
                "minute": "API rate limit exceeded",
                "monthly": "Monthly API credits exhausted",
                "concurrency": "Too many concurrent requests",
            }.get(adm.verdict, "API rate limit exceeded")
            body = _dumps(
                {
                    "type": PROBLEM_TYPE,
                    "title": "Too Many Requests",
                    "status": 429,
                    "detail": detail,
                    "traceId": _hex(16),
                }
            )
            ctype = PROBLEM
        headers = self._headers(ctype, adm)
        if adm.retry_after is not None:
            headers.append(("retry-after", str(adm.retry_after)))
            if adm.verdict != "concurrency" and self.limits.per_minute is not None:
                headers.append(("ratelimit-limit", str(self.limits.per_minute)))
                headers.append(("ratelimit-remaining", "0"))
                headers.append(("ratelimit-reset", str(adm.retry_after)))
        return Reply(429, headers, body)

    def _html_error(self, pick: float) -> Reply:
        codes = tuple(_HTML_TITLES)
        code = codes[min(len(codes) - 1, int(pick * len(codes)))]
        ray = f"{_hex(8)}-FRA"
        body = _HTML_PAGE.format(code=code, title=_HTML_TITLES[code], ray=ray).encode()
        # A page from the CDN edge: no gateway (Kong) or rate-limit headers.
        headers = [
            ("content-type", HTML),
            ("date", self._date()),
            ("server", "cloudflare"),
            ("cf-ray", ray),
            ("cache-control", "private, max-age=0, no-store, no-cache, must-revalidate"),
        ]
        return Reply(code, headers, body)

    def _oauth_call(self, method: str, rest: str, body: bytes, mono: float) -> Reply:
        client = ANONYMOUS
        try:
            data = json.loads(body) if body else None
            if isinstance(data, dict) and isinstance(data.get("client_id"), str):
                client = data["client_id"] if data["client_id"] in self.oauth.clients else ANONYMOUS
        except ValueError:
            pass
        adm = self.limits.count_only(client)
        status: int
        obj: dict[str, object]
        adm.remaining = self.limits.peek(client, mono)
        if method != "POST":
            status, obj = 405, {"error": "invalid_request", "error_description": "Use POST"}
        elif rest == "/oauth2/token":
            status, obj = self.oauth.token(body)
        else:
            status, obj = self.oauth.revoke(body)
        adm.settle(status, None, charge=self.config.charge_oauth, release=False)
        return Reply(status, self._headers(JSON, adm), _dumps(obj))

    # ----- routing -----------------------------------------------------------------------

    def _route(  # noqa: C901, PLR0912
        self, rest: str, pairs: list[tuple[str, str]], caller: _Caller, now: float
    ) -> object:
        parts = rest.split("/")[1:]
        if "%" in rest:
            parts = [unquote(p) for p in parts]
        q: dict[str, list[str]] = {}
        for k, v in pairs:
            q.setdefault(k, []).append(v)
        if parts == ["sites"]:
            self._key_only(caller)
            return self._sites(q, caller.account)
        if parts == ["alerts"]:
            self._key_only(caller)
            return self._fleet_alerts(q, caller.account, now)
        if (
            len(parts) < 2  # noqa: PLR2004
            or parts[0] != "sites"
            or not parts[1].isascii()
            or not parts[1].isdigit()
        ):
            raise _Problem(404, "Unknown endpoint")
        sub = parts[2:]
        n = len(sub)
        handler: Callable[[SiteModel], object]
        device = False
        if n == 0:
            handler = self._site_details
        elif n == 1 and sub[0] in _SITE_ROUTES:
            name = _SITE_ROUTES[sub[0]]

            def handler(m: SiteModel) -> object:
                return getattr(self, name)(m, q, caller, now)

        elif sub == ["overview", "performance"]:

            def handler(m: SiteModel) -> object:
                return self._performance(m, q, now)

        elif n == 2 and sub[0] in _FAMILIES and sub[1] == "telemetry":  # noqa: PLR2004
            device = True
            family = sub[0]

            def handler(m: SiteModel) -> object:
                return self._telemetry(m, family, None, q, now)

        elif n == 3 and sub[0] == "storage" and sub[2] == "telemetry":  # noqa: PLR2004
            device = True
            serials = sub[1].split(",")

            def handler(m: SiteModel) -> object:
                return self._telemetry(m, "storage", serials, q, now)

        elif n == 3 and sub[0] in _FAMILIES and _is_metric_path(sub[0], sub[2]):  # noqa: PLR2004
            device = True
            family, serial, metric = sub

            def handler(m: SiteModel) -> object:
                return self._device_metric(
                    m, family=family, serial=serial, metric=kebab_to_camel(metric), q=q, now=now
                )

        else:
            raise _Problem(404, "Unknown endpoint")
        m = self._site_for(int(parts[1]), caller)
        if device and caller.grant is not None and "DEVICE_DATA" not in caller.grant.scopes:
            raise _Problem(403, "The access token lacks the DEVICE_DATA scope")
        return handler(m)

    def _key_only(self, caller: _Caller) -> None:
        if caller.kind != "api_key":
            status = self.config.bearer_key_only_status
            raise _Problem(
                status,
                "This endpoint requires an API key",
                None if status == _FORBIDDEN else "Unauthorized",
            )

    def _site_for(self, site_id: int, caller: _Caller) -> SiteModel:
        m = self.fleet.model_for(site_id)
        if m is None:
            status = self.config.unknown_site_status
            raise _Problem(
                status, f"Site {site_id} not found" if status == _NOT_FOUND else "Access denied"
            )
        if caller.grant is not None:
            if caller.grant.site_id != site_id:
                raise _Problem(403, "The access token does not grant access to this site")
        elif m.account != caller.account:
            raise _Problem(403, "Access denied")
        return m

    # ----- parameters --------------------------------------------------------------------

    @staticmethod
    def _int(q: dict[str, list[str]], name: str, default: int, lo: int, hi: int) -> int:
        raw = q.get(name)
        if not raw:
            return default
        try:
            value = int(raw[0])
        except ValueError:
            raise _Problem(400, f"Parameter {name} must be an integer") from None
        if not lo <= value <= hi:
            raise _Problem(400, f"Parameter {name} must be between {lo} and {hi}")
        return value

    def _bool(self, q: dict[str, list[str]], name: str, default: bool) -> bool:
        raw = q.get(name)
        if not raw:
            return default
        v = raw[0].lower()
        if v not in {"true", "false"}:
            raise _Problem(400, f"Parameter {name} must be true or false")
        return v == "true"

    def _window(
        self,
        m: SiteModel,
        q: dict[str, list[str]],
        now: float,
        allowed: frozenset[str] | None,
        *,
        capped: bool = True,
    ) -> tuple[float, float, str, str, str]:
        """Return ``(ws, we, period.from, period.to, resolution)``; 400 when invalid.

        ``capped=False`` skips the span cap (totals such as ``/overview`` have no
        resolution, so the reference gives them no cap).
        """
        cfg = self.config
        res = q.get("resolution", ["QUARTER_HOUR"])[0]
        if res not in RESOLUTIONS:
            raise _Problem(
                400, f"Invalid resolution {res[:20]!r}; expected one of {', '.join(RESOLUTIONS)}"
            )
        if allowed is not None and res not in allowed:
            raise _Problem(400, f"Resolution {res} is not supported by this endpoint")
        tz = zone(m.tz)
        f_raw = q.get("from", [None])[0]
        t_raw = q.get("to", [None])[0]
        defaulted = f_raw is None and t_raw is None
        if (f_raw is None) != (t_raw is None) and not cfg.allow_single_bound:
            raise _Problem(400, "Both from and to are required, or neither")
        f_dt = t_dt = None
        try:
            if f_raw is None:
                ws, f_str = self._midnight(m.tz, now)
            else:
                f_dt = parse_request_time(f_raw, tz, cfg.time_input)
                ws = f_dt.timestamp()
                f_str = f_dt.isoformat()
            if t_raw is None:
                we = now
                t_str = self._now_text(m.tz, now)
            else:
                t_dt = parse_request_time(t_raw, tz, cfg.time_input)
                we = t_dt.timestamp()
                t_str = t_dt.isoformat()
        except BadTime as exc:
            raise _Problem(400, str(exc)) from None
        if ws >= we:
            raise _Problem(400, "from must be before to")
        span = we - ws
        if cfg.span_clock == "wall" and f_dt is not None and t_dt is not None:
            span = (t_dt.replace(tzinfo=None) - f_dt.replace(tzinfo=None)).total_seconds()
        cap = cfg.span_caps.get(res)
        if (
            capped
            and cap is not None
            and (not defaulted or cfg.cap_default_window)
            and span > cap.total_seconds()
        ):
            raise _Problem(
                400,
                f"The requested period exceeds the maximum allowed for resolution {res} "
                f"({_human(cap.total_seconds())})",
            )
        return ws, we, f_str, t_str, res

    def _midnight(self, tz_name: str, now: float) -> tuple[float, str]:
        """Return site-local midnight before ``now`` and its ISO text (cached)."""
        key = (tz_name, now)
        got = self._midnights.get(key)
        if got is None:
            if len(self._midnights) > 4096:  # noqa: PLR2004
                self._midnights.clear()
            start = float(day_bounds(tz_name, local_ordinal(now, zone(tz_name)))[0])
            got = self._midnights[key] = (start, iso_local(start, zone(tz_name)))
        return got

    def _now_text(self, tz_name: str, now: float) -> str:
        """Return ``now`` as the API formats a defaulted ``period.to`` (cached)."""
        key = (tz_name, now)
        got = self._now_texts.get(key)
        if got is None:
            if len(self._now_texts) > 4096:  # noqa: PLR2004
                self._now_texts.clear()
            got = self._now_texts[key] = format_now(now, zone(tz_name))
        return got

    def _unit(
        self, q: dict[str, list[str]], table: Mapping[str, float], default: str
    ) -> tuple[str, float]:
        raw = q.get("unit")
        if not raw or not self.config.honour_unit:
            return default, 1.0
        unit = raw[0].upper()
        if unit not in table:
            raise _Problem(400, f"Invalid unit {raw[0][:10]!r}; expected one of {', '.join(table)}")
        return unit, table[unit]

    # ----- site endpoints ------------------------------------------------------------------

    def _site_json(self, m: SiteModel, *, details: bool) -> dict[str, object]:
        tz = zone(m.tz)
        install = day_bounds(m.tz, m.install_ordinal)[0]
        obj: dict[str, object] = {
            "siteId": m.site_id,
            "name": m.name,
            "peakPower": m.peak_kw,
            "installationDate": iso_local(install, tz),
            "location": {
                "address": m.address,
                "city": m.city,
                "state": m.state,
                "zip": m.zip,
                "country": m.country,
                "timezone": m.tz,
            },
            "activationStatus": m.activation,
            "note": m.note,
        }
        if details:
            now = self.now()
            last = int((now - self.fleet.publish_delay) // QH) * QH
            obj["accountId"] = m.account_id
            obj["lastUpdateTime"] = iso_local(max(last, install), tz)
        return obj

    def _sites(self, q: dict[str, list[str]], account: str) -> object:
        cfg = self.config
        page = self._int(q, "page", 1, 1, 10**9)
        size = self._int(q, "sites-in-page", cfg.sites_page_size, 1, cfg.sites_page_max)
        total = self.fleet.account_size(account)
        first = (page - 1) * size
        items = [
            self._site_json(
                self.fleet.model(self.fleet.account_site_index(account, p)), details=False
            )
            for p in range(first, min(total, first + size))
        ]
        if cfg.sites_shape == "bare":
            return items
        return {
            "sites": {"count": total if cfg.sites_count == "total" else len(items), "site": items}
        }

    def _site_details(self, m: SiteModel) -> object:
        obj = self._site_json(m, details=True)
        return {"site": obj} if self.config.site_details_wrapped else obj

    def _overview(
        self, m: SiteModel, q: dict[str, list[str]], _caller: _Caller, now: float
    ) -> object:
        ws, we, *_ = self._window(m, q, now, None, capped=self.config.cap_overview)
        s = self.fleet.window_sums(m, ws, we, now=now)
        p_unit, c_unit = self.config.overview_units
        p_div, c_div = _ENERGY_UNITS[p_unit], _ENERGY_UNITS[c_unit]
        production = s[PV]
        if production is None and we > day_bounds(m.tz, m.install_ordinal)[0]:
            production = 0
        meter = m.has_meter
        battery = bool(m.batteries) and meter

        def val(v: int | None, div: float, present: bool = True) -> float | None:
            if v is None or not present:
                return None
            return float(v) if div == 1.0 else v / div

        obj: dict[str, object] = {
            "siteId": m.site_id,
            "production": {
                "total": val(production, p_div),
                "unit": p_unit,
                "toSelfConsumption": val(s[SELF], p_div, meter),
                "toStorage": val(s[CHARGE], p_div, battery),
                "toGrid": val(s[EXPORT], p_div, meter),
            },
            "consumption": {
                "total": val(s[LOAD], c_div, meter),
                "unit": c_unit,
                "fromPv": val(s[SELF], c_div, meter),
                "fromStorage": val(s[DISCHARGE], c_div, battery),
                "fromGrid": val(s[IMPORT], c_div, meter),
            },
        }
        if self.config.overview_performance:
            obj["performance"] = self._perf_values(m, production)
        return obj

    @staticmethod
    def _perf_values(m: SiteModel, production: int | None) -> dict[str, float | None]:
        if production is None:
            return {"specificYield": None, "performanceRatio": None}
        return {
            "specificYield": round(production / 1000.0 / m.peak_kw, 3),
            "performanceRatio": round(min(0.95, m.eff * 1.08), 3),
        }

    def _performance(self, m: SiteModel, q: dict[str, list[str]], now: float) -> object:
        ws, we, *_ = self._window(m, q, now, None, capped=self.config.cap_overview)
        production = self.fleet.window_sums(m, ws, we, now=now)[PV]
        return self._perf_values(m, production)

    def _measurements(
        self,
        m: SiteModel,
        q: dict[str, list[str]],
        now: float,
        *,
        getter: Getter,
        kind: Kind,
        allowed: frozenset[str],
        units: Mapping[str, float],
        base_unit: str,
        stamp_end: bool = False,
        day_total: Callable[[int], float | None] | None = None,
    ) -> object:
        ws, we, f_str, t_str, res = self._window(m, q, now, allowed)
        unit, div = self._unit(q, units, base_unit)
        pts = self.fleet.measure(
            m,
            ws,
            we,
            res,
            getter=getter,
            kind=kind,
            now=now,
            stamp_end=stamp_end,
            day_total=day_total,
        )
        return {
            "period": {"from": f_str, "to": t_str},
            "unit": unit,
            "resolution": res,
            "values": _values(pts, div, kind),
        }

    def _energy(
        self, m: SiteModel, q: dict[str, list[str]], _caller: _Caller, now: float
    ) -> object:
        fleet = self.fleet
        return self._measurements(
            m,
            q,
            now,
            getter=_site_pv,
            kind="sum",
            allowed=self.config.energy_resolutions,
            units=_ENERGY_UNITS,
            base_unit="WH",
            day_total=lambda o: fleet.pv_total(m, o),
        )

    def _power(self, m: SiteModel, q: dict[str, list[str]], _caller: _Caller, now: float) -> object:
        return self._measurements(
            m,
            q,
            now,
            getter=_site_power,
            kind="power",
            allowed=self.config.power_resolutions,
            units=_POWER_UNITS,
            base_unit="W",
        )

    def _devices(
        self, m: SiteModel, q: dict[str, list[str]], _caller: _Caller, _now: float
    ) -> object:
        raw = q.get("types") or ["INVERTER"]
        types: list[str] = []
        for item in raw:
            types.extend(item.split(",") if self.config.types_comma_separated else [item])
        for t in types:
            if t not in _DEVICE_TYPES:
                raise _Problem(
                    400,
                    f"Invalid device type {t[:30]!r}; expected one of {_TYPES_TEXT}",
                )
        wanted = set(types)
        tz = zone(m.tz)
        out: list[dict[str, object]] = []
        if "INVERTER" in wanted:
            out.extend(
                {
                    "type": "INVERTER",
                    "serialNumber": inv.serial,
                    "manufacturer": "SolarEdge",
                    "partNumber": inv.part_number,
                    "createdAt": iso_local(inv.created, tz),
                    "firmwareVersion": inv.firmware_version,
                    "connectedTo": None,
                    "active": True,
                    "nameplate": 0,
                    "name": inv.name,
                    "form": None,
                    "communicationType": inv.comm,
                    "firmware": inv.firmware,
                    "connectedOptimizers": inv.optimizers,
                }
                for inv in m.inverters
            )
        if "OPTIMIZER" in wanted:
            for i, inv in enumerate(m.inverters):
                for j in range(inv.optimizers):
                    h = mix64(m.key ^ ((i + 1) << 20) ^ (j + 1))
                    out.append(
                        {
                            "type": "OPTIMIZER",
                            "serialNumber": f"{h >> 32:08X}-{h & 0xFF:02X}",
                            "manufacturer": "SolarEdge",
                            "partNumber": "S440-1GM4MRM",
                            "createdAt": iso_local(inv.created, tz),
                            "firmwareVersion": None,
                            "connectedTo": inv.serial,
                            "active": True,
                            "nameplate": 440,
                            "name": f"Optimizer {i + 1}.1.{j + 1}",
                            "form": None,
                        }
                    )
        if "METER" in wanted:
            out.extend(
                {
                    "type": "METER",
                    "serialNumber": meter.serial,
                    "manufacturer": "SolarEdge",
                    "partNumber": meter.part_number,
                    "createdAt": iso_local(meter.created, tz),
                    "firmwareVersion": "1.2.3",
                    "connectedTo": meter.connected_to,
                    "active": True,
                    "nameplate": 0,
                    "name": meter.name,
                    "form": None,
                    "communicationType": "RS485",
                    "meterType": meter.meter_type,
                }
                for meter in m.meters
            )
        if "BATTERY" in wanted:
            out.extend(
                {
                    "type": "BATTERY",
                    "serialNumber": bat.serial,
                    "manufacturer": "SolarEdge",
                    "partNumber": bat.part_number,
                    "createdAt": iso_local(bat.created, tz),
                    "firmwareVersion": "DCDC 1.0.21",
                    "connectedTo": bat.connected_to,
                    "active": True,
                    "nameplate": bat.capacity_wh,
                    "name": bat.name,
                    "form": None,
                    "communicationType": "RS485",
                }
                for bat in m.batteries
            )
        return out

    def _alerts_of(self, m: SiteModel, now: float, only_open: bool) -> list[dict[str, object]]:
        tz = zone(m.tz)
        out: list[dict[str, object]] = []
        for alert_id, kind, first, last, closed, impact, inv_idx in m.alerts:
            if first > now:
                continue
            status = "OPEN" if closed is None or closed > now else "CLOSED"
            if only_open and status != "OPEN":
                continue
            inv = m.inverters[inv_idx]
            out.append(
                {
                    "alertId": alert_id,
                    "siteId": m.site_id,
                    "type": kind,
                    "category": alert_category(kind),
                    "impact": impact,
                    "status": status,
                    "firstTrigger": iso_local(first, tz),
                    "lastTrigger": iso_local(min(last, now), tz),
                    "component": {"name": inv.name, "serialNumber": inv.serial},
                    "errorCodes": [100 + 3 * (alert_id % 40)],
                }
            )
        return out

    def _alert_params(self, q: dict[str, list[str]]) -> tuple[int, int, bool]:
        cfg = self.config
        page = self._int(q, "page", 1, 1, 10**9)
        size = self._int(q, "alerts-in-page", cfg.alerts_page_size, 1, cfg.alerts_page_max)
        return page, size, self._bool(q, "only-open", cfg.only_open_default)

    def _alerts(
        self, m: SiteModel, q: dict[str, list[str]], _caller: _Caller, now: float
    ) -> object:
        page, size, only_open = self._alert_params(q)
        items = self._alerts_of(m, now, only_open)
        return items[(page - 1) * size : page * size]

    def _fleet_alerts(self, q: dict[str, list[str]], account: str, now: float) -> object:
        page, size, only_open = self._alert_params(q)
        skip = (page - 1) * size
        out: list[dict[str, object]] = []
        index = self._alert_index.get(account)
        if index is None:
            fleet = self.fleet
            index = [
                fleet.account_site_index(account, p)
                for p in range(fleet.account_size(account))
                if fleet.model(fleet.account_site_index(account, p)).alerts
            ]
            self._alert_index[account] = index
        for i in index:
            items = self._alerts_of(self.fleet.model(i), now, only_open)
            if skip >= len(items):
                skip -= len(items)
                continue
            out.extend(items[skip:])
            skip = 0
            if len(out) >= size:
                break
        return out[:size]

    def _environmental_benefits(
        self, m: SiteModel, q: dict[str, list[str]], _caller: _Caller, now: float
    ) -> object:
        system = (q.get("unit") or ["METRIC"])[0].upper()
        if system not in {"METRIC", "IMPERIAL"}:
            raise _Problem(400, "Parameter unit must be METRIC or IMPERIAL")
        start = day_bounds(m.tz, m.install_ordinal)[0]
        kwh = 0.0
        if now > start:
            total = self.fleet.window_sums(m, start, now, now=now, flows=1)[PV]
            kwh = (total or 0) / 1000.0
        co2_kg = kwh * 0.4
        if system == "IMPERIAL":
            co2: dict[str, object] = {"value": round(co2_kg * 2.20462, 2), "unit": "LB"}
        else:
            co2 = {"value": round(co2_kg, 2), "unit": "KG"}
        return {
            "siteId": m.site_id,
            "unit": system,
            "co2Emissions": co2,
            "treesPlanted": round(co2_kg / 21.77, 2),
            "lightBulbs": round(kwh / 0.06 / 365.0, 2),
            "evMiles": round(kwh * 3.3, 2),
        }

    def _power_flow(
        self, m: SiteModel, _q: dict[str, list[str]], caller: _Caller, now: float
    ) -> object:
        if not self.config.is_advanced(caller.account):
            raise _Problem(403, "This endpoint requires an Advanced Monitoring subscription")
        pub = now - self.fleet.publish_delay - QH
        last = int(pub // QH) * QH
        ordinal = local_ordinal(last, zone(m.tz))
        start = day_bounds(m.tz, ordinal)[0]
        k = (last - start) // QH
        pv_w = load_w = grid_w = bat_w = 0.0
        soe = None
        if ordinal >= m.install_ordinal:
            d = self.fleet.day(m, ordinal)
            pv_w = float(d.pv_power[k] or 0.0)
            if m.has_meter:
                load_w = float((d.q[LOAD][k] or 0) * 4)
                grid_w = float(((d.q[IMPORT][k] or 0) - (d.q[EXPORT][k] or 0)) * 4)
            if m.batteries and d.q[CHARGE][k] is not None:
                bat_w = float(((d.q[CHARGE][k] or 0) - (d.q[DISCHARGE][k] or 0)) * 4)
                soc = d.q[7][k]
                soe = None if soc is None else round(100.0 * soc / m.capacity_wh, 1)
        flow: dict[str, object] = {
            "updateRefreshRate": 3,
            "unit": "kW",
            "connections": [{"from": "PV", "to": "Load"}, {"from": "GRID", "to": "Load"}],
            "GRID": {"status": "Active", "currentPower": round(grid_w / 1000.0, 3)},
            "LOAD": {"status": "Active", "currentPower": round(load_w / 1000.0, 3)},
            "PV": {
                "status": "Active" if pv_w > 0 else "Idle",
                "currentPower": round(pv_w / 1000.0, 3),
            },
        }
        if m.batteries:
            flow["STORAGE"] = {
                "status": "Charging" if bat_w > 0 else ("Discharging" if bat_w < 0 else "Idle"),
                "currentPower": round(abs(bat_w) / 1000.0, 3),
                "chargeLevel": soe,
                "critical": False,
            }
        return {"siteCurrentPowerFlow": flow}

    # ----- devices ---------------------------------------------------------------------

    def _devices_of(self, m: SiteModel, family: str) -> Sequence[object]:
        if family == "inverters":
            return m.inverters
        if family == "meters":
            return m.meters
        return m.batteries

    def _telemetry(
        self,
        m: SiteModel,
        family: str,
        serials: list[str] | None,
        q: dict[str, list[str]],
        now: float,
    ) -> object:
        cfg = self.config
        ws, we, f_str, t_str, res = self._window(m, q, now, cfg.energy_resolutions)
        devices = self._devices_of(m, family)
        chosen: list[int]
        if serials is None:
            chosen = list(range(len(devices)))
        else:
            by_serial = {getattr(d, "serial", ""): i for i, d in enumerate(devices)}
            missing = [s for s in serials if s not in by_serial]
            if missing:
                status = cfg.unknown_site_status
                raise _Problem(
                    status,
                    f"Unknown serial number {missing[0][:20]!r}"
                    if status == _NOT_FOUND
                    else "Access denied",
                )
            chosen = [by_serial[s] for s in serials]
        subdaily = res in {"QUARTER_HOUR", "HOUR"}
        fam: dict[str, object] = {}
        specs = FAMILY_METRICS[family]
        for i in chosen:
            dev = devices[i]
            names = getattr(dev, "metrics", None) or tuple(specs)
            series: dict[str, object] = {}
            for name in names:
                spec = specs[name]
                if spec.subdaily and not subdaily:
                    continue
                getter = device_getter(
                    m,
                    family,
                    i,
                    name,
                    soe_scale=cfg.soe_scale,
                    negative_rate=cfg.negative_storage_energy,
                )
                pts = self.fleet.measure(
                    m,
                    ws,
                    we,
                    res,
                    getter=getter,
                    kind=spec.kind,
                    now=now,
                    stamp_end=name in END_STAMPED,
                )
                series[name] = {"unit": spec.base_unit, "values": _values(pts, 1.0, spec.kind)}
            fam[getattr(dev, "serial", "")] = series
        return {"period": {"from": f_str, "to": t_str}, "resolution": res, family: fam}

    def _device_metric(
        self,
        m: SiteModel,
        *,
        family: str,
        serial: str,
        metric: str,
        q: dict[str, list[str]],
        now: float,
    ) -> object:
        cfg = self.config
        devices = self._devices_of(m, family)
        index = next(
            (i for i, d in enumerate(devices) if getattr(d, "serial", None) == serial), None
        )
        if index is None:
            status = cfg.unknown_site_status
            raise _Problem(
                status,
                f"Unknown serial number {serial[:20]!r}"
                if status == _NOT_FOUND
                else "Access denied",
            )
        spec = FAMILY_METRICS[family][metric]
        dev = devices[index]
        supported = getattr(dev, "metrics", None)
        if supported is not None and metric not in supported:
            raise _Problem(404, f"Metric {metric} is not measured by this device")
        getter = device_getter(
            m,
            family,
            index,
            metric,
            soe_scale=cfg.soe_scale,
            negative_rate=cfg.negative_storage_energy,
        )
        units: Mapping[str, float]
        if spec.base_unit == "WH":
            units = _ENERGY_UNITS
        elif spec.base_unit == "W":
            units = _POWER_UNITS
        elif spec.base_unit == "PERCENTAGE":
            units = {
                "PERCENTAGE": 1.0,
                "PERCENTAGE_100": 0.01 if cfg.soe_scale == "fraction" else 1.0,
            }
        else:
            units = {spec.base_unit: 1.0}
        allowed = cfg.power_resolutions if spec.subdaily else cfg.energy_resolutions
        return self._measurements(
            m,
            q,
            now,
            getter=getter,
            kind=spec.kind,
            allowed=allowed,
            units=units,
            base_unit=spec.base_unit,
            stamp_end=metric in END_STAMPED,
        )


_SITE_ROUTES: Final = {
    "overview": "_overview",
    "energy": "_energy",
    "power": "_power",
    "devices": "_devices",
    "alerts": "_alerts",
    "environmental-benefits": "_environmental_benefits",
    "power-flow": "_power_flow",
}
_KEBAB_METRICS: Final = {
    fam: {re.sub(r"([A-Z])", lambda mm: "-" + mm.group(1).lower(), name) for name in metrics}
    for fam, metrics in FAMILY_METRICS.items()
}


def _is_metric_path(family: str, metric: str) -> bool:
    return metric in _KEBAB_METRICS[family]


def _site_pv(d: Day) -> Sequence[float | None]:
    return d.q[PV]


def _site_power(d: Day) -> Sequence[float | None]:
    return d.pv_power


def _values(pts: list[Point], div: float, kind: str) -> list[dict[str, object]]:
    if div == 1.0:
        return [{"timestamp": s, "value": None if v is None else float(v)} for s, v in pts]
    digits = 7 if kind != "sum" else 12
    return [
        {"timestamp": s, "value": None if v is None else round(v / div, digits)} for s, v in pts
    ]


def _human(seconds: float) -> str:
    if seconds % 86_400 == 0:
        return f"{int(seconds // 86_400)} days"
    return f"{seconds / 3600:g} hours"


_DRIFT_ENUMS: Final = {
    "activationStatus": "DECOMMISSIONED",
    "communicationType": "LORA_MESH",
    "category": "CYBER_SECURITY",
    "meterType": "VIRTUAL_SUBMETER",
}


def _drift(obj: object, pick: float) -> object:
    """Add unknown fields everywhere and swap some enum values for unknown ones."""
    extra = f"x{int(pick * 1e6):06d}"

    def walk(o: object, depth: int) -> object:
        if isinstance(o, dict):
            out = {k: walk(v, depth + 1) for k, v in o.items()}
            for k, new in _DRIFT_ENUMS.items():
                if k in out:
                    out[k] = new
            if "alertId" in out:
                out["type"] = "GRID_FORMING_FAULT"
            if depth < 3:  # noqa: PLR2004
                out[f"unknownField{extra}"] = {"note": "added by a newer API version"}
            return out
        if isinstance(o, list):
            return [walk(v, depth + 1) for v in o]
        return o

    return walk(obj, 0)


def _malform(payload: bytes, pick: float) -> bytes:
    variant = int(pick * 4)
    if variant == 0:
        return b")]}',\n" + payload
    if variant == 1:
        return payload.replace(b":null", b":NaN", 1) if b":null" in payload else payload + b"}"
    if variant == 2:  # noqa: PLR2004
        return payload[:-1] + b",}" if payload.endswith(b"}") else payload + b","
    return payload.replace(b'"', b"'")
