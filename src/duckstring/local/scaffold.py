"""New Pond projects: ``pond init NAME`` (here) and the four demo Ponds of ``pond demo``.

The demo projects are real files shipped as package data under ``duckstring/demo/``; a
``gitignore`` there becomes each project's ``.gitignore`` (package data globs skip dot-files).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from duckstring.pond.names import pond_name_problem

DEMO_PONDS = ("transactions", "products", "sales", "reports")

_GITIGNORE = """\
# Local testing: hydrated puddles, the local working database and local output.
puddles/
# Python
__pycache__/
*.py[cod]
.venv/
venv/
# A downloaded Catchment root or query output
.duckstring/
ponds/
"""

_INIT_FILES = {
    "pond.toml": """\
[pond]
name = "{name}"
version = "0.1.0"
# type = "pond"            # inlet (reads no Sources), pond, or outlet
# immediate_retries = 0    # seed of the Ripple-retry budget (first deploy only)
# source_retries = 0       # seed of the retry-on-change budget (first deploy only)

[sources]
# transactions = "1.0.0"   # read major 1 of transactions, built against at least 1.0.0
# products = "2.1.0?"      # a trailing ? makes a Source optional
""",
    "src/pond.py": '''\
"""The Ripples of {name}.

Duckstring imports this module to read the topology, so module level must have no side effects.
"""

from duckstring import ripple


@ripple
def build(pond):
    """A blank Ripple: read what it needs, write the tables it makes."""
    # lines = pond.read_table("source.table")          # a Source's published snapshot
    # pond.write_table("my_table", lines.filter("amount > 0"))
''',
    "src/puddles.py": '''\
"""Puddles: local snapshots of Source tables for ``duckstring pond hydrate``.

    @puddle("source.table")
    def source_table(p):
        return p.con.sql("SELECT 1 AS id")   # or a path: return "fixtures/table.parquet"

A puddle for "{name}" itself (a self-puddle) is the prior state a local run starts from.
"""

from duckstring import puddle
''',
    "README.md": """\
# {name}

A Duckstring Pond. Its Ripples live in `src/pond.py`, its Sources in `pond.toml`, and local
snapshots of those Sources (puddles) in `src/puddles.py`.

```bash
duckstring pond hydrate   # materialise the puddles into puddles/ponds/
duckstring pond run       # run every Ripple locally; output in puddles/out/
duckstring puddle ls      # what is there
```
""",
    ".gitignore": _GITIGNORE,
}


class ScaffoldError(ValueError):
    """A project that cannot be created where asked (bad name, folder in the way)."""


MANIFEST = "pond.toml"


@dataclass(frozen=True)
class NewProject:
    """What ``pond init`` did in a folder: the files it wrote and those it found there."""

    folder: Path
    written: list[str]
    kept: list[str]


def init_project(folder: Path | str, name: str) -> NewProject:
    """Make ``folder`` the Pond project ``name``: write its manifest, one blank Ripple, the
    puddles file, a README and a .gitignore.

    Refuses, writing nothing, when the name is not a Pond name or ``folder`` already holds a
    ``pond.toml``. Any other file of the scaffold that is already there is the user's and is
    kept as it is (reported in ``kept``).
    """
    problem = pond_name_problem(name)
    if problem is not None:
        raise ScaffoldError(problem)
    folder = Path(folder)
    if os.path.lexists(folder / MANIFEST):
        raise ScaffoldError(
            f"{folder / MANIFEST} already exists: this folder is a Pond project already "
            "(run `duckstring pond init` in a new folder)"
        )
    kept = [relative for relative in _INIT_FILES if os.path.lexists(folder / relative)]
    for relative in _INIT_FILES:
        parent = (folder / relative).parent
        if os.path.lexists(parent) and not parent.is_dir():
            raise ScaffoldError(f"{parent} is in the way: it is not a folder")
    # The manifest goes last: a folder with a pond.toml is a finished init, so an init cut
    # short can be run again.
    order = sorted(_INIT_FILES, key=lambda relative: relative == MANIFEST)
    written = []
    for relative in order:
        if relative in kept:
            continue
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "x") as out:  # "x": never replace a file that appeared meanwhile
            out.write(_INIT_FILES[relative].format(name=name))
        written.append(relative)
    return NewProject(folder=folder, written=written, kept=kept)


def ignores_puddles(gitignore: Path) -> bool:
    """Whether a .gitignore keeps ``puddles/`` (local snapshots and output) out of git."""
    try:
        lines = gitignore.read_text().splitlines()
    except (OSError, UnicodeDecodeError):
        return False
    return any(line.strip() in ("puddles", "puddles/", "/puddles", "/puddles/") for line in lines)


def write_demo(parent: Path | str) -> list[Path]:
    """Write the four demo Ponds into ``parent``; nothing is written if any folder is taken."""
    parent = Path(parent)
    for name in DEMO_PONDS:
        _refuse_existing(parent / name)
    source = resources.files("duckstring").joinpath("demo")
    projects = []
    for name in DEMO_PONDS:
        _copy_tree(source.joinpath(name), parent / name)
        projects.append(parent / name)
    return projects


def _refuse_existing(project: Path) -> None:
    if project.exists() and (not project.is_dir() or any(project.iterdir())):
        raise ScaffoldError(f"{project} already exists and is not empty; choose another place")


def _copy_tree(source: Traversable, destination: Path) -> None:
    destination.mkdir(parents=True, exist_ok=True)
    for entry in source.iterdir():
        if entry.name == "__pycache__" or entry.name.endswith((".pyc", ".pyo")):
            continue
        target = destination / (".gitignore" if entry.name == "gitignore" else entry.name)
        if entry.is_dir():
            _copy_tree(entry, target)
        else:
            target.write_bytes(entry.read_bytes())
