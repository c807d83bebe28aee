"""Reading published data: SQL over a line's snapshots, and a Ripple's output as a zip."""

from __future__ import annotations

import contextlib
import json
import os
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse
from starlette.background import BackgroundTask

from duckstring.catchment import query as queries
from duckstring.catchment.models import QueryBody, QueryRows
from duckstring.catchment.routes.common import catchment_of, driver_of, select_line

router = APIRouter(tags=["data"])


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


#: Set (to ``true``) when the JSON rows stop at the row cap and the result had more.
TRUNCATED_HEADER = "X-Duckstring-Truncated"
#: The result's column names as a JSON list: the keys of every row, and all a client learns
#: of the columns when there are no rows. Left out when it would make the headers too large.
COLUMNS_HEADER = "X-Duckstring-Columns"
_COLUMNS_HEADER_MOST = 8 * 1024  # clients refuse response heads much past 16 KiB


@router.post(
    "/query",
    response_model=QueryRows,
    responses={
        200: {
            "content": {
                media: {"schema": {"type": "string", "format": "binary"}}
                for media in ("text/csv", "application/x-ndjson", "application/vnd.apache.parquet")
            },
            "description": (
                "Without a format, a JSON array of row objects, keys in column order (a "
                "repeated column name numbered: a, a_1); with one, the result as a file"
            ),
            "headers": {
                TRUNCATED_HEADER: {
                    "description": "true when the rows stop at the cap and the result had more",
                    "schema": {"type": "string", "enum": ["true"]},
                },
                COLUMNS_HEADER: {
                    "description": "the rows' keys as a JSON list of strings (JSON rows only)",
                    "schema": {"type": "string"},
                },
            },
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
    headers: dict[str, str] = {}
    columns = json.dumps(result.keys)  # ASCII: a header carries no other text
    if len(columns) <= _COLUMNS_HEADER_MOST:
        headers[COLUMNS_HEADER] = columns
    if result.truncated:
        headers[TRUNCATED_HEADER] = "true"
    # Returned as is: the rows are JSON-ready, and validating thousands of them costs.
    return JSONResponse(result.records(), headers=headers)


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
