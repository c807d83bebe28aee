"""``p.catchment()`` in a puddle: read a Source's published tables from a registered Catchment.

- ``get()`` downloads the puddle's table (or, for a whole-Source puddle, every table) as
  Parquet and returns the path (a glob for several), so ``return p.catchment().get()`` is a
  complete puddle; ``get("t")`` or ``get(["t", "u"])`` choose tables.
- ``query(sql)`` runs SQL over the Source's tables on the Catchment and returns a relation in
  ``p.con``.
- ``tables()`` lists the Source's published tables.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import duckdb

from duckstring.local.layout import LocalLayout
from duckstring.pond import puddle as puddles
from duckstring.pond.export import sql_string
from duckstring.pond.names import check_table_name
from duckstring.remote.client import CatchmentClient, ClientError
from duckstring.remote.config import ConfigError, load


class PuddleCatchment:
    """Read access to one Source on a Catchment, for one puddle."""

    def __init__(self, client: CatchmentClient, puddle: puddles.Puddle) -> None:
        self.client = client
        self.puddle = puddle
        self.source = puddle.source
        self._scratch = Path(tempfile.mkdtemp(prefix=f"duckstring-{self.source}-"))

    def _parquet(self, sql: str, into: Path) -> Path:
        try:
            response = self.client.request(
                "POST", "/query", json={"pond": self.source, "sql": sql, "format": "parquet"}
            )
        except ClientError as error:
            raise puddles.CatchmentUnavailableError(
                f"puddle {self.puddle.target!r}: {error}"
            ) from None
        into.parent.mkdir(parents=True, exist_ok=True)
        into.write_bytes(response.content)
        return into

    def tables(self) -> list[str]:
        """The Source's published tables."""
        try:
            answer = self.client.query({"pond": self.source, "sql": "SHOW TABLES"})
        except ClientError as error:
            raise puddles.CatchmentUnavailableError(
                f"puddle {self.puddle.target!r}: {error}"
            ) from None
        return sorted(str(row["name"]) for row in answer.rows)

    def get(self, tables: str | list[str] | None = None) -> Path | str:
        """Download tables as Parquet; the path (or a glob of them) to return from a puddle."""
        if tables is None:
            names = [self.puddle.table] if self.puddle.table is not None else self.tables()
        elif isinstance(tables, str):
            names = [tables]
        else:
            names = list(tables)
        for name in names:
            check_table_name(name)
            self._parquet(f'SELECT * FROM "{name}"', self._scratch / f"{name}.parquet")
        if len(names) == 1 and (self.puddle.table is not None or isinstance(tables, str)):
            return self._scratch / f"{names[0]}.parquet"
        return str(self._scratch / "*.parquet")

    def query(self, sql: str) -> duckdb.DuckDBPyRelation:
        """Run SQL over the Source's tables on the Catchment; the result as a relation."""
        path = self._parquet(sql, self._scratch / "query" / f"q{id(sql)}.parquet")
        return self.puddle.con.read_parquet(str(path))


def factory(name: str | None, puddle: puddles.Puddle) -> Any:
    try:
        registration = load().resolve(name)
    except ConfigError as error:
        raise puddles.CatchmentUnavailableError(f"puddle {puddle.target!r}: {error}") from None
    return PuddleCatchment(CatchmentClient(registration), puddle)


def fetch_source(registration_name: str | None, project: Path, source: str) -> list[Any]:
    """Download every published table of ``source`` into the project's puddles."""
    from duckstring.local.hydrate import HydratedTable  # local sits above this module

    layout = LocalLayout(project)
    try:
        registration = load().resolve(registration_name)
    except ConfigError as error:
        raise puddles.CatchmentUnavailableError(str(error)) from None
    fetched = []
    with CatchmentClient(registration) as client:
        try:
            listed = client.query({"pond": source, "sql": "SHOW TABLES"})
            for row in listed.rows:
                table = check_table_name(str(row["name"]))
                response = client.request(
                    "POST",
                    "/query",
                    json={"pond": source, "sql": f'SELECT * FROM "{table}"', "format": "parquet"},
                )
                path = layout.source_table(source, table)
                path.parent.mkdir(parents=True, exist_ok=True)
                partial = path.with_suffix(".partial")
                partial.write_bytes(response.content)
                partial.replace(path)
                rows = duckdb.execute(
                    f"SELECT count(*) FROM read_parquet({sql_string(str(path))})"
                ).fetchall()
                fetched.append(HydratedTable(source, table, int(rows[0][0]), path))
        except ClientError as error:
            raise puddles.CatchmentUnavailableError(f"Source {source!r}: {error}") from None
    return fetched


def install() -> None:
    """Give puddles their Catchment client."""
    puddles.set_catchment_factory(factory)
