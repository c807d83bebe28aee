"""Security tests against real Catchments: the e2e ``Server`` (a uvicorn subprocess on a free
loopback port), Ponds deployed over HTTP as zip uploads, and a listing of the root to prove that
what was refused left no trace."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from duckstring.pond.archive import zip_project
from e2e.projects import COUNTER, write_pond
from e2e.server import Server

KEY = "security-test-key-0123456789"

#: An inlet with one published table, ``numbers`` (one row after one Pulse).
NUMBERS = COUNTER


def stop(server: Server) -> None:
    """Stop the server for good (:meth:`Server.close`); its log goes to the test output."""
    try:
        server.close()
    finally:
        print(f"---- Catchment log ({server.url}) ----")
        print(server.log_tail(6000))


@pytest.fixture(scope="module")
def start_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Server]]:
    """Start Catchments for one module (``start(key=..., env=...)``); all stop at its end."""
    started: list[Server] = []

    def start(**options: Any) -> Server:
        folder = tmp_path_factory.mktemp("catchment")
        server = Server(root=folder / "root", home=folder / "home", **options)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        stop(server)


def zip_bytes(entries: dict[str, bytes | str]) -> bytes:
    """A deflated zip of ``{name: content}``, names taken verbatim."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(zipfile.ZipInfo(name), content)
    return buffer.getvalue()


def upload(
    client: httpx.Client, archive: bytes, fields: dict[str, str] | None = None
) -> httpx.Response:
    """``POST /api/deploy`` as the CLI sends it: multipart, the zip in the ``pond`` field."""
    return client.post(
        "/deploy", data=fields or {}, files={"pond": ("pond.zip", archive, "application/zip")}
    )


def deploy_pond(
    server: Server, parent: Path, name: str, body: str = NUMBERS, **manifest: Any
) -> dict[str, Any]:
    """Write a Pond project and deploy it over HTTP; returns the deploy answer."""
    project = write_pond(parent, name, body, **manifest)
    with server.client() as client:
        answer = upload(client, zip_project(project))
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def pulse_until_published(server: Server, name: str, timeout: float = 60) -> None:
    """Pulse the Pond and wait for its first successful run (its tables are published)."""
    with server.client() as client:
        assert client.post(f"/ponds/{name}/pulse").json() == {"ok": True}

    def done(client: httpx.Client) -> bool:
        ponds = client.get("/status").json()["ponds"]
        return any(p["name"] == name and p["runs_completed"] >= 1 for p in ponds)

    server.wait_for(done, timeout=timeout, what=f"{name} to complete a run")


def listing(root: Path) -> dict[str, tuple[str, int, int]]:
    """Every path under ``root`` with its kind, size and mtime (ns): any write changes it."""
    found: dict[str, tuple[str, int, int]] = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        kind = "link" if path.is_symlink() else "dir" if path.is_dir() else "file"
        found[path.relative_to(root).as_posix()] = (kind, info.st_size, info.st_mtime_ns)
    return found
