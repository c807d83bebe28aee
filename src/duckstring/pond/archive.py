"""Packaging a Pond project for deployment: a zip of its files, without what never ships.

:func:`is_skipped` is the one rule of what a deploy leaves out; the CLI applies it when it packs
a project and the Catchment again when it unpacks one.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Collection
from pathlib import Path
from typing import Final

#: Folders never deployed, wherever they sit: version control, virtualenvs, caches.
SKIPPED_DIRS: Final = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        "__pycache__",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        "node_modules",
    }
)
#: Folders never deployed at the project's top level: local test data and downloaded output.
SKIPPED_TOP_DIRS: Final = frozenset({"puddles", "ponds", ".duckstring"})
SKIPPED_SUFFIXES: Final = (".pyc", ".pyo")


def is_skipped(parts: tuple[str, ...], venvs: Collection[tuple[str, ...]] = ()) -> bool:
    """Whether the project file at ``parts`` (path components) stays out of a deploy.

    ``venvs`` are folders recognised as virtual environments by their ``pyvenv.cfg``.
    """
    if parts[0] in SKIPPED_TOP_DIRS and len(parts) > 1:
        return True
    if any(part in SKIPPED_DIRS or part.endswith(".egg-info") for part in parts[:-1]):
        return True
    if any(parts[:depth] in venvs for depth in range(1, len(parts))):
        return True
    return parts[-1].endswith(SKIPPED_SUFFIXES)


def project_files(project: Path) -> list[Path]:
    """Regular files of the project that a deploy ships, sorted; links are never followed."""
    found: list[tuple[str, ...]] = []
    for folder, dirs, names in os.walk(project, followlinks=False):
        dirs.sort()
        base = Path(folder).relative_to(project).parts
        for name in sorted(names):
            path = Path(folder) / name
            if not path.is_symlink() and path.is_file():
                found.append((*base, name))
    venvs = {parts[:-1] for parts in found if len(parts) > 1 and parts[-1] == "pyvenv.cfg"}
    return [project.joinpath(*parts) for parts in found if not is_skipped(parts, venvs)]


def zip_project(project: Path | str) -> bytes:
    """The project as a zip archive (paths relative to the project folder)."""
    root = Path(project)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in project_files(root):
            archive.write(path, path.relative_to(root).as_posix())
    return buffer.getvalue()
