"""The worker protocol: Ducks long-poll for commands and post what happened.

Every run costs its Duck a long poll and an event post or two, so these two routes carry most of
the Catchment's requests. FastAPI's routing, dependency solving and validation cost ~0.75 ms of
the Catchment's CPU a request here, against ~0.2 ms for uvicorn to carry it: :class:`DuckLane`
answers the well-formed requests of a line the Catchment knows before they reach the router: it
reads them with the protocol's own readers (:mod:`duckstring.duck.protocol`, which the Duck's
client writes them with) and answers with the routes' steps (:func:`take_jobs`,
:func:`apply_events`). Whatever it does not answer (an unknown line, a bad query, a body that
does not validate, a value out of range, another method) goes on to the routes below, unchanged,
and they give the error. The routes are also what the OpenAPI document describes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from duckstring.catchment.driver import Driver
from duckstring.catchment.models import Ok
from duckstring.catchment.request_timer import ROUTE_KEY
from duckstring.catchment.routes.common import catchment_of, driver_of, route_path
from duckstring.catchment.service import Catchment
from duckstring.duck import protocol
from duckstring.duck.protocol import Command, DuckEvent, Events, Jobs, JobsQuery
from duckstring.pond.names import line_id

#: Handlers are ``async``: the engine, its store and the job board are used only on the event
#: loop's thread (where the driver's timers run too), never from the threadpool.
router = APIRouter(tags=["worker protocol"])


async def take_jobs(
    catchment: Catchment, driver: Driver, line: str, wait: float, held: Collection[int]
) -> list[Command]:
    """The line's next commands, the moment there are any, else none after ``wait`` seconds."""
    driver.duck_polled(line)
    commands = await catchment.board.take(line, wait, held=held)
    driver.duck_polled(line)
    return commands


async def apply_events(driver: Driver, line: str, events: list[DuckEvent]) -> None:
    """Apply a Duck's batch (each event id once)."""
    driver.duck_events(line, events)
    # The runs these events began are waiting in their Ducks' long polls: let those answers
    # go out before this one, which its Duck only needs to mark the events sent.
    await asyncio.sleep(0)


def _line(request: Request, name: str, major: int) -> str:
    line = line_id(name, major)
    if line not in driver_of(request).engine.ponds:
        raise HTTPException(404, f"unknown line {line}")
    return line


@router.get(protocol.JOBS_ROUTE, response_model=Jobs)
async def jobs(
    request: Request, name: str, major: int, query: Annotated[JobsQuery, Query()]
) -> Jobs:
    """Long poll: answered the moment a command exists, else after ``wait`` seconds."""
    line = _line(request, name, major)
    commands = await take_jobs(
        catchment_of(request), driver_of(request), line, query.wait, query.held
    )
    return Jobs(commands=commands)


@router.post(protocol.EVENTS_ROUTE, response_model=Ok)
async def events(request: Request, name: str, major: int, body: Events) -> Ok:
    """Progress of a Duck; each event id is applied once, so replays change nothing."""
    line = _line(request, name, major)
    refusal = protocol.out_of_range(body.events)
    if refusal is not None:
        raise HTTPException(422, refusal)
    await apply_events(driver_of(request), line, body.events)
    return Ok()


_JSON = protocol.MEDIA_TYPE.encode()
_OK = Ok().model_dump_json().encode()
#: The templates of the routes the lane answers for, as the router names them (request timing).
_JOBS_ROUTE = f"/api{protocol.JOBS_ROUTE}"
_EVENTS_ROUTE = f"/api{protocol.EVENTS_ROUTE}"


class DuckLane:
    """Answers the worker protocol's well-formed requests ahead of the router (see the module).

    It sits behind the app's key check, like every route. It answers only what the routes
    would answer with a 200 and hands on everything else, a body it already read included.
    """

    def __init__(self, app: ASGIApp, catchment: Catchment) -> None:
        self.app = app
        self.catchment = catchment

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            address = protocol.parse_path(route_path(scope))
            driver = self.catchment.driver
            if address is not None and driver is not None:
                name, major, action = address
                line = line_id(name, major)
                if line in driver.engine.ponds:
                    if action == protocol.JOBS and scope["method"] == "GET":
                        if await self._jobs(scope, send, driver, line):
                            return
                    elif action == protocol.EVENTS and scope["method"] == "POST":
                        replay = await self._events(scope, receive, send, driver, line)
                        if replay is None:
                            return
                        receive = replay
        await self.app(scope, receive, send)

    async def _jobs(self, scope: Scope, send: Send, driver: Driver, line: str) -> bool:
        query = protocol.read_jobs_query(scope["query_string"].decode("latin-1"))
        if query is None:
            return False
        scope[ROUTE_KEY] = _JOBS_ROUTE
        commands = await take_jobs(self.catchment, driver, line, query.wait, query.held)
        await _answer(send, Jobs(commands=commands).model_dump_json().encode())
        return True

    async def _events(
        self, scope: Scope, receive: Receive, send: Send, driver: Driver, line: str
    ) -> Receive | None:
        """None when answered; else the ``receive`` that hands the request on."""
        body = b""
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None  # the Duck hung up: nothing to answer, nothing applied
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        if _media_type(scope) == _JSON:
            events = protocol.read_events(body)
            if events is not None:
                scope[ROUTE_KEY] = _EVENTS_ROUTE
                await apply_events(driver, line, events)
                await _answer(send, _OK)
                return None
        return _replay(body, receive)


def _media_type(scope: Scope) -> bytes:
    for key, value in scope["headers"]:
        if key == b"content-type":
            return bytes(value).partition(b";")[0].strip().lower()
    return b""


def _replay(body: bytes, receive: Receive) -> Callable[[], Awaitable[Message]]:
    """A ``receive`` that gives the body already read, then whatever the client sends next."""
    given = False

    async def again() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again


async def _answer(send: Send, payload: bytes) -> None:
    headers = [
        (b"content-type", _JSON),
        (b"content-length", str(len(payload)).encode()),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
