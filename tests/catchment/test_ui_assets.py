"""The web UI's files as the Catchment serves them (no browser needed)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from duckstring.catchment.app import create_app
from duckstring.catchment.routes.ui import UI_DIR
from duckstring.catchment.service import CatchmentConfig


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    # No lifespan: the UI's files need no running engine.
    return TestClient(create_app(CatchmentConfig(root=tmp_path / "root", api_key="k")))


def test_the_page_is_served_at_the_root_and_open_even_with_a_key(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-cache"
    assert "Duckstring" in page.text
    assert client.head("/").status_code == 200


@pytest.mark.parametrize(
    ("asset", "media_type"),
    [
        ("app.js", "text/javascript"),
        ("graph.js", "text/javascript"),
        ("style.css", "text/css"),
        ("favicon.svg", "image/svg+xml"),
    ],
)
def test_each_asset_is_served_with_its_type(
    client: TestClient, asset: str, media_type: str
) -> None:
    answer = client.get(f"/ui/{asset}")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith(media_type)
    assert answer.content == (UI_DIR / asset).read_bytes()


@pytest.mark.parametrize(
    "path", ["/ui/missing.js", "/ui/..%2Fapp.py", "/ui/%2E%2E%2Froutes%2Fui.py", "/ui/"]
)
def test_only_the_shipped_files_are_served(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 404


def test_every_url_in_the_ui_is_relative(client: TestClient) -> None:
    """Absolute paths would escape a path prefix such as /content/{guid}/."""
    sources = {path.name: path.read_text() for path in UI_DIR.iterdir() if path.is_file()}
    absolute = re.compile(r"""(?:href|src|fetch\(|api\()\s*[=:]?\s*["'`]/""")
    for name, text in sources.items():
        assert not absolute.search(text), f"{name} uses an absolute URL"
    scripts = "".join(
        re.sub(r"^\s*//.*$", "", text, flags=re.M)  # comments may say what not to do
        for name, text in sources.items()
        if name.endswith(".js")
    )
    assert '"/api' not in scripts and "`/api" not in scripts and "'/api" not in scripts
    imports = re.findall(r'from "([^"]+)"', scripts)
    assert imports and all(i.startswith("./") for i in imports)
    for module in imports:
        assert client.get(f"/ui/{module[2:]}").status_code == 200
