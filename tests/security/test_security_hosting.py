"""Hosting: the two-file platform bundle serves under uvicorn, the Dockerfile says what it must,
and the app works under a path prefix behind a prefix-stripping proxy, Ducks included."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from duckstring.pond.archive import zip_project
from e2e.projects import COUNTER, write_pond
from e2e.proxy import Proxy
from e2e.server import ROOT, Server, children_of, free_port
from security.conftest import listing

BUNDLE = ROOT / "deploy" / "posit-connect"
DOCKERFILE = ROOT / "Dockerfile"
PREFIX = "/content/abc"


def test_the_platform_bundle_is_two_files_naming_the_asgi_app() -> None:
    assert sorted(path.name for path in BUNDLE.iterdir() if path.name != "__pycache__") == [
        "app.py",
        "requirements.txt",
    ]
    assert (BUNDLE / "requirements.txt").read_text().split() == ["duckstring"]
    assert "from duckstring.catchment.asgi import app" in (BUNDLE / "app.py").read_text()


@pytest.fixture
def bundle_server(tmp_path: Path) -> Iterator[tuple[str, Path, dict[str, object]]]:
    """``uvicorn app:app`` run from the bundle folder, as a platform runs it; also yields the
    bundle folder's listing from before it started."""
    before = listing(BUNDLE)
    port = free_port()
    root = tmp_path / "root"
    env = {
        **os.environ,
        "DUCKSTRING_ROOT": str(root),
        "DUCKSTRING_HOME": str(tmp_path / "home"),
        "PYTHONDONTWRITEBYTECODE": "1",  # leave the bundle folder as it is
    }
    env.pop("DUCKSTRING_API_KEY", None)
    env.pop("DUCKSTRING_CATCHMENT_URL", None)
    log = tmp_path / "uvicorn.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "app:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            cwd=BUNDLE,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield f"http://127.0.0.1:{port}", root, before
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        print(log.read_text()[-3000:])
        assert not children_of(process.pid)


def test_the_platform_bundle_serves_health_under_uvicorn(
    bundle_server: tuple[str, Path, dict[str, object]],
) -> None:
    url, root, before = bundle_server
    deadline = time.monotonic() + 60
    while True:
        try:
            answer = httpx.get(f"{url}/api/health", timeout=2)
            if answer.status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the bundle's app did not start"
        time.sleep(0.1)
    assert answer.json() == {"status": "ok"}
    assert httpx.get(f"{url}/api/status").status_code == 200  # open: the platform is the gate
    assert (root / "duck.db").is_file(), "the root is DUCKSTRING_ROOT"
    assert listing(BUNDLE) == before, "serving wrote into the bundle folder"


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            found.append((keyword.upper(), " ".join(rest.split())))
    return found


def test_the_dockerfile_installs_this_repository_and_runs_one_unprivileged_catchment() -> None:
    instructions = dockerfile_instructions()
    assert ("ENV", "DUCKSTRING_ROOT=/data") in instructions
    assert ("VOLUME", "/data") in instructions
    assert ("EXPOSE", "7474") in instructions
    cmd = [rest for keyword, rest in instructions if keyword == "CMD"]
    assert cmd == [
        '["python", "-m", "duckstring.catchment", "--host", "0.0.0.0", "--port", "7474"]'
    ]
    assert not any("--workers" in rest for _, rest in instructions)
    users = [rest for keyword, rest in instructions if keyword == "USER"]
    assert users and users[-1] not in ("root", "0"), users
    # The package comes from this repository: every copied path exists and is not ignored.
    copied = [rest.split()[:-1] for keyword, rest in instructions if keyword == "COPY"]
    sources = [source for sources in copied for source in sources]
    assert "src" in sources
    ignored = (ROOT / ".dockerignore").read_text().split()
    for source in sources:
        assert (ROOT / source).exists(), source
        assert f"!{source}" in ignored, f"{source} is excluded from the build context"
    assert any(keyword == "RUN" and "pip install ." in rest for keyword, rest in instructions)


@pytest.fixture
def prefixed(tmp_path: Path) -> Iterator[tuple[Server, str]]:
    server = Server(root=tmp_path / "root", home=tmp_path / "home").start()
    try:
        with Proxy(server.url, prefix=PREFIX) as proxy:
            yield server, proxy.url
    finally:
        server.close()


def test_the_app_works_under_a_path_prefix_and_ducks_dial_back(
    prefixed: tuple[Server, str], tmp_path: Path
) -> None:
    _, base = prefixed
    with httpx.Client(base_url=base, timeout=60) as client:
        assert client.get("/api/health").json() == {"status": "ok"}
        assert client.get("/api/status").json()["ponds"] == []
        document = client.get("/openapi.json").json()
        assert "/api/deploy" in document["paths"]
        docs = client.get("/docs")
        assert docs.status_code == 200 and "swagger" in docs.text.lower()
        page = client.get("/")
        assert page.status_code == 200 and "<html" in page.text.lower()
        # Deploy and Pulse through the prefix; the Duck dials the Catchment back and completes.
        project = write_pond(tmp_path, "behind", COUNTER, kind="inlet")
        files = {"pond": ("pond.zip", zip_project(project), "application/zip")}
        assert client.post("/api/deploy", files=files).status_code == 200
        assert client.post("/api/ponds/behind/pulse").json() == {"ok": True}
        completed = wait(
            lambda: client.get("/api/status").json()["ponds"][0]["runs_completed"] >= 1
        )
        assert completed, client.get("/api/runs").text
        answer = client.post("/api/query", json={"pond": "behind", "sql": "SELECT n FROM numbers"})
        assert answer.json() == [{"n": 1}]


def test_the_api_docs_find_their_openapi_document_under_a_prefix(
    prefixed: tuple[Server, str],
) -> None:
    _, base = prefixed
    docs = httpx.get(f"{base}/docs").text
    match = re.search(r"url: *'([^']+)'", docs)
    assert match is not None
    document = httpx.get(httpx.URL(f"{base}/docs").join(match[1]))
    assert document.status_code == 200


def wait(predicate: Callable[[], bool], timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False
