"""Forecasts of Pond lines: the engine's simulator run ahead on a copy of the live graph."""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool

from duckstring.catchment.models import ForecastRecord
from duckstring.catchment.routes.common import driver_of, select_line
from duckstring.engine.clock import LONGEST_SPAN, SECOND, Micros
from duckstring.engine.durations import DurationError, parse_duration
from duckstring.engine.forecast import Forecast, component, forecast
from duckstring.engine.rows import Rows, engine_rows

router = APIRouter()

#: Forecasts simulated at once; more wait in their worker threads, never on the event loop.
_SIMULATING = threading.BoundedSemaphore(2)

Major = Annotated[int | None, Query(description="Major line; default: the highest deployed")]
Version = Annotated[str | None, Query(description="Must be the selected version of its line")]
Tide = Annotated[
    str | None,
    Query(description="Forecast a Tide with this staleness bound on the line (e.g. 30s, 1h30m)"),
]


@router.get(
    "/ponds/{name}/forecast",
    response_model=ForecastRecord,
    responses={
        404: {"description": "Unknown Pond, major or version"},
        422: {"description": "Bad tide duration, or a version that is not selected"},
    },
)
async def pond_forecast(
    request: Request, name: str, major: Major = None, version: Version = None, tide: Tide = None
) -> dict[str, Any]:
    """When the line will next be fresh, the cadence it settles into, its bottleneck Ripple
    and, for a Tide (its own, or ``tide``), whether the bound holds. Changes nothing."""
    driver = driver_of(request)
    line = select_line(driver, name, major, version).line
    bound: Micros | None = None
    if tide is not None:
        try:
            bound = parse_duration(tide)
        except DurationError as error:
            raise HTTPException(422, f"tide: {error}") from None
        if bound > LONGEST_SPAN:
            raise HTTPException(
                422, f"tide: at most {LONGEST_SPAN // SECOND} seconds (about 1000 years)"
            )
    # The engine and the store belong to the event loop's thread: the copy is taken here,
    # the simulation runs on it in a worker thread.
    now = driver.clock.now()
    rows = component(engine_rows(driver.engine), line)
    lines = [row["id"] for row in rows["ponds"]]
    durations = driver.store.ripple_durations(lines)
    since = driver.store.running_since(lines)
    result = await run_in_threadpool(_simulate, rows, line, now, durations, bound, since)
    return result.to_api()


def _simulate(
    rows: Rows,
    line: str,
    now: Micros,
    durations: dict[str, dict[str, float]],
    bound: Micros | None,
    since: dict[tuple[str, str], int],
) -> Forecast:
    with _SIMULATING:
        return forecast(rows, line, now, durations, tide=bound, running_since=since)
