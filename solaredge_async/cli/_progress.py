"""A progress bar on stderr: redrawn in place on a terminal, a line now and then otherwise."""

from __future__ import annotations

import shutil
import time
from typing import TYPE_CHECKING, Final, TextIO

if TYPE_CHECKING:
    from solaredge_async.fleet import SweepProgress

__all__ = ["ProgressBar", "format_duration"]

#: Seconds between lines when stderr is not a terminal (logs, CI).
_LOG_EVERY: Final = 10.0


def format_duration(seconds: float | None) -> str:
    """``1:02:03`` / ``2:03`` / ``--:--`` for unknown."""
    if seconds is None or seconds != seconds or seconds < 0:  # noqa: PLR0124 - NaN check
        return "--:--"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class ProgressBar:
    """Draws `SweepProgress` snapshots; use as the sweep's ``on_progress`` callback.

    Args:
        stream: Where to draw (stderr).
        enabled: False draws nothing.
    """

    def __init__(self, stream: TextIO, *, enabled: bool = True) -> None:
        self._stream = stream
        self._enabled = enabled
        try:
            self._tty = stream.isatty()
        except (AttributeError, ValueError):
            self._tty = False
        self._last_log = -_LOG_EVERY
        self._last_done = -1
        self._drawn = False

    def __call__(self, p: SweepProgress) -> None:
        """Draw one snapshot."""
        if not self._enabled:
            return
        line = self._line(p)
        if self._tty:
            width = shutil.get_terminal_size((100, 20)).columns - 1
            self._stream.write("\r" + line[:width].ljust(width))
            self._stream.flush()
            self._drawn = True
            return
        now = time.monotonic()
        if p.done == self._last_done:
            return  # nothing new (e.g. the closing snapshot after the last item)
        if now - self._last_log >= _LOG_EVERY or p.done == p.total:
            self._last_log = now
            self._last_done = p.done
            self._stream.write(line + "\n")
            self._stream.flush()

    def _line(self, p: SweepProgress) -> str:
        fraction = p.done / p.total if p.total else 1.0
        bar_width = 24
        filled = int(fraction * bar_width)
        bar = "#" * filled + "." * (bar_width - filled)
        parts = [
            f"[{bar}] {fraction:4.0%} {p.done:,}/{p.total:,} items",
            f"ok {p.succeeded:,} failed {p.failed:,} skipped {p.not_attempted:,}",
            f"{p.credits:,} credits",
            f"{p.rate:,.0f} calls/min",
        ]
        if p.rate_limited:
            parts.append(f"{p.rate_limited} x 429")
        if p.stopped:
            parts.append(f"stopped: {p.stopped}")
        else:
            parts.append(f"ETA {format_duration(p.eta)}")
        return " | ".join(parts)

    def close(self) -> None:
        """End the redrawn line (on a terminal)."""
        if self._drawn:
            self._stream.write("\n")
            self._stream.flush()
            self._drawn = False
