"""Browser tests of the web UI: Debian's Chromium driven by Playwright, against real Catchments.

Playwright never downloads a browser here: it launches ``/usr/bin/chromium`` (CI installs it in
``.ci/run``). Every test leaves a screenshot in ``test-output/ui/``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from duckstring.local.scaffold import write_demo
from duckstring.pond.archive import zip_project
from duckstring.pond.manifest import load_manifest
from e2e.server import ROOT, Server

CHROMIUM = Path(os.environ.get("DUCKSTRING_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = ROOT / "test-output" / "ui"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

if not CHROMIUM.exists():
    pytest.skip(
        f"no Chromium at {CHROMIUM}: install Debian's (apt-get install chromium) to run the "
        "browser tests",
        allow_module_level=True,
    )
sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[test]'")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    # Never let Playwright fetch a browser of its own: it drives the system's Chromium only.
    os.environ["PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD"] = "1"
    with sync_api.sync_playwright() as playwright:
        # launch() starts Chromium on a fresh temporary profile, removed when it closes.
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@dataclass
class Watched:
    """A page with what it logged: script errors, and every response or request that failed."""

    page: Any
    errors: list[str] = field(default_factory=list)
    bad_responses: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)

    def shot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path

    def assert_clean(self) -> None:
        assert not self.errors, f"the page raised: {self.errors}"
        assert not self.bad_responses, f"failed responses: {self.bad_responses}"
        assert not self.failed_requests, f"failed requests: {self.failed_requests}"


@pytest.fixture
def ui(browser: Any, request: pytest.FixtureRequest) -> Iterator[Watched]:
    """A fresh browser context (empty storage) and page; a screenshot when the test ends."""
    context = browser.new_context(viewport={"width": 1500, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    watched = Watched(page)
    page.on("pageerror", lambda error: watched.errors.append(str(error)))
    page.on(
        "console",
        lambda message: message.type == "error" and watched.errors.append(message.text),
    )
    page.on("request", lambda req: watched.urls.append(req.url))
    page.on(
        "response",
        lambda response: (
            response.status >= 400
            and watched.bad_responses.append(f"{response.status} {response.url}")
        ),
    )
    page.on(
        "requestfailed",
        lambda req: watched.failed_requests.append(f"{req.url} {req.failure}"),
    )
    yield watched
    try:
        watched.shot(request.node.name)
    finally:
        context.close()


def stop(server: Server) -> None:
    server.close()


@pytest.fixture(scope="module")
def start_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Server]]:
    """Start Catchments for a module; each is stopped, and must leave no worker behind."""
    started: list[Server] = []

    def start(**options: Any) -> Server:
        base = tmp_path_factory.mktemp("catchment")
        server = Server(root=base / "root", home=base / "home", **options)
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        stop(server)


def deploy(server: Server, project: Path) -> None:
    """Upload a Pond project the way ``pond deploy`` does (without a CLI process per Pond)."""
    manifest = load_manifest(project / "pond.toml")
    with server.client() as client:
        answer = client.post(
            "/deploy",
            data={"name": manifest.name, "version": str(manifest.version), "type": manifest.type},
            files={"pond": (f"{manifest.name}.zip", zip_project(project), "application/zip")},
            timeout=120,
        )
    assert answer.status_code == 200, answer.text


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One Catchment with the four demo Ponds deployed and no trigger, for the whole session."""
    base = tmp_path_factory.mktemp("demo")
    server = Server(
        root=base / "root", home=base / "home", env={"DUCKSTRING_DEMO_SCALE": "0.1"}
    ).start()
    try:
        projects = {path.name: path for path in write_demo(base / "projects")}
        # Source before Sink; the two Inlets side by side (deploys of different Ponds overlap).
        with ThreadPoolExecutor(2) as pool:
            list(
                pool.map(lambda name: deploy(server, projects[name]), ["transactions", "products"])
            )
        deploy(server, projects["sales"])
        deploy(server, projects["reports"])
        yield server
    finally:
        stop(server)


def status_of(server: Server) -> dict[str, dict[str, Any]]:
    with server.client() as client:
        return {p["id"]: p for p in client.get("/status").json()["ponds"]}


@pytest.fixture(scope="session", autouse=True)
def fresh_screenshots() -> None:
    """Screenshots of this run only."""
    if SCREENSHOTS.exists():
        shutil.rmtree(SCREENSHOTS)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
