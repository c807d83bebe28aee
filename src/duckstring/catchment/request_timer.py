"""How long the Catchment takes to answer each request, by route template, method and status:
the app's outermost ASGI middleware, :class:`RequestTimer`.

The route is the template the router matched (``/api/ponds/{name}``, never a concrete path, so
the label's values are bounded by the routes), with the prefix it was included under
(:class:`RouteTemplates`: the router hands on the route as declared, without it); the worker
protocol's fast lane answers before the router and names its route itself (:data:`ROUTE_KEY`).
A request no route answered (a 404, or one the key check refused) is ``unmatched``. A long
poll is timed to its answer, wait included. Timing costs a request two clock reads and one
histogram observe (~3 µs, against ~200 µs a worker-protocol request costs the Catchment).
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Where a handler that answers ahead of the router writes the template of its route.
ROUTE_KEY = "duckstring.route"
#: The route of a request no route answered.
UNMATCHED = "unmatched"

#: Seconds: a status read is milliseconds, a deploy seconds, a Duck's long poll up to ~30.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0)


class RequestLatency:
    """The request-latency histogram of one app (in the app's own registry)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.histogram = Histogram(
            "duckstring_http_request_duration_seconds",
            "Seconds from a request's arrival to the end of its answer, by route template, "
            "method and status.",
            ("route", "method", "status"),
            registry=registry,
            buckets=LATENCY_BUCKETS,
        )
        # Each label set's child, looked up once: ``labels()`` takes a lock and builds a key.
        self._children: dict[tuple[str, str, int], Histogram] = {}

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self.histogram.labels(route, method, str(status))
        child.observe(seconds)


class RouteTemplates:
    """The full template of every route the app includes under a prefix."""

    def __init__(self) -> None:
        #: id of the route object -> its template with its prefix (the routes live as long as
        #: the app, so their ids stay theirs).
        self._full: dict[int, str] = {}

    def include(self, routes: Iterable[object], prefix: str) -> None:
        for route in routes:
            path = getattr(route, "path", None)
            if isinstance(path, str):
                self._full[id(route)] = prefix + path

    def of(self, scope: Scope) -> str:
        """The template of the route that answered ``scope``, or :data:`UNMATCHED`."""
        named = scope.get(ROUTE_KEY)
        if named is not None:
            return str(named)
        route = scope.get("route")
        if route is None:
            return UNMATCHED
        full = self._full.get(id(route))
        if full is not None:
            return full
        path = getattr(route, "path", None)
        return path if isinstance(path, str) else UNMATCHED


class RequestTimer:
    """Times every HTTP request of the app into :class:`RequestLatency` (plain ASGI: the
    request and its answer pass through untouched)."""

    def __init__(self, app: ASGIApp, latency: RequestLatency, templates: RouteTemplates) -> None:
        self.app = app
        self.latency = latency
        self.templates = templates

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 500  # what the server answers if the app raises before it starts an answer

        async def send_timed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_timed)
        finally:
            took = time.perf_counter() - began
            self.latency.observe(self.templates.of(scope), scope["method"], status, took)
