"""A worker process sharing one OAuth grant through Redis with other processes.

Usage: python -m tests.oauth._redis_worker REDIS_URL PREFIX BASE_URL GRANT BACKEND TASKS

Reads the OAuth client id and secret from ``$SOLAREDGE_TEST_CLIENT_ID`` and
``$SOLAREDGE_TEST_CLIENT_SECRET``. Connects, prints ``ready``, waits for one line on
stdin, then asks its own `RefreshingTokenProvider` (sharing the Redis token store
and refresh lock) for an access token from TASKS concurrent tasks. Prints one line
per task: a short digest of the access token it got (never the token itself).
"""

from __future__ import annotations

import hashlib
import os
import sys

import anyio
import anyio.to_thread

from solaredge_async.oauth import OAuthClient, RedisTokenStore, RefreshingTokenProvider


def digest(token: str) -> str:
    """A short, one-way name of a token, to compare tokens without printing them."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


async def _main(redis_url: str, prefix: str, base_url: str, grant: str, tasks: int) -> None:
    client_id = os.environ["SOLAREDGE_TEST_CLIENT_ID"]
    secret = os.environ["SOLAREDGE_TEST_CLIENT_SECRET"]
    async with (
        RedisTokenStore(redis_url, prefix=prefix) as store,
        OAuthClient(client_id, secret, base_url=base_url) as oauth,
    ):
        provider = RefreshingTokenProvider(
            oauth, store=store, lock=store.refresh_lock(), grant=grant
        )
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        await anyio.to_thread.run_sync(sys.stdin.readline)
        got: list[str] = []

        async def one() -> None:
            got.append(digest(await provider.token()))

        async with anyio.create_task_group() as tg:
            for _ in range(tasks):
                tg.start_soon(one)
        sys.stdout.write("".join(f"{line}\n" for line in got))


if __name__ == "__main__":
    redis_url, prefix, base_url, grant, backend, tasks = sys.argv[1:7]
    anyio.run(_main, redis_url, prefix, base_url, grant, int(tasks), backend=backend)
