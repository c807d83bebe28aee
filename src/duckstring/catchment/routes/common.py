"""What every route shares: the running Catchment, the key check and the line selectors."""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request

from duckstring.catchment.driver import Driver
from duckstring.catchment.service import Catchment
from duckstring.catchment.store.db import Deployment


def catchment_of(request: Request) -> Catchment:
    catchment: Catchment = request.app.state.catchment
    return catchment


def driver_of(request: Request) -> Driver:
    driver = catchment_of(request).driver
    if driver is None:
        raise HTTPException(503, "the Catchment is starting")
    return driver


def require_key(request: Request) -> None:
    """With a key set, every /api route but health needs ``Authorization: Bearer KEY``."""
    key = catchment_of(request).config.api_key
    if not key:
        return
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), key.encode()):
        raise HTTPException(
            401,
            "this Catchment needs an API key: send Authorization: Bearer KEY",
            headers={"WWW-Authenticate": "Bearer"},
        )


def select_line(
    driver: Driver, name: str, major: int | None = None, version: str | None = None
) -> Deployment:
    """The line a Pond route addresses: ``major`` defaults to the highest deployed; a
    ``version`` must be the selected version of its line. 404 unknown, 422 not selected."""
    lines = [d for d in driver.lines.values() if d.name == name]
    if not lines:
        raise HTTPException(404, f"unknown Pond {name!r}")
    if major is None:
        chosen = max(lines, key=lambda d: d.major)
    else:
        matching = [d for d in lines if d.major == major]
        if not matching:
            majors = ", ".join(str(d.major) for d in sorted(lines, key=lambda d: d.major))
            raise HTTPException(404, f"Pond {name!r} has no major {major} (deployed: {majors})")
        chosen = matching[0]
    if version is not None and version != chosen.version:
        if driver.store.deployment(name, version) is None:
            raise HTTPException(404, f"Pond {name!r} has no version {version!r}")
        raise HTTPException(
            422,
            f"version {version} is not the selected version of {chosen.line} "
            f"(selected: {chosen.version})",
        )
    return chosen
