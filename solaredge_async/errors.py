"""The exceptions raised by solaredge_async.

Every error the library raises derives from `SolarEdgeError`, so one ``except``
clause catches them all. The tree::

    SolarEdgeError
    ├── ConfigurationError        bad arguments to the client (credentials, URLs, limits)
    ├── InvalidRequestError       a request that cannot be valid, refused before it costs
    │   │                         a credit (also a ValueError)
    │   └── SpanTooLongError      a window over the cap for its resolution, splitting off
    ├── ClientClosedError         the client was used after `aclose()`
    ├── TransportError            the request did not get an HTTP answer
    │   └── RequestTimeoutError   connect, read, write or pool timeout, or the overall
    │                             deadline of a call ran out
    ├── APIStatusError            the server answered with an error status
    │   ├── BadRequestError           400
    │   ├── AuthenticationError       401
    │   ├── PermissionDeniedError     403
    │   ├── NotFoundError             404
    │   ├── GoneError                 410 (V1 paths after retirement)
    │   ├── RateLimitedError          429 per minute (retried; raised when retries run out)
    │   │   └── QuotaExhaustedError   429 monthly credits used up (never retried)
    │   └── ServerError               5xx, JSON or HTML bodies
    ├── QuotaExhaustedError           (see above; also raised locally once tripped)
    ├── ResponseValidationError   a 2xx body that is not what the API reference describes
    └── OAuthError                the OAuth token endpoint refused (RFC 6749 error body)

No message, ``repr`` or attribute of these exceptions ever holds an API key,
account key or token: bodies are truncated and scrubbed before they are kept.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "APIStatusError",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ConfigurationError",
    "GoneError",
    "InvalidRequestError",
    "NotFoundError",
    "OAuthError",
    "PermissionDeniedError",
    "QuotaExhaustedError",
    "RateLimitedError",
    "RequestTimeoutError",
    "ResponseValidationError",
    "ServerError",
    "SolarEdgeError",
    "SpanTooLongError",
    "TransportError",
]

#: The most characters of a response body an exception keeps.
MAX_BODY_CHARS = 500


class SolarEdgeError(Exception):
    """The base of every error raised by solaredge_async."""


class ConfigurationError(SolarEdgeError, ValueError):
    """The client was configured with values that cannot work.

    Raised at construction, before any request: a missing or malformed credential,
    a clear-text ``http://`` base URL for a non-loopback host, a non-positive limit.
    """


class InvalidRequestError(SolarEdgeError, ValueError):
    """A request that cannot be valid, refused before it is sent (no credit spent).

    The message says what was wrong and what is allowed.
    """


class SpanTooLongError(InvalidRequestError):
    """A window longer than the cap for its resolution, with automatic splitting off."""


class ClientClosedError(SolarEdgeError, RuntimeError):
    """The client was used after `SolarEdgeClient.aclose()`."""


class TransportError(SolarEdgeError):
    """The request got no HTTP answer: connection refused or reset, protocol error.

    Attributes:
        method: The HTTP method.
        path: The request path (never the query string or headers).
    """

    def __init__(self, message: str, *, method: str = "", path: str = "") -> None:
        super().__init__(message)
        self.method = method
        self.path = path


class RequestTimeoutError(TransportError, builtins.TimeoutError):
    """A connect, read, write or pool timeout, or a call's overall deadline ran out.

    Also a subclass of the built-in `TimeoutError`.
    """


class APIStatusError(SolarEdgeError):
    """The server answered with an error status.

    The problem+json fields of the body (RFC 9457) are parsed when present; the
    ``trace_id`` is read from the top level or from ``properties`` (the API uses both).

    Attributes:
        status_code: The HTTP status.
        method: The HTTP method.
        path: The request path, without query string.
        title: The problem's ``title``, if any.
        detail: The problem's ``detail``, if any.
        trace_id: The server's trace id, for support requests, if any.
        body: The start of the body (at most 500 characters), scrubbed of secrets.
        headers: The response headers that matter for diagnosis (rate limits, ids).
    """

    status_family: ClassVar[str] = "error"

    def __init__(
        self,
        *,
        status_code: int,
        method: str,
        path: str,
        title: str | None = None,
        detail: str | None = None,
        trace_id: str | None = None,
        body: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status_code = status_code
        self.method = method
        self.path = path
        self.title = title
        self.detail = detail
        self.trace_id = trace_id
        self.body = body[:MAX_BODY_CHARS]
        self.headers = dict(headers or {})
        super().__init__(self._message())

    def _message(self) -> str:
        what = ": ".join(p for p in (self.title, self.detail) if p)
        if not what:
            what = self.body[:120].strip() or "no details in the body"
        msg = f"{self.method} {self.path} failed with {self.status_code} ({what})"
        if self.trace_id:
            msg += f" [trace id {self.trace_id}]"
        hint = self._hint()
        return f"{msg}. {hint}" if hint else msg

    def _hint(self) -> str:
        return ""

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only __init__: rebuild from the instance dict when pickled.
        return (_rebuild, (type(self), self.__dict__))


def _rebuild(cls: type[APIStatusError], state: dict[str, object]) -> APIStatusError:
    err = cls.__new__(cls)
    err.__dict__.update(state)
    Exception.__init__(err, err._message())  # noqa: SLF001
    return err


class BadRequestError(APIStatusError):
    """400: a bad parameter, a span over the cap, or an unsupported resolution."""

    def _hint(self) -> str:
        return "Check the parameters against the API reference; this is never retried"


class AuthenticationError(APIStatusError):
    """401: the credential is missing, invalid, expired or revoked."""

    def _hint(self) -> str:
        return "Check the API key or refresh the OAuth token"


class PermissionDeniedError(APIStatusError):
    """403: site not visible to the credential, scope missing, or tier too low."""

    def _hint(self) -> str:
        return (
            "The credential cannot see this resource (another account's site, a bearer "
            "token without DEVICE_DATA, or an Advanced Monitoring endpoint on a lower tier)"
        )


class NotFoundError(APIStatusError):
    """404: an unknown route, site or serial."""


class GoneError(APIStatusError):
    """410: a V1 path after the V1 retirement (2026-11-03)."""

    def _hint(self) -> str:
        return "V1 is retired; use the V2 base URL https://monitoringapi.solaredge.com/v2"


class RateLimitedError(APIStatusError):
    """429 per minute: raised only when retries ran out or the pause exceeds the budget.

    Attributes:
        retry_after: Seconds the server asked to wait, if it said.
        remaining: The ``x-ratelimit-remaining-minute`` value, if sent.
    """

    def __init__(
        self,
        *,
        retry_after: float | None = None,
        remaining: int | None = None,
        **kwargs: object,
    ) -> None:
        self.retry_after = retry_after
        self.remaining = remaining
        super().__init__(**kwargs)  # type: ignore[arg-type]

    def _hint(self) -> str:
        if self.retry_after is not None:
            return f"The server asked to wait {self.retry_after:g} s"
        return ""


class QuotaExhaustedError(RateLimitedError):
    """429 monthly: the account's credits for the billing month are used up.

    Never retried. Once raised, the client refuses every further call on the same
    credential (raising this error locally, without spending a credit) until
    `SolarEdgeClient.reset_quota()` is called.
    """

    def _hint(self) -> str:
        return (
            "The monthly credits of this account are used up; calls are refused locally "
            "until SolarEdgeClient.reset_quota() is called (after the billing day)"
        )


class ServerError(APIStatusError):
    """5xx: the server or its gateway failed (bodies may be HTML pages)."""


class ResponseValidationError(SolarEdgeError):
    """A successful response whose body does not fit the documented shape.

    The message points at the bad field, e.g.
    ``expected float @ $.values[3].value``.

    Attributes:
        path: The request path.
        errors: One line per problem found.
    """

    def __init__(self, message: str, *, path: str = "", errors: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.path = path
        self.errors = errors


class OAuthError(SolarEdgeError):
    """The OAuth token or revoke endpoint refused (RFC 6749 error body).

    Attributes:
        error: The RFC 6749 error code, e.g. ``invalid_grant``.
        description: The server's ``error_description``.
        status_code: The HTTP status.
    """

    def __init__(
        self, error: str, description: str | None = None, *, status_code: int = 400
    ) -> None:
        self.error = error
        self.description = description
        self.status_code = status_code
        text = f"OAuth token request failed with {status_code}: {error}"
        if description:
            text += f" ({description})"
        super().__init__(text)


#: The exception class for each error status.
STATUS_ERRORS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    410: GoneError,
    429: RateLimitedError,
}


def error_class_for(status_code: int) -> type[APIStatusError]:
    """Return the exception class for an HTTP error status."""
    if status_code >= 500:  # noqa: PLR2004
        return ServerError
    return STATUS_ERRORS.get(status_code, APIStatusError)
