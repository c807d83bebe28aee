"""What every route shares: the running Catchment, the key check and the line selectors."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import Scope

from duckstring.catchment.driver import Driver
from duckstring.catchment.service import Catchment
from duckstring.catchment.store.db import Deployment
from duckstring.pond.semver import SemVer, SemVerError


def catchment_of(request: Request) -> Catchment:
    catchment: Catchment = request.app.state.catchment
    return catchment


def driver_of(request: Request) -> Driver:
    driver = catchment_of(request).driver
    if driver is None:
        raise HTTPException(503, "the Catchment is starting")
    return driver


def route_path(scope: Scope) -> str:
    """The path the app routes on: the request's path without the prefix the app is served
    under (``root_path``), when the server put it there; what the router matches, exactly."""
    path: str = scope["path"]
    prefix: str = scope.get("root_path", "")
    if prefix and path.startswith(prefix) and path[len(prefix) : len(prefix) + 1] in ("/", ""):
        return path[len(prefix) :]
    return path


#: The one route outside /api behind the key (Prometheus scrapes it with the key as a bearer).
METRICS_PATH = "/metrics"


def needs_key(path: str) -> bool:
    """Whether a request to ``path`` (as the router matches it) needs the key, when one is
    set: all of /api but health, and the metrics."""
    return (path.startswith("/api/") and path != "/api/health") or path == METRICS_PATH


def key_refusal(request: Request) -> str | None:
    """Why the request may not pass the key check (None: it may). With a key set, every /api
    route but health, and ``/metrics``, need ``Authorization: Bearer KEY``, compared in
    constant time."""
    key = catchment_of(request).config.api_key
    if not key:
        return None
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), key.encode()):
        return "this Catchment needs an API key: send Authorization: Bearer KEY"
    return None


#: The key as OpenAPI's bearer scheme; the check itself is ``key_refusal``'s.
bearer = HTTPBearer(
    auto_error=False,
    description="The Catchment's API key, when it was started with one (all of /api but health).",
)


async def require_key(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> None:
    """The key check as a dependency, so OpenAPI documents the bearer scheme on every route
    that needs it; the app's middleware enforces it first, before any body is read.
    (``async``: a plain function would cost every request a hop to the thread pool.)"""
    refusal = key_refusal(request)
    if refusal is not None:
        raise HTTPException(401, refusal, headers={"WWW-Authenticate": "Bearer"})


def select_line(
    driver: Driver, name: str, major: int | None = None, version: str | None = None
) -> Deployment:
    """The line a Pond route addresses: a ``version`` picks the line of its own major, and
    must be that line's selected version; otherwise ``major``, by default the highest
    deployed. 404 for an unknown Pond, major or version; 422 for a version that is not
    SemVer, not of ``major``, or not selected."""
    lines = [d for d in driver.lines.values() if d.name == name]
    if not lines:
        raise HTTPException(404, f"unknown Pond {name!r}")
    if version is not None:
        try:
            version_major = SemVer.parse(version).major
        except SemVerError as error:
            raise HTTPException(422, f"bad version: {error}") from None
        if major is not None and major != version_major:
            raise HTTPException(
                422, f"version {version} is of major {version_major}, not major {major}"
            )
        major = version_major
    if major is None:
        chosen = max(lines, key=lambda d: d.major)
    else:
        matching = [d for d in lines if d.major == major]
        if not matching:
            if version is not None:
                raise HTTPException(404, f"Pond {name!r} has no version {version!r}")
            majors = ", ".join(str(d.major) for d in sorted(lines, key=lambda d: d.major))
            raise HTTPException(404, f"Pond {name!r} has no major {major} (deployed: {majors})")
        chosen = matching[0]
    if version is not None and version != chosen.version:
        if driver.store.deployment(name, version) is None:
            raise HTTPException(404, f"Pond {name!r} has no version {version!r}")
        raise HTTPException(
            422,
            f"version {version} is not the selected version of {chosen.line} "
            f"(selected: {chosen.version})",
        )
    return chosen
