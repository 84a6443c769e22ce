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

__all__ = ["AsyncClosing", "Closable", "TaskGroupExit", "TaskGroupHolder"]


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


class TaskGroupExit:
    """Closes, on leaving ``async with``, the task group a subclass opened on entering.

    The subclass's ``__aenter__`` calls `_open_task_group` (``_task_group`` is `None`
    outside the block); leaving waits for the tasks (or, with ``_cancel_on_exit``,
    cancels them), then calls `_exited`.
    """

    _task_group: TaskGroup | None = None
    #: Leaving cancels the tasks instead of waiting for them, and an exception raised
    #: in the block propagates as it is (not wrapped in an exception group).
    _cancel_on_exit: bool = False

    async def _open_task_group(self) -> TaskGroup:
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        self._task_group = task_group
        return task_group

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        """Wait for (or cancel) the tasks started in the block, then close the task group."""
        task_group, self._task_group = self._task_group, None
        if task_group is None:
            return None
        try:
            if not self._cancel_on_exit:
                return await task_group.__aexit__(exc_type, exc, tb)
            task_group.cancel_scope.cancel()
            if exc is None or isinstance(exc, Exception):
                # The task group only has cancelled tasks to wait for.
                await task_group.__aexit__(None, None, None)
                return None
            # Cancellation and KeyboardInterrupt go through the task group as usual.
            return await task_group.__aexit__(exc_type, exc, tb)
        finally:
            self._exited()

    def _exited(self) -> None:
        """Called once the task group is closed (for a subclass's clean-up)."""


class TaskGroupHolder(TaskGroupExit):
    """A base for objects that run tasks of their own while ``async with obj:`` is open.

    Entering opens a task group (``_task_group``, `None` outside the block) that the
    subclass starts its tasks in; leaving waits for them, and then the object works
    without one again (it may be entered again later).
    """

    async def __aenter__(self) -> Self:
        """Open the task group.

        Raises:
            ConfigurationError: The object is entered already.
        """
        if self._task_group is not None:
            raise ConfigurationError(f"this {type(self).__name__} is entered already")
        await self._open_task_group()
        return self
