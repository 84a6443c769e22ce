"""The request engine: retry → limiter → concurrency bound → transport.

`Engine.request` is the one path every API call takes. Each attempt

1. takes a concurrency slot (a semaphore no larger than the transport's pool, so
   requests never queue inside it; taken without a loop turn when one is free),
2. takes a rate-limiter token (the limiter belongs to the credential),
3. sends the request, reads the body (bounded in size), counts one credit,
4. learns the server's ``x-ratelimit-*`` headers and classifies the answer,

and gives the slot back before any retry backoff is slept.

The hot path: when the client owns a `FastTransport` (the default), each attempt is framed
as bytes from a cached template (request line, the base URL's headers framed once, the
credential's headers framed once per credential) and sent with `FastTransport.fetch`,
which hands back the status, the raw header pairs and the whole body in one buffer: no
`httpx.Request`, `httpx.Response` or `httpx.Headers` is built. Any other transport the
client owns gets an `httpx.Request` from the same template through
``handle_async_request``, skipping what `httpx.AsyncClient.send` would do that the client
never uses (cookies, redirects, the auth flow, event hooks). A caller's own
`httpx.AsyncClient` still goes through its ``send``. Every way, the body is read raw
(within the cap) and decoded here, a bounded chunk at a time
(`transports._decode.BodyDecoder`), so no ``content-encoding`` can grow memory past the cap.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, TypeAlias, cast
from urllib.parse import urlencode

import anyio
import httpx

from solaredge_async import errors
from solaredge_async._credentials import ApiKeyCredential
from solaredge_async._retry import call_with_retries, is_retryable
from solaredge_async._usage import Ledger, RequestEvent
from solaredge_async.limits._headers import int_header, parse_retry_after
from solaredge_async.transports._decode import (
    ACCEPT_ENCODING,
    BodyDecoder,
    DecodingFailedError,
    TooLargeError,
)
from solaredge_async.transports._fast import BodyTooLargeError, FastTransport

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterable, Callable

    from solaredge_async._credentials import Credential
    from solaredge_async._retry import RetryPolicy
    from solaredge_async.limits._bucket import RateLimiter

__all__ = ["Engine", "QueryParams", "Response"]

logger = logging.getLogger(__name__)

#: Query parameters: a sequence of pairs, so that a name can repeat (``types``).
QueryParams: TypeAlias = Sequence[tuple[str, str]]

#: The largest body the client reads (bytes); no real response comes close.
DEFAULT_MAX_BODY = 32 * 1024 * 1024

#: Paths the fast URL builder takes as they are (anything else goes through httpx's parser).
_PLAIN_PATH = re.compile(r"[A-Za-z0-9/._~!$&'()*+,;=:@%-]*")

#: Encoded query strings kept by a client (the cache starts over when full).
_QUERY_CACHE = 512

_DIAGNOSTIC_HEADERS = (
    "content-type",
    "x-ratelimit-limit-minute",
    "x-ratelimit-remaining-minute",
    "retry-after",
    "x-kong-request-id",
    "cf-ray",
)


class _Call(NamedTuple):
    """What one call sends, the same on every attempt."""

    method: str
    path: str
    params: QueryParams
    json_body: Mapping[str, object] | None


class Response:
    """A successful answer: status, headers and the raw body."""

    __slots__ = ("content", "headers", "status_code")

    def __init__(self, status_code: int, headers: Mapping[str, str], content: bytes) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content


class Engine:
    """Sends attempts for one credential through its limiter and concurrency bound.

    Not public: `SolarEdgeClient` owns one and builds every call on `request`.
    """

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        base_url: str,
        credential: Credential,
        limiter: RateLimiter | None,
        max_concurrency: int,
        retry: RetryPolicy,
        ledger: Ledger,
        secrets: Callable[[], Sequence[str]],
        on_request: Callable[[RequestEvent], object] | None = None,
        max_body: int = DEFAULT_MAX_BODY,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.http = http
        #: Set when the client owns its transport: attempts skip `AsyncClient.send`.
        self.transport = transport
        #: The default transport, sent to without building httpx's request and response.
        self._fast = transport if isinstance(transport, FastTransport) else None
        self.base_url = base_url.rstrip("/")
        self._template = _Template(self.base_url, http)
        self.credential = credential
        self.limiter = limiter
        self.slots = _Slots(max_concurrency)
        self.retry = retry
        self.ledger = ledger
        self._secrets = secrets
        self.on_request = on_request
        self.max_body = max_body

    async def request(
        self,
        method: str,
        path: str,
        params: QueryParams = (),
        *,
        json_body: Mapping[str, object] | None = None,
    ) -> Response:
        """Make one call, with retries; return the successful answer.

        Raises:
            QuotaExhaustedError: The monthly credits are used up (locally or now).
            APIStatusError: An error status that is not retried, or retries ran out.
            TransportError: No answer, and retries ran out.
            TimeoutError: The call's deadline ran out.
        """
        ledger = self.ledger
        if ledger.quota_exhausted:
            raise errors.QuotaExhaustedError(
                status_code=429,
                method=method,
                path=path,
                title="Monthly credits used up",
                detail="refused locally, no request sent",
            )
        ledger.calls += 1
        call = _Call(method, path, params, json_body)

        async def attempt(number: int) -> Response:
            try:
                return await self._attempt(call, number, renew=True)
            except _Renewed:
                # The bearer token was refused and its provider renews it: once more,
                # through the limiter like every attempt (it costs a credit).
                return await self._attempt(call, number, renew=False)

        def on_retry(_number: int) -> None:
            ledger.retries += 1

        pause = self.limiter.pause if self.limiter is not None else _no_pause
        deadline = self.retry.deadline
        if deadline is None:
            return await call_with_retries(self.retry, attempt, pause=pause, on_retry=on_retry)
        at = anyio.current_time() + deadline
        first: Exception | None = None
        if self._unscoped_first(call):
            # Nothing in this attempt waits but the transport, which ends its own
            # timers by the deadline: no cancel scope (and no timer) of its own, which
            # costs as much as the rest of the engine. Retries run in the scope below.
            try:
                return await self._attempt(call, 1, deadline=at)
            except Exception as exc:  # noqa: BLE001 - judged as call_with_retries would
                if is_retryable(exc) and anyio.current_time() >= at:
                    raise self._past_deadline(call, deadline) from None
                first = exc
        with anyio.CancelScope(deadline=at):
            return await call_with_retries(
                self.retry, attempt, pause=pause, on_retry=on_retry, first_failure=first
            )
        # Reached only when the deadline cancelled the call.
        raise self._past_deadline(call, deadline)

    def _unscoped_first(self, call: _Call) -> bool:
        """Whether attempt 1 can run bounded by the transport's timers alone.

        True on the direct path (`FastTransport.fetch`, a request it can frame) with an
        API key (its headers are at hand) and a limiter that never waits: the only
        wait left is for a connection slot, which is queueing before the attempt.
        """
        limiter = self.limiter
        return (
            self._fast is not None
            and call.json_body is None
            and (limiter is None or not limiter.may_wait)
            and isinstance(self.credential, ApiKeyCredential)
            and self._template.frames(call.path)
        )

    @staticmethod
    def _past_deadline(call: _Call, deadline: float) -> errors.RequestTimeoutError:
        return errors.RequestTimeoutError(
            f"{call.method} {call.path} did not succeed within the {deadline:g} s deadline "
            "(RetryPolicy.deadline), retries and waits included",
            method=call.method,
            path=call.path,
        )

    async def _attempt(
        self, call: _Call, number: int, *, renew: bool = False, deadline: float | None = None
    ) -> Response:
        """One attempt; ``deadline`` (event-loop time) bounds the direct path's timers."""
        method, path = call.method, call.path
        async with self.slots:
            if self.limiter is not None:
                await self.limiter.acquire()
            headers = await self.credential.headers()
            # Read for a hook or a debug log only: each read of the clock costs ~1 µs.
            started = (
                anyio.current_time()
                if self.on_request is not None or logger.isEnabledFor(logging.DEBUG)
                else 0.0
            )
            cost = 1
            failure: errors.TransportError | None = None
            try:
                status, answer, content = await self._send(call, headers, deadline)
            except httpx.HTTPError as exc:
                if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
                    cost = 0  # never reached the server
                self.ledger.credits += cost
                self._emit(method, path, None, number, started, cost, exc)
                failure = self._transport_error(exc, method, path, _sent(headers))
            except BodyTooLargeError:
                self.ledger.credits += cost
                raise self._too_large(method, path) from None
            except BaseException:
                # Cancelled (or the body was too large) after sending: still charged.
                self.ledger.credits += cost
                raise
            if failure is not None:
                if cost == 0:
                    await self._refund()
                # Raised outside the handler, so the httpx error (its text, its request,
                # the request's headers) is not kept as the __context__.
                raise failure
        self.ledger.credits += cost
        remaining = self._observe_limits(answer)
        if status < 300:  # noqa: PLR2004
            self._emit(method, path, status, number, started, cost, None)
            return Response(status, answer, content)
        error = self._status_error(
            method, path, status, answer, content, remaining, sent=_sent(headers)
        )
        self._emit(method, path, status, number, started, cost, error)
        if renew and status == 401 and self.credential.invalidate(headers):  # noqa: PLR2004
            raise _Renewed from error
        raise error

    async def _refund(self) -> None:
        """Give back the credit the limiter charged for an attempt that never left."""
        limiter = self.limiter
        if limiter is None:
            return
        with anyio.CancelScope(shield=True):
            try:
                await limiter.refund()
            except errors.SolarEdgeError as exc:
                # The attempt's own error matters more; the ledger stays one over.
                logger.warning("could not refund the credit of an unsent request: %s", exc)

    def _observe_limits(self, headers: Mapping[str, str]) -> int | None:
        """Learn the per-minute limit headers; return ``remaining`` (None if absent)."""
        limit = int_header(headers, "x-ratelimit-limit-minute")
        remaining = int_header(headers, "x-ratelimit-remaining-minute")
        if limit is not None:
            self.ledger.last_limit = limit
        if remaining is not None:
            self.ledger.last_remaining = remaining
        if self.limiter is not None:
            self.limiter.observe(limit, remaining)
        return remaining

    def _build(self, call: _Call, headers: Mapping[str, str]) -> httpx.Request:
        if self.transport is not None:
            return self._template.request(call, headers)
        return self.http.build_request(
            call.method,
            self.base_url + call.path,
            params=list(call.params) if call.params else None,
            headers={**headers, "Accept-Encoding": ACCEPT_ENCODING},
            json=call.json_body,
        )

    async def _send(
        self, call: _Call, headers: Mapping[str, str], deadline: float | None = None
    ) -> tuple[int, Mapping[str, str], bytes]:
        """Send one attempt; return the status, headers and decoded body (always closed)."""
        method, path, params, json_body = call
        fast = self._fast
        if fast is not None and json_body is None:
            template = self._template
            head = template.head(method, path, params, headers)
            if head is not None:
                # The direct path: bytes out, bytes in, nothing of httpx's models built.
                status, raw, body = await fast.fetch(
                    template.origin,
                    method,
                    head,
                    template.timeouts,
                    self.max_body,
                    deadline=deadline,
                )
                answer = _RawHeaders(raw)
                return status, answer, self._decode(answer, body, method, path)
        request = self._build(call, headers)
        transport = self.transport
        if transport is not None:
            response = await transport.handle_async_request(request)
            stream = response.stream
            try:
                content = await self._read(
                    response, cast("AsyncIterable[bytes]", stream), method, path
                )
            finally:
                await cast("httpx.AsyncByteStream", stream).aclose()
            return response.status_code, response.headers, content
        # Never follow a redirect, even with a caller's client that does: the key would
        # go to wherever the Location points, http:// included.
        response = await self.http.send(request, stream=True, follow_redirects=False)
        try:
            if response.is_stream_consumed:
                # Built in memory (a mock's ``content=``): httpx read and decoded it.
                content = self._check_size(response.content, method, path)
            else:
                content = await self._read(
                    response, cast("AsyncGenerator[bytes]", response.aiter_raw()), method, path
                )
        finally:
            await response.aclose()
        return response.status_code, response.headers, content

    def _decode(self, headers: Mapping[str, str], body: bytes, method: str, path: str) -> bytes:
        """A body read whole (within `max_body`), decoded for its content-encoding."""
        encoding = headers.get("content-encoding")
        if not encoding:
            return body
        try:
            decoder = BodyDecoder(encoding, self.max_body)
            chunks = decoder.feed(body)
            chunks.extend(decoder.finish())
        except TooLargeError:
            raise self._too_large(method, path) from None
        except DecodingFailedError as exc:
            raise self._undecodable(method, path, exc) from None
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def _read(
        self, response: httpx.Response, raw: AsyncIterable[bytes], method: str, path: str
    ) -> bytes:
        """The body, decoded, within `max_body` bytes raw and decoded alike."""
        headers: Mapping[str, str] = response.headers
        declared = int_header(headers, "content-length")
        cap = self.max_body
        if declared is not None and declared > cap:
            raise self._too_large(method, path)
        chunks: list[bytes] = []
        size = 0
        # Closed explicitly when the cap cuts the body short: trio warns about (and
        # finalises late) an async generator left to the garbage collector.
        async with _closing(raw) as body:
            async for chunk in body:
                size += len(chunk)
                if size > cap:
                    raise self._too_large(method, path)
                chunks.append(chunk)
        raw_body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        return self._decode(headers, raw_body, method, path)

    def _check_size(self, content: bytes, method: str, path: str) -> bytes:
        if len(content) > self.max_body:
            raise self._too_large(method, path)
        return content

    def _undecodable(
        self, method: str, path: str, exc: DecodingFailedError
    ) -> errors.ResponseValidationError:
        return errors.ResponseValidationError(
            f"{method} {path}: the response body cannot be decoded for its "
            f"content-encoding ({exc}); the server sent a corrupt or unsupported body",
            path=path,
        )

    def _too_large(self, method: str, path: str) -> errors.ResponseValidationError:
        return errors.ResponseValidationError(
            f"{method} {path}: the response body is larger than {self.max_body} bytes; "
            "no API response is that large, so it was not read",
            path=path,
        )

    def _emit(  # noqa: PLR0917
        self,
        method: str,
        path: str,
        status: int | None,
        attempt: int,
        started: float,
        cost: int,
        error: BaseException | None,
    ) -> None:
        hook = self.on_request
        debug = logger.isEnabledFor(logging.DEBUG)
        if hook is None and not debug:
            return
        duration = anyio.current_time() - started if started else 0.0
        if debug:
            logger.debug(
                "%s %s -> %s (attempt %d, %.3f s%s)",
                method,
                path,
                status if status is not None else "no answer",
                attempt,
                duration,
                f", {type(error).__name__}" if error is not None else "",
            )
        if hook is not None:
            hook(
                RequestEvent(
                    method=method,
                    path=path,
                    status_code=status,
                    attempt=attempt,
                    duration=duration,
                    credits=cost,
                    error=type(error).__name__ if error is not None else None,
                )
            )

    def scrub(self, text: str, extra: Sequence[str] = ()) -> str:
        """Remove every secret of the credential (and ``extra`` ones) from ``text``."""
        for secret in (*self._secrets(), *extra):
            if secret and secret in text:
                text = text.replace(secret, "[redacted]")
        return text

    def _transport_error(
        self, exc: httpx.HTTPError, method: str, path: str, sent: Sequence[str] = ()
    ) -> errors.TransportError:
        detail = self.scrub(str(exc), sent) or type(exc).__name__
        if isinstance(exc, httpx.TimeoutException):
            return errors.RequestTimeoutError(
                f"{method} {path} timed out ({type(exc).__name__}: {detail})",
                method=method,
                path=path,
            )
        return errors.TransportError(
            f"{method} {path} got no answer ({type(exc).__name__}: {detail})",
            method=method,
            path=path,
        )

    def _status_error(  # noqa: PLR0917
        self,
        method: str,
        path: str,
        status: int,
        answer: Mapping[str, str],
        content: bytes,
        remaining: int | None,
        *,
        sent: Sequence[str] = (),
    ) -> errors.APIStatusError:
        body = self.scrub(content[: errors.MAX_BODY_CHARS * 4].decode("utf-8", "replace"), sent)
        title = detail = trace_id = None
        if "json" in answer.get("content-type", "") or body.startswith("{"):
            title, detail, trace_id = _problem_fields(content)
            title = self.scrub(title, sent) if title else title
            detail = self.scrub(detail, sent) if detail else detail
            trace_id = self.scrub(trace_id, sent) if trace_id else trace_id
        headers = {
            k: self.scrub(v, sent) for k in _DIAGNOSTIC_HEADERS if (v := answer.get(k)) is not None
        }
        common = {
            "status_code": status,
            "method": method,
            "path": path,
            "title": title,
            "detail": detail,
            "trace_id": trace_id,
            "body": body,
            "headers": headers,
        }
        if status == 429:  # noqa: PLR2004
            retry_after = parse_retry_after(answer.get("retry-after"))
            if retry_after is None and remaining is not None and remaining > 0:
                self.ledger.rate_limited_monthly += 1
                self.ledger.quota_exhausted = True
                logger.warning(
                    "%s %s: monthly credits used up; further calls are refused locally",
                    method,
                    path,
                )
                return errors.QuotaExhaustedError(remaining=remaining, **common)  # type: ignore[arg-type]
            self.ledger.rate_limited_minute += 1
            return errors.RateLimitedError(
                retry_after=retry_after,
                remaining=remaining,
                **common,
            )
        return errors.error_class_for(status)(**common)  # type: ignore[arg-type]


class _Renewed(Exception):  # noqa: N818 - a signal inside the engine, never raised out
    """A 401 whose bearer token the provider renews: the attempt is made once more."""


def _no_pause(_seconds: float) -> None:
    return None


class _closing:  # noqa: N801 - used like contextlib's aclosing
    """`contextlib.aclosing` for an iterable that may have no ``aclose`` (a plain stream)."""

    __slots__ = ("_it",)

    def __init__(self, iterable: AsyncIterable[bytes]) -> None:
        self._it = iterable

    async def __aenter__(self) -> AsyncIterable[bytes]:
        return self._it

    async def __aexit__(self, *_exc: object) -> None:
        close = getattr(self._it, "aclose", None)
        if close is not None and hasattr(self._it, "ag_frame"):
            await close()


class _Template:
    """What every request of one client shares: the base URL, default headers, timeout.

    Builds `httpx.Request` objects without re-parsing the base URL for each one (httpx's
    URL parser costs about 20 µs a call; replacing the path and query of a parsed URL
    costs about one).
    """

    __slots__ = (
        "_base",
        "_base_path",
        "_base_url",
        "_cred_block",
        "_cred_source",
        "_extensions",
        "_headers",
        "_queries",
        "_ref",
        "_static",
        "origin",
        "timeouts",
    )

    def __init__(self, base_url: str, http: httpx.AsyncClient) -> None:
        self._base_url = base_url
        url = httpx.URL(base_url)
        self._base = url
        self._base_path = url.raw_path.decode("ascii").split("?", 1)[0].rstrip("/")
        ref = getattr(url, "_uri_reference", None)
        # httpx's parsed URL is a NamedTuple (httpx 0.23-0.28); any other shape, or a
        # later httpx without it, falls back to parsing each URL.
        self._ref: Any = ref if hasattr(ref, "_replace") else None
        # httpx's "Connection: keep-alive" is HTTP/1.1's default and not needed.
        self._headers: list[tuple[bytes, bytes]] = [
            (name, value)
            for name, value in http.headers.raw
            if name.lower() not in {b"accept-encoding", b"connection"}
        ]
        self._headers.append((b"Accept-Encoding", ACCEPT_ENCODING.encode("ascii")))
        self.timeouts: dict[str, float | None] = http.timeout.as_dict()
        self._extensions = {"timeout": self.timeouts}
        # For `head`: the origin, and every header line but the credential's, framed once
        # (as httpx would send them, Host first). None: requests take httpx's path.
        scheme = url.scheme
        self.origin = (scheme, url.host, url.port or (443 if scheme == "https" else 80))
        lines = httpx.Request("GET", url, headers=self._headers).headers.raw
        broken = any(b"\r" in text or b"\n" in text for pair in lines for text in pair)
        plain = scheme in {"http", "https"} and self._ref is not None and not broken
        self._static: bytes | None = (
            b"".join(name + b": " + value + b"\r\n" for name, value in lines) if plain else None
        )
        self._cred_source: Mapping[str, str] | None = None
        self._cred_block = b""
        #: Encoded query strings: a sweep asks every site for the same windows.
        self._queries: dict[tuple[tuple[str, str], ...], str] = {}

    def request(self, call: _Call, headers: Mapping[str, str]) -> httpx.Request:
        """An `httpx.Request` for the call's path under the base URL."""
        method, path, params, json_body = call
        query = urlencode(list(params)) if params else ""
        ref = self._ref
        if ref is not None and _PLAIN_PATH.fullmatch(path):
            url = httpx.URL.__new__(httpx.URL)
            url._uri_reference = ref._replace(  # noqa: SLF001
                path=self._base_path + path, query=query or None, fragment=None
            )
        else:
            url = httpx.URL(self._base_url + path + ("?" + query if query else ""))
        all_headers = [*self._headers, *((k.encode(), v.encode()) for k, v in headers.items())]
        return httpx.Request(
            method,
            url,
            headers=all_headers,
            json=json_body,
            extensions=self._extensions,
        )

    def frames(self, path: str) -> bool:
        """Whether `head` frames requests for ``path`` (else httpx's models are built)."""
        return self._static is not None and _PLAIN_PATH.fullmatch(path) is not None

    def head(
        self, method: str, path: str, params: QueryParams, headers: Mapping[str, str]
    ) -> bytes | None:
        """The request as sent (no body), or None when it must go through httpx's models.

        Raises:
            httpx.LocalProtocolError: A credential header contains a line break.
        """
        static = self._static
        if static is None or not self.frames(path):
            return None
        if headers is not self._cred_source:
            # The API key's headers are the same dict on every call: framed once.
            pairs = headers.items()
            if any("\r" in text or "\n" in text for pair in pairs for text in pair):
                raise httpx.LocalProtocolError("a request header contains a line break")
            self._cred_block = "".join(f"{k}: {v}\r\n" for k, v in pairs).encode("latin-1")
            self._cred_source = headers
        query = ""
        if params:
            key = tuple(params)
            cached = self._queries.get(key)
            if cached is None:
                if len(self._queries) >= _QUERY_CACHE:
                    self._queries.clear()
                cached = self._queries[key] = "?" + urlencode(key)
            query = cached
        target = self._base_path + path + query
        return b"".join(
            (
                f"{method} {target} HTTP/1.1\r\n".encode("ascii"),
                static,
                self._cred_block,
                b"\r\n",
            )
        )


class _RawHeaders(Mapping[str, str]):
    """A response's headers as received (byte pairs), looked up case-insensitively.

    What the engine reads of an answer: a few lookups, not worth an `httpx.Headers`
    (the names are lowered once, on the first lookup). Repeated headers are joined
    with ``", "``, as httpx does.
    """

    __slots__ = ("_map", "_raw")

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        self._raw = raw
        self._map: dict[bytes, bytes] | None = None

    def _lookup(self) -> dict[bytes, bytes]:
        raw = self._raw
        names, values = zip(*raw, strict=True) if raw else ((), ())
        found = dict(zip(map(bytes.lower, names), values, strict=True))
        if len(found) != len(raw):  # a repeated header: its values joined, in order
            found = {}
            for name, value in raw:
                key = name.lower()
                found[key] = found[key] + b", " + value if key in found else value
        self._map = found
        return found

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        found = self._map
        if found is None:
            found = self._lookup()
        value = found.get(key.lower().encode("latin-1"))
        return default if value is None else value.decode("latin-1")

    def __getitem__(self, key: str) -> str:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __iter__(self) -> Iterator[str]:
        found = self._map if self._map is not None else self._lookup()
        return (name.decode("latin-1") for name in found)

    def __len__(self) -> int:
        return len(self._map if self._map is not None else self._lookup())


class _Slots:
    """The engine's concurrency bound: a semaphore taken without a loop turn when free.

    `anyio.CapacityLimiter` yields to the event loop on every acquire, even when a slot
    is free; the request sends (a checkpoint) right after, so that turn buys nothing.
    """

    __slots__ = ("_semaphore", "total_tokens")

    def __init__(self, total: int) -> None:
        self.total_tokens = total
        self._semaphore = anyio.Semaphore(total, fast_acquire=True)

    @property
    def borrowed_tokens(self) -> int:
        """Slots in use."""
        return self.total_tokens - self._semaphore.value

    async def __aenter__(self) -> None:
        semaphore = self._semaphore
        try:
            semaphore.acquire_nowait()
        except anyio.WouldBlock:
            await semaphore.acquire()

    async def __aexit__(self, *_exc: object) -> None:
        self._semaphore.release()


def _sent(headers: Mapping[str, str]) -> tuple[str, ...]:
    """The secrets an attempt sent, to scrub from an error that echoes them.

    Read from the attempt's own headers: a bearer token changes between attempts.
    """
    return tuple(v.removeprefix("Bearer ") for v in headers.values())


def _problem_fields(content: bytes) -> tuple[str | None, str | None, str | None]:
    """``title``, ``detail`` and ``traceId`` of a problem+json body, where present."""
    try:
        data = json.loads(content[:65536])
    except (ValueError, RecursionError):
        return None, None, None
    if not isinstance(data, dict):
        return None, None, None

    def text(value: object) -> str | None:
        return str(value)[:200] if isinstance(value, str | int | float) else None

    title = text(data.get("title")) or text(data.get("error")) or text(data.get("message"))
    detail = text(data.get("detail")) or text(data.get("error_description"))
    trace = data.get("traceId")
    props = data.get("properties")
    if trace is None and isinstance(props, dict):
        trace = props.get("traceId")
    return title, detail, text(trace)
