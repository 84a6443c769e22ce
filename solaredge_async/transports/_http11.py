"""HTTP/1.1 framing for `FastTransport`: a request as bytes, a response's declared length."""

from __future__ import annotations

import httpx

__all__ = ["declared_length", "frame_request"]


def declared_length(headers: list[tuple[bytes, bytes]]) -> int:
    """The ``content-length`` a response head declares (0 when none or unreadable)."""
    for name, value in headers:
        if len(name) == 14 and name.lower() == b"content-length":  # noqa: PLR2004
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


def frame_request(request: httpx.Request, body: bytes) -> bytes:
    """The request line, headers and body, as sent; refuses header injection."""
    lines = [b"%s %s HTTP/1.1" % (request.method.encode("ascii"), request.url.raw_path)]
    has_length = False
    for name, value in request.headers.raw:
        lowered = name.lower()
        if lowered == b"transfer-encoding":
            continue  # the body is sent whole, with its length
        if lowered == b"content-length":
            has_length = True
        lines.append(name + b": " + value)
    if body and not has_length:
        lines.append(b"Content-Length: %d" % len(body))
    lines.extend((b"", body))
    head = b"\r\n".join(lines)
    if head.count(b"\n", 0, len(head) - len(body)) != len(lines) - 1:
        raise httpx.LocalProtocolError("a request header contains a line break", request=request)
    return head
