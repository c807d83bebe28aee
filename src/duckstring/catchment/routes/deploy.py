"""Deploying a Pond version: a zip upload or a git reference."""

from __future__ import annotations

import asyncio
import functools
import logging
import shutil
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError
from starlette.types import Message

from duckstring.catchment import intake
from duckstring.catchment.models import Deployed, DeployGit
from duckstring.catchment.routes.common import catchment_of, driver_of
from duckstring.catchment.store.db import Deployment
from duckstring.engine.core import EngineError
from duckstring.engine.pond import SourceEdge
from duckstring.engine.ripples import RippleSpec
from duckstring.layout import LayoutError
from duckstring.pond.manifest import Manifest
from duckstring.pond.names import line_id

log = logging.getLogger("duckstring.catchment")

router = APIRouter(tags=["deploy"])

#: One deploy per Pond name at a time; different Ponds deploy (and discover) in parallel.
_deploy_locks: dict[str, asyncio.Lock] = {}
#: Room for the multipart framing and the form fields around the archive itself.
_FORM_OVERHEAD = 1024 * 1024

_BODIES: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["pond"],
                    "properties": {
                        "name": {"type": "string"},
                        "version": {"type": "string"},
                        "type": {"type": "string", "enum": ["inlet", "pond", "outlet"]},
                        "pond": {"type": "string", "format": "binary"},
                    },
                }
            },
            "application/json": {"schema": DeployGit.model_json_schema()},
        },
    }
}


def _manifest_data(manifest: Manifest) -> dict[str, Any]:
    return {
        "type": manifest.type,
        "immediate_retries": manifest.immediate_retries,
        "source_retries": manifest.source_retries,
        "ripples": manifest.ripples,
        "puddles": manifest.puddles,
        "sources": [
            {
                "name": s.name,
                "major": s.major,
                "minimum": str(s.minimum),
                "optional": s.optional,
            }
            for s in manifest.sources
        ],
    }


@router.post(
    "/deploy",
    response_model=Deployed,
    openapi_extra=_BODIES,
    responses={422: {"description": "A cycle, a bad archive or a bad manifest"}},
)
async def deploy(request: Request) -> Deployed:
    """Register a Pond version, select it for its major, and clear the line's failure."""
    limits = intake.UploadLimits()
    content_type = request.headers.get("content-type", "")
    try:
        request = _bounded(request, limits.max_archive_bytes + _FORM_OVERHEAD)
        if content_type.startswith("application/json"):
            try:
                body = DeployGit.model_validate(await request.json())
            except (ValidationError, ValueError) as error:
                raise HTTPException(422, f"bad deploy request: {error}") from None
            fields: dict[str, str | None] = {
                "name": body.name,
                "version": body.version,
                "type": body.type,
            }
            source = await run_in_threadpool(
                functools.partial(
                    intake.read_git,
                    body.repo_url,
                    body.git_ref,
                    limits,
                    allow_local=catchment_of(request).config.allow_local_git,
                )
            )
        else:
            form = await request.form(max_part_size=limits.max_archive_bytes)
            upload = form.get("pond")
            if upload is None or isinstance(upload, str):
                raise HTTPException(422, "send the Pond as a zip archive in the 'pond' field")
            data = await upload.read()
            fields = {k: str(form[k]) if k in form else None for k in ("name", "version", "type")}
            source = await run_in_threadpool(intake.read_upload, data, limits)
        intake.check_declared(source.manifest, fields["name"], fields["version"], fields["type"])
    except intake.IntakeError as error:
        raise HTTPException(error.status, str(error)) from None
    lock = _deploy_locks.setdefault(source.manifest.name, asyncio.Lock())
    async with lock:
        return await _register(request, source)


def _bounded(request: Request, limit: int) -> Request:
    """The same request, refusing (413) a body over ``limit`` bytes as soon as it is declared
    or received, so an oversized upload is neither spooled to disk nor held in memory."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise intake.PayloadTooLarge(f"the request is {declared} bytes, over the limit of {limit}")
    received = 0

    async def receive() -> Message:
        nonlocal received
        message = await request.receive()
        received += len(message.get("body", b""))
        if received > limit:
            raise intake.PayloadTooLarge(f"the request is over the limit of {limit} bytes")
        return message

    return Request(request.scope, receive)


async def _register(request: Request, source: intake.PondSource) -> Deployed:
    catchment = catchment_of(request)
    driver = driver_of(request)
    manifest = source.manifest
    name, version, major = manifest.name, str(manifest.version), manifest.major
    line = line_id(name, major)
    edges = [SourceEdge(line_id(s.name, s.major), s.optional) for s in manifest.sources]
    cycle = driver.engine.find_cycle(line, [e.source for e in edges])
    if cycle is not None:
        raise HTTPException(422, "deploying it would close a cycle: " + " -> ".join(cycle))
    layout = catchment.layout
    previous = driver.store.deployment(name, version)
    try:
        stored = await run_in_threadpool(intake.deploy_version, layout, source)
    except intake.IntakeError as error:
        raise HTTPException(error.status, str(error)) from None
    except LayoutError as error:
        raise HTTPException(422, str(error)) from None
    folder, topology = stored.path, stored.topology
    specs = [RippleSpec(r["name"], tuple(r["parents"])) for r in topology]
    deployment = Deployment(
        name=name,
        version=version,
        major=major,
        kind=manifest.type,
        manifest=_manifest_data(manifest),
        ripples=topology,
        path=layout.relative(folder),
        deployed_at=driver.clock.now(),
        is_active=True,
    )

    def register(engine: Any, now: int) -> None:
        engine.deploy(
            line,
            specs,
            edges,
            now,
            immediate_retries=manifest.immediate_retries,
            source_retries=manifest.source_retries,
        )
        if previous is not None:
            driver.store.forget_history(line, version)
        driver.store.record_deployment(deployment)
        driver.lines[line] = deployment

    try:
        driver.apply(register)
    except EngineError as error:
        # A concurrent deploy of another Pond closed a cycle meanwhile: undo the stored copy.
        if previous is None:
            shutil.rmtree(folder, ignore_errors=True)
        raise HTTPException(422, str(error)) from None
    try:
        await run_in_threadpool(intake.prepare_line, layout, name, major)
    except Exception as error:  # only a head start: the line's first Duck makes it anyway
        log.warning("could not prepare the ledger of %s: %s", line, error)
    return Deployed(
        id=line,
        name=name,
        version=version,
        major=major,
        ripples=[r["name"] for r in topology],
        replaced=previous is not None,
    )
