"""What the simulated API answers: the `Reply`, its headers and every error body.

`ReplyWriter` builds replies the way the live gateway and CDN do (reference §10, §11):
the security headers of every response, the rate-limit headers of every gateway answer,
problem+json errors with a trace id whose first 8 hex digits are the Unix time of the
call, Kong's or a problem+json 429, the CDN's HTML error pages, and gzip-compressed 200s
for a client that accepts gzip.
"""

from __future__ import annotations

import gzip
import json
import os
import random
from email.utils import formatdate
from typing import TYPE_CHECKING, Final, Literal

import anyio

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from solaredge_async.testing._config import SimulatorConfig
    from solaredge_async.testing._limits import Admission

try:  # orjson is optional; it makes big bodies ~10x cheaper to encode.
    import orjson

    def dumps(obj: object) -> bytes:
        """Encode ``obj`` as compact JSON bytes."""
        return orjson.dumps(obj)

except ImportError:  # pragma: no cover - depends on the environment

    def dumps(obj: object) -> bytes:
        """Encode ``obj`` as compact JSON bytes."""
        return json.dumps(obj, separators=(",", ":")).encode()


__all__ = [
    "HTML",
    "JSON",
    "PROBLEM",
    "PROBLEM_TYPE",
    "UNLIMITED_PER_MINUTE",
    "Problem",
    "Reply",
    "ReplyWriter",
    "answer",
    "dumps",
    "random_hex",
    "trace_id",
]

PROBLEM_TYPE: Final = "https://se-api.stoplight.io/docs/monitoring"
JSON: Final = "application/json"
PROBLEM: Final = "application/problem+json"
HTML: Final = "text/html; charset=UTF-8"

#: The ``x-ratelimit-*-minute`` value sent when the simulator has no per-minute limit.
UNLIMITED_PER_MINUTE: Final = 1_000_000
_UNLIMITED_TEXT: Final = str(UNLIMITED_PER_MINUTE)
_LOW_128: Final = (1 << 128) - 1

#: Headers on every response of the API (§11 of the reference).
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
_KONG_LATENCY: Final = (("x-kong-upstream-latency", "12"), ("x-kong-proxy-latency", "1"))

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
#: Titles of the problem+json server errors.
SERVER_ERROR_TITLES: Final = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
_PROBLEM_TITLES: Final = {
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    410: "Gone",
}
_REFUSAL_DETAILS: Final = {
    "minute": "API rate limit exceeded",
    "monthly": "Monthly API credits exhausted",
    "concurrency": "Too many concurrent requests",
}
_METHOD_NOT_ALLOWED: Final = 405


# Request ids need to be unique, not secret: a generator seeded from the OS is ~5x cheaper
# per id than a system call for every response.
_ID_BITS: Final = random.Random(os.urandom(16))  # noqa: S311


def random_hex(nbytes: int) -> str:
    """Return ``nbytes`` random bytes as ``2 * nbytes`` lower-case hex digits."""
    return f"{_ID_BITS.getrandbits(8 * nbytes):0{2 * nbytes}x}"


def trace_id(now: float) -> str:
    """Return a 32-hex-digit trace id whose first 8 digits are ``now``'s Unix time (live)."""
    return f"{int(now) & 0xFFFFFFFF:08x}{_ID_BITS.getrandbits(96):024x}"


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether an ``Accept-Encoding`` value allows gzip (``gzip;q=0`` refuses it)."""
    if not accept_encoding or "gzip" not in accept_encoding:
        return False
    for item in accept_encoding.lower().split(","):
        name, _, params = item.partition(";")
        if name.strip() in {"gzip", "*"}:
            quality = params.strip().removeprefix("q=").strip()
            return not quality or quality.rstrip("0").rstrip(".") not in {"", "0"}
    return False


class Problem(Exception):  # noqa: N818 - an answer, not an error
    """An error answer (problem+json) raised while computing a body.

    Args:
        status: HTTP status.
        detail: The ``detail`` text.
        title: The ``title`` (default: the status's usual title).
    """

    def __init__(self, status: int, detail: str, title: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or _PROBLEM_TITLES.get(status, "Error")


class Reply:
    """What the simulated server answers, plus what the caller must still do.

    Attributes:
        status: HTTP status.
        headers: Response headers (lower-case names; no ``content-length``).
        body: Response body (gzip-compressed when ``content-encoding: gzip`` is set).
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


async def answer(  # noqa: PLR0917 - the request's parts, as both front ends hold them
    handle: Callable[..., Reply],
    clock: Callable[[], float] | None,
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes,
) -> Reply:
    """Answer one request with ``handle`` and sleep its latency fault (anyio).

    The caller sends the reply and then calls `Reply.finish` (in a ``finally``); if
    the sleep is cancelled, the slot is freed here.

    Args:
        handle: The simulator's request handler (`Simulator.handle`).
        clock: Monotonic clock (seconds) for the per-minute windows, or ``None`` for
            ``anyio.current_time()``.
        method: The HTTP method.
        path: The raw path, without the query.
        query: The raw query string.
        headers: The request headers (lower-case names).
        body: The request body.
    """
    mono = clock() if clock is not None else anyio.current_time()
    reply = handle(method, path, query, headers, body, mono=mono)
    if reply.delay > 0:
        try:
            await anyio.sleep(reply.delay)
        except BaseException:
            reply.finish()
            raise
    return reply


class ReplyWriter:
    """Builds the simulator's replies: headers, errors, 429s, CDN pages and gzip.

    Args:
        config: The settings (429 body, trace-id placement, gzip).
        per_minute: The per-minute limit, or ``None`` for none.
        now: Returns the simulator's "now", POSIX seconds (``date``, trace ids).
    """

    def __init__(
        self, config: SimulatorConfig, per_minute: int | None, now: Callable[[], float]
    ) -> None:
        self.config = config
        self.per_minute = per_minute
        self.now = now
        self._date_cache: tuple[int, str] = (0, "")
        self._limit_header = ("x-ratelimit-limit-minute", str(per_minute or UNLIMITED_PER_MINUTE))

    def date(self) -> str:
        """Return the ``date`` header for "now" (cached per second)."""
        second = int(self.now())
        cached = self._date_cache
        if cached[0] != second:
            cached = self._date_cache = (second, formatdate(second, usegmt=True))
        return cached[1]

    def headers(self, content_type: str, admission: Admission | None) -> list[tuple[str, str]]:
        """Return the gateway's headers for one answer (rate-limit headers if admitted)."""
        if admission is None:
            headers = [("content-type", content_type), ("date", self.date())]
        else:
            # The live gateway sends both headers on every response; without a
            # per-minute limit the simulator reports an unreachable one.
            remaining = admission.remaining
            headers = [
                ("content-type", content_type),
                ("date", self.date()),
                self._limit_header,
                (
                    "x-ratelimit-remaining-minute",
                    _UNLIMITED_TEXT if remaining is None else str(remaining),
                ),
            ]
        headers.extend(_STATIC_HEADERS)
        ids = _ID_BITS.getrandbits(192)  # 16 hex digits of ray id, 32 of request id
        headers.append(("cf-ray", f"{ids >> 128:016x}-FRA"))
        headers.append(("x-kong-request-id", f"{ids & _LOW_128:032x}"))
        headers.extend(_KONG_LATENCY)
        return headers

    def ok(self, payload: bytes, admission: Admission, *, gzip_ok: bool) -> Reply:
        """Return a 200 with a JSON ``payload``, gzip-compressed when allowed and enabled."""
        headers = self.headers(JSON, admission)
        if gzip_ok and self.config.gzip_responses:
            payload = gzip.compress(payload, compresslevel=1, mtime=0)
            headers.append(("content-encoding", "gzip"))
            headers.append(("vary", "accept-encoding"))
        return Reply(200, headers, payload)

    def json(self, status: int, obj: object, admission: Admission | None) -> Reply:
        """Return a plain JSON answer (OAuth) with the gateway's headers."""
        return Reply(status, self.headers(JSON, admission), dumps(obj))

    def problem(self, problem: Problem, admission: Admission | None) -> Reply:
        """Return ``problem`` as problem+json with a fresh trace id."""
        body = dumps(
            {
                "type": PROBLEM_TYPE,
                "title": problem.title,
                "status": problem.status,
                "detail": problem.detail,
                "traceId": trace_id(self.now()),
            }
        )
        headers = self.headers(PROBLEM, admission)
        if problem.status == _METHOD_NOT_ALLOWED:
            headers.append(("allow", "GET"))
        return Reply(problem.status, headers, body)

    def unauthorized(self, detail: str, admission: Admission) -> Reply:
        """Return the gateway's 401 (trace id at the top or in ``properties``)."""
        obj: dict[str, object] = {
            "type": PROBLEM_TYPE,
            "title": "Unauthorized - Authentication Failed",
            "status": 401,
            "detail": detail,
        }
        if self.config.trace_id_in_properties:
            obj["instance"] = None
            obj["properties"] = {"traceId": trace_id(self.now())}
        else:
            obj["traceId"] = trace_id(self.now())
        return Reply(401, self.headers(PROBLEM, admission), dumps(obj))

    def refused(self, admission: Admission) -> Reply:
        """Return the 429 for a refused call (per-minute, monthly or concurrency)."""
        if self.config.rate_limit_body == "kong":
            body = b'{"message":"API rate limit exceeded"}'
            content_type = JSON
        else:
            body = dumps(
                {
                    "type": PROBLEM_TYPE,
                    "title": "Too Many Requests",
                    "status": 429,
                    "detail": _REFUSAL_DETAILS.get(admission.verdict, "API rate limit exceeded"),
                    "traceId": trace_id(self.now()),
                }
            )
            content_type = PROBLEM
        headers = self.headers(content_type, admission)
        retry_after = admission.retry_after
        if retry_after is not None:
            headers.append(("retry-after", str(retry_after)))
            if admission.verdict != "concurrency" and self.per_minute is not None:
                headers.append(("ratelimit-limit", str(self.per_minute)))
                headers.append(("ratelimit-remaining", "0"))
                headers.append(("ratelimit-reset", str(retry_after)))
        return Reply(429, headers, body)

    def cdn_error(self, pick: float) -> Reply:
        """Return a CDN edge's HTML error page (no gateway or rate-limit headers)."""
        codes = tuple(_HTML_TITLES)
        code = codes[min(len(codes) - 1, int(pick * len(codes)))]
        ray = f"{random_hex(8)}-FRA"
        body = _HTML_PAGE.format(code=code, title=_HTML_TITLES[code], ray=ray).encode()
        headers = [
            ("content-type", HTML),
            ("date", self.date()),
            ("server", "cloudflare"),
            ("cf-ray", ray),
            ("cache-control", "private, max-age=0, no-store, no-cache, must-revalidate"),
        ]
        return Reply(code, headers, body)

    def no_route(self) -> Reply:
        """Return the gateway's own 404 for a path outside the API's mount point."""
        return Reply(
            404, self.headers(JSON, None), b'{"message":"no Route matched with those values"}'
        )
