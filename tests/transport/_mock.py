"""A scripted httpx.MockTransport that records what it was sent."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anyio
import httpx

from solaredge_async import DEFAULT_BASE_URL, SolarEdgeClient

KEY = "canary-KEY-5f0e1d2c3b4a"
BASE = DEFAULT_BASE_URL  # only ever reached through httpx.MockTransport

Handler = Callable[[httpx.Request], httpx.Response]


def ok(body: Any = None, *, limit: int = 10, remaining: int = 9, **headers: str) -> httpx.Response:
    """A 200 with rate-limit headers."""
    h = {"x-ratelimit-limit-minute": str(limit), "x-ratelimit-remaining-minute": str(remaining)}
    h.update(headers)
    return httpx.Response(200, json={} if body is None else body, headers=h)


def problem(status: int, title: str, detail: str, **headers: str) -> httpx.Response:
    """A problem+json error."""
    body = {
        "type": "https://se-api.stoplight.io/docs/monitoring",
        "title": title,
        "status": status,
        "detail": detail,
        "traceId": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    }
    h = {"content-type": "application/problem+json"}
    h.update(headers)
    return httpx.Response(status, content=json.dumps(body).encode(), headers=h)


class Script:
    """Answers requests from a list of handlers in turn (the last one repeats)."""

    def __init__(self, *handlers: Handler | httpx.Response, delay: float = 0.0) -> None:
        self.handlers = list(handlers)
        self.requests: list[httpx.Request] = []
        self.times: list[float] = []
        self.delay = delay

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.times.append(anyio.current_time())
        if self.delay:
            await anyio.sleep(self.delay)
        handler = self.handlers[min(len(self.requests) - 1, len(self.handlers) - 1)]
        if isinstance(handler, httpx.Response):
            return httpx.Response(
                handler.status_code, headers=handler.headers, content=handler.content
            )
        return handler(request)


def client(script: Script, **kwargs: Any) -> SolarEdgeClient:
    """A client over the script, no rate limit unless asked."""
    kwargs.setdefault("requests_per_minute", None)
    return SolarEdgeClient(api_key=KEY, transport=httpx.MockTransport(script), **kwargs)
