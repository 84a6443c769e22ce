"""Decoding response bodies: strict JSON, with orjson when it is installed."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, NoReturn

from solaredge_async.errors import ResponseValidationError

if TYPE_CHECKING:
    from collections.abc import Callable

    from solaredge_async.models import JSONValue

__all__ = ["decode_json"]


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    number = float(text)
    if math.isfinite(number):
        return number
    raise ValueError(f"number out of range: {text[:40]}")


def _decode_stdlib(content: bytes) -> JSONValue:
    result: JSONValue = json.loads(
        content.decode("utf-8"), parse_constant=_refuse_constant, parse_float=_finite_float
    )
    return result


def _pick_decoder() -> Callable[[bytes], JSONValue]:
    # orjson is 3-4x faster than json on telemetry bodies; it is optional.
    try:
        import orjson  # noqa: PLC0415
    except ImportError:  # pragma: no cover - the stdlib path is tested directly
        return _decode_stdlib
    return orjson.loads


_decode: Callable[[bytes], JSONValue] = _pick_decoder()


def decode_json(content: bytes, path: str) -> JSONValue:
    """Decode a response body (UTF-8 JSON) with orjson when installed, else `json`.

    Refuses what is not strict JSON: ``NaN``, ``Infinity``, numbers beyond a float's
    range, and bytes that are not UTF-8.

    Args:
        content: The body.
        path: The request path, for the error message.

    Raises:
        ResponseValidationError: An empty body or one that is not valid JSON.
    """
    if not content:
        raise ResponseValidationError(
            f"{path}: the response body is empty, expected JSON", path=path, errors=("empty body",)
        )
    try:
        return _decode(content)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError
        reason = str(exc)[:200] or type(exc).__name__
        raise ResponseValidationError(
            f"{path}: the response body is not valid JSON ({reason})", path=path, errors=(reason,)
        ) from None
