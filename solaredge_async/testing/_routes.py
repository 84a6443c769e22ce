"""The simulator's route table: every path template it serves and the body that answers it.

Like moto's ``urls.py``, this module is the one place that says which paths exist. The
templates use the reference's §9 placeholders (``{siteId}``, ``{sn}``); the simulator keeps
its own table, independent of the library's, so a test can check that both cover the same
paths (`route_templates`).

Matching is a dictionary lookup per placeholder layout: a request path is split into
segments, and for each layout of its length the placeholder segments are masked and the
rest looked up.
"""

from __future__ import annotations

import operator
import re
from typing import TYPE_CHECKING, Final
from urllib.parse import unquote

import attrs

from solaredge_async.testing._devices import FAMILY_METRICS

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from solaredge_async.testing._bodies import Bodies, Call

__all__ = [
    "OAUTH_TEMPLATES",
    "ROUTES",
    "Route",
    "RouteMatch",
    "RouteTable",
    "route_templates",
]

#: The OAuth endpoints (``POST``, answered outside the data routes' limits and auth).
OAUTH_TEMPLATES: Final = frozenset({"/oauth2/token", "/oauth2/revoke-token"})

#: The device families with bulk telemetry and per-device metric paths.
FAMILIES: Final = ("inverters", "meters", "storage")


@attrs.frozen(eq=False, repr=False)
class Route:
    """One data route: a path template, the `Bodies` method answering it, its rules.

    Attributes:
        template: The path template, e.g. ``"/sites/{siteId}/energy"``.
        body: The name of the `Bodies` method that computes the answer.
        key_only: Only an API key may call it (a bearer gets 401/403).
        device_data: A bearer needs the ``DEVICE_DATA`` scope.
        fixed: Path parameters the route itself supplies (family, metric).
        segments: The template split at its slashes (derived, not an argument).
    """

    template: str
    body: str
    key_only: bool = attrs.field(default=False, kw_only=True)
    device_data: bool = attrs.field(default=False, kw_only=True)
    fixed: Mapping[str, str] = attrs.field(factory=dict, kw_only=True)
    segments: tuple[str, ...] = attrs.field(init=False)

    @segments.default
    def _segments(self) -> tuple[str, ...]:
        return tuple(self.template.split("/")[1:])

    def __repr__(self) -> str:
        return f"<Route {self.template} -> {self.body}>"


def _kebab(name: str) -> str:
    return re.sub(r"([A-Z])", lambda found: "-" + found.group(1).lower(), name)


def _build_routes() -> tuple[Route, ...]:
    site = "/sites/{siteId}"
    routes = [
        Route("/sites", "sites", key_only=True),
        Route("/alerts", "fleet_alerts", key_only=True),
        Route(site, "site_details"),
        Route(f"{site}/overview", "overview"),
        Route(f"{site}/overview/performance", "performance"),
        Route(f"{site}/energy", "energy"),
        Route(f"{site}/power", "power"),
        Route(f"{site}/devices", "devices"),
        Route(f"{site}/alerts", "site_alerts"),
        Route(f"{site}/environmental-benefits", "environmental_benefits"),
        Route(f"{site}/power-flow", "power_flow"),
        Route(f"{site}/storage/{{sn}}/telemetry", "storage_telemetry", device_data=True),
    ]
    for family in FAMILIES:
        routes.append(
            Route(
                f"{site}/{family}/telemetry",
                "telemetry",
                device_data=True,
                fixed={"family": family},
            )
        )
        routes.extend(
            Route(
                f"{site}/{family}/{{sn}}/{_kebab(metric)}",
                "device_metric",
                device_data=True,
                fixed={"family": family, "metric": metric},
            )
            for metric in FAMILY_METRICS[family]
        )
    return tuple(routes)


#: Every data route, fleet level first.
ROUTES: Final = _build_routes()


def route_templates(*, oauth: bool = False) -> frozenset[str]:
    """Return every path template the simulator serves (relative to its prefix).

    Args:
        oauth: Include the OAuth endpoints (``/oauth2/...``) with the data routes.

    Returns:
        Templates with the reference's placeholders, e.g. ``/sites/{siteId}/energy``.
    """
    templates = frozenset(route.template for route in ROUTES)
    return templates | OAUTH_TEMPLATES if oauth else templates


#: A matched route: (the route, its bound body method, the ``{siteId}`` or ``None`` on
#: fleet-level paths, the path parameters besides ``siteId`` such as ``sn`` and the route's
#: fixed ones such as ``family``). A plain tuple: matching runs on every request.
RouteMatch = tuple[Route, "Callable[[Call], object]", int | None, "Mapping[str, str]"]


#: Literal segments of a path -> (route, bound body method, placeholders and positions).
_Entries = dict[
    tuple[str, ...], tuple[Route, "Callable[[Call], object]", tuple[tuple[int, str], ...]]
]


class RouteTable:
    """Matches request paths against `ROUTES`, handlers bound to one `Bodies`.

    Args:
        bodies: The object whose methods compute the answers.
    """

    def __init__(self, bodies: Bodies) -> None:
        # segment count -> one (getter of the literal segments, literal segments -> entry)
        # per placeholder layout of that length
        self._layouts: dict[int, list[tuple[Callable[[list[str]], tuple[str, ...]], _Entries]]] = {}
        by_layout: dict[tuple[int, tuple[int, ...]], _Entries] = {}
        for route in ROUTES:
            count = len(route.segments)
            holes = tuple(
                (i, segment[1:-1])
                for i, segment in enumerate(route.segments)
                if segment.startswith("{")
            )
            if holes and holes[0][1] != "siteId":  # pragma: no cover - a table error
                raise ValueError(f"{route.template}: the first placeholder must be {{siteId}}")
            positions = tuple(i for i, _ in holes)
            literal = [i for i in range(count) if i not in positions]
            entries = by_layout.get((count, positions))
            if entries is None:
                entries = by_layout[count, positions] = {}
                self._layouts.setdefault(count, []).append((_literal_getter(literal), entries))
            key = tuple(route.segments[i] for i in literal)
            entries[key] = (route, getattr(bodies, route.body), holes)

    def match(self, path: str) -> RouteMatch | None:
        """Return the route serving ``path`` (relative to the prefix), or ``None``.

        Percent-encoded segments are decoded; ``{siteId}`` must be decimal digits.
        """
        segments = path.split("/")[1:]
        if "%" in path:
            segments = [unquote(segment) for segment in segments]
        for literal, entries in self._layouts.get(len(segments), ()):
            found = entries.get(literal(segments))
            if found is None:
                continue
            route, handler, holes = found
            params = route.fixed
            if len(holes) > 1:  # placeholders besides the site: a fresh mapping
                params = dict(params)
                params.update((name, segments[i]) for i, name in holes)
            site_id: int | None = None
            if holes:
                site_text = segments[holes[0][0]]  # {siteId} comes first on every path
                if not (site_text.isascii() and site_text.isdigit()):
                    return None
                site_id = int(site_text)
            return route, handler, site_id, params
        return None


def _literal_getter(positions: list[int]) -> Callable[[list[str]], tuple[str, ...]]:
    """Return a function picking the segments at ``positions`` as a tuple (fast)."""
    if len(positions) > 1:
        return operator.itemgetter(*positions)
    if positions:
        only = positions[0]
        return lambda segments: (segments[only],)
    return lambda _segments: ()
