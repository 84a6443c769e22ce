"""Client construction: credentials, base URLs and limits are checked before any request."""

from __future__ import annotations

import httpx
import pytest

from solaredge_async import DEFAULT_BASE_URL, ConfigurationError, RetryPolicy, SolarEdgeClient

CANARY = "canary-KEY-0123456789"


def _never(request: httpx.Request) -> httpx.Response:
    raise AssertionError("no request may be sent")


T = httpx.MockTransport(_never)


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    monkeypatch.delenv("SOLAREDGE_API_KEY", raising=False)
    monkeypatch.delenv("SOLAREDGE_ACCOUNT_KEY", raising=False)


def test_missing_credential_names_the_ways_to_give_one():
    """No key and no environment variable: a clear error listing the options."""
    with pytest.raises(ConfigurationError, match="SOLAREDGE_API_KEY"):
        SolarEdgeClient(transport=T)


def test_environment_fallback(monkeypatch):
    """SOLAREDGE_API_KEY and SOLAREDGE_ACCOUNT_KEY are used when no key is passed."""
    monkeypatch.setenv("SOLAREDGE_API_KEY", CANARY)
    monkeypatch.setenv("SOLAREDGE_ACCOUNT_KEY", "ACCT")
    client = SolarEdgeClient(transport=T)
    assert client.credential_id.startswith("key#")
    assert CANARY not in repr(client)


@pytest.mark.parametrize(
    ("key", "match"),
    [
        ("", "empty"),
        ("   ", "whitespace"),
        (" abc", "whitespace"),
        ("abc\r\nX-Evil: 1", "control character"),
        ("ab c", "whitespace or a control character"),
        ("abc\x00", "control character"),
        ("ключ", "non-ASCII"),
        (123, "must be a string"),
        ("a" * 5000, "at most 4096"),
    ],
)
def test_malformed_keys_are_refused_without_echo(key, match):
    """Empty, whitespace, control-character and injection keys fail at construction."""
    with pytest.raises(ConfigurationError, match=match) as info:
        SolarEdgeClient(api_key=key, transport=T)
    if isinstance(key, str) and len(key) > 3:
        assert key not in str(info.value)


def test_malformed_env_key_names_the_variable(monkeypatch):
    """A bad key from the environment says where it came from."""
    monkeypatch.setenv("SOLAREDGE_API_KEY", "bad key")
    with pytest.raises(ConfigurationError, match="SOLAREDGE_API_KEY environment variable"):
        SolarEdgeClient(transport=T)


def test_key_and_token_provider_are_exclusive():
    """Both kinds of credential at once is an error."""

    async def provider() -> str:
        return "t"

    with pytest.raises(ConfigurationError, match="not both"):
        SolarEdgeClient(api_key="k", token_provider=provider, transport=T)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/v2",
        "http://localhost/v2",
        "http://[::1]:9000/v2",
        DEFAULT_BASE_URL,
        "https://example.test/v2/",
    ],
)
def test_safe_base_urls_are_accepted(url):
    """Https anywhere and http on loopback are fine; a trailing slash is dropped."""
    client = SolarEdgeClient(api_key="k", base_url=url, transport=T)
    assert client.base_url == url.rstrip("/")


@pytest.mark.parametrize(
    ("url", "match"),
    [
        (DEFAULT_BASE_URL.replace("https://", "http://"), "clear text"),
        ("http://10.0.0.5/v2", "clear text"),
        ("ftp://example.test/v2", "absolute http"),
        ("monitoringapi.solaredge.com/v2", "absolute http"),
        ("https://user:pw@example.test/v2", "credentials"),
        ("https://example.test/v2?api_key=x", "query"),
        ("https://example.test/v2\r\nHost: x", "control"),
    ],
)
def test_unsafe_base_urls_are_refused(url, match):
    """Clear-text http to a remote host needs an explicit opt-in; odd URLs are refused."""
    with pytest.raises(ConfigurationError, match=match):
        SolarEdgeClient(api_key="k", base_url=url, transport=T)


def test_insecure_http_opt_in():
    """allow_insecure_http=True permits http:// to a remote host."""
    client = SolarEdgeClient(
        api_key="k", base_url="http://10.0.0.5/v2", allow_insecure_http=True, transport=T
    )
    assert client.base_url == "http://10.0.0.5/v2"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"max_concurrency": True}, "max_concurrency"),
        ({"requests_per_minute": 0}, "requests_per_minute"),
        ({"timeout": -1}, "timeout"),
        ({"http_client": httpx.AsyncClient()}, "not both"),
    ],
)
def test_bad_limits_are_refused(kwargs, match):
    """Limits out of range and contradictory options fail at construction."""
    with pytest.raises(ConfigurationError, match=match):
        SolarEdgeClient(api_key="k", transport=T, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"max_attempts": 0}, "max_attempts"),
        ({"initial_backoff": 0}, "initial_backoff"),
        ({"deadline": -5}, "deadline"),
        ({"jitter": float("nan")}, "jitter"),
    ],
)
def test_bad_retry_policy(kwargs, match):
    """RetryPolicy validates its numbers."""
    with pytest.raises(ConfigurationError, match=match):
        RetryPolicy(**kwargs)
