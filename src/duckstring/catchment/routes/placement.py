"""Where a Pond line's Duck runs: its operator-owned placement, and the node it is on."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request

from duckstring.catchment.models import DuckNode, PlacementAnswer, PlacementBody
from duckstring.catchment.placement import PlacementError, placement_from_api
from duckstring.catchment.routes.common import catchment_of, driver_of, select_line

#: Handlers are ``async``: the store and the placements are used only on the event loop's thread.
router = APIRouter()

Major = Annotated[int | None, Query(description="Major line; default: the highest deployed")]
Version = Annotated[str | None, Query(description="Must be the selected version of its line")]

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "Unknown Pond, major or version"}
}
_BAD: dict[int | str, dict[str, Any]] = {422: {"description": "A malformed placement"}}


def _answer(request: Request, line: str) -> PlacementAnswer:
    catchment = catchment_of(request)
    placement = catchment.placements.get(line)
    node = driver_of(request).fleet.launcher.node_of(line)
    return PlacementAnswer(
        line=line,
        launcher=catchment.config.launcher,
        cpus=None if placement is None else placement.cpus,
        memory=None if placement is None else placement.memory,
        resources={} if placement is None else dict(placement.resources),
        node=None if node is None else DuckNode(id=node.id, address=node.address),
        last_node=catchment.last_nodes.get(line),
    )


@router.get("/ponds/{name}/placement", response_model=PlacementAnswer, responses=_NOT_FOUND)
async def get_placement(
    request: Request, name: str, major: Major = None, version: Version = None
) -> PlacementAnswer:
    """The line's placement, and the node its Duck runs on now (null: none, or this machine)."""
    line = select_line(driver_of(request), name, major, version).line
    return _answer(request, line)


@router.post(
    "/ponds/{name}/placement",
    response_model=PlacementAnswer,
    responses={**_NOT_FOUND, **_BAD},
)
async def set_placement(
    request: Request,
    name: str,
    body: PlacementBody,
    major: Major = None,
    version: Version = None,
) -> PlacementAnswer:
    """Set what the line's Duck asks of its node (the whole placement: a field left out is
    cleared). Kept across restarts and redeploys; the line's next Duck starts with it, a Duck
    running now stays where it is. 422 naming the field when it is malformed."""
    line = select_line(driver_of(request), name, major, version).line
    try:
        placement = placement_from_api(body.model_dump(exclude_none=True))
    except PlacementError as error:
        raise HTTPException(422, str(error)) from None
    catchment_of(request).set_placement(line, placement)
    return _answer(request, line)
