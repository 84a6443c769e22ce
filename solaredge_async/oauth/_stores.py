"""Token stores: where a grant's rotated refresh token is kept durably.

A store maps a grant name (your own label, e.g. ``"site-4815162"``; never a
secret) to that grant's current `TokenSet`. `RefreshingTokenProvider` saves
every rotated token set to its store *before* it hands out the new access token,
and reads the store before each refresh so that several workers sharing a store
(and a refresh lock) use one grant without voiding each other's refresh tokens.

A store is any object with the three coroutine methods of `TokenStore`; a Redis
or database store needs nothing more than a get, a set and a delete by key, with
the value from `encode_tokens` (bytes that hold the tokens: protect them like a
password). Stores here:

- `FileTokenStore`: one JSON file per grant in a directory, written atomically
  (a temporary file, fsync, rename, fsync of the directory) with mode 0600.
- `MemoryTokenStore`: a dict, for tests and for tokens you persist elsewhere.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Final, Protocol

import anyio.to_thread

from solaredge_async.errors import ConfigurationError, SolarEdgeError
from solaredge_async.oauth._tokens import TokenSet, decode_tokens, encode_tokens

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

__all__ = [
    "CallbackTokenStore",
    "FileTokenStore",
    "MemoryTokenStore",
    "TokenStore",
    "TokenStoreError",
    "check_grant",
]

_GRANT_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")


class TokenStoreError(SolarEdgeError):
    """A token store failed to save or load a grant's tokens.

    When raised by `RefreshingTokenProvider` after a refresh, the new tokens are
    still held in memory and saving is retried on the next call: keep the process
    running until a call succeeds, or the grant is lost (the server has already
    voided the previous refresh token). The cause is chained as ``__cause__``.

    Attributes:
        grant: The grant's name.
    """

    def __init__(self, message: str, *, grant: str) -> None:
        super().__init__(message)
        self.grant = grant


def check_grant(grant: object) -> str:
    """Return ``grant`` if it is a usable grant name, else raise.

    Raises:
        ConfigurationError: Not 1-128 characters of letters, digits, ``_ . : -``
            starting with a letter or digit.
    """
    if not isinstance(grant, str) or _GRANT_NAME.fullmatch(grant) is None:
        raise ConfigurationError(
            "grant must be 1-128 characters of letters, digits, '_', '.', ':' or '-', "
            f"starting with a letter or digit (your own label, never a token); got {grant!r}"
        )
    return grant


class TokenStore(Protocol):
    """Where the current `TokenSet` of each grant is kept.

    ``save`` must return only once the tokens are durable (a crash right after it
    must not lose them) and raise when they are not; ``load`` returns None for a
    grant it does not hold. All three may raise any exception on failure.
    """

    async def load(self, grant: str) -> TokenSet | None:
        """The grant's stored tokens, or None."""
        ...

    async def save(self, grant: str, tokens: TokenSet) -> None:
        """Store the grant's tokens durably, replacing what was there."""
        ...

    async def delete(self, grant: str) -> None:
        """Forget the grant (after a revoke); no error if it is not held."""
        ...


class MemoryTokenStore:
    """Tokens in a dict: for tests, or when tokens are persisted by other means.

    Not durable: a rotated refresh token kept only here is lost when the process
    ends, and with it the grant.
    """

    def __init__(self) -> None:
        self._tokens: dict[str, TokenSet] = {}

    def __repr__(self) -> str:
        return f"MemoryTokenStore(grants={sorted(self._tokens)!r})"

    async def load(self, grant: str) -> TokenSet | None:
        """The grant's tokens, or None."""
        return self._tokens.get(grant)

    async def save(self, grant: str, tokens: TokenSet) -> None:
        """Keep the grant's tokens."""
        self._tokens[grant] = tokens

    async def delete(self, grant: str) -> None:
        """Forget the grant."""
        self._tokens.pop(grant, None)


class CallbackTokenStore(MemoryTokenStore):
    """A store that hands each saved token set to ``on_save`` (and keeps it in memory).

    What ``RefreshingTokenProvider(on_refresh=...)`` builds: ``on_save`` must persist
    the tokens durably, and raise if it could not.
    """

    def __init__(self, on_save: Callable[[TokenSet], Awaitable[None]]) -> None:
        super().__init__()
        self._on_save = on_save

    def __repr__(self) -> str:
        return "CallbackTokenStore()"

    async def save(self, grant: str, tokens: TokenSet) -> None:
        """Await ``on_save(tokens)``; keep them only once it returned."""
        await self._on_save(tokens)
        await super().save(grant, tokens)


class FileTokenStore:
    """One JSON file per grant (``{directory}/{grant}.json``), mode 0600.

    Each save writes a temporary file in the same directory, flushes it to disk
    (fsync), renames it over the old file and flushes the directory, so a crash or
    a full disk leaves either the old file or the new one, never a torn one. File
    work runs in a worker thread. Nothing here logs; errors name the file, never a
    token.

    Args:
        directory: Where the files go (``~`` expanded); created with mode 0700 if missing.

    Raises:
        ConfigurationError: ``directory`` is not a string or path.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        if not isinstance(directory, str | os.PathLike):
            raise ConfigurationError(f"directory must be a path, got {type(directory).__name__}")
        self.directory = Path(directory).expanduser()

    def __repr__(self) -> str:
        return f"FileTokenStore({str(self.directory)!r})"

    def path_for(self, grant: str) -> Path:
        """The file of ``grant``.

        Raises:
            ConfigurationError: Not a valid grant name (see `check_grant`).
        """
        return self.directory / f"{check_grant(grant)}.json"

    async def load(self, grant: str) -> TokenSet | None:
        """Read the grant's file; None when there is none.

        Raises:
            OSError: The file exists but cannot be read.
            ConfigurationError: The file does not hold a token set.
        """
        path = self.path_for(grant)
        data = await anyio.to_thread.run_sync(_read_or_none, path)
        return None if data is None else decode_tokens(data)

    async def save(self, grant: str, tokens: TokenSet) -> None:
        """Write the grant's file atomically and durably, mode 0600.

        Not cancellable once started (the worker thread finishes the write).

        Raises:
            OSError: The write failed (a full disk, no permission); the old file stays.
        """
        path = self.path_for(grant)
        await anyio.to_thread.run_sync(_write_atomically, path, encode_tokens(tokens))

    async def delete(self, grant: str) -> None:
        """Remove the grant's file, if any.

        Raises:
            OSError: The file exists but cannot be removed.
        """
        path = self.path_for(grant)
        await anyio.to_thread.run_sync(_unlink, path)


def _read_or_none(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _write_atomically(path: Path, data: bytes) -> None:
    directory = path.parent
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    temp = directory / f".{path.name}.{secrets.token_hex(6)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    fd = os.open(temp, flags, 0o600)
    try:
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, 0o600)  # whatever the umask
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        temp.replace(path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # not possible everywhere (Windows): the rename is what counts
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _unlink(path: Path) -> None:
    path.unlink(missing_ok=True)
    _fsync_directory(path.parent)
