"""A PostgreSQL server for the tests.

`postgres_server()` yields a libpq URL of a server the tests may create databases and
schemas in: ``$SOLAREDGE_TEST_POSTGRES_URL`` when set, else a private throwaway server
started from the Debian binaries (``/usr/lib/postgresql/*/bin``) in a temporary
directory on a free loopback port, stopped at the end. As root (``initdb`` refuses to
run as root) the server runs as the ``postgres`` user through ``runuser``.

When no server can be had the tests skip with the reason, except under ``CI=true``,
where they fail: CI must run them.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

ENV_URL = "SOLAREDGE_TEST_POSTGRES_URL"


class NoServerError(Exception):
    """No PostgreSQL server could be started; the message says why."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _bin_dir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
    if found:
        return found[0].parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise NoServerError(
        "no PostgreSQL server binaries (initdb) found: install the Debian package "
        f"'postgresql' or set {ENV_URL}"
    )


def _run_as() -> tuple[list[str], str | None]:
    """The command prefix that runs the server, and the user to own its files."""
    if os.geteuid() != 0:
        return [], None
    for user in ("postgres", "nobody"):
        try:
            pwd.getpwnam(user)
        except KeyError:
            continue
        runuser = shutil.which("runuser")
        if runuser is None:
            break
        return [runuser, "-u", user, "--"], user
    raise NoServerError("running as root with no 'postgres' user or runuser to start a server")


def _fail_or_skip(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"PostgreSQL tests must run in CI, but: {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL tests skipped: {reason}")


@contextlib.contextmanager
def _throwaway_server() -> Iterator[str]:
    bin_dir = _bin_dir()
    prefix, user = _run_as()
    base = Path(tempfile.mkdtemp(prefix="solaredge-pg-"))
    data, sockets, log = base / "data", base / "sock", base / "server.log"
    sockets.mkdir()
    if user is not None:
        entry = pwd.getpwnam(user)
        for path in (base, sockets):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    port = _free_port()

    def run(*args: str) -> None:
        done = subprocess.run(  # noqa: S603 - fixed binaries, our arguments
            [*prefix, *args], capture_output=True, text=True, check=False, timeout=120
        )
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip()[-800:]
            raise NoServerError(f"{Path(args[0]).name} failed: {tail}")

    try:
        run(
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
        )
        options = (
            f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100"
        )
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start")
    except (NoServerError, OSError, subprocess.SubprocessError) as exc:
        shutil.rmtree(base, ignore_errors=True)
        raise NoServerError(str(exc)) from exc
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        with contextlib.suppress(NoServerError, OSError, subprocess.SubprocessError):
            run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(base, ignore_errors=True)


@contextlib.contextmanager
def postgres_server() -> Iterator[str | None]:
    """Yield a server URL, or `None` with the reason recorded by `server_unavailable`."""
    url = os.environ.get(ENV_URL)
    if url:
        yield url
        return
    try:
        server = _throwaway_server()
        started = server.__enter__()
    except NoServerError as exc:
        _UNAVAILABLE.append(str(exc))
        yield None
        return
    try:
        yield started
    finally:
        server.__exit__(None, None, None)


_UNAVAILABLE: list[str] = []


def require(url: str | None) -> str:
    """``url``, or skip (fail under ``CI=true``) with why there is no server."""
    if url is None:
        _fail_or_skip(_UNAVAILABLE[-1] if _UNAVAILABLE else "no server")
        raise AssertionError  # pragma: no cover - skip and fail raise
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _fail_or_skip("psycopg is not installed: pip install 'solaredge-async[postgres]'")
    return url


def fresh_schema_url(server_url: str) -> str:
    """Create a new empty schema on the server and return a URL whose search_path is it."""
    import psycopg

    name = "t_" + uuid.uuid4().hex[:16]
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    sep = "&" if "?" in server_url else "?"
    return f"{server_url}{sep}options=-csearch_path%3D{name}"
