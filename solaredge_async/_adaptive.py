"""Adaptive window caps: ask for the longest plausible window once, remember the answer.

The documented caps (12 h of quarter-hours, 28 days of days) are stricter than what
the live API was seen to serve (whole days of quarter-hours), and each split costs a
credit. So for each credential, endpoint family (`cap_family`: ``energy``, ``power``,
``telemetry``, ``device``) and resolution the client asks once for the longest
plausible window (`solaredge_async._windows.PLAUSIBLE_CAPS`) and keeps the answer in a
`solaredge_async.limits.CapStore`:

* accepted: the plausible cap is learned and every later window is split at it;
* refused (a 400 on a window longer than the documented cap, the server's "window
  too long"): the documented cap is learned, the window is split at it and sent
  again. That refusal is the one credit a probe can lose.

While nothing is known, the first window of a key goes alone, under a lock, and
the others wait for its answer, so one probe costs at most one credit whatever the
concurrency. A finding is trusted for the store's ``reprobe_after`` (30 days by
default), then probed again. A server that lowers its cap later is handled the same
way: the first refusal of a window longer than the documented cap brings the
documented cap back. A longer cap this process has not seen answered yet (learned by
another run or process) is verified the same way, one window alone before the calls
fan out; a cap that drops in the middle of a run may cost one credit per call then in
flight (at most ``max_concurrency``), once.

This module sits on floor 4, beside the client: it imports the windows (floor 1) and
the limits' cap store (floor 2).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import anyio
import attrs

from solaredge_async import _windows

if TYPE_CHECKING:
    from datetime import timedelta

    from solaredge_async._endpoints import Endpoint
    from solaredge_async.limits._caps import CapStore, LearnedCap

#: Seconds a finding read from the store is reused without reading it again (a file
#: store costs a locked read; another process's finding is seen within this time).
STORE_TTL: Final = 60.0

__all__ = ["AdaptiveCaps", "CapChoice", "cap_family"]


def cap_family(op: Endpoint) -> str:
    """The name findings about ``op``'s caps are kept under.

    ``energy`` and ``power`` each on their own; the three bulk telemetry operations
    share ``telemetry`` and every single device metric shares ``device`` (the live
    reports name them together; whether they share caps is unknown). A family whose
    members disagree learns the documented cap from the first refusal and keeps it
    until the next probe: it never costs more than one credit per period.
    """
    if op.level == "device":
        return "device"
    if op.family is not None:
        return "telemetry"
    return op.name


@attrs.frozen(kw_only=True)
class CapChoice:
    """How to split a window of one operation and resolution, now.

    Attributes:
        caps: The caps to split at (the documented ones, this resolution's replaced
            by what is known or by the plausible cap while probing).
        documented: The documented cap of the resolution (`None`: no limit).
        plausible: The longest window worth asking for (`None`: no limit).
        probing: Nothing fresh is known and the plausible cap is longer than the
            documented one: the first window is a probe.
        known: A fresh finding decides the cap (or probing is off / not needed).
        verify: The finding allows more than the documented cap but this process has
            not yet had a window that long answered: the first one goes alone, so a
            server that lowered its cap since costs one credit, not one per call in
            flight.
    """

    caps: _windows.WindowCaps
    documented: timedelta | None
    plausible: timedelta | None
    probing: bool
    known: bool
    verify: bool = False

    @property
    def goes_alone(self) -> bool:
        """Whether the first window longer than the documented cap must go alone."""
        return self.probing or self.verify

    def is_probe(self, span: timedelta) -> bool:
        """Whether a window of ``span`` is longer than the documented cap."""
        return self.documented is not None and span > self.documented


def _longer(a: timedelta | None, b: timedelta | None) -> bool:
    """Whether cap ``a`` allows more than cap ``b`` (`None` is no limit)."""
    if a is None:
        return b is not None
    return b is not None and a > b


class AdaptiveCaps:
    """The window caps of one credential: documented, plausible and learned.

    Args:
        account: The credential fingerprint the findings are kept under.
        documented: The caps used when nothing better is known (the client's
            ``window_caps``).
        plausible: The longest windows worth probing.
        store: Where findings are kept, or `None` to probe nothing (documented caps only).
    """

    def __init__(
        self,
        *,
        account: str,
        documented: _windows.WindowCaps,
        plausible: _windows.WindowCaps,
        store: CapStore | None,
    ) -> None:
        self.account = account
        self.documented = documented
        self.plausible = plausible
        self.store = store
        self._locks: dict[tuple[str, str], anyio.Lock] = {}
        # (family, resolution) -> (finding, whether it is stale, anyio time read)
        self._seen: dict[tuple[str, str], tuple[LearnedCap | None, bool, float]] = {}
        # Keys whose accepted cap this process has seen answered.
        self._confirmed: set[tuple[str, str]] = set()

    async def _finding(self, family: str, resolution: str) -> tuple[LearnedCap | None, bool]:
        """The store's finding and whether it needs a probe (cached for `STORE_TTL` s)."""
        store = self.store
        if store is None:  # pragma: no cover - callers check
            return None, False
        key = (family, resolution)
        now = anyio.current_time()
        seen = self._seen.get(key)
        if seen is not None and now - seen[2] < STORE_TTL:
            return seen[0], seen[1]
        learned = await store.get(self.account, family, resolution)
        stale = await store.needs_probe(self.account, family, resolution)
        self._seen[key] = (learned, stale, now)
        return learned, stale

    @property
    def enabled(self) -> bool:
        """Whether caps are probed (a store is set)."""
        return self.store is not None

    def worth_probing(self, resolution: str) -> bool:
        """Whether the plausible cap of ``resolution`` is longer than the documented one."""
        return self.enabled and _longer(
            self.plausible.cap_for(resolution), self.documented.cap_for(resolution)
        )

    def lock(self, family: str, resolution: str) -> anyio.Lock:
        """The lock a probe of this operation and resolution holds (one probe at a time)."""
        return self._locks.setdefault((family, resolution), anyio.Lock())

    async def choose(self, family: str, resolution: str) -> CapChoice:
        """The caps to split a window of ``family`` at ``resolution`` at, right now.

        Raises:
            StateFileError: A file-backed store is damaged.
        """
        documented = self.documented.cap_for(resolution)
        plausible = self.plausible.cap_for(resolution)

        def choice(caps: _windows.WindowCaps, *, probing: bool, verify: bool = False) -> CapChoice:
            return CapChoice(
                caps=caps,
                documented=documented,
                plausible=plausible,
                probing=probing,
                known=not probing,
                verify=verify,
            )

        if self.store is None or not self.worth_probing(resolution):
            return choice(self.documented, probing=False)
        learned, stale = await self._finding(family, resolution)
        if learned is not None and not stale:
            accepted = documented is None or learned.span > documented
            cap = plausible if accepted else documented
            return choice(
                _windows.with_cap(self.documented, resolution, cap),
                probing=False,
                verify=accepted and (family, resolution) not in self._confirmed,
            )
        return choice(_windows.with_cap(self.documented, resolution, plausible), probing=True)

    async def accepted(self, family: str, resolution: str, span: timedelta) -> None:
        """Record that the server answered a window of ``span`` (longer than documented).

        Only a window within ``dst_margin`` of the plausible cap proves it (a shorter
        one says nothing about the full length); then the plausible cap is learned,
        unless the store holds it already (nothing is written then).
        """
        store = self.store
        plausible = self.plausible.cap_for(resolution)
        if store is None or plausible is None:
            return
        if span + self.documented.dst_margin < plausible:
            return
        key = (family, resolution)
        learned, stale = await self._finding(family, resolution)
        documented = self.documented.cap_for(resolution)
        if learned is not None and not stale and (documented is None or learned.span > documented):
            self._confirmed.add(key)
            return
        found = await store.learn(self.account, family, resolution, int(plausible.total_seconds()))
        self._seen[key] = (found, False, anyio.current_time())
        self._confirmed.add(key)

    async def refused(self, family: str, resolution: str) -> None:
        """Record a span refusal: the documented cap is what the server allows."""
        store = self.store
        documented = self.documented.cap_for(resolution)
        if store is None or documented is None:
            return
        self._confirmed.discard((family, resolution))
        seconds = int(documented.total_seconds())
        found = await store.learn(self.account, family, resolution, seconds)
        self._seen[family, resolution] = (found, False, anyio.current_time())
