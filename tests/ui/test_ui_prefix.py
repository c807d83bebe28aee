"""The UI under a path prefix, behind a small reverse proxy like a hosting platform's gate."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from e2e.server import Server
from ui.conftest import Watched

PREFIX = "/content/abc"
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "upgrade", "proxy-connection"}


class PrefixProxy(ThreadingHTTPServer):
    """Forwards ``PREFIX/...`` to the Catchment with the prefix stripped; anything else is 404."""

    daemon_threads = True

    def __init__(self, upstream_port: int) -> None:
        super().__init__(("127.0.0.1", 0), ProxyHandler)
        self.upstream_port = upstream_port
        self.seen: list[str] = []
        self.outside: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class ProxyHandler(BaseHTTPRequestHandler):
    server: PrefixProxy
    protocol_version = "HTTP/1.1"

    def forward(self) -> None:
        path = self.path
        self.server.seen.append(f"{self.command} {path}")
        if path != PREFIX and not path.startswith(PREFIX + "/"):
            self.server.outside.append(path)
            self.answer(404, b"outside the prefix", [("Content-Type", "text/plain")])
            return
        upstream_path = path[len(PREFIX) :] or "/"
        if upstream_path.startswith("?"):
            upstream_path = "/" + upstream_path
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP | {"host"}}
        upstream = http.client.HTTPConnection("127.0.0.1", self.server.upstream_port, timeout=30)
        try:
            upstream.request(self.command, upstream_path, body=body, headers=headers)
            response = upstream.getresponse()
            content = response.read()
            kept = [
                (k, v)
                for k, v in response.getheaders()
                if k.lower() not in HOP_BY_HOP | {"content-length"}
            ]
            self.answer(response.status, content, kept)
        finally:
            upstream.close()

    def answer(self, status: int, content: bytes, headers: list[tuple[str, str]]) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(content)

    do_GET = do_POST = do_HEAD = forward

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def proxy(demo: Server) -> Iterator[PrefixProxy]:
    server = PrefixProxy(demo.port)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_under_a_path_prefix_everything_loads_through_the_proxy(
    proxy: PrefixProxy, ui: Watched
) -> None:
    page = ui.page
    # Without the trailing slash the page moves to the folder form, so relative URLs resolve.
    page.goto(f"{proxy.url}{PREFIX}")
    page.wait_for_url(f"{proxy.url}{PREFIX}/")
    page.wait_for_selector('g.pond[data-id="sales@1"]')
    assert page.locator("g.pond").count() == 4

    # Reads and writes go through the prefix: a sidebar, a Pulse, a run's detail.
    page.click('g.pond[data-id="transactions@1"] .pond-name')
    page.wait_for_selector(".window-list li")
    page.get_by_role("button", name="Pulse", exact=True).click()
    page.wait_for_selector("#toasts .toast:has-text('Pulse → transactions@1')")
    row = page.locator(".side-runs tr.run-row").first
    row.wait_for()
    row.click()
    page.wait_for_selector("#run-detail .attempts")

    paths = [urlsplit(url).path for url in ui.urls]
    assert paths, "the page made no requests"
    assert all(p.startswith(PREFIX + "/") or p == PREFIX for p in paths), paths
    for asset in ("ui/app.js", "ui/style.css", "ui/favicon.svg", "api/status", "api/runs"):
        assert any(p.startswith(f"{PREFIX}/{asset}") for p in paths), asset
    assert any(s.startswith(f"POST {PREFIX}/api/ponds/transactions/pulse") for s in proxy.seen)
    assert proxy.outside == [], "the page asked for something outside its prefix"
    # The page at PREFIX (no slash) replaces itself while it loads, so the browser may report
    # that first document as aborted (it depends on how its bytes arrive): that one is expected.
    moved = f"{proxy.url}{PREFIX} net::ERR_ABORTED"
    ui.failed_requests = [failure for failure in ui.failed_requests if failure != moved]
    ui.assert_clean()
