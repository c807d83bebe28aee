"""The file layout of a Catchment root. Nobody else builds paths under a root by hand.

```text
{root}/
├── duck.db                      # the Catchment database (SQLite)
├── catchment.lock               # held by the one Catchment process serving this root
└── ponds/{name}/
    ├── {version}/               # a deployed version's source, as uploaded (immutable)
    └── m{major}/                # runtime state of one major line
        ├── registry.duckdb      # the line's working database
        ├── data/{table}.parquet # published snapshots
        ├── pond.db              # the worker's run ledger (SQLite)
        └── duck.lock            # held by the one Duck working this line
```

Names and versions are validated before they become path components, and every path handed
out is checked to stay inside the root.
"""

from __future__ import annotations

import os
from pathlib import Path

from duckstring.pond.names import check_pond_name, check_table_name, line_id, pond_name_problem
from duckstring.pond.semver import SemVer


class LayoutError(ValueError):
    """A name or path that may not become part of the root."""


class RootLayout:
    """Paths of one Catchment root."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).expanduser().resolve()
        self._root_text = str(self.root)
        self._root_prefix = os.path.join(self._root_text, "")

    # -- the Catchment ---------------------------------------------------------------------------

    @property
    def database(self) -> Path:
        return self.root / "duck.db"

    @property
    def lock(self) -> Path:
        return self.root / "catchment.lock"

    @property
    def ponds(self) -> Path:
        return self.root / "ponds"

    # -- one Pond ---------------------------------------------------------------------------------

    def pond(self, name: str) -> Path:
        return self._inside(self._named(name))

    def _named(self, name: str) -> str:
        """The folder of Pond ``name``, its name checked but the path not yet resolved."""
        try:
            check_pond_name(name)
        except ValueError as error:
            raise LayoutError(str(error)) from None
        return os.path.join(self._root_text, "ponds", name)

    def version(self, name: str, version: str | SemVer) -> Path:
        """Folder of a deployed version's source (canonical SemVer text)."""
        try:
            text = str(version if isinstance(version, SemVer) else SemVer.parse(version))
        except ValueError as error:
            raise LayoutError(str(error)) from None
        return self._inside(os.path.join(self._named(name), text))

    def line(self, name: str, major: int) -> Path:
        if not isinstance(major, int) or isinstance(major, bool) or major < 0:
            raise LayoutError(f"bad major {major!r}: a major is a non-negative integer")
        return self._inside(os.path.join(self._named(name), f"m{major}"))

    def registry(self, name: str, major: int) -> Path:
        return self.line(name, major) / "registry.duckdb"

    def data(self, name: str, major: int) -> Path:
        return self.line(name, major) / "data"

    def table(self, name: str, major: int, table: str) -> Path:
        try:
            check_table_name(table)
        except ValueError as error:
            raise LayoutError(str(error)) from None
        return self.data(name, major) / f"{table}.parquet"

    def ledger(self, name: str, major: int) -> Path:
        return self.line(name, major) / "pond.db"

    def duck_lock(self, name: str, major: int) -> Path:
        return self.line(name, major) / "duck.lock"

    def duck_locks(self) -> dict[str, Path]:
        """The ``duck.lock`` of every line that has one, by line id (``name@major``)."""
        locks = {}
        for lock in sorted(self.ponds.glob("*/m*/duck.lock")):
            name, major = lock.parent.parent.name, lock.parent.name[1:]
            if pond_name_problem(name) is None and major.isdigit() and major.isascii():
                locks[line_id(name, int(major))] = lock
        return locks

    # -- relocation -------------------------------------------------------------------------------

    def relative(self, path: Path) -> str:
        """``path`` relative to the root, as stored in the database (so the root can move)."""
        return self._inside(path).relative_to(self.root).as_posix()

    def absolute(self, relative: str) -> Path:
        return self._inside(self.root / relative)

    def _inside(self, path: Path | str) -> Path:
        """``path`` resolved, if it stays inside the root once symbolic links are followed.

        Each path handed out is resolved once, as a string: Ducks ask for several on every
        start, and resolving with ``pathlib`` (once per level) took ~0.2 ms a path.
        """
        resolved = os.path.realpath(path)
        if resolved != self._root_text and not resolved.startswith(self._root_prefix):
            raise LayoutError(f"{path} lies outside the Catchment root")
        return Path(resolved)
