"""No database password in errors, their causes, the CLI's output or redacted URLs.

Also: PostgreSQL sessions are bounded (statement and lock timeouts, TCP keepalives).
"""

from __future__ import annotations

import pytest

from solaredge_async import cli
from solaredge_async.store import StoreError, StoreURLError, open_store

pytest.importorskip("psycopg")

SECRET = "s3cr%zzet"
#: Malformed PostgreSQL URLs whose libpq parse errors quote the password (port 1: no
#: server is ever reached).
BAD_URLS = (
    f"postgresql://owner:{SECRET}@127.0.0.1:1/fleet",  # a bad %-escape in the password
    "postgresql://owner:s3cret@[::1/fleet",  # an unclosed IPv6 bracket
)


def _chain(exc: BaseException) -> str:
    parts = []
    seen: BaseException | None = exc
    while seen is not None:
        parts.append(f"{type(seen).__name__}: {seen}")
        seen = seen.__cause__ or seen.__context__
    return "\n".join(parts)


@pytest.mark.anyio
@pytest.mark.parametrize("url", BAD_URLS)
async def test_a_malformed_postgresql_url_never_shows_its_password(url):
    """Libpq's parse errors quote the URL: the store says what is wrong without it.

    The password must not be in the error message nor in its cause chain (tracebacks,
    logs and the CLI's ``error:`` line print them).
    """
    password = url.split("@", 1)[0].rsplit(":", 1)[1]
    with pytest.raises(StoreError) as caught:
        async with open_store(url):
            pass
    assert password not in _chain(caught.value)


@pytest.mark.parametrize("url", BAD_URLS)
def test_the_sync_command_never_prints_a_database_password(url, capsys):
    """The CLI shows the store's error on stderr: the password must not be there."""
    password = url.split("@", 1)[0].rsplit(":", 1)[1]
    status = cli.main(
        [
            "sync",
            "--simulate",
            "--sim-sites",
            "2",
            "--sim-requests-per-minute",
            "0",
            "--sim-latency-ms",
            "0",
            "--requests-per-minute",
            "0",
            "--no-progress",
            "--db",
            url,
        ]
    )
    captured = capsys.readouterr()
    assert status != 0
    assert password not in captured.err + captured.out


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://owner@db.example/fleet?password=s3cret",  # libpq takes it from the query
        "postgresql://owner@db.example/fleet?sslmode=require&password=s3cret",
        "postgresql:///fleet?host=db.example&user=owner&password=s3cret",
    ],
)
def test_redact_url_hides_a_password_given_as_a_query_parameter(url):
    """Libpq also takes a password from the query.

    The CLI prints ``Store: <redact_url(--db)>`` in every plan and puts it in the JSON
    summary's ``db`` field, so a libpq URL with ``?password=`` is shown whole.
    """
    from solaredge_async.store import redact_url

    assert "s3cret" not in redact_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://owner:s3cret@[::1/fleet",  # ValueError: Invalid IPv6 URL
        "postgresql://owner:s3cret@db.example:port/fleet",  # ValueError from .port
    ],
)
def test_redact_url_never_raises_a_raw_error(url):
    """A malformed URL is redacted too, never a raw ValueError.

    `redact_url` runs first thing in ``sync`` (and in `StoreURLError` messages), so a
    typo in ``--db`` ends in a ValueError traceback instead of a usage error; it must
    return a redacted text for any input.
    """
    from solaredge_async.store import redact_url

    shown = redact_url(url)
    assert "s3cret" not in shown


@pytest.mark.anyio
@pytest.mark.parametrize("url", BAD_URLS)
async def test_a_malformed_postgresql_url_is_a_store_url_error(url):
    """A URL libpq cannot parse is a configuration error, not an unreachable server."""
    with pytest.raises(StoreURLError, match="malformed"):
        async with open_store(url):
            pass


@pytest.mark.anyio
async def test_postgresql_sessions_have_timeouts_and_keepalives(postgres_url):
    """statement_timeout and lock_timeout are set on the session; keepalives on the socket."""
    async with open_store(postgres_url, statement_timeout=12.5, lock_timeout=3.0) as store:
        conn = store._backend._conn
        assert conn.execute("SHOW statement_timeout").fetchone()[0] == "12500ms"
        assert conn.execute("SHOW lock_timeout").fetchone()[0] == "3s"
        params = conn.info.get_parameters()
        assert params.get("keepalives") == "1"
        assert params.get("keepalives_idle") == "30"


@pytest.mark.anyio
async def test_a_statement_past_its_timeout_fails_with_a_store_error(postgres_url):
    """A server that does not answer in time fails the call instead of holding it."""
    async with open_store(postgres_url, statement_timeout=0.2) as store:
        backend = store._backend

        def stuck() -> None:
            with backend.reading() as cur:
                cur.execute("SELECT pg_sleep(30)")

        with pytest.raises(StoreError, match="statement_timeout"):
            await store._call(stuck)
