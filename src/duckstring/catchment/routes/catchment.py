"""The Catchment as a whole: its size, and its root as an archive."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from duckstring.catchment import archive
from duckstring.catchment.routes.common import catchment_of

router = APIRouter(prefix="/catchment", tags=["catchment"])


class UsageBody(BaseModel):
    total_bytes: int
    file_count: int
    archive_bytes: int


@router.get("/usage", response_model=UsageBody)
async def usage(request: Request) -> UsageBody:
    """Bytes and files under the root, and the size of its archive."""
    found = await run_in_threadpool(archive.usage, catchment_of(request).layout)
    return UsageBody(
        total_bytes=found.total_bytes,
        file_count=found.file_count,
        archive_bytes=found.archive_bytes,
    )


@router.get(
    "/archive",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"application/x-tar": {"schema": {"type": "string", "format": "binary"}}},
            "description": "The root as tar",
        }
    },
)
def download(request: Request) -> StreamingResponse:
    """The whole root as an uncompressed tar stream; SQLite files as consistent snapshots."""
    return StreamingResponse(
        archive.stream(catchment_of(request).layout),
        media_type="application/x-tar",
        headers={"Content-Disposition": 'attachment; filename="catchment.tar"'},
    )
