"""One JSON state file shared by processes: read and updated under an OS file lock.

The ledger and the learned window caps live in one small JSON document. Every
update takes an exclusive ``fcntl.flock`` on a sibling ``.lock`` file (the data
file itself is replaced on each write, so it cannot carry the lock), reads the
document, changes it, writes it to a temporary file in the same directory,
fsyncs it and renames it over the old one: a crash leaves either the old
or the new document, never half of one, and no two writers lose each other's
counts. The work runs in an anyio worker thread.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar

import anyio.to_thread

from solaredge_async.errors import ConfigurationError
from solaredge_async.limits._errors import StateFileError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

__all__ = ["FORMAT", "StateFile"]

T = TypeVar("T")

#: The ``format`` field every state file carries.
FORMAT: Final = "solaredge-async state"
VERSION: Final = 1
#: A state file larger than this is refused as damaged (bytes).
MAX_SIZE: Final = 64 * 1024 * 1024


class StateFile:
    """A JSON document at ``path``, shared safely by threads and processes.

    Args:
        path: The file; its directory is created when missing.

    Raises:
        ConfigurationError: ``path`` is not a path.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        if not isinstance(path, str | os.PathLike):
            raise ConfigurationError(f"the state file must be a path, got {type(path).__name__}")
        self.path = Path(path)
        self._lock_path = self.path.with_name(self.path.name + ".lock")

    def __repr__(self) -> str:
        return f"StateFile({str(self.path)!r})"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise self._error(f"cannot open its lock file ({exc.strerror})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

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
        with self._locked():
            data = self._read()
            result = change(data)
            if write:
                self._write(data)
            return result

    async def update(self, change: Callable[[dict[str, Any]], T]) -> T:
        """Apply ``change`` to the document under the lock and save it; return its result.

        ``change`` mutates the dict in place; when it raises, nothing is written.

        Raises:
            StateFileError: The file is damaged, unreadable or unwritable.
        """
        return await anyio.to_thread.run_sync(
            lambda: self._update_sync(change, write=True), abandon_on_cancel=False
        )

    async def read(self, view: Callable[[dict[str, Any]], T]) -> T:
        """Apply ``view`` to the document under the lock, without saving.

        Raises:
            StateFileError: The file is damaged or unreadable.
        """
        return await anyio.to_thread.run_sync(
            lambda: self._update_sync(view, write=False), abandon_on_cancel=False
        )

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
