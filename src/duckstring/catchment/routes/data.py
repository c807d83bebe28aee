"""Reading published data: SQL over a line's snapshots, and a Ripple's output as a zip."""

from __future__ import annotations

import contextlib
import os
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from duckstring.catchment import query as queries
from duckstring.catchment.models import QueryBody, QueryRows
from duckstring.catchment.routes.common import catchment_of, driver_of, select_line

router = APIRouter(tags=["data"])


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


@router.post(
    "/query",
    response_model=QueryRows,
    responses={
        200: {
            "content": {
                media: {"schema": {"type": "string", "format": "binary"}}
                for media in ("text/csv", "application/x-ndjson", "application/vnd.apache.parquet")
            },
            "description": "JSON rows, or a file when a format is asked for",
        },
        400: {"description": "The SQL failed"},
        404: {"description": "Unknown Pond, or nothing published yet"},
    },
)
async def query(request: Request, body: QueryBody) -> Any:
    """SQL over the Pond line's published tables (bare or ``pond.table`` names)."""
    driver = driver_of(request)
    deployment = select_line(driver, body.pond, body.major, body.version)
    fmt = None if body.format is None else queries.as_format(body.format)
    if body.format is not None and fmt is None:
        raise HTTPException(422, "format must be csv, json or parquet")
    if body.sql is None and body.ripple is None:
        raise HTTPException(422, "send sql, or a ripple to preview")
    catchment = catchment_of(request)
    layout = catchment.layout
    try:
        result = await run_in_threadpool(
            queries.run_query,
            layout,
            deployment.name,
            deployment.major,
            body.sql,
            body.ripple,
            fmt,
            queries.QueryLimits(timeout=catchment.config.query_timeout),
        )
    except queries.NoSnapshotError as error:
        raise HTTPException(404, str(error)) from None
    except queries.QueryError as error:
        raise HTTPException(400, str(error)) from None
    if result.path is not None:
        path = str(result.path)
        filename = f"{deployment.name}.{body.format}"
        return FileResponse(
            path,
            media_type=result.media_type,
            filename=filename,
            background=BackgroundTask(_unlink, path),
        )
    return QueryRows(columns=result.columns, rows=result.rows or [], truncated=result.truncated)


@router.get(
    "/ponds/{pond}/ripples/{ripple}",
    response_class=FileResponse,
    responses={
        200: {
            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
            "description": "The published output",
        },
        404: {"description": "Unknown Pond or Ripple, or nothing published yet"},
    },
)
async def ripple_output(
    request: Request,
    pond: str,
    ripple: str,
    major: Annotated[int | None, Query()] = None,
    version: Annotated[str | None, Query()] = None,
) -> FileResponse:
    """A Ripple's published output, zipped."""
    driver = driver_of(request)
    deployment = select_line(driver, pond, major, version)
    archive = await run_in_threadpool(
        queries.ripple_archive,
        catchment_of(request).layout,
        deployment.name,
        deployment.major,
        ripple,
    )
    if archive is None:
        raise HTTPException(404, f"{deployment.line} has published nothing for {ripple!r} yet")
    path = str(archive)
    return FileResponse(
        path,
        media_type="application/zip",
        filename=f"{deployment.name}-{ripple}.zip",
        background=BackgroundTask(_unlink, path),
    )
