"""Token stores: the file store's atomic 0600 writes, the memory store, the storage format."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import anyio
import pytest

from solaredge_async.errors import ConfigurationError
from solaredge_async.oauth import (
    FileTokenStore,
    MemoryTokenStore,
    RefreshingTokenProvider,
    TokenSet,
    TokenStore,
    decode_tokens,
    encode_tokens,
)

from ._support import TokenServer

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.anyio

ACCESS = "CANARY-ACCESS-5e4d3c2b1a"
REFRESH = "CANARY-REFRESH-9f8e7d6c5b"


def _tokens(access: str = ACCESS, refresh: str = REFRESH) -> TokenSet:
    return TokenSet(
        access_token=access,
        refresh_token=refresh,
        expires_at=datetime(2026, 5, 12, 14, 0, tzinfo=UTC),
        expires_in=7200.0,
    )


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_the_file_store_round_trips_and_writes_0600(tmp_path: Path) -> None:
    """Save then load gives the same set; the file is 0600, a new directory 0700."""
    directory = tmp_path / "tokens"
    store = FileTokenStore(directory)
    assert await store.load("site-1") is None
    old_umask = os.umask(0)  # the loosest umask: the store must not depend on it
    try:
        await store.save("site-1", _tokens())
    finally:
        os.umask(old_umask)
    assert await store.load("site-1") == _tokens()
    assert _mode(store.path_for("site-1")) == 0o600
    assert _mode(directory) == 0o700
    await store.save("site-1", _tokens("A-2", "R-2"))  # replaced, still 0600
    assert await store.load("site-1") == _tokens("A-2", "R-2")
    assert _mode(store.path_for("site-1")) == 0o600
    assert [p.name async for p in anyio.Path(directory).iterdir()] == ["site-1.json"]


def test_a_home_relative_directory_is_expanded(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """FileTokenStore("~/tokens") writes below the home directory, not into a "~" folder."""
    monkeypatch.setenv("HOME", str(tmp_path))
    assert FileTokenStore("~/tokens").path_for("g") == tmp_path / "tokens" / "g.json"


async def test_grants_are_separate_files_and_delete_is_idempotent(tmp_path: Path) -> None:
    """Two grants, two files; deleting one leaves the other; deleting twice is fine."""
    store = FileTokenStore(tmp_path)
    await store.save("a", _tokens("A-a", "R-a"))
    await store.save("b", _tokens("A-b", "R-b"))
    await store.delete("a")
    await store.delete("a")
    assert await store.load("a") is None
    assert await store.load("b") == _tokens("A-b", "R-b")


async def test_a_failed_fsync_leaves_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failed fsync (an I/O error): the save raises, the old tokens stay, no temp file stays."""
    from solaredge_async.oauth import _stores

    store = FileTokenStore(tmp_path)
    await store.save("g", _tokens())
    real_os = _stores.os

    class FailingFsync:
        def __getattr__(self, name: str) -> object:
            return getattr(real_os, name)

        @staticmethod
        def fsync(_fd: int) -> None:
            raise OSError(5, "Input/output error")

    monkeypatch.setattr(_stores, "os", FailingFsync())
    with pytest.raises(OSError, match="Input/output"):
        await store.save("g", _tokens("A-2", "R-2"))
    monkeypatch.undo()
    assert await store.load("g") == _tokens()
    assert [p.name async for p in anyio.Path(tmp_path).iterdir()] == ["g.json"]


async def test_the_store_never_logs_or_shows_tokens(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Save, load, a refresh through a provider, a corrupt file: no token in logs or errors."""
    caplog.set_level(logging.DEBUG)
    store = FileTokenStore(tmp_path)
    server = TokenServer()
    async with server.oauth() as oauth:
        await store.save("g", _tokens(refresh=server.grant()))
        provider = RefreshingTokenProvider(oauth, store=store, grant="g", skew=10**9)
        await provider()
        texts = [repr(store), repr(provider), repr(await store.load("g"))]
    saved = await store.load("g")
    assert saved is not None
    store.path_for("bad").write_bytes(encode_tokens(_tokens())[:-5])
    with pytest.raises(ConfigurationError) as info:
        await store.load("bad")
    texts += [str(info.value), repr(info.value)]
    texts += [r.getMessage() for r in caplog.records]
    for secret in (ACCESS, saved.access_token, saved.refresh_token):
        assert not [t for t in texts if secret in t]


@pytest.mark.parametrize("grant", ["", "../x", ".hidden", "a/b", "a b", "x" * 129, 7])
def test_grant_names_that_are_not_plain_labels_are_refused(grant: object, tmp_path: Path) -> None:
    """A grant name is a plain label: no path separators, dots first, spaces or non-strings."""
    with pytest.raises(ConfigurationError, match="grant must be"):
        FileTokenStore(tmp_path).path_for(grant)  # type: ignore[arg-type]


async def test_the_memory_store_keeps_and_forgets() -> None:
    """The memory store satisfies the protocol: load, save, delete."""
    store: TokenStore = MemoryTokenStore()
    assert await store.load("g") is None
    await store.save("g", _tokens())
    assert await store.load("g") == _tokens()
    await store.delete("g")
    assert await store.load("g") is None
    assert ACCESS not in repr(store)


def test_the_storage_format_round_trips_with_wall_clock_expiry() -> None:
    """encode/decode keep every field; expires_at is stored as an aware ISO time."""
    now = datetime.fromtimestamp(time.time(), UTC)
    tokens = TokenSet(access_token="A", refresh_token="R", expires_at=now, expires_in=3600.0)
    data = encode_tokens(tokens)
    assert now.isoformat().encode() in data
    assert decode_tokens(data) == tokens


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b"[]",
        b'{"version":2}',
        (
            b'{"version":1,"access_token":"A","refresh_token":"R","expires_in":1,'
            b'"expires_at":"2026-05-12T14:00:00"}'
        ),
        (
            b'{"version":1,"access_token":"A","refresh_token":"R","expires_in":"x",'
            b'"expires_at":"2026-05-12T14:00:00+00:00"}'
        ),
        (
            b'{"version":1,"access_token":"","refresh_token":"R","expires_in":1,'
            b'"expires_at":"2026-05-12T14:00:00+00:00"}'
        ),
    ],
)
def test_a_corrupt_token_file_is_a_clear_error(data: bytes) -> None:
    """Not JSON, another version, a naive time, a bad number, an empty token: refused."""
    with pytest.raises(ConfigurationError, match="token"):
        decode_tokens(data)


def test_the_oauth_package_sits_below_the_client() -> None:
    """Importing solaredge_async.oauth loads neither client.py nor the engine (floor 4 beside it)."""
    code = (
        "import sys, solaredge_async.oauth as o; "
        "from solaredge_async.oauth import OAuthClient, RefreshingTokenProvider, TokenSet, "
        "authorize_url; "
        "bad = [m for m in ('solaredge_async.client', 'solaredge_async._engine') "
        "if m in sys.modules]; "
        "assert not bad, bad; assert all(hasattr(o, n) for n in o.__all__)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=os.environ.copy())  # noqa: S603
