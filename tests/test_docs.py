"""The documentation builds cleanly, its reference covers every command and route, and the
README's links lead to files of the repository."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import typer

from duckstring.catchment.app import create_app
from duckstring.catchment.service import CatchmentConfig
from duckstring.cli import app as cli_app

ROOT = Path(__file__).resolve().parents[1]
HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
METHODS = ("get", "put", "post", "patch", "delete", "head", "options")


def _words(text: str) -> str:
    return " ".join(text.split())


class _Sections(HTMLParser):
    """The text of a built page's article, cut at every heading: ``{heading: text}``."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: dict[str, str] = {}
        self._depth = 0  # inside <article> when > 0
        self._heading: list[str] | None = None
        self._current = ""
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "article":
            self._depth += 1
        elif self._depth and tag in HEADINGS:
            self._close()
            self._heading = []
        elif self._depth and tag == "a" and ("class", "headerlink") in attrs:
            self._heading = None if self._heading is None else [*self._heading, "\0"]

    def handle_endtag(self, tag: str) -> None:
        if tag == "article":
            self._close()
            self._depth -= 1
        elif self._depth and tag in HEADINGS and self._heading is not None:
            self._current = _words("".join(self._heading).split("\0")[0])
            self._heading = None

    def handle_data(self, data: str) -> None:
        if not self._depth:
            return
        if self._heading is not None:
            self._heading.append(data)
        else:
            self._text.append(data)

    def _close(self) -> None:
        if self._current:
            self.sections[self._current] = _words("".join(self._text))
        self._text = []


def _sections(page: Path) -> dict[str, str]:
    parser = _Sections()
    parser.feed(page.read_text())
    parser.close()
    return parser.sections


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    for module in ("mkdocs", "material"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed (the test extra installs mkdocs-material)")
    out = tmp_path_factory.mktemp("site")
    command = [sys.executable, "-m", "mkdocs", "build", "--strict"]
    result = subprocess.run(
        [*command, "--config-file", str(ROOT / "mkdocs.yml"), "--site-dir", str(out)],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def test_the_docs_build_strictly(site: Path) -> None:
    for page in ("index", "reference/cli/index", "reference/http/index", "performance/index"):
        assert (site / f"{page}.html").is_file(), page


def _commands() -> Iterator[tuple[str, Any]]:
    root = typer.main.get_command(cli_app)
    stack: list[tuple[str, Any, Any]] = [
        ("duckstring", root, typer.Context(root, info_name="duckstring"))
    ]
    while stack:
        path, command, ctx = stack.pop()
        yield path, command
        for name in command.list_commands(ctx) if hasattr(command, "commands") else ():
            sub = command.get_command(ctx, name)
            if not sub.hidden:
                sub_ctx = typer.Context(sub, info_name=name, parent=ctx)
                stack.append((f"{path} {name}", sub, sub_ctx))


def test_every_cli_command_and_option_is_in_the_reference(site: Path) -> None:
    sections = _sections(site / "reference" / "cli" / "index.html")
    commands = list(_commands())
    assert len(commands) > 30  # the walk found the whole tree, groups and their commands
    for path, command in commands:
        assert path in sections, f"{path} has no section in the CLI reference"
        text = sections[path]
        assert _words((command.help or "").split("\f")[0]).replace("`", "") in text, path
        for param in command.params:
            if getattr(param, "hidden", False):
                continue
            for opt in param.opts if param.param_type_name == "option" else ():
                assert opt in text, f"{path}: {opt}"
            if param.help:
                assert _words(param.help).replace("`", "") in text, f"{path}: {param.name}"


def _routes(tmp_path: Path) -> Iterator[tuple[str, str, dict[str, Any]]]:
    document = create_app(CatchmentConfig(root=tmp_path / "root")).openapi()
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield method.upper(), path, item[method]


def test_every_route_is_in_the_http_reference(site: Path, tmp_path: Path) -> None:
    sections = _sections(site / "reference" / "http" / "index.html")
    routes = list(_routes(tmp_path))
    assert len(routes) > 20
    for method, path, operation in routes:
        title = f"{method} {path}"
        assert title in sections, f"{title} has no section in the HTTP reference"
        text = sections[title]
        for parameter in operation.get("parameters", []):
            assert f"{parameter['name']} {parameter['in']}" in text, f"{title}: {parameter}"
        for code in operation["responses"]:
            assert code in text, f"{title}: {code}"
        if operation.get("summary"):
            assert operation["summary"] in text, title


def test_the_readme_links_resolve_to_files_of_the_repository() -> None:
    links = re.findall(r"\]\(([^)\s]+)\)", (ROOT / "README.md").read_text())
    local = [link for link in links if not re.match(r"[a-z]+:", link) and not link.startswith("#")]
    assert any(link.startswith("docs/") for link in local), "the README links into docs/"
    for link in local:
        assert (ROOT / link.split("#", 1)[0]).exists(), link
