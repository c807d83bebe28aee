"""The packages import each other in the directions ARCHITECTURE.md draws:

engine <- pond <- (duck, catchment, local, remote) <- cli

The engine imports nothing of ours, the Pond API only the engine, nothing imports the CLI, and
the CLI is an HTTP client of the server: it imports none of it but its one entry, lazily, when
a command starts a Catchment. ``local`` reaches a Catchment through ``remote``, never the other
way round, and a Duck knows nothing of the server it dials.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SOURCE / "duckstring"

#: The one module of the server the CLI may import.
ENTRY = "duckstring.catchment.entry"


@dataclass(frozen=True)
class Import:
    importer: str  # module name
    imported: str  # module name
    lazy: bool  # inside a function body
    line: int

    def __str__(self) -> str:
        where = "in a function" if self.lazy else "at import time"
        return f"{self.importer} imports {self.imported} ({where}, line {self.line})"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SOURCE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_module(name: str) -> bool:
    path = SOURCE.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


class _Collector(ast.NodeVisitor):
    def __init__(self, importer: str) -> None:
        self.importer = importer
        self.depth = 0
        self.found: list[Import] = []

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def _add(self, imported: str, node: ast.stmt) -> None:
        if imported == "duckstring" or imported.startswith("duckstring."):
            self.found.append(Import(self.importer, imported, self.depth > 0, node.lineno))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        assert node.level == 0, f"{self.importer}: a relative import (write it absolute)"
        assert node.module is not None
        for alias in node.names:
            submodule = f"{node.module}.{alias.name}"
            self._add(submodule if is_module(submodule) else node.module, node)


def all_imports() -> list[Import]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        collector = _Collector(module_name(path))
        collector.visit(ast.parse(path.read_text(), str(path)))
        found.extend(collector.found)
    return found


def package_of(module: str) -> str:
    """``engine``, ``pond``, ``cli`` …: the part of ``duckstring`` a module belongs to."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


IMPORTS = all_imports()


def crossing(importer: str, imported: set[str]) -> list[str]:
    """Imports by package ``importer`` of any of the packages ``imported``."""
    return [
        str(found)
        for found in IMPORTS
        if package_of(found.importer) == importer and package_of(found.imported) in imported
    ]


def beyond(importer: str, allowed: set[str]) -> list[str]:
    """Imports by package ``importer`` of anything of ours outside ``allowed`` and itself."""
    return [
        str(found)
        for found in IMPORTS
        if package_of(found.importer) == importer
        and package_of(found.imported) not in allowed | {importer}
    ]


def test_the_import_graph_is_read_from_every_module() -> None:
    # The checks below are only as good as the graph: it holds arrows known to be there.
    arrows = {(package_of(i.importer), package_of(i.imported)) for i in IMPORTS}
    assert {("duck", "engine"), ("catchment", "duck"), ("cli", "remote")} <= arrows
    assert ("cli", "catchment") in arrows, "the CLI starts a Catchment through the entry"
    assert ("local", "remote") in arrows, "hydrate reaches a Catchment through remote"


def test_the_engine_imports_nothing_of_ours() -> None:
    assert beyond("engine", set()) == []


def test_the_pond_api_imports_only_the_engine() -> None:
    assert beyond("pond", {"engine"}) == []


@pytest.mark.parametrize(
    "importer", ["engine", "pond", "layout", "duck", "catchment", "local", "remote"]
)
def test_nothing_below_the_cli_imports_it(importer: str) -> None:
    assert crossing(importer, {"cli"}) == []


@pytest.mark.parametrize("importer", ["duck", "local", "remote"])
def test_a_duck_local_runs_and_remote_clients_import_nothing_of_the_server(
    importer: str,
) -> None:
    assert crossing(importer, {"catchment"}) == []


def test_the_cli_reaches_the_server_only_through_its_entry_and_only_to_start_one() -> None:
    server = [
        i
        for i in IMPORTS
        if package_of(i.importer) == "cli" and package_of(i.imported) == "catchment"
    ]
    assert [str(i) for i in server if i.imported not in (ENTRY, "duckstring.catchment")] == []
    assert [str(i) for i in server if not i.lazy] == [], "imported when a command needs it"


def test_remote_knows_nothing_of_local() -> None:
    # One direction: a hydrate reaches a Catchment through remote's client and downloads.
    assert crossing("remote", {"local"}) == []


def test_the_cli_imports_nothing_of_the_server_when_it_loads() -> None:
    check = (
        "import sys\n"
        "import duckstring.cli.app\n"
        "server = sorted(m for m in sys.modules if m.startswith('duckstring.catchment'))\n"
        "assert not server, server\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
