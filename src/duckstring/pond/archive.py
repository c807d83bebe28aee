"""Packaging a Pond project for deployment: a zip of its files, without what never ships."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

#: Folders never packaged: version control, virtual environments, caches, local snapshots.
SKIPPED_DIRS = {
    ".git",
    ".hg",
    ".svn",
    ".venv",
    "venv",
    "env",
    "__pycache__",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    "puddles",
    "node_modules",
    ".duckstring",
}


def project_files(project: Path) -> list[Path]:
    """Regular files of the project that a deploy ships, sorted; links are never followed."""
    files: list[Path] = []
    for folder, dirs, names in os.walk(project, followlinks=False):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and not d.endswith(".egg-info"))
        for name in sorted(names):
            path = Path(folder) / name
            if path.is_symlink() or not path.is_file() or name.endswith((".pyc", ".pyo")):
                continue
            files.append(path)
    return files


def zip_project(project: Path | str) -> bytes:
    """The project as a zip archive (paths relative to the project folder)."""
    root = Path(project)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in project_files(root):
            archive.write(path, path.relative_to(root).as_posix())
    return buffer.getvalue()
