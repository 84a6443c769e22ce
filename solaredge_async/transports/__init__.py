"""httpx transports: the seam between the request engine and the network.

Each transport is an `httpx.AsyncBaseTransport`, so a user may pass any of them, or
their own, to `SolarEdgeClient(transport=...)`.

- `PoolsTransport`: several small httpcore pools (the default).
- `AiohttpTransport`: aiohttp under an httpx transport (asyncio only; the ``fast`` extra).
"""
