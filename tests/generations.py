"""Publishing numbered generations of a table the way a line does, for tests of readers racing
a publish."""

from __future__ import annotations

from pathlib import Path

import duckdb

from duckstring.pond.export import copy_to_parquet


def publish_generation(con: duckdb.DuckDBPyConnection, path: Path, generation: int) -> None:
    """Publish generation ``generation`` at ``path`` (a complete new file renamed over the old
    one): 1000 + 53 * g rows, every one tagged g, so a reader can tell a mix of two apart."""
    copy_to_parquet(
        con,
        f"SELECT range AS id, {generation} AS gen, repeat('x', {generation % 7}) AS pad "
        f"FROM range({1000 + 53 * generation})",
        path,
        sync=False,
    )
