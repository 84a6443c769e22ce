"""`AsyncClosing`: the async context manager whose exit is `aclose`, as httpx's clients."""

from __future__ import annotations

import abc
from typing import Self

__all__ = ["AsyncClosing"]


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
