"""Running one command: the event loop, SIGINT/SIGTERM as a graceful stop, exit statuses."""

from __future__ import annotations

import functools
import importlib.util
import signal
import threading
from typing import TYPE_CHECKING, Any, Final

import anyio

from solaredge_async import errors
from solaredge_async.cli._commands import (
    RefusedError,
    Stop,
    UsageError,
    fail,
    sites_command,
)
from solaredge_async.cli._defaults import (
    EXIT_INCOMPLETE,
    EXIT_INTERRUPTED,
    EXIT_REFUSED,
    EXIT_USAGE,
    Terminated,
)
from solaredge_async.cli._output import OutputError
from solaredge_async.fleet import PlanOverBudgetError

if TYPE_CHECKING:
    import argparse
    from collections.abc import Awaitable, Callable

    from anyio.abc import TaskStatus

__all__ = ["run"]

_SIGNAL_NAMES: Final = {int(signal.SIGINT): "SIGINT", int(signal.SIGTERM): "SIGTERM"}


def _command(name: str) -> Callable[[argparse.Namespace, Stop], Awaitable[int]]:
    if name == "sweep":
        from solaredge_async.cli._sweep import sweep_command  # noqa: PLC0415

        return sweep_command
    if name == "sync":
        from solaredge_async.cli._sync import sync_command  # noqa: PLC0415

        return sync_command
    return sites_command


_TRIO_MISSING: Final = "--backend trio needs trio: pip install 'solaredge-async[trio]'"


def _check_backend(backend: str) -> None:
    if backend == "trio" and importlib.util.find_spec("trio") is None:
        raise UsageError(_TRIO_MISSING)


def _status_for(exc: Exception) -> tuple[str, int] | None:  # noqa: PLR0911 - one per class
    """The message and exit status for an error that ends a command; None: a bug."""
    if isinstance(exc, UsageError | OutputError):
        return f"error: {exc}", EXIT_USAGE
    if isinstance(exc, RefusedError):
        return f"refused: {exc}", EXIT_REFUSED
    if isinstance(exc, PlanOverBudgetError):
        return f"refused: {exc}", EXIT_REFUSED
    if isinstance(exc, errors.QuotaExhaustedError):
        return f"refused: the monthly credits ran out before any data call ({exc})", EXIT_REFUSED
    if isinstance(exc, errors.ConfigurationError | errors.InvalidRequestError):
        return f"error: {exc}", EXIT_USAGE
    if isinstance(exc, errors.SolarEdgeError):
        return f"error: {type(exc).__name__}: {exc}", EXIT_INCOMPLETE
    if isinstance(exc, ModuleNotFoundError | LookupError) and "trio" in str(exc):
        return f"error: {_TRIO_MISSING}", EXIT_USAGE
    return None


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Run the parsed command under SIGINT/SIGTERM handling; return the exit status."""
    del parser
    stop = Stop()
    early: list[int] = []
    restore = _hold_sigint(stop, early)
    try:
        _check_backend(args.backend)
        command = _command(args.command)
        status = anyio.run(
            functools.partial(_guarded, command, args, stop, early), backend=args.backend
        )
    except KeyboardInterrupt:
        return fail(f"interrupted; {stop.note}", EXIT_INTERRUPTED)
    except Exception as exc:
        mapped = _status_for(exc)
        if mapped is None:
            raise
        return fail(*mapped)
    finally:
        restore()
    if stop.signum is not None:
        return fail(f"stopped by {_SIGNAL_NAMES[stop.signum]}; {stop.note}", stop.status)
    return status


def _hold_sigint(stop: Stop, early: list[int]) -> Callable[[], None]:
    """Until the signal watcher runs, a SIGINT is noted in ``early``, not raised.

    A KeyboardInterrupt raised at any point while the event loop starts (in its own
    set-up, in an import, in the middle of a cancellation) can escape as a traceback
    or worse; the watcher picks the noted signal up as soon as it runs. A second one
    (or one after the first was taken) raises KeyboardInterrupt as usual. Returns the
    function that puts the default handler back.
    """
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        return lambda: None

    def on_sigint(signum: int, _frame: object) -> None:
        if early or stop.signum is not None:
            raise KeyboardInterrupt
        early.append(signum)

    signal.signal(signal.SIGINT, on_sigint)

    def restore() -> None:
        if signal.getsignal(signal.SIGINT) is on_sigint:
            signal.signal(signal.SIGINT, signal.default_int_handler)

    return restore


async def _guarded(
    command: Callable[[argparse.Namespace, Stop], Awaitable[int]],
    args: argparse.Namespace,
    stop: Stop,
    early: list[int],
) -> int:
    """Run ``command``; the first SIGINT or SIGTERM cancels it (it commits on the way out).

    A second signal, once the first was taken, falls back to the default handlers
    (SIGINT raises KeyboardInterrupt: exit 130).
    """
    outcome: dict[str, Any] = {}
    async with anyio.create_task_group() as tg:
        await tg.start(_watch_signals, tg.cancel_scope, stop, early)

        async def body() -> None:
            try:
                outcome["status"] = await command(args, stop)
            except Exception as exc:  # noqa: BLE001 - re-raised below, outside the group
                outcome["error"] = exc
            finally:
                tg.cancel_scope.cancel()

        tg.start_soon(body)
    if "error" in outcome:
        raise outcome["error"]
    return int(outcome.get("status", stop.status))


async def _watch_signals(
    scope: anyio.CancelScope, stop: Stop, early: list[int], *, task_status: TaskStatus[None]
) -> None:
    if threading.current_thread() is not threading.main_thread():
        task_status.started()  # only the main thread receives signals
        await anyio.sleep_forever()
    try:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            task_status.started()
            if early:  # came while the loop started: taken as if it came now
                stop.signum = early[0]
                scope.cancel()
                return
            async for signum in signals:
                stop.signum = int(signum)
                scope.cancel()
                return
    except KeyboardInterrupt:  # trio redelivers a signal that came as the receiver closed
        stop.signum = stop.signum or int(signal.SIGINT)
    except Terminated:
        stop.signum = stop.signum or int(signal.SIGTERM)
