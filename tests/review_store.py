"""Review findings on the stores and the sync command, each a test that fails on the code reviewed.

Run: PYTHONPATH=$PWD python -m pytest tests/review_store.py -q
"""

from __future__ import annotations

import pytest

from solaredge_async import cli
from solaredge_async.store import StoreError, open_store

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
    """store/_postgres.py:56-81: `_redact` keeps libpq's first line, which may quote the URL.

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
    """store/_store.py:45-54: only the netloc's password is redacted.

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
    """store/_store.py:47,51: ``urlsplit``/``.port`` raise ValueError on malformed URLs.

    `redact_url` runs first thing in ``sync`` (and in `StoreURLError` messages), so a
    typo in ``--db`` ends in a ValueError traceback instead of a usage error; it must
    return a redacted text for any input.
    """
    from solaredge_async.store import redact_url

    shown = redact_url(url)
    assert "s3cret" not in shown
