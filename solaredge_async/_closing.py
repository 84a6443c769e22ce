"""Bases for objects used in ``async with``.

`AsyncClosing`: the exit is `aclose`, as httpx's clients. `TaskGroupHolder`: the
object runs tasks of its own while the block is open.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, ClassVar, Self

import anyio

from solaredge_async.errors import ClientClosedError, ConfigurationError

if TYPE_CHECKING:
    from types import TracebackType

    from anyio.abc import TaskGroup

__all__ = ["AsyncClosing", "Closable", "TaskGroupHolder"]


class AsyncClosing(abc.ABC):
    """A base for objects that hold resources: ``async with obj:`` closes them on exit.

    Subclasses implement `aclose` (idempotent); they may extend ``__aenter__`` (to
    connect, or to refuse a closed object) and must return ``self`` from it.
    """

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Release what the object holds; calling it again does nothing."""


class Closable(AsyncClosing):
    """`AsyncClosing` for objects that refuse calls once closed (clients, pools).

    ``aclose`` sets ``_closed``; calls start with `_check_open`.
    """

    _closed: bool = False
    #: What a call on the closed object says: what it is and what to do instead.
    _closed_message: ClassVar[str] = "this object is closed"

    @property
    def is_closed(self) -> bool:
        """True once `aclose` was called."""
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise ClientClosedError(self._closed_message)

    def _state(self) -> str:
        return "closed" if self._closed else "open"


class TaskGroupHolder:
    """A base for objects that run tasks of their own while ``async with obj:`` is open.

    Entering opens a task group (``_task_group``, `None` outside the block) that the
    subclass starts its tasks in; leaving waits for them, and then the object works
    without one again (it may be entered again later).
    """

    _task_group: TaskGroup | None = None

    async def __aenter__(self) -> Self:
        """Open the task group.

        Raises:
            ConfigurationError: The object is entered already.
        """
        if self._task_group is not None:
            raise ConfigurationError(f"this {type(self).__name__} is entered already")
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        self._task_group = task_group
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        """Wait for the tasks started in the block, then close the task group."""
        task_group, self._task_group = self._task_group, None
        if task_group is None:
            return None
        return await task_group.__aexit__(exc_type, exc, tb)
