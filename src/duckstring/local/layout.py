"""Where local testing keeps its files inside a Pond project. Nobody else builds these paths.

```text
{project}/puddles/
├── ponds/{source}/data/{table}.parquet   # hydrated puddles (a self-puddle under the Pond's name)
├── registry.duckdb                       # the local run's working database, recreated per run
└── out/{table}.parquet                   # the local run's published output
```
"""

from __future__ import annotations

from pathlib import Path

from duckstring.pond.export import PARQUET_SUFFIX
from duckstring.pond.names import check_pond_name, check_table_name

PUDDLES_DIR = "puddles"


class LocalLayout:
    """The local-testing paths of one Pond project."""

    def __init__(self, project: Path | str) -> None:
        self.project = Path(project)
        self.puddles = self.project / PUDDLES_DIR
        self.ponds = self.puddles / "ponds"
        self.out = self.puddles / "out"
        self.registry = self.puddles / "registry.duckdb"

    def source_dir(self, source: str) -> Path:
        """The folder holding everything hydrated for ``source``."""
        return self.ponds / check_pond_name(source)

    def source_data(self, source: str) -> Path:
        """The folder of ``source``'s hydrated tables."""
        return self.source_dir(source) / "data"

    def source_table(self, source: str, table: str) -> Path:
        """The hydrated Parquet file of ``source.table``: what ``read_table`` reads locally."""
        return self.source_data(source) / f"{check_table_name(table)}{PARQUET_SUFFIX}"

    def hydrated_sources(self) -> list[str]:
        """Names of the Sources (and self) that have a hydrated data folder, sorted."""
        if not self.ponds.is_dir():
            return []
        return sorted(p.name for p in self.ponds.iterdir() if (p / "data").is_dir())
