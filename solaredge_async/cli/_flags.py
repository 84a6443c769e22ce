"""The parsers of the CLI's flag values (each raises `argparse.ArgumentTypeError`)."""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime, timedelta
from typing import Final

__all__ = [
    "aware",
    "non_negative_float",
    "non_negative_int",
    "parse_bound",
    "parse_instant",
    "parse_sites",
    "parse_what",
    "positive_int",
]

_RELATIVE: Final = {"today": 0, "yesterday": -1}


def positive_int(text: str) -> int:
    """A positive integer."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    """An integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


def non_negative_float(text: str) -> float:
    """A finite or infinite number >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def aware(text: str) -> datetime:
    """An ISO 8601 instant with an offset."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an ISO 8601 instant, got {text!r}") from None
    if value.utcoffset() is None:
        raise argparse.ArgumentTypeError(f"the instant needs an offset, e.g. {text}+00:00")
    return value


def parse_what(text: str) -> tuple[str, ...]:
    """Parse ``--what``: comma-separated targets, each checked against the allowed ones."""
    from solaredge_async._endpoints import TARGETS  # noqa: PLC0415 - keeps --help fast

    names = tuple(dict.fromkeys(p.strip() for p in text.split(",") if p.strip()))
    unknown = [n for n in names if n not in TARGETS]
    if unknown or not names:
        shown = ", ".join(repr(u) for u in unknown) or "nothing"
        raise argparse.ArgumentTypeError(f"unknown target {shown}; allowed: {', '.join(TARGETS)}")
    return names


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
