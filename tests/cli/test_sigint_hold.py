"""The CLI's first-SIGINT hold: a signal while the event loop starts waits for the watcher."""

from __future__ import annotations

import signal

import pytest

from solaredge_async.cli._commands import Stop
from solaredge_async.cli._run import _hold_sigint


def test_a_sigint_while_the_loop_starts_is_held_for_the_watcher() -> None:
    """The first SIGINT before the watcher runs is noted, not raised; a second raises."""
    stop = Stop()
    early: list[int] = []
    restore = _hold_sigint(stop, early)
    try:
        signal.raise_signal(signal.SIGINT)  # no KeyboardInterrupt: held
        assert early == [signal.SIGINT]
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    finally:
        restore()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
