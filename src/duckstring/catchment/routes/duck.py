"""The worker protocol: Ducks long-poll for commands and post what happened."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request

from duckstring.catchment.models import Ok
from duckstring.catchment.routes.common import catchment_of, driver_of
from duckstring.duck.protocol import Events, Jobs

#: Handlers are ``async``: the engine, its store and the job board are used only on the event
#: loop's thread (where the driver's timers run too), never from the threadpool.
router = APIRouter(prefix="/duck", tags=["worker protocol"])

#: Times, freshness, run numbers and attempts are stored as SQLite's 64-bit integers.
_INT64 = range(-(2**63), 2**63)


def _line(request: Request, name: str, major: int) -> str:
    line = f"{name}@{major}"
    if line not in driver_of(request).engine.ponds:
        raise HTTPException(404, f"unknown line {line}")
    return line


@router.get("/{name}/{major}/jobs", response_model=Jobs)
async def jobs(
    request: Request,
    name: str,
    major: int,
    duck: Annotated[str | None, Query(description="The polling Duck's id")] = None,
    wait: Annotated[float, Query(ge=0, le=60)] = 25.0,
    held: Annotated[
        list[int] | None,
        Query(
            description="Runs the Duck already holds (handed to it when it was started): "
            "their begin_run commands are dropped, not answered"
        ),
    ] = None,
) -> Jobs:
    """Long poll: answered the moment a command exists, else after ``wait`` seconds."""
    line = _line(request, name, major)
    driver = driver_of(request)
    driver.duck_polled(line)
    commands = await catchment_of(request).board.take(line, wait, held=set(held or ()))
    driver.duck_polled(line)
    return Jobs(commands=commands)


@router.post("/{name}/{major}/events", response_model=Ok)
async def events(request: Request, name: str, major: int, body: Events) -> Ok:
    """Progress of a Duck; each event id is applied once, so replays change nothing."""
    line = _line(request, name, major)
    for event in body.events:
        for field in ("at", "seq", "f", "attempt"):
            value = getattr(event, field)
            if value is not None and value not in _INT64:
                raise HTTPException(422, f"event {event.id!r}: {field} is out of range")
    driver_of(request).duck_events(line, body.events)
    # The runs these events began are waiting in their Ducks' long polls: let those answers
    # go out before this one, which its Duck only needs to mark the events sent.
    await asyncio.sleep(0)
    return Ok()
