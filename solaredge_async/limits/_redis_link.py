"""One coredis connection that fails closed, shared by the Redis limits and token stores.

`RedisLink` connects (retrying an unreachable server for ``unavailable_timeout``),
registers Lua scripts, runs background tasks in its own task group and turns a Redis
that stays unreachable into `SharedStateUnavailableError`: it never falls back to
unshared state. `RedisLinkHolder` is the async context manager the public classes
(`RedisLimits`, the OAuth `RedisTokenStore` and `RedisRefreshLock`) build on.
coredis (extra ``redis``) is imported only when a link opens.
"""

from __future__ import annotations

import contextlib
import urllib.parse
from typing import TYPE_CHECKING, Any, Self

import anyio

from solaredge_async._closing import AsyncClosing
from solaredge_async.errors import ConfigurationError
from solaredge_async.limits._errors import SharedStateUnavailableError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence

    import coredis
    from anyio.abc import TaskGroup
    from coredis.commands.script import Script

__all__ = [
    "RedisLink",
    "RedisLinkHolder",
    "check_prefix",
    "check_url",
    "is_unavailable",
    "safe_target",
]


def safe_target(url: str) -> str:
    """The URL without user name or password, for messages."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def check_url(url: object) -> str:
    """Return ``url`` if it is a ``redis://``, ``rediss://`` or ``unix://`` URL.

    Raises:
        ConfigurationError: Not a string, or not such a URL (a bad port included).
    """
    if not isinstance(url, str):
        raise ConfigurationError(
            "the shared-state URL must be a string such as redis://host:6379/0"
        )
    try:
        parts = urllib.parse.urlsplit(url)
        _ = parts.port
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in {"redis", "rediss", "unix"}:
        raise ConfigurationError(
            "the shared-state URL must look like redis://host:6379/0 (or rediss://, unix://)"
        )
    return url


def check_prefix(prefix: object) -> str:
    """Return ``prefix`` if it is a non-empty printable string (the first part of keys).

    Raises:
        ConfigurationError: Anything else.
    """
    if not isinstance(prefix, str) or not prefix or not prefix.isprintable():
        raise ConfigurationError(f"prefix must be a printable string, got {prefix!r}")
    return prefix


def is_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` means Redis could not be reached (worth retrying)."""
    import coredis.exceptions  # noqa: PLC0415 - an optional extra

    if isinstance(exc, BaseExceptionGroup):
        return all(is_unavailable(inner) for inner in exc.exceptions)
    return isinstance(exc, coredis.exceptions.ConnectionError | OSError | TimeoutError)


class RedisLink:
    """One coredis connection: opened once, retried while unreachable, then fail closed.

    Args:
        url: A URL checked by `check_url` (its password never leaves this object).
        scripts: Lua scripts registered on `open`, by name (see `script`).
        op_timeout: Seconds one Redis round trip may take (checked by the caller).
        unavailable_timeout: Seconds to keep retrying an unreachable Redis.
        unreachable: The message of `SharedStateUnavailableError`: a `str.format`
            template with ``{target}``, ``{what}`` (the last error's type),
            ``{timeout}`` (``unavailable_timeout``) and ``{doing}`` (see `retrying`).
        finish_tasks: On `close`, wait for background tasks to end by themselves
            (True: finite work such as sending a pause) or cancel them (False:
            endless work such as renewing a lease).
    """

    def __init__(
        self,
        url: str,
        *,
        scripts: Mapping[str, str],
        op_timeout: float,
        unavailable_timeout: float,
        unreachable: str,
        finish_tasks: bool,
    ) -> None:
        self._url = url
        self.target = safe_target(url)
        self.op_timeout = op_timeout
        self.unavailable_timeout = unavailable_timeout
        self._sources = dict(scripts)
        self._unreachable = unreachable
        self._finish_tasks = finish_tasks
        self._client: coredis.Redis[str] | None = None
        self._scripts: dict[str, Script[str]] = {}
        self._stack: contextlib.AsyncExitStack | None = None
        self._tasks: TaskGroup | None = None

    async def open(self) -> None:
        """Connect and register the scripts (retrying for ``unavailable_timeout``).

        Raises:
            SharedStateUnavailableError: Redis unreachable.
            ImportError: coredis is not installed.
            ConfigurationError: The link is open already.
        """
        import coredis  # noqa: PLC0415 - an optional extra

        if self._stack is not None:
            raise ConfigurationError(f"the Redis connection to {self.target} is open already")

        async def connect() -> tuple[coredis.Redis[str], contextlib.AsyncExitStack]:
            stack = contextlib.AsyncExitStack()
            client: coredis.Redis[str] = coredis.Redis.from_url(
                self._url,
                decode_responses=True,
                connect_timeout=self.op_timeout,
                stream_timeout=self.op_timeout,
            )
            try:
                await stack.enter_async_context(client)
                await client.ping()
            except BaseException:
                await stack.aclose()
                raise
            return client, stack

        # Not under a fail_after: the client's own task group must not be opened inside
        # a scope that closes first (connect_timeout bounds each attempt).
        client, stack = await self.retrying(connect, doing="connecting", bounded=False)
        self._client, self._stack = client, stack
        self._scripts = {n: client.register_script(s) for n, s in self._sources.items()}
        self._tasks = await stack.enter_async_context(anyio.create_task_group())

    async def close(self) -> None:
        """Close the connection once its background tasks are done (or cancelled)."""
        stack, self._stack = self._stack, None
        tasks, self._tasks = self._tasks, None
        if tasks is not None and not self._finish_tasks:
            tasks.cancel_scope.cancel()
        try:
            if stack is not None:
                # Not shielded: the stack closes task groups entered outside such a scope.
                await stack.aclose()
        finally:
            self._client = None

    @staticmethod
    def _outside(owner: str) -> RuntimeError:
        return RuntimeError(f"{owner} is used outside its 'async with' block")

    def client(self, owner: str) -> coredis.Redis[str]:
        """The open connection.

        Raises:
            RuntimeError: The link is not open (``owner`` names the object used).
        """
        if self._client is None:
            raise self._outside(owner)
        return self._client

    def start_soon(
        self, work: Callable[[], Coroutine[Any, Any, None]], *, owner: str | None = None
    ) -> bool:
        """Run ``work`` in the link's task group; False when the link is not open.

        Raises:
            RuntimeError: The link is not open and ``owner`` (the object used) is given.
        """
        if self._tasks is None:
            if owner is not None:
                raise self._outside(owner)
            return False
        self._tasks.start_soon(work)
        return True

    def unavailable(self, what: str, doing: str = "") -> SharedStateUnavailableError:
        """The error for a Redis still unreachable after ``unavailable_timeout``."""
        message = self._unreachable.format(
            target=self.target, what=what, timeout=self.unavailable_timeout, doing=doing
        )
        return SharedStateUnavailableError(message, target=self.target)

    async def retrying(
        self, operation: Callable[[], Awaitable[Any]], *, doing: str = "", bounded: bool = True
    ) -> Any:  # noqa: ANN401 - the operation's result
        """Run ``operation`` until it succeeds or ``unavailable_timeout`` runs out.

        Each attempt is bounded by ``op_timeout`` when ``bounded``; errors other than
        an unreachable Redis are raised at once.

        Raises:
            SharedStateUnavailableError: Redis unreachable for ``unavailable_timeout``
                (``doing`` says what was being done, for the message).
        """
        give_up = anyio.current_time() + self.unavailable_timeout
        delay = 0.05
        while True:
            try:
                scope = anyio.fail_after(self.op_timeout) if bounded else contextlib.nullcontext()
                with scope:
                    return await operation()
            except Exception as exc:
                if not is_unavailable(exc):
                    raise
                what = type(exc).__name__
            if anyio.current_time() + delay > give_up:
                raise self.unavailable(what, doing)
            await anyio.sleep(delay)
            delay = min(delay * 2, 1.0)

    async def script(
        self, name: str, keys: Sequence[str], args: Sequence[str], *, owner: str
    ) -> Any:  # noqa: ANN401 - the script's reply
        """One attempt at one of the registered scripts.

        Raises:
            RuntimeError: The link is not open (``owner`` names the object used).
        """
        self.client(owner)
        return await self._scripts[name](keys=list(keys), args=list(args))


class RedisLinkHolder(AsyncClosing):
    """An async context manager around a `RedisLink` that it owns or shares.

    Entering opens the link and leaving (or `aclose`) closes it, unless the link is
    shared (a refresh lock made by a token store's ``refresh_lock`` uses the store's).
    Subclasses set ``_link`` and, for a shared link, ``_owns_link = False``.
    """

    _link: RedisLink
    _owns_link: bool = True

    @property
    def target(self) -> str:
        """The server's URL without user name or password."""
        return self._link.target

    @property
    def op_timeout(self) -> float:
        """Seconds one Redis round trip may take."""
        return self._link.op_timeout

    @property
    def unavailable_timeout(self) -> float:
        """Seconds an unreachable Redis is retried before `SharedStateUnavailableError`."""
        return self._link.unavailable_timeout

    async def __aenter__(self) -> Self:
        """Connect (retrying for at most ``unavailable_timeout``), unless the link is shared.

        Raises:
            SharedStateUnavailableError: Redis unreachable.
            ImportError: coredis is not installed (``pip install 'solaredge-async[redis]'``).
            ConfigurationError: Entered already.
        """
        if self._owns_link:
            await self._link.open()
        return self

    async def aclose(self) -> None:
        """Close the connection, unless it is shared (it stays with its owner).

        A lock that shares this object's connection stops working; calling it again
        does nothing.
        """
        if self._owns_link:
            await self._link.close()
