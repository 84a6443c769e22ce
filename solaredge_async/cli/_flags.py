"""The parsers of the CLI's flag values (each raises `argparse.ArgumentTypeError`)."""

from __future__ import annotations

import argparse
import math
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Final, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = [
    "aware",
    "non_negative_float",
    "non_negative_int",
    "parse_bound",
    "parse_instant",
    "parse_names",
    "parse_sites",
    "parse_what",
    "positive_float",
    "positive_int",
    "tcp_port",
]

_RELATIVE: Final = {"today": 0, "yesterday": -1}


_N = TypeVar("_N", int, float)


def _number(
    convert: Callable[[str], _N], ok: Callable[[_N], bool], kind: str, wanted: str
) -> Callable[[str], _N]:
    """A parser of ``convert(text)`` that ``ok`` accepts.

    Its errors read ``expected <kind>, got '...'`` for text ``convert`` refuses and
    ``expected <wanted>, got '...'`` for a value ``ok`` refuses.
    """

    def parse(text: str) -> _N:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {kind}, got {text!r}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}")
        return value

    return parse


#: A positive integer.
positive_int: Final = _number(int, lambda v: v >= 1, "a positive integer", "a positive integer")
#: An integer >= 0.
non_negative_int: Final = _number(int, lambda v: v >= 0, "a whole number", "a whole number >= 0")
#: A finite or infinite number >= 0 (not NaN).
non_negative_float: Final = _number(float, lambda v: v >= 0, "a number", "a number >= 0")
#: A finite number > 0.
positive_float: Final = _number(float, lambda v: 0 < v < math.inf, "a number", "a positive number")


def tcp_port(text: str) -> int:
    """A TCP port, 0-65535, in decimal digits."""
    if not text.isdigit() or int(text) > 65535:  # noqa: PLR2004 - the TCP port range
        raise argparse.ArgumentTypeError(f"expected a TCP port 0-65535, got {text!r}")
    return int(text)


def aware(text: str) -> datetime:
    """An ISO 8601 instant with an offset."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an ISO 8601 instant, got {text!r}") from None
    if value.utcoffset() is None:
        raise argparse.ArgumentTypeError(f"the instant needs an offset, e.g. {text}+00:00")
    return value


def parse_names(text: str, allowed: Sequence[str]) -> tuple[str, ...]:
    """Comma-separated names, each one of ``allowed``; repeats dropped, order kept."""
    names = tuple(dict.fromkeys(p.strip() for p in text.split(",") if p.strip()))
    unknown = [n for n in names if n not in allowed]
    if unknown or not names:
        shown = ", ".join(repr(u) for u in unknown) or "nothing"
        raise argparse.ArgumentTypeError(f"unknown target {shown}; allowed: {', '.join(allowed)}")
    return names


def parse_what(text: str) -> tuple[str, ...]:
    """Parse ``--what``: comma-separated targets, each checked against the allowed ones."""
    from solaredge_async._endpoints import TARGETS  # noqa: PLC0415 - keeps --help fast

    return parse_names(text, TARGETS)


def parse_sites(text: str) -> tuple[int, ...]:
    """Parse ``--sites``: comma-separated positive site ids."""
    ids: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if not part.isdigit() or int(part) < 1:
            raise argparse.ArgumentTypeError(f"site ids are positive integers, got {part!r}")
        ids.append(int(part))
    if not ids:
        raise argparse.ArgumentTypeError("no site id given")
    return tuple(dict.fromkeys(ids))


def parse_bound(text: str) -> str:
    """Check a ``--start`` / ``--end`` value; the text is kept (and stored for resume).

    Accepts ``YYYY-MM-DD`` (a site-local day, inclusive), an ISO 8601 date-time
    (naive: site-local), ``today``, ``yesterday`` or ``-N`` (N days ago, site-local).
    """
    value = text.strip().lower()
    if value in _RELATIVE or (value.startswith("-") and value[1:].isdigit()):
        return value
    try:
        if len(value) == 10:  # noqa: PLR2004 - YYYY-MM-DD
            date.fromisoformat(value)
        else:
            datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected YYYY-MM-DD, an ISO date-time, 'today', 'yesterday' or -N, got {text!r}"
        ) from None
    return text.strip()


def parse_instant(text: str) -> date | datetime:
    """Parse ``--since`` / ``--until``: ``YYYY-MM-DD`` (a site-local day) or an aware instant.

    ``today``, ``yesterday`` and ``-N`` (N days ago) name days of the UTC calendar.
    """
    value = text.strip()
    relative = value.lower()
    if relative in _RELATIVE or (relative.startswith("-") and relative[1:].isdigit()):
        offset = _RELATIVE.get(relative, -int(relative[1:] or 0))
        return datetime.now(UTC).date() + timedelta(days=offset)
    try:
        if len(value) == 10:  # noqa: PLR2004 - YYYY-MM-DD
            return date.fromisoformat(value)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected YYYY-MM-DD or an ISO 8601 instant, got {text!r}"
        ) from None
    if parsed.utcoffset() is None:
        raise argparse.ArgumentTypeError(f"the instant needs an offset, e.g. {value}+00:00")
    return parsed
