"""Bad input from the server: whatever comes back, only library errors escape, nothing hangs.

Every endpoint method is fed generated and mutated bodies through an `httpx.MockTransport`
(wrong types, missing fields, huge numbers, NaN/Infinity tokens, deep nesting, non-UTF-8
bytes, truncated JSON, HTML pages with 200 and 5xx, empty bodies, wrong Content-Type,
garbage rate-limit headers), on a virtual clock. The only exceptions that may escape are
`solaredge_async.errors.SolarEdgeError` subclasses, and every call ends well inside a
virtual-time bound (so a retry loop or a pagination loop that never ends is caught).
"""

from __future__ import annotations

import json
from typing import Any

import anyio
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solaredge_async import RetryPolicy, SolarEdgeClient
from solaredge_async.errors import (
    APIStatusError,
    RequestTimeoutError,
    ResponseValidationError,
    SolarEdgeError,
)
from tests.reliability import _figures
from tests.reliability._support import (
    CALLS,
    HTTPX_INNER_GENERATORS,
    REFERENCE,
    SHAPES,
    endpoint_methods,
    mock_client,
    run_virtual,
)

pytestmark = pytest.mark.anyio

KEY = "server-input-KEY-0a1b2c3d4e5f"

#: Virtual seconds any one call may take, retries and waits included, before it counts
#: as hung (the retry policy's own deadline is 300 s).
HANG_LIMIT = 3 * 3600.0

HTML_PAGE = (
    b"<!DOCTYPE html><html><head><title>monitoringapi.solaredge.com | 502: Bad gateway"
    b"</title></head><body><h1>Error code 502</h1><p>Cloudflare Ray ID: 8f1e2d3c4b5a6978</p>"
    b"</body></html>"
)

#: Bodies no real response looks like: the named cases of the issue, kept small in memory.
SPECIAL_BODIES: dict[str, bytes] = {
    "empty": b"",
    "whitespace": b" \r\n\t ",
    "null": b"null",
    "html": HTML_PAGE,
    "deep arrays (10^5)": b"[" * 100_000 + b"]" * 100_000,
    "deep objects (10^5)": b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    "unclosed deep arrays": b"[" * 100_000,
    "NaN": b'{"values":[{"timestamp":"2026-05-12T05:00:00+02:00","value":NaN}]}',
    "Infinity": b'{"siteId":Infinity}',
    "-Infinity": b"[-Infinity]",
    "huge float": b'{"siteId":1e400,"peakPower":1e999}',
    "huge int": b'{"siteId":1' + b"0" * 5000 + b"}",
    "tiny float": b'{"siteId":1,"peakPower":1e-400}',
    "non-UTF-8": b'{"siteId":1,"name":"\xff\xfe\xc3("}',
    "UTF-16": '{"siteId":1}'.encode("utf-16"),
    "BOM": b'\xef\xbb\xbf{"siteId":1}',
    "lone surrogate": b'{"siteId":1,"name":"\\ud800"}',
    "NUL bytes": b'{"siteId":1,"name":"a\x00b"}\x00',
    "truncated": b'{"sites":{"count":2,"site":[{"siteId":1,"na',
    "trailing garbage": b'{"siteId":1}{"siteId":2}',
    "problem json": (
        b'{"type":"https://se-api.stoplight.io/docs/monitoring","title":"Not Found",'
        b'"status":404,"detail":"Unknown endpoint","traceId":"0f1e2d3c4b5a69788796a5b4c3d2e1f0"}'
    ),
}

#: The special bodies that are valid JSON (some endpoint may accept them).
VALID_JSON = frozenset({"null", "problem json", "tiny float"})

STATUSES = (200, 200, 200, 200, 201, 204, 301, 400, 401, 403, 404, 410, 418, 429, 500, 502, 520)
CONTENT_TYPES = (
    "application/json",
    "application/json; charset=utf-8",
    "application/problem+json",
    "text/html; charset=UTF-8",
    "text/plain",
    "application/octet-stream",
    "",
    None,
)
HEADER_VALUES = st.sampled_from(
    ["0", "1", "10", "-1", "abc", "", "1e9", "NaN", "99999999999999999999999", " 5 ", "3.5"]
)
RETRY_AFTER = st.sampled_from(
    ["0", "1", "2.5", "-5", "abc", "NaN", "inf", "1e9", "Wed, 21 Oct 2015 07:28:00 GMT", ""]
)

# --- generated bodies --------------------------------------------------------------------

HUGE_NUMBERS = st.sampled_from([10**20, -(10**20), 10**400, 1e308, -1e308, 2**63, 2**64 + 1])
JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | HUGE_NUMBERS
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


def _containers(node: Any) -> list[Any]:
    """Every dict and list inside a decoded body, the body included."""
    found = [node]
    children = node.values() if isinstance(node, dict) else node
    for child in children:
        if isinstance(child, dict | list):
            found.extend(_containers(child))
    return found


@st.composite
def mutated_json(draw: st.DrawFn, shape: str) -> bytes:
    """The shape's reference body with 1-4 structural mutations, re-serialised.

    Mutations: a value replaced by any JSON value (wrong type, huge number, NaN...), a key
    deleted, a key or item inserted, or the whole body replaced.
    """
    data = json.loads(REFERENCE[shape])
    for _ in range(draw(st.integers(1, 4))):
        if not isinstance(data, dict | list):
            break
        node = draw(st.sampled_from(_containers(data)))
        op = draw(st.sampled_from(["replace", "replace", "delete", "insert", "root"]))
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        if op == "root":
            data = draw(JSON_VALUES)
        elif op == "insert" or not keys:
            if isinstance(node, dict):
                node[draw(st.text(max_size=8))] = draw(JSON_VALUES)
            else:
                node.append(draw(JSON_VALUES))
        elif op == "delete":
            del node[draw(st.sampled_from(keys))]
        else:
            node[draw(st.sampled_from(keys))] = draw(JSON_VALUES)
    # allow_nan: NaN and Infinity go out as the bare tokens a broken server would send.
    return json.dumps(data, allow_nan=True).encode()


@st.composite
def mutated_bytes(draw: st.DrawFn, shape: str) -> bytes:
    """The shape's reference body damaged at the byte level."""
    body = REFERENCE[shape].encode()
    op = draw(st.sampled_from(["truncate", "insert", "overwrite", "number", "splice"]))
    at = draw(st.integers(0, len(body)))
    if op == "truncate":
        return body[:at]
    if op == "insert":
        return body[:at] + draw(st.binary(min_size=1, max_size=8)) + body[at:]
    if op == "overwrite":
        junk = draw(st.binary(min_size=1, max_size=8))
        return body[:at] + junk + body[at + len(junk) :]
    if op == "number":
        token = draw(
            st.sampled_from(
                [b"NaN", b"Infinity", b"-Infinity", b"1e999", b"1" + b"0" * 400, b"-0", b"0x1F"]
            )
        )
        digits = [i for i, b in enumerate(body) if chr(b).isdigit()]
        if not digits:
            return body
        i = draw(st.sampled_from(digits))
        j = i
        while j < len(body) and (chr(body[j]).isdigit() or body[j] in b".eE+-"):
            j += 1
        return body[:i] + token + body[j:]
    other = REFERENCE[draw(st.sampled_from(sorted(REFERENCE)))].encode()
    return body[:at] + other[draw(st.integers(0, len(other))) :]


def bodies(shape: str) -> st.SearchStrategy[tuple[str, bytes]]:
    """A body for ``shape``, labelled with how it was made."""
    return st.one_of(
        st.tuples(st.just("valid"), st.just(REFERENCE[shape].encode())),
        st.tuples(st.just("mutated json"), mutated_json(shape)),
        st.tuples(st.just("mutated bytes"), mutated_bytes(shape)),
        st.sampled_from(sorted(SPECIAL_BODIES.items())),
        st.tuples(
            st.just("any json"), JSON_VALUES.map(lambda v: json.dumps(v, allow_nan=True).encode())
        ),
        st.tuples(st.just("any bytes"), st.binary(max_size=64)),
        st.tuples(
            st.just("wrong shape"),
            st.sampled_from(sorted(REFERENCE)).map(lambda s: REFERENCE[s].encode()),
        ),
    )


@st.composite
def answers(draw: st.DrawFn, shape: str) -> dict[str, Any]:
    """One scripted answer: status, headers, body."""
    label, body = draw(bodies(shape))
    status = draw(st.sampled_from(STATUSES))
    headers: dict[str, str] = {}
    ctype = draw(st.sampled_from(CONTENT_TYPES))
    if ctype is not None:
        headers["content-type"] = ctype
    if draw(st.booleans()):
        headers["x-ratelimit-limit-minute"] = draw(HEADER_VALUES)
        headers["x-ratelimit-remaining-minute"] = draw(HEADER_VALUES)
    if status == 429 and draw(st.booleans()):
        headers["retry-after"] = draw(RETRY_AFTER)
    if status == 301:
        headers["location"] = "http://evil.example/v2/sites"
    return {"label": label, "status": status, "headers": headers, "body": body}


def _respond(answer: dict[str, Any]) -> httpx.Response:
    return httpx.Response(answer["status"], headers=answer["headers"], content=answer["body"])


async def _outcome(call_name: str, client: SolarEdgeClient) -> BaseException | None:
    """Run one call under the hang limit; return what it raised (None on success)."""
    try:
        with anyio.fail_after(HANG_LIMIT):
            await CALLS[call_name](client)
    except BaseException as exc:
        return exc
    return None


def _check_escaped(exc: BaseException | None, what: str) -> None:
    if exc is None:
        return
    assert isinstance(exc, SolarEdgeError), f"{what}: {type(exc).__name__} escaped: {exc!r}"
    assert str(exc)
    if isinstance(exc, APIStatusError):
        assert len(exc.body) <= 500


# --- the properties ----------------------------------------------------------------------


def test_every_endpoint_method_is_covered() -> None:
    """The call table covers every public endpoint method of the client (and no other)."""
    assert set(CALLS) == endpoint_methods()
    assert set(SHAPES) == set(CALLS)


@pytest.mark.parametrize("call_name", sorted(CALLS))
async def test_reference_bodies_parse_on_every_endpoint(call_name: str) -> None:
    """The unmutated bodies are accepted (strictly), so the properties below test real parsing."""
    body = REFERENCE[SHAPES[call_name]].encode()
    async with mock_client(
        lambda _request: httpx.Response(200, content=body), KEY, strict=True
    ) as client:
        result = await CALLS[call_name](client)
        assert result
        assert client.usage.credits >= 1


@settings(
    max_examples=800,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data(), backend=st.sampled_from(["asyncio", "trio"]))
def test_any_single_answer_raises_only_library_errors(data: st.DataObject, backend: str) -> None:
    """One scripted answer for every attempt of any call: a result or a library error."""
    call_name = data.draw(st.sampled_from(sorted(CALLS)), label="call")
    answer = data.draw(answers(SHAPES[call_name]), label="answer")
    limited = data.draw(st.booleans(), label="rate limiter on")
    _figures.server_inputs[answer["label"]] += 1

    async def main() -> BaseException | None:
        async with mock_client(
            lambda _request: _respond(answer),
            KEY,
            requests_per_minute=10 if limited else None,
            retry=RetryPolicy(max_attempts=3, initial_backoff=1.0, jitter=0.5),
        ) as client:
            return await _outcome(call_name, client)

    exc = run_virtual(backend, main)
    _check_escaped(exc, f"{call_name} <- {answer['status']} {answer['label']}")


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data(), backend=st.sampled_from(["asyncio", "trio"]))
def test_a_sequence_of_answers_raises_only_library_errors(
    data: st.DataObject, backend: str
) -> None:
    """Attempts, pages and windows each get their own answer: a result or a library error."""
    call_name = data.draw(st.sampled_from(sorted(CALLS)), label="call")
    script = data.draw(st.lists(answers(SHAPES[call_name]), min_size=1, max_size=8))
    for answer in script:
        _figures.server_inputs[answer["label"]] += 1
    served: list[int] = []

    def handler(_request: httpx.Request) -> httpx.Response:
        served.append(1)
        if len(served) > 500:
            # A loop that never sleeps never lets the virtual clock reach the hang limit.
            raise RuntimeError("runaway: more than 500 requests for one call")
        # A server that keeps answering past the script repeats its last answer.
        return _respond(script[min(len(served), len(script)) - 1])

    async def main() -> BaseException | None:
        async with mock_client(
            handler, KEY, retry=RetryPolicy(max_attempts=4, initial_backoff=0.5)
        ) as client:
            return await _outcome(call_name, client)

    exc = run_virtual(backend, main)
    _check_escaped(exc, f"{call_name} <- {[a['label'] for a in script]}")


@pytest.mark.parametrize("call_name", sorted(CALLS))
@pytest.mark.parametrize("label", sorted(SPECIAL_BODIES))
def test_named_bad_bodies_on_every_endpoint(call_name: str, label: str) -> None:
    """Each named bad body, as a 200 and as a 502, on every endpoint: library errors only."""
    for status, ctype in ((200, "application/json"), (502, "text/html; charset=UTF-8")):
        answer = {
            "status": status,
            "headers": {"content-type": ctype},
            "body": SPECIAL_BODIES[label],
        }
        _figures.server_inputs[label] += 1

        async def main(answer: dict[str, Any] = answer) -> BaseException | None:
            async with mock_client(
                lambda _request: _respond(answer),
                KEY,
                retry=RetryPolicy(max_attempts=2, initial_backoff=1.0),
            ) as client:
                return await _outcome(call_name, client)

        exc = run_virtual("trio" if len(label) % 2 else "asyncio", main)
        _check_escaped(exc, f"{call_name} <- {status} {label}")
        if status == 200 and label not in VALID_JSON:
            # None of these bodies is a valid answer to any endpoint.
            assert isinstance(exc, ResponseValidationError), (call_name, label, exc)


# --- pagination that never ends -----------------------------------------------------------


@pytest.mark.parametrize("call_name", ["sites", "site_pages", "alerts", "site_alerts"])
async def test_a_server_that_ignores_the_page_parameter_does_not_loop_forever(
    call_name: str,
) -> None:
    """Every page full and identical (``page`` ignored): pagination stops, it does not spin."""
    shape = SHAPES[call_name]
    served: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        served.append(request)
        if len(served) > 50:
            raise RuntimeError("runaway pagination")
        return httpx.Response(200, content=REFERENCE[shape].encode())

    page_size = 2 if shape == "sites" else 1
    async with mock_client(handler, KEY) as client:
        with anyio.fail_after(60):
            if call_name == "sites":
                got: list[object] = [s async for s in client.sites(page_size=page_size)]
            elif call_name == "site_pages":
                got = [p async for p in client.site_pages(page_size=page_size)]
            elif call_name == "alerts":
                got = [a async for a in client.alerts(page_size=page_size)]
            else:
                got = [a async for a in client.site_alerts(1, page_size=page_size)]
    assert len(served) <= 3
    assert got


# --- bodies far larger than any real response ---------------------------------------------

CHUNK = b"x" * 65536
HUNDRED_MB = 100 * 1024 * 1024


class _Stream(httpx.AsyncByteStream):
    """A streamed body of ``total`` bytes (one shared chunk: small in memory) that counts.

    An iterator object rather than an async generator, so nothing is left for the garbage
    collector when the reader stops early.
    """

    def __init__(self, total: int, *, stall_after: int | None = None) -> None:
        self.total = total
        self.stall_after = stall_after
        self.sent = 0
        self.closed = False

    def __aiter__(self) -> _Stream:
        return self

    async def __anext__(self) -> bytes:
        if self.closed or self.sent >= self.total:
            raise StopAsyncIteration
        if self.stall_after is not None and self.sent >= self.stall_after:
            await anyio.sleep_forever()
        self.sent += len(CHUNK)
        return CHUNK

    async def aclose(self) -> None:
        self.closed = True


HTTPX_INNER_GENERATOR = HTTPX_INNER_GENERATORS


@HTTPX_INNER_GENERATOR
@pytest.mark.parametrize("status", [200, 503, 429])
async def test_a_100_mb_streamed_body_is_refused_without_reading_it_all(status: int) -> None:
    """A 100 MB body without Content-Length: refused at the engine's cap, the stream closed."""
    streams: list[_Stream] = []

    def handler(_request: httpx.Request) -> httpx.Response:
        stream = _Stream(HUNDRED_MB)
        streams.append(stream)
        return httpx.Response(status, stream=stream, headers={"content-type": "application/json"})

    async with mock_client(handler, KEY, retry=RetryPolicy(max_attempts=3)) as client:
        cap = client._engine.max_body
        with pytest.raises(ResponseValidationError, match="larger than"):
            await client.site(1)
        usage = client.usage
    assert len(streams) == 1  # an oversized body is not retried
    assert streams[0].closed
    assert streams[0].sent <= cap + len(CHUNK)
    assert streams[0].sent < HUNDRED_MB
    assert usage.credits == 1


@HTTPX_INNER_GENERATOR
async def test_a_declared_100_mb_body_is_refused_before_reading_a_byte() -> None:
    """Content-Length over the cap: refused from the header, not one chunk read."""
    stream = _Stream(HUNDRED_MB)

    def handler(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=stream, headers={"content-length": str(HUNDRED_MB)})

    async with mock_client(handler, KEY) as client:
        with pytest.raises(ResponseValidationError, match="larger than"):
            await client.site_energy(1)
    assert stream.sent == 0
    assert stream.closed


@HTTPX_INNER_GENERATOR
async def test_a_body_that_stalls_mid_way_ends_at_the_deadline() -> None:
    """A body that stops flowing (and a transport with no read timeout) ends at the deadline."""
    streams: list[_Stream] = []

    def handler(_request: httpx.Request) -> httpx.Response:
        stream = _Stream(HUNDRED_MB, stall_after=3 * len(CHUNK))
        streams.append(stream)
        return httpx.Response(200, stream=stream)

    async with mock_client(handler, KEY, retry=RetryPolicy(deadline=120.0)) as client:
        start = anyio.current_time()
        with pytest.raises(RequestTimeoutError, match="deadline"):
            await client.site(1)
        assert anyio.current_time() - start == pytest.approx(120.0)
        assert client._engine.slots.borrowed_tokens == 0
    assert all(s.closed for s in streams)
