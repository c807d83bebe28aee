"""Status, triggers, control verbs, budgets and windows of Pond lines."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response

from duckstring.catchment.models import (
    Budget,
    BudgetChange,
    Ok,
    SleepBody,
    Status,
    TideBody,
    VersionInfo,
    WindowBody,
    Windows,
)
from duckstring.catchment.routes.common import driver_of, select_line
from duckstring.engine.clock import LONGEST_SPAN, SECOND, Micros
from duckstring.engine.core import Engine, EngineError
from duckstring.engine.durations import DurationError
from duckstring.engine.windows import WindowError, WindowRule

#: Handlers are ``async``: the engine, its store and the job board are used only on the event
#: loop's thread (where the driver's timers run too), never from the threadpool.
router = APIRouter()

Major = Annotated[int | None, Query(description="Major line; default: the highest deployed")]
Version = Annotated[str | None, Query(description="Must be the selected version of its line")]

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "Unknown Pond, major or version"}
}
_BAD: dict[int | str, dict[str, Any]] = {
    422: {"description": "Bad payload, or a version that is not selected"}
}

#: The largest retry budget a request may set.
_MAX_RETRIES = 1_000_000


@router.get("/status", response_model=Status)
async def status(request: Request) -> Response:
    """Every Pond line's state, and the Source → Sink edges (the document ``Status`` shows)."""
    driver = driver_of(request)
    document = driver.status.document(
        driver.engine, driver.lines, driver.clock.now(), driver.fleet.launcher.node_of
    )
    return Response(document, media_type="application/json")


@router.get("/ponds/{name}/versions/{version}", response_model=VersionInfo, responses=_NOT_FOUND)
async def version_info(request: Request, name: str, version: str) -> VersionInfo:
    deployment = driver_of(request).store.deployment(name, version)
    if deployment is None:
        raise HTTPException(404, f"Pond {name!r} version {version!r} was never deployed")
    return VersionInfo(name=name, version=version, is_active=deployment.is_active)


def _command(
    request: Request,
    name: str,
    major: int | None,
    version: str | None,
    operation: Callable[[Engine, str, Micros], None],
) -> Ok:
    driver = driver_of(request)
    line = select_line(driver, name, major, version).line
    try:
        driver.apply(lambda engine, now: operation(engine, line, now))
    except (EngineError, WindowError, DurationError) as error:
        raise HTTPException(422, str(error)) from None
    return Ok()


def _simple(verb: str, summary: str) -> None:
    async def endpoint(
        request: Request, name: str, major: Major = None, version: Version = None
    ) -> Ok:
        return _command(
            request, name, major, version, lambda e, line, now: getattr(e, verb)(line, now)
        )

    endpoint.__name__ = verb
    router.post(
        f"/ponds/{{name}}/{verb}",
        response_model=Ok,
        summary=summary,
        responses={**_NOT_FOUND, **_BAD},
    )(endpoint)


_simple("tap", "Deliver one pull")
_simple("pulse", "Push the target now through the lineage")
_simple("wave", "Set a standing pull that renews itself")
_simple("untrigger", "Remove the standing trigger; demand already in the graph drains")
_simple("wake", "One non-propagating pull; clears failed/killed")
_simple("force", "Re-run every Ripple at the current freshness; clears failed/killed")
_simple("kill", "Stop the worker, cancel in-flight runs, park the Pond")
_simple("clear", "Reset failed/killed to idle without running")


@router.post("/ponds/{name}/tide", response_model=Ok, responses={**_NOT_FOUND, **_BAD})
async def tide(
    request: Request, name: str, body: TideBody, major: Major = None, version: Version = None
) -> Ok:
    """Set a standing push that keeps staleness under the bound."""
    if not math.isfinite(body.bound_seconds) or body.bound_seconds * SECOND > LONGEST_SPAN:
        raise HTTPException(
            422, f"bound_seconds must be at most {LONGEST_SPAN // SECOND} (about 1000 years)"
        )
    bound = round(body.bound_seconds * SECOND)
    return _command(request, name, major, version, lambda e, line, now: e.tide(line, bound, now))


@router.post("/ponds/{name}/sleep", response_model=Ok, responses={**_NOT_FOUND, **_BAD})
async def sleep(
    request: Request,
    name: str,
    body: SleepBody | None = None,
    major: Major = None,
    version: Version = None,
) -> Ok:
    """Drop the Pond's demand and standing trigger (and its ancestors' with upstream)."""
    upstream = body.upstream if body is not None else False
    return _command(
        request, name, major, version, lambda e, line, now: e.sleep(line, now, upstream=upstream)
    )


def _budget(request: Request, name: str, major: int | None, version: str | None) -> Budget:
    driver = driver_of(request)
    p = driver.engine.pond(select_line(driver, name, major, version).line)
    return Budget(immediate_retries=p.immediate_retries, source_retries=p.source_retries)


@router.get("/ponds/{name}/budget", response_model=Budget, responses=_NOT_FOUND)
async def get_budget(
    request: Request, name: str, major: Major = None, version: Version = None
) -> Budget:
    return _budget(request, name, major, version)


@router.post("/ponds/{name}/budget", response_model=Ok, responses={**_NOT_FOUND, **_BAD})
async def set_budget(
    request: Request,
    name: str,
    body: BudgetChange,
    major: Major = None,
    version: Version = None,
) -> Ok:
    """Change the retry budgets; a field left out (or null) keeps its value."""
    for field, value in (
        ("immediate_retries", body.immediate_retries),
        ("source_retries", body.source_retries),
    ):
        if value is not None and value > _MAX_RETRIES:
            raise HTTPException(422, f"{field} must be at most {_MAX_RETRIES}")
    return _command(
        request,
        name,
        major,
        version,
        lambda e, line, now: e.set_budget(
            line,
            now,
            immediate_retries=body.immediate_retries,
            source_retries=body.source_retries,
        ),
    )


@router.get("/ponds/{name}/windows", response_model=Windows, responses=_NOT_FOUND)
async def list_windows(
    request: Request, name: str, major: Major = None, version: Version = None
) -> Windows:
    driver = driver_of(request)
    p = driver.engine.pond(select_line(driver, name, major, version).line)
    return Windows.model_validate({"windows": [rule.to_api() for rule in p.windows]})


@router.post("/ponds/{name}/windows", response_model=Ok, responses={**_NOT_FOUND, **_BAD})
async def add_window(
    request: Request, name: str, body: WindowBody, major: Major = None, version: Version = None
) -> Ok:
    """Add a window rule to an Inlet; 422 naming the field when it is malformed, or when it
    overlaps another rule."""
    driver = driver_of(request)
    select_line(driver, name, major, version)  # an unknown Pond is a 404 whatever the body
    try:
        rule = WindowRule.from_api(body.model_dump(), today=driver.clock.now())
    except WindowError as error:
        raise HTTPException(422, str(error)) from None
    return _command(
        request, name, major, version, lambda e, line, now: e.add_window(line, rule, now)
    )


@router.post(
    "/ponds/{name}/windows/{window}/remove", response_model=Ok, responses={**_NOT_FOUND, **_BAD}
)
async def remove_window(
    request: Request, name: str, window: str, major: Major = None, version: Version = None
) -> Ok:
    driver = driver_of(request)
    p = driver.engine.pond(select_line(driver, name, major, version).line)
    if all(rule.name != window for rule in p.windows):
        raise HTTPException(404, f"{p.id} has no window named {window!r}")
    return _command(
        request, name, major, version, lambda e, line, now: e.remove_window(line, window, now)
    )
