"""Contract tests: a real Catchment driven through a scripted scenario, asserting the exact
shapes and counters that ``surface.md`` ("Wire details") gives a client written for 0.2.0.

Each module covers one route group. Ponds are deployed over HTTP as zip uploads, as the CLI
sends them, so a module needs no CLI registration unless it tests the CLI.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from duckstring.pond.archive import zip_project
from e2e.conftest import server
from e2e.projects import write_pond
from e2e.server import Server

__all__ = ["deploy", "line", "server"]  # server: the e2e fixture, shared


def deploy(server: Server, parent: Path, name: str, body: str, **manifest: Any) -> dict[str, Any]:
    """Write a Pond project under ``parent`` and deploy it over HTTP; the deploy answer."""
    project = write_pond(parent, name, body, **manifest)
    with server.client() as client:
        answer = client.post(
            "/deploy", files={"pond": ("pond.zip", zip_project(project), "application/zip")}
        )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def line(client: httpx.Client, line_id: str) -> dict[str, Any]:
    """One line's entry of ``GET /api/status``."""
    ponds = client.get("/status").json()["ponds"]
    return next(p for p in ponds if p["id"] == line_id)
