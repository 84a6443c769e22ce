"""A Redis server for the tests of the shared limits.

`redis_server` (session scope) uses ``$SOLAREDGE_TEST_REDIS_URL`` when it is set;
otherwise it starts a private ``redis-server`` on a free loopback port in a
temporary directory (no persistence). When none can be had the tests are
skipped with the reason, except under ``CI=true``, where they fail: CI must run
them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

ENV_URL = "SOLAREDGE_TEST_REDIS_URL"
#: Seconds between pings while the server starts (a process start-up wait, not a test's
#: timing: the tests themselves run on virtual clocks).
_START_POLL = 0.02
_START_TIMEOUT = 10.0


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"Redis is required under CI=true: {reason}")
    pytest.skip(f"no Redis server for the shared-limit tests: {reason}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """A private ``redis-server`` process that a test can stop and start again.

    Attributes:
        url: ``redis://127.0.0.1:PORT/0``.
        port: The loopback port, kept across restarts.
    """

    def __init__(self, binary: str, directory: Path) -> None:
        self.binary = binary
        self.directory = directory
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the server and wait (at most 10 s) until it answers PING."""
        self._process = subprocess.Popen(  # noqa: S603 - a fixed binary and arguments
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + _START_TIMEOUT
        while not _ping(self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                msg = f"{self.binary} did not start on port {self.port}"
                raise RuntimeError(msg)
            time.sleep(_START_POLL)

    def stop(self) -> None:
        """Stop the server (its data is lost: nothing is saved)."""
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start_private_server() -> Iterator[RedisServer]:
    """Start a private server in a temporary directory; skip (or fail under CI) if impossible."""
    binary = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )
    if binary is None:
        _unavailable("redis-server is not installed (apt-get install redis-server)")
        return
    with tempfile.TemporaryDirectory(prefix="solaredge-redis-") as directory:
        server = RedisServer(binary, Path(directory))
        try:
            server.start()
        except (OSError, RuntimeError) as exc:
            _unavailable(str(exc))
            return
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """The URL of a Redis server shared by the session's tests (see the module docstring)."""
    url = os.environ.get(ENV_URL)
    if url:
        yield url
        return
    for server in start_private_server():
        yield server.url


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    """A Redis server of this test alone, which it may stop and start."""
    yield from start_private_server()
