"""The Catchment as an ASGI application (FastAPI)."""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import FrameType
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from duckstring import __version__
from duckstring.catchment.models import Health
from duckstring.catchment.request_timer import RequestTimer, RouteTemplates
from duckstring.catchment.routes import (
    alerts,
    data,
    deploy,
    duck,
    forecast,
    placement,
    ponds,
    runs,
    why,
)
from duckstring.catchment.routes import catchment as catchment_routes
from duckstring.catchment.routes import metrics as metrics_routes
from duckstring.catchment.routes import ui as ui_routes
from duckstring.catchment.routes.common import (
    catchment_of,
    key_refusal,
    needs_key,
    require_key,
    route_path,
)
from duckstring.catchment.routes.duck import DuckLane
from duckstring.catchment.service import Catchment, CatchmentConfig

#: The API's sections, in the order the documentation shows them.
API_TAGS = ("catchment", "deploy", "data", "worker protocol")


def _release_polls_on_exit_signals(loop: asyncio.AbstractEventLoop, catchment: Catchment) -> None:
    """A server stopping waits for open requests; Ducks' long polls would hold it for their
    whole wait. Chain onto the server's own SIGINT/SIGTERM handlers to answer them first."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous = signal.getsignal(sig)
        if not callable(previous):
            continue

        def handler(
            signum: int, frame: FrameType | None, previous: Callable[..., Any] = previous
        ) -> None:
            loop.call_soon_threadsafe(catchment.board.release_all)
            previous(signum, frame)

        signal.signal(sig, handler)


def _direct_url(request: Request) -> str:
    """This server's own bound address (what its Ducks dial), not the public one a proxy
    may present."""
    server = request.scope.get("server")
    if server and server[1]:
        host = str(server[0])
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        elif ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{server[1]}"
    return str(request.base_url)


class Gate:
    """Learn where Ducks dial back, and check the key before anything reads a body.

    Plain ASGI (not ``@app.middleware``, whose wrapper streams every response through an
    extra task): it looks at the request head only, then hands the request on untouched.
    """

    def __init__(self, app: ASGIApp, catchment: Catchment) -> None:
        self.app = app
        self.catchment = catchment

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if self.catchment.url is None:
                self.catchment.learn_url(_direct_url(Request(scope)))
            path = route_path(scope)  # what the router will match, with or without a prefix
            if needs_key(path):
                refusal = key_refusal(Request(scope))
                if refusal is not None:
                    response = JSONResponse(
                        {"detail": refusal},
                        status_code=401,
                        headers={"WWW-Authenticate": "Bearer"},
                    )
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def create_app(config: CatchmentConfig) -> FastAPI:
    """A Catchment serving ``config.root``; it starts with the ASGI lifespan."""
    catchment = Catchment(config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        catchment.start(loop)
        _release_polls_on_exit_signals(loop, catchment)
        try:
            yield
        finally:
            catchment.stop()

    app = FastAPI(
        title="Duckstring Catchment",
        version=__version__,
        summary="Decides when Ponds run, runs them in Ducks, publishes their tables.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_tags=[{"name": name} for name in API_TAGS],
    )
    app.state.catchment = catchment

    # Added last, so it runs first: the key is checked before the worker protocol's lane too.
    app.add_middleware(DuckLane, catchment=catchment)
    app.add_middleware(Gate, catchment=catchment)
    # Outermost: every request is timed, those the key check refuses too.
    templates = RouteTemplates()
    app.add_middleware(RequestTimer, latency=catchment.metrics.requests, templates=templates)

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        # A relative document URL, so the page works under a path prefix.
        return get_swagger_ui_html(openapi_url="openapi.json", title="Duckstring Catchment API")

    api = APIRouter(prefix="/api")

    @api.get("/health", response_model=Health, tags=["catchment"])
    def health(request: Request) -> Health:
        """``ok`` when the server and its database answer."""
        store = catchment_of(request).store
        if store is None:
            return Health(status="starting")
        store.con.execute("SELECT 1").fetchone()
        return Health()

    app.include_router(api)
    # Each module straight onto the app, not through nested routers: every level of inclusion
    # matches the request again. The worker protocol first: it carries most requests (a long
    # poll and an event post or two per run), and routes are tried in order.
    for module in (
        duck,
        ponds,
        forecast,
        runs,
        why,
        placement,
        deploy,
        data,
        catchment_routes,
        alerts,
    ):
        app.include_router(module.router, prefix="/api", dependencies=[Depends(require_key)])
        templates.include(module.router.routes, "/api")
    app.include_router(metrics_routes.router, dependencies=[Depends(require_key)])
    app.include_router(ui_routes.router)  # the web UI at / (its data comes from /api)
    return app
