"""Run history: newest first, with each Ripple attempt on request."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request

from duckstring.catchment.models import RippleAttempt, RunRecord, Runs
from duckstring.catchment.routes.common import driver_of, select_line
from duckstring.engine.clock import iso

#: Handlers are ``async``: the engine, its store and the job board are used only on the event
#: loop's thread (where the driver's timers run too), never from the threadpool.
router = APIRouter()


def _attempt(row: dict[str, Any]) -> RippleAttempt:
    return RippleAttempt(
        ripple=row["ripple"],
        retry=row["attempt"],
        status=row["status"],
        f=iso(row["f"]),
        started_at=iso(row["started_at"]),
        finished_at=iso(row["finished_at"]),
        error=row["error"],
        traceback=row["traceback"],
    )


#: ``response_model_exclude_unset``: a run's ``ripples`` key is there only when asked for; every
#: other field is always set, null or not.
@router.get(
    "/runs",
    response_model=Runs,
    response_model_exclude_unset=True,
    responses={
        404: {"description": "Unknown Pond, major or version"},
        422: {"description": "A version that is not selected, or given without a Pond"},
    },
)
async def runs(
    request: Request,
    pond: Annotated[str | None, Query(description="Only this Pond (and its lineage)")] = None,
    major: Annotated[int | None, Query()] = None,
    version: Annotated[
        str | None,
        Query(description="Selects the line of its major (it must be the selected version)"),
    ] = None,
    lineage: Annotated[bool, Query(description="Include the Pond's upstream lineage")] = True,
    ripples: Annotated[bool, Query(description="One row per Ripple attempt")] = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Runs:
    """Run history newest first; with ``pond``, of that Pond's line (all its versions)."""
    driver = driver_of(request)
    lines: list[str] | None = None
    if pond is not None:
        line = select_line(driver, pond, major, version).line
        lines = [line, *(driver.engine.ancestors(line) if lineage else [])]
    elif version is not None:
        raise HTTPException(422, "version selects a line of one Pond: give pond too")
    rows = driver.store.runs(lines, limit)
    attempts: dict[tuple[str, int], list[RippleAttempt]] = {}
    if ripples:
        by_line: dict[str, list[int]] = {}
        for row in rows:
            by_line.setdefault(row["line"], []).append(row["seq"])
        for line_id, seqs in by_line.items():
            for attempt in driver.store.attempts_of(line_id, seqs):
                attempts.setdefault((line_id, attempt["seq"]), []).append(_attempt(attempt))
    return Runs(
        runs=[
            RunRecord(
                pond=row["name"],
                id=row["line"],
                major=row["major"],
                version=row["version"],
                seq=row["seq"],
                kind=row["kind"],
                f=iso(row["f"]),
                started_at=iso(row["started_at"]),
                finished_at=iso(row["finished_at"]),
                status=row["status"],
                error=row["error"],
                traceback=row["traceback"],
                **({"ripples": attempts.get((row["line"], row["seq"]), [])} if ripples else {}),
            )
            for row in rows
        ]
    )
