"""One JSON state file shared by processes: read and updated under an OS file lock.

The ledger and the learned window caps live in one small JSON document. Every
update takes an exclusive ``fcntl.flock`` on a sibling ``.lock`` file (the data
file itself is replaced on each write, so it cannot carry the lock), reads the
document, changes it, writes it to a temporary file in the same directory,
fsyncs it and renames it over the old one: a crash leaves either the old
or the new document, never half of one, and no two writers lose each other's
counts.

The lock is taken without blocking (``LOCK_NB``), polled with `anyio.sleep`
between attempts: the wait is cancellable at every poll and ends with
`StateFileError` after ``lock_timeout`` seconds (a peer stuck while holding the
lock never freezes this process). The file work itself, bounded disk I/O, runs in
an anyio worker thread while the lock is held.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar

import anyio
import anyio.to_thread

from solaredge_async.errors import ConfigurationError
from solaredge_async.limits._cycle import check_seconds
from solaredge_async.limits._errors import StateFileError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

__all__ = ["FORMAT", "StateFile"]

T = TypeVar("T")
P = TypeVar("P")

#: The ``format`` field every state file carries.
FORMAT: Final = "solaredge-async state"
VERSION: Final = 1
#: A state file larger than this is refused as damaged (bytes).
MAX_SIZE: Final = 64 * 1024 * 1024
#: The default bound on waiting for another process's lock (seconds).
LOCK_TIMEOUT: Final = 10.0
#: The first and the longest pause between two attempts to take the lock (seconds).
_POLL_FIRST: Final = 0.005
_POLL_MAX: Final = 0.1


def _try_lock(fd: int) -> bool:
    """Take the exclusive lock on ``fd`` if it is free; False when another holds it.

    Raises:
        OSError: The lock cannot be taken at all (not merely held by another).
    """
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


class StateFile:
    """A JSON document at ``path``, shared safely by threads and processes.

    Args:
        path: The file; its directory is created when missing.
        lock_timeout: The longest wait for another process's lock, in seconds.
        try_lock: Takes the lock on an open file descriptor without blocking and
            says whether it did (for tests; default: ``flock(LOCK_EX | LOCK_NB)``).

    Raises:
        ConfigurationError: ``path`` is not a path, ``lock_timeout`` not a positive
            number of seconds.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        lock_timeout: float = LOCK_TIMEOUT,
        try_lock: Callable[[int], bool] = _try_lock,
    ) -> None:
        if not isinstance(path, str | os.PathLike):
            raise ConfigurationError(f"the state file must be a path, got {type(path).__name__}")
        self.path = Path(path)
        self._lock_path = self.path.with_name(self.path.name + ".lock")
        self.lock_timeout = check_seconds(lock_timeout, "lock_timeout")
        self._try_lock = try_lock
        # Tasks of this process queue here, in order, so only one at a time polls the
        # file lock: polling tasks of one process would otherwise starve each other.
        self._queue: anyio.Lock | None = None

    def __repr__(self) -> str:
        return f"StateFile({str(self.path)!r})"

    @contextlib.asynccontextmanager
    async def _locked(self) -> AsyncIterator[None]:
        """Hold the exclusive lock: queued in process, then the OS lock (see `_os_locked`).

        Raises:
            StateFileError: The lock file cannot be opened or locked, or another
                process held the lock for ``lock_timeout`` seconds.
        """
        if self._queue is None:
            self._queue = anyio.Lock()
        async with self._queue, self._os_locked():
            yield

    @contextlib.asynccontextmanager
    async def _os_locked(self) -> AsyncIterator[None]:
        """Hold the OS lock: polled, cancellable, at most ``lock_timeout`` waited.

        Raises:
            StateFileError: The lock file cannot be opened or locked, or another
                process held the lock for ``lock_timeout`` seconds.
        """
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise self._error(f"cannot open its lock file ({exc.strerror})") from None
        try:
            give_up = anyio.current_time() + self.lock_timeout
            delay = _POLL_FIRST
            while not self._locked_now(fd):
                if anyio.current_time() >= give_up:
                    raise StateFileError(
                        f"state file {self.path}: another process held its lock "
                        f"({self._lock_path.name}) for {self.lock_timeout:g} s; nothing was "
                        "changed. If no other run is using this file, a process may be "
                        "stuck: stop it, or point this run at another state directory",
                        path=str(self.path),
                    )
                await anyio.sleep(min(delay, max(give_up - anyio.current_time(), 0.0)))
                delay = min(delay * 2, _POLL_MAX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _locked_now(self, fd: int) -> bool:
        try:
            return self._try_lock(fd)
        except OSError as exc:
            raise self._error(f"cannot lock {self._lock_path.name} ({exc.strerror})") from None

    def _error(self, what: str) -> StateFileError:
        return StateFileError(
            f"state file {self.path}: {what}. Move it away or delete it to start afresh "
            "(the credits spent this billing cycle are then counted from zero)",
            path=str(self.path),
        )

    def _read(self) -> dict[str, Any]:
        try:
            with self.path.open("rb") as file:
                raw = file.read(MAX_SIZE + 1)
        except FileNotFoundError:
            return {"format": FORMAT, "version": VERSION}
        except OSError as exc:
            raise self._error(f"cannot be read ({exc.strerror})") from None
        if len(raw) > MAX_SIZE:
            raise self._error(f"is larger than {MAX_SIZE} bytes, so it is not a state file")
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise self._error(f"is damaged: not valid JSON ({type(exc).__name__})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise self._error(f"is damaged or not a state file (no 'format': {FORMAT!r})")
        if data.get("version") != VERSION:
            raise self._error(
                f"has version {data.get('version')!r}; this library reads version {VERSION}"
            )
        return data

    def _write(self, data: dict[str, Any]) -> None:
        text = json.dumps(data, sort_keys=True, separators=(",", ":"))
        try:
            fd, tmp = tempfile.mkstemp(
                prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent
            )
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as file:
                    file.write(text)
                    file.flush()
                    os.fsync(file.fileno())
                Path(tmp).replace(self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise self._error(f"cannot be written ({exc.strerror})") from None

    def _update_sync(self, change: Callable[[dict[str, Any]], T], *, write: bool) -> T:
        data = self._read()
        result = change(data)
        if write:
            self._write(data)
        return result

    async def _under_lock(self, change: Callable[[dict[str, Any]], T], *, write: bool) -> T:
        async with self._locked():
            # Bounded disk work; not abandoned, so the lock is never released while
            # a thread still writes.
            return await anyio.to_thread.run_sync(
                lambda: self._update_sync(change, write=write), abandon_on_cancel=False
            )

    async def update_at(
        self, prepare: Callable[[], P], change: Callable[[dict[str, Any], P], T]
    ) -> T:
        """As `update`, with ``prepare()`` called once the lock is held, on the event loop.

        For what must be read under the lock but cannot be read in a worker thread (a
        clock that reads the event loop's time); its result is passed to ``change``.

        Raises:
            StateFileError: As `update`.
        """
        async with self._locked():
            context = prepare()
            return await anyio.to_thread.run_sync(
                lambda: self._update_sync(lambda data: change(data, context), write=True),
                abandon_on_cancel=False,
            )

    async def update(self, change: Callable[[dict[str, Any]], T]) -> T:
        """Apply ``change`` to the document under the lock and save it; return its result.

        ``change`` runs under the lock (in a worker thread) and mutates the dict in
        place; when it raises, nothing is written. Cancellation while waiting for
        the lock changes nothing.

        Raises:
            StateFileError: The file is damaged, unreadable or unwritable, or its
                lock was held by another process for ``lock_timeout`` seconds.
        """
        return await self._under_lock(change, write=True)

    async def read(self, view: Callable[[dict[str, Any]], T]) -> T:
        """Apply ``view`` to the document under the lock, without saving.

        Raises:
            StateFileError: The file is damaged or unreadable, or its lock was held
                by another process for ``lock_timeout`` seconds.
        """
        return await self._under_lock(view, write=False)

    def section(self, data: dict[str, Any], name: str) -> dict[str, Any]:
        """``data[name]``, created empty when missing.

        Raises:
            StateFileError: It is there but not a JSON object.
        """
        part = data.setdefault(name, {})
        if not isinstance(part, dict):
            raise self._error(f"is damaged: {name!r} is not an object")
        return part

    def damaged(self, what: str) -> StateFileError:
        """The error for a damaged entry (``what`` says which and how)."""
        return self._error(f"is damaged: {what}")
