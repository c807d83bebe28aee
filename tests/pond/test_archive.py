"""What a deploy packs: the project's files, never version control, venvs, caches or puddles."""

import io
import os
import zipfile
from pathlib import Path

from duckstring.pond.archive import zip_project


def test_the_package_leaves_out_what_never_ships(tmp_path: Path) -> None:
    files = [
        "pond.toml",
        "src/pond.py",
        "src/helpers/util.py",
        "README.md",
        ".git/HEAD",
        "src/__pycache__/pond.cpython-311.pyc",
        "src/stale.pyc",
        "puddles/ponds/x/data/t.parquet",
        "env1/pyvenv.cfg",
        "env1/lib/site.py",
        "build/thing.egg-info/PKG-INFO",
        "node_modules/a/index.js",
        "docs/puddles/keep.md",
    ]
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(name)
    os.symlink("/etc/passwd", tmp_path / "src" / "link.txt")
    names = sorted(zipfile.ZipFile(io.BytesIO(zip_project(tmp_path))).namelist())
    assert names == [
        "README.md",
        "docs/puddles/keep.md",
        "pond.toml",
        "src/helpers/util.py",
        "src/pond.py",
    ]
