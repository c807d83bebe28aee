"""``GET /metrics``: the Catchment for Prometheus (see :mod:`duckstring.catchment.metrics`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.types import Receive, Scope, Send

from duckstring.catchment.metrics import CONTENT_TYPE
from duckstring.catchment.routes.common import METRICS_PATH, catchment_of, driver_of

router = APIRouter(tags=["catchment"])


@router.get(
    METRICS_PATH,
    response_class=Response,
    responses={
        200: {
            "content": {CONTENT_TYPE: {"schema": {"type": "string"}}},
            "description": "Prometheus's text format (version 0.0.4)",
        },
        401: {"description": "A key is set and the request did not send it"},
        503: {"description": "The Catchment is starting"},
    },
)
async def metrics(request: Request) -> Response:
    """Every line's state, freshness and runs, the Ducks, run and request durations, for
    Prometheus to scrape."""
    driver = driver_of(request)
    return ChunkedBody(await catchment_of(request).metrics.scrape(driver))


class ChunkedBody(Response):
    """A body already in chunks: its length is known (a ``Content-Length``, as for any
    answer), and each chunk is sent as it is, without joining them first."""

    media_type = CONTENT_TYPE

    def __init__(self, chunks: list[bytes]) -> None:
        super().__init__(b"", media_type=CONTENT_TYPE)
        self.chunks = chunks
        self.headers["content-length"] = str(sum(len(chunk) for chunk in chunks))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        if scope["method"] == "HEAD":
            await send({"type": "http.response.body", "body": b""})
            return
        last = len(self.chunks) - 1
        for index, chunk in enumerate(self.chunks):
            await send({"type": "http.response.body", "body": chunk, "more_body": index < last})
        if last < 0:
            await send({"type": "http.response.body", "body": b""})
