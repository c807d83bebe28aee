"""``GET /metrics``: the Catchment for Prometheus (see :mod:`duckstring.catchment.metrics`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

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
    body = await catchment_of(request).metrics.scrape(driver)
    return Response(body, media_type=CONTENT_TYPE)
