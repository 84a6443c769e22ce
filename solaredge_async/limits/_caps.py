"""Learned window caps: the longest span the server accepted, per account, family, resolution.

The documented caps are not what the live API enforces (the QUARTER_HOUR cap is
12 h on paper, a day in practice), so the client probes the longest plausible
window once and remembers what the server accepted. This module stores those
findings (the probing is the engine's): per credential fingerprint, endpoint
family (e.g. ``energy``, ``telemetry``) and resolution, the cap in seconds and
when it was probed. A finding older than ``reprobe_after`` asks for a new probe.

`MemoryCapStore` keeps them in memory; `FileCapStore` in the same JSON state
file as the credit ledger (or any other), under the same OS lock.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Final, Protocol, runtime_checkable

import attrs

from solaredge_async.errors import ConfigurationError
from solaredge_async.limits._cycle import aware, check_account, utc_now
from solaredge_async.limits._statefile import StateFile

if TYPE_CHECKING:
    import os
    from collections.abc import Callable

__all__ = ["DEFAULT_REPROBE_AFTER", "CapStore", "FileCapStore", "LearnedCap", "MemoryCapStore"]

#: How long a learned cap is trusted before it is probed again.
DEFAULT_REPROBE_AFTER: Final = dt.timedelta(days=30)

_MAX_NAME: Final = 64
#: The longest cap stored (seconds): ten years; the API has nothing longer.
_MAX_CAP: Final = 10 * 366 * 86400


@attrs.frozen(kw_only=True)
class LearnedCap:
    """The longest window the server accepted for one account, family and resolution.

    Attributes:
        account: The credential fingerprint.
        family: The endpoint family (e.g. ``energy``).
        resolution: The resolution (e.g. ``QUARTER_HOUR``).
        seconds: The cap, in seconds (the longest span the server accepted).
        probed_at: When the probe ran (UTC).
    """

    account: str
    family: str
    resolution: str
    seconds: int
    probed_at: dt.datetime

    @property
    def span(self) -> dt.timedelta:
        """The cap as a timedelta."""
        return dt.timedelta(seconds=self.seconds)


def _check_name(value: object, what: str) -> str:
    if (
        isinstance(value, str)
        and 0 < len(value) <= _MAX_NAME
        and value.isprintable()
        and "|" not in value
    ):
        return str(value)
    raise ConfigurationError(
        f"{what} must be a short printable name without '|' (e.g. 'energy', 'QUARTER_HOUR'), "
        f"got {value!r}"
    )


def _check_cap(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= _MAX_CAP:
        raise ConfigurationError(
            f"a learned cap must be a whole number of seconds > 0, got {value!r}"
        )
    return value


def _key(account: str, family: str, resolution: str) -> str:
    names = (_check_name(family, "family"), _check_name(resolution, "resolution"))
    return "|".join((check_account(account), *names))


@runtime_checkable
class CapStore(Protocol):
    """Where learned window caps are kept (every method is async)."""

    async def get(self, account: str, family: str, resolution: str) -> LearnedCap | None:
        """The cap learned for this account, family and resolution, or None."""
        ...

    async def learn(self, account: str, family: str, resolution: str, seconds: int) -> LearnedCap:
        """Remember that the server accepts spans of ``seconds`` (probed now)."""
        ...

    async def needs_probe(self, account: str, family: str, resolution: str) -> bool:
        """True when nothing was learned yet or the finding is older than the reprobe period."""
        ...


class _CapsBase:
    def __init__(self, *, reprobe_after: dt.timedelta, clock: Callable[[], dt.datetime]) -> None:
        if not isinstance(reprobe_after, dt.timedelta) or reprobe_after <= dt.timedelta(0):
            raise ConfigurationError(
                f"reprobe_after must be a positive timedelta, got {reprobe_after!r}"
            )
        self.reprobe_after = reprobe_after
        self._clock = clock

    def _stale(self, cap: LearnedCap | None) -> bool:
        return cap is None or aware(self._clock) - cap.probed_at >= self.reprobe_after

    @staticmethod
    def _to_cap(key: str, entry: object) -> LearnedCap | None:
        if not isinstance(entry, dict):
            return None
        seconds, probed = entry.get("seconds"), entry.get("probed_at")
        if isinstance(seconds, bool) or not isinstance(seconds, int) or not isinstance(probed, str):
            return None
        try:
            when = dt.datetime.fromisoformat(probed)
        except ValueError:
            return None
        if when.tzinfo is None:
            return None
        account, family, resolution = key.split("|", 2)
        return LearnedCap(
            account=account,
            family=family,
            resolution=resolution,
            seconds=seconds,
            probed_at=when.astimezone(dt.UTC),
        )

    def _entry(self, seconds: int) -> tuple[dict[str, Any], dt.datetime]:
        now = aware(self._clock)
        return {"seconds": seconds, "probed_at": now.isoformat()}, now


class MemoryCapStore(_CapsBase):
    """Learned window caps in this process's memory.

    Args:
        reprobe_after: How long a finding is trusted (30 days by default).
        clock: The wall clock (an aware datetime); injectable for tests.

    Raises:
        ConfigurationError: A non-positive period or a clock that is not callable.
    """

    def __init__(
        self,
        *,
        reprobe_after: dt.timedelta = DEFAULT_REPROBE_AFTER,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        super().__init__(reprobe_after=reprobe_after, clock=clock)
        self._caps: dict[str, dict[str, Any]] = {}

    async def get(self, account: str, family: str, resolution: str) -> LearnedCap | None:
        """The cap learned for this account, family and resolution, or None."""
        key = _key(account, family, resolution)
        return self._to_cap(key, self._caps.get(key))

    async def learn(self, account: str, family: str, resolution: str, seconds: int) -> LearnedCap:
        """Remember that the server accepts spans of ``seconds`` (probed now).

        Raises:
            ConfigurationError: A malformed name or a cap that is not a positive integer.
        """
        key = _key(account, family, resolution)
        entry, now = self._entry(_check_cap(seconds))
        self._caps[key] = entry
        return LearnedCap(
            account=account, family=family, resolution=resolution, seconds=seconds, probed_at=now
        )

    async def needs_probe(self, account: str, family: str, resolution: str) -> bool:
        """True when nothing was learned yet or the finding is older than ``reprobe_after``."""
        return self._stale(await self.get(account, family, resolution))


class FileCapStore(_CapsBase):
    """Learned window caps in a JSON state file (the ledger's file may be shared).

    Args:
        path: The state file (``FileCreditLedger`` may use the same one).
        reprobe_after: How long a finding is trusted (30 days by default).
        clock: The wall clock (an aware datetime); injectable for tests.

    Raises:
        ConfigurationError: A bad setting.
        StateFileError: (from the methods) the file is damaged or cannot be used.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        reprobe_after: dt.timedelta = DEFAULT_REPROBE_AFTER,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        super().__init__(reprobe_after=reprobe_after, clock=clock)
        self._file = StateFile(path)

    def __repr__(self) -> str:
        return f"FileCapStore({str(self._file.path)!r})"

    def _section(self, data: dict[str, Any]) -> dict[str, Any]:
        caps = self._file.section(data, "caps")
        for key, entry in caps.items():
            if key.count("|") != 2 or self._to_cap(key, entry) is None:  # noqa: PLR2004
                raise self._file.damaged(f"the learned cap {key!r} is malformed")
        return caps

    async def get(self, account: str, family: str, resolution: str) -> LearnedCap | None:
        """The cap learned for this account, family and resolution, or None.

        Raises:
            StateFileError: The file is damaged or cannot be read.
        """
        key = _key(account, family, resolution)
        return await self._file.read(lambda data: self._to_cap(key, self._section(data).get(key)))

    async def learn(self, account: str, family: str, resolution: str, seconds: int) -> LearnedCap:
        """Remember that the server accepts spans of ``seconds`` (probed now).

        Raises:
            ConfigurationError: A malformed name or a cap that is not a positive integer.
            StateFileError: The file is damaged or cannot be used.
        """
        key = _key(account, family, resolution)
        entry, now = self._entry(_check_cap(seconds))

        def save(data: dict[str, Any]) -> None:
            self._section(data)[key] = entry

        await self._file.update(save)
        return LearnedCap(
            account=account, family=family, resolution=resolution, seconds=seconds, probed_at=now
        )

    async def needs_probe(self, account: str, family: str, resolution: str) -> bool:
        """True when nothing was learned yet or the finding is older than ``reprobe_after``.

        Raises:
            StateFileError: The file is damaged or cannot be read.
        """
        return self._stale(await self.get(account, family, resolution))
