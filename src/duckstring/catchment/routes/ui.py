"""The web UI: ``GET /`` answers the page, ``GET /ui/{asset}`` its static files.

The page refers to everything by relative URL (``ui/app.js``, ``api/status``), so it works under a
path prefix. The assets are the files shipped in ``catchment/ui``; nothing is built at install time,
and only names found in that folder are served (no path from the request reaches the filesystem).
The page and its assets are public, like any login page: the data behind them needs the key.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

UI_DIR = Path(__file__).resolve().parent.parent / "ui"

_MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
# Revalidate on every load: a redeployed Catchment must never run yesterday's script.
_HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}

router = APIRouter(include_in_schema=False)


def _assets() -> dict[str, Path]:
    if not UI_DIR.is_dir():
        return {}
    return {
        path.name: path
        for path in UI_DIR.iterdir()
        if path.is_file() and path.suffix in _MEDIA_TYPES
    }


def _serve(name: str) -> FileResponse:
    path = _assets().get(name)
    if path is None:
        raise HTTPException(404, f"no UI asset named {name!r}")
    return FileResponse(path, media_type=_MEDIA_TYPES[path.suffix], headers=_HEADERS)


@router.api_route("/", methods=["GET", "HEAD"])
def index() -> FileResponse:
    """The web UI's page."""
    return _serve("index.html")


@router.api_route("/ui/{asset}", methods=["GET", "HEAD"])
def asset(asset: str) -> FileResponse:
    """One static file of the web UI."""
    return _serve(asset)
